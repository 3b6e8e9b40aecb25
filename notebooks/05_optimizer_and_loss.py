# %% [markdown]
# # 5. Optimizer and loss
#
# **What you will learn:**
# - the paper's learning-rate schedule: linear warm-up, then inverse
#   square-root decay (section 5.3, equation 3), plotted for several
#   `d_model` / `warmup_steps` pairs;
# - Adam with the paper's settings, and why warm-up matters for it;
# - label smoothing (section 5.4): what the target distribution becomes;
# - a loss and an accuracy that count real tokens only, worked by hand on a
#   batch with padding and checked against `tf_transformer.training`.

# %% [markdown]
# ## 本节内容
#
# 本节讲训练 Transformer 前要配好的两样东西：优化器和损失函数。先按论文式 3
# 实现带预热的学习率调度（warm-up learning-rate schedule）：前 warmup 步线性上升，
# 之后按 1/√step 衰减；再按论文的设置配好 Adam 优化器（Adam），β₁ = 0.9、
# β₂ = 0.98、ε = 10⁻⁹，并说明预热为什么对它重要。然后让优化器另外维护一份权重的
# 指数移动平均（exponential moving average，EMA；《动手学深度学习》称“指数加权
# 移动平均”）：训练本身不用它，只在验证和保存检查点时把它换进模型，以抵消训练
# 后期权重的抖动，相当于论文中检查点平均的连续版本。接着看标签平滑（label
# smoothing）怎样把 one-hot 目标变成 (1−ε)·onehot + ε/V，以及交叉熵
# （cross-entropy）对 logits 的梯度为什么恰好是 softmax(z) − q。最后在一个带填充
# （padding）的小批次上手算掩码损失（masked loss）和掩码准确率（masked
# accuracy），再和 `tf_transformer.training` 的结果逐项核对。学完本节，你能算出
# 学习率在哪一步达到峰值、峰值有多大，能解释为什么损失要在真实词元（token）上
# 求平均，也能自己动手验证库里的损失和它的梯度。

# %%
# In Google Colab, or a Jupyter where the course is not installed, this cell installs it
# (README: "Opening the course elsewhere"). Where tf_transformer is installed, it does nothing.
import importlib.util

if importlib.util.find_spec("tf_transformer") is None:
    import glob
    import os
    import re
    import subprocess
    import sys

    # TF_TRANSFORMER_SOURCE: a wheel, a checkout folder or git+https://...; else the newest wheel
    # beside this notebook (by version, not by name: 0.10.0 is newer than 0.9.0)
    wheels = glob.glob("tf_transformer-*.whl")
    source = os.environ.get("TF_TRANSFORMER_SOURCE") or max(
        wheels, key=lambda w: [int(n) for n in re.findall(r"\d+", w.split("-")[1])], default=""
    )
    if not source:
        raise RuntimeError(
            "tf_transformer is not installed. Upload its wheel beside this notebook (Colab: the Files "
            "panel; a checkout builds it with `pip wheel --no-deps -w dist .`), or run "
            "`%env TF_TRANSFORMER_SOURCE=git+https://github.com/OWNER/REPO` with the course "
            "repository's address; then run this cell again."
        )
    command = [sys.executable, "-m", "pip", "install", "--quiet", source]
    pip = subprocess.run(command, capture_output=True, text=True)
    if pip.returncode:  # one line, not pip's traceback
        said = (pip.stderr.strip().splitlines() or ["(nothing)"])[-1]
        raise RuntimeError(f"pip could not install {source!r}: {said} (TF_TRANSFORMER_SOURCE or the wheel?)")
    importlib.invalidate_caches()

# %%
import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from tf_transformer import PRESETS
from tf_transformer.course import show
from tf_transformer.data import load_tokenizers
from tf_transformer.training import (
    AveragingAdam,
    WarmupSchedule,
    make_optimizer,
    masked_accuracy,
    masked_loss,
)
from tf_transformer.training.losses import smoothed_cross_entropy

np.set_printoptions(precision=4, suppress=True)


