"""Inference: decode with a trained Transformer, score it, export it.

- ``search``: cached greedy and beam search on token ids (one ``tf.while_loop``).
- ``recompute``: the tutorial's cache-free greedy loop, the reference and baseline.
- ``translator``: ``Translator``, strings to strings, plus attention maps.
- ``evaluate``: sacreBLEU corpus BLEU and chrF, ``metrics.json``.
- ``export``: a SavedModel (``keras.export.ExportArchive``) for TF Serving.

Inference reads a run directory through ``tf_transformer.runs`` and never
imports ``tf_transformer.training``.

>>> from tf_transformer.inference import Translator
>>> from tf_transformer.runs import load_run
>>> Translator.from_run(load_run("runs/demo")).translate("O gato dorme.")  # doctest: +SKIP
'The cat sleeps.'
"""

from tf_transformer.inference.evaluate import corpus_scores, evaluate_run, evaluate_translator
from tf_transformer.inference.export import export_translator
from tf_transformer.inference.recompute import recompute_greedy_search
from tf_transformer.inference.search import beam_search, greedy_search, length_penalty, sequence_log_probs
from tf_transformer.inference.translator import AttentionMap, Translator

__all__ = [
    "Translator",
    "AttentionMap",
    "greedy_search",
    "beam_search",
    "length_penalty",
    "sequence_log_probs",
    "recompute_greedy_search",
    "corpus_scores",
    "evaluate_translator",
    "evaluate_run",
    "export_translator",
]
