# %% [markdown]
# # 3. Positional encoding and multi-head attention
#
# **What you will learn:**
# - why attention needs to be told where each token is, and the sinusoidal
#   encoding that tells it (section 3.5), drawn as heatmaps of its sines
#   and its cosines and as a similarity map between positions;
# - `PositionalEmbedding`: token embedding, scaling, and the added encoding;
# - padding masks and causal masks, drawn;
# - `MultiHeadAttention` from `tf_transformer/layers/attention.py`, line by
#   line, with the shape at every step, rebuilt by hand and checked equal,
#   and its weights opened in an interactive view;
# - the key/value cache that makes decoding fast.

# %% [markdown]
# ## 本节内容
#
# 本节讲让注意力“知道词序”、又“不越界”的两样东西。注意力本身把输入当作一个集合，不区分词序，
# 所以要给每个位置加上正弦位置编码（positional encoding）：我们对照公式逐项核对它，画出它的热图，
# 并说明它为什么能表达相对位置。接着看嵌入（embedding）层 `PositionalEmbedding`，
# 再画出填充掩码（padding mask）和因果掩码（causal mask，又称前瞻掩码）。
# 然后以交叉注意力（cross-attention）为例，逐行重放库里 `MultiHeadAttention` 的前向计算，
# 每一步都标出张量形状；最后介绍键值缓存（KV cache），并验证逐个词元解码与一次算完整句的结果相同。
# 学完后，你能读懂并亲手复现多头注意力的每一行代码。

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

import math

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from IPython.display import display
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from tf_transformer.course import show
from tf_transformer.layers import MultiHeadAttention, PositionalEmbedding, causal_mask, positional_encoding
from tf_transformer.viz import attention_view

np.set_printoptions(precision=3, suppress=True)


# %% [markdown]
# ## Attention has no sense of order
#
# Self-attention treats its input as a *set*: permute the tokens and the
# outputs are permuted the same way, nothing else changes. "The dog bit the
# man" and "the man bit the dog" would look alike. Let us check that claim
# on the library's layer before fixing it.

# %%
keras.utils.set_random_seed(0)
mha = MultiHeadAttention(d_model=8, num_heads=2)
x = tf.random.normal((1, 5, 8))  # (batch, tokens, d_model)
perm = [3, 0, 4, 1, 2]
out = mha(x)
out_of_permuted = mha(tf.gather(x, perm, axis=1))
np.testing.assert_allclose(tf.gather(out, perm, axis=1), out_of_permuted, atol=1e-5)
print("permuting the input only permutes the output: attention alone ignores order")

# %% [markdown]
# **要点**
#
# - 自注意力把输入当作一个集合：把词元的顺序打乱，输出只是跟着同样打乱，别的都不变。“The dog bit the man” 和
#   “the man bit the dog” 看起来一样。
# - 单元格在库里的层上验证了这一点（`MultiHeadAttention`，d_model = 8，2 个头，5 个随机词元）：只靠注意力，
#   分不出词序。
# - 所以必须另外告诉模型每个词元在哪里：下面的位置编码就是为此而加的。

# %% [markdown]
# ## The sinusoidal encoding
#
# The paper adds to each token embedding a vector that depends only on the
# position `pos`. Dimension pair `i` oscillates at its own frequency:
#
# $$PE_{(pos, 2i)} = \sin\!\left(pos / 10000^{2i/d_{model}}\right), \qquad
#   PE_{(pos, 2i+1)} = \cos\!\left(pos / 10000^{2i/d_{model}}\right).$$
#
# Wavelengths range from $2\pi$ (the first pair, $i = 0$) to
# $2\pi \cdot 10000^{(d_{model}-2)/d_{model}}$ (the last, $i = d_{model}/2 - 1$),
# just under $10000 \cdot 2\pi$. The library keeps the sines in even columns and cosines in odd ones,
# exactly as written; its docstring says why:

# %%
show(positional_encoding)

