"""The whole model at a glance: the paper's figure 1, drawn from a ``TransformerConfig``.

Every number in the picture (layers, widths, heads, vocabularies, dropout,
where the norms sit) is read from the config, so the figure stays true when
the config changes. Every box is a step the library takes, in its order:

- ``LayerStack.embed_tokens``: token embedding x sqrt(d_model), plus the
  positions (``PositionalEmbedding``: sinusoidal, learned, or none, as
  ``positions`` says), then dropout;
- ``EncoderLayer``: self-attention, then the feed-forward network;
  ``DecoderLayer``: masked self-attention, cross-attention to the encoder
  output, the feed-forward network. ``ResidualLayer`` wraps each sub-layer:
  post-norm ``norm(x + dropout(f(x)))``, or pre-norm ``x + dropout(f(norm(x)))``
  with ``norm_first``;
- a pre-norm stack ends with one more norm (``LayerStack.final_norm``);
- ``Transformer.project``: a ``Dense`` layer onto the target vocabulary, or
  the transposed embedding with ``share_embeddings`` or ``tie_output``
  (paper section 3.4).

Drawn with matplotlib alone, on a ``matplotlib.figure.Figure`` that belongs to
no pyplot state, so it works under any backend (Agg included).
"""

from __future__ import annotations

import dataclasses

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from tf_transformer.config import TransformerConfig
from tf_transformer.viz._canvas import (
    BOX_WIDTH,
    COLORS,
    DETAIL_SIZE,
    TITLE_SIZE,
    UNIT_INCHES,
    Box,
    Canvas,
    Dim,
    ShowableFigure,
    shape_text,
)

# Layout, in drawing units of a tenth of an inch (the figure is drawn at that scale; the boxes'
# own sizes are in _canvas).
WIDTH = 110.0
GAP = 3.4  # between boxes inside a layer
ARROW_GAP = 4.6  # between boxes outside the layers, where the shape labels go
LANE = 4.0  # distance from a box to its residual path
ENCODER_X, DECODER_X = 32.0, 76.0  # column centres
STACK_OFFSET = 3.0  # how far the hidden copies of a layer fan out behind it, in all


@dataclasses.dataclass(frozen=True)
class _Sublayer:
    """One residual sub-layer: what ``f`` is, and how to draw it."""

    key: str
    title: str
    detail: str
    color: str


def architecture_figure(
    config: TransformerConfig,
    *,
    batch: Dim = "batch",
    source_length: Dim = "S",
    target_length: Dim = "T",
) -> Figure:
    """Draw the encoder-decoder that ``Transformer(config)`` builds, with tensor shapes on the arrows.

    Encoder on the left, decoder on the right, data flowing upwards as in the
    paper's figure 1. One layer of each stack is drawn in full; the
    ``num_layers - 1`` others are the frames fanned out behind it.

    Args:
        config: the model's sizes.
        batch, source_length, target_length: how the shapes name the batch
            size and the two sequence lengths: names (``"batch"``, ``"S"``,
            ``"T"``) or numbers, which may not exceed ``config.max_length``.

    Returns a ``matplotlib.figure.Figure`` (it shows in Jupyter when displayed);
    save it with ``fig.savefig("architecture.png")`` or ``.svg``. Patches carry
    gids: ``encoder_layer_1 .. encoder_layer_N``, the same for the decoder,
    and one per box (``decoder_cross_attention``, ``projection``, ...).

    Example:
        >>> cfg = TransformerConfig.from_preset("tiny", input_vocab_size=50, target_vocab_size=60)
        >>> fig = architecture_figure(cfg, batch=8)
        >>> sorted(p.get_gid() for p in fig.axes[0].patches if str(p.get_gid()).startswith("decoder_layer"))
        ['decoder_layer_1', 'decoder_layer_2']
    """
    if isinstance(batch, int) and batch < 1:
        raise ValueError(f"architecture_figure: batch={batch} must be a positive number or a name.")
    for name, value in (("source_length", source_length), ("target_length", target_length)):
        if isinstance(value, int) and not 0 < value <= config.max_length:
            raise ValueError(
                f"architecture_figure: {name}={value} must be between 1 and the config's "
                f"max_length ({config.max_length}), the longest sequence the model accepts."
            )
    fig = ShowableFigure()
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    canvas = Canvas(ax)
    top = _draw_model(canvas, config, batch, source_length, target_length)

    height = top + 9.0
    c = config
    layers = "layer" if c.num_layers == 1 else "layers"
    norm = "pre-norm: x + f(LayerNorm(x))" if c.norm_first else "post-norm: LayerNorm(x + f(x))"
    canvas.text(
        WIDTH / 2,
        height - 3.0,
        f"Transformer: N = {c.num_layers} {layers} per stack, d_model = {c.d_model}, h = {c.num_heads} heads "
        f"(d_k = {c.head_dim}), d_ff = {c.dff}",
        size=11.5,
        weight="bold",
    )
    embeddings = (
        "one shared embedding matrix"
        if c.share_embeddings
        else "output tied to the target embedding"
        if c.tie_output
        else "separate embeddings"
    )
    canvas.text(
        WIDTH / 2,
        height - 6.0,
        f"source vocabulary {c.input_vocab_size}, target vocabulary {c.target_vocab_size}, "
        f"max_length {c.max_length}, dropout {c.dropout_rate:g}, {norm}, {embeddings}",
        size=8.5,
    )
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(0, height)
    fig.set_size_inches(WIDTH * UNIT_INCHES, height * UNIT_INCHES)
    return fig


