# %% [markdown]
# # 4. The model
#
# **What you will learn:**
# - the whole model in one picture, drawn from its config;
# - the residual connection and layer normalisation around every sub-layer
#   (section 3.1), and the pre-norm variant;
# - the position-wise feed-forward network (section 3.3);
# - `EncoderLayer`, `DecoderLayer`, `Encoder`, `Decoder` and `Transformer`,
#   each shown from the library and checked against a hand computation;
# - how many parameters each preset has, and where they sit;
# - live proof that padding never changes a real position's output and that
#   the decoder cannot see the future.

# %% [markdown]
# ## 本节内容
#
# 本节把前面的零件组装成完整的 Transformer。先看由配置画出的整体结构图，
# 再讲包在每个子层外面的残差连接（residual connection）和层规范化（layer normalization），
# 以及后置规范化与前置规范化（post-norm / pre-norm）的区别；然后是逐位置前馈网络
# （position-wise feed-forward network）、编码器（encoder）层和解码器（decoder）层，
# 每一层都用它的部件手工重算一遍，与库的输出核对。接着统计各个预设配置的参数量及其分布，
# 并演示为什么掩码必须显式传递。学完后，你能说清模型从词元 id 到输出 logits（未归一化分数）的每一步，
# 并亲眼验证两条关键性质：填充不会改变真实位置的输出，解码器也看不到未来的词元。

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

import dataclasses

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from tf_transformer import PRESETS, Transformer, TransformerConfig, course
from tf_transformer.course import show
from tf_transformer.layers import Decoder, DecoderLayer, Encoder, EncoderLayer, FeedForward, ResidualLayer

np.set_printoptions(precision=4, suppress=True)


# %% [markdown]
# ## The whole model at a glance
#
# This is what the notebook builds, drawn by `tf_transformer.viz.diagram` from
# the `tutorial` preset and the sizes of the course's two vocabularies. Read
# it from the bottom: source ids on the left, target ids on the right, each
# embedded and given positions (notebook 3). The frames are one
# `EncoderLayer` and one `DecoderLayer`, with the others of their stacks
# fanned out behind. Each sub-layer (orange attention, blue feed-forward)
# sits in a residual wrapper (yellow), which is where this notebook starts.
# The sections then follow the picture from the inside out: the
# feed-forward network, the two layers, the stacks, and the `Transformer`
# that links the encoder output to every cross-attention and ends in the
# `Dense` projection onto the target vocabulary. The italic shapes are what
# flows along each arrow.
#
# The picture is drawn from the config, not by hand: pass another config
# (`norm_first=True` moves every norm in front of its sub-layer and adds a
# final norm to each stack; `share_embeddings=True` or `tie_output=True`
# turns the projection into the transposed embedding; `positions` and
# `key_dim` change the position table and the heads' key size, the
# variations notebook 9 measures) and it follows.

# %%
from tf_transformer.data import load_tokenizers
from tf_transformer.viz.diagram import architecture_figure

tokenizers = load_tokenizers()
course_config = TransformerConfig.from_preset(
    "tutorial",
    input_vocab_size=int(tokenizers.source.get_vocab_size()),
    target_vocab_size=int(tokenizers.target.get_vocab_size()),
)
# Drawn as notebook 6 trains it: pre-norm, sentences of up to 64 tokens (the counts below are
# the preset's post-norm layers; exercise 2 asks what pre-norm adds).
architecture_figure(dataclasses.replace(course_config, norm_first=True, max_length=64))

# %% [markdown]
# **要点**
#
# - 这张图由 `tf_transformer.viz.diagram` 根据 `tutorial` 预设和课程两个词表的大小画出（按第 6 节的训练方式：
#   前置规范化，句子最长 64 个词元）。从下往上读：左边是源语言 id，右边是目标语言 id，
#   各自经过嵌入并加上位置（第 3 节）。
# - 两个框分别是一个 `EncoderLayer` 和一个 `DecoderLayer`，同一堆叠的其余层在后面展开；
#   每个子层（橙色的注意力、蓝色的前馈网络）都包在一个残差包装（黄色）里。斜体的形状是沿每条箭头流动的张量。
# - 本节跟着这张图从里往外讲：前馈网络、两种层、层的堆叠，以及把编码器输出接到每个交叉注意力、最后用 `Dense`
#   投影到目标词表的 `Transformer`。
# - 图是从配置画出来的，换一个配置它也跟着变：`norm_first=True` 把每个规范化移到子层前面，
#   并给每个堆叠加上最后的规范化；`share_embeddings=True` 或 `tie_output=True` 让输出投影变成嵌入矩阵的转置；
#   `positions` 和 `key_dim` 改变位置表和头的键宽，也就是第 9 节测量的那些变体。

