# %% [markdown]
# # 1. From RNNs to self-attention, by hand
#
# **What you will learn:**
# - why encoder-decoder RNNs struggle with long sentences, measured rather than asserted;
# - where this notebook's computation sits in the whole Transformer (one picture);
# - self-attention for two tokens computed with pencil-and-paper steps:
#   queries, keys, values, scores, scaling, softmax, weighted sums;
# - the position-wise feed-forward network applied to each result;
# - the same computation as three matrix products, then with several heads;
# - that the library's `MultiHeadAttention` returns exactly these numbers;
# - the paper's Table 1 (work per layer, sequential operations, path length)
#   measured on this machine for a recurrent layer and a self-attention layer.
#
# Equation numbers refer to Vaswani et al. (2017), *Attention Is All You Need*.

# %% [markdown]
# ## 本节内容
#
# 本节从循环神经网络（RNN）讲到自注意力（self-attention）。
# 先动手测量 RNN 的梯度消失（vanishing gradient）：输入离最后一步越远，梯度就按几何级数变得越小。
# 然后用纸笔算出两个词元（token）的自注意力：由查询 / 键 / 值（query / key / value）算出打分，
# 除以 √d_k 缩放，经 softmax 变成注意力权重（attention weights），再对值加权求和，
# 所得结果送进逐位置前馈网络（position-wise feed-forward network）。接着把同样的计算写成三次矩阵乘法，
# 也就是缩放点积注意力（scaled dot-product attention），并推广到多头注意力（multi-head attention）。
# 学完后，你能亲手算出一个小例子的注意力输出，
# 并验证库里的 `MultiHeadAttention` 给出的数字与手算完全相同。最后在这台机器上实测论文的表 1：
# 循环层与自注意力层的计算复杂度、顺序操作数和最大路径长度随序列长度的变化。

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

import inspect

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Why recurrent networks struggle
#
# An RNN reads a sentence one token at a time and squeezes everything it has
# read into one state vector, `h_t = f(h_{t-1}, x_t)`. Two problems follow.
#
# 1. **Long paths.** For the output at step `t` to depend on the input at
#    step `t - k`, the signal (and, in training, the gradient) must pass
#    through `k` applications of `f`. Each multiplies the gradient by a
#    Jacobian; when those are smaller than one, the product shrinks
#    geometrically and early words stop influencing learning.
# 2. **No parallelism over time.** `h_t` cannot be computed before
#    `h_{t-1}`, so a 50-token sentence needs 50 sequential steps, however
#    many cores the machine has.
#
# We can *measure* the first problem. Here is a plain RNN written as the loop
# it is, with random weights, fed a random 60-step sequence. We ask how large
# the gradient of the final state is with respect to each input position
# (of the sum of its components, a scalar: `GradientTape` differentiates one
# number, and a sum lets every component count).

# %%
rng = np.random.default_rng(0)
steps, width = 60, 32
W_x = tf.constant(rng.normal(size=(width, width)) / np.sqrt(width), tf.float32)
W_h = tf.constant(rng.normal(size=(width, width)) / np.sqrt(width), tf.float32)
inputs = tf.constant(rng.normal(size=(steps, 1, width)), tf.float32)

with tf.GradientTape() as tape:
    tape.watch(inputs)
    h = tf.zeros((1, width))
    for t in range(steps):  # strictly one step after another
        h = tf.tanh(inputs[t] @ W_x + h @ W_h)  # h_t = f(h_{t-1}, x_t)
    final = tf.reduce_sum(h)
grads = tape.gradient(final, inputs)  # (steps, 1, width)
grad_norm = tf.norm(grads[:, 0], axis=-1).numpy()
distance = steps - 1 - np.arange(steps)  # how far back each input is

fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(distance, grad_norm, marker=".")
ax.set_xlabel("distance from the last step (tokens)")
ax.set_ylabel("|∂(Σ h_last) / ∂x_t|")
ax.set_title("A plain RNN forgets: gradient size by distance")
plt.show()
print(f"gradient at distance 0: {grad_norm[-1]:.3g}, at distance {steps - 1}: {grad_norm[0]:.3g}")

# %% [markdown]
# The gradient falls by orders of magnitude over a few dozen steps. LSTMs and
# GRUs slow this decay with gates, and attention over the encoder states
# (Bahdanau et al., 2015) gives the decoder a shortcut, but the sequential
# recurrence remains. The Transformer removes it: in self-attention every
# position looks at every other position directly, in one step, so the path
# between any two words has length one and all positions are computed at once.