def _draw_model(canvas: Canvas, config: TransformerConfig, batch: Dim, src: Dim, tgt: Dim) -> float:
    """Both columns and the link from the encoder to every cross-attention; returns the top y."""
    c = config
    d, h = c.d_model, c.num_heads
    canvas.text(
        WIDTH / 2,
        1.4,
        "Padding masks come from the ids (id 0 = padding) and are passed to every attention explicitly.",
        size=DETAIL_SIZE,
        style="italic",
    )
    heads = f"{h} heads × d_k {c.head_dim}"
    if c.key_dim is not None:  # d_v stays d_model / h
        heads += f", d_v {d // h}"
    ffn = _Sublayer("ffn", "Feed-forward, ReLU", f"{d} → {c.dff} → {d}, each position alone", "ffn")
    encoder_sublayers = [
        _Sublayer(
            "self_attention",
            "Multi-head self-attention",
            f"{heads}, weights {shape_text((batch, h, src, src))}",
            "attention",
        ),
        ffn,
    ]
    decoder_sublayers = [
        _Sublayer(
            "self_attention",
            "Masked multi-head self-attention",
            f"{heads}, causal, weights {shape_text((batch, h, tgt, tgt))}",
            "attention",
        ),
        _Sublayer(
            "cross_attention",
            "Multi-head cross-attention",
            f"{heads}, weights {shape_text((batch, h, tgt, src))}",
            "attention",
        ),
        ffn,
    ]

    enc_inputs = _draw_inputs(canvas, c, "encoder", ENCODER_X, batch, src)
    dec_inputs = _draw_inputs(canvas, c, "decoder", DECODER_X, batch, tgt)
    layer_bottom = max(enc_inputs.top, dec_inputs.top) + ARROW_GAP
    enc = _draw_stack(
        canvas, c, "encoder", ENCODER_X, layer_bottom, encoder_sublayers, enc_inputs, (batch, src, d)
    )
    dec = _draw_stack(
        canvas, c, "decoder", DECODER_X, layer_bottom, decoder_sublayers, dec_inputs, (batch, tgt, d)
    )

    # The encoder's output: the keys and values of every decoder layer's cross-attention.
    cross = dec.boxes["cross_attention"]
    route_y = enc.clear + 2.0
    route_x = (ENCODER_X + DECODER_X) / 2 + 1.5
    canvas.arrow(
        (ENCODER_X, enc.output.top),
        (ENCODER_X, route_y),
        (route_x, route_y),
        (route_x, cross.cy),
        (cross.left, cross.cy),
    )
    canvas.text(ENCODER_X + 1.0, route_y + 3.2, "encoder output", size=DETAIL_SIZE, ha="left", weight="bold")
    canvas.shape(ENCODER_X + 1.0, route_y + 1.3, (batch, src, d))
    canvas.text(route_x + 0.8, cross.cy + 1.2, "K, V", size=DETAIL_SIZE, ha="left")
    canvas.text(cross.cx - 1.0, cross.bottom - GAP / 2, "Q", size=DETAIL_SIZE, ha="right")

    # Decoder vectors -> vocabulary logits.
    v = c.target_vocab_size
    if c.output_tied:
        title, detail = "Transposed embedding → logits", f"x · Eᵀ: {d} → {v}, the embedding matrix reused"
    else:
        title, detail = "Linear (Dense) → logits", f"{d} → {v} target vocabulary, with bias"
    projection = canvas.box(
        DECODER_X, dec.clear + ARROW_GAP, title, detail, color=COLORS["projection"], gid="projection"
    )
    canvas.arrow((DECODER_X, dec.output.top), (DECODER_X, projection.bottom))
    canvas.shape(DECODER_X + 1.0, dec.clear + ARROW_GAP / 2, (batch, tgt, d))
    logits_y = projection.top + ARROW_GAP + 1.2
    canvas.arrow((DECODER_X, projection.top), (DECODER_X, logits_y - 1.0))
    canvas.shape(DECODER_X + 1.0, projection.top + ARROW_GAP / 2, (batch, tgt, v))
    canvas.text(DECODER_X, logits_y + 2.0, "logits: next-token scores", size=TITLE_SIZE, weight="bold")
    canvas.text(DECODER_X, logits_y, "softmax in the loss and in decoding", size=DETAIL_SIZE)
    return max(logits_y + 3.0, route_y + 4.5)