# %% [markdown]
# ## Residual connections and layer normalisation
#
# Every sub-layer (attention or feed-forward) is wrapped the same way: its
# output is added back to its input, and the sum is normalised:
# `LayerNorm(x + Dropout(Sublayer(x)))`. The addition gives gradients a
# direct path through the whole stack; the normalisation brings each
# position's vector to zero mean and unit variance across its features, then
# scales and shifts it by two learned vectors (γ and β), so the layer can
# undo the normalisation where that helps.
#
# `ResidualLayer` holds this wrapping once, for both encoder and decoder
# layers. With `norm_first=True` it normalises *before* the sub-layer
# instead (pre-norm), which many later models use because deep stacks train
# more stably that way.

# %%
show(ResidualLayer)

# %% [markdown]
# Layer normalisation by hand: for each position, subtract the mean over the
# features, divide by the standard deviation, then scale and shift with the
# learned `gamma` and `beta` (initially 1 and 0).

# %%
x = tf.random.normal((2, 3, 8), seed=0)  # (batch, positions, features)
norm = keras.layers.LayerNormalization(epsilon=1e-6)
mean = tf.reduce_mean(x, axis=-1, keepdims=True)
variance = tf.reduce_mean((x - mean) ** 2, axis=-1, keepdims=True)
by_hand = (x - mean) / tf.sqrt(variance + 1e-6)
np.testing.assert_allclose(norm(x), by_hand, atol=1e-5)
print("per-position mean after norm:", tf.reduce_mean(by_hand, -1).numpy().round(6)[0])
print("per-position std after norm: ", tf.math.reduce_std(by_hand, -1).numpy().round(4)[0])

# %% [markdown]
# The library's layers use their own `LayerNormalization`: Keras's forward
# pass, with the backward pass written out. Left to automatic
# differentiation, TensorFlow differentiates every op of the forward pass
# one by one (the means, the variance, the broadcasts). Differentiating the
# formula by hand first gives a short result, with
# $\hat x = (x - \mu)\,r$, $r = 1/\sqrt{\sigma^2 + \epsilon}$ and
# $g = \partial L/\partial y \cdot \gamma$:
#
# $$\frac{\partial L}{\partial x} = r\,\big(g - \bar g - \hat x\,\overline{g \hat x}\big)$$
#
# (a bar is the mean over the features): a few passes over the activations instead
# of many, which a CPU's training step feels, since every layer has two or
# three norms. `tf.custom_gradient` attaches it to the forward pass:

# %%
from tf_transformer.layers import LayerNormalization
from tf_transformer.layers.norm import _layer_norm

show(_layer_norm)

# %% [markdown]
# A hand-written gradient must be checked against the one it replaces. The
# same input and weights through ours and through Keras's, and the same
# upstream gradient back: the outputs and all three gradients agree to float
# rounding, and the traced backward pass has fewer ops.

# %%
ours = LayerNormalization(epsilon=1e-6)
ours.build(x.shape)
upstream = tf.random.normal(x.shape, seed=1)


