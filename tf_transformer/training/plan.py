"""Step 1 of ``train``: ``prepare_run`` decides everything before a single batch is trained.

The strategy, the tokenizers, the model's sizes (bounded by this machine's memory), the
precision ``auto`` resolves to, the "same run?" checks against a run already in the directory
(``resume``), the run directory's lock, and ``run.json``: a ``Plan`` that the other steps of
``training.loop`` read and never change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import tempfile

import keras
import tensorflow as tf

from tf_transformer import (
    data,  # (the package's __init__ quiets TensorFlow first)
    files,
)
from tf_transformer import runs as rd
from tf_transformer.config import TransformerConfig
from tf_transformer.constants import SIDES, TRAIN_SPLIT
from tf_transformer.training import precision, resume
from tf_transformer.training.config import DEFAULT_EPOCHS, TrainConfig
from tf_transformer.training.precision import RESOLVED_PRECISION
from tf_transformer.training.strategy import is_chief, make_strategy


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one ``train`` call does, decided before any training step.

    Attributes:
        config: the settings, with ``steps_per_epoch`` filled in.
        run_dir: the run directory.
        out: where this process writes: ``run_dir`` on the chief, a scratch
            directory on the other workers of a multi-worker run.
        strategy: the ``tf.distribute`` strategy.
        model_config: the model's sizes (the preset, sized to the vocabularies).
        tokenizers: the (source, target) tokenizers.
        total_steps: optimizer steps the run has when this call ends.
        precision: what the run computes in (``none``, ``bf16``, ``fp16``): ``mixed_precision``,
            with ``auto`` resolved when the run began (a resumed run keeps its own).
        precision_reason: why (printed when the setting is ``auto``).
        lock: this process's hold on ``run_dir`` (``runs.RunLock``), released when ``train`` ends.
    """

    config: TrainConfig
    run_dir: pathlib.Path
    out: pathlib.Path
    strategy: tf.distribute.Strategy
    model_config: TransformerConfig
    tokenizers: tuple
    total_steps: int
    precision: str
    precision_reason: str
    lock: rd.RunLock

    @property
    def chief(self) -> bool:
        return self.out == self.run_dir

    def batches(self, split: str, *, shuffle: bool, repeat: bool = False) -> tf.data.Dataset:
        """Bucketed, token-budgeted batches of a split (``tf_transformer.data.make_batches``)."""
        return _batches(self.config, self.tokenizers, split, shuffle=shuffle, repeat=repeat)


def prepare_run(config: TrainConfig, run_dir) -> Plan:
    """Decide everything, check it against the run already in ``run_dir``, write ``run.json``.

    Nothing is written unless every check passes.
    """
    run_path = pathlib.Path(run_dir)
    # (A multi-worker strategy must come before any op.)
    strategy = make_strategy(config.strategy, timeout=config.cluster_timeout)
    chief = is_chief(strategy)
    # The chief holds run_dir before it reads it: a second training started at the same moment
    # stops here, instead of reading a directory the first one is writing. (The others write
    # elsewhere.) A check that fails releases it, and removes the directory if it made it.
    made = not run_path.exists()
    lock = rd.RunLock(run_path)
    if chief:
        lock.acquire()
    try:
        return _plan(config, run_path, strategy, chief, lock)
    except BaseException:
        lock.release()
        if made and chief:
            with contextlib.suppress(OSError):
                (run_path / rd.RunLock.NAME).unlink()
                run_path.rmdir()
        raise


def _plan(config: TrainConfig, run_path: pathlib.Path, strategy, chief: bool, lock) -> Plan:
    previous = resume.previous_run(run_path, chief)
    if previous is not None and resume.has_trained(run_path):
        resume.check_same_corpus(run_path, previous, config.data_dir)
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
        tf.config.experimental.enable_op_determinism()
    tokenizer = config.tokenizer
    if tokenizer == "auto":  # the run's own kind when it resumes, else the corpus's default
        recorded = previous.vocab["source"] if previous is not None else None
        tokenizer = data.tokenizer_kind(recorded) if recorded else data.default_tokenizer(config.dataset)
    vocab_files = data.vocab_files(config.dataset, data_dir=config.data_dir, tokenizer=tokenizer)
    tokenizers = tuple(data.make_tokenizer(vocab_files[side]) for side in SIDES)
    model_config = _model_config(config, *tokenizers)
    if config.steps_per_epoch is None:  # the recorded count, else one pass over the split
        recorded_steps = previous.train.get("steps_per_epoch") if previous is not None else None
        counted = recorded_steps or count_batches(_batches(config, tokenizers, TRAIN_SPLIT, shuffle=False))
        config = dataclasses.replace(config, steps_per_epoch=counted)
    resuming = previous is not None and resume.has_trained(run_path)  # one that never took a step is redone
    if resuming:
        resume.check_same_run(run_path, previous, config, model_config, vocab_files)
    dtype, why = _precision(config, previous.train if resuming else None)
    if chief:
        files.remove_temporaries(run_path)  # left by killed writes (nobody else writes now)
        source_language, target_language = config.dataset.languages
        rd.write_run_info(
            run_path,
            config=model_config,
            max_length=config.max_length,
            data={
                **config.dataset.to_dict(),
                "source_language": source_language,
                "target_language": target_language,
                "tokenizer": tokenizer,
            },
            vocab_files=vocab_files,
            train={**config.to_dict(), RESOLVED_PRECISION: dtype},
        )
    # Saving reads distributed variables, a collective step every worker must take: the
    # other workers save too, into a scratch directory that is thrown away.
    out = run_path if chief else pathlib.Path(tempfile.mkdtemp(prefix="tf_transformer_worker_"))
    return Plan(
        config=config,
        run_dir=run_path,
        out=out,
        strategy=strategy,
        model_config=model_config,
        tokenizers=tokenizers,
        total_steps=total_steps(config.epochs, config.max_steps, config.steps_per_epoch),
        precision=dtype,
        precision_reason=why,
        lock=lock,
    )


