"""An interactive attention view: every layer's and head's attention for one sentence, in one HTML page.

A Transformer attends three ways (paper section 3.2.3): the encoder's
self-attention (source to source), the decoder's masked self-attention
(target to earlier target) and the decoder's cross-attention (target to
source). ``attention_view`` renders any of them as a self-contained page,
HTML, CSS, JavaScript and data in one document, with no outside resource:

- choose the kind of attention, the layer and the head (or the mean of all heads);
- hover or click a query token to see where it looks (the key tokens are
  shaded by weight and show the number); a key token shows who looks at it;
- a heat map shows the whole matrix of the chosen layer and head.

The view displays inline in Jupyter (``_repr_html_``: the page inside a
sandboxed ``<iframe srcdoc=...>``, which also keeps several views in one
notebook apart) and ``save`` writes it as a standalone ``.html`` file.

The page is package data beside this module: the template ``attention.html``
with the viewer, ``attention_viewer.js`` and ``attention_viewer.css``, inlined.
The page of ``tf-transformer serve`` runs the same viewer files.

``translation_view`` builds the view for a ``Translator`` and one sentence;
``attention_weights`` gives the numbers behind it for any source and target ids.

Example:
    >>> import numpy as np
    >>> weights = np.full((1, 2, 3, 3), 1 / 3)  # [layers, heads, queries, keys]
    >>> view = attention_view(["[START]", "olá", "[END]"], encoder=weights)
    >>> view.kinds
    ('encoder',)
    >>> view.html.startswith("<!DOCTYPE html>"), "olá" in view.html
    (True, True)
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import pathlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike

from tf_transformer.constants import SOURCE, TARGET
from tf_transformer.files import write_text

if TYPE_CHECKING:
    from tf_transformer.model import Transformer


@dataclasses.dataclass(frozen=True)
class AttentionKind:
    """One of the three attentions: its name, label, and which tokens ask (queries) and answer (keys)."""

    name: str
    label: str
    queries: str  # SOURCE or TARGET
    keys: str
    note: str


KINDS = {
    kind.name: kind
    for kind in (
        AttentionKind(
            "encoder",
            "Encoder self-attention",
            SOURCE,
            SOURCE,
            "Each source token looks at every source token (padding excepted).",
        ),
        AttentionKind(
            "decoder",
            "Decoder self-attention (masked)",
            TARGET,
            TARGET,
            "Row t is the decoder's input token t, predicting the token after it: it sees targets 0..t only.",
        ),
        AttentionKind(
            "cross",
            "Cross-attention (decoder to encoder)",
            TARGET,
            SOURCE,
            "Row t is the decoder's input token t, predicting the token after it: "
            "where it looks in the source.",
        ),
    )
}

# The page: a template and the viewer (its script and style), package data beside this file. The
# page of `tf-transformer serve` (serving/page.html) runs the same viewer files.
ASSETS = pathlib.Path(__file__).resolve().parent
TEMPLATE_FILE = "attention.html"
VIEWER_FILES = ("attention_viewer.css", "attention_viewer.js")

DECIMALS = 4  # of each weight in the page: enough to read three, small enough to keep pages light
_TOLERANCE = 1e-3  # how far outside [0, 1] float rounding may put a softmax weight


class AttentionView:
    """A rendered attention page: shows itself in Jupyter, saves itself as a standalone file.

    Made by ``attention_view`` or ``translation_view``.

    Attributes:
        html: the whole page, one self-contained HTML document.
        kinds: the kinds of attention it shows (``"encoder"``, ``"decoder"``, ``"cross"``).
        height: pixels the inline frame takes in a notebook.
    """

    def __init__(self, page: str, kinds: tuple[str, ...], height: int):
        self.html = page
        self.kinds = kinds
        self.height = height

    def _repr_html_(self) -> str:
        # srcdoc holds the page as an attribute value: escaping it is all the quoting needed. The
        # sandbox lets the page's own script run but gives it no access to the notebook around it.
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" sandbox="allow-scripts" '
            f'title="attention view" style="width: 100%; height: {self.height}px; border: 0"></iframe>'
        )

    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Write the page to ``path`` (a new file or a whole replacement, never half of one); return it."""
        path = pathlib.Path(path)
        write_text(path, self.html)
        return path

    def __repr__(self) -> str:
        return f"AttentionView(kinds={self.kinds}, {len(self.html):,} characters)"