# %% [markdown]
# **要点**
#
# - RNN 逐个读入词元，把读过的一切压进一个状态向量 h_t = f(h_{t−1}, x_t)，由此带来两个问题：
#   两个词之间的路径随距离变长；沿时间无法并行，50 个词元的句子就要顺序走 50 步，机器有多少核都一样。
# - 实测第一个问题：随机权重的普通 RNN 读入 60 步的随机序列，最终状态对各位置输入的梯度随距离按数量级下降，
#   距离 0 处为 3.87，距离 59 处只有 1.08e-11。
# - LSTM 和 GRU 用门控减缓这种衰减，Bahdanau 等人（2015）对编码器状态做注意力，给解码器开了一条捷径，
#   但顺序的递归仍在。
# - Transformer 去掉了递归：自注意力中每个位置一步就直接看到所有位置，任意两词之间的路径长度为 1，
#   所有位置同时计算。

# %% [markdown]
# ## Where this notebook sits in the whole model
#
# The rest of this notebook follows two tokens through one framework: vectors
# $x_1, x_2$ go through self-attention to become $z_1, z_2$, and each $z_i$
# goes through the same feed-forward network to become $r_1, r_2$. In the
# full Transformer below (the `tutorial` preset with the course's vocabulary
# sizes, drawn as notebook 6 trains it: pre-norm, sentences of up to 64
# tokens) that is the inside of one encoder layer: the orange
# self-attention box and the blue feed-forward box in the left frame. What
# surrounds them comes later: token embeddings and positions (notebook 3),
# the residual add & norm wrappers, the stack of identical layers, and the
# decoder with its masked self-attention and its cross-attention to the
# encoder output (notebook 4).

# %%
from tf_transformer import TransformerConfig
from tf_transformer.data import load_tokenizers
from tf_transformer.viz.diagram import architecture_figure

tokenizers = load_tokenizers()
config = TransformerConfig.from_preset(  # the model notebook 6 trains: pre-norm, up to 64 tokens
    "tutorial",
    input_vocab_size=int(tokenizers.source.get_vocab_size()),
    target_vocab_size=int(tokenizers.target.get_vocab_size()),
    norm_first=True,
    max_length=64,
)
architecture_figure(config)

# %% [markdown]
# **要点**
#
# - 本节接下来跟踪两个词元：向量 x₁、x₂ 经自注意力变成 z₁、z₂，每个 zᵢ 再经同一个前馈网络变成 r₁、r₂。
# - 在整体结构图里（`tutorial` 预设，按第 6 节的训练方式画出：前置规范化，句子最长 64 个词元），
#   这正是一个编码器层的内部：左侧框中橙色的自注意力和蓝色的前馈网络。
# - 周围的部件后面再讲：词元嵌入与位置（第 3 节）；残差连接加层规范化（add & norm）、相同层的堆叠，
#   以及带掩码的自注意力和对编码器输出做交叉注意力的解码器（第 4 节）。

# %% [markdown]
# ## The sentence this course keeps coming back to
#
# > The animal didn't cross the street because it was too tired.
#
# What does "it" mean? You know at once: the animal, because streets are not
# tired. Change one word, "...because it was too wide", and "it" is the
# street. A model that reads one word at a time must carry "animal" and
# "street" across the whole sentence to decide; self-attention instead lets
# the representation of "it" look at every other word directly, with a
# weight for each. The picture that made this idea famous (Google's
# announcement of the Transformer, August 2017) showed one encoder head
# whose weights from "it" fall on "animal" in the first sentence and on
# "street" in the second. That is the seed course's intuition: "it" attends
# to "animal". This notebook computes what such a weight is, by hand;
# notebook 7 draws the weights of the model the course trains on both
# sentences, and notebook 10 measures, over hundreds of such sentences,
# whether any head of that model really points from "it" to the noun it
# means.
#
# **要点**
#
# - 全课反复回到的一句话：“The animal didn't cross the street because it was too tired.”
#   “it” 指什么？动物，因为街道不会累；把 tired 换成 wide，“it” 就成了街道。
# - 逐词读句子的模型必须把 “animal” 和 “street” 一路带到句尾才能判断；自注意力则让 “it” 的表示直接查看
#   句中每个词，每个词一个权重。
# - 让这个想法出名的那张图（2017 年 8 月 Google 介绍 Transformer 的文章）里，有一个编码器头在第一句中
#   把 “it” 的权重放在 “animal” 上，在第二句中放在 “street” 上：这就是种子课程的直觉，“it” 关注 “animal”。
# - 本节亲手算出这样的权重是什么；第 7 节画出本课训练的模型在这两句上的权重；第 10 节在几百个同类句子上
#   测量这个模型是否真有一个头从 “it” 指向它所指的名词。