def _precision(config: TrainConfig, recorded: dict | None) -> tuple[str, str]:
    """The precision the run computes in, and why: ``--mixed-precision`` resolved on this machine
    for a new run; for a resumed run with ``auto``, the precision it began in, wherever that was
    (a run does not change precision half-way; an explicit other one is a different run)."""
    if recorded is None or config.mixed_precision != "auto":
        return precision.resolve(config.mixed_precision)
    if RESOLVED_PRECISION in recorded:
        return recorded[RESOLVED_PRECISION], "the run's own: auto chose it when the run began"
    dtype = precision.resolve_before_records(recorded.get("mixed_precision", "none"))
    return dtype, "the run's own: what auto meant when the run began, before runs recorded it"


def _model_config(config: TrainConfig, source_tokenizer, target_tokenizer) -> TransformerConfig:
    """The preset's sizes, fitted to the vocabularies and the sentence length."""
    overrides = dict(
        input_vocab_size=int(source_tokenizer.get_vocab_size()),
        target_vocab_size=int(target_tokenizer.get_vocab_size()),
        max_length=config.max_length,
    )
    if config.num_layers is not None:
        overrides["num_layers"] = config.num_layers
    if config.dropout_rate is not None:
        overrides["dropout_rate"] = config.dropout_rate
    if config.norm_first:
        overrides["norm_first"] = True
    model_config = TransformerConfig.from_preset(config.preset, **overrides)
    _check_memory(model_config)
    return model_config


def approximate_parameters(config: TransformerConfig) -> int:
    """The model's weights, counted from its sizes (the matrices; biases and norms are a rounding
    error), before anything is built.

    >>> approximate_parameters(TransformerConfig.from_preset("tutorial", input_vocab_size=8000,
    ...     target_vocab_size=8000)) // 100_000
    49
    """
    d, ffn, layers = config.d_model, config.dff, config.num_layers
    attention = 4 * d * d
    per_layer = (attention + 2 * d * ffn) + (2 * attention + 2 * d * ffn)  # an encoder and a decoder layer
    embeddings = (config.input_vocab_size + config.target_vocab_size) * d
    output = 0 if config.output_tied else d * config.target_vocab_size
    return layers * per_layer + embeddings + output


def _check_memory(config: TransformerConfig) -> None:
    """Refuse a model whose weights, gradients and Adam's two moments alone exceed this machine's
    memory (say ``--num-layers 1000000``), before it sits building for minutes."""
    parameters = approximate_parameters(config)
    needed = parameters * 4 * 4  # float32: the weights, their gradients, Adam's m and v
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # (not every system says)
        return
    if needed > memory:
        raise ValueError(
            f"a model of {config.num_layers:,} layers each side, d_model {config.d_model} and dff "
            f"{config.dff} has about {parameters:,} parameters: training needs at least "
            f"{needed / 2**30:,.1f} GiB for them, their gradients and Adam's moments, more than this "
            f"machine's {memory / 2**30:,.1f} GiB; choose fewer layers or a smaller preset"
        )


def _batches(config: TrainConfig, tokenizers, split, *, shuffle, repeat=False):
    examples = config.train_examples if split == TRAIN_SPLIT else config.validation_examples
    pairs = data.load_dataset(config.dataset, split, data_dir=config.data_dir)
    if examples:
        pairs = pairs.take(examples)
    source_tokenizer, target_tokenizer = tokenizers
    return data.make_batches(
        pairs,
        source_tokenizer,
        target_tokenizer,
        max_length=config.max_length,
        batch_tokens=config.batch_tokens,
        shuffle=shuffle,
        seed=config.seed,
        repeat=repeat,
    )


def count_batches(batches: tf.data.Dataset) -> int:
    """Batches in one pass over a (finite) dataset."""
    return int(batches.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def total_steps(epochs: int | None, max_steps: int | None, steps_per_epoch: int) -> int:
    """Where training stops: the smaller of ``max_steps`` and ``epochs`` epochs (default 20 epochs)."""
    if epochs is None and max_steps is None:
        epochs = DEFAULT_EPOCHS
    return min(n for n in (max_steps, epochs and epochs * steps_per_epoch) if n)