def attention_view(
    source_tokens: Sequence[str] | None = None,
    target_tokens: Sequence[str] | None = None,
    *,
    encoder: ArrayLike | None = None,
    decoder: ArrayLike | None = None,
    cross: ArrayLike | None = None,
    title: str = "Attention",
) -> AttentionView:
    """The interactive view of one sentence's attention weights.

    Pass the tokens of the sides the weights need and at least one kind of
    weights; each is ``[layers, heads, queries, keys]`` (NumPy, TensorFlow,
    nested lists), every value in [0, 1] (a softmax's rows).

    Args:
        source_tokens: the S source tokens (needed by ``encoder`` and ``cross``).
        target_tokens: the T target tokens fed to the decoder (needed by
            ``decoder`` and ``cross``).
        encoder: encoder self-attention ``[layers, heads, S, S]``.
        decoder: decoder self-attention ``[layers, heads, T, T]``.
        cross: cross-attention ``[layers, heads, T, S]``, e.g. ``Translator.attention(...).weights``.
        title: the page's heading.

    Returns:
        an ``AttentionView``.

    Raises:
        ValueError: no weights, a side's tokens missing, a shape that does not
            match the tokens, or values that are not attention weights.
        TypeError: tokens that are not strings.

    Example:
        >>> cross = np.array([[[[0.9, 0.1], [0.3, 0.7]]]])  # 1 layer, 1 head, T=2, S=2
        >>> attention_view(["gato", "[END]"], ["[START]", "cat"], cross=cross)
        AttentionView(kinds=('cross',), ... characters)
        >>> attention_view(["gato"], ["[START]", "cat"], cross=cross)
        Traceback (most recent call last):
        ...
        ValueError: cross attention has 2 key columns (shape (1, 1, 2, 2)) but there are 1 source tokens; ...
    """
    tokens = {SOURCE: _tokens(source_tokens, SOURCE), TARGET: _tokens(target_tokens, TARGET)}
    given = {"encoder": encoder, "decoder": decoder, "cross": cross}
    kinds = [KINDS[name] for name, weights in given.items() if weights is not None]
    if not kinds:
        raise ValueError("attention_view needs weights: pass encoder=, decoder= and/or cross=.")
    data = {
        "title": str(title),
        "tokens": {side: values or [] for side, values in tokens.items()},
        "kinds": [
            {
                "name": kind.name,
                "label": kind.label,
                "note": kind.note,
                "queries": kind.queries,
                "keys": kind.keys,
                "weights": np.round(_weights(kind, given[kind.name], tokens), DECIMALS).tolist(),
            }
            for kind in kinds
        ],
    }
    rows = max(len(tokens[side]) for kind in kinds for side in (kind.queries, kind.keys))
    return AttentionView(_page(data), tuple(kind.name for kind in kinds), height=230 + 27 * rows)


def _tokens(tokens: Sequence[str] | None, side: str) -> list[str] | None:
    if tokens is None:
        return None
    tokens = list(tokens)
    if not all(isinstance(token, str) for token in tokens):
        kinds = sorted({type(token).__name__ for token in tokens if not isinstance(token, str)})
        raise TypeError(f"{side} tokens must be strings, found {', '.join(kinds)} (decode bytes first).")
    return tokens


def _weights(kind: AttentionKind, weights: ArrayLike, tokens: dict[str, list[str] | None]) -> np.ndarray:
    """``weights`` as float64 ``[layers, heads, queries, keys]``, checked against the tokens."""
    name = kind.name
    for side in dict.fromkeys((kind.queries, kind.keys)):  # each side once, queries first
        if not tokens[side]:
            raise ValueError(f"{name} attention needs the {side} tokens: pass {side}_tokens= (not empty).")
    array = np.asarray(weights, dtype=np.float64)
    queries, keys = len(tokens[kind.queries]), len(tokens[kind.keys])
    expected = f"[layers, heads, {queries} {kind.queries} tokens, {keys} {kind.keys} tokens]"
    if array.ndim != 4:
        raise ValueError(f"{name} attention must be {expected}, got shape {array.shape}.")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} attention needs at least one layer and one head, got shape {array.shape}.")
    for axis, what, count, side in (
        (2, "query rows", queries, kind.queries),
        (3, "key columns", keys, kind.keys),
    ):
        if array.shape[axis] != count:
            raise ValueError(
                f"{name} attention has {array.shape[axis]} {what} (shape {array.shape}) but there are "
                f"{count} {side} tokens; it must be {expected}."
            )
    if not np.isfinite(array).all():
        raise ValueError(f"{name} attention contains NaN or infinite values.")
    low, high = float(array.min()), float(array.max())
    if low < -_TOLERANCE or high > 1 + _TOLERANCE:
        raise ValueError(
            f"{name} attention weights must lie in [0, 1] (each row is a softmax), found values from "
            f"{low:.4g} to {high:.4g}: pass the weights, not the scores before the softmax."
        )
    return np.clip(array, 0.0, 1.0)


# -- the weights of a model ----------------------------------------------------------------------


