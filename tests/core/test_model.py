"""Whole-model properties: padding invariance, causality, cached decoding, weight tying, and the
attention weights of ``Transformer.call_with_attention`` (the one source of them).

Tolerances: where two computations of the same logits differ only in the
order of float32 sums (padding lengthens the reductions; a cached step
multiplies one row instead of many), they agree to a few units of 1e-7 times
the logits' size. ``assert_close`` bounds the difference relative to that
size, since the logits of the variants range from about 0.5 to 3.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.models import make_model, max_abs_diff, random_ids

from tf_transformer.data import load_tokenizers
from tf_transformer.inference import Translator
from tf_transformer.inference.export_attention import attention_outputs
from tf_transformer.layers import AttentionOutput
from tf_transformer.model import TransformerAttention
from tf_transformer.viz import attention_weights

VARIANTS = {
    "post_norm": {},
    "pre_norm": {"norm_first": True},
    "shared": {"share_embeddings": True, "target_vocab_size": 37},
    "tied_output": {"tie_output": True},
    "key_dim_3": {"key_dim": 3},
    "learned_positions": {"positions": "learned"},
    "no_positions": {"positions": "none"},
}


def _pad(ids, extra):
    return np.pad(ids, ((0, 0), (0, extra)))


def assert_close(actual, expected, rtol=1e-5, what="logits"):
    """``max |actual - expected| <= rtol * max |expected|``: float32 reassociation, measured at
    under 1e-6 of the largest logit, with a margin of ten."""
    scale = float(tf.reduce_max(tf.abs(expected)))
    diff = max_abs_diff(actual, expected)
    assert diff <= rtol * scale, f"{what} moved by {diff} (largest |value| {scale})"


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("mode", ["eager", "tf_function"])
def test_padding_never_changes_real_positions(variant, mode, rng):
    model = make_model(**VARIANTS[variant])
    forward = (
        model if mode == "eager" else tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    )
    cfg = model.config
    src = random_ids(rng, 3, 6, cfg.input_vocab_size)
    tgt = random_ids(rng, 3, 5, cfg.target_vocab_size)
    # Ragged real lengths inside the batch too: row 1 is shorter on both sides.
    src[1, 4:] = 0
    tgt[1, 3:] = 0
    base = forward((src, tgt)).numpy()
    real = tgt != 0
    for src_extra, tgt_extra in [(1, 0), (0, 1), (7, 0), (0, 9), (5, 4), (20, 20)]:
        out = forward((_pad(src, src_extra), _pad(tgt, tgt_extra))).numpy()
        # Padded keys add exact zeros, but to longer sums, added in another order.
        assert_close(out[:, :5][real], base[real], what=f"padding {src_extra}/{tgt_extra}: real logits")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_decoder_never_sees_the_future(variant, rng):
    model = make_model(**VARIANTS[variant])
    cfg = model.config
    src = random_ids(rng, 2, 6, cfg.input_vocab_size)
    tgt = random_ids(rng, 2, 8, cfg.target_vocab_size)
    base = model((src, tgt)).numpy()
    for t in range(7):
        changed = tgt.copy()
        changed[:, t + 1 :] = random_ids(rng, 2, 7 - t, cfg.target_vocab_size)
        out = model((src, changed)).numpy()
        # Exact: the shapes are the same, and a future key's weight is exp(-1e9 - max) = 0.0,
        # so every earlier position adds the same numbers in the same order.
        np.testing.assert_array_equal(out[:, : t + 1], base[:, : t + 1])
        if (changed[:, t + 1 :] != tgt[:, t + 1 :]).any():
            # Another token moves its logits by O(0.1): far above rounding, far below that.
            assert np.abs(out[:, t + 1 :] - base[:, t + 1 :]).max() > 1e-4, "later positions must react"


def test_source_padding_mask_reaches_every_layer(rng):
    """The tutorial's bug under Keras 3: masks vanish after block one. Check a deep stack."""
    model = make_model(num_layers=4)
    src = random_ids(rng, 1, 5, 37)
    padded = _pad(src, 3)
    enc, _ = model.encode(src)
    enc_padded, mask = model.encode(padded)
    # Encoder outputs are layer-normalised (O(1)); the padded pass sums over 8 keys, not 5.
    assert max_abs_diff(enc, enc_padded[:, :5]) < 1e-5
    # Non-zero garbage in the padded slots must not leak into real positions either: the
    # mask, not the id 0, hides them, in every encoder layer and in the decoder's cross-attention.
    garbage = np.concatenate([src, random_ids(rng, 1, 3, 37)], axis=1)
    enc_garbage = model.encoder(garbage, padding_mask=mask)
    assert max_abs_diff(enc_garbage[:, :5], enc) < 1e-5  # as above
    assert max_abs_diff(enc_garbage[:, 5:], enc_padded[:, 5:]) > 1e-2, "the garbage must differ"
    tgt = random_ids(rng, 1, 4, 41)
    logits = model.decode(tgt, enc, tf.ones((1, 5), tf.bool))
    assert_close(model.decode(tgt, enc_garbage, mask), logits)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cached_decoding_equals_full_forward(variant, rng):
    model = make_model(**VARIANTS[variant])
    cfg = model.config
    src = random_ids(rng, 2, 6, cfg.input_vocab_size)
    src[1, 3:] = 0
    tgt = random_ids(rng, 2, 9, cfg.target_vocab_size)
    full = model((src, tgt))
    context, context_mask = model.encode(src)
    cache = model.init_cache(context, length=12)
    steps = []
    for t in range(9):
        logits, cache = model.decode_cached(tgt[:, t : t + 1], context_mask, cache, t)
        steps.append(logits)
    # One row at a time against all rows at once: the same sums in another order.
    assert_close(tf.concat(steps, axis=1), full)