# %% [markdown]
# ## The warm-up schedule
#
# $$\mathit{lrate} = d_{model}^{-0.5}\cdot\min\!\left(step^{-0.5},\ step\cdot warmup^{-1.5}\right)$$
#
# For the first `warmup` steps the second term is smaller, so the rate grows
# linearly; afterwards the first term wins and the rate decays as
# $1/\sqrt{step}$. The two meet at `step = warmup`, the peak. Wider models get
# smaller rates through the $d_{model}^{-0.5}$ factor.

# %%
show(WarmupSchedule)

# %% [markdown]
# `decay_power` is not the paper's: it sets how fast the rate falls after the
# peak, as $step^{-p}$ from the same peak. The paper's $p = 0.5$ halves the
# rate each time the step count quadruples; $p = 1$ halves it each time the
# count doubles. `make demo` uses $p = 1$ with a 200-step warm-up: on the
# embedded corpus the last errors are fixed sooner when the late steps are
# smaller (`docs/demo-recipe.md` has the measurements). Everything
# else in the course keeps the paper's curve.

# %%
steps = np.arange(1, 40001)
fig, ax = plt.subplots(figsize=(7, 3.5))
for d_model, warmup in [(128, 4000), (512, 4000), (512, 8000), (1024, 4000)]:
    lr = WarmupSchedule(d_model, warmup)(steps - 1).numpy()
    ax.plot(steps, lr, label=f"d_model={d_model}, warmup={warmup}")
    peak = d_model**-0.5 * warmup**-0.5
    assert abs(lr.max() - peak) / peak < 1e-4 and steps[lr.argmax()] == warmup
ax.set_xlabel("training step")
ax.set_ylabel("learning rate")
ax.set_title("warm-up, then 1/sqrt(step) decay")
ax.legend()
plt.show()

# %% [markdown]
# The formula by hand at a few steps, against the schedule (the optimizer
# counts from 0, the paper from 1, hence `step - 1`):

# %%
schedule = WarmupSchedule(d_model=128, warmup_steps=4000)
for step in [1, 100, 4000, 20000]:
    by_hand = 128**-0.5 * min(step**-0.5, step * 4000**-1.5)
    print(f"step {step:6d}: formula {by_hand:.6e}   schedule {float(schedule(step - 1)):.6e}")
    assert abs(by_hand - float(schedule(step - 1))) < 1e-9

# %% [markdown]
# **要点**
#
# - 学习率 lrate = d_model^−0.5 · min(step^−0.5, step · warmup^−1.5)（论文式 3）：前 warmup 步第二项较小，
#   学习率线性上升；之后第一项较小，按 1/√step 衰减；两项在 step = warmup 处相等，即峰值。模型越宽，
#   d_model^−0.5 这个因子让学习率越小。
# - 优化器从 0 开始计数，论文的 step_num 从 1 开始，所以 `WarmupSchedule` 取 step_num = step +
#   1（第一次更新得到一个很小的正学习率，而不是 0）。
# - `decay_power` 不是论文的设置：它决定峰值之后下降多快，从同一个峰值按 step^−p 下降。论文的 p = 0.5
#   让步数每增至 4 倍学习率减半，p = 1 则步数每翻一番就减半。`make demo` 用 p = 1、预热 200 步（测量结果见
#   `docs/demo-recipe.md`）；课程其余部分都用论文的曲线。
# - 对四组 d_model / warmup 画出曲线，并断言峰值的位置和大小；按公式手算几步，与调度一致，例如 d_model = 128、
#   warmup = 4000 时，第 4000 步是峰值 1.397542e-03，第 20000 步为 6.25e-04。

# %% [markdown]
# ## Adam, as in the paper
#
# $\beta_1 = 0.9$, $\beta_2 = 0.98$, $\epsilon = 10^{-9}$. Early in training
# Adam's running estimate of the gradient's second moment rests on very few
# samples, so its step sizes are unreliable; warm-up keeps the steps small
# until that estimate has settled.

# %%
show(make_optimizer)
optimizer = make_optimizer(d_model=128)
print(type(optimizer).__name__, optimizer.beta_1, optimizer.beta_2, optimizer.epsilon)

# %% [markdown]
# **要点**
#
# - Adam 按论文设置：β₁ = 0.9，β₂ = 0.98，ε = 10⁻⁹（`make_optimizer`）。
# - 训练初期，Adam 对梯度二阶矩的估计只建立在很少的样本上，步长并不可靠；预热让步长一直很小，
#   直到这个估计稳定下来。
# - `ema_momentum` 大于 0 时，`make_optimizer` 返回的是 `AveragingAdam`，
#   它另外维护一份权重的移动平均（下一部分）。

