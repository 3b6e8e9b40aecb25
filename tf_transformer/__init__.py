"""tf_transformer: the Transformer of "Attention Is All You Need" (Vaswani et al., 2017)
in TensorFlow 2 / Keras 3, built from custom layers and taught line by line in ``notebooks/``.

>>> from tf_transformer import Transformer, TransformerConfig
>>> model = Transformer(TransformerConfig.from_preset("tutorial",
...     input_vocab_size=8000, target_vocab_size=8000))
"""

from tf_transformer import _quiet  # noqa: F401  (must run before TensorFlow loads)
from tf_transformer.config import PRESETS, TransformerConfig
from tf_transformer.model import Transformer

__all__ = ["Transformer", "TransformerConfig", "PRESETS"]
__version__ = "0.1.0"
