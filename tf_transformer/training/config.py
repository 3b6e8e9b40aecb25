"""`TrainConfig`: every training setting, declared once with its default, range and help.

``train`` reads it; ``tf-transformer train`` builds its flags from it
(``add_arguments`` / ``from_args``), and ``demo`` those of the settings it lets a user
change in its recipe (``tf_transformer.recipes``); ``run.json`` records it (``to_dict``),
and resuming a run directory compares its ``fixed`` fields with the recorded
ones (``differences``). The model's sizes are ``TransformerConfig``'s job;
the data's, ``DatasetSpec``'s.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from tf_transformer.config import PRESETS
from tf_transformer.constants import DEFAULT_MAX_LENGTH, MIN_MAX_LENGTH
from tf_transformer.data import DatasetSpec
from tf_transformer.training import precision
from tf_transformer.training.strategy import STRATEGIES

# --mixed-precision: the Keras dtype policy each choice sets ("auto" is one of the first two:
# see training/precision.py).
MIXED_PRECISION = {"none": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
PRECISION_CHOICES = (*MIXED_PRECISION, "auto")
DEFAULT_EPOCHS = 20  # when neither epochs nor max_steps is given


def setting(
    default=None,
    help="",
    *,
    fixed=False,
    choices=None,
    at_least=None,
    above=None,
    below=None,
    at_most=None,
    flag=True,
    factory=None,
):
    """A ``TrainConfig`` field: its default and what validation and the CLI read.

    Args:
        default: the value when none is given (``factory``: a function that makes it).
        help: one line for ``--help``.
        fixed: the setting defines the run: resuming a run directory must repeat it.
        choices: the allowed values.
        at_least, above, below, at_most: the allowed range (``at_least`` and
            ``at_most`` inclusive, ``above`` and ``below`` exclusive); ``None`` is always allowed.
        flag: False for the data settings, whose flags ``DatasetSpec.add_arguments``
            declares (shared with ``prepare`` and ``demo``).
    """
    metadata = dict(
        help=help,
        fixed=fixed,
        choices=choices,
        at_least=at_least,
        above=above,
        below=below,
        at_most=at_most,
        flag=flag,
    )
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# Fixed settings that run.json did not always record: a run recorded without one used its
# default (resuming it with another value would not be the same run).
ADDED_LATER = ("decay_power", "ema_momentum", "tokenizer")
TOKENIZER_CHOICES = ("auto", "wordpiece", "sentencepiece")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train: model preset, data, length of training, batches, optimizer, hardware.

    Every field's default, allowed values and help text are declared once,
    below; ``tf-transformer train --help`` shows the same. Invalid values
    raise ``ValueError`` with the allowed range, before anything is written.

    Example:
        >>> config = TrainConfig(preset="tiny", max_steps=50, seed=0)
        >>> config.batch_tokens, config.max_length
        (4096, 64)
        >>> TrainConfig(label_smoothing=1.0)
        Traceback (most recent call last):
        ...
        ValueError: TrainConfig.label_smoothing (--label-smoothing) must be in [0, 1), got 1.0.
    """

    # -- what is trained on what ------------------------------------------------------------
    preset: str = setting("tutorial", "model size", fixed=True, choices=tuple(PRESETS))
    dataset: DatasetSpec = setting(
        help="the corpus and its direction (see tf_transformer.data.DatasetSpec)",
        fixed=True,
        flag=False,
        factory=DatasetSpec,
    )
    data_dir: str | None = setting(
        None, "where prepared data and learned vocabularies live (default: TFDS's data dir)", flag=False
    )
    tokenizer: str = setting(
        "auto",
        "whose vocabularies (prepare --tokenizer learns them): auto is the run's own when it resumes, "
        "else wordpiece for the embedded corpus and sentencepiece for any other",
        fixed=True,
        choices=TOKENIZER_CHOICES,
    )
    max_length: int = setting(
        DEFAULT_MAX_LENGTH,
        "longest sentence in tokens, either side; longer ones are cut",
        fixed=True,
        at_least=MIN_MAX_LENGTH,
    )
    train_examples: int | None = setting(None, "use only the first N training pairs", fixed=True, at_least=1)
    validation_examples: int | None = setting(
        None, "use only the first N validation pairs (0: no validation)", at_least=0
    )
    # -- how long ----------------------------------------------------------------------------
    epochs: int | None = setting(None, f"epochs (default {DEFAULT_EPOCHS} unless --max-steps)", at_least=1)
    max_steps: int | None = setting(None, "stop after this many optimizer steps in all", at_least=1)
    max_minutes: float | None = setting(
        None, "stop after this much wall time in this session (the finished part is kept)", above=0
    )
    steps_per_epoch: int | None = setting(
        None, "batches per epoch (default: one pass over the training split)", fixed=True, at_least=1
    )
    stop_at_accuracy: float | None = setting(
        None,
        "stop at the first epoch end whose validation masked accuracy reaches this (the training "
        "accuracy without validation)",
        above=0,
        at_most=1,
    )
    patience: int | None = setting(
        None,
        "stop after this many epoch ends without a new lowest validation loss (training loss "
        "without validation)",
        at_least=1,
    )
    # -- batches, optimizer, regularisation -------------------------------------------------
    batch_tokens: int = setting(4096, "tokens per (global) batch, padding included", fixed=True, at_least=1)
    seed: int | None = setting(
        None,
        "seed Python, NumPy, TensorFlow and the data order; make ops deterministic",
        fixed=True,
        at_least=0,
    )
    warmup_steps: int = setting(4000, "learning-rate warm-up steps (WarmupSchedule)", fixed=True, at_least=1)
    lr_scale: float = setting(1.0, "factor on the whole learning-rate curve", fixed=True, above=0)
    decay_power: float = setting(
        0.5,
        "after the warm-up the rate falls as step^-p: 0.5 is the paper's, 1.0 falls faster (the demo's)",
        fixed=True,
        above=0,
        at_most=2,
    )
    ema_momentum: float = setting(
        0.0,
        "validate and save an exponential moving average of the weights, updated every step with "
        "this momentum (0: off; 0.99 averages over about the last 100 steps; the demo's)",
        fixed=True,
        at_least=0,
        below=1,
    )
    label_smoothing: float = setting(
        0.1, "label smoothing of the loss (0.1 as in the paper)", fixed=True, at_least=0, below=1
    )
    num_layers: int | None = setting(
        None, "override the preset's number of layers (encoder and decoder each)", fixed=True, at_least=1
    )
    dropout_rate: float | None = setting(
        None, "override the preset's dropout", fixed=True, at_least=0, below=1
    )
    norm_first: bool = setting(
        False,
        "pre-norm layers instead of the paper's post-norm (learn much faster with a short warm-up)",
        fixed=True,
    )
    # -- hardware and bookkeeping -------------------------------------------------------------
    strategy: str = setting(
        "auto", "tf.distribute strategy (multiworker reads TF_CONFIG)", choices=STRATEGIES
    )
    cluster_timeout: float = setting(
        300.0, "seconds a multi-worker start waits for every worker before giving up", above=0
    )
    mixed_precision: str = setting(
        "none",
        "compute dtype (logits and loss stay float32; fp16 scales the loss); auto: bf16 on a GPU "
        "of compute capability 8.0 or later or a CPU with bfloat16 matrix instructions (AMX, "
        "AVX512-BF16), else none; a run resumes only in "
        "the precision it started with (the optimizer states differ)",
        fixed=True,
        choices=PRECISION_CHOICES,
    )
    jit_compile: bool = setting(False, "compile the train step with XLA")
    backup_every: int = setting(100, "save the resumable state every N steps (0: at epoch ends)", at_least=0)
    verbose: int = setting(
        1,
        "0 silent, 1 progress bar (plain lines when the output is not a terminal), 2 one line per epoch",
        choices=(0, 1, 2),
    )

    def __post_init__(self):
        # Plain values are accepted where the field holds a richer type.
        if not isinstance(self.dataset, DatasetSpec):
            spec = self.dataset
            spec = DatasetSpec.from_dict(spec) if isinstance(spec, dict) else DatasetSpec.parse(spec)
            object.__setattr__(self, "dataset", spec)
        if isinstance(self.data_dir, pathlib.PurePath):
            object.__setattr__(self, "data_dir", str(self.data_dir))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            _check(field, value)
            if _plain_type(_HINTS[field.name]) is float and isinstance(value, int):
                object.__setattr__(self, field.name, float(value))  # run.json says 1.0, not 1
        if self.batch_tokens < self.max_length:
            raise ValueError(
                f"TrainConfig.batch_tokens (--batch-tokens) {self.batch_tokens} cannot hold one "
                f"sentence of max_length (--max-length) {self.max_length} tokens: it must be at "
                f"least {self.max_length} (a few thousand is typical), or max_length smaller."
            )
        if self.max_minutes is not None and self.strategy == "multiworker":
            raise ValueError(
                "TrainConfig.max_minutes (--max-minutes) cannot stop several workers "
                "at the same step; use max_steps (--max-steps) with strategy multiworker."
            )

    # -- run.json ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: what ``run.json`` records under ``"train"``."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {**fields, "dataset": self.dataset.to_dict()}

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> TrainConfig:
        unknown = set(fields) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown TrainConfig fields: {', '.join(sorted(unknown))}.")
        return cls(**fields)

    @classmethod
    def fixed_fields(cls) -> tuple[str, ...]:
        """The settings that define a run: resuming a run directory must repeat them."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata["fixed"])

    def differences(self, recorded: dict[str, Any]) -> list[str]:
        """``"name: old -> new"`` for each fixed setting that differs from a recorded ``to_dict()``.

        Settings the record lacks (an older run.json) are not compared, except
        those added since run.json began (``ADDED_LATER``): a run recorded
        without one trained with its default.
        """
        changed = []
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for name in self.fixed_fields():
            if name not in recorded and name not in ADDED_LATER:
                continue
            old, new = recorded.get(name, defaults[name]), getattr(self, name)
            if name == "dataset":
                old = DatasetSpec.from_dict(old) if isinstance(old, dict) else DatasetSpec.parse(old)
            if name == "mixed_precision":  # what the run computes in; "auto" resumes it in that
                old = recorded.get(precision.RESOLVED_PRECISION) or precision.resolve_before_records(old)
                new = old if new == "auto" else new
            if old != new:
                changed.append(f"{name}: {_show(old)} -> {_show(new)}")
        return changed

    # -- command line ------------------------------------------------------------------------

    @classmethod
    def add_arguments(
        cls,
        parser: argparse.ArgumentParser,
        recipe_defaults: Mapping[str, str] | None = None,
        aliases: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Add one flag per field (``--max-steps`` for ``max_steps``...) and the data flags.

        Args:
            recipe_defaults: for a command that trains a named recipe (``demo``): the fields
                it lets a user change, each with what the recipe sets it to, in words. Only
                these get flags, each defaulting to None ("the recipe's"); the command puts the
                values given on top of the recipe (``from_args`` is for ``train``'s flags).
            aliases: more names for a field's flag (``{"max_minutes": ["--minutes"]}``).
        """
        aliases = aliases or {}
        for field in dataclasses.fields(cls):
            meta = field.metadata
            if not meta["flag"] or (recipe_defaults is not None and field.name not in recipe_defaults):
                continue
            names = [flag_name(field.name), *aliases.get(field.name, ())]
            kind = _plain_type(_HINTS[field.name])
            if kind is bool:
                assert field.default is False and recipe_defaults is None, f"{field.name}: a store_true flag"
                parser.add_argument(*names, dest=field.name, action="store_true", help=meta["help"])
                continue
            if recipe_defaults is not None:
                default, shown = None, f" (default: {recipe_defaults[field.name]})"
            else:
                default = field.default
                shown = "" if field.default is None else f" (default: {field.default})"
            parser.add_argument(
                *names,
                dest=field.name,
                type=kind,
                default=default,
                choices=meta["choices"],
                help=meta["help"] + shown,
            )
        DatasetSpec.add_arguments(parser)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TrainConfig:
        """The config that parsed ``add_arguments`` flags ask for (validated)."""
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if f.metadata["flag"]}
        return cls(dataset=DatasetSpec.from_args(args), data_dir=args.data_dir, **values)