# %% [markdown]
# ## A moving average of the weights
#
# Late in training every step still moves the weights a little in the
# direction of its own batch: they jitter around the point the training is
# heading for. The paper evaluated its base models with the average of the
# last 5 checkpoints (section 6.1), which cancels much of that jitter.
# `make_optimizer(..., ema_momentum=m)` keeps the running version of that
# average after every step, $ar w \leftarrow m\,ar w + (1 - m)\,w$: an
# `AveragingAdam`. With $m = 0.99$ the average spans about the last
# $1 / (1 - m) = 100$ steps.
#
# Training never uses the average: Adam keeps stepping from its own weights.
# `train` swaps the average into the model only to validate it and to write
# the checkpoints, and back out, bit for bit (`averaged_weights`), so the
# run's final model is the average. `make demo` uses $m = 0.99$
# (`docs/demo-recipe.md` has the steps it saves); `train` leaves it off unless
# `--ema-momentum` is given.

# %%
show(AveragingAdam)

# %% [markdown]
# The effect on one number: minimise $(w - 3)^2$ when every gradient is
# noisy, as a batch's gradient is. The weight arrives, then wanders around 3;
# its average (here $m = 0.98$, about the last 50 steps) arrives later but
# wanders much less.

# %%
rng = np.random.default_rng(0)
w = keras.Variable(0.0)
toy = AveragingAdam(learning_rate=0.1, use_ema=True, ema_momentum=0.98)
toy.build([w])
(average,) = [v for v in toy.variables if v.name.endswith("average")]
path = []
for noise in rng.normal(size=400):
    toy.apply([2 * (w - 3.0) + 4 * noise], [w])
    path.append((float(w.numpy()), float(average.numpy())))
path = np.array(path)
last = path[200:]  # after it has arrived
errors = np.mean((last - 3) ** 2, axis=0)
print(f"mean squared distance from 3, last 200 steps: weight {errors[0]:.4f}, average {errors[1]:.4f}")
assert errors[1] < 0.6 * errors[0]
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(path[:, 0], lw=0.8, label="weight (Adam's steps)")
ax.plot(path[:, 1], lw=1.5, label="its moving average, m = 0.98")
ax.axhline(3, color="gray", ls=":")
ax.set_xlabel("step")
ax.legend()
plt.show()

# %% [markdown]
# **要点**
#
# - 训练后期，每一步仍按自己那个批次的方向把权重挪动一点：权重在训练趋向的那个点附近抖动。论文评估 base
#   模型时用最后 5 个检查点的平均（6.1 节），抵消了大部分抖动。
# - `make_optimizer(..., ema_momentum=m)` 在每一步之后维护这个平均的“连续版本”，
#   即权重的指数移动平均（exponential moving average，EMA；《动手学深度学习》称“指数加权移动平均”）：w̄ ←
#   m·w̄ + (1 − m)·w，由 `AveragingAdam` 实现。m = 0.99 时，这个平均大约覆盖最后 1/(1 − m) = 100 步。
# - 训练本身从不使用这份平均：Adam 始终从它自己的权重出发更新。`train` 只在验证和写检查点时把平均换进模型，
#   之后再逐位原样换回（`averaged_weights`），所以这次运行最终得到的模型就是这份平均。`make demo` 用 m =
#   0.99；`train` 默认不开启，除非给出 `--ema-momentum`。
# - 一个数的例子：梯度带噪声时最小化 (w − 3)²。权重很快到达 3，然后在附近游走；它的平均（m = 0.98，约最后 50
#   步）到得晚些，却游走得少得多：后 200 步离 3 的均方距离，权重为 0.0715，平均为 0.0336。

# %% [markdown]
# ## Label smoothing
#
# Instead of training towards a one-hot target, the paper mixes in a little
# of the uniform distribution, $\epsilon_{ls} = 0.1$:
# $q = (1-\epsilon)\,\mathrm{onehot}(y) + \epsilon / V$. The model is
# discouraged from becoming certain; the paper reports that this hurts
# perplexity but improves accuracy and BLEU. The uniform part is spread over
# the whole vocabulary, reserved tokens included: a little of the target
# mass lands on `[PAD]` and `[START]`, which a target never is. With 806
# English pieces that is 0.1 / 806 each, too little to matter, and it keeps
# the formula the paper's.

