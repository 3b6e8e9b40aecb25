"""Worked solutions to the exercises of notebook 4, "The model".

Run from the notebooks folder: ``python solutions/04_the_model.py``. Each cell
works one exercise out, prints what it found and asserts it.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import keras
import numpy as np
import tensorflow as tf

from tf_transformer import Transformer, TransformerConfig, course
from tf_transformer.data import load_tokenizers
from tf_transformer.layers import DecoderLayer, Encoder, EncoderLayer

FAST = course.fast_mode()
np.set_printoptions(precision=3, suppress=True)

tokenizers = load_tokenizers()
course_config = TransformerConfig.from_preset(
    "tutorial",
    input_vocab_size=int(tokenizers.source.get_vocab_size()),
    target_vocab_size=int(tokenizers.target.get_vocab_size()),
)

# %% Exercise 1
# The tutorial preset: d = 128, dff = f = 512, N = 4.
#   one attention:    4 d^2 + 4 d      = 65,536 + 512           =  66,048
#   feed-forward:     2 d f + f + d    = 131,072 + 512 + 128    = 131,712
#   one layer norm:   2 d (gamma, beta)                         =     256
#   encoder layer:    66,048 + 131,712 + 2 * 256                = 198,272
#   decoder layer:    2 * 66,048 + 131,712 + 3 * 256            = 264,576
# The feed-forward network is the largest single part (two thirds of an encoder
# layer). The eight layers: 4 * 198,272 + 4 * 264,576 = 1,851,392.
# Vocabulary side, V tokens on each side: two embeddings V d, the projection d V + V:
#   V (3 d + 1) = 385 V.  It equals the layers at V = 1,851,392 / 385 = 4,808.8,
# so from V = 4,809 on the embeddings and the projection outweigh all eight layers.
# With shared embeddings one V x d matrix serves all three: 128 V = 1,851,392 at
# V = 14,464 exactly.
d, f, N = course_config.d_model, course_config.dff, course_config.num_layers
encoder_layer, decoder_layer = 198_272, 264_576
layers_total = N * (encoder_layer + decoder_layer)
assert (d, f, N) == (128, 512, 4) and layers_total == 1_851_392

built = EncoderLayer(d, course_config.num_heads, f)
built.build((None, None, d))
assert built.count_params() == encoder_layer
built = DecoderLayer(d, course_config.num_heads, f)
built(tf.zeros((1, 2, d)), tf.zeros((1, 3, d)))  # builds it
assert built.count_params() == decoder_layer
print(f"encoder layer {encoder_layer:,}, decoder layer {decoder_layer:,}, eight layers {layers_total:,}")


def vocabulary_side(vocab_size, share=False):
    """Parameters outside the layers, read off a built model."""
    config = TransformerConfig.from_preset(
        "tutorial", input_vocab_size=vocab_size, target_vocab_size=vocab_size, share_embeddings=share
    )
    model = Transformer(config)
    model.build()
    layers = sum(layer.count_params() for layer in model.encoder.enc_layers + model.decoder.dec_layers)
    assert layers == layers_total
    return model.count_params() - layers


for vocab_size, share in ((4_808, False), (4_809, False), (14_464, True)):
    outside = vocabulary_side(vocab_size, share)
    print(f"V = {vocab_size:6,d}, shared={share!s:5}: embeddings and projection {outside:9,d}")
    assert outside == (vocab_size * d if share else vocab_size * (3 * d + 1))
assert vocabulary_side(4_808) < layers_total < vocabulary_side(4_809)
assert vocabulary_side(14_464, share=True) == layers_total
keras.backend.clear_session()

# %% Exercise 2
# Pre-norm moves each norm in front of its sub-layer and keeps the residual sum raw:
#   h = x + Attention(LayerNorm_1(x));   out = h + FFN(LayerNorm_2(h)).
# Its output is never normalised inside the layer, so a pre-norm stack ends with one
# more LayerNorm (final_norm): 2 d parameters per stack, 2 * 2 * 128 = 512 more for
# the tutorial model. Same weights, same names: only the order changes.
keras.utils.set_random_seed(0)
layer = EncoderLayer(d_model=8, num_heads=2, dff=16, dropout_rate=0.0, norm_first=True)
x = tf.random.normal((2, 5, 8))
mask = tf.constant([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]) > 0
out = layer(x, padding_mask=mask)

h = x + layer.self_attention(layer.self_attention_norm(x), padding_mask=mask)
by_hand = h + layer.ffn(layer.ffn_norm(h))
np.testing.assert_allclose(out, by_hand, atol=1e-5)
post_norm = layer.ffn_norm(h + layer.ffn(h))  # the paper's order, for contrast: a different function
print("pre-norm EncoderLayer == x + attn(norm(x)), then h + ffn(norm(h))")
print(f"output std per position: pre-norm {tf.math.reduce_std(out, -1).numpy()[0, :3]} (not normalised)")
assert float(tf.reduce_max(tf.abs(out - post_norm))) > 0.1

base = Transformer(course_config)
base.build()
pre = Transformer(TransformerConfig.from_dict({**course_config.to_dict(), "norm_first": True}))
pre.build()
print(f"norm_first=True adds {pre.count_params() - base.count_params()} parameters to the tutorial model")
assert pre.count_params() - base.count_params() == 2 * 2 * course_config.d_model == 512
del base, pre
keras.backend.clear_session()

# %% Exercise 3
# Causality, by gradients. The notebook rewrote later tokens and saw that earlier
# logits did not move. A stronger statement: the logits at position t do not depend
# *at all* on the decoder's input vectors at positions s > t, so the gradient is
# exactly zero, not merely small: each masked weight is exp(-1e9 - max) = 0 in
# float32, and both the softmax gradient (p_j (g_j - sum p g)) and the value path
# (p_j v_j) are multiplied by that zero.
# The same argument for the source: no query ever attends to a padding key, so the
# logits cannot depend on the encoder's input vectors at padding positions either.
keras.utils.set_random_seed(0)
model = Transformer(
    TransformerConfig.from_preset("tiny", input_vocab_size=50, target_vocab_size=60, num_layers=3)
)
src = tf.constant([[2, 11, 12, 13, 3, 0, 0]])  # 5 real tokens, 2 pads
tgt = tf.constant([[2, 21, 22, 23, 24]])
model((src, tgt))  # builds it
probe = tf.random.normal((1, 5, 60), seed=1)  # a random weighting of the logits, so no sum can cancel


def logits_from_vectors(source_vectors, target_vectors):
    """The model's forward pass from the embedded (and positioned) inputs onward."""
    source_mask, target_mask = tf.not_equal(src, 0), tf.not_equal(tgt, 0)
    context = source_vectors
    for enc_layer in model.encoder.enc_layers:
        context = enc_layer(context, padding_mask=source_mask, training=False)
    context = model.encoder.normalize_output(context)
    x = target_vectors
    for dec_layer in model.decoder.dec_layers:
        x = dec_layer(x, context, context_mask=source_mask, target_mask=target_mask, training=False)
    return model.project(model.decoder.normalize_output(x))


