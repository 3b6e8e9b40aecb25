"""Our MultiHeadAttention against Keras's, the properties of its weights and cache, and every
layer's and stack's ``call_with_attention`` against its ``call``.

Tolerances: float32 rounds each operation to 6e-8 relative. Two computations
that add the same d_model = 16 or d_k = 4 products in another order (Keras's
einsum against our 2-D matmul, one cached token against the whole sequence)
differ by a few units of 1e-7 on these outputs (|out| < 4; at most 6e-7
measured), so the absolute bounds of 1e-5 below leave a margin of over ten.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.models import max_abs_diff

from tf_transformer.layers import (
    AttentionOutput,
    Decoder,
    DecoderAttention,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    MultiHeadAttention,
    record_attention,
)

D_MODEL, HEADS = 16, 4


def _pair(seed=0, key_dim=None):
    """Our layer and keras.layers.MultiHeadAttention holding the same weights."""
    keras.utils.set_random_seed(seed)
    dk, dv = key_dim or D_MODEL // HEADS, D_MODEL // HEADS
    ours = MultiHeadAttention(D_MODEL, HEADS, key_dim=key_dim)
    ref = keras.layers.MultiHeadAttention(num_heads=HEADS, key_dim=dk, value_dim=dv)
    x = tf.random.normal((2, 5, D_MODEL))
    ctx = tf.random.normal((2, 7, D_MODEL))
    ours(x, ctx)
    ref(x, ctx)
    # Keras keeps (d, heads, depth) kernels and a (heads, dv, d) output kernel; ours are flat (d, h·depth).
    dense = [ref._query_dense, ref._key_dense, ref._value_dense]
    for name, proj, depth in zip(("query", "key", "value"), dense, (dk, dk, dv)):
        kernel = getattr(ours, f"{name}_kernel").numpy()
        noise = np.random.default_rng(seed).normal(size=HEADS * depth)
        bias = getattr(ours, f"{name}_bias").numpy() + noise
        getattr(ours, f"{name}_bias").assign(bias)  # nonzero biases, so their layout is checked too
        proj.kernel.assign(kernel.reshape(D_MODEL, HEADS, depth))
        proj.bias.assign(bias.reshape(HEADS, depth))
    ref._output_dense.kernel.assign(ours.output_kernel.numpy().reshape(HEADS, dv, D_MODEL))
    ours.output_bias.assign(np.linspace(-1, 1, D_MODEL))
    ref._output_dense.bias.assign(ours.output_bias.numpy())
    return ours, ref, x, ctx


@pytest.mark.parametrize("key_dim", [None, 3], ids=["dk=d/h", "dk=3"])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_keras_cross_attention(masked, key_dim):
    ours, ref, x, ctx = _pair(key_dim=key_dim)
    pad = tf.constant([[True] * 7, [True] * 4 + [False] * 3])
    out, w = ours.call_with_attention(x, ctx, padding_mask=pad if masked else None)
    ref_out, ref_w = ref(
        x, ctx, attention_mask=pad[:, None, :] if masked else None, return_attention_scores=True
    )
    # Same sums in another order (see the module docstring); outputs are O(1), weights <= 1.
    assert max_abs_diff(out, ref_out) < 1e-5
    assert max_abs_diff(w, ref_w) < 1e-5
    assert max_abs_diff(ours(x, ctx, padding_mask=pad if masked else None), out) == 0.0  # the same ops


@pytest.mark.parametrize("key_dim", [None, 3], ids=["dk=d/h", "dk=3"])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_keras_causal_self_attention(masked, key_dim):
    ours, ref, x, _ = _pair(seed=1, key_dim=key_dim)
    pad = tf.constant([[True] * 5, [True] * 3 + [False] * 2])
    out, w = ours.call_with_attention(x, padding_mask=pad if masked else None, use_causal_mask=True)
    ref_out, ref_w = ref(
        x,
        x,
        attention_mask=pad[:, None, :] if masked else None,
        use_causal_mask=True,
        return_attention_scores=True,
    )
    # Same sums in another order (see the module docstring); outputs are O(1), weights <= 1.
    assert max_abs_diff(out, ref_out) < 1e-5
    assert max_abs_diff(w, ref_w) < 1e-5


def test_each_way_to_call_has_one_return_type():
    keras.utils.set_random_seed(2)
    mha = MultiHeadAttention(D_MODEL, HEADS)
    x, ctx = tf.random.normal((2, 3, D_MODEL)), tf.random.normal((2, 6, D_MODEL))
    for kwargs in [{}, {"use_causal_mask": True}, {"context": ctx}]:
        assert isinstance(mha(x, **kwargs), tf.Tensor)
        result = mha.call_with_attention(x, **kwargs)
        assert isinstance(result, AttentionOutput)
        assert result.weights.shape == (2, HEADS, 3, 6 if "context" in kwargs else 3)
    out, cache = mha.call_cached(x[:, :1], mha.init_cache(2, 4), 0)
    assert out.shape == (2, 1, D_MODEL) and len(cache) == 2


def test_weights_rows_sum_to_one_and_respect_masks():
    keras.utils.set_random_seed(3)
    mha = MultiHeadAttention(D_MODEL, HEADS)
    x = tf.random.normal((2, 6, D_MODEL))
    pad = tf.constant([[True] * 6, [True] * 4 + [False] * 2])
    mha(x)
    w = mha.call_with_attention(x, padding_mask=pad, use_causal_mask=True).weights.numpy()  # (B, h, T, T)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)  # a float32 sum of <= 6 terms below 1: a few ulp
    # Exact zeros: a masked score gets -1e9 added, and exp(-1e9 - max) underflows to 0.0.
    assert np.all(w[1, :, :, 4:] == 0.0), "padded keys must get exactly zero weight"
    future = np.triu(np.ones((6, 6), bool), k=1)
    assert np.all(w[:, :, future] == 0.0), "no weight on future positions"
    assert np.all(w[0, :, ~future] > 0.0)


def test_attention_dropout_only_in_training():
    keras.utils.set_random_seed(4)
    mha = MultiHeadAttention(D_MODEL, HEADS, dropout_rate=0.5)
    x = tf.random.normal((2, 6, D_MODEL))
    a, b = mha(x, training=False), mha(x, training=False)
    assert max_abs_diff(a, b) == 0.0  # exact: without dropout the same ops run on the same numbers
    assert (
        max_abs_diff(mha(x, training=True), a) > 1e-3
    )  # dropping half the weights moves O(1) outputs by O(1)


def test_incremental_cache_equals_full_causal_pass():
    keras.utils.set_random_seed(5)
    mha = MultiHeadAttention(D_MODEL, HEADS)
    x = tf.random.normal((3, 7, D_MODEL))
    full = mha(x, use_causal_mask=True)
    cache = mha.init_cache(batch_size=3, length=10)
    steps = []
    for t in range(7):
        out, cache = mha.call_cached(x[:, t : t + 1], cache, t)
        steps.append(out)
    # One token against the whole sequence: the same sums in another order (module docstring).
    assert max_abs_diff(tf.concat(steps, axis=1), full) < 1e-5
    # Unused cache slots stay empty: the future is never written early (exact: they are the initial zeros).
    assert float(tf.reduce_max(tf.abs(cache[0][:, :, 7:]))) == 0.0


def test_cache_works_inside_tf_function_with_tensor_index():
    keras.utils.set_random_seed(6)
    mha = MultiHeadAttention(D_MODEL, HEADS)
    x = tf.random.normal((2, 5, D_MODEL))
    full = mha(x, use_causal_mask=True)

    @tf.function
    def decode(x):
        cache = mha.init_cache(2, 5)
        outs = tf.TensorArray(tf.float32, size=5)
        for t in tf.range(5):
            out, cache = mha.call_cached(x[:, t : t + 1], cache, t)
            outs = outs.write(t, out[:, 0])
        return tf.transpose(outs.stack(), (1, 0, 2))

    # As above: one token against the whole sequence, sums in another order.
    assert max_abs_diff(decode(x), full) < 1e-5


def test_static_cross_cache_equals_context():
    keras.utils.set_random_seed(7)
    mha = MultiHeadAttention(D_MODEL, HEADS)
    x, ctx = tf.random.normal((2, 3, D_MODEL)), tf.random.normal((2, 6, D_MODEL))
    pad = tf.constant([[True] * 6, [True] * 2 + [False] * 4])
    direct = mha(x, ctx, padding_mask=pad)
    cached = mha(x, padding_mask=pad, key_value=mha.project_key_value(ctx))
    # Exact: with a context the layer runs project_key_value itself; the cache only moves that call.
    assert max_abs_diff(direct, cached) == 0.0


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(d_model=10, num_heads=3)


# -- call_with_attention, on every layer and stack ------------------------------------------------

BATCH, SOURCE_LEN, TARGET_LEN, LAYERS = 2, 6, 4, 2


def _layer_and_inputs(kind, norm_first):
    """A fresh (unbuilt) layer or stack of ``kind``, its call's arguments, and its weights' shapes."""
    keras.utils.set_random_seed(8)
    source_ids = tf.constant([[5, 6, 7, 8, 9, 3], [5, 6, 7, 0, 0, 0]])  # row 1: three padding keys
    target_ids = tf.constant([[2, 9, 4, 7], [2, 9, 0, 0]])
    source_mask, target_mask = source_ids != 0, target_ids != 0
    x = tf.random.normal((BATCH, SOURCE_LEN, D_MODEL))
    y = tf.random.normal((BATCH, TARGET_LEN, D_MODEL))
    sizes = dict(d_model=D_MODEL, num_heads=HEADS, dff=32, dropout_rate=0.0, norm_first=norm_first)
    stack = dict(num_layers=LAYERS, vocab_size=20, **sizes)
    encoder = (BATCH, HEADS, SOURCE_LEN, SOURCE_LEN)
    decoder = DecoderAttention((BATCH, HEADS, TARGET_LEN, TARGET_LEN), (BATCH, HEADS, TARGET_LEN, SOURCE_LEN))
    return {
        "EncoderLayer": (EncoderLayer(**sizes), (x,), dict(padding_mask=source_mask), encoder),
        "Encoder": (Encoder(**stack), (source_ids,), dict(padding_mask=source_mask), [encoder] * LAYERS),
        "DecoderLayer": (
            DecoderLayer(**sizes),
            (y, x),
            dict(context_mask=source_mask, target_mask=target_mask),
            decoder,
        ),
        "Decoder": (
            Decoder(**stack),
            (target_ids, x),
            dict(context_mask=source_mask),
            DecoderAttention(*([shape] * LAYERS for shape in decoder)),
        ),
    }[kind]


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("kind", ["EncoderLayer", "Encoder", "DecoderLayer", "Decoder"])
def test_call_with_attention_is_the_call_plus_its_weights(kind, norm_first):
    layer, args, kwargs, shapes = _layer_and_inputs(kind, norm_first)
    result = layer.call_with_attention(*args, **kwargs, training=False)  # first: it builds the layer too
    assert isinstance(result, AttentionOutput)
    # Exact: call_with_attention runs call itself, the same ops on the same numbers.
    assert max_abs_diff(result.output, layer(*args, **kwargs, training=False)) == 0.0
    found = tf.nest.map_structure(lambda w: tuple(w.shape), result.weights)
    assert type(found) is type(shapes) and found == shapes  # a tensor, a list, a DecoderAttention
    for weights in tf.nest.flatten(result.weights):
        assert weights.dtype == tf.float32
        np.testing.assert_allclose(tf.reduce_sum(weights, -1), 1.0, atol=1e-6)  # a few ulp of a short sum


def test_record_attention_keeps_only_the_calls_inside_it():
    keras.utils.set_random_seed(9)
    mha = MultiHeadAttention(D_MODEL, HEADS)
    x = tf.random.normal((1, 3, D_MODEL))
    mha(x)
    with record_attention() as outer:
        with record_attention() as inner:
            out = mha(x, use_causal_mask=True)
        assert set(outer) == set(inner) == {mha}  # every open record sees the call
    kept = outer[mha]
    assert inner[mha] is kept
    assert max_abs_diff(kept, mha.call_with_attention(x, use_causal_mask=True).weights) == 0.0
    assert max_abs_diff(out, mha.call_with_attention(x, use_causal_mask=True).output) == 0.0
    mha(x)  # the records are closed: nothing more is written
    assert outer[mha] is kept and set(outer) == {mha}
