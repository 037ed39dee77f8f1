"""``python -m xlsweep.cli``: the command line."""

import sys

from xlsweep.cli import app

sys.exit(app())