# %% [markdown]
# By hand, for one position and one pair, and checked against the table:

# %%
length, depth = 64, 128
table = positional_encoding(length, depth).numpy()  # (64, 128)
pos, i = 10, 3
angle = pos / 10000 ** (2 * i / depth)
print(f"PE[{pos}, {2 * i}]   = sin({angle:.4f}) = {math.sin(angle):.6f}, table: {table[pos, 2 * i]:.6f}")
print(
    f"PE[{pos}, {2 * i + 1}] = cos({angle:.4f}) = {math.cos(angle):.6f}, table: {table[pos, 2 * i + 1]:.6f}"
)
assert abs(table[pos, 2 * i] - math.sin(angle)) < 1e-6
assert abs(table[pos, 2 * i + 1] - math.cos(angle)) < 1e-6

# %% [markdown]
# The table interleaves the two functions: column 0 is the sine of pair 0,
# column 1 its cosine, column 2 the sine of pair 1, and so on. Drawn as it
# is stored, neighbouring columns alternate and the picture is striped.
# Below, the sines (even columns) and the cosines (odd columns) are drawn
# apart, each against its pair `i`. Low pairs oscillate fast down the
# positions; the frequency falls as `i` grows, and for the slowest pairs the
# 64 positions shown are a small part of one period, so the sine stays near
# 0 and the cosine near 1.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True, layout="constrained")
for ax, start, name in [(axes[0], 0, "sin"), (axes[1], 1, "cos")]:
    im = ax.pcolormesh(table[:, start::2], cmap="RdBu", vmin=-1, vmax=1)  # (64 positions, 64 pairs)
    ax.set_xlabel(f"pair i (table column 2i + {start})")
    ax.set_title(f"{name}(pos / 10000^(2i/{depth}))")
axes[0].set_ylabel("position")
fig.suptitle("positional encoding, sines and cosines apart: fast waves on the left, slow on the right")
fig.colorbar(im, ax=axes, label="encoding value")
plt.show()
slowest_sin, slowest_cos = table[:, depth - 2], table[:, depth - 1]  # the last pair, all positions
largest_sin, smallest_cos = abs(slowest_sin).max(), slowest_cos.min()
print(f"last pair over {length} positions: |sin| <= {largest_sin:.4f}, cos >= {smallest_cos:.4f}")
assert largest_sin < 0.01 and smallest_cos > 0.99

# %% [markdown]
# **Nearby positions look alike.** The dot product between two rows depends
# only on their distance (each sin/cos pair contributes
# $\cos(\omega (p - q))$), and it is largest at distance zero. So the
# encoding carries *relative* position in a form dot-product attention can
# read.

# %%
similarity = table @ table.T  # (64, 64)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
im = axes[0].imshow(similarity, cmap="viridis")
axes[0].set_title("PE[p] · PE[q]")
axes[0].set_xlabel("q")
axes[0].set_ylabel("p")
fig.colorbar(im, ax=axes[0])
axes[1].plot(similarity[20], label="p = 20")
axes[1].plot(similarity[40], label="p = 40")
axes[1].set_xlabel("q")
axes[1].set_title("one row: peaks at q = p")
axes[1].legend()
plt.show()
# Shift invariance: the similarity depends on p - q only.
np.testing.assert_allclose(similarity[20, 25], similarity[40, 45], rtol=1e-5)

