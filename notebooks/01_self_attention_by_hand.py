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
# - that the library's `MultiHeadAttention` returns exactly these numbers.
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
# 并验证库里的 `MultiHeadAttention` 给出的数字与手算完全相同。

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
#
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
from tf_transformer.diagram import architecture_figure

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
