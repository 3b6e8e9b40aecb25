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
    values = {"TITLE": html.escape(data["title"]), "DATA": _script_json(data)}
    return re.sub(r"__(TITLE|DATA)__", lambda match: values[match.group(1)], _TEMPLATE)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<link rel="icon" href="data:,">
<!-- An attention view written by tf_transformer.viz: one file, no outside resources. -->
<style>
  :root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --paper: #ffffff; --heat: 11, 87, 208;
          --focus: #f59e0b; color-scheme: light dark; }
  @media (prefers-color-scheme: dark) {
    :root { --ink: #e6edf3; --muted: #9aa5b1; --line: #3d444d; --paper: #0d1117; --heat: 122, 167, 255; }
  }
  * { box-sizing: border-box; }
  body { margin: 0; padding: 0.75rem; background: var(--paper); color: var(--ink);
         font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  h1 { font-size: 1.05rem; margin: 0 0 0.5rem; overflow-wrap: anywhere; }
  .controls { display: flex; flex-wrap: wrap; gap: 0.4rem 1rem; align-items: center; }
  select, button { font: inherit; color: inherit; }
  select { padding: 0.15rem; background: var(--paper); border: 1px solid var(--line); border-radius: 4px; }
  .note, .legend { color: var(--muted); font-size: 0.85rem; margin: 0.35rem 0; }
  #status { min-height: 1.4em; margin: 0.35rem 0 0.6rem; overflow-wrap: anywhere; }
  .panes { display: flex; flex-wrap: wrap; gap: 1rem 1.5rem; align-items: flex-start; }
  .column { display: flex; flex-direction: column; gap: 2px; min-width: 10rem; }
  .column h2 { font-size: 0.75rem; font-weight: 600; text-transform: uppercase; letter-spacing: 0.04em;
               color: var(--muted); margin: 0 0 0.25rem; }
  .token { display: flex; justify-content: space-between; gap: 0.75rem; min-height: 1.5rem; text-align: left;
           padding: 0.1rem 0.4rem; border: 1px solid transparent; border-radius: 4px; background: transparent;
           cursor: pointer; }
  .token .text { white-space: pre; }
  .token .text:empty::before { content: "\\2205"; color: var(--muted); }
  .token .weight { color: var(--muted); font-size: 0.8rem; font-variant-numeric: tabular-nums; }
  .token.strong, .token.strong .weight { color: #fff; }
  .token:hover { border-color: var(--line); }
  .token.active { border-color: rgb(var(--heat)); box-shadow: inset 0 0 0 1px rgb(var(--heat)); }
  :focus-visible { outline: 2px solid var(--focus); outline-offset: 1px; }
  .matrix { display: grid; gap: 1px; padding: 1px; background: var(--line); margin-top: 1.25rem; }
  .cell { width: 0.8rem; height: 0.8rem; background: var(--paper); cursor: pointer; }
  .cell.focus { outline: 1px solid var(--ink); }
</style>
</head>
<body>
<h1 id="title"></h1>
<div class="controls">
  <label>Attention <select id="kind"></select></label>
  <label>Layer <select id="layer"></select></label>
  <label>Head <select id="head"></select></label>
</div>
<p class="note" id="note"></p>
<div id="status" aria-live="polite"></div>
<div class="panes">
  <div class="column" id="queries"></div>
  <div class="column" id="keys"></div>
  <div class="matrix" id="matrix" aria-hidden="true"></div>
</div>
<p class="legend">Shade: each weight relative to the largest one shown (heat map: to its row's largest).
Numbers: the weights; a query's weights over all keys sum to 1.</p>
<script type="application/json" id="attention-data">__DATA__</script>
<script>
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("attention-data").textContent);
  const $ = (id) => document.getElementById(id);
  // focus: the token whose weights are shown, {side: "query" | "key", index}; hover wins over a click.
  const state = { kind: 0, layer: 0, head: -1, selected: null, hover: null };
  const kind = () => data.kinds[state.kind];
  const language = (side) => kind()[side === "query" ? "queries" : "keys"];  // "source" or "target"
  const tokens = (side) => data.tokens[language(side)];
  const rgb = getComputedStyle(document.documentElement).getPropertyValue("--heat").trim();
  const heat = (alpha) => `rgba(${rgb}, ${alpha.toFixed(3)})`;

  function addOption(select, value, text) {
    const option = document.createElement("option");
    option.value = String(value);
    option.textContent = text;
    select.append(option);
  }

  // The [queries][keys] weights of the chosen kind, layer and head, or the mean over the heads.
  function matrix() {
    const heads = kind().weights[state.layer];
    if (state.head >= 0) return heads[state.head];
    const mean = (q, k) => heads.reduce((sum, h) => sum + h[q][k], 0) / heads.length;
    return heads[0].map((row, q) => row.map((_, k) => mean(q, k)));
  }

  function buildColumn(container, side) {
    const heading = document.createElement("h2");
    heading.textContent = `${side === "query" ? "Queries" : "Keys"} (${language(side)})`;
    container.replaceChildren(heading);
    tokens(side).forEach((token, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "token";
      button.dataset.side = side;
      button.dataset.index = String(index);
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = token;  // always as text: a token is never markup
      const weight = document.createElement("span");
      weight.className = "weight";
      button.append(text, weight);
      container.append(button);
    });
  }

  function buildKind() {
    const layers = kind().weights.length, heads = kind().weights[0].length;
    state.layer = Math.min(state.layer, layers - 1);
    state.head = Math.min(state.head, heads - 1);
    $("layer").replaceChildren();
    for (let l = 0; l < layers; l++) addOption($("layer"), l, String(l + 1));
    $("head").replaceChildren();
    addOption($("head"), -1, "all (mean)");
    for (let h = 0; h < heads; h++) addOption($("head"), h, String(h + 1));
    $("layer").value = String(state.layer);
    $("head").value = String(state.head);
    $("note").textContent = kind().note;
    buildColumn($("queries"), "query");
    buildColumn($("keys"), "key");
    const [rows, columns] = [tokens("query").length, tokens("key").length];
    $("matrix").style.gridTemplateColumns = `repeat(${columns}, auto)`;
    $("matrix").replaceChildren();
    for (let q = 0; q < rows; q++) {
      for (let k = 0; k < columns; k++) {
        const cell = document.createElement("div");
        cell.className = "cell";
        cell.dataset.query = String(q);
        cell.dataset.key = String(k);
        $("matrix").append(cell);
      }
    }
    render();
  }

  function render() {
    const m = matrix();
    const focus = state.hover || state.selected;
    // The weights on the side facing the focus: a query's row, or a key's column.
    const shown = focus && (focus.side === "query" ? m[focus.index] : m.map((row) => row[focus.index]));
    const peak = shown ? Math.max(...shown) : 0;
    for (const button of document.querySelectorAll(".token")) {
      const side = button.dataset.side, index = Number(button.dataset.index);
      const active = Boolean(focus && focus.side === side && focus.index === index);
      const value = shown && focus.side !== side ? shown[index] : null;
      button.classList.toggle("active", active);
      button.setAttribute("aria-pressed", String(Boolean(state.selected && state.selected.side === side
                                                            && state.selected.index === index)));
      const shade = value === null || peak === 0 ? 0 : value / peak;
      button.style.backgroundColor = value === null ? "" : heat(shade);
      button.classList.toggle("strong", shade > 0.55);  // light text on a dark shade
      button.dataset.weight = value === null ? "" : String(value);
      button.querySelector(".weight").textContent = value === null ? "" : value.toFixed(3);
    }
    const query = tokens("query"), key = tokens("key");
    for (const cell of $("matrix").children) {
      const q = Number(cell.dataset.query), k = Number(cell.dataset.key);
      const rowPeak = Math.max(...m[q]);
      cell.style.backgroundColor = heat(rowPeak > 0 ? m[q][k] / rowPeak : 0);
      cell.classList.toggle("focus", Boolean(focus && (focus.side === "query" ? q : k) === focus.index));
      cell.title = `${query[q]} \\u2192 ${key[k]}: ${m[q][k].toFixed(3)}`;
    }
    $("status").textContent = focus ? describe(focus, shown) :
      "Hover or click a token: a query shows where it looks, a key shows who looks at it.";
  }

  function describe(focus, shown) {
    const best = shown.indexOf(Math.max(...shown));
    const [mine, theirs] = focus.side === "query" ? ["query", "key"] : ["key", "query"];
    const verb = mine === "query" ? "looks most at" : "is looked at most by";
    const quote = (side, i) => `${language(side)} token ${i + 1} \\u201c${tokens(side)[i]}\\u201d`;
    return `${quote(mine, focus.index)} ${verb} ${quote(theirs, best)} (${shown[best].toFixed(3)}).`;
  }

  function tokenAt(event) {
    const button = event.target.closest(".token");
    return button && { side: button.dataset.side, index: Number(button.dataset.index) };
  }

  function cellAt(event) {
    const cell = event.target.closest(".cell");
    return cell && { side: "query", index: Number(cell.dataset.query) };
  }

  const same = (a, b) => Boolean(a && b && a.side === b.side && a.index === b.index);

  for (const [id, find] of [["queries", tokenAt], ["keys", tokenAt], ["matrix", cellAt]]) {
    $(id).addEventListener("click", (event) => {
      const target = find(event);
      if (!target) return;
      state.selected = same(target, state.selected) ? null : target;  // a second click lets go
      render();
    });
    $(id).addEventListener("mouseover", (event) => {
      const target = find(event);
      if (target && !same(target, state.hover)) { state.hover = target; render(); }
    });
    $(id).addEventListener("mouseleave", () => { state.hover = null; render(); });
  }
  $("kind").addEventListener("change", () => {
    state.kind = Number($("kind").value);
    state.selected = state.hover = null;  // another kind has other tokens on each side
    buildKind();
  });
  $("layer").addEventListener("change", () => { state.layer = Number($("layer").value); render(); });
  $("head").addEventListener("change", () => { state.head = Number($("head").value); render(); });

  $("title").textContent = data.title;
  document.title = data.title;
  data.kinds.forEach((k, i) => addOption($("kind"), i, k.label));
  buildKind();
  document.body.dataset.ready = "true";
})();
</script>
</body>
</html>
"""
