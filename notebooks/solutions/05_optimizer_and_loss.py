"""Worked solutions to the exercises of notebook 5, Optimizer and loss.

Run from the notebooks folder: ``python solutions/05_optimizer_and_loss.py``.
Each answer is worked out in the comments, printed, and checked with an
assert against the library's own code, so a change that makes an answer
false stops the script.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import math

import keras
import numpy as np
import tensorflow as tf

from tf_transformer import PRESETS, course
from tf_transformer.training import (
    MaskedAccuracy,
    WarmupSchedule,
    make_optimizer,
    masked_accuracy,
    masked_loss,
)
from tf_transformer.training.losses import smoothed_cross_entropy

FAST = course.fast_mode()  # nothing here trains: both modes do the same work

# %% Exercise 1
# lrate = d_model^-0.5 * min(n^-0.5, n * warmup^-1.5), n counting steps from 1.
# The two terms are equal when n^-0.5 = n * warmup^-1.5, i.e. n = warmup: the
# peak is at step 4000 (the optimizer's iteration 3999, since WarmupSchedule
# is called with the count from 0), and its value is
#   512^-0.5 * 4000^-0.5 = 1 / sqrt(512 * 4000) = 1 / sqrt(2,048,000) = 6.99e-4.
d_base, d_big, warmup, last = PRESETS["base"]["d_model"], PRESETS["big"]["d_model"], 4000, 100_000
peak = 1 / math.sqrt(d_base * warmup)
# After the peak only n^-0.5 is left, so the rate at step n is the peak times
# sqrt(warmup / n). At the end of the base model's 100,000 steps:
# sqrt(4000 / 100000) = sqrt(0.04) = 0.2, a fifth of the peak, 1.40e-4.
end = peak * math.sqrt(warmup / last)
# The peak is (d_model * warmup)^-0.5: doubling d_model (the big model's 1024)
# at the same warm-up lowers it by sqrt(2), to 4.94e-4. To keep the base
# model's peak the product d_model * warmup must stay 2,048,000: warm-up 2000.
big_peak = 1 / math.sqrt(d_big * warmup)
same_peak_warmup = d_base * warmup / d_big
print(f"base model: peak {peak:.4e} at step {warmup} (iteration {warmup - 1}); step {last:,}: {end:.4e}")
print(f"big model, warm-up {warmup}: peak {big_peak:.4e}; the base peak needs warm-up {same_peak_warmup:g}")

assert (d_base, d_big) == (512, 1024)
base = WarmupSchedule(d_base, warmup)
rates = base(tf.range(2 * warmup)).numpy()
assert int(rates.argmax()) == warmup - 1  # the iteration the peak falls on
assert math.isclose(float(rates.max()), peak, rel_tol=1e-5) and round(peak, 7) == 0.0006988
assert math.isclose(float(base(last - 1)), end, rel_tol=1e-5) and math.isclose(end / peak, 0.2)
assert math.isclose(float(WarmupSchedule(d_big, warmup)(warmup - 1)), big_peak, rel_tol=1e-5)
assert same_peak_warmup == 2000
assert math.isclose(float(WarmupSchedule(d_big, 2000)(1999)), peak, rel_tol=1e-5)

# %% Exercise 2
# Logits [0, 0, M, 0, 0] with the label at id 2 (not 0: id 0 is padding, which
# the loss leaves out), V = 5. By the loss module's
# formula, per token
#   loss = (1 - eps) * (-log p_label) + eps * (log Z - mean_k z_k),  log Z = log sum_k e^z_k.
# For large M: log Z = M + log(1 + 4 e^-M) -> M, so -log p_label = log Z - M -> 0,
# and mean_k z_k = M / 5.
# - eps = 0: the loss -> 0 and the gradient softmax - onehot -> 0. Nothing
#   stops M from growing; the loss just keeps shrinking towards 0.
# - eps = 0.1: the second term is 0.1 * (M - M / 5) = 0.08 * M: the loss grows
#   linearly with the model's confidence (1.6 at M = 20, 4.0 at M = 50).
#   The gradient softmax - q tends to onehot - q: 1 - (0.9 + 0.1/5) = +0.08 at
#   the label and 0 - 0.1/5 = -0.02 elsewhere, [-0.02, -0.02, +0.08, -0.02, -0.02].
#   Gradient descent subtracts it: the label's logit goes down and the others go up, so the gap M shrinks
#   back towards the finite gap where softmax(z) = q. Label smoothing caps
#   the confidence, which is what it is for.
V, eps = 5, 0.1
labels = tf.constant([[2]])
for M in (20.0, 50.0):
    logits = tf.constant([[[0.0, 0.0, M, 0.0, 0.0]]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        plain = masked_loss(labels, logits, label_smoothing=0.0)
        smooth = masked_loss(labels, logits, label_smoothing=eps)
    g_plain = tape.gradient(plain, logits).numpy()[0, 0]
    g_smooth = tape.gradient(smooth, logits).numpy()[0, 0]
    print(f"M = {M:g}: loss eps=0 {float(plain):.2e}, eps=0.1 {float(smooth):.4f} (0.08 M = {0.08 * M:.2f})")
    print(f"        gradient eps=0 {g_plain.round(6)}, eps=0.1 {g_smooth.round(6)}")
    assert float(plain) < 1e-7 and np.abs(g_plain).max() < 1e-7
    assert math.isclose(float(smooth), 0.08 * M, rel_tol=1e-5)
    np.testing.assert_allclose(g_smooth, [-0.02, -0.02, 0.08, -0.02, -0.02], atol=1e-6)
    # The per-token function gives the same number before the masked average.
    assert math.isclose(float(smoothed_cross_entropy(labels, logits, eps)[0, 0]), float(smooth), rel_tol=1e-6)
# One step of plain gradient descent (rate 1) on the smoothed loss narrows the gap.
logits = tf.Variable([[[0.0, 0.0, 20.0, 0.0, 0.0]]])
with tf.GradientTape() as tape:
    loss = masked_loss(labels, logits, label_smoothing=eps)
logits.assign_sub(tape.gradient(loss, logits))
gap = float(logits[0, 0, 2] - logits[0, 0, 0])
print(f"after one step the gap is {gap:.2f} (was 20)")
assert math.isclose(gap, 20 - 0.08 - 0.02, rel_tol=1e-5)

# %% Exercise 3
# Adam keeps m = beta1 m + (1 - beta1) g and v = beta2 v + (1 - beta2) g^2,
# both starting at 0, and steps by lr * m_hat / (sqrt(v_hat) + eps) with the
# bias-corrected m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t).
# At t = 1: m = 0.1 g and v = 0.02 g^2, so m_hat = g and v_hat = g^2, and the
# step is lr * g / (|g| + 1e-9) = lr * sign(g): every weight moves by the full
# learning rate, whether its gradient is 1e-3 or 1e3. (Without the correction
# it would be (1 - beta1) g / sqrt((1 - beta2) g^2) = 0.707 sign(g): blind to
# the gradient's size too; the correction makes the factor exactly 1, whatever
# the betas.) So the very first steps are full-size in every direction, steered
# by a second-moment estimate made from one or two gradients. Warm-up is what
# keeps those steps small: the schedule's first rate is
# 128^-0.5 * 1 * 400^-1.5 = 1.10e-5, 400 times below its peak.
optimizer = make_optimizer(d_model=128, warmup_steps=400)
gradients = np.array([1e-3, -1e3, 1.0], np.float32)
weights = keras.Variable(np.zeros(3, np.float32))
first_rate = float(optimizer.learning_rate)  # the schedule at iteration 0
optimizer.apply_gradients([(tf.constant(gradients), weights)])
moved = weights.numpy()
print(f"gradients {gradients}: the weights moved by {moved} (first rate {first_rate:.4e})")
assert math.isclose(first_rate, 128**-0.5 * 400**-1.5, rel_tol=1e-5) and round(first_rate, 8) == 1.105e-5
np.testing.assert_allclose(moved, -first_rate * np.sign(gradients), rtol=1e-4)
# At the second step with the same gradients the bias-corrected averages are
# again g and g^2, so the weights move by the second rate, twice the first.
second_rate = float(optimizer.learning_rate)
optimizer.apply_gradients([(tf.constant(gradients), weights)])
np.testing.assert_allclose(weights.numpy() - moved, -second_rate * np.sign(gradients), rtol=1e-4)
assert math.isclose(second_rate, 2 * first_rate, rel_tol=1e-5)
print(f"second step: by {second_rate:.4e} each, twice the first, as the linear warm-up says")

# %% Exercise 4
# Batch A: one real token, predicted right (accuracy 1). Batch B: nine real
# tokens, three right (accuracy 1/3). Averaging the two batches' accuracies
# gives (1 + 1/3) / 2 = 0.667, as if the single token of A weighed as much
# as the nine of B. Counting tokens gives (1 + 3) / (1 + 9) = 0.4: every real
# token weighs the same, as in masked_loss. MaskedAccuracy adds up the hits
# and the counts across batches; Keras's generic wrapper around the function
# masked_accuracy would average the per-batch values instead.


def logits_for(predicted, vocab=12):
    """Logits whose argmax is ``predicted`` at each position."""
    return tf.one_hot(predicted, vocab) * 5.0


labels_a = tf.constant([[4, 0, 0, 0, 0]])
pred_a = tf.constant([[4, 9, 9, 9, 9]])  # right on the real token; padding predictions do not count
labels_b = tf.constant([[5, 6, 7, 8, 0], [1, 2, 3, 4, 5]])  # 4 + 5 = 9 real tokens
pred_b = tf.constant([[5, 6, 0, 0, 5], [1, 0, 0, 0, 0]])  # right on 5, 6 and 1: 3 of 9
batches = [(labels_a, logits_for(pred_a)), (labels_b, logits_for(pred_b))]

per_batch = [float(masked_accuracy(y, z)) for y, z in batches]
tokens_metric, batch_mean = MaskedAccuracy(), keras.metrics.MeanMetricWrapper(fn=masked_accuracy)
for y, z in batches:
    tokens_metric.update_state(y, z)
    batch_mean.update_state(y, z)
print(f"per-batch accuracies {[round(a, 4) for a in per_batch]}")
print(f"MaskedAccuracy over both: {float(tokens_metric.result()):.4f} (by hand 4 / 10)")
print(f"mean of the batches' accuracies: {float(batch_mean.result()):.4f} (by hand (1 + 1/3) / 2)")
assert per_batch[0] == 1.0 and math.isclose(per_batch[1], 1 / 3, rel_tol=1e-6)
assert math.isclose(float(tokens_metric.result()), 0.4, rel_tol=1e-6)
assert math.isclose(float(batch_mean.result()), 2 / 3, rel_tol=1e-6)