# %%
V, label, eps = 10, 3, 0.1
one_hot = np.eye(V)[label]
smoothed = (1 - eps) * one_hot + eps / V
fig, axes = plt.subplots(1, 2, figsize=(9, 2.8), sharey=True)
axes[0].bar(range(V), one_hot)
axes[0].set_title("one-hot target")
axes[1].bar(range(V), smoothed, color="tab:orange")
axes[1].set_title(f"label-smoothed target (eps = {eps})")
for ax in axes:
    ax.set_xlabel("token id")
plt.show()
print("smoothed target:", smoothed, " sum:", smoothed.sum())

# %% [markdown]
# **要点**
#
# - 训练目标不用 one-hot，而是混入一点均匀分布：q = (1 − ε)·onehot(y) + ε/V，论文取 ε_ls = 0.1。
# - 这让模型不敢变得太确定；论文报告它会使困惑度变差，但提高准确率和 BLEU。
# - 均匀的那一份摊给整个词表，保留词元也算在内：一点点目标概率落在 `[PAD]` 和 `[START]` 上，
#   而目标从来不会是它们。英语词表有 806 个片段，每个只分到 0.1/806，小到无关紧要，这样公式就与论文保持一致。
# - 图中 V = 10、标签为 3 时，平滑后的目标是一个 0.91 和九个 0.01，总和为 1。

# %% [markdown]
# ## A loss that counts real tokens only
#
# Target batches are padded with id 0. The loss at padding positions must
# not count, and the average must be over *real tokens*, so that every real
# token weighs the same however much padding surrounds it.

# %%
show(masked_loss)
show(masked_accuracy)

# %% [markdown]
# `masked_loss` gets its per-token losses from `smoothed_cross_entropy`,
# which also writes out their gradient. For any target distribution $q$, the
# gradient of $-\sum_k q_k \log \mathrm{softmax}(z)_k$ with respect to the
# logits is simply $\mathrm{softmax}(z) - q$. Autodiff would reach the same
# numbers through the log-sum-exp, the gather of the label's logit and the
# mean, adding three `[batch, T, vocab]` gradients; the written-out gradient
# is one expression that reuses the forward pass's `exp`. Those tensors are
# the widest in the model: the course's English vocabulary has 806 pieces,
# so each holds 806 numbers per target token, 6.3 times the 128 (`d_model`
# of the `tutorial` preset) that the layers pass along per token.

# %%
tokenizers = load_tokenizers()
target_vocab = int(tokenizers.target.get_vocab_size())
tutorial_width = PRESETS["tutorial"]["d_model"]
print(f"target vocabulary: {target_vocab} pieces; tutorial d_model: {tutorial_width}")
print(f"a [batch, T, vocab] tensor is {target_vocab / tutorial_width:.1f} times a [batch, T, d_model] one")
assert (target_vocab, tutorial_width) == (806, 128)
assert f"{target_vocab / tutorial_width:.1f}" == "6.3"
show(smoothed_cross_entropy)

# %% [markdown]
# A worked example: a batch of two target sentences over a vocabulary of 5.
# The first has 3 real tokens; the second only 1, then padding.

# %%
labels = tf.constant([[1, 4, 2], [3, 0, 0]])  # (batch=2, T=3)
logits = tf.constant(
    [
        [
            [0.1, 2.0, 0.3, 0.0, 0.5],  # predicts 1: right
            [0.2, 0.1, 0.4, 0.3, 1.5],  # predicts 4: right
            [1.0, 0.2, 0.1, 0.9, 0.0],
        ],  # predicts 0: wrong (label 2)
        [
            [0.0, 0.3, 0.2, 2.5, 0.1],  # predicts 3: right
            [9.0, 0.0, 0.0, 0.0, 0.0],  # padding: ignored
            [0.0, 0.0, 9.0, 0.0, 0.0],
        ],
    ]
)  # padding: ignored

