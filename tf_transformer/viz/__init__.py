"""Pictures of the model: where it attends, and what it is.

- :mod:`~tf_transformer.viz.attention`: an interactive page of every layer's and
  head's attention for one sentence (``attention_view``, ``translation_view``),
  and the numbers behind it (``attention_weights``, from the model's own
  ``Transformer.call_with_attention``);
- :mod:`~tf_transformer.viz.diagram`: the paper's figure 1, drawn from a
  ``TransformerConfig`` (``architecture_figure``), with matplotlib alone.

Each name loads its module on first use, so drawing the architecture does not
import TensorFlow.

Example:
    >>> from tf_transformer import viz
    >>> sorted(viz.__all__)
    ['AttentionView', 'architecture_figure', 'attention_view', 'attention_weights', 'translation_view']
"""

import importlib

# Imported on first use: name -> the submodule that defines it.
_ON_FIRST_USE = {
    "AttentionView": "attention",
    "attention_view": "attention",
    "attention_weights": "attention",
    "translation_view": "attention",
    "architecture_figure": "diagram",
}
__all__ = sorted(_ON_FIRST_USE)


def __getattr__(name):
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_ON_FIRST_USE[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_ON_FIRST_USE))