def test_attention_weights_only_when_asked(rng):
    model = make_model(num_layers=3)
    src = random_ids(rng, 1, 6, 37)
    src[0, 4:] = 0
    tgt = random_ids(rng, 1, 4, 41)
    context, mask = model.encode(src)
    # The plain and cached paths return logits (and the cache) only: no weights to carry.
    logits = model.decode(tgt, context, mask)
    assert isinstance(logits, tf.Tensor)
    step = model.decode_cached(tgt[:, :1], mask, model.init_cache(context, 4), 0)
    assert len(step) == 2 and isinstance(step[1], list)
    # The weights path returns them, three kinds, one per layer, with the same logits.
    result = model.call_with_attention((src, tgt))
    assert isinstance(result, AttentionOutput) and isinstance(result.weights, TransformerAttention)
    assert max_abs_diff(result.output, logits) == 0.0  # exact: the same ops on the same numbers
    assert [len(kind) for kind in result.weights] == [3, 3, 3]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_call_with_attention_is_the_call_plus_every_weight(variant, rng):
    model = make_model(**VARIANTS[variant])
    cfg = model.config
    src, tgt = random_ids(rng, 2, 6, cfg.input_vocab_size), random_ids(rng, 2, 5, cfg.target_vocab_size)
    logits, found = model.call_with_attention((src, tgt), training=False)
    # Exact: call_with_attention runs call itself, the same ops on the same numbers.
    assert max_abs_diff(logits, model((src, tgt), training=False)) == 0.0
    heads = cfg.num_heads
    shapes = {"encoder": (2, heads, 6, 6), "decoder": (2, heads, 5, 5), "cross": (2, heads, 5, 6)}
    for kind, shape in shapes.items():
        assert [tuple(w.shape) for w in getattr(found, kind)] == [shape] * cfg.num_layers


def _pad_rows(rng, model, batch=2, source_len=7, target_len=6):
    """Ids with padding in row 1 of both sides: 3 real source tokens, 3 real target tokens."""
    src = random_ids(rng, batch, source_len, model.config.input_vocab_size)
    tgt = random_ids(rng, batch, target_len, model.config.target_vocab_size)
    src[1, 3:], tgt[1, 3:] = 0, 0
    return src, tgt