log_p = logits.numpy() - np.log(np.exp(logits.numpy()).sum(-1, keepdims=True))  # log-softmax
target = (1 - eps) * np.eye(5)[labels.numpy()] + eps / 5  # (2, 3, 5)
per_token = -(target * log_p).sum(-1)  # (2, 3)
mask = labels.numpy() != 0
by_hand_loss = per_token[mask].sum() / mask.sum()
by_hand_accuracy = (log_p.argmax(-1) == labels.numpy())[mask].mean()
print("per-token loss:\n", per_token)
print("real tokens:", mask.sum())
print(f"loss: by hand {by_hand_loss:.6f}, library {float(masked_loss(labels, logits)):.6f}")
print(f"accuracy: by hand {by_hand_accuracy:.4f}, library {float(masked_accuracy(labels, logits)):.4f}")
np.testing.assert_allclose(float(masked_loss(labels, logits)), by_hand_loss, rtol=1e-5)
np.testing.assert_allclose(float(masked_accuracy(labels, logits)), by_hand_accuracy, rtol=1e-6)

# %% [markdown]
# The confident logits at the padding positions (9.0) would have changed a
# naive average; here they count for nothing. Averaging per sentence first
# would have given the one-token sentence three times the weight of each
# token in the first; the library's average over real tokens does not.

# %%
naive = per_token.mean()
per_sentence = np.mean([per_token[i][mask[i]].mean() for i in range(2)])
print(f"average over all positions (wrong): {naive:.4f}")
print(f"average of sentence averages:       {per_sentence:.4f}")
print(f"average over real tokens (ours):    {by_hand_loss:.4f}")

# %% [markdown]
# The gradient, by hand: `softmax - q` at each real token, divided by the
# number of real tokens, and zero at padding. TensorFlow's gradient of the
# library's loss is the same.

# %%
by_hand_grad = (np.exp(log_p) - target) * mask[..., None] / mask.sum()  # (2, 3, 5)
with tf.GradientTape() as tape:
    tape.watch(logits)
    loss = masked_loss(labels, logits)
library_grad = tape.gradient(loss, logits).numpy()
np.testing.assert_allclose(library_grad, by_hand_grad, atol=1e-7)
print("gradient at the first token:", library_grad[0, 0].round(4))
print(
    "largest at padding:",
    np.abs(library_grad[1, 1:]).max(),
    "  largest difference from the hand computation:",
    np.abs(library_grad - by_hand_grad).max(),
)

# %% [markdown]
# **要点**
#
# - 目标批次用 id 0 填充。填充位置的损失不能计入，平均也必须在真实词元上求，这样不论周围有多少填充，
#   每个真实词元的权重都一样。
# - `masked_loss` 的逐词元损失来自 `smoothed_cross_entropy`，它直接写出梯度：对任何目标分布 q，−Σₖ qₖ log
#   softmax(z)ₖ 对 logits 的梯度就是 softmax(z) − q。自动微分要经过 log-sum-exp、取出标签对应的 logit
#   和求平均，把三个 `[batch, T, vocab]` 的梯度加起来才得到同样的数；写出来的梯度只是一个表达式，
#   还复用前向计算的 `exp`。这些张量是模型中最宽的：英语词表有 806 个片段，是 `tutorial` 预设 d_model（128）的
#   6.3 倍。
# - 手算例子（词表大小 5，两句目标，第一句 3 个真实词元，第二句只有 1 个，其后是填充）：损失 1.013394，准确率
#   0.75，与库一致；填充位置上非常自信的 logits（9.0）一点也不计入。
# - 三种平均的对比：对所有位置求平均（错误）得 2.2658；先按句平均再平均得 0.8466，
#   它让只有一个词元的句子里那个词元的权重是第一句每个词元的三倍；在真实词元上求平均（本库的做法）得 1.0134。
# - 梯度也手算核对：每个真实词元处是 softmax − q 除以真实词元数，填充处为 0；TensorFlow
#   对库里损失求出的梯度与之相同。

# %% [markdown]
# ## What we built
#
# - The paper's warm-up schedule, checked against its formula and plotted
#   for four `d_model`/`warmup` pairs; Adam with $\beta_2 = 0.98$,
#   $\epsilon = 10^{-9}$.
# - Label smoothing, drawn.
# - `masked_loss` and `masked_accuracy`, reproduced by hand on a padded
#   batch, including why the average is taken over real tokens, and the
#   loss's gradient, `softmax - q`, written out and checked.