def _draw_inputs(
    canvas: Canvas, config: TransformerConfig, side: str, cx: float, batch: Dim, length: Dim
) -> Box:
    """Token ids -> embedding x sqrt(d_model) -> + positions -> dropout; returns the dropout box."""
    c, d = config, config.d_model
    encoder = side == "encoder"
    vocab = c.input_vocab_size if encoder else c.target_vocab_size
    outward = -1 if encoder else 1  # the positional encoding comes in from the outer side

    ids_y = 6.0
    title, example = (
        ("source token ids", "[START] w1 w2 … [END]")
        if encoder
        else ("target token ids, shifted right", "[START] w1 w2 … (teacher forcing)")
    )
    canvas.text(cx, ids_y, title, size=TITLE_SIZE, weight="bold")
    canvas.text(cx, ids_y - 1.9, example, size=DETAIL_SIZE)

    table = f"{vocab} × {d} table"
    if c.share_embeddings:
        table += ", shared by both sides and the output"
    elif c.tie_output and not encoder:
        table += ", shared with the output"
    embedding = canvas.box(
        cx,
        ids_y + 1.3 + ARROW_GAP,
        f"Token embedding × √{d}",
        table,
        color=COLORS["embedding"],
        gid=f"{side}_embedding",
    )
    canvas.arrow((cx, ids_y + 1.3), (cx, embedding.bottom))
    canvas.shape(cx + 1.0, ids_y + 1.3 + ARROW_GAP / 2, (batch, length))

    plus = canvas.plus(cx, embedding.top + ARROW_GAP + 1.3, gid=f"{side}_positional_encoding")
    canvas.arrow((cx, embedding.top), (cx, plus.bottom))
    canvas.shape(cx + 1.0, embedding.top + ARROW_GAP / 2, (batch, length, d))
    pe_x = cx + outward * (BOX_WIDTH / 2 - 2.0)
    canvas.arrow((pe_x, plus.cy), (plus.left if encoder else plus.right, plus.cy))
    ha = "right" if encoder else "left"
    label_x = pe_x + outward * 0.8
    canvas.text(label_x, plus.cy + 1.0, "positional encoding", size=DETAIL_SIZE, ha=ha, weight="bold")
    positions = {
        "sinusoidal": f"sin/cos, {c.max_length} × {d} table",
        "learned": f"learned {c.max_length} × {d} table",
        "none": "none: positions = 'none' adds nothing",
    }[c.positions]
    canvas.text(label_x, plus.cy - 1.0, positions, size=DETAIL_SIZE, ha=ha)
    canvas.shape(label_x, plus.cy - 3.0, (length, d), ha=ha)

    dropout = canvas.box(
        cx,
        plus.top + GAP,
        f"Dropout, p = {c.dropout_rate:g}",
        color=COLORS["dropout"],
        gid=f"{side}_embedding_dropout",
    )
    canvas.arrow((cx, plus.top), (cx, dropout.bottom))
    return dropout


@dataclasses.dataclass(frozen=True)
class _Stack:
    """A drawn stack: its sub-layer boxes by key, the box it ends with, and the y above its frames."""

    boxes: dict[str, Box]
    output: Box
    clear: float