# %% [markdown]
# ## Self-attention for two tokens
#
# Take a two-token sentence whose tokens are already vectors,
# $x_1, x_2 \in \mathbb{R}^{1\times 4}$, and three learned matrices
# $W^Q, W^K, W^V \in \mathbb{R}^{4\times 3}$. Small integers keep the
# arithmetic readable.

# %%
x1 = np.array([[1.0, 0.0, 1.0, 0.0]])
x2 = np.array([[0.0, 2.0, 0.0, 2.0]])
W_Q = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]], dtype=float)
W_K = np.array([[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]], dtype=float)
W_V = np.array([[0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]], dtype=float)

# %% [markdown]
# **Step 1: queries, keys, values.** Each token is projected three ways. The
# *query* says what this token is looking for, the *key* what it offers to
# others, the *value* what it hands over when attended to.

# %%
q1, k1, v1 = x1 @ W_Q, x1 @ W_K, x1 @ W_V  # each (1, 3)
q2, k2, v2 = x2 @ W_Q, x2 @ W_K, x2 @ W_V
print("q1", q1, " k1", k1, " v1", v1)
print("q2", q2, " k2", k2, " v2", v2)

# %% [markdown]
# **Step 2: scores.** How well does token 1's query match each key? A dot
# product: large when the two vectors point the same way.

# %%
s11, s12 = (q1 @ k1.T).item(), (q1 @ k2.T).item()
s21, s22 = (q2 @ k1.T).item(), (q2 @ k2.T).item()
print(f"token 1 scores: {s11}, {s12}")
print(f"token 2 scores: {s21}, {s22}")

# %% [markdown]
# **Step 3: scale by $\sqrt{d_k}$.** With $d_k$ components, a dot product of
# random unit-variance vectors has variance $d_k$; large scores push softmax
# into a corner where its gradient vanishes (section 3.2.1). Dividing by
# $\sqrt{d_k}$ (here $\sqrt 3$) keeps the variance near one.

# %%
d_k = 3
scaled1 = np.array([s11, s12]) / np.sqrt(d_k)
scaled2 = np.array([s21, s22]) / np.sqrt(d_k)
print("scaled scores, token 1:", scaled1)
print("scaled scores, token 2:", scaled2)

# %% [markdown]
# **Step 4: softmax.** Turn each token's scores into weights that are
# positive and sum to one.


# %%
def softmax(v):
    e = np.exp(v - v.max())  # subtracting the max changes nothing but avoids overflow
    return e / e.sum()


a1, a2 = softmax(scaled1), softmax(scaled2)
print("weights of token 1 over (x1, x2):", a1, "sum", a1.sum())
print("weights of token 2 over (x1, x2):", a2, "sum", a2.sum())

# %% [markdown]
# **Step 5: weighted sum of values.** Each token's new representation is the
# average of all values, weighted by its attention.

# %%
z1 = a1[0] * v1 + a1[1] * v2  # (1, 3)
z2 = a2[0] * v1 + a2[1] * v2
print("z1", z1)
print("z2", z2)

# %%
weights = np.stack([a1, a2])  # row i: where token i looks
fig, ax = plt.subplots(figsize=(3.2, 3))
im = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
for i in range(2):
    for j in range(2):
        ax.text(
            j,
            i,
            f"{weights[i, j]:.3f}",
            ha="center",
            va="center",
            color="white" if weights[i, j] < 0.6 else "black",
        )
ax.set_xticks([0, 1], ["x1 (key)", "x2 (key)"])
ax.set_yticks([0, 1], ["x1 (query)", "x2 (query)"])
ax.set_title("attention weights")
fig.colorbar(im, ax=ax, fraction=0.046)
plt.show()

# %% [markdown]
# **要点**
#
# - 每个词元经三个矩阵投影：查询（query）表示“我在找什么”，键（key）表示“我能提供什么”，值（value）
#   是被关注时交出去的内容。
# - 打分是查询与键的点积，两个向量方向越一致，分数越大：本例中词元 1 的两个打分是 2 和 4，词元 2 的是 4 和
#   16。
# - 除以 √d_k（这里是 √3）：d_k 个分量、方差为 1 的随机向量，其点积的方差是 d_k；打分太大会把 softmax
#   推到梯度消失的角落里（论文 3.2.1 节），缩放让方差保持在 1 附近。
# - softmax 把每个词元的打分变成全为正、总和为 1 的注意力权重：词元 1 对 (x₁, x₂) 的权重约为 0.24 和 0.76，
#   词元 2 约为 0.001 和 0.999。
# - 每个词元的新表示 z 是所有值按它的注意力权重求得的加权平均。

# %% [markdown]
# ## The position-wise feed-forward network
#
# After attention, every position goes through the *same* two-layer network
# on its own (equation 2): $\mathrm{FFN}(z) = \max(0, zW_1 + b_1)W_2 + b_2$.
# Attention mixes information *between* positions; the feed-forward network
# transforms each position's vector *within* itself. Here it maps the
# 3-dimensional $z$ through 6 hidden units back to 3 dimensions.

