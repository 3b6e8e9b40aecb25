"""Worked solutions to the exercises of notebook 6, Training.

Run from the notebooks folder: ``python solutions/06_training.py``. Every
answer is worked out, printed and checked with an assert.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import math

import numpy as np
import tensorflow as tf

from tf_transformer import course, data
from tf_transformer.training import WarmupSchedule, masked_loss
from tf_transformer.training.losses import smoothed_cross_entropy

FAST = course.fast_mode()

# %% Exercise 1
# The paper's rate is d_model^-0.5 * min(n^-0.5, n * warmup^-1.5), where n
# counts steps from 1. The optimizer calls the schedule with its iteration
# count, which is 0 during step 1, and the schedule adds the 1 back: step s
# uses n = s.
d_model, warmup = 128, 400
scale = d_model**-0.5  # 0.0884


def by_hand(step):
    return scale * min(step**-0.5, step * warmup**-1.5)


# Step 100 is still in the warm-up, where the second term is the smaller:
# 0.0884 * 100 / 400^1.5 = 0.0884 * 100 / 8000.
at_100 = scale * 100 / 8000
# The two terms meet at n = warmup: the peak is d_model^-0.5 * warmup^-0.5.
peak = scale / math.sqrt(warmup)  # 0.0884 / 20
# After the warm-up the rate decays as 1 / sqrt(n).
at_1000 = scale / math.sqrt(1000)
fall = peak / at_1000  # = sqrt(1000 / 400)
print(f"step 100: {at_100:.3e}   peak (step {warmup}): {peak:.3e}   step 1000: {at_1000:.3e}")
print(f"from the peak to step 1000 the rate falls by sqrt(1000 / 400) = {fall:.3f}")

schedule = WarmupSchedule(d_model, warmup)
for step, value in [(100, at_100), (warmup, peak), (1000, at_1000)]:
    assert math.isclose(by_hand(step), value, rel_tol=1e-12)
    assert math.isclose(float(schedule(step - 1)), value, rel_tol=1e-6)
assert round(at_100, 7) == 0.0011049 and round(peak, 7) == 0.0044194 and round(at_1000, 7) == 0.0027951
assert math.isclose(fall, math.sqrt(2.5)) and round(fall, 2) == 1.58
# No step of the run has a larger rate than the peak:
assert max(float(r) for r in schedule(tf.range(1000))) == float(schedule(warmup - 1))

# %% Exercise 2
# The smoothed target is q = (1 - eps) * one_hot + eps / V, and the loss of a
# token is the cross-entropy -sum_k q_k log p_k = H(q) + KL(q || p). KL is never
# negative and is 0 only for p = q, so the floor is the entropy H(q), reached by
# the model that predicts q itself: 0.9 + 0.1/V on the right token, 0.1/V on
# every other one.
eps = 0.1
tokenizers = data.load_tokenizers()
V = int(tokenizers.target.get_vocab_size())
assert V == 806
right, other = 1 - eps + eps / V, eps / V
floor = -right * math.log(right) - (V - 1) * other * math.log(other)
print(f"\nV = {V}: q puts {right:.6f} on the right token and {other:.2e} on each of the other {V - 1}")
print(f"floor of the label-smoothed loss: H(q) = {floor:.4f} per token")
# Most of it is the 10% spread thinly: (V - 1) * (eps / V) * log(V / eps).
spread = -(V - 1) * other * math.log(other)
print(f"  of which the spread-out 10% costs {spread:.4f}, the right token {floor - spread:.4f}")
assert round(floor, 3) == 0.993

# The library's loss agrees: give it the logits log q (any constant shift of the
# logits gives the same softmax) for a few labels.
labels = tf.constant([[5, 17, 300, 0]])  # the last one is padding and does not count
q = np.full((1, 4, V), other)
q[0, np.arange(4), labels.numpy()[0]] = right
reached = float(masked_loss(labels, tf.constant(np.log(q), tf.float32)))
print(f"masked_loss of the model that predicts q: {reached:.4f}")
assert abs(reached - floor) < 1e-4
# Any other prediction pays more; for example a slightly sharper one:
sharper = q**1.2
assert float(masked_loss(labels, tf.constant(np.log(sharper), tf.float32))) > reached
# So a label-smoothed loss near 1.0 on this corpus is close to perfect: compare
# with the losses the notebook's run prints (its final epoch ends near it).

# %% Exercise 3
# The batch of the notebook's line-by-line section, and logits from anywhere:
# the identity below holds for any logits. Random ones, sharper for later rows,
# so that the two halves have clearly different mean losses (as a model's
# would on easy and hard sentences).
pairs = data.load_dataset("embedded", "train").take(256)
batches = data.make_batches(
    pairs, tokenizers.source, tokenizers.target, max_length=32, batch_tokens=512, seed=0
)
for _, target_out in batches:  # a batch whose halves hold different token counts
    half = target_out.shape[0] // 2
    counts = [
        int(tf.reduce_sum(tf.cast(part != 0, tf.int32))) for part in (target_out[:half], target_out[half:])
    ]
    if counts[0] != counts[1]:
        break
sharpness = tf.linspace(0.0, 8.0, target_out.shape[0])[:, None, None]  # (B, 1, 1)
logits = sharpness * tf.random.stateless_normal((*target_out.shape, V), seed=(0, 1))
halves = [(target_out[:half], logits[:half]), (target_out[half:], logits[half:])]
total = sum(counts)


def token_loss_sum(labels, logits):
    mask = tf.cast(labels != 0, tf.float32)
    return float(tf.reduce_sum(smoothed_cross_entropy(labels, logits) * mask))


whole = float(masked_loss(target_out, logits))
global_recipe = sum(token_loss_sum(lab, log) / total for lab, log in halves)  # what each replica adds
own_means = [float(masked_loss(lab, log)) for lab, log in halves]
mean_recipe = sum(own_means) / 2
print(f"\nreal tokens in the two halves: {counts} (batch: {total})")
print(f"masked_loss of the whole batch:              {whole:.6f}")
print(f"sum over halves of (half's sum / {total}):     {global_recipe:.6f}")
print(f"mean of the halves' own masked_loss:         {mean_recipe:.6f}")
assert abs(global_recipe - whole) < 1e-5
assert abs(mean_recipe - whole) > 1e-3
# Why: the whole batch's mean weighs each half's mean by its share of the tokens,
# counts[i] / total; the mean of means weighs each half by 1/2. A token of the
# half with FEWER tokens therefore weighs 1 / (2 * counts[i]) > 1 / total: the
# second recipe over-weighs the tokens of the replica that got fewer of them.
shares = [c / total for c in counts]
assert abs(sum(s * m for s, m in zip(shares, own_means)) - whole) < 1e-5
fewer = int(np.argmin(counts))
print(
    f"each token of half {fewer + 1} ({counts[fewer]} tokens) weighs 1/{2 * counts[fewer]} "
    f"in the mean of means instead of 1/{total}"
)
assert 1 / (2 * counts[fewer]) > 1 / total