def test_attention_rows_sum_to_one_padding_gets_none_and_the_decoder_sees_no_future(rng):
    model = make_model(num_layers=3)
    src, tgt = _pad_rows(rng, model)
    found = model.call_with_attention((src, tgt), training=False).weights
    # Traced, as the export traces it, the same weights (1e-6: a graph may fuse some ops).
    traced = tf.function(lambda s, t: model.call_with_attention((s, t), training=False).weights)
    for eager, graph in zip(tf.nest.flatten(found), tf.nest.flatten(traced(src, tgt))):
        assert max_abs_diff(eager, graph) < 1e-6
    for kind in found:
        for w in kind:  # a float32 sum of up to 7 terms below 1: a few ulp
            np.testing.assert_allclose(tf.reduce_sum(w, -1), 1.0, atol=1e-6)
    # Exact zeros: a masked score gets -1e9 added, and exp(-1e9 - max) underflows to 0.0.
    for w in found.encoder + found.cross:
        assert np.all(w.numpy()[1, :, :, 3:] == 0.0), "padded source keys must get no weight"
    future = np.triu(np.ones((6, 6), bool), k=1)
    for w in found.decoder:
        assert np.all(w.numpy()[1, :, :, 3:] == 0.0), "padded target keys must get no weight"
        assert np.all(w.numpy()[:, :, future] == 0.0), "the decoder saw the future"


def _softmax_by_hand(attention, queries, keys, allowed):
    """``softmax(Q K^T / sqrt(d_k) + mask)`` per head, in float64, from ``attention``'s own W^Q and W^K.

    ``allowed``: bool, broadcastable to ``[batch, Tq, Tk]``; a masked key adds -inf to its score.
    """
    heads, dk = attention.num_heads, attention.key_dim

    def project(x, kernel, bias):  # [B, T, d] -> [B, heads, T, dk]
        y = np.asarray(x, np.float64) @ kernel.numpy() + bias.numpy()
        return y.reshape(*y.shape[:2], heads, dk).transpose(0, 2, 1, 3)

    q = project(queries, attention.query_kernel, attention.query_bias)
    k = project(keys, attention.key_kernel, attention.key_bias)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dk) + np.where(allowed, 0.0, -np.inf)[:, None]
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    return scores / scores.sum(-1, keepdims=True)


@pytest.mark.parametrize("variant", ["post_norm", "pre_norm", "key_dim_3"])
def test_attention_weights_are_the_softmax_of_each_layers_own_projections(variant, rng):
    """The last layer of each kind, by hand from its input (the plain calls of the layers below)."""
    model = make_model(**VARIANTS[variant])
    src, tgt = _pad_rows(rng, model)
    source_mask, target_mask = src != 0, tgt != 0
    found = model.call_with_attention((src, tgt), training=False).weights
    # float64 by hand against float32 scores of size O(1): they agree to a few units of 1e-7.
    close = dict(atol=1e-5, rtol=0)

    x = model.encoder.embed_tokens(src, training=False)
    for layer in model.encoder.enc_layers[:-1]:
        x = layer(x, padding_mask=source_mask, training=False)
    last = model.encoder.enc_layers[-1]
    h = last.sublayer_input(x, last.self_attention_norm)
    want = _softmax_by_hand(last.self_attention, h, h, source_mask[:, None, :])
    np.testing.assert_allclose(found.encoder[-1], want, **close)

    context, _ = model.encode(src, training=False)
    y = model.decoder.embed_tokens(tgt, training=False)
    for layer in model.decoder.dec_layers[:-1]:
        y = layer(y, context, context_mask=source_mask, target_mask=target_mask, training=False)
    last = model.decoder.dec_layers[-1]
    h = last.sublayer_input(y, last.self_attention_norm)
    causal = np.tril(np.ones((6, 6), bool))
    want = _softmax_by_hand(last.self_attention, h, h, target_mask[:, None, :] & causal)
    np.testing.assert_allclose(found.decoder[-1], want, **close)

    attended = last.self_attention(h, padding_mask=target_mask, use_causal_mask=True, training=False)
    y = last.sublayer_output(y, attended, last.self_attention_norm, training=False)
    h = last.sublayer_input(y, last.cross_attention_norm)
    want = _softmax_by_hand(last.cross_attention, h, context, source_mask[:, None, :])
    np.testing.assert_allclose(found.cross[-1], want, **close)


