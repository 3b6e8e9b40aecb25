"""The callbacks' former home, kept for code that imports them from here.

They live by idea now: ``metrics`` (tokens, throughput, the averaged weights'
validation, progress lines), ``stops`` (NaN, time limit, signals, quality
targets) and ``resume`` (the backup, the epoch ledger, the history and the
checkpoints, which make a rerun continue a run exactly).
"""

from tf_transformer.training.metrics import (
    AveragedValidation,
    LineProgress,
    RealTokens,
    TokenThroughput,
    averaged_weights,
)
from tf_transformer.training.resume import (
    COUNTED_FROM,
    Checkpoints,
    EpochLedger,
    HistoryFile,
    StepBackup,
    read_history,
)
from tf_transformer.training.stops import (
    Interrupts,
    QualityStop,
    TerminateOnNaN,
    TimeLimit,
    TrainingDiverged,
    TrainingInterrupted,
)

__all__ = [
    "COUNTED_FROM",
    "AveragedValidation",
    "Checkpoints",
    "EpochLedger",
    "HistoryFile",
    "Interrupts",
    "LineProgress",
    "QualityStop",
    "RealTokens",
    "StepBackup",
    "TerminateOnNaN",
    "TimeLimit",
    "TokenThroughput",
    "TrainingDiverged",
    "TrainingInterrupted",
    "averaged_weights",
    "read_history",
]