def backward(layer):
    """Output, and the gradients for x, gamma and beta, of sum(layer(x) * upstream)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x)
        loss = tf.reduce_sum(out * upstream)
    return [out, *tape.gradient(loss, [x, layer.gamma, layer.beta])]


for what, a, b in zip(["output", "d x", "d gamma", "d beta"], backward(ours), backward(norm)):
    print(f"{what:8} largest difference from Keras's: {float(tf.reduce_max(tf.abs(a - b))):.1e}")


def ops_in_backward_pass(layer):
    graph = tf.function(backward).get_concrete_function(layer).graph
    return len(graph.get_operations())


counts = {name: ops_in_backward_pass(layer) for name, layer in [("ours", ours), ("Keras's", norm)]}
print("ops traced, forward and backward:", counts)

# %% [markdown]
# **要点**
#
# - 每个子层（注意力或前馈网络）都以同样的方式包起来：把它的输出加回它的输入，再对和做规范化，即 LayerNorm(x +
#   Dropout(Sublayer(x)))。
# - 加法给梯度留了一条贯穿整个堆叠的直通路径；规范化让每个位置的向量在特征维上均值为 0、方差为 1，
#   再用两个可学习的向量 γ 和 β 缩放、平移，需要时层可以抵消规范化。
# - `ResidualLayer` 为编码器层和解码器层统一实现这层包装；`norm_first=True` 改为在子层之前规范化（前置规范化，
#   pre-norm），深的堆叠这样训练更稳定，很多后来的模型都这么做。
# - 手算层规范化并与 Keras 的 `LayerNormalization` 核对：规范化之后每个位置的均值为 0、标准差为 1。
# - 库里的层用自己的 `LayerNormalization`：前向与 Keras 相同，反向传播（梯度）是手推公式写出来的，
#   由 `tf.custom_gradient` 挂上；它与自动微分的结果在浮点舍入范围内一致，
#   追踪出的运算更少，CPU 上训练一步更快。

# %% [markdown]
# ## The feed-forward network
#
# Two dense layers with a ReLU between them, the same weights at every
# position: $\mathrm{FFN}(x) = \max(0, xW_1 + b_1)W_2 + b_2$ (equation 2).
# The inner width `dff` is four times `d_model` in the `tutorial`, `base`
# and `big` presets, as in the paper (512 and 2048); the `tiny` preset, made
# for tests, uses two times (32 and 64). The ratios, read from the presets:

# %%
dff_ratios = {name: sizes["dff"] / sizes["d_model"] for name, sizes in PRESETS.items()}
print("dff / d_model:", dff_ratios)
assert dff_ratios == {"tiny": 2, "tutorial": 4, "base": 4, "big": 4}
show(FeedForward)

# %%
ffn = FeedForward(d_model=8, dff=32)
y = ffn(x)  # (2, 3, 8)
W1, b1 = ffn.inner.kernel.numpy(), ffn.inner.bias.numpy()
W2, b2 = ffn.outer.kernel.numpy(), ffn.outer.bias.numpy()
np.testing.assert_allclose(y, np.maximum(0, x.numpy() @ W1 + b1) @ W2 + b2, atol=1e-5)
# Position-wise: position 1 alone gives the same answer as inside the batch.
np.testing.assert_allclose(ffn(x[:, 1:2]), y[:, 1:2], atol=1e-6)
print("FFN", x.shape, "->", y.shape, "matches max(0, xW1+b1)W2+b2, position by position")

# %% [markdown]
# **要点**
#
# - 两个全连接层，中间一个 ReLU，所有位置共用同一组权重：FFN(x) = max(0, xW₁ + b₁)W₂ + b₂（论文式 2）。
# - 中间层的宽度 `dff` 在 `tutorial`、`base` 和 `big` 预设里都是 `d_model` 的 4 倍（与论文的 512 和 2048
#   一致）；为测试准备的 `tiny` 预设是 2 倍（32 和 64）。
# - `FeedForward` 的输出与公式一致，而且是逐位置计算的：单独算位置 1，与在整批里算得到相同的结果。

# %% [markdown]
# ## The encoder layer
#
# Self-attention over the source, then the feed-forward network, each in its
# residual wrapper. The padding mask is an explicit argument: the layer never
# relies on Keras's implicit masks.

# %%
show(EncoderLayer)

# %% [markdown]
# Rebuild one encoder layer's forward pass from its parts and compare:

# %%
keras.utils.set_random_seed(0)
layer = EncoderLayer(d_model=8, num_heads=2, dff=16, dropout_rate=0.0)
x = tf.random.normal((2, 5, 8))
mask = tf.constant([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]) > 0
out = layer(x, padding_mask=mask)

a = layer.self_attention(x, padding_mask=mask)  # (2, 5, 8)
x1 = layer.self_attention_norm(x + a)  # post-norm residual
x2 = layer.ffn_norm(x1 + layer.ffn(x1))
np.testing.assert_allclose(out, x2, atol=1e-5)
print("EncoderLayer == norm(x + attn(x)) then norm(x + ffn(x))")

# %% [markdown]
# **要点**
#
# - 编码器层：对源句做自注意力，再经过前馈网络，两个子层各有自己的残差包装。
# - 填充掩码是显式参数：层从不依赖 Keras 的隐式掩码。
# - 用层的部件重算一遍前向计算（后置规范化：先 norm(x + attn(x))，再 norm(x + ffn(x))），与层的输出一致。

# %% [markdown]
# ## The decoder layer
#
# Three sub-layers: causal self-attention over the target so far,
# cross-attention from the target (queries) to the encoder output (keys and
# values), and the feed-forward network. `call` runs them on the whole
# target (training); `call_cached` runs them token by token with the
# key/value cache of notebook 3 (translating); `call_with_attention` runs
# `call` and also returns its self- and cross-attention weights (plots).

# %%
show(DecoderLayer)

# %%
keras.utils.set_random_seed(1)
dlayer = DecoderLayer(d_model=8, num_heads=2, dff=16, dropout_rate=0.0)
target = tf.random.normal((2, 4, 8))
context = tf.random.normal((2, 5, 8))
target_mask = tf.ones((2, 4), tf.bool)
out = dlayer(target, context, context_mask=mask, target_mask=target_mask)

s = dlayer.self_attention(target, padding_mask=target_mask, use_causal_mask=True)
y1 = dlayer.self_attention_norm(target + s)
c = dlayer.cross_attention(y1, context, padding_mask=mask)
y2 = dlayer.cross_attention_norm(y1 + c)
y3 = dlayer.ffn_norm(y2 + dlayer.ffn(y2))
np.testing.assert_allclose(out, y3, atol=1e-5)
print("DecoderLayer == self-attention, cross-attention, feed-forward, each with add & norm")

# %% [markdown]
# ## Encoder and decoder stacks
#
# The stacks embed the ids (notebook 3's `PositionalEmbedding`), apply
# dropout, and run `num_layers` layers. They derive the padding mask from
# token id 0 when the caller has not.

# %%
show(Encoder.call)
show(Decoder.call)

# %% [markdown]
# **要点**
#
# - 解码器层有三个子层：对目前为止的目标做因果自注意力；从目标（查询）到编码器输出（键和值）的交叉注意力；
#   前馈网络。
# - 同样的三个子层有三种运行方式：`call` 对整个目标运行（训练）；`call_cached` 借助第 3
#   节的键值缓存逐个词元运行（翻译）；`call_with_attention` 运行 `call`，
#   另外返回自注意力和交叉注意力的权重（画图）。
# - 重算核对：自注意力、交叉注意力、前馈网络，各带 add & norm，与层的输出一致。
# - 编码器和解码器的堆叠先嵌入 id（第 3 节的 `PositionalEmbedding`），做暂退法，再依次运行 `num_layers` 个层；
#   调用方没有给出填充掩码时，由词元 id 0 推出。

# %% [markdown]
# ## The `Transformer`
#
# The model encodes the source once, decodes the target against it and
# projects each decoder vector onto the target vocabulary. The masks are
# derived *once*, from the ids, and handed to every attention call. (This is
# where TensorFlow's own tutorial breaks under Keras 3: it relies on masks
# travelling implicitly from the embedding, and Keras 3's attention and `Add`
# layers drop them, so from the second block on, padding leaks in. Notebook 0
# promised to show it; the next cells do.)

# %%
show(Transformer.call)
show(Transformer.encode)
show(Transformer.decode)

# %% [markdown]
# ### The implicit mask, watched as it disappears
#
# Three blocks written the tutorial's way: an `Embedding(mask_zero=True)`,
# whose output carries a Keras mask, then Keras's own `MultiHeadAttention`,
# `Add` and `LayerNormalization`, with no mask passed by hand. We run one
# sentence twice, alone and with three padding ids appended, and compare the
# five real positions after each block. If the mask worked, padding could
# never change them.

# %%
keras.utils.set_random_seed(0)
tutorial_embedding = keras.layers.Embedding(50, 16, mask_zero=True)
tutorial_blocks = [
    (
        keras.layers.MultiHeadAttention(num_heads=2, key_dim=8),
        keras.layers.Add(),
        keras.layers.LayerNormalization(),
    )
    for _ in range(3)
]


def tutorial_style(ids):
    """Each block's output, and whether it still carries the implicit mask."""
    x = tutorial_embedding(ids)
    found = [("embedding", getattr(x, "_keras_mask", None) is not None, x.numpy())]
    for i, (attention, add, norm) in enumerate(tutorial_blocks):
        x = norm(add([x, attention(query=x, value=x, key=x)]))  # no mask passed: Keras's own
        found.append((f"block {i + 1}", getattr(x, "_keras_mask", None) is not None, x.numpy()))
    return found