# %% [markdown]
# **要点：本节小结**
#
# - 论文的预热学习率调度，与公式核对，并对四组 d_model / warmup 画出曲线；Adam 取 β₂ = 0.98、ε = 10⁻⁹。
# - 权重的指数移动平均（`AveragingAdam`）：只用于验证和检查点，比它所跟随的权重抖动得少。
# - 画出标签平滑后的目标分布。
# - 在带填充的批次上手算重现 `masked_loss` 和 `masked_accuracy`，说明为什么要在真实词元上求平均；损失的梯度
#   softmax − q 直接写出并核对。
#
# **练习**（英文原题在下一格；参考解答见
# [solutions/05_optimizer_and_loss.py](solutions/05_optimizer_and_loss.py)）
#
# 1. **动手算。** 论文的 base 模型 d_model = 512，预热 4000 步。它的学习率在第几步达到峰值？从 0 计数的
#    `WarmupSchedule` 在第几次优化器迭代给出这个峰值？峰值多大？base 模型训练满 100,000 步时学习率是多少？big
#    模型 d_model = 1024：预热相同时，峰值低多少？预热多少步才能得到 base 模型的峰值？
# 2. **动手算。** 在大小为 5 的词表上，模型给正确词元的 logit 为 M，其余四个为 0。M 很大时，先不用标签平滑、
#    再用 ε = 0.1，逐词元损失和它对 logits 的梯度各是多少？两种情况下，一步梯度下降把 M 往哪个方向推？
#    这说明标签平滑是做什么用的？
# 3. **写代码。** 用 `make_optimizer(d_model=128, warmup_steps=400)` 创建课程的优化器，对梯度分别为 10⁻³、−10³
#    和 1 的三个权重做一步更新。每个权重移动多远，为什么？（算出一步之后 Adam 经过偏差修正的两个平均。）这对
#    Adam 为什么需要预热说明了什么？
# 4. **写代码。** 两个批次：第一个只有一个真实目标词元，预测对了；第二个有九个，对了三个。用
#    `tf_transformer.training.MaskedAccuracy` 计算两批合起来的准确率，再算两批各自 `masked_accuracy` 的平均。
#    哪个数让每个词元的权重相同？Keras 通用的 `keras.metrics.MeanMetricWrapper(fn=masked_accuracy)`
#    报告的是哪一个？

# %% [markdown]
# ## Exercises
#
# Four exercises on the schedule, the smoothed loss, Adam's first steps and
# the accuracy metric.
#
# 1. **By hand.** The paper's base model has `d_model` = 512 and 4,000
#    warm-up steps. At which step does its learning rate peak, at which
#    optimizer iteration does `WarmupSchedule` (which counts from 0) give
#    that peak, and how large is it? What is the rate at the end of the base
#    model's 100,000 steps? The big model has `d_model` = 1024: with the same
#    warm-up, how much lower is its peak, and what warm-up would give it the
#    base model's peak?
# 2. **By hand.** A model puts logit *M* on the right token and 0 on the
#    other four tokens of a vocabulary of 5. For large *M*, what are the
#    per-token loss and its gradient with respect to the logits, first
#    without label smoothing, then with ε = 0.1? Which way does a step of
#    gradient descent move *M* in each case, and what does that say about
#    what label smoothing is for?
# 3. **By code.** Make the course's optimizer with
#    `make_optimizer(d_model=128, warmup_steps=400)` and apply one step to
#    three weights whose gradients are 10⁻³, −10³ and 1. How far does each
#    weight move, and why? (Work out Adam's bias-corrected averages after one
#    step.) What does the answer say about why Adam needs a warm-up?
# 4. **By code.** Two batches: the first has one real target token,
#    predicted right; the second has nine, three of them right. Compute the
#    accuracy over both with `tf_transformer.training.MaskedAccuracy`, and
#    the mean of the two batches' `masked_accuracy`. Which number weighs
#    every token the same, and which one would Keras's generic
#    `keras.metrics.MeanMetricWrapper(fn=masked_accuracy)` report?
#
# Worked solutions: [solutions/05_optimizer_and_loss.py](solutions/05_optimizer_and_loss.py)
# (run it from this folder: `python solutions/05_optimizer_and_loss.py`).
