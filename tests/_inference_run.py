"""One tiny model trained on the embedded corpus, shared by every inference test of a session.

Trained here with a plain ``model.fit`` (a few seconds to a minute on 2 CPU
cores) and written as a run directory, so the tests exercise ``load_run``,
the CLI and the export on the real tokenizers and data, not on mocks. The
model is small and briefly trained: its translations are rough, but it has
learned when to stop, which is what decoding tests need.
"""

import functools
import pathlib
import tempfile

import tf_transformer  # noqa: F401  (quiet TensorFlow first)

import keras
import tensorflow as tf

from tf_transformer import Transformer, TransformerConfig
from tf_transformer.data import Tokenizer, make_batches
from tf_transformer.data.corpus import read
from tf_transformer.data.tokenizer import VOCAB_DIR
from tf_transformer.training import masked_loss
from tf_transformer.training import run_dir as rd

MAX_LENGTH = 32
MAX_WORDS = 8      # short sentences only: the tiny model learns them well in a few hundred steps
TRAIN_PAIRS = 12_000
STEPS = 300


def _loss(labels, logits):
    return masked_loss(labels, logits, label_smoothing=0.0)


@functools.lru_cache(maxsize=None)
def trained_run_dir() -> pathlib.Path:
    """Train once per process; later calls return the same run directory."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="tf_transformer_inference_")) / "run"
    keras.utils.set_random_seed(0)
    pt_tok, en_tok = Tokenizer(VOCAB_DIR / "pt.txt"), Tokenizer(VOCAB_DIR / "en.txt")
    pairs = [p for p in read("train") if _short(p)][:TRAIN_PAIRS]
    dataset = tf.data.Dataset.from_tensor_slices(([p for p, _ in pairs], [e for _, e in pairs]))
    batches = make_batches(dataset, pt_tok, en_tok, max_length=MAX_LENGTH, batch_tokens=4096,
                           shuffle=True, seed=0, shuffle_buffer=TRAIN_PAIRS).repeat()
    config = TransformerConfig.from_preset(
        "tiny", input_vocab_size=int(pt_tok.get_vocab_size()),
        target_vocab_size=int(en_tok.get_vocab_size()), max_length=MAX_LENGTH, dropout_rate=0.0)
    model = Transformer(config)
    model.build()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=_loss)
    model.fit(batches, epochs=1, steps_per_epoch=STEPS, verbose=0, shuffle=False)
    rd.write_run_info(path, config=config, dataset="embedded", max_length=MAX_LENGTH,
                      vocab_files={"pt": VOCAB_DIR / "pt.txt", "en": VOCAB_DIR / "en.txt"},
                      train_args={"steps": STEPS, "note": "tests/_inference_run.py"})
    model.save_weights(str(path / rd.WEIGHTS_FILE))
    model.save(str(path / rd.MODEL_FILE))
    return path


def _short(pair):
    return len(pair[0].split()) <= MAX_WORDS


def corpus_pairs(split="test", count=24):
    """The first ``count`` short (pt, en) pairs of a split, as Python strings."""
    return [p for p in read(split) if _short(p)][:count]


@functools.lru_cache(maxsize=None)
def trained_translator():
    """A ``Translator`` on the trained run (its ``tf.function``s trace once per session)."""
    from tf_transformer.inference import Translator
    from tf_transformer.training import load_run

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