sentence = np.array([[5, 7, 9, 11, 13]])
padded = np.array([[5, 7, 9, 11, 13, 0, 0, 0]])
moved = {}
for (name, has_mask, alone), (_, _, with_padding) in zip(tutorial_style(sentence), tutorial_style(padded)):
    moved[name] = np.abs(alone - with_padding[:, :5]).max()
    print(f"{name:9}  carries a mask: {has_mask!s:5}  real positions moved by padding: {moved[name]:.2g}")
assert moved["block 1"] < 1e-5 < 1e-2 < moved["block 2"]  # block 1 is protected, block 2 is not

# %% [markdown]
# Block 1 still sees the embedding's mask, so the padding cannot touch the
# real positions (the difference is float rounding). Its output carries no
# mask any more, so block 2 attends to the three padding vectors as if they
# were words, and every real position moves. Nothing fails and nothing
# warns: the model simply trains on different numbers. Passing the mask
# explicitly to every attention call, as `Transformer` does, makes the
# property hold in every layer; the test suite checks it on a four-layer
# stack (`tests/core/test_model.py`), and the cells below check it on this model.

# %% [markdown]
# **要点**
#
# - 模型对源句编码一次，针对它解码目标，再把每个解码器向量投影到目标词表上。掩码只从 id 推导一次，
#   再交给每一次注意力调用。
# - TensorFlow 自己的教程在 Keras 3 下正是在这里出错：它依赖从嵌入层隐式传下去的掩码，而 Keras 3 的注意力层和
#   `Add` 层会把掩码丢掉，从第二个块起填充就漏了进来。
# - 实验：按教程的写法搭三个块（`Embedding(mask_zero=True)`，加上 Keras 自己的 `MultiHeadAttention`、`Add` 和
#   `LayerNormalization`），同一句话单独跑一次、末尾补三个填充 id 再跑一次，比较 5 个真实位置。第 1
#   个块还能看到嵌入层的掩码，差异只是浮点舍入（1.2e-07）；它的输出已不带掩码，第 2、3
#   个块把填充向量当作词来关注，真实位置分别变了 0.87 和 0.68。
# - 没有报错，也没有警告，模型只是在不同的数字上训练。像 `Transformer` 那样把掩码显式传给每次注意力调用，
#   才能让这个性质在每一层都成立；测试在一个四层的堆叠上检查它（`tests/core/test_model.py`），
#   下面的单元格在这个模型上检查它。

