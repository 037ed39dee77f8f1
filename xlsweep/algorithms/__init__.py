"""Meta-learning algorithms as small functions that return a loss.

The loops in :mod:`xlsweep.train` own optimisers, devices and logging; these
functions only compute. X-MAML and XLA-MAML share :func:`maml_loss`: they differ
in where the support and query batches come from (see
:mod:`xlsweep.data.episodes`), not in the maths.
"""

from xlsweep.algorithms.maml import adapted_parameters, inner_adapt, maml_loss, model_loss
from xlsweep.algorithms.maml_higher import higher_maml_loss

__all__ = ["adapted_parameters", "higher_maml_loss", "inner_adapt", "maml_loss", "model_loss"]