# %% [markdown]
# **要点**
#
# - 论文给每个词元嵌入加上一个只依赖位置 pos 的向量，第 i 对维度以各自的频率振荡：PE(pos, 2i) = sin(pos /
#   10000^(2i/d_model))，PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))（论文 3.5 节）。
# - 波长从 2π（第一对，i = 0）一直到略小于 10000 · 2π（最后一对）。库把正弦放在偶数列、余弦放在奇数列，
#   与公式的写法一致，可以逐列核对；TensorFlow 的教程先放全部正弦、再放全部余弦，特征相同，只是列的顺序不同。
# - 手算一个位置的一对值：PE[10, 6] = sin(6.4938) = 0.209077，PE[10, 7] = cos(6.4938) = 0.977899，
#   与表中的值相同。
# - 热图中，编号小的维度对沿位置振荡得快，i 越大频率越低；对最慢的那几对，图中的 64
#   个位置只是一个周期的一小段，所以正弦接近 0、余弦接近 1。
# - 相近的位置看起来相似：两行的点积只取决于它们的距离（每对 sin/cos 贡献 cos(ω(p − q))），在距离为 0 时最大。
#   所以位置编码以点积注意力读得出的形式携带了相对位置。

# %% [markdown]
# ## `PositionalEmbedding`
#
# The token embedding is multiplied by $\sqrt{d_{model}}$ (section 3.4), then
# the encoding is added. The `start` argument lets a decoder that produces one
# token at a time embed token number `t` with the encoding of position `t`.

# %%
show(PositionalEmbedding)

# %%
emb = PositionalEmbedding(vocab_size=20, d_model=8, max_length=16)
ids = tf.constant([[5, 9, 2, 0]])  # (batch=1, 4 tokens); 0 is padding
vectors = emb(ids)  # (1, 4, 8)
by_hand = emb.embedding.embeddings.numpy()[ids[0]] * math.sqrt(8) + positional_encoding(16, 8)[:4]
np.testing.assert_allclose(vectors[0], by_hand, atol=1e-6)
print("ids", ids.shape, "->", vectors.shape, "and the hand computation agrees")
np.testing.assert_allclose(emb(ids[:, 2:3], start=2), vectors[:, 2:3], atol=1e-6)
print("embedding token 2 alone with start=2 gives the same vector as in the full pass")

# %% [markdown]
# **Learned positions, or none.** The sinusoids are one choice. The paper
# also tried a *learned* table, one trained vector per position (Table 3,
# row E, "nearly identical results"); and a model can be given no position
# at all, which brings back the problem this notebook started with. The
# layer's `positions` argument (`TransformerConfig.positions` for a whole
# model) picks one: `"sinusoidal"`, `"learned"` (a `max_length × d_model`
# table of weights, trained like the token embedding) or `"none"`.
# Notebook 9 trains all three and compares them.

# %%
learned = PositionalEmbedding(vocab_size=20, d_model=8, max_length=16, positions="learned")
learned(ids)  # builds the weights
print("learned:", [(w.path, tuple(w.shape)) for w in learned.trainable_weights])

bag = PositionalEmbedding(vocab_size=20, d_model=8, max_length=16, positions="none")
swapped = tf.constant([[9, 5, 2, 0]])  # tokens 0 and 1 exchanged
np.testing.assert_allclose(bag(swapped)[0], tf.gather(bag(ids)[0], [1, 0, 2, 3]), atol=1e-6)
print("none: exchanging two tokens only exchanges their vectors; order is invisible again")

# %% [markdown]
# **要点**
#
# - `PositionalEmbedding` 先把词元嵌入乘以 √d_model（论文 3.4 节），再加上位置编码。
# - `start` 参数让逐个生成词元的解码器用位置 t 的编码来嵌入第 t 个词元：单元格验证了用 `start=2` 单独嵌入第 2
#   个词元，与整句一起算得到的向量相同。
# - 正弦只是一种选择。`positions="learned"` 是每个位置一个可训练的向量（论文表 3 的 E 行：“结果几乎相同”），
#   `positions="none"` 不加任何位置信息，于是又回到本节开头的问题：交换两个词元只会交换它们的向量。第 9
#   节训练并比较这三种做法。

# %% [markdown]
# ## Masks
#
# Batches hold sentences of different lengths, padded with token id 0. Two
# masks keep attention honest; both are boolean, `True` where looking is
# allowed:
#
# - the **padding mask** `[batch, keys]`: no query may attend to a padding key;
# - the **causal mask** `[queries, keys]`: in the decoder, position *t* may
#   attend only to positions ≤ *t*, so training on whole sentences cannot
#   peek at the word it is asked to predict.
#
# The decoder uses both at once (their logical AND).