# %% [markdown]
# ## How many parameters?
#
# Counting by hand for `num_layers = N`, `d_model = d`, `dff = f` and
# vocabularies `V_in`, `V_out`:
#
# - each attention: 4 matrices `d × d` plus 4 biases: `4d² + 4d`;
# - each feed-forward: `2·d·f + f + d`; each layer norm: `2d`;
# - encoder layer: one attention, one FFN, two norms; decoder layer: two
#   attentions, one FFN, three norms;
# - embeddings `V_in·d` and `V_out·d`, output projection `d·V_out + V_out`
#   (or, with shared embeddings, one `V·d` matrix serves all three).


# %%
def count_by_hand(c):
    d, f, N = c.d_model, c.dff, c.num_layers
    attention, ffn, norm = 4 * d * d + 4 * d, 2 * d * f + f + d, 2 * d
    layers = N * (attention + ffn + 2 * norm) + N * (2 * attention + ffn + 3 * norm)
    if c.share_embeddings:
        return layers + c.input_vocab_size * d
    return (
        layers
        + c.input_vocab_size * d
        + c.target_vocab_size * d
        + d * c.target_vocab_size
        + c.target_vocab_size
    )


# Building `big` allocates 290M weights; fast mode (CI) checks the formula on the small presets only.
FAST = course.fast_mode()
checked = ("tiny", "tutorial") if FAST else tuple(PRESETS)
rows = []
for name in PRESETS:
    for share in (False, True):
        config = TransformerConfig.from_preset(
            name, input_vocab_size=37000, target_vocab_size=37000, share_embeddings=share
        )
        if name in checked:
            model = Transformer(config)
            model.build()
            assert model.count_params() == count_by_hand(config)
            del model
            keras.backend.clear_session()
        rows.append(
            (
                name,
                share,
                config.num_layers,
                config.d_model,
                config.num_heads,
                config.dff,
                count_by_hand(config),
            )
        )

