"""Training: the paper's optimizer and loss, and a resumable ``model.fit`` into a run directory.

>>> from tf_transformer.training import TrainConfig, train  # doctest: +SKIP
>>> result = train("tiny", "runs/tiny", max_steps=50)  # doctest: +SKIP
>>> from tf_transformer.runs import load_run  # what evaluate / translate / export read

- ``config``: ``TrainConfig``, every training setting with its default and range.
- ``loop``: ``train`` and its named steps (prepare the run, build the model,
  make the callbacks, fit in windows, finish).
- ``schedule``, ``losses``: the paper's learning-rate schedule, optimizer and loss.
- ``metrics``: real tokens and tokens/s, validation of the averaged weights, progress lines.
- ``stops``: why training stops early: a NaN loss, a time limit, a signal, a quality target.
- ``resume``: exact resume: the backup, the epoch ledger, the history, the checkpoints.
- ``strategy``: ``tf.distribute`` strategies and the Keras work-arounds they need.
- ``cli``: ``tf-transformer train``, its flags generated from ``TrainConfig``.

Taught in the optimizer-and-loss and training notebooks.
"""

from tf_transformer import _quiet  # noqa: F401  (before TensorFlow loads)
from tf_transformer.training.config import TrainConfig
from tf_transformer.training.loop import TrainResult, train
from tf_transformer.training.losses import MaskedAccuracy, masked_accuracy, masked_loss
from tf_transformer.training.schedule import AveragingAdam, WarmupSchedule, make_optimizer
from tf_transformer.training.stops import TrainingDiverged
from tf_transformer.training.strategy import make_strategy

__all__ = [
    "WarmupSchedule",
    "AveragingAdam",
    "make_optimizer",
    "masked_loss",
    "masked_accuracy",
    "MaskedAccuracy",
    "TrainConfig",
    "train",
    "TrainResult",
    "TrainingDiverged",
    "make_strategy",
]