def _draw_stack(
    canvas: Canvas,
    config: TransformerConfig,
    side: str,
    cx: float,
    bottom: float,
    sublayers: list[_Sublayer],
    previous: Box,
    shape: tuple[Dim, ...],
) -> _Stack:
    """``num_layers`` layers (one drawn in full) from ``bottom`` up, then a pre-norm stack's final norm."""
    c = config
    encoder = side == "encoder"
    lane = -1 if encoder else 1  # residual paths run on the outer side, as in the paper
    frame_pad = 4.0  # below the first branch point, and above the last box for the caption
    canvas.arrow((cx, previous.top), (cx, bottom + frame_pad))
    canvas.shape(cx + 1.0, (previous.top + bottom) / 2, shape)

    y = bottom + frame_pad
    boxes: dict[str, Box] = {}
    last: Box | None = None

    def stacked(title: str, detail: str, color: str, gid: str) -> Box:
        nonlocal y, last
        box = canvas.box(cx, y, title, detail, color=color, gid=gid)
        if last is not None:
            canvas.arrow((cx, last.top), (cx, box.bottom))
        last, y = box, box.top + GAP
        return box

    lane_x = cx + lane * (BOX_WIDTH / 2 + LANE)
    for sub in sublayers:
        # The residual path leaves the stream before the sub-layer (and before its pre-norm).
        branch_y = bottom + frame_pad / 2 if last is None else last.top + GAP / 2
        if c.norm_first:
            stacked("LayerNorm", "", COLORS["norm"], f"{side}_{sub.key}_norm")
        boxes[sub.key] = stacked(sub.title, sub.detail, COLORS[sub.color], f"{side}_{sub.key}")
        if c.norm_first:
            add = stacked("Dropout, add", "", COLORS["norm"], f"{side}_{sub.key}_add")
        else:
            add = stacked("Dropout, add & LayerNorm", "", COLORS["norm"], f"{side}_{sub.key}_add_norm")
        canvas.arrow(
            (cx, branch_y), (lane_x, branch_y), (lane_x, add.cy), (add.left if encoder else add.right, add.cy)
        )
        canvas.ax.plot([cx], [branch_y], marker="o", markersize=3, color=COLORS["line"], zorder=4)

    assert last is not None
    frame_top = last.top + frame_pad
    _draw_frames(canvas, c.num_layers, side, cx, bottom, frame_top, lane)
    clear = frame_top + STACK_OFFSET
    if not c.norm_first:
        return _Stack(boxes, last, clear)
    final = canvas.box(
        cx, clear + ARROW_GAP, "Final LayerNorm", color=COLORS["norm"], gid=f"{side}_final_norm"
    )
    canvas.arrow((cx, last.top), (cx, final.bottom))
    canvas.shape(cx + 1.0, clear + ARROW_GAP / 2, shape)
    return _Stack(boxes, final, final.top)


def _draw_frames(
    canvas: Canvas, num_layers: int, side: str, cx: float, bottom: float, top: float, lane: int
) -> None:
    """The drawn layer's frame, with the other ``num_layers - 1`` fanned out behind it."""
    inner, outer = 2.2, LANE + 3.0  # margins: the residual paths need room on the outer side
    left = cx - BOX_WIDTH / 2 - (outer if lane < 0 else inner)
    width = BOX_WIDTH + inner + outer
    step = min(1.0, STACK_OFFSET / max(num_layers - 1, 1))
    for i in reversed(range(num_layers)):  # the hidden ones first, so the drawn one is in front
        canvas.ax.add_patch(
            FancyBboxPatch(
                (left + i * step, bottom + i * step),
                width,
                top - bottom,
                boxstyle="round,pad=0,rounding_size=1.5",
                facecolor=COLORS["frame"],
                edgecolor="#8a8a8a",
                linewidth=0.9,
                zorder=1 - i / (num_layers + 1),
                gid=f"{side}_layer_{i + 1}",
            )
        )
    name = "EncoderLayer" if side == "encoder" else "DecoderLayer"
    canvas.text(
        left + 1.2, top - 1.8, f"{name} 1 of {num_layers}", size=DETAIL_SIZE, ha="left", weight="bold"
    )
    label_x = left - 1.5 if lane < 0 else left + width + STACK_OFFSET + 1.5
    canvas.text(
        label_x,
        (bottom + top) / 2,
        f"{num_layers}×",
        size=16,
        weight="bold",
        ha="right" if lane < 0 else "left",
    )
