"""The session's trained runs and export, corpus sentences and bad inputs.

Tests that train use the ``smoke`` recipe (``tf_transformer.recipes``): the tiny preset with
one layer of each kind on a slice of the embedded corpus, silent. A test module adds only what
its property needs (``recipe("smoke", steps_per_epoch=4, max_steps=10)``); ``smoke_flags``
writes such settings as ``tf-transformer train`` flags.

The session's shared artifacts (``helpers.shared``; built once, in a fresh process, for every
worker):

- ``trained_run_dir()``: a tiny model trained on the embedded corpus (pt -> en) with a plain
  ``model.fit``, written as a run directory, so that the inference tests exercise
  ``load_run``, the CLI and the export on the real tokenizers and data, not on mocks. Its
  translations are rough, but it has learned when to stop, which is what decoding tests need.
- ``exported()``: ``tf-transformer export`` of that run, ``<base>/pt_en/1``.
- ``course_runs()``: a ``$TF_TRANSFORMER_RUNS`` folder holding the course's two fast-mode runs
  (``fast/tutorial`` and ``fast/it_en_pt``, trained by ``course.ensure_run``), which the
  notebooks and the worked solutions load instead of training their own.
"""

from __future__ import annotations

import functools
import gzip
import pathlib
import shutil

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)
from helpers import shared


def smoke_flags(settings: dict) -> list[str]:
    """``settings`` as ``tf-transformer train`` flags (``--max-steps=10``), for a fresh process."""
    return [f"--{name.replace('_', '-')}={value}" for name, value in settings.items()]


# The shared inference run: short sentences only, which the tiny model learns in a few hundred steps.
MAX_LENGTH = 32
MAX_WORDS = 8
TRAIN_PAIRS = 12_000
STEPS = 300


def train_inference_run(path: pathlib.Path) -> None:
    """Train the inference tests' model into the run directory ``path`` (``helpers.build`` calls it)."""
    import keras
    import tensorflow as tf

    from tf_transformer import Transformer, TransformerConfig
    from tf_transformer import runs as rd
    from tf_transformer.data import DatasetSpec, Tokenizer, make_batches, vocab_files
    from tf_transformer.training import masked_loss

    keras.utils.set_random_seed(0)
    spec = DatasetSpec()  # the embedded corpus, pt -> en
    vocab = vocab_files(spec)
    source_tok, target_tok = Tokenizer(vocab["source"]), Tokenizer(vocab["target"])
    pairs = corpus_pairs("train", TRAIN_PAIRS)
    dataset = tf.data.Dataset.from_tensor_slices(([s for s, _ in pairs], [t for _, t in pairs]))
    batches = make_batches(
        dataset,
        source_tok,
        target_tok,
        max_length=MAX_LENGTH,
        batch_tokens=4096,
        shuffle=True,
        seed=0,
        shuffle_buffer=TRAIN_PAIRS,
    ).repeat()
    config = TransformerConfig.from_preset(
        "tiny",
        input_vocab_size=int(source_tok.get_vocab_size()),
        target_vocab_size=int(target_tok.get_vocab_size()),
        max_length=MAX_LENGTH,
        dropout_rate=0.0,
    )
    model = Transformer(config)
    model.build()

    def loss(labels, logits):
        return masked_loss(labels, logits, label_smoothing=0.0)

    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss, jit_compile=False)
    model.fit(batches, epochs=1, steps_per_epoch=STEPS, verbose=0, shuffle=False)
    source_language, target_language = spec.languages
    rd.write_run_info(
        path,
        config=config,
        max_length=MAX_LENGTH,
        vocab_files=vocab,
        data={**spec.to_dict(), "source_language": source_language, "target_language": target_language},
        train={"steps": STEPS, "note": "tests/helpers/runs.py: a plain model.fit"},
    )
    model.save_weights(str(path / rd.WEIGHTS_FILE))
    model.save(str(path / rd.MODEL_FILE))


def trained_run_dir() -> pathlib.Path:
    """The session's trained tiny run (pt -> en); read it, never write into it."""
    return shared.artifact("inference_run")


def exported() -> pathlib.Path:
    """The session's export of the trained run: ``<base>/pt_en/1`` (``export --out <base>/pt_en``)."""
    return shared.artifact("inference_export") / "pt_en" / "1"


def course_runs() -> pathlib.Path:
    """A ``$TF_TRANSFORMER_RUNS`` folder: the course's fast runs ``fast/tutorial`` and ``fast/it_en_pt``."""
    return shared.artifact("course_runs")


def _short(pair):
    return len(pair[0].split()) <= MAX_WORDS


@functools.cache
def corpus_pairs(split="test", count=24) -> tuple:
    """The first ``count`` short (pt, en) pairs of a split of the embedded corpus, as Python strings.

    Read from the shipped file, in its order: no TFDS preparation is needed (modules call this
    as they are collected), and 12,000 pairs take a fraction of a second.
    """
    from tf_transformer.data._paths import embedded_corpus_dir

    pairs = []
    with gzip.open(embedded_corpus_dir() / f"{split}.tsv.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            pair = tuple(line.rstrip("\n").split("\t"))
            if _short(pair):
                pairs.append(pair)
                if len(pairs) == count:
                    break
    return tuple(pairs)


@functools.cache
def trained_translator():
    """A ``Translator`` on the trained run (its ``tf.function``s trace once per process)."""
    from tf_transformer.inference import Translator
    from tf_transformer.runs import load_run

    return Translator.from_run(load_run(trained_run_dir()))


# Inputs the issue calls bad: each must get its own, defined answer.
BAD_INPUTS = {
    "empty": "",
    "spaces": "   ",
    "chinese": "我不知道。",
    "emoji": "😀🐈",
    "punctuation": "?",
    "long": " ".join(["o gato pequeno dorme e"] * 40) + ".",
}


def runs_for(source: pathlib.Path, folder: pathlib.Path) -> pathlib.Path:
    """``folder``, made a ``$TF_TRANSFORMER_RUNS`` of one notebook's or solution's own.

    The course's fast runs are copied in when ``source`` reads them (a notebook that calls
    ``course.ensure_run``; a solution, which never trains them, that calls it or
    ``course.run_dir``), so that it loads them instead of training its own; what it writes
    stays in ``folder``, apart from every other test's.
    """
    text = source.read_text(encoding="utf-8")
    reads = ("course.ensure_run(",) + (("course.run_dir(",) if source.parent.name == "solutions" else ())
    if any(call in text for call in reads):
        shutil.copytree(course_runs(), folder)
    else:
        folder.mkdir(parents=True)
    return folder