print(f"{'preset':9s} {'shared':>6s} {'N':>2s} {'d_model':>7s} {'h':>3s} {'dff':>5s} {'parameters':>12s}")
for name, share, n, d, h, f, p in rows:
    print(f"{name:9s} {str(share):>6s} {n:2d} {d:7d} {h:3d} {f:5d} {p:12,d}")
print(
    "\n(37,000-token vocabulary on both sides, as in the paper's EN-DE setup; "
    "the paper reports 65M for base and 213M for big, with shared embeddings.)"
)

# %% [markdown]
# The counts match the hand formula. With shared embeddings, `base` lands at
# 63M, close to the paper's 65M (the remaining gap is in details the paper
# does not fully specify, such as its exact vocabulary).
#
# Where do the parameters of the `tutorial` preset sit, for the course's own
# vocabularies (`course_config`, built at the top from the tokenizers:
# 2,024 Portuguese pieces and 806 English ones)?

# %%
assert (course_config.input_vocab_size, course_config.target_vocab_size) == (2024, 806)
model = Transformer(course_config)
model.build()
parts = {
    "encoder embedding": model.encoder.embedding.count_params(),
    "encoder layers": sum(layer.count_params() for layer in model.encoder.enc_layers),
    "decoder embedding": model.decoder.embedding.count_params(),
    "decoder layers": sum(layer.count_params() for layer in model.decoder.dec_layers),
    "output projection": model.final_layer.count_params(),
}
assert sum(parts.values()) == model.count_params()
fig, ax = plt.subplots(figsize=(6, 2.8))
ax.barh(list(parts), [v / 1e6 for v in parts.values()])
ax.set_xlabel("millions of parameters")
ax.set_title(f"tutorial preset, the course's vocabularies: {model.count_params() / 1e6:.2f}M parameters")
ax.invert_yaxis()
plt.show()
vocabulary_parts = parts["encoder embedding"] + parts["decoder embedding"] + parts["output projection"]
share = vocabulary_parts / model.count_params()
print(f"embeddings and projection: {vocabulary_parts:,} of {model.count_params():,} parameters ({share:.0%})")
assert model.count_params() == count_by_hand(course_config) == 2_317_606
assert (vocabulary_parts, f"{share:.0%}") == (466_214, "20%")
paper_vocab = TransformerConfig.from_preset("tutorial", input_vocab_size=37000, target_vocab_size=37000)
layer_parts = parts["encoder layers"] + parts["decoder layers"]
paper_share = 1 - layer_parts / count_by_hand(paper_vocab)
print(f"with 37,000-token vocabularies they would be {paper_share:.0%} of the model")
assert f"{paper_share:.0%}" == "88%"

# %% [markdown]
# With vocabularies this small, the embeddings and the output projection
# hold only 466,214 of the 2,317,606 parameters (20%); the eight layers hold
# the rest. With the paper's 37,000-token vocabularies the same layers
# would sit beside embeddings and a projection holding 88% of the model.

