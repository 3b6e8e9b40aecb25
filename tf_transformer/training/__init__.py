"""Training: the paper's optimizer and loss, and a resumable ``model.fit`` into a run directory.

>>> from tf_transformer.training import WarmupSchedule, masked_loss, train, load_run
>>> result = train("tiny", "runs/tiny", max_steps=50)
>>> run = load_run("runs/tiny")   # what evaluate / translate / export read

Taught in the optimizer-and-loss and training notebooks.
"""

from tf_transformer import _quiet  # noqa: F401  (before TensorFlow loads)
from tf_transformer.training.losses import MaskedAccuracy, masked_accuracy, masked_loss
from tf_transformer.training.run_dir import Run, load_run, read_run_info
from tf_transformer.training.schedule import WarmupSchedule, make_optimizer
from tf_transformer.training.callbacks import TrainingDiverged
# Imported last: the function ``train`` must win over the module of the same name.
from tf_transformer.training.train import TrainResult, train

__all__ = ["WarmupSchedule", "make_optimizer", "masked_loss", "masked_accuracy", "MaskedAccuracy",
           "Run", "load_run", "read_run_info", "train", "TrainResult", "TrainingDiverged"]

