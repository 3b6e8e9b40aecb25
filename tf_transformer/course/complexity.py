"""The paper's Table 1, measured: one self-attention layer against one recurrent layer, by length.

Vaswani et al. (2017), Table 1, compares layer types by three costs: the work per layer, the
operations that must run one after another, and the longest path a signal takes between two
positions. For self-attention these are O(n²·d), O(1) and O(1); for a recurrent layer O(n·d²),
O(n) and O(n). :func:`measure_layers` puts numbers on both rows on this machine: the wall time of
one layer (the library's :class:`~tf_transformer.layers.MultiHeadAttention`, and a Keras
``SimpleRNN`` of the same width), the size of the main tensors each one holds (computed from
their shapes, not read from the allocator), the paper's operation count, and the two path
lengths. Notebook 1 draws them.

Example:
    >>> from tf_transformer.course.complexity import measure_layers
    >>> rows = measure_layers([4, 8], d_model=8, num_heads=2, repeats=1)
    >>> [(r.layer, r.length, r.sequential_ops, r.path_length) for r in rows]
    [('self-attention', 4, 1, 1), ('recurrent', 4, 4, 3), ('self-attention', 8, 1, 1), ('recurrent', 8, 8, 7)]
    >>> rows[0].tensor_bytes  # 2 heads' 4×4 weights, plus Q, K, V and the output: float32, batch 2
    1280
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import keras
import tensorflow as tf

from tf_transformer.layers import MultiHeadAttention

FLOAT_BYTES = 4  # float32


@dataclasses.dataclass(frozen=True)
class LayerCost:
    """One layer at one sequence length: what :func:`measure_layers` returns a list of."""

    layer: str  # "self-attention" or "recurrent"
    length: int  # n, the tokens in each sequence
    d_model: int  # d, the width of each token's vector
    seconds: float  # median wall time of one forward pass over the batch, after a warm-up
    tensor_bytes: int  # the main tensors' size, from their shapes (see layer_tensor_bytes)
    operations: int  # the paper's count per sequence: n²·d for self-attention, n·d² for recurrent
    sequential_ops: int  # steps that must run one after another: 1, or n
    path_length: int  # steps from the first token to the last: 1, or n - 1


def layer_tensor_bytes(layer: str, length: int, d_model: int, num_heads: int, batch: int) -> int:
    """Bytes of the main float32 tensors one layer holds for a ``[batch, length, d_model]`` input.

    Self-attention: the attention weights ``[batch, heads, n, n]`` plus Q, K, V and the output,
    each ``[batch, n, d]``. Recurrent: the outputs ``[batch, n, d]`` plus the state ``[batch, d]``
    it carries from step to step.
    """
    if layer == "self-attention":
        return FLOAT_BYTES * batch * (num_heads * length * length + 4 * length * d_model)
    if layer == "recurrent":
        return FLOAT_BYTES * batch * (length * d_model + d_model)
    raise ValueError(f"no layer named {layer!r}: 'self-attention' or 'recurrent'")


def _median_seconds(function, inputs, repeats: int) -> float:
    function(inputs).numpy()  # warm-up: traces the graph for this shape
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(inputs).numpy()  # (.numpy(): wait for the result)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_layers(
    lengths, d_model: int = 128, num_heads: int = 8, batch: int = 2, repeats: int = 5, seed: int = 0
) -> list[LayerCost]:
    """Time one self-attention layer and one recurrent layer of width ``d_model`` at each length.

    Both run as ``tf.function`` graphs, so the recurrent layer's loop costs what a compiled loop
    costs, not Python's. Each (layer, length) is called once to warm up, then ``repeats`` times;
    ``seconds`` is the median. Returns a :class:`LayerCost` per layer and length, self-attention
    first at each length.
    """
    keras.utils.set_random_seed(seed)
    attention = MultiHeadAttention(d_model=d_model, num_heads=num_heads)
    recurrent = keras.layers.SimpleRNN(d_model, return_sequences=True)  # h_t = tanh(x_t W + h_{t-1} U + b)
    for layer in (attention, recurrent):  # weights made eagerly, outside the graphs
        layer(tf.zeros((batch, 1, d_model)))
    functions = {"self-attention": tf.function(attention), "recurrent": tf.function(recurrent)}
    rows = []
    for length in lengths:
        inputs = tf.random.normal((batch, length, d_model), seed=seed)
        for layer, function in functions.items():
            attends = layer == "self-attention"
            rows.append(
                LayerCost(
                    layer=layer,
                    length=length,
                    d_model=d_model,
                    seconds=_median_seconds(function, inputs, repeats),
                    tensor_bytes=layer_tensor_bytes(layer, length, d_model, num_heads, batch),
                    operations=length * length * d_model if attends else length * d_model * d_model,
                    sequential_ops=1 if attends else length,
                    path_length=1 if attends else length - 1,
                )
            )
    return rows


def crossover(rows: list[LayerCost], field: str = "seconds") -> int | None:
    """The shortest measured length from which on self-attention costs more than the recurrent
    layer by ``field`` (``"seconds"``, ``"tensor_bytes"`` or ``"operations"``), at that length and
    every longer one; None if it is not costlier at the longest. (A timing that flips back and
    forth at short lengths, as noise makes it, does not count as the crossover.)"""
    by_length = {}
    for row in rows:
        by_length.setdefault(row.length, {})[row.layer] = getattr(row, field)
    found = None
    for length in sorted(by_length):
        costs = by_length[length]
        found = (found or length) if costs["self-attention"] > costs["recurrent"] else None
    return found
