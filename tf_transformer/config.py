"""`TransformerConfig`: every size the model needs, validated in one place.

The presets follow the papers they name:

- ``tiny``: a few thousand parameters, for tests and the copy task.
- ``tutorial``: TensorFlow's tutorial sizes (4 layers, d_model 128, 8 heads,
  dff 512); trains on a laptop CPU.
- ``base`` and ``big``: Table 3 of Vaswani et al. (2017), "Attention Is All
  You Need" (big uses dropout 0.3, as the paper does for EN-DE).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from tf_transformer.constants import POSITIONS

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(num_layers=2, d_model=32, num_heads=4, dff=64, dropout_rate=0.0),
    "tutorial": dict(num_layers=4, d_model=128, num_heads=8, dff=512, dropout_rate=0.1),
    "base": dict(num_layers=6, d_model=512, num_heads=8, dff=2048, dropout_rate=0.1),
    "big": dict(num_layers=6, d_model=1024, num_heads=16, dff=4096, dropout_rate=0.3),
}


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """Sizes of an encoder-decoder Transformer.

    Args:
        num_layers: encoder layers, and as many decoder layers (N in the paper).
        d_model: width of every residual stream (d_model).
        num_heads: attention heads (h); must divide ``d_model``.
        dff: inner width of the feed-forward networks (d_ff).
        input_vocab_size: source (Portuguese) vocabulary size, padding id 0 included.
        target_vocab_size: target (English) vocabulary size, padding id 0 included.
        dropout_rate: residual, embedding and attention dropout (P_drop).
        max_length: longest sequence, in tokens, that either side may have;
            the positional-encoding table has this many rows.
        norm_first: pre-norm (``x + f(norm(x))``) instead of the paper's
            post-norm (``norm(x + f(x))``). Pre-norm trains more stably deep.
        share_embeddings: one matrix for the source embedding, the target
            embedding and the pre-softmax projection (paper section 3.4).
            Needs equal vocabulary sizes, i.e. one shared tokenizer.
        tie_output: the pre-softmax projection is the transposed target
            embedding (the two-way half of section 3.4's sharing, which works
            with a vocabulary per language). Implied by ``share_embeddings``.
        key_dim: d_k, the width of each head's queries and keys; None (the
            paper's choice) means d_model / num_heads. The values keep
            d_model / num_heads (Table 3, rows B, vary d_k alone).
        positions: ``"sinusoidal"`` (the paper's), ``"learned"`` (a trained
            table, Table 3 row E) or ``"none"`` (no position information).

    Example:
        >>> cfg = TransformerConfig.from_preset("tutorial",
        ...     input_vocab_size=8000, target_vocab_size=8000)
        >>> cfg.d_model // cfg.num_heads
        16
    """

    num_layers: int
    d_model: int
    num_heads: int
    dff: int
    input_vocab_size: int
    target_vocab_size: int
    dropout_rate: float = 0.1
    max_length: int = 128
    norm_first: bool = False
    share_embeddings: bool = False
    tie_output: bool = False
    key_dim: int | None = None
    positions: str = "sinusoidal"

    def __post_init__(self):
        for name in (
            "num_layers",
            "d_model",
            "num_heads",
            "dff",
            "input_vocab_size",
            "target_vocab_size",
            "max_length",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"TransformerConfig.{name} must be a positive integer, got {value!r}.")
        if self.d_model % self.num_heads:
            raise ValueError(
                f"TransformerConfig.d_model ({self.d_model}) must be divisible by "
                f"num_heads ({self.num_heads}): each head gets d_model / num_heads dimensions."
            )
        if self.d_model % 2:
            raise ValueError(
                f"TransformerConfig.d_model must be even for the sine/cosine positional "
                f"encoding, got {self.d_model}."
            )
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"TransformerConfig.dropout_rate must be in [0, 1), got {self.dropout_rate!r}.")
        if self.input_vocab_size < 4 or self.target_vocab_size < 4:
            raise ValueError(
                "TransformerConfig.input_vocab_size and target_vocab_size must be at least 4 "
                "(the reserved tokens [PAD], [UNK], [START], [END])."
            )
        if self.key_dim is not None and (
            isinstance(self.key_dim, bool) or not isinstance(self.key_dim, int) or self.key_dim <= 0
        ):
            raise ValueError(
                f"TransformerConfig.key_dim must be a positive integer or None (d_model / num_heads), "
                f"got {self.key_dim!r}."
            )
        if self.positions not in POSITIONS:
            raise ValueError(
                f"TransformerConfig.positions must be one of {', '.join(map(repr, POSITIONS))}, "
                f"got {self.positions!r}."
            )
        if self.share_embeddings and self.input_vocab_size != self.target_vocab_size:
            raise ValueError(
                f"TransformerConfig.share_embeddings needs input_vocab_size == target_vocab_size "
                f"(got {self.input_vocab_size} and {self.target_vocab_size}); use one shared "
                f"tokenizer or set share_embeddings=False."
            )

    @property
    def output_tied(self) -> bool:
        """Whether the pre-softmax projection is the transposed target embedding (no ``Dense``)."""
        return self.share_embeddings or self.tie_output

    @property
    def head_dim(self) -> int:
        """d_k: the width of each head's queries and keys."""
        return self.key_dim or self.d_model // self.num_heads

    @classmethod
    def from_preset(cls, name: str, **overrides) -> TransformerConfig:
        """A preset's sizes, with any field overridden (vocabulary sizes are required)."""
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
        fields = {**PRESETS[name], **overrides}
        missing = [f for f in ("input_vocab_size", "target_vocab_size") if f not in fields]
        if missing:
            raise ValueError(
                f"TransformerConfig.from_preset({name!r}) needs {' and '.join(missing)}: "
                f"the tokenizers' vocabulary sizes."
            )
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> TransformerConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(fields) - known
        if unknown:
            raise ValueError(f"Unknown TransformerConfig fields: {', '.join(sorted(unknown))}.")
        return cls(**fields)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TransformerConfig:
        return cls.from_dict(json.loads(text))