# %% [markdown]
# **要点**
#
# - 手算公式（N 层，宽 d，`dff` = f，词表 V_in 和 V_out）：每个注意力 4d² + 4d；每个前馈网络 2·d·f + f + d；
#   每个层规范化 2d；编码器层有一个注意力、一个前馈网络、两个规范化，解码器层有两个注意力、一个前馈网络、
#   三个规范化；再加上两个嵌入 V_in·d、V_out·d 和输出投影 d·V_out + V_out（共享嵌入时三者只用一个 V·d 矩阵）。
# - 每个预设的参数量都与公式一致。两边都用 37,000 个词元的词表（论文的英德设置）并共享嵌入时，`base` 为 63M，
#   接近论文的 65M（差距在论文没有完全说明的细节里，比如它确切的词表）；`big` 为 214M，论文报告 213M。
# - 用课程自己的词表（葡萄牙语 2024 个片段，英语 806 个）时，`tutorial` 预设共 2,317,606 个参数，
#   嵌入和输出投影只占其中 466,214 个（20%），其余都在 8 个层里；换成论文 37,000 个词元的词表，
#   同样这些层旁边的嵌入和投影将占整个模型的 88%。

# %% [markdown]
# ## Padding does not change the output
#
# Append padding to a sentence, on the source side, the target side, or
# both: the logits at real positions must not move. This is the property the
# explicit masks buy us, checked on the whole model.

# %%
keras.utils.set_random_seed(0)
model = Transformer(
    TransformerConfig.from_preset("tiny", input_vocab_size=50, target_vocab_size=60, num_layers=3)
)
src = tf.constant([[2, 11, 12, 13, 3]])
tgt = tf.constant([[2, 21, 22, 23]])
base = model((src, tgt))  # (1, 4, 60)
for src_pad, tgt_pad in [(3, 0), (0, 5), (10, 10)]:
    padded = model((tf.pad(src, [[0, 0], [0, src_pad]]), tf.pad(tgt, [[0, 0], [0, tgt_pad]])))
    diff = float(tf.reduce_max(tf.abs(padded[:, :4] - base)))
    print(f"+{src_pad:2d} source pads, +{tgt_pad:2d} target pads: max change at real positions {diff:.2e}")
    assert diff < 1e-5

# %% [markdown]
# **要点**
#
# - 在源句、目标句或两边的末尾补上填充，真实位置的 logits 不应改变：这是显式掩码带来的性质，
#   这里在整个模型上检查（3 层的 `tiny` 模型）。
# - 三种补法（源句补 3 个，目标句补 5 个，两边各补 10 个）下，真实位置的最大变化都只是浮点误差
#   （数值见上面的输出）。
# - 这依赖于每次注意力都拿到由 id 0 推出的掩码，正是上一节教程的写法做不到的。

# %% [markdown]
# ## The decoder cannot see the future
#
# Change the target tokens after position *t*: the logits at positions ≤ *t*
# stay put, and only the later ones react.

# %%
changes = np.zeros((4, 4))
for t in range(4):
    changed = tgt.numpy().copy()
    changed[0, t:] = [40 + i for i in range(4 - t)]  # rewrite positions t..3
    out = model((src, tf.constant(changed)))
    changes[t] = tf.reduce_max(tf.abs(out - base), axis=-1)[0].numpy()

fig, ax = plt.subplots(figsize=(4.5, 3.4))
im = ax.imshow(changes > 1e-6, cmap="Reds", vmin=0, vmax=1)
ax.set_xticks(range(4))
ax.set_yticks(range(4))
ax.set_xlabel("output position")
ax.set_ylabel("first target token changed")
ax.set_title("which logits move (red)")
plt.show()
assert np.all(changes[np.tril_indices(4, -1)] < 1e-6), "an earlier position reacted to a later token"
print(changes.round(3))

# %% [markdown]
# Row *t* is white left of column *t*: rewriting tokens from position *t* on
# changes nothing before it.

# %% [markdown]
# **要点**
#
# - 改写位置 t 及其后的目标词元：位置 < t 的 logits 纹丝不动，只有后面的位置有反应。
# - 图中第 t 行在第 t 列左边全是白色：从位置 t 起改写词元，不会改变它之前的任何输出。
# - 单元格断言：较早的位置对较晚词元的反应（矩阵的下三角）全部小于 1e-6。

