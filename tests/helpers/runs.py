"""One tiny model trained on the embedded corpus, shared by every inference test of a session.

Trained here with a plain ``model.fit`` (a few seconds to a minute on 2 CPU
cores) and written as a run directory, so the tests exercise ``load_run``,
the CLI and the export on the real tokenizers and data, not on mocks. The
model is small and briefly trained: its translations are rough, but it has
learned when to stop, which is what decoding tests need.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import functools
import pathlib
import tempfile

import keras
import tensorflow as tf

from tf_transformer import Transformer, TransformerConfig
from tf_transformer import run_dir as rd
from tf_transformer.data import DatasetSpec, Tokenizer, load_dataset, make_batches, vocab_files
from tf_transformer.training import masked_loss

MAX_LENGTH = 32
MAX_WORDS = 8  # short sentences only: the tiny model learns them well in a few hundred steps
TRAIN_PAIRS = 12_000
STEPS = 300


def _loss(labels, logits):
    return masked_loss(labels, logits, label_smoothing=0.0)


@functools.cache
def trained_run_dir() -> pathlib.Path:
    """Train once per process; later calls return the same run directory."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="tf_transformer_inference_")) / "run"
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
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=_loss)
    model.fit(batches, epochs=1, steps_per_epoch=STEPS, verbose=0, shuffle=False)
    source_language, target_language = spec.languages
    rd.write_run_info(
        path,
        config=config,
        max_length=MAX_LENGTH,
        vocab_files=vocab,
        data={**spec.to_dict(), "source_language": source_language, "target_language": target_language},
        train={"steps": STEPS, "note": "tests/_inference_run.py: a plain model.fit"},
    )
    model.save_weights(str(path / rd.WEIGHTS_FILE))
    model.save(str(path / rd.MODEL_FILE))
    return path


def _short(pair):
    return len(pair[0].split()) <= MAX_WORDS


@functools.cache
def corpus_pairs(split="test", count=24) -> tuple:
    """The first ``count`` short (pt, en) pairs of a split of the embedded corpus, as Python strings."""
    pairs = []
    for source, target in load_dataset("embedded", split).as_numpy_iterator():
        pair = source.decode("utf-8"), target.decode("utf-8")
        if _short(pair):
            pairs.append(pair)
            if len(pairs) == count:
                break
    return tuple(pairs)


@functools.cache
def trained_translator():
    """A ``Translator`` on the trained run (its ``tf.function``s trace once per session)."""
    from tf_transformer.inference import Translator
    from tf_transformer.run_dir import load_run

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