source_vectors = model.encoder.embed_tokens(src, training=False)
target_vectors = model.decoder.embed_tokens(tgt, training=False)
np.testing.assert_allclose(logits_from_vectors(source_vectors, target_vectors), model((src, tgt)), atol=1e-5)
to_target = np.zeros((5, 5))  # [output position t, target input s]
to_source = np.zeros((5, 7))  # [output position t, source input s]
for t in range(5):
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([source_vectors, target_vectors])
        score = tf.reduce_sum(logits_from_vectors(source_vectors, target_vectors)[0, t] * probe[0, t])
    to_target[t] = tf.norm(tape.gradient(score, target_vectors)[0], axis=-1).numpy()
    to_source[t] = tf.norm(tape.gradient(score, source_vectors)[0], axis=-1).numpy()
    del tape
print("|d logits[t] / d target vector[s]| (rows t, columns s):\n", to_target)
print("|d logits[t] / d source vector[s]| (the last two are padding):\n", to_source)
assert np.all(to_target[np.triu_indices(5, 1)] == 0)  # exactly zero above the diagonal
assert np.all(to_target[np.tril_indices(5)] > 0)  # and every allowed path is used
assert np.all(to_source[:, 5:] == 0) and np.all(to_source[:, :5] > 0)
keras.backend.clear_session()

# %% Exercise 4
# The residual stream's size, layer by layer, at initialisation. Post-norm normalises
# after every sum, so the stream leaves each layer at unit size per position. Pre-norm
# adds each sub-layer's output (computed from a normalised copy, so of roughly fixed
# size) to a stream that is never normalised: the stream grows with depth, and each
# later layer changes it relatively less. That steady, additive path is what keeps
# deep pre-norm stacks trainable, and the growth is why the stack needs final_norm.
num_layers, d_model = (6, 64) if FAST else (12, 128)  # the exercise's 12 layers; fast mode checks 6
ids = tf.constant(np.random.default_rng(0).integers(4, 100, size=(4, 16)))
stream = {}
for norm_first in (False, True):
    keras.utils.set_random_seed(0)
    encoder = Encoder(
        num_layers=num_layers,
        d_model=d_model,
        num_heads=4,
        dff=4 * d_model,
        vocab_size=100,
        dropout_rate=0.0,
        norm_first=norm_first,
    )
    encoder(ids)  # builds it
    x = encoder.embed_tokens(ids, training=False)
    sizes = [float(tf.math.reduce_std(x))]
    for enc_layer in encoder.enc_layers:
        x = enc_layer(x, padding_mask=tf.not_equal(ids, 0), training=False)
        sizes.append(float(tf.math.reduce_std(x)))
    final = float(tf.math.reduce_std(encoder.normalize_output(x)))
    np.testing.assert_allclose(encoder.normalize_output(x), encoder(ids, training=False), atol=1e-5)
    stream["pre-norm" if norm_first else "post-norm"] = np.array(sizes), final
for name, (sizes, final) in stream.items():
    print(f"{name:9s} stream std: embedding {sizes[0]:.2f}, after each layer {sizes[1:]}, output {final:.2f}")
post, pre = stream["post-norm"][0], stream["pre-norm"][0]
assert np.allclose(post[1:], 1, atol=0.02)  # post-norm: unit size after every layer
assert pre[-1] > 1.5 * pre[1] and pre[-1] > post[-1] + 0.5  # pre-norm: the stream grows with depth
assert abs(stream["pre-norm"][1] - 1) < 0.02  # final_norm brings it back
