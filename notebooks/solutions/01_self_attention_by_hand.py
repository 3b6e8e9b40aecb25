"""Worked solutions to the exercises of notebook 1, "From RNNs to self-attention, by hand".

Run from the notebooks folder: ``python solutions/01_self_attention_by_hand.py``.
Each cell works one exercise out, prints what it found and asserts it, so a
change to the library that made an answer false would stop the script.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import math

import keras
import numpy as np
import tensorflow as tf

from tf_transformer import course
from tf_transformer.layers import MultiHeadAttention

FAST = course.fast_mode()
np.set_printoptions(precision=4, suppress=True)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# %% Exercise 1
# Two tokens, d_k = 4, queries, keys and values given directly:
#   q1 = (1, 1, 0, 0)   k1 = (1, 1, 0, 0)   v1 = (1, 0)
#   q2 = (1, 1, 1, 1)   k2 = (0, 0, 1, 1)   v2 = (0, 1)
#
# Scores (dot products):
#   token 1: q1.k1 = 1 + 1 = 2,   q1.k2 = 0
#   token 2: q2.k1 = 2,           q2.k2 = 2
# Scaled by 1/sqrt(d_k) = 1/2:  token 1 -> (1, 0),  token 2 -> (1, 1).
# Softmax:
#   token 1: (e, 1) / (e + 1) = (0.7311, 0.2689)
#   token 2: a tie, so (0.5, 0.5) whatever the scale
# Weighted sums: since v1 and v2 are the two unit vectors, z_i *is* token i's
# row of weights: z1 = (0.7311, 0.2689), z2 = (0.5, 0.5).
# Without the scaling token 1 would see (2, 0): (e^2, 1) / (e^2 + 1) = (0.8808, 0.1192),
# more peaked. Scaling divides every score of a row by the same number, so it
# changes how sharp the row is, never which key wins, and a tie stays a tie.
e = math.e
by_hand_weights = np.array([[e / (e + 1), 1 / (e + 1)], [0.5, 0.5]])
by_hand_z = by_hand_weights @ np.eye(2)  # rows v1 = (1, 0), v2 = (0, 1)
unscaled_token1 = np.array([e**2 / (e**2 + 1), 1 / (e**2 + 1)])
print("weights, scaled:\n", by_hand_weights)
print("z1, z2:\n", by_hand_z)
print("token 1 without the scaling:", unscaled_token1)

# The same numbers from the library's layer. With one head, d_model = 4, and the
# tokens fed in as the one-hot rows e1 and e2, row i of W^Q is q_i (e_i @ W^Q = q_i),
# and likewise for keys and values; W^O = identity hands the heads' output back as is.
q = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=np.float32)
k = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=np.float32)
v = np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32)  # (v1, v2) padded to d_model = 4
pad = np.zeros((2, 4), np.float32)
mha = MultiHeadAttention(d_model=4, num_heads=1)
x = tf.constant(np.eye(4, dtype=np.float32)[None, :2])  # (batch 1, 2 tokens, 4)
mha(x)  # creates the weights; the biases start at zero
mha.query_kernel.assign(np.concatenate([q, pad]))
mha.key_kernel.assign(np.concatenate([k, pad]))
mha.value_kernel.assign(np.concatenate([v, pad]))
mha.output_kernel.assign(np.eye(4))
out, weights = mha.call_with_attention(x)
print("library weights:\n", weights.numpy()[0, 0])
np.testing.assert_allclose(weights.numpy()[0, 0], by_hand_weights, atol=1e-6)
np.testing.assert_allclose(out.numpy()[0, :, :2], by_hand_z, atol=1e-6)
np.testing.assert_allclose(softmax(np.array([2.0, 0.0])), unscaled_token1)
assert unscaled_token1[0] > by_hand_weights[0, 0]  # without the scale the row is sharper


# %% Exercise 2
# Parameters of MultiHeadAttention with d_model = d: W^Q, W^K, W^V, W^O are each
# d x d (the h heads' d x d_k blocks sit side by side), plus four biases of d:
#   4 d^2 + 4 d.
# d = 4: 4 * 16 + 16 = 80, for h = 1, 2 or 4 alike. Splitting into heads makes each
# head narrower (d_k = d / h) but never adds weights. The work does not grow either:
# the scores cost h * (T * T * d_k) = T * T * d multiply-adds, the same for any h.
# For the tutorial preset, d = 128: 4 * 16384 + 512 = 66,048.
def count_by_hand(d):
    return 4 * d * d + 4 * d


counts = {}
for d, heads in ((4, (1, 2, 4)), (128, (1, 8, 16))):
    for h in heads:
        layer = MultiHeadAttention(d_model=d, num_heads=h)
        layer.build((None, None, d))
        counts[(d, h)] = layer.count_params()
for (d, h), n in counts.items():
    print(f"d_model={d:3d}, heads={h:2d}: {n:6,d} parameters (by hand {count_by_hand(d):,d})")
    assert n == count_by_hand(d)
assert counts[(4, 1)] == counts[(4, 4)] == 80 and counts[(128, 8)] == 66_048

# %% Exercise 3
# Why divide by sqrt(d_k)? If q and k have d_k independent components of mean 0 and
# variance 1, then q.k is a sum of d_k products, each of mean 0 and variance 1, so
# Var(q.k) = d_k: the scores spread out as sqrt(d_k). Divided by sqrt(d_k), the
# variance is 1 for every d_k.
#
# A large spread pushes softmax into a corner: one key takes almost all the weight.
# There its Jacobian, dp/ds = diag(p) - p p^T, is nearly zero (p is nearly one-hot,
# so p_j (1 - p_j) ~ 0 everywhere): the gradient that should teach the query and
# key projections vanishes. We measure all three for one query over 10 keys.
rng = np.random.default_rng(0)
samples = 20000
found = {}
for d_k in (4, 64, 512):
    q = rng.normal(size=(samples, d_k))
    k = rng.normal(size=(samples, 10, d_k))
    scores = np.einsum("nd,nkd->nk", q, k)  # (samples, 10 keys)
    for name, s in (("raw", scores), ("scaled", scores / np.sqrt(d_k))):
        p = softmax(s)
        jacobian = p[:, :, None] * np.eye(10) - p[:, :, None] * p[:, None, :]  # (samples, 10, 10)
        found[d_k, name] = (s.var(), p.max(axis=-1).mean(), np.linalg.norm(jacobian, axis=(1, 2)).mean())
print(f"{'d_k':>4s} {'scores':>7s} {'variance':>9s} {'largest weight':>15s} {'|softmax Jacobian|':>19s}")
for (d_k, name), (var, top, jac) in found.items():
    print(f"{d_k:4d} {name:>7s} {var:9.2f} {top:15.3f} {jac:19.4f}")
for d_k in (4, 64, 512):
    assert abs(found[d_k, "raw"][0] / d_k - 1) < 0.1  # Var(q.k) ~ d_k
    assert abs(found[d_k, "scaled"][0] - 1) < 0.1  # ~ 1 once scaled
    assert found[d_k, "scaled"][1] < 0.4  # scaled: no key dominates
assert found[512, "raw"][1] > 0.9  # unscaled at d_k = 512: one key takes > 90% on average
assert found[512, "raw"][2] < 0.25 * found[512, "scaled"][2]  # and the gradient has all but vanished


# %% Exercise 4
# The notebook's RNN measurement, repeated with its exact seed and weights, beside
# one self-attention layer (the library's, random weights) over the *same* inputs.
# For both we take the gradient of the sum of the last position's output with
# respect to every input. An RNN's gradient must pass through one tanh step per
# token of distance, so it shrinks geometrically; in attention every input reaches
# the last position through one weighted sum, so distance does not enter at all.
# (Only the last position's own input stands out, as it also makes the query.)
# Longer sequences than 60 run when not in fast mode.
def rnn_gradients(steps, width=32):
    rng = np.random.default_rng(0)  # the notebook's draws, in its order
    W_x = tf.constant(rng.normal(size=(width, width)) / np.sqrt(width), tf.float32)
    W_h = tf.constant(rng.normal(size=(width, width)) / np.sqrt(width), tf.float32)
    inputs = tf.constant(rng.normal(size=(steps, 1, width)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        h = tf.zeros((1, width))
        for t in range(steps):
            h = tf.tanh(inputs[t] @ W_x + h @ W_h)
        final = tf.reduce_sum(h)
    grads = tf.norm(tape.gradient(final, inputs)[:, 0], axis=-1).numpy()
    return inputs, grads[::-1]  # index = distance from the last step


def attention_gradients(inputs):
    keras.utils.set_random_seed(0)
    attention = MultiHeadAttention(d_model=int(inputs.shape[-1]), num_heads=4)
    x = tf.transpose(inputs, (1, 0, 2))  # (steps, 1, width) -> (batch 1, steps, width)
    with tf.GradientTape() as tape:
        tape.watch(x)
        final = tf.reduce_sum(attention(x)[0, -1])
    return tf.norm(tape.gradient(final, x)[0], axis=-1).numpy()[::-1]


def near_over_far(grads):
    """Geometric mean of the gradient over the nearer half of distances 1.., over the farther half."""
    logs = np.log(np.maximum(grads[1:], 1e-30))  # (an RNN's far gradients can underflow to 0)
    half = len(logs) // 2
    return float(np.exp(logs[:half].mean() - logs[half:].mean()))


for steps in (30, 60) if FAST else (30, 60, 120):
    inputs, rnn = rnn_gradients(steps)
    attention = attention_gradients(inputs)
    far = steps - 1
    print(
        f"{steps:3d} steps | RNN: distance 0 {rnn[0]:.3g}, distance {far} {rnn[far]:.3g}, "
        f"near/far {near_over_far(rnn):.2g} | attention: distance 0 {attention[0]:.3g}, "
        f"distance {far} {attention[far]:.3g}, near/far {near_over_far(attention):.2f}"
    )
    if steps == 60:  # the notebook's figure: its two printed numbers
        np.testing.assert_allclose(rnn[0], 3.87, rtol=0.01)
        assert rnn[far] < 1e-9
    assert rnn[far] / rnn[0] < 1e-3 and near_over_far(rnn) > 100  # the RNN forgets, geometrically
    assert 1 / 3 < near_over_far(attention) < 3  # attention: no trend with distance
    assert attention[far] > 0.1 * np.median(attention[1:])  # the farthest input counts like the others
