"""Export a ``Translator`` as a SavedModel that serves strings to strings.

The SavedModel holds the model's weights, both tokenizers' vocabularies and
the whole decoding loop, so it needs only TensorFlow and tensorflow-text
(``import tensorflow_text`` registers the tokenizer ops) to run; it does not
import ``tf_transformer``.

It is written with ``keras.export.ExportArchive``, not by saving a
``tf.Module`` that wraps the Keras model: the latter reloads in TF2 Python but
fails in the TF1 session loader that TensorFlow Serving and
``saved_model_cli run`` use ("Could not find variable ..."). ``ExportArchive``
lists every variable the endpoints use, and we hand it the tokenizers so that
their lookup tables and vocabulary files are saved as well.

Signatures:

- ``serving_default``: ``text`` (``tf.string [None]``) -> ``translation``
  (``tf.string [None]``), greedy decoding.
- ``beam_search``: ``text`` and ``beam_size`` (``tf.int32`` scalar) ->
  ``translation``.
- ``attention``: ``text`` -> ``source_tokens``, ``target_tokens``, ``weights``
  (cross-attention, ``[B, layers, heads, T, S]``), ``translation`` (greedy),
  for the page of ``tf-transformer serve`` (see ``export_attention``).
"""

from __future__ import annotations

import pathlib

import keras

from tf_transformer.inference.export_attention import add_attention_endpoint
from tf_transformer.inference.translator import BEAM_SIZE_SPEC, TEXT_SPEC, Translator


def export_translator(translator, out_dir) -> pathlib.Path:
    """Write ``translator`` as a SavedModel into ``out_dir`` and return its path.

    Example:
        >>> translator = Translator.from_run(load_run("runs/demo"))  # doctest: +SKIP
        >>> export_translator(translator, "export/demo")  # doctest: +SKIP
        >>> reloaded = tf.saved_model.load("export/demo")  # doctest: +SKIP
        >>> reloaded.signatures["serving_default"](text=tf.constant(["Olá."]))  # doctest: +SKIP
    """
    out_dir = pathlib.Path(out_dir)
    if translator.jit_compile:  # a server may run without XLA: export the plain loop
        translator = Translator(
            translator.model,
            translator.source_tokenizer,
            translator.target_tokenizer,
            translator.max_length,
            translator.alpha,
        )
    archive = keras.export.ExportArchive()
    archive.track(translator.model)
    archive.track(translator.source_tokenizer)
    archive.track(translator.target_tokenizer)
    archive.add_endpoint(
        "serving_default", lambda text: {"translation": translator.greedy(text)}, input_signature=[TEXT_SPEC]
    )
    archive.add_endpoint(
        "beam_search",
        lambda text, beam_size: {"translation": translator.beam(text, beam_size)},
        input_signature=[TEXT_SPEC, BEAM_SIZE_SPEC],
    )
    add_attention_endpoint(archive, translator)
    archive.write_out(str(out_dir), verbose=False)
    return out_dir