# %% [markdown]
# ## What we built
#
# - Residual + layer norm (`ResidualLayer`), the feed-forward network, and
#   encoder and decoder layers, each rebuilt from its parts and checked.
# - The `Transformer`: explicit masks from token id 0, encode once, decode,
#   project.
# - A parameter table for every preset, matching a hand formula, and a
#   picture of where the `tutorial` model's parameters live.
# - Live checks of the two properties that matter most: padding invariance
#   and causality.

# %% [markdown]
# **要点：本节小结**
#
# - 残差连接加层规范化（`ResidualLayer`）、前馈网络、编码器层和解码器层，都由部件重建并核对。
# - `Transformer`：由词元 id 0 推出显式掩码，编码一次，解码，投影。
# - 每个预设的参数表，与手算公式一致，并画出 `tutorial` 模型的参数分布在哪里。
# - 现场检查了两条最重要的性质：填充不变性和因果性。
#
# **练习**（英文原题在下一格；参考解答见 [solutions/04_the_model.py](solutions/04_the_model.py)）
#
# 1. **动手算。** 数出 `tutorial` 预设（d_model = 128，d_ff = 512）一个 `EncoderLayer`、一个 `DecoderLayer`
#    以及全部 8 个层的参数。两边的词表都是 V 个词元时，V 从多大起，嵌入和输出投影的参数会多于所有层的参数？
#    `share_embeddings=True` 时呢？用 `count_params()` 核对。
# 2. **写代码。** 像本节对后置规范化层那样，用部件重建前置规范化 `EncoderLayer`（`norm_first=True`）
#    的前向计算，并核对相等。`norm_first=True` 给 `tutorial` 模型增加了多少参数，加在哪里？
# 3. **写代码。** 用梯度而不是改写词元来检查因果性：自己把嵌入后的源向量和目标向量送过各层，用 `GradientTape`
#    测量每个输出位置 t 的 logits 对每个目标输入向量和每个源输入向量的梯度有多大。
#    哪些项恰好为零（而不只是很小）？为什么恰好为零？
# 4. **做实验。** 在初始化时，测量一个 12 层 `Encoder` 每层之后残差流的标准差，
#    后置规范化和前置规范化（`norm_first=True`）各测一遍，再测经过堆叠的 `final_norm` 之后的。
#    前置规范化的残差流越深会怎样？为什么前置规范化的堆叠需要最后那个规范化？

# %% [markdown]
# ## Exercises
#
# A count, a rebuild, a sharper proof of causality and a look inside a deep
# stack.
#
# 1. **By hand.** Count the parameters of one `EncoderLayer` and one
#    `DecoderLayer` of the `tutorial` preset ($d_{model} = 128$,
#    $d_{ff} = 512$), and of its eight layers together. With vocabularies of
#    $V$ tokens on both sides, from which $V$ on do the embeddings and the
#    output projection hold more parameters than all the layers? And with
#    `share_embeddings=True`? Check with `count_params()`.
# 2. **By code.** Rebuild the forward pass of a pre-norm `EncoderLayer`
#    (`norm_first=True`) from its parts, as this notebook did for the
#    post-norm one, and check that it is equal. How many parameters does
#    `norm_first=True` add to the `tutorial` model, and where?
# 3. **By code.** Check causality by gradients instead of by rewriting
#    tokens: run the embedded source and target vectors through the layers
#    yourself and, with a `GradientTape`, measure for each output position $t$
#    how large the gradient of its logits is with respect to every target input
#    vector and every source input vector. Which entries are exactly zero, not
#    merely small, and why exactly?
# 4. **By experiment.** Measure the standard deviation of the residual stream
#    after each layer of a 12-layer `Encoder` at initialisation, post-norm and
#    pre-norm (`norm_first=True`), and after the stack's `final_norm`. What
#    happens to the pre-norm stream as it gets deeper, and why does a pre-norm
#    stack need that final norm?
#
# Worked solutions: [solutions/04_the_model.py](solutions/04_the_model.py)
# (run it from this folder: `python solutions/04_the_model.py`).