# %%
W1, b1 = rng.normal(size=(3, 6)).round(1), np.zeros(6)
W2, b2 = rng.normal(size=(6, 3)).round(1), np.zeros(3)


def ffn(z):
    return np.maximum(0, z @ W1 + b1) @ W2 + b2


r1, r2 = ffn(z1), ffn(z2)
print("r1", r1)
print("r2", r2)

# %% [markdown]
# **要点**
#
# - 注意力之后，每个位置各自经过同一个两层网络（论文式 2）：FFN(z) = max(0, zW₁ + b₁)W₂ + b₂。
# - 注意力在位置之间混合信息；前馈网络在每个位置内部变换它自己的向量。
# - 本例把 3 维的 z 经 6 个隐藏单元映射回 3 维，得到 r₁ 和 r₂。

# %% [markdown]
# ## The matrix form
#
# Stack the tokens as rows of $X \in \mathbb{R}^{2\times 4}$ and every step
# above becomes one matrix product (equation 1):
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V,
# \qquad Q = XW^Q,\ K = XW^K,\ V = XW^V.$$
#
# This is why the Transformer is fast on parallel hardware: no loop over
# positions, just a few large matrix multiplications.

# %%
X = np.concatenate([x1, x2])  # (2, 4)
Q, K, V = X @ W_Q, X @ W_K, X @ W_V  # each (2, 3)
scores = Q @ K.T / np.sqrt(d_k)  # (2, 2)
A = np.apply_along_axis(softmax, 1, scores)  # (2, 2), rows sum to 1
Z = A @ V  # (2, 3)
R = ffn(Z)  # the FFN works row by row, so it takes the matrix too

np.testing.assert_allclose(A, weights)
np.testing.assert_allclose(Z, np.concatenate([z1, z2]))
np.testing.assert_allclose(R, np.concatenate([r1, r2]))
print("matrix form == step-by-step form")

# %% [markdown]
# **要点**
#
# - 把词元按行堆成 X ∈ ℝ^{2×4}，上面的每一步都变成一次矩阵乘法（论文式 1）：Attention(Q, K, V) =
#   softmax(QKᵀ/√d_k)V，其中 Q = XW^Q，K = XW^K，V = XW^V。
# - 没有对位置的循环，只有几次大的矩阵乘法：这正是 Transformer 在并行硬件上快的原因。
# - 单元格核对了矩阵形式与逐步计算得到的权重、z 和 r 完全相同。

# %% [markdown]
# ## Several heads
#
# One set of weights gives one notion of "relevant". Multi-head attention
# (section 3.2.2) runs $h$ attentions side by side, each with its own
# smaller projections ($d_k = d_{model}/h$), concatenates their outputs and
# mixes them with one more matrix $W^O$:
#
# $$\mathrm{MultiHead}(X) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h)\,W^O.$$
#
# With $d_{model}=4$ and $h=2$ heads of width 2 (biases set to zero for now).
# We set the query and key matrices by hand so that the two heads look in
# two different ways. Recall $x_1 = (1, 0, 1, 0)$ and $x_2 = (0, 2, 0, 2)$:
#
# - **head 1 looks at itself.** $W^Q_1 = W^K_1$ maps $x_1$ to $(2, 0)$ and
#   $x_2$ to $(0, 2)$: each query matches its own key (score 4) and not the
#   other token's (score 0);
# - **head 2 looks at $x_2$.** $W^K_2$ gives $x_2$ the key $(2, 0)$ and $x_1$
#   the key $(0, 0)$, and $W^Q_2$ points every query along $(1, 0)$, so both
#   tokens score $x_2$ higher.
#
# The value and output matrices stay random: they decide what is handed
# over, not where each head looks.

# %%
d_model, h = 4, 2
head_dim = d_model // h
W_self = np.array([[2, 0], [0, 0], [0, 0], [0, 1]], dtype=float)  # x1 -> (2, 0), x2 -> (0, 2)
W_Qh = [W_self, np.array([[1, 0], [1, 0], [1, 0], [1, 0]], dtype=float)]  # head 2: x1 -> (2, 0), x2 -> (4, 0)
W_Kh = [W_self, np.array([[0, 0], [1, 0], [0, 0], [0, 0]], dtype=float)]  # head 2: x1 -> (0, 0), x2 -> (2, 0)
W_Vh = [rng.normal(size=(d_model, head_dim)) for _ in range(h)]
W_O = rng.normal(size=(d_model, d_model))
raw_scores = [(X @ W_Qh[i]) @ (X @ W_Kh[i]).T for i in range(h)]  # (2, 2) each, before scaling
print("head 1 scores:", raw_scores[0].tolist(), " head 2 scores:", raw_scores[1].tolist())
assert raw_scores[0].tolist() == [[4, 0], [0, 4]] and raw_scores[1].tolist() == [[0, 4], [0, 8]]