def attention_weights(
    model: Transformer, source_ids: ArrayLike, target_ids: ArrayLike
) -> dict[str, np.ndarray]:
    """Every attention weight of one teacher-forced pass of ``model`` over one sentence pair.

    ``Transformer.call_with_attention`` on the one sentence (inference: no
    dropout), as NumPy arrays by kind: the kinds are the fields of its
    ``TransformerAttention``.

    Args:
        model: a ``Transformer``.
        source_ids: int ``[S]``, the encoder input (``[START]`` ... ``[END]``).
        target_ids: int ``[T]``, the decoder input (``[START]`` then the translation).

    Returns:
        float32 arrays by kind: ``"encoder"`` ``[layers, heads, S, S]``,
        ``"decoder"`` ``[layers, heads, T, T]`` and ``"cross"`` ``[layers, heads, T, S]``.

    Example:
        >>> from tf_transformer import Transformer, TransformerConfig
        >>> model = Transformer(TransformerConfig.from_preset("tiny", input_vocab_size=20,
        ...                                                   target_vocab_size=20))
        >>> model.build()
        >>> {k: w.shape for k, w in attention_weights(model, [2, 7, 9, 3], [2, 5]).items()}
        {'encoder': (2, 4, 4, 4), 'decoder': (2, 4, 2, 2), 'cross': (2, 4, 2, 4)}
    """
    limit = model.config.max_length
    source, target = (_ids(ids, side, limit) for ids, side in ((source_ids, SOURCE), (target_ids, TARGET)))
    _, found = model.call_with_attention((source, target), training=False)
    # Each kind: a [1, heads, Tq, Tk] per layer -> [layers, heads, Tq, Tk] of the one sentence.
    return {kind: np.stack([w[0] for w in per_layer]) for kind, per_layer in found._asdict().items()}


def _ids(ids: ArrayLike, side: str, limit: int) -> tf.Tensor:
    array = np.asarray(ids)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]  # one sentence given as a batch of one
    if array.ndim != 1 or not 1 <= array.size <= limit or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{side}_ids must be one sentence's integer token ids, 1 to {limit} of them (the model's "
            f"max_length), got {array.dtype} of shape {array.shape}."
        )
    return tf.constant(array[None], tf.int32)  # (1, length)


def translation_view(translator, sentence: str, beam_size: int = 1) -> AttentionView:
    """Translate ``sentence`` and show all three attentions of the model producing that translation.

    Args:
        translator: a ``tf_transformer.inference.Translator``.
        sentence: one source sentence.
        beam_size: 1 for greedy search, more for beam search.

    Returns:
        an ``AttentionView`` titled "sentence → translation".

    Example:
        >>> translation_view(translator, "O gato dorme.").save("attention.html")  # doctest: +SKIP
        PosixPath('attention.html')
    """
    found = translator.attention(sentence, beam_size)  # the translation, its tokens, cross-attention
    source_ids = translator.source_ids(tf.constant([sentence]))[0]
    vocab_size = translator.model.config.target_vocab_size
    target_ids = _token_ids(translator.target_tokenizer, found.target_tokens, vocab_size)
    weights = attention_weights(translator.model, source_ids, target_ids)
    return attention_view(
        found.source_tokens, found.target_tokens, **weights, title=f"{sentence} → {found.translation}"
    )


def _token_ids(tokenizer, tokens: list[str], vocab_size: int) -> list[int]:
    """The ids of tokens, read back from the tokenizer's vocabulary (``lookup`` of every id).

    ``Translator.attention`` returns the translation's tokens, not its ids;
    the decoder's self-attention needs the ids again.
    """
    vocab = tokenizer.lookup(tf.range(vocab_size, dtype=tf.int64)).numpy()
    index: dict[str, int] = {}
    for i, token in enumerate(vocab):
        index.setdefault(token.decode("utf-8", errors="replace"), i)
    return [index[token] for token in tokens]


# -- the page ------------------------------------------------------------------------------------


def _script_json(data) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` that HTML could read.

    JSON.parse turns the ``\\u003c`` escapes back into the characters, so a
    token such as ``</script>`` reaches the page as text and never as markup.
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(data) -> str:
    # One pass over the template: what goes in is never searched for placeholders again.
    values = {
        "__TITLE__": html.escape(data["title"]),
        "__DATA__": _script_json(data),
        **{f"/* {name} */": _asset(name) for name in VIEWER_FILES},
    }
    pattern = "|".join(re.escape(marker) for marker in values)
    return re.sub(pattern, lambda match: values[match.group(0)], _asset(TEMPLATE_FILE))


def _asset(name: str) -> str:
    """A file of this folder's package data (the page's template and the viewer)."""
    return (ASSETS / name).read_text(encoding="utf-8")
