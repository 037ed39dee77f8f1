"""xlsweep: Ray Tune sweeps of cross-lingual meta-learning (X-MAML, XLA-MAML) with MLflow tracking."""

__version__ = "0.1.0"