heads, head_weights = [], []
for i in range(h):
    Qi, Ki, Vi = X @ W_Qh[i], X @ W_Kh[i], X @ W_Vh[i]  # each (2, head_dim)
    Ai = np.apply_along_axis(softmax, 1, Qi @ Ki.T / np.sqrt(head_dim))  # (2, 2)
    heads.append(Ai @ Vi)
    head_weights.append(Ai)
by_hand = np.concatenate(heads, axis=1) @ W_O  # (2, 4)
print("output:\n", by_hand)
for i, Ai in enumerate(head_weights):
    print(f"head {i + 1} weights (row: query x1, x2; column: key x1, x2):\n", Ai)
# Where each query looks most: head 1 on itself (x1 -> x1, x2 -> x2), head 2 on x2 from both.
assert head_weights[0].argmax(axis=1).tolist() == [0, 1]
assert head_weights[1].argmax(axis=1).tolist() == [1, 1]

# %% [markdown]
# **要点**
#
# - 一组权重只能表达一种意义上的“相关”。多头注意力（论文 3.2.2 节）让 h 个注意力并排计算，
#   每个头有自己更窄的投影（d_k = d_model/h），各头的输出拼接后再乘一个矩阵 W^O。
# - 本例 d_model = 4、h = 2，每个头宽 2，偏置暂取 0；手工设定查询和键的矩阵，让两个头用两种方式看：头 1
#   看自己，头 2 看 x₂。
# - 打分印证了这个设计：头 1 为 [[4, 0], [0, 4]]，头 2 为 [[0, 4], [0, 8]]；softmax 之后，头 1 的每个查询约把
#   0.94 的权重放在自己身上，头 2 的两个查询都把大部分权重放在 x₂ 上。
# - 值矩阵和输出矩阵仍是随机的：它们决定交出什么内容，而不决定往哪里看。

# %% [markdown]
# ## The same numbers from the library
#
# `tf_transformer.layers.MultiHeadAttention` stores the $h$ per-head
# projections side by side: its `query_kernel` is
# $[W^Q_1 \mid W^Q_2] \in \mathbb{R}^{4\times 4}$, and the same for keys and
# values. Load our hand-made matrices into it and compare.

# %%
from tf_transformer.layers import MultiHeadAttention

mha = MultiHeadAttention(d_model=d_model, num_heads=h)
x = tf.constant(X[None], tf.float32)  # (batch=1, 2, 4)
mha(x)  # creates the weights
mha.query_kernel.assign(np.concatenate(W_Qh, axis=1))
mha.key_kernel.assign(np.concatenate(W_Kh, axis=1))
mha.value_kernel.assign(np.concatenate(W_Vh, axis=1))
mha.output_kernel.assign(W_O)
# the biases start at zero, as in our hand computation

out, attn = mha.call_with_attention(x)  # output and weights
print("library output:\n", out.numpy()[0])
np.testing.assert_allclose(out.numpy()[0], by_hand, atol=1e-5)
np.testing.assert_allclose(attn.numpy()[0], np.stack(head_weights), atol=1e-6)
print("library == hand computation, for the output and every head's weights")

# %% [markdown]
# The core of the layer (`_attend`, where each way of calling it ends up)
# is the matrix form above, with the heads split off a fourth axis.
# Notebook 3 goes through it line by line; here is the part that does the
# arithmetic we just did by hand (it scales $Q$ by $1/\sqrt{d_k}$ before the
# product rather than the scores after it; the scores are the same):

# %%
source = inspect.getsource(MultiHeadAttention._attend)
start = source.index("        q = self._split_heads(")
print(source[start : source.index("        return AttentionOutput(")])

# %%
fig, axes = plt.subplots(1, h, figsize=(6.4, 3.2), layout="constrained")
for i, (ax, name) in enumerate(zip(axes, ["looks at itself", "looks at x2"], strict=True)):
    head = attn.numpy()[0, i]  # (2 queries, 2 keys)
    im = ax.imshow(head, cmap="viridis", vmin=0, vmax=1)
    for row in range(2):
        for col in range(2):
            color = "white" if head[row, col] < 0.6 else "black"
            ax.text(col, row, f"{head[row, col]:.2f}", ha="center", va="center", color=color)
    ax.set_title(f"head {i + 1}: {name}")
    ax.set_xticks([0, 1], ["x1", "x2"])
    ax.set_yticks([0, 1], ["x1", "x2"])
    ax.set_xlabel("key")