# %%
batch_ids = tf.constant([[7, 4, 9, 3, 0, 0], [8, 3, 0, 0, 0, 0]])
padding_mask = tf.not_equal(batch_ids, 0)  # (2, 6)
causal = causal_mask(6, 6)  # (6, 6)
combined = tf.logical_and(padding_mask[:, None, :], causal[None])  # (2, 6, 6)

allowed_colour, masked_colour = "tab:green", "lightgrey"
two_colours = ListedColormap([masked_colour, allowed_colour])  # False -> grey, True -> green
fig, axes = plt.subplots(1, 3, figsize=(11, 3.9), layout="constrained")
panels = [
    (padding_mask, "padding mask [batch, key]", "sentence"),
    (causal, "causal mask [query, key]", "query position"),
    (combined[0], "sentence 0: both (AND)", "query position"),
]
for ax, (mask, title, ylabel) in zip(axes, panels, strict=True):
    ax.imshow(mask, cmap=two_colours, vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xlabel("key position")
    ax.set_ylabel(ylabel)
fig.legend(
    handles=[
        Patch(color=allowed_colour, label="True: may attend to this key"),
        Patch(color=masked_colour, label="False: masked out (weight 0)"),
    ],
    loc="outside lower center",
    ncols=2,
)
plt.show()

# %% [markdown]
# **要点**
#
# - 批次中的句子长短不一，用 id 0 填充。两种掩码都是布尔张量，True 表示允许关注。
# - 填充掩码（padding mask）`[batch, keys]`：任何查询都不得关注填充位置的键。
# - 因果掩码（causal mask）`[queries, keys]`：在解码器里，位置 t 只能关注位置 ≤ t，
#   所以用整句训练时也偷看不到要预测的那个词。
# - 解码器同时使用两者（逻辑与）。图中绿色表示可以关注这个键，灰色表示被屏蔽（权重为 0）。

# %% [markdown]
# ## `MultiHeadAttention`, line by line
#
# Here is the whole layer as the library has it. Below, we replay its
# forward pass (`call_with_attention`, then `_attend`) one line at a time on a
# tiny example and compare. (`call` is the same pass, returning only the output.)

# %%
show(MultiHeadAttention)

# %% [markdown]
# **The weights.** `build` creates $W^Q, W^K, W^V, W^O$, each
# `d_model × d_model`, and their biases. The $h$ per-head projections of the
# paper are the column blocks of these matrices. (That is the paper's
# choice $d_k = d_v = d_{model}/h$. The `key_dim` argument sets $d_k$ apart,
# as Table 3's rows B do; then $W^Q$ and $W^K$ are `d_model × h·d_k`, the
# values keep $d_v = d_{model}/h$, and notebook 9 measures what a smaller
# $d_k$ costs.)
#
# Our example: batch 2, a target of 4 tokens attending to a source of 6
# tokens (cross-attention), `d_model = 8`, `h = 2` heads of `d_k = 4`.

# %%
keras.utils.set_random_seed(1)
B, Tq, Tk, d_model, h = 2, 4, 6, 8, 2
d_k = d_model // h
query = tf.random.normal((B, Tq, d_model))
context = tf.random.normal((B, Tk, d_model))
context_ids = tf.constant([[4, 5, 6, 7, 8, 9], [4, 5, 6, 0, 0, 0]])
context_mask = tf.not_equal(context_ids, 0)  # (B, Tk)

mha = MultiHeadAttention(d_model, h)
expected = mha(query, context, padding_mask=context_mask)  # the first call also creates the weights
expected_weights = mha.call_with_attention(query, context, padding_mask=context_mask).weights
Wq, bq = mha.query_kernel.numpy(), mha.query_bias.numpy()
Wk, bk = mha.key_kernel.numpy(), mha.key_bias.numpy()
Wv, bv = mha.value_kernel.numpy(), mha.value_bias.numpy()
Wo, bo = mha.output_kernel.numpy(), mha.output_bias.numpy()
print("W^Q", Wq.shape, " W^K", Wk.shape, " W^V", Wv.shape, " W^O", Wo.shape)

# %% [markdown]
# **1. Project.** `q = _dense(query, W^Q, b^Q)`: one matrix product for all
# heads. Keys and values come from the context (`project_key_value`, which
# computes both with a single product against `[W^K | W^V]`).

# %%
q = query.numpy() @ Wq + bq  # (B, Tq, d_model)
k = context.numpy() @ Wk + bk  # (B, Tk, d_model)
v = context.numpy() @ Wv + bv  # (B, Tk, d_model)
print("q", q.shape, " k", k.shape, " v", v.shape)

# %% [markdown]
# **2. Split heads.** `_split_heads` reshapes the last axis into
# `(h, d_k)` and moves the head axis forward, so each head is an independent
# batch of attention problems.


# %%
def split_heads(x):  # (B, T, d_model) -> (B, h, T, d_k)
    return x.reshape(x.shape[0], x.shape[1], h, d_k).transpose(0, 2, 1, 3)


qh, kh, vh = split_heads(q), split_heads(k), split_heads(v)
print("q heads", qh.shape, " k heads", kh.shape, " v heads", vh.shape)

# %% [markdown]
# **3. Scores, scaled.** `q k^T / sqrt(d_k)`: every query against every key,
# in every head. The library multiplies `q` by `1 / sqrt(d_k)` before the
# product rather than the scores after it: that scales `Tq x d_model` numbers
# instead of `h x Tq x Tk`, fewer whenever the keys outnumber `d_k` (the
# usual case), and gives the same scores up to float rounding. The scores
# are kept in float32 even under mixed precision, so the mask value and
# softmax stay safe.

# %%
scores = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(d_k)  # (B, h, Tq, Tk)
print("scores", scores.shape)

# %% [markdown]
# **4. Mask.** The padding mask `[B, Tk]` becomes `[B, 1, 1, Tk]` so it
# broadcasts over heads and queries; disallowed scores become -1e9, which
# softmax turns into exactly zero. (The library *adds* a bias of 0 or -1e9,
# built at the mask's small shape: one broadcast addition, whose gradient
# costs nothing, where selecting would cost a pass over the scores each way.
# In float32, `score - 1e9` rounds to -1e9, so both give the same weights.)

# %%
allowed = context_mask.numpy()[:, None, None, :]  # (B, 1, 1, Tk)
scores = np.where(allowed, scores, -1e9)

# %% [markdown]
# **5. Softmax** over the keys axis: each query's weights sum to one.
# (Dropout, active only in training, then zeroes some weights.)

# %%
weights = np.exp(scores - scores.max(-1, keepdims=True))
weights /= weights.sum(-1, keepdims=True)  # (B, h, Tq, Tk)
np.testing.assert_allclose(weights, expected_weights, atol=1e-6)
print("weights match the layer's; sentence 1 gives its 3 padding keys:", weights[1, :, :, 3:].max())

# %% [markdown]
# **6. Weighted values, merge heads, output projection.** `_merge_heads`
# undoes step 2 (that is the Concat of equation 1), and $W^O$ mixes the heads.

# %%
heads = weights @ vh  # (B, h, Tq, d_k)
merged = heads.transpose(0, 2, 1, 3).reshape(B, Tq, d_model)  # (B, Tq, d_model)
output = merged @ Wo + bo  # (B, Tq, d_model)
np.testing.assert_allclose(output, expected, atol=1e-5)
print("output", output.shape, "== the library's output")

# %% [markdown]
# **The weights, to explore.** `tf_transformer.viz.attention_view` turns
# attention weights `[layers, heads, queries, keys]` into an interactive
# page: choose a head (or their mean), hover or click a query to see where
# it looks. Here are the weights we just replayed for sentence 1 (one layer,
# 2 heads, 4 queries, 6 keys of which the last 3 are padding). The inputs
# and the layer's projections are random, so apart from the padding columns,
# which get no weight at all, the patterns mean nothing; notebook 7 opens
# the same view on the trained model's translations. The page lives in this
# notebook's output only: nothing is written to disk.

# %%
view = attention_view(
    ["k0", "k1", "k2", "[PAD]", "[PAD]", "[PAD]"],  # the 6 keys of sentence 1
    ["q0", "q1", "q2", "q3"],  # its 4 queries
    cross=weights[1:2],  # (1 layer, h, Tq, Tk)
    title="The replayed cross-attention, sentence 1 (random weights)",
)
assert view.kinds == ("cross",) and weights[1:2].shape == (1, h, Tq, Tk)
assert weights[1, :, :, 3:].max() == 0  # the padding keys
display(view)

# %% [markdown]
# In self-attention (no `context`, no `key_value`) the layer takes a short cut:
# queries, keys and values come from the same input, so it multiplies once
# by `[W^Q | W^K | W^V]` and splits the result in three. Same numbers, one
# larger matrix product instead of three small ones.

# %% [markdown]
# **要点**
#
# - `build` 创建 W^Q、W^K、W^V、W^O（各为 d_model × d_model）及其偏置，论文中 h
#   个头各自的投影就是这些矩阵的列块，即论文的取法 d_k = d_v = d_model/h。`key_dim` 参数可以单独设定
#   d_k（如论文表 3 的 B 行），第 9 节测量较小的 d_k 要付出什么代价。
# - 以交叉注意力为例逐行重放（批大小 2，4 个目标词元关注 6 个源词元，d_model = 8，h = 2，d_k = 4）：① 投影：
#   所有头一次矩阵乘法，键和值来自上下文，乘以 [W^K | W^V] 一次算出；② 拆分头：把最后一维变成 (h, d_k)，
#   并把头的轴提前，每个头成为一批独立的注意力问题；③ 打分并缩放：qkᵀ/√d_k。库在乘积之前先把 q 乘以 1/√d_k，
#   要缩放的数更少，打分相同；打分在混合精度下也保持 float32。
# - ④ 掩码：填充掩码扩成 `[B, 1, 1, Tk]`，广播到各个头和各个查询，被禁止的打分变成 −1e9，softmax 后恰好为
#   0（库按掩码的小形状构造 0 / −1e9 的偏置再加上去，结果相同）；⑤ softmax：沿键的轴，每个查询的权重和为
#   1（训练时随后做暂退法）；⑥ 用权重对值加权求和，合并各头（即式 1 中的 Concat），再乘 W^O 混合各头。
# - 每一步都与层自己的输出和权重一致；第二句的 3 个填充键得到的权重恰好是 0。
# - `attention_view` 把权重做成交互页面：选一个头（或各头平均），悬停或点击一个查询，看它关注哪里。
#   这里的权重是随机的，除了填充列不具任何意义；第 7 节在训练好的模型上打开同样的视图。
# - 在自注意力中（没有 `context`），层走一条捷径：查询、键、值来自同一个输入，于是一次乘以 [W^Q | W^K | W^V]
#   再分成三份，数字相同，一次大的矩阵乘法代替了三次小的。

# %% [markdown]
# ## The key/value cache
#
# A decoder generates one token at a time. Without a cache, step *t* re-runs
# the decoder over the whole prefix, recomputing the keys and values of tokens
# 0..t-1 that have not changed: the projections and feed-forward layers do
# work proportional to *t* at each step (quadratic in the length over a
# sentence), and self-attention among the *t* positions work proportional
# to *t*² (cubic over a sentence). With a cache,
# step *t* computes only token *t*'s query, key and value, writes the key and
# value into slot *t* of a preallocated buffer, and attends over slots 0..t
# (`call_cached`: the causal mask, offset by the step's `index`, hides the empty slots).
#
# The test of the idea: feeding a sequence one token at a time through the
# cache must equal the full causal pass.

# %%
keras.utils.set_random_seed(2)
self_attention = MultiHeadAttention(d_model=8, num_heads=2)
sequence = tf.random.normal((1, 5, 8))
full = self_attention(sequence, use_causal_mask=True)  # all 5 positions at once

cache = self_attention.init_cache(batch_size=1, length=8)  # keys, values: (1, h, 8, d_k) zeros
filled = []
steps = []
for t in range(5):
    out, cache = self_attention.call_cached(sequence[:, t : t + 1], cache, index=t)
    steps.append(out)
    filled.append((tf.reduce_sum(tf.abs(cache[0][0, 0]), axis=-1) > 0).numpy())
np.testing.assert_allclose(tf.concat(steps, axis=1), full, atol=1e-5)
print("token-by-token with the cache == full causal pass")

fig, ax = plt.subplots(figsize=(5, 2.6))
ax.imshow(np.array(filled), cmap="Greys", vmin=0, vmax=1)
ax.set_xlabel("cache slot")
ax.set_ylabel("after step")
ax.set_title("the key cache fills one slot per step")
plt.show()

# %% [markdown]
# For cross-attention the keys and values come from the encoder output,
# which does not change while decoding, so they are computed once
# (`project_key_value`) and passed as `key_value` to every step.

# %% [markdown]
# **要点**
#
# - 解码器一次生成一个词元。没有缓存时，第 t 步要把整个前缀重新跑一遍：投影和前馈层每步的工作量与 t
#   成正比（整句是长度的平方），自注意力与 t² 成正比（整句是长度的立方）。
# - 有了键值缓存（KV cache），第 t 步只算词元 t 的查询、键和值，把键和值写进预先分配的缓冲区的第 t 格，再在第
#   0..t 格上做注意力（`call_cached`：按这一步的 `index` 偏移的因果掩码遮住尚未写入的格子）。
# - 检验：逐个词元经缓存计算，结果与一次算完的因果注意力相同；图中键缓存每一步填满一格。
# - 交叉注意力的键和值来自编码器输出，解码期间不变，所以只算一次（`project_key_value`），作为 `key_value`
#   传给每一步。

# %% [markdown]
# ## What we built
#
# - The sinusoidal positional encoding, checked against its formula, drawn as
#   heatmaps of its sines and cosines, and shown to encode relative distance.
# - `PositionalEmbedding`, with the `start` offset a cached decoder needs,
#   and its learned and position-free variants.
# - Padding, causal and combined masks, drawn with what True and False mean.
# - Every line of `MultiHeadAttention`'s forward pass replayed in NumPy, with shapes,
#   matching the layer's output and weights, and the weights opened in the
#   interactive attention view.
# - The key/value cache, shown to reproduce the full causal pass exactly.

# %% [markdown]
# **要点：本节小结**
#
# - 正弦位置编码：与公式逐项核对，画出正弦和余弦的热图，并说明它编码了相对距离。
# - `PositionalEmbedding`，带缓存的解码器需要的 `start` 偏移，以及可学习和不加位置的两种变体。
# - 填充掩码、因果掩码和两者的组合，画出 True 与 False 的含义。
# - 用 NumPy 逐行重放 `MultiHeadAttention` 的前向计算并标出形状，与层的输出和权重一致；
#   键值缓存精确复现了完整的因果计算。
#
# **练习**（英文原题在下一格；参考解答见
# [solutions/03_positional_encoding_and_attention.py](solutions/03_positional_encoding_and_attention.py)）
#
# 1. **动手算。** 用和角公式证明：PE_{pos+k} 的每一对 sin/cos，等于 PE_pos 的同一对旋转一个只依赖 k、不依赖
#    pos 的角度，因此对某个固定矩阵 M_k 有 PE_{pos+k} = PE_pos · M_k。写出 d_model = 4 时的 M₁，并在 PE₀ = (0,
#    1, 0, 1) 上验证。这对每一行的长度、对 PE_p · PE_{p+k} 意味着什么？取几个 k，用
#    `positional_encoding(64, 128)` 验证 M_k。
# 2. **动手算。** 解码器读入目标 id `[2, 15, 27, 0]`。写出它的因果掩码、填充掩码以及两者的与（4 × 4）。
#    如果所有打分都相等，每一行注意力权重是多少？在 4 格的缓存上，`index = 2`
#    那一步带缓存的解码用的是哪个掩码？用 `causal_mask` 检查，再用一个把 `query_kernel` 设为零的
#    `MultiHeadAttention` 检查。
# 3. **写代码。** 如果一个查询的所有键都被屏蔽（整句都是填充），层会怎么做？先预测，再检查：对用 `-inf` 和用
#    `-1e9` 屏蔽的一行做 softmax；然后看库里的层、它的输出和穿过它的梯度。为什么被屏蔽的打分在 float32
#    下最终完全相等？
# 4. **做实验。** `PositionalEmbedding` 在加上位置编码之前把词元嵌入乘以 √d_model。在初始化时，对 d_model =
#    8、64、512 比较缩放后词元向量的长度与位置编码一行的长度（先根据 Keras 默认的 `Embedding` 初始化，即
#    [−0.05, 0.05] 上的均匀分布，预测两者之比），再比较同一个词元在两个位置上的余弦相似度与两个词元在同一个位
#    置上的余弦相似度。在哪些宽度下，“在哪里”淹没了“是哪个词元”？

# %% [markdown]
# ## Exercises
#
# Two exercises on paper about the encoding and the masks, one about an edge
# case of the mask value, and one measurement of what the $\sqrt{d_{model}}$
# scale is for.
#
# 1. **By hand.** Show with the angle-sum formulas that each sin/cos pair of
#    $PE_{pos+k}$ is the same pair of $PE_{pos}$ rotated by an angle that
#    depends on $k$ and not on $pos$, so that $PE_{pos+k} = PE_{pos}\,M_k$
#    for one fixed matrix $M_k$. Write $M_1$ for $d_{model} = 4$ and check it
#    on $PE_0 = (0, 1, 0, 1)$. What does it imply for the length of every row,
#    and for $PE_{p} \cdot PE_{p+k}$? Check $M_k$ against
#    `positional_encoding(64, 128)` for a few values of $k$.
# 2. **By hand.** A decoder reads the target ids `[2, 15, 27, 0]`. Write its
#    causal mask, its padding mask and their AND (4 × 4). If every score were
#    equal, what would each row of attention weights be? Which mask does a
#    cached decoding step at `index = 2` use over a 4-slot cache? Check with
#    `causal_mask`, and with a `MultiHeadAttention` whose `query_kernel` you
#    set to zero.
# 3. **By code.** What does the layer do with a query whose every key is
#    masked (a sentence that is all padding)? Predict, then check: softmax of a
#    row masked with `-inf`, and with `-1e9`; then the library's layer, its
#    output and the gradient through it. Why do all the masked scores end up
#    exactly equal in float32?
# 4. **By experiment.** `PositionalEmbedding` multiplies the token embedding
#    by $\sqrt{d_{model}}$ before adding the encoding. At initialisation,
#    compare the length of a scaled token vector with that of a positional row
#    for $d_{model} = 8, 64, 512$ (predict the ratio first, from Keras's
#    default `Embedding` initialiser, uniform in $[-0.05, 0.05]$), and the
#    cosine between one token at two positions against that between two tokens
#    at one position. At which widths does "where" drown out "which token"?
#
# Worked solutions:
# [solutions/03_positional_encoding_and_attention.py](solutions/03_positional_encoding_and_attention.py)
# (run it from this folder: `python solutions/03_positional_encoding_and_attention.py`).
