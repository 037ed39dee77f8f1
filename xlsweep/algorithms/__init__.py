"""Meta-learning algorithms as small functions that return a loss (or, for Reptile, an update).

The loops in :mod:`xlsweep.train` own optimisers, devices and logging; these
functions only compute. X-MAML and XLA-MAML share :func:`maml_loss`: they differ
in where the support and query batches come from (see
:mod:`xlsweep.data.episodes`), not in the maths. Reptile's :func:`reptile_delta`
runs over the same episodes.
"""

from xlsweep.algorithms.maml import adapted_parameters, inner_adapt, maml_loss, model_loss
from xlsweep.algorithms.maml_higher import higher_maml_loss
from xlsweep.algorithms.reptile import reptile_delta

__all__ = ["adapted_parameters", "higher_maml_loss", "inner_adapt", "maml_loss", "model_loss", "reptile_delta"]