axes[0].set_ylabel("query")
fig.colorbar(im, ax=axes, fraction=0.046, label="attention weight")
fig.suptitle("two heads, two different ways of looking")
plt.show()

# %% [markdown]
# **要点**
#
# - `tf_transformer.layers.MultiHeadAttention` 把 h 个头的投影并排存放：它的 `query_kernel` 就是 [W^Q₁ | W^Q₂]
#   ∈ ℝ^{4×4}，键和值同理。
# - 把手工设定的矩阵装进这个层，它的输出和每个头的注意力权重都与手算结果一致。
# - 层的核心 `_attend` 就是上面的矩阵形式，只是把头拆到第四个轴上；它在乘积之前先把 Q 乘以 1/√d_k，
#   而不是在乘积之后缩放打分，两者的打分相同。第 3 节会逐行讲解它。
# - 最后一张图把两个头的权重并排画出：同样的输入，两种不同的看法。

# %% [markdown]
# ## The paper's Table 1, measured
#
# Section 4 of the paper ("Why Self-Attention") argues for the Transformer
# with one table, Table 1, which compares four kinds of layer that map a
# sequence of $n$ vectors of width $d$ to another such sequence ($k$ is a
# convolution's kernel width, $r$ the size of a restricted neighbourhood):
#
# | layer type | work per layer | sequential operations | maximum path length |
# | --- | --- | --- | --- |
# | self-attention | $O(n^2 \cdot d)$ | $O(1)$ | $O(1)$ |
# | recurrent | $O(n \cdot d^2)$ | $O(n)$ | $O(n)$ |
# | convolutional | $O(k \cdot n \cdot d^2)$ | $O(1)$ | $O(\log_k(n))$ |
# | self-attention, restricted to $r$ neighbours | $O(r \cdot n \cdot d)$ | $O(1)$ | $O(n/r)$ |
#
# In our words: self-attention scores every pair of positions, $n^2$ dot
# products of length $d$; a recurrent layer multiplies its state by a
# $d \times d$ matrix once per position. The recurrent layer's $n$ steps
# must run one after another (the second problem of the first section),
# while all of attention's products can run at once. And a signal from the
# first token reaches the last through $n - 1$ recurrent steps, but through
# one attention step. The paper's point about the first column: attention
# is the cheaper layer while $n < d$, which holds for the sentences of
# machine translation (tens of word pieces, against the paper's
# $d_{model} = 512$); for much longer inputs it proposes the restricted row.
#
# A table of $O(\cdot)$ hides constants, so we measure the first two rows on
# this machine: one self-attention layer (the library's
# `MultiHeadAttention`, 8 heads) against one recurrent layer of the same
# width (Keras's `SimpleRNN`, $h_t = \tanh(x_t W + h_{t-1} U + b)$), both at
# `d_model = 128` (the `tutorial` preset's width), on a batch of two
# random sequences of each length $n$. `measure_layers` (in
# `tf_transformer.course.complexity`) runs each layer as a compiled
# `tf.function` graph, warms it up, and keeps the median of several timed
# calls. Next to each time it puts the size of the layer's main tensors,
# computed from their shapes (self-attention: the weights
# $[\text{batch}, h, n, n]$ and $Q, K, V$ and the output; recurrent: the
# outputs and the state it carries), the paper's operation count, the
# sequential steps, and the path length from the first token to the last.

# %%
from tf_transformer import course
from tf_transformer.course.complexity import crossover, measure_layers

FAST = course.fast_mode()  # fewer lengths and repeats; every line still runs
D_MODEL = 128
LENGTHS = [16, 64, 256] if FAST else [16, 32, 64, 128, 256, 512, 1024]
table1 = measure_layers(LENGTHS, d_model=D_MODEL, num_heads=8, batch=2, repeats=2 if FAST else 7)

print(f"{'n':>5}  {'layer':<14} {'time (ms)':>9}  {'tensors (KiB)':>13}  {'paper ops':>11}  sequential  path")
for row in table1:
    print(
        f"{row.length:>5}  {row.layer:<14} {1000 * row.seconds:>9.2f}  {row.tensor_bytes / 1024:>13,.0f}  "
        f"{row.operations:>11,}  {row.sequential_ops:>10}  {row.path_length:>4}"
    )
for field, what in [
    ("operations", "by the paper's count (n²·d against n·d²)"),
    ("tensor_bytes", "by the size of the main tensors"),
    ("seconds", "by wall time on this machine"),
]:
    n = crossover(table1, field)
    said = f"from n = {n} on" if n else f"at no measured length (up to n = {LENGTHS[-1]})"
    print(f"self-attention costs more than the recurrent layer {what}: {said}")