_HINTS = typing.get_type_hints(TrainConfig)  # the fields' types, with ``X | None`` resolved


def flag_name(field: str) -> str:
    """The command-line flag of a field: ``max_steps`` -> ``--max-steps``."""
    return "--" + field.replace("_", "-")


def _plain_type(hint):
    """``int | None`` -> ``int``: the type a flag's text converts to."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        [hint] = [t for t in typing.get_args(hint) if t is not type(None)]
    return hint


def _check(field: dataclasses.Field, value) -> None:
    """Raise ``ValueError`` unless ``value`` has the field's type and lies in its range."""
    meta, name = field.metadata, f"TrainConfig.{field.name} ({flag_name(field.name)})"
    if not meta["flag"]:  # the data settings: DatasetSpec checks its own
        return
    if value is None:
        if field.default is not None:
            raise ValueError(f"{name} must be given, got None.")
        return
    kind = _plain_type(_HINTS[field.name])
    accepted = (int, float) if kind is float else kind
    if not isinstance(value, accepted) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{name} must be {'a number' if kind is float else kind.__name__}, got {value!r}.")
    if meta["choices"] is not None and value not in meta["choices"]:
        raise ValueError(f"{name} must be one of {', '.join(map(str, meta['choices']))}, got {value!r}.")
    if kind in (int, float) and not _in_range(value, meta):
        raise ValueError(f"{name} must be {_describe_range(meta)}, got {value!r}.")


def _in_range(value, meta) -> bool:
    return (
        (meta["at_least"] is None or value >= meta["at_least"])
        and (meta["above"] is None or value > meta["above"])
        and (meta["below"] is None or value < meta["below"])
        and (meta["at_most"] is None or value <= meta["at_most"])
    )


def _describe_range(meta) -> str:
    low = meta["at_least"] if meta["at_least"] is not None else meta["above"]
    high = meta["below"] if meta["below"] is not None else meta["at_most"]
    if high is not None:
        left = "[" if meta["at_least"] is not None else "("
        right = ")" if meta["below"] is not None else "]"
        return f"in {left}{low}, {high}{right}"
    return f"at least {low}" if meta["at_least"] is not None else f"greater than {low}"


def _show(value) -> str:
    return str(value) if isinstance(value, DatasetSpec) else repr(value)
