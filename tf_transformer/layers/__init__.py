"""The Transformer's building blocks, one idea a file, named as the course teaches them.

>>> from tf_transformer.layers import Encoder, MultiHeadAttention, positional_encoding
"""

from tf_transformer import _quiet  # noqa: F401  (before TensorFlow loads)
from tf_transformer.layers.attention import (
    AttentionOutput,
    MultiHeadAttention,
    causal_mask,
    record_attention,
)
from tf_transformer.layers.decoder import Decoder, DecoderAttention, DecoderLayer
from tf_transformer.layers.dropout import Dropout, dropout_mask
from tf_transformer.layers.encoder import Encoder, EncoderLayer
from tf_transformer.layers.feedforward import FeedForward
from tf_transformer.layers.norm import LayerNormalization
from tf_transformer.layers.positional import PositionalEmbedding, positional_encoding
from tf_transformer.layers.residual import ResidualLayer
from tf_transformer.layers.stack import LayerStack

__all__ = [
    "positional_encoding",
    "PositionalEmbedding",
    "MultiHeadAttention",
    "AttentionOutput",
    "causal_mask",
    "record_attention",
    "Dropout",
    "dropout_mask",
    "FeedForward",
    "LayerNormalization",
    "ResidualLayer",
    "LayerStack",
    "EncoderLayer",
    "Encoder",
    "DecoderLayer",
    "Decoder",
    "DecoderAttention",
]