print(f"(d = {D_MODEL}; the paper's count crosses where n passes d)")
assert all(r.path_length == (1 if r.layer == "self-attention" else r.length - 1) for r in table1)

# %%
fig, (ax_time, ax_bytes) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
for layer, marker in [("self-attention", "o"), ("recurrent", "s")]:
    mine = [r for r in table1 if r.layer == layer]
    lengths = [r.length for r in mine]
    ax_time.loglog(lengths, [1000 * r.seconds for r in mine], marker=marker, label=layer)
    ax_bytes.loglog(lengths, [r.tensor_bytes / 1024 for r in mine], marker=marker, label=layer)
for ax in (ax_time, ax_bytes):
    ax.axvline(D_MODEL, color="gray", linestyle=":", label="n = d")
    ax.set_xlabel("sequence length n (tokens)")
    ax.legend()
ax_time.set_ylabel("median time of one call (ms)")
ax_time.set_title("wall time, this machine")
ax_bytes.set_ylabel("main tensors (KiB, from shapes)")
ax_bytes.set_title("memory of the main tensors")
fig.suptitle(f"one layer of width d = {D_MODEL}: self-attention against a recurrent layer")
plt.show()

# %% [markdown]
# Read the printout against the paper's table. The sequential steps and the
# path length are the clean columns: the recurrent layer's grow with $n$,
# attention's stay at one, at every length. The tensors column shows the
# price attention pays for that: its weights hold $h \cdot n^2$ numbers per
# sequence, so its memory curve bends up to a slope of two on the log-log
# plot, while the recurrent layer only keeps its outputs and one state.
#
# Wall time is where the constants show. The paper's count says attention
# becomes the more expensive layer once $n$ passes $d$; the measured
# crossover is printed above, and it need not fall at the same $n$. A
# recurrent layer's time is ruled by its $n$ sequential steps, each a
# small $d \times d$ product that cannot fill the cores, plus a fixed cost
# per step; attention's time is a few large matrix products that use every
# core at once. So where the measured crossover falls later than $n = d$,
# that is the sequential column of Table 1 at work; at the shortest lengths
# both layers mostly pay a fixed cost per call, and the timings there are
# close and noisy. Rerun the cell, or change `D_MODEL`, and watch the
# crossovers move with $d$.

# %% [markdown]
# **要点**
#
# - 论文第 4 节的表 1 按三项代价比较四种层：每层的计算复杂度、顺序操作数和最大路径长度。自注意力为
#   O(n²·d)、O(1)、O(1)；循环神经网络为 O(n·d²)、O(n)、O(n)；卷积神经网络为 O(k·n·d²)、O(1)、O(log_k(n))；
#   限制在 r 个邻居内的自注意力为 O(r·n·d)、O(1)、O(n/r)。
# - 按论文的计数，n < d 时自注意力更省；机器翻译的句子通常只有几十个子词，比表示宽度 d 短。
# - 本节在这台机器上实测前两行：库里的 `MultiHeadAttention` 与同宽度的 Keras `SimpleRNN`，d = 128，
#   序列长度 n 逐倍增加，记录中位数耗时、按形状算出的主要张量大小、顺序操作数和首尾词元之间的路径长度。
# - 顺序操作数和最大路径长度两列最干净：循环层随 n 增长，自注意力始终为 1。代价是内存：注意力权重有
#   h·n² 个数，曲线在对数坐标下斜率趋于 2。
# - 耗时体现了 O(·) 省去的常数：实测的交叉点打印在上面，不一定恰好在 n = d；循环层的 n 步必须依次执行，
#   每步只是一个填不满多核的小矩阵乘法，而自注意力是几次能同时用上所有核的大矩阵乘法。

# %% [markdown]
# ## What we built
#
# - A measurement of why RNNs forget: the gradient from the last step shrinks
#   by orders of magnitude across a few dozen steps.
# - Self-attention for two tokens, by hand: $q, k, v$, scores, scaling by
#   $\sqrt{d_k}$, softmax, weighted sums $z_1, z_2$, and the position-wise
#   feed-forward outputs $r_1, r_2$.
# - The matrix form, checked equal to the step-by-step form.
# - Two heads by hand, and proof that the library's `MultiHeadAttention`
#   produces the same output and the same weights per head.
# - The paper's Table 1 measured: time and tensor size of one recurrent and
#   one self-attention layer by sequence length, the sequential steps and
#   path lengths, and where attention becomes the more expensive layer.