def test_translator_viz_and_export_read_the_models_own_attention():
    """``Translator.attention``, ``viz.attention_weights`` and the export's ``attention`` signature
    all give ``call_with_attention``'s weights (``test_serving.py`` reads the exported signature)."""
    tokenizers = load_tokenizers("embedded")
    model = make_model(
        input_vocab_size=int(tokenizers.source.get_vocab_size()),
        target_vocab_size=int(tokenizers.target.get_vocab_size()),
        max_length=10,
    )
    translator = Translator(model, tokenizers.source, tokenizers.target)
    sentence = "O gato dorme."
    found = translator.attention(sentence)
    source = translator.source_ids(tf.constant([sentence]))
    vocab = tokenizers.target.lookup(tf.range(model.config.target_vocab_size, dtype=tf.int64)).numpy()
    target = tf.constant([[list(vocab).index(t.encode()) for t in found.target_tokens]], tf.int32)
    _, want = model.call_with_attention((source, target), training=False)
    per_sentence = {kind: np.stack([w[0] for w in layers]) for kind, layers in want._asdict().items()}
    # The same pass on the same ids; 1e-6 leaves room for a kernel that sums in another order.
    np.testing.assert_allclose(found.weights, per_sentence["cross"], atol=1e-6)
    for kind, weights in attention_weights(model, source, target).items():
        np.testing.assert_allclose(weights, per_sentence[kind], atol=1e-6)
    exported = attention_outputs(translator, tf.constant([sentence]))
    np.testing.assert_allclose(exported["weights"][0], per_sentence["cross"], atol=1e-6)


def test_shared_embeddings_tie_one_matrix():
    model = make_model(share_embeddings=True, target_vocab_size=37)
    assert model.decoder.embedding is model.encoder.embedding
    assert model.final_layer is None
    unshared = make_model(target_vocab_size=37)
    d, v = model.config.d_model, 37
    assert unshared.count_params() - model.count_params() == v * d + (v * d + v)


def test_tied_output_projects_with_the_target_embedding():
    model = make_model(tie_output=True)
    assert model.final_layer is None and model.config.output_tied
    assert model.decoder.embedding is not model.encoder.embedding  # two vocabularies, two tables
    d, v = model.config.d_model, model.config.target_vocab_size
    assert make_model().count_params() - model.count_params() == v * d + v  # the Dense kernel and bias


@pytest.mark.parametrize(
    "positions, equivariant", [("none", True), ("sinusoidal", False), ("learned", False)]
)
def test_without_positions_the_encoder_cannot_tell_word_order(positions, equivariant, rng):
    """With nothing added for position, self-attention is permutation-equivariant: permuting the
    source permutes the encoder's output rows and changes nothing else (why section 3.5 exists)."""
    model = make_model(positions=positions)
    if positions == "learned":  # a freshly initialised table is tiny: make its rows clearly differ
        table = model.encoder.embedding.position_embedding.embeddings
        table.assign(tf.random.stateless_normal(table.shape, seed=(1, 2)))
    src = random_ids(rng, 2, 6, model.config.input_vocab_size)
    order = np.array([3, 0, 5, 1, 4, 2])
    context, _ = model.encode(src)
    permuted, _ = model.encode(src[:, order])
    diff = max_abs_diff(permuted, tf.gather(context, order, axis=1))
    if equivariant:
        assert_close(permuted, tf.gather(context, order, axis=1), what="permuted encoder output")
    else:
        assert diff > 1e-2, f"the encoder ignored word order ({positions} positions; moved {diff})"


def test_learned_positions_are_trained():
    model = make_model(positions="learned")
    table = model.encoder.embedding.position_embedding.embeddings
    assert tuple(table.shape) == (model.config.max_length, model.config.d_model)
    src, tgt = tf.constant([[5, 6, 7, 0]]), tf.constant([[2, 8, 9]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model((src, tgt), training=True) ** 2)
    grad = tf.convert_to_tensor(tape.gradient(loss, table))
    used = tf.reduce_any(grad != 0, axis=1).numpy()
    assert used[:3].all() and not used[4:].any()  # the real tokens' rows learn; rows past the input do not


def test_mixed_precision_logits_are_float32_in_every_decoding_path(rng):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = make_model()
        src, tgt = random_ids(rng, 2, 5, 37), random_ids(rng, 2, 4, 41)
        out = model((src, tgt))
        assert out.dtype == tf.float32
        assert np.isfinite(out.numpy()).all()
        # The cached and weights paths run outside Keras's __call__ (no autocast): they must cope.
        context, mask = model.encode(src)
        logits, _ = model.decode_cached(tgt[:, :1], mask, model.init_cache(context, 4), 0)
        assert logits.dtype == tf.float32 and np.isfinite(logits.numpy()).all()
        logits, found = model.call_with_attention((src, tgt))
        assert logits.dtype == tf.float32 and {w.dtype for kind in found for w in kind} == {tf.float32}
    finally:
        keras.mixed_precision.set_global_policy("float32")
