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
"""

from __future__ import annotations

import pathlib

import keras

from tf_transformer.inference.translator import BEAM_SIZE_SPEC, TEXT_SPEC, Translator


def export_translator(translator, out_dir) -> pathlib.Path:
    """Write ``translator`` as a SavedModel into ``out_dir`` and return its path.

    Example:
        >>> export_translator(Translator(model, pt_tok, en_tok), "export/pt_en")
        >>> reloaded = tf.saved_model.load("export/pt_en")   # after `import tensorflow_text`
        >>> reloaded.signatures["serving_default"](text=tf.constant(["Olá."]))["translation"]
    """
    out_dir = pathlib.Path(out_dir)
    if translator.jit_compile:  # a server may run without XLA: export the plain loop
        translator = Translator(translator.model, translator.pt_tokenizer, translator.en_tokenizer,
                                translator.max_length, translator.alpha)
    archive = keras.export.ExportArchive()
    archive.track(translator.model)
    archive.track(translator.pt_tokenizer)
    archive.track(translator.en_tokenizer)
    archive.add_endpoint("serving_default",
                         lambda text: {"translation": translator.greedy(text)},
                         input_signature=[TEXT_SPEC])
    archive.add_endpoint("beam_search",
                         lambda text, beam_size: {"translation": translator.beam(text, beam_size)},
                         input_signature=[TEXT_SPEC, BEAM_SIZE_SPEC])
    archive.write_out(str(out_dir), verbose=False)
    return out_dir