# %% [markdown]
# **要点：本节小结**
#
# - 测量了 RNN 为什么会“遗忘”：从最后一步传回的梯度在几十步之内缩小好几个数量级。
# - 手算两个词元的自注意力：q、k、v，打分，除以 √d_k，softmax，加权求和得到 z₁、z₂，再经逐位置前馈网络得到
#   r₁、r₂；矩阵形式与逐步计算结果相同。
# - 手算两个头，并证明库里的 `MultiHeadAttention` 给出相同的输出和每个头相同的权重。
# - 实测论文的表 1：一个循环层和一个自注意力层的耗时与主要张量大小随序列长度的变化，顺序操作数和最大路径长度，
#   以及自注意力从哪个长度起变得更贵。
#
# **练习**（英文原题在下一格；参考解答见
# [solutions/01_self_attention_by_hand.py](solutions/01_self_attention_by_hand.py)）
#
# 1. **动手算。** 两个词元的查询、键和值已经投影好（d_k = 4）：q₁ = (1, 1, 0, 0)，q₂ = (1, 1, 1, 1)，k₁ = (1,
#    1, 0, 0)，k₂ = (0, 0, 1, 1)，v₁ = (1, 0)，v₂ = (0, 1)。算出四个打分，缩放，做 softmax，写出 z₁ 和 z₂；
#    再对词元 1 不除以 √d_k 重算一遍。缩放没有改变谁的权重？为什么缩放永远不会改变一个查询更偏向哪个键？
# 2. **动手算。** d_model = 4、头数 h 为 1、2、4 时，以及 `tutorial` 预设的 d_model = 128、h = 8 时，库里的
#    `MultiHeadAttention` 各有多少参数（权重和偏置）？分成更多的头，是要多花权重，还是要多花计算打分的工作量？
#    用 `count_params()` 核对。
# 3. **写代码。** 检验论文 3.2.1 节关于缩放的论证：对 d_k = 4、64、512，抽取分量方差为 1 的随机查询和键，
#    分别在除以和不除以 √d_k 时测量：q·k 的方差；在 10 个键上 softmax 最大权重的平均值；softmax 的雅可比矩阵
#    diag(p) − ppᵀ 的大小（梯度经由它传到打分）。不缩放时，d_k = 512 会怎样？
# 4. **做实验。** 把一个自注意力层（`MultiHeadAttention(d_model=32, num_heads=4)`，随机权重）放在第一部分 RNN
#    用的那 60 个输入上，测量**最后一个**位置输出之和对每个输入的梯度随距离的变化，与 RNN 的曲线比较；再试 30
#    步和 120 步。最远的词元还起作用吗？

# %% [markdown]
# ## Exercises
#
# Each exercise redoes a step of this notebook with new numbers or puts one of
# its claims to the test; pencil, paper and a calculator are enough for the
# first two.
#
# 1. **By hand.** Two tokens come with their queries, keys and values already
#    projected ($d_k = 4$): $q_1 = (1, 1, 0, 0)$, $q_2 = (1, 1, 1, 1)$,
#    $k_1 = (1, 1, 0, 0)$, $k_2 = (0, 0, 1, 1)$, $v_1 = (1, 0)$,
#    $v_2 = (0, 1)$. Compute the four scores, scale them, apply softmax and
#    write $z_1$ and $z_2$. Then redo token 1 without dividing by
#    $\sqrt{d_k}$. Whose weights does the scaling leave unchanged, and why can
#    it never change which key a query prefers?
# 2. **By hand.** How many parameters (weights and biases) does the library's
#    `MultiHeadAttention` have for $d_{model} = 4$ with $h = 1$, $2$ and $4$
#    heads, and for the `tutorial` preset's $d_{model} = 128$ with $h = 8$?
#    Does splitting into more heads cost extra weights, or extra work for the
#    scores? Check your counts with `count_params()`.
# 3. **By code.** Test the argument of section 3.2.1 for the scale. Draw random
#    queries and keys with unit-variance components for $d_k = 4, 64, 512$ and
#    measure, with and without dividing by $\sqrt{d_k}$: the variance of
#    $q \cdot k$; over 10 keys, the average largest softmax weight; and the
#    size of softmax's Jacobian $\mathrm{diag}(p) - pp^\top$, through which
#    the gradient reaches the scores. What happens at $d_k = 512$ without the
#    scale?
# 4. **By experiment.** Put one self-attention layer
#    (`MultiHeadAttention(d_model=32, num_heads=4)`, random weights) on the
#    same 60 inputs as the RNN of the first section, and measure the gradient
#    of the sum of the *last* position's output with respect to every input,
#    by distance. Compare its profile with the RNN's, then try 30 and 120
#    steps. Does the farthest token still count?
#
# Worked solutions: [solutions/01_self_attention_by_hand.py](solutions/01_self_attention_by_hand.py)
# (run it from this folder: `python solutions/01_self_attention_by_hand.py`).
