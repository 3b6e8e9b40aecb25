# %% [markdown]
# # 9. Training and performance
#
# **What you will learn:**
# - what "Attention Is All You Need" measured: BLEU on WMT 2014, the cost of
#   training in GPU hours and FLOPs, and the model variations of its Table 3;
# - the same kind of study at laptop scale, on the embedded corpus: what
#   the number of heads, the key size, dropout, label smoothing, learned or
#   absent positions, a tied output projection and the place of the layer
#   norm change after a short, fixed training budget, and what such a small
#   study can and cannot show;
# - the machine-translation workflow end to end on one sentence, text →
#   WordPiece pieces → ids → encoder → decoder steps with the cache → ids →
#   text, with the time each stage takes;
# - after the paper: encoder-only (BERT), decoder-only (GPT) and
#   encoder–decoder (T5) models and their pretraining, and a small
#   decoder-only language model built from the library's `Decoder`, trained
#   on the corpus's English, measured by perplexity and sampled with a
#   temperature.

# %% [markdown]
# ## 本节内容
#
# 本节关心的是“效果”和“代价”。先读懂《Attention Is All You Need》报告的数字：
# WMT 2014 上的 BLEU 分数，训练用了多少 GPU 小时、多少次浮点运算
# （FLOPs），以及表 3 中每次只改一处设计得到的对比。然后在笔记本电脑的规模上重做
# 这类消融实验（ablation study）：在内置语料上、用同样的训练步数，比较注意力头数
# （number of heads, h）、键的维度 d_k、暂退法（dropout）、标签平滑（label
# smoothing）、可学习的或干脆去掉的位置编码（positional encoding）、与目标端嵌入
# 共用的输出投影，以及前置 / 后置规范化（pre-norm / post-norm）的影响，并用换了随机种子的基线当作
# 衡量随机波动的标尺。最后把一句葡萄牙语从文本、WordPiece 片段、id、编码器
# （encoder）、带键值缓存（KV cache）的解码器（decoder）一路还原成英文，给每个阶段
# 计时。最后看论文之后的三类模型：仅编码器（BERT）、仅解码器（GPT）和编码器–解码器
# （T5），以及它们的预训练；再用库里去掉交叉注意力的 `Decoder` 搭一个小小的语言模型，
# 在内置语料的英语一侧上训练，用困惑度衡量，并按温度采样出句子。学完本节，你能估算
# 一次训练的计算量，能判断小实验里的差异是否超出了随机波动，能说清一次翻译的时间主要
# 花在哪一步，也知道 Transformer 的一半怎样单独成为一个模型。

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

import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from IPython.display import Markdown, display

from tf_transformer import course
from tf_transformer.constants import END_ID, PAD_ID, START_ID
from tf_transformer.course import show
from tf_transformer.data import load_dataset, load_tokenizers
from tf_transformer.inference import Translator
from tf_transformer.layers import Decoder, DecoderLayer
from tf_transformer.runs import load_run
from tf_transformer.training import masked_loss
from tf_transformer.viz import translation_view

FAST = course.fast_mode()

# %% [markdown]
# ## What the paper measured
#
# Vaswani et al. (2017) report two kinds of numbers: how good the
# translations are, and what it cost to get them.
#
# **Quality: BLEU on WMT 2014 (Table 2).** BLEU counts the n-grams (1 to 4
# words) that a translation shares with a human reference, over a whole test
# set (notebook 7). The paper's test sets are newstest2014, English→German
# (about 4.5 million training sentence pairs) and English→French (36 million):
#
# | model | EN-DE BLEU | EN-FR BLEU | training cost (FLOPs) |
# | --- | ---: | ---: | ---: |
# | Transformer (base) | 27.3 | 38.1 | 3.3 · 10^18 |
# | Transformer (big) | 28.4 | 41.8 | 2.3 · 10^19 |
#
# On English→German even the base model beat every earlier model, ensembles
# included, "at a fraction of the training cost" (section 6.1); on
# English→French the big model beat every earlier single model.
#
# **Cost: section 5.2, "Hardware and Schedule".** One machine with 8 NVIDIA
# P100 GPUs. A base-model step took about 0.4 s, and the base models trained
# for 100,000 steps, 12 hours; a big-model step took 1.0 s, and the big
# models trained for 300,000 steps, 3.5 days. Each batch held about 25,000
# source and 25,000 target tokens (section 5.1). Table 2's FLOPs are not
# counted operations: a footnote explains that they multiply the training
# time, the number of GPUs and an estimate of each GPU's sustained
# single-precision speed (9.5 TFLOPS for a P100). We can redo that:

# %%
P100_FLOPS = 9.5e12  # the paper's estimate of a P100's sustained float32 speed
for name, hours in (("base", 12), ("big", 3.5 * 24)):
    print(
        f"{name}: 8 GPUs x {P100_FLOPS:.1e} FLOP/s x {hours:g} h = {8 * P100_FLOPS * hours * 3600:.1e} FLOPs"
    )

# %% [markdown]
# 3.3 · 10^18 and 2.3 · 10^19: Table 2's figures.
#
# **What each design choice buys: Table 3 (section 6.2).** Around the base
# model (N = 6 layers, d_model = 512, d_ff = 2048, h = 8 heads of
# d_k = d_v = 64, P_drop = 0.1, label smoothing ε_ls = 0.1, 100k steps) the
# authors changed one thing at a time and measured English→German on the
# development set newstest2013, without checkpoint averaging. The rows are
# grouped:
#
# - **(A)** the number of heads, with d_k = d_v = d_model / h so that the
#   computation stays constant: one head is 0.9 BLEU worse than the best
#   setting (24.9 against 25.8), and quality also drops with too many heads
#   (32 heads: 25.4);
# - **(B)** a smaller key size d_k alone hurts quality: "determining
#   compatibility is not easy";
# - **(C)** the model's size (N, d_model, d_ff, d_k): bigger is better;
# - **(D)** dropout and label smoothing: without dropout BLEU falls to 24.6;
#   without label smoothing perplexity improves (4.67 against 4.92) but
#   BLEU falls to 25.3. Section 5.4 says why: smoothing "hurts perplexity, as
#   the model learns to be more unsure, but improves accuracy and BLEU";
# - **(E)** learned positional embeddings instead of the sinusoids: "nearly
#   identical results" (25.7).
#
# The big model (N = 6, d_model = 1024, d_ff = 4096, 16 heads, P_drop = 0.3,
# 300k steps) is the table's last row: 26.4 on the same development set.

# %% [markdown]
# **要点**
#
# - 论文报告两类数字：译文有多好，代价有多大。质量是 WMT 2014 上的 BLEU（表 2）：base 模型英德 27.3、英法
#   38.1；big 模型英德 28.4、英法 41.8。英德训练集约 450 万个句对，英法约 3600 万个。
# - 代价（5.2 节）：一台装有 8 块 NVIDIA P100 的机器；base 模型每步约 0.4 秒，训练 100,000 步共 12 小时；big
#   模型每步 1.0 秒，训练 300,000 步共 3.5 天；每批约含 25,000 个源词元和 25,000 个目标词元。
# - 表 2 的浮点运算次数（FLOPs）不是数出来的：脚注说明它是训练时间 × GPU 数 × 每块 GPU
#   持续单精度速度的估计（P100 取 9.5 TFLOPS）。照此重算，base 为 3.3 · 10¹⁸，big 为 2.3 · 10¹⁹，正是表 2
#   的数字。
# - 表 3（6.2 节）在 base 模型周围每次只改一处，在开发集 newstest2013 上测英德翻译（不做检查点平均）：(A)
#   头数：保持计算量不变，1 个头比最好的设置低 0.9 BLEU（24.9 对 25.8），头太多也会下降（32 个头为 25.4）；(B)
#   只减小键的维度 d_k 会损害质量；(C) 模型越大越好；(D) 去掉暂退法，BLEU 降到 24.6，去掉标签平滑，
#   困惑度变好（4.67 对 4.92），BLEU 却降到 25.3；(E) 用可学习的位置嵌入代替正弦，“结果几乎相同”（25.7）。big
#   模型在同一开发集上为 26.4。

# %% [markdown]
# ## The same study at laptop scale
#
# `benchmarks/ablations.py` repeats the idea on the embedded corpus. Every
# variant is notebook 6's tutorial run (4 layers, d_model 128, 8 heads,
# d_ff 512, dropout 0.1, label smoothing 0.1, pre-norm, batches of 2048
# tokens, a 400-step warm-up, seed 0) with one thing changed, trained for the
# same fixed number of optimizer steps through the library's `train`, then
# scored with the library's evaluation: validation masked accuracy, and
# greedy BLEU on test sentences and on the *generalization* split, whose
# sentence shapes never occur in training (notebook 2). The table is
# committed, so this cell only reads it; the script's docstring says how to
# run it again. The budget is 300 steps a variant, the first 300 of notebook
# 6's 1,000: on two CPU cores that is about four minutes a variant, scoring
# included, and it stops in the middle of the steep part of the learning
# curve (notebook 6's run is at 0.48 validation accuracy after 200 steps and
# 0.92 after 400), where a choice that speeds learning up or slows it down
# shows most. The printout below gives the machine.

# %%
report = course.ablation_report()  # benchmarks/results/ablations.json, shipped with the package
rows = {row["name"]: row for row in report["rows"]}
machine = report["machine"]
print(
    f"{report['steps']} steps per variant; validation accuracy on the first {report['validation_sentences']} "
    f"validation sentences; BLEU on the first {report['sentences']} sentences of each split;\n"
    f"{machine['cpu']}, {machine['cores']} cores, {machine['date']}, "
    f"{report['total_seconds'] / 60:.0f} minutes in all"
)
columns = (
    "label",
    "num_heads",
    "d_k",
    "val_masked_accuracy",
    "bleu_test",
    "bleu_generalization",
    "train_seconds",
)
header = ("variant", "heads", "d_k", "val accuracy", "BLEU test", "BLEU generalization", "train s")
lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows.values()]
display(Markdown("\n".join(lines)))

# %% [markdown]
# Each panel puts one measure of every variant beside the baseline's (the
# dashed line):

# %%
measures = (
    ("val_masked_accuracy", "validation accuracy"),
    ("bleu_test", "BLEU, test"),
    ("bleu_generalization", "BLEU, generalization"),
)
names = list(rows)
fig, axes = plt.subplots(1, 3, figsize=(13, 0.45 * len(names) + 1.5), sharey=True)
for ax, (key, title) in zip(axes, measures):
    values = [rows[n][key] for n in names]
    colors = ["tab:gray" if n == "baseline" else "tab:blue" for n in names]
    ax.barh(range(len(names)), values, color=colors)
    ax.axvline(rows["baseline"][key], color="black", linestyle="--", linewidth=1)
    low = min(values)
    ax.set_xlim(low - 0.15 * (max(values) - low + 1e-9) - (0.01 if key.startswith("val") else 1), None)
    ax.set_title(title)
axes[0].set_yticks(range(len(names)), [rows[n]["label"] for n in names])
axes[0].invert_yaxis()
plt.tight_layout()
plt.show()

# %% [markdown]
# **要点**
#
# - `benchmarks/ablations.py` 在内置语料上重复这种消融实验（ablation study）：每个变体都是第 6 节的 tutorial
#   运行（4 层，d_model 128，8 个头，d_ff 512，暂退率 0.1，标签平滑 0.1，前置规范化，每批 2048 个词元，预热
#   400 步，种子 0），只改一处，通过库里的 `train` 训练同样固定的步数，再用库里的评估打分：验证集掩码准确率，
#   以及测试集和泛化集上的贪心 BLEU。
# - 每个变体训练 300 步，也就是第 6 节那 1000 步中的前 300 步：两个 CPU 核上连打分在内，每个变体约四分钟。
#   这恰好停在学习曲线最陡的一段（第 6 节的运行 200 步时验证准确率 0.48，400 步时 0.92），
#   加快或拖慢学习的设计在这里最显眼。
# - 结果表已提交进仓库，单元格只读取它：一行基线、十个变体和一行换了种子的基线（AMD EPYC，2 核，共 54 分钟）。
#   图的每个面板把每个变体的一个指标与基线（虚线）并排。

# %% [markdown]
# ### Reading the table
#
# First the scale. The paper's base model saw about 100,000 steps × 50,000
# tokens; each row here saw the number of tokens below, at the very start of
# training:

# %%
tokens = report["steps"] * report["batch_tokens"]
print(f"{report['steps']} steps x about {report['batch_tokens']} tokens = {tokens:,} tokens per variant")
paper = 100_000 * 50_000
print(f"the paper's base model: 100,000 x 50,000 = {paper:,} tokens, {paper / tokens:,.0f} times more")

# %% [markdown]
# Then the noise. The last row is the baseline again, from another seed:
# other initial weights, another order of batches, nothing else changed. How
# far it lands from the baseline is how far any row may land by chance;
# below, each row's difference from the baseline is set beside that yardstick.

# %%
base, again = rows["baseline"], rows["seed_1"]
noise = {key: abs(again[key] - base[key]) for key, _ in measures}
print(f"{'variant':<44}" + "".join(f"{title:>24}" for _, title in measures))
for name, row in rows.items():
    if name == "baseline":
        continue
    cells = ""
    for key, _ in measures:
        delta = row[key] - base[key]
        mark = "" if name == "seed_1" else ("  beyond" if abs(delta) > noise[key] else "  within")
        cells += f"{delta:>+16.3f}{mark:>8}"
    print(f"{row['label'][:43]:<44}{cells}")
print("(beyond / within: the difference is larger / not larger than the two seeds' difference)")

# %% [markdown]
# What to take from each row, and what not:
#
# - **Every model is early in training, and the seed row is the yardstick.**
#   After 300 steps about four target tokens in five are right on
#   validation, and greedy BLEU is in the 40s on the test split, in the 20s
#   on the generalization split's new sentence shapes. Two runs of the same
#   recipe differ by 0.007 in accuracy and by 2 to 4 BLEU; a row whose
#   difference from the baseline is not larger (*within* above) shows
#   nothing at this budget, whatever its sign. Read the accuracy column
#   first: it averages over every target token of 1,000 sentences, BLEU
#   over 200.
# - **Heads, and with them d_k (rows A).** Our attention gives each head
#   d_model / h dimensions, so the parameter count does not change: 1 head
#   means d_k = 128, 16 heads d_k = 8. One head is level with the baseline
#   and four heads a little ahead (twice the noise); sixteen heads are far
#   behind (0.10 in accuracy, 26 BLEU). Table 3 found one head 0.9 BLEU
#   worse and "quality also drops off with too many heads", but its
#   narrowest head had d_k = 16; ours has 8, and reading a key of 8 numbers
#   is where this model loses.
# - **d_k alone (row B).** Shrinking only the queries and keys to 4 numbers a
#   head, the values keeping 16, costs the most of any attention change:
#   0.21 in accuracy. Table 3's reading is that "determining compatibility is
#   not easy" and needs room; the 16-head row points the same way. (This
#   row also has 13% fewer parameters: W^Q and W^K shrink to 128 x 32.)
# - **Dropout 0 and label smoothing 0 (rows D).** Both are regularisers:
#   they pay for themselves against over-fitting, which needs many passes
#   over the data, and 300 steps of 2,048 tokens are a fraction of one pass
#   over the 100,000 training pairs. Without dropout the model is far ahead
#   (0.11 in accuracy, 19 BLEU): early on, dropping a tenth of every
#   activation only slows learning. Label smoothing 0 is level in accuracy;
#   its test BLEU is lower by more than the seeds differ but its
#   generalization BLEU is not: no verdict. The paper's result (both help
#   BLEU) is about the end of training. Compare accuracies, not losses: a
#   label-smoothed loss has a floor above zero, so the smoothing-0 row's
#   validation loss is lower by construction.
# - **Learned positions (row E).** Level with the sinusoids in accuracy, as
#   Table 3 found ("nearly identical results"), at 16,384 more parameters
#   (a 64 x 128 table for each stack). Its BLEU is lower, by 11 on test and
#   6 on generalization; we did not measure why. One candidate: a learned
#   row is only as good as the updates it has had, and the rows of late
#   positions, which only long sentences reach, have had few in 300 steps,
#   while every sinusoid is defined from the start.
# - **No positional encoding.** The encoder now reads a bag of words (the
#   first section of notebook 3); the decoder still knows where it is, since
#   the causal mask lets position t see t + 1 tokens. Accuracy falls by
#   0.06 and BLEU by 13 and 10: much of a sentence of this corpus can be
#   put in order from the words alone, but not all of it.
# - **Output projection tied to the target embedding.** The second-worst
#   row (0.24 behind, BLEU 5), with 103,974 fewer parameters (the 806 x 128
#   kernel and the 806 biases of the `Dense` layer). Section 3.4 shares the
#   matrix at the end of a long training; at its start, the tied model is
#   much slower. Two candidates, not measured: it has no output bias, with
#   which a model learns word frequencies in its first steps, and one matrix
#   is pulled two ways, by the input side (scaled by sqrt(128) and added to
#   the positions) and by the output side.
# - **Post-norm.** The paper's layout normalises after the residual sum. It
#   is the row furthest behind (0.42 against 0.79), sitting on the plateau
#   notebook 6 describes, which is why the baseline is pre-norm: with
#   post-norm every other row would have been measured on that plateau.
#
# So this table measures how fast each variant *starts* to learn on a small,
# regular corpus, a different question from Table 3's. To ask Table 3's
# question, train each row to convergence (exercise 4), and repeat the
# baseline with a few seeds to know the noise. The cell below holds the
# text above to the committed table: a row said to be beyond the noise is.

# %%
beyond = {
    name
    for name, row in rows.items()
    if name not in ("baseline", "seed_1")
    and abs(row["val_masked_accuracy"] - base["val_masked_accuracy"]) > noise["val_masked_accuracy"]
}
assert beyond == {"heads_4", "heads_16", "key_dim_4", "dropout_0", "no_positions", "tied_output", "post_norm"}
ranked = sorted(rows, key=lambda name: rows[name]["val_masked_accuracy"])
assert ranked[:3] == ["post_norm", "tied_output", "key_dim_4"] and ranked[-1] == "dropout_0"
# The parameter counts the text gives: two 64 x 128 position tables; W^Q and W^K at 128 x 32 in the
# 12 attention layers; the Dense projection's 806 x 128 kernel and 806 biases.
extra = {name: rows[name]["parameters"] - base["parameters"] for name in rows}
assert extra["learned_positions"] == 2 * 64 * 128 and extra["tied_output"] == -(806 * 128 + 806)
assert extra["key_dim_4"] == -12 * 2 * (128 * 128 + 128 - 128 * 32 - 32)
assert round(-extra["key_dim_4"] / base["parameters"], 2) == 0.13
print("most accurate to least:", ", ".join(reversed(ranked)))

# %% [markdown]
# **要点**
#
# - 先看规模：每个变体只见过 300 步 × 约 2048 个词元 = 614,400 个词元，论文的 base 模型见过 100,000 × 50,000 =
#   50 亿个，是这里的 8138 倍：所有模型都还在训练的最开始。
# - 再看噪声：最后一行是换了种子的同一配方，它与基线的差距（准确率 0.007，BLEU 2 到 4）
#   就是任何一行可能因偶然而偏离的量；差距不超过它的行（上面标为 within）在这个预算下什么也说明不了，
#   无论正负。先看准确率：它平均了 1000 句的每个目标词元，BLEU 只有 200 句。
# - 头数与 d_k（A 行）：每个头分到 d_model/h 维，参数量不变。1 个头与基线持平，4
#   个头略微领先（约为噪声的两倍），16 个头（d_k = 8）远远落后（准确率低 0.10，BLEU 低 26）；
#   只把查询和键缩到每头 4 维（B 行，值仍为 16 维）代价最大，准确率低 0.21：如表 3 所说，
#   “判断相容性并不容易”，需要空间。
# - 暂退率 0 与标签平滑 0（D 行）：两者都是正则化手段，防的是多轮训练之后的过拟合，而 300
#   步连一遍训练集都没走完。去掉暂退法的模型大幅领先（准确率高 0.11，BLEU 高 19）；去掉标签平滑，准确率持平，
#   没有结论。论文的结论（两者都提高 BLEU）说的是训练结束时。要比较准确率而不是损失：
#   带标签平滑的损失有一个高于 0 的下限。
# - 可学习位置（E 行）的准确率与正弦持平，与表 3 一致，BLEU 却更低（测试低 11，泛化低 6），原因未测；
#   去掉位置编码，准确率低 0.06；输出投影与目标嵌入绑定（权重共享）落后 0.24；后置规范化最落后（0.42 对 0.79）
#   ，停在第 6 节描述的平台上，这正是基线采用前置规范化的原因。
# - 所以这张表测的是各变体在一个小而规整的语料上“起步”学得多快，与表 3 问的不是同一个问题。要回答表 3 的问题，
#   就把每一行训练到收敛（练习 4），并用几个种子重复基线，以了解噪声有多大。

# %% [markdown]
# ## The machine-translation workflow, one sentence end to end
#
# Every translation, in the notebooks, the command line and the exported
# SavedModel, goes through the same stages. We walk one sentence through
# them with the library's functions and time each stage. The model is the
# run that notebook 6 trained; if you opened this notebook first, it trains
# the same run now (1,000 steps, about ten minutes on two CPU cores).

# %%
RUN_DIR = course.ensure_run("tutorial")  # notebook 6's run; trained now if it is not there
run = load_run(RUN_DIR)
model = run.model
translator = Translator.from_run(run)
SENTENCE = "O animal não atravessou a rua porque estava muito cansado."


def translate_by_stages(sentence):
    """Translate one sentence stage by stage; return the translation, the stages' seconds and their data."""
    seconds, seen = {}, {}
    clock = time.perf_counter()

    def lap(stage):
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now

    text = tf.constant([sentence])
    ids = translator.source_tokens(text)  # ragged [1, (pieces)]: [START] pieces [END]
    seen["pieces"] = [p.decode() for p in translator.source_tokenizer.lookup(ids).numpy()[0]]
    lap("1. text → WordPiece ids")
    source = translator.source_ids(text)  # int32 [1, S], cut to max_length, padded with 0
    lap("2. ids → model input")
    context, context_mask = model.encode(source, training=False)  # [1, S, d_model], [1, S]
    lap("3. encoder (once)")
    cache = model.init_cache(context, length=translator.max_length)
    lap("4. decoder cache (source keys and values)")
    token, out = tf.constant([[START_ID]]), []
    for t in range(translator.max_length - 1):
        logits, cache = model.decode_cached(token, context_mask, cache, t)  # [1, 1, vocab]
        token = tf.argmax(logits[:, -1], axis=-1, output_type=tf.int32)[:, None]
        out.append(int(token[0, 0]))
        if out[-1] == END_ID:
            break
    lap(f"5. decoder, {len(out)} steps")
    translation = translator.target_text(tf.constant([out])).numpy()[0].decode()
    lap("6. ids → text")
    seen.update(source=source.numpy()[0], output_ids=out, steps=len(out))
    return translation, seconds, seen


# %% [markdown]
# The first run of each stage also pays for one-off work: TensorFlow traces
# the tokenizer's `tf.function`s into graphs, and Keras builds each layer's
# call the first time it sees it. So we run the sentence twice and show both.

# %%
translation, cold, seen = translate_by_stages(SENTENCE)
translation_again, warm, _ = translate_by_stages(SENTENCE)
assert translation_again == translation
print("text:        ", SENTENCE)
print("pieces:      ", seen["pieces"])
print("ids:         ", seen["source"].tolist())
print("output ids:  ", seen["output_ids"])
print("translation: ", translation)
print()
print(f"{'stage':<44}{'first run':>12}{'second run':>12}")
for stage in cold:
    print(f"{stage:<44}{cold[stage] * 1000:>9.1f} ms{warm[stage] * 1000:>9.1f} ms")
print(f"{'total':<44}{sum(cold.values()) * 1000:>9.1f} ms{sum(warm.values()) * 1000:>9.1f} ms")

# %%
stages = list(warm)
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.barh(range(len(stages)), [warm[s] * 1000 for s in stages], color="tab:blue")
ax.set_yticks(range(len(stages)), stages)
ax.invert_yaxis()
ax.set_xlabel("milliseconds (second run)")
ax.set_title("where one translation's time goes")
plt.tight_layout()
plt.show()
per_step = warm[stages[4]] / seen["steps"]
print(
    f"one decoder step: {per_step * 1000:.1f} ms; the encoder, for all {seen['source'].size} "
    f"source tokens at once: {warm[stages[2]] * 1000:.1f} ms"
)

# %% [markdown]
# The encoder reads all source tokens in one parallel pass; the decoder must
# produce one token after another, each step running every decoder layer
# for the newest token (the cache spares it the earlier ones, notebook 7).
# So the decoder's share grows with the length of the output, and that is
# where beam search, batching and XLA (notebook 7,
# `benchmarks/decode_speed.py`) try to save. Step by step in Python, as
# here, each operation is also dispatched one at a time; the library's
# `Translator` runs the same loop as one traced graph, which pays for
# tracing once and then skips that overhead:

# %%
for attempt in ("first call (traces the graph)", "second call"):
    started = time.perf_counter()
    graph_translation = translator.translate(SENTENCE)
    print(f"Translator.translate, {attempt}: {(time.perf_counter() - started) * 1000:.0f} ms")
assert graph_translation == translation
print(graph_translation)

# %% [markdown]
# Finally, the attention behind this translation. Choose the kind
# (the encoder's self-attention, the decoder's masked self-attention, the
# cross-attention), a layer and a head, and hover or click a token to see
# where it looks (notebook 7 explains the three kinds).

# %%
view = translation_view(translator, SENTENCE)
display(view)

# %% [markdown]
# **要点**
#
# - 每一次翻译，不论在笔记本、命令行还是导出的 SavedModel 里，都经过同样的几个阶段：文本 → WordPiece id →
#   模型输入 → 编码器（一次）→ 解码器缓存（源句的键和值）→ 逐步解码 → id → 文本。这里用库函数把一句话走一遍，
#   并给每个阶段计时。
# - 每个阶段第一次运行还要付一次性的开销（TensorFlow 把分词器的 `tf.function` 追踪成计算图，Keras
#   第一次构建每层的调用），所以跑两遍，看第二遍：解码器的 15 步占了绝大部分时间，而编码器一次读完
#   13 个源词元用的时间还不到一个解码步（本次构建如此；具体毫秒数见上表，随机器而变）。
# - 编码器一次并行读完所有源词元；解码器必须一个接一个地产生词元，每一步都为最新的词元运行所有解码器层（缓存省
#   掉了前面的词元）。所以解码器所占的份额随输出长度增长，束搜索、批处理和 XLA（第 7 节，
#   `benchmarks/decode_speed.py`）都在这里想办法。
# - 这里在 Python 中逐步执行，每个运算也是逐个分发的；库里的 `Translator`
#   把同样的循环作为一个追踪好的计算图运行，第一次调用要付追踪的代价（7278 ms），之后就省去了这份开销：
#   第二次调用只要 38 ms，译文相同。

# %% [markdown]
# ## After the paper: encoder-only, decoder-only, pretraining
#
# The paper's model has two halves because translation has two texts: an
# encoder reads the source with self-attention that looks both ways, and a
# decoder writes the target with causal self-attention plus cross-attention
# to the encoder's output. The models that came after kept the layers and,
# depending on the task, kept one half or both. They also changed how the
# models learn: first *pretrain* on a large amount of unlabelled text, with
# an objective that the text itself supplies the answers to, then adapt the
# model to a task (*fine-tuning*), or simply ask it.
#
# - **Encoder-only**, like BERT (Devlin et al., 2019): the encoder stack
#   alone. Its self-attention is bidirectional, every token sees the whole
#   input, so it cannot generate text left to right; it reads. It is
#   pretrained by *masked-token prediction*: hide some tokens of a sentence
#   and predict each from the words on both sides. Fine-tuned with a small
#   head, it classifies sentences, tags tokens, or picks out a span. You have
#   built one: notebook 8's negation classifier
#   ([08_using_the_layers_elsewhere.ipynb](08_using_the_layers_elsewhere.ipynb))
#   is the library's `Encoder`, a pooling and a dense head, an encoder-only
#   model (trained from scratch on its labels instead of pretrained).
# - **Decoder-only**, like GPT (Radford et al., 2018) and GPT-2 (Radford et
#   al., 2019): the decoder stack without cross-attention, so nothing but
#   causal self-attention and feed-forward layers; position t sees tokens 0
#   to t. It is pretrained by *next-token prediction* on plain text, which
#   makes it a *language model*: it gives the probability of a text, one
#   token at a time given the tokens before. It generates by sampling a
#   token, appending it and asking again. GPT fine-tuned such a model for
#   each task; GPT-2 showed that a large one can do some tasks with no
#   fine-tuning at all, when the task is written as the beginning of a text.
# - **Encoder–decoder**, like the paper's model and T5 (Raffel et al.,
#   2020): both stacks, for tasks that turn one text into another. T5 casts
#   every task, classification included, as text to text, and pretrains by
#   deleting spans of the input that the decoder has to write back.
#
# The decoder-only recipe needs nothing the library lacks. `Decoder` takes
# `cross_attention=False`: its layers then have two sub-layers instead of
# three, and it reads no encoder output.

# %%
show(DecoderLayer.call)

# %% [markdown]
# ### A small language model of the corpus's English
#
# We train a very small model of the GPT kind on the English side of the
# embedded corpus alone, with the course's English WordPiece tokenizer
# (notebook 2). The objective is notebook 5's masked loss on the decoder's
# shifted targets, without a source: the input is a sentence's tokens up to
# the last but one, the target the same tokens one place later. Training is
# one pass over part of the training sentences (a couple of minutes on two
# CPU cores, a few seconds in fast mode; the printout gives the time).

# %%
tokenizers = load_tokenizers()
EN_VOCAB = int(tokenizers.en.get_vocab_size())
LM_TRAIN, LM_VALIDATION = (3000, 500) if FAST else (60000, 2000)  # sentences; one epoch


def english_ids(split, size):
    """The English side of ``size`` pairs: the sentences, and ids ``[N, (tokens)]``, [START] .. [END]."""
    sentences = [en.decode() for _, en in load_dataset("embedded", split).take(size).as_numpy_iterator()]
    return sentences, tokenizers.en.tokenize(tf.constant(sentences))


def next_token_batches(ids, batch_size, shuffle=False):
    """(input, target) batches: target is the input shifted by one token, both padded with 0."""
    rows = tf.data.Dataset.from_tensor_slices(tf.cast(ids, tf.int32))  # one sentence's ids at a time
    if shuffle:
        rows = rows.shuffle(10_000, seed=0)
    batches = rows.ragged_batch(batch_size).map(lambda b: b.to_tensor(PAD_ID))  # (B, T), T the longest
    return batches.map(lambda b: (b[:, :-1], b[:, 1:])).prefetch(2)  # predict token t+1 from 0..t


train_en, train_en_ids = english_ids("train", LM_TRAIN)
validation_en, validation_en_ids = english_ids("validation", LM_VALIDATION)
print(f"{len(train_en)} training sentences, {len(validation_en)} validation sentences, {EN_VOCAB} tokens")
print(train_en[0], "->", train_en_ids[0].numpy().tolist())


# %% [markdown]
# The model is the library's `Decoder` with `cross_attention=False`, which
# leaves out the sub-layer that reads an encoder output, plus a `Dense`
# output projection onto the English vocabulary. `step` is the same model,
# one token at a time, with notebook 3's key/value cache.


# %%
class LanguageModel(keras.Model):
    """English ids ``[batch, T]`` -> next-token logits ``[batch, T, vocab]``: a decoder-only Transformer."""

    def __init__(self, vocab_size, **kwargs):
        super().__init__(**kwargs)
        self.decoder = Decoder(
            num_layers=2,
            d_model=128,
            num_heads=4,
            dff=512,
            vocab_size=vocab_size,
            max_length=64,
            dropout_rate=0.1,
            norm_first=True,
            cross_attention=False,  # decoder-only: causal self-attention and feed-forward layers
        )
        self.head = keras.layers.Dense(vocab_size)  # the output projection

    def call(self, ids, training=None):
        return self.head(self.decoder(ids, training=training))  # (B, T, vocab)

    def step(self, ids, cache, index):
        """Logits for the tokens at positions ``index ..``, against the cache of the earlier ones."""
        x, cache = self.decoder.call_cached(ids, None, cache, index)  # no context, no context mask
        return self.head(x), cache


keras.utils.set_random_seed(0)
lm = LanguageModel(EN_VOCAB)
lm.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=lambda targets, logits: masked_loss(targets, logits, label_smoothing=0.0),  # notebook 5's
)
started = time.perf_counter()
batches = next_token_batches(train_en_ids, 64, shuffle=True)  # shuffled here, not by fit
lm.fit(batches, epochs=1, shuffle=False, verbose=2)
lm_seconds = time.perf_counter() - started
print(f"trained in {lm_seconds:.0f} s; {lm.count_params():,} parameters")

# %% [markdown]
# **Perplexity.** The validation loss is the mean cross-entropy of the
# next token, in nats, over every real target token. Its exponential, the
# *perplexity*, reads as a number of choices: a model as unsure as one that
# picks uniformly among *k* tokens has perplexity *k*. Two yardsticks: a
# uniform guess over the vocabulary, and a model that knows only how often
# each token occurs in training (a unigram model), which is what a language
# model knows before it reads any context.


# %%
def validation_loss(logits_of):
    """Mean next-token cross-entropy over the real validation tokens, for ``logits_of(input)``."""
    total, count = 0.0, 0.0
    for inputs, targets in next_token_batches(validation_en_ids, 256):
        real = float(tf.reduce_sum(tf.cast(tf.not_equal(targets, PAD_ID), tf.float32)))
        total += float(masked_loss(targets, logits_of(inputs), label_smoothing=0.0)) * real  # batch mean
        count += real
    return total / count


counts = np.bincount(train_en_ids[:, 1:].flat_values.numpy(), minlength=EN_VOCAB) + 1  # add-one
unigram = tf.constant(np.log(counts / counts.sum()), tf.float32)  # log-frequencies as logits
lm_loss = validation_loss(lambda inputs: lm(inputs, training=False))
unigram_loss = validation_loss(lambda inputs: tf.broadcast_to(unigram, (*inputs.shape, EN_VOCAB)))
print(f"{'model':<38}{'validation loss':>16}{'perplexity':>12}")
print(f"{'uniform over the vocabulary':<38}{np.log(EN_VOCAB):>16.3f}{EN_VOCAB:>12.1f}")
print(f"{'unigram (token frequencies)':<38}{unigram_loss:>16.3f}{np.exp(unigram_loss):>12.1f}")
print(f"{'decoder-only language model':<38}{lm_loss:>16.3f}{np.exp(lm_loss):>12.2f}")

# %% [markdown]
# **Sampling with a temperature.** To generate, start from `[START]` (and,
# if given, a prefix), and repeat: compute the next token's logits, divide
# them by a temperature *T*, take the softmax, draw a token from it, append
# it. *T* = 1 samples the model's own distribution; *T* < 1 sharpens it
# towards the most likely token (*T* → 0 is greedy decoding); *T* > 1
# flattens it towards uniform. The loop decodes with the cache, so each step
# runs the layers for the newest token only; first we check that this
# step-by-step path gives the full forward pass's logits.

# %%
shortest = int(tf.reduce_min(validation_en_ids[:2].row_lengths()))
check = tf.cast(validation_en_ids[:2, :shortest].to_tensor(), tf.int32)  # (2, T): no padding
cache = lm.decoder.init_cache(None, length=check.shape[1], batch_size=2)
steps = []
for t in range(check.shape[1]):
    logits, cache = lm.step(check[:, t : t + 1], cache, t)
    steps.append(logits)
gap = float(tf.reduce_max(tf.abs(tf.concat(steps, axis=1) - lm(check, training=False))))
print(f"cached steps against the full forward pass: largest difference {gap:.1e}")
assert gap < 1e-4


def sample(prefix="", temperature=1.0, count=4, seed=0, max_tokens=40):
    """``count`` sentences drawn from the model, each starting with ``prefix``."""
    rng = np.random.default_rng(seed)
    start = tokenizers.en.tokenize(tf.constant([prefix]))[0, :-1]  # [START] and the prefix, no [END]
    ids = tf.tile(tf.cast(start, tf.int32)[None], (count, 1))  # (count, P)
    cache = lm.decoder.init_cache(None, length=max_tokens, batch_size=count)
    logits, cache = lm.step(ids, cache, 0)  # the whole prefix in one step
    rows, done = ids.numpy().tolist(), np.zeros(count, bool)
    for index in range(len(rows[0]), max_tokens):
        scaled = logits[:, -1].numpy().astype("float64") / temperature  # (count, vocab)
        probs = np.exp(scaled - scaled.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        tokens = [rng.choice(EN_VOCAB, p=p) for p in probs]
        for row, token, finished in zip(rows, tokens, done):
            row.append(END_ID if finished else int(token))
        done |= np.array(tokens) == END_ID
        if done.all():
            break
        logits, cache = lm.step(tf.constant(tokens, tf.int32)[:, None], cache, index)
    texts = tokenizers.en.detokenize(tf.ragged.constant(rows, tf.int64)).numpy()  # each row up to [END]
    return [t.decode() for t in texts]


seen_in_training, samples = set(train_en), []
for prefix, temperature in (("", 1.0), ("", 0.5), ("The animal", 1.0), ("The animal", 0.5)):
    print(f"from [START]{' + ' + repr(prefix) if prefix else ''}, temperature {temperature}:")
    for text in sample(prefix, temperature):
        samples.append(text)
        print(f"   {'(in training) ' if text in seen_in_training else ''}{text}")
copied = sum(text in seen_in_training for text in samples)
print(f"{copied} of the {len(samples)} samples are training sentences word for word")

# %% [markdown]
# What to read in these outputs:
#
# - **The table.** A uniform guess has the vocabulary's size as its
#   perplexity, and token frequencies alone bring it down; the language model
#   goes much further, because the tokens before tell it what may follow. The
#   corpus is generated from a small grammar, so its English is far more
#   predictable than real text: compare perplexities only between models on
#   the same text and the same tokenizer.
# - **The samples.** Expect the sentences at temperature 0.5 to be more
#   regular and more alike, and those at 1.0 more varied and more often
#   wrong: the model's own distribution still gives some weight to tokens
#   that do not fit. The mark "(in training)", and the count under the
#   samples, tell which samples are training sentences word for word; the
#   others the model composed from what it learned.
# - **The prefix** is all the "prompt" this model has: it continues what it
#   is given, as GPT-2 does with a task written as text.
#
# This is pretraining in miniature: no labels, only text. To fine-tune it
# for a task you would add a head and train on labelled examples, as
# notebook 8 did with the encoder.

# %% [markdown]
# **要点**
#
# - 论文之后的模型保留了同样的层，按任务只留一半或两半都留，并且先在大量无标注文本上**预训练**
#   （训练目标的答案由文本自己给出），再微调或直接使用。
# - **仅编码器**模型（如 BERT，Devlin et al., 2019）：双向自注意力，每个词元看到整个输入；
#   用遮蔽词元预测（masked-token prediction）预训练，加一个小输出头做分类、标注等理解任务。
#   第 8 节的否定句分类器就是一个仅编码器模型（从零训练，没有预训练）。
# - **仅解码器**模型（如 GPT，Radford et al., 2018；GPT-2，2019）：去掉交叉注意力的解码器，
#   只有因果自注意力；用下一个词元预测预训练，也就是**语言模型**，生成时逐个**采样**词元。
#   **编码器–解码器**模型（论文的模型，T5，Raffel et al., 2020）把一段文本变成另一段文本。
# - 库里的 `Decoder(cross_attention=False)` 加一个输出投影，就是一个仅解码器语言模型。
#   我们在内置语料的英语一侧上训练它：验证集损失取指数就是**困惑度**，可以读作
#   “模型在几个词元之间犹豫”；它远低于均匀猜测和只知词频的一元模型，
#   因为前面的词元告诉它后面可能是什么。
# - 采样时把 logits 除以**温度** T 再做 softmax：T = 1 按模型自己的分布采样，
#   T < 1 更集中（T → 0 即贪心解码），T > 1 更平坦。带缓存逐步解码与一次完整的前向计算
#   给出相同的 logits；给出前缀时，模型就接着前缀往下写。
#
# **练习**（英文原题在下一格；参考解答见
# [solutions/09_training_and_performance.py](solutions/09_training_and_performance.py)，练习 3 和 4
# 训练时间很长，`TF_TRANSFORMER_FAST=1` 运行它们的缩小版）
#
# 1. **动手算。** 常用的训练代价估计是每个参数每个词元 6 次浮点运算（前向 2 次，反向 4 次）。base 模型约有
#    6500 万个参数（表 3），每步读约 25,000 个源词元和 25,000 个目标词元。估算 100,000 步的 FLOPs，与表 2 的
#    3.3 · 10¹⁸ 比较。再细化：源词元只经过编码器各层，目标词元只经过解码器各层和输出投影，
#    而查嵌入表不做乘法（base 模型的两个嵌入和输出投影共用一个 37,000 × 512 的矩阵）。训练把 P100 假定的 9.5
#    TFLOPS 中多大的比例用在了模型的矩阵乘法上？对 Transformer 而言，每词元 6 次的规则漏掉了什么（想一想约 30
#    个词元的句子中的 QKᵀ）？
# 2. **写代码。** 把 `translate_by_stages` 的第 5 阶段换成第 7 节的朴素循环（每一步都把整个前缀送进
#    `model((source, target))`）。检查两种循环给出相同的词元，数一数输出 n 个词元时各自解码了多少个目标位置，
#    并对这句话和一句约两倍长的句子计时。两者各怎样随输出长度增长，为什么？
# 3. **做实验。** 一对种子是一把很薄的尺子。用第三个种子训练基线：
#    `python benchmarks/ablations.py --variants baseline --seed 2 --out /tmp/seed2.json`，
#    以三个基线得分的范围作为噪声。在验证准确率和 BLEU 上，表中哪些行仍在这个范围之外？
# 4. **做实验。** 把 `baseline`、`post_norm` 和 `heads_1` 训练预算的几倍：
#    `python benchmarks/ablations.py --variants baseline post_norm heads_1 --steps 1000 --out /tmp/long.json`
#    （第 6 节的长度），把每个变体与基线的差距同两个种子的差异并排。后置规范化的模型会走出平台、追上来吗？1
#    个头会像表 3 那样落后吗？三个模型中哪些参数量不同，差多少？

# %% [markdown]
# ## Exercises
#
# Four exercises: two on what training and decoding cost, two that rerun
# the ablation study.
#
# 1. **By hand.** A common estimate of training cost is 6 FLOPs per
#    parameter per token (2 for the forward pass, 4 for the backward). The
#    base model has about 65 million parameters (Table 3) and each step reads
#    about 25,000 source and 25,000 target tokens. Estimate the FLOPs of
#    100,000 steps, and compare with Table 2's 3.3 · 10^18. Then refine the
#    estimate: a source token passes through the encoder's layers only, a
#    target token through the decoder's layers and the output projection
#    only, and an embedding lookup multiplies nothing (the base model shares
#    one 37,000 × 512 matrix between both embeddings and the output
#    projection). What share of the P100s' assumed 9.5 TFLOPS did training
#    put into the model's matrix products, and what does the 6-per-token rule
#    leave out for a Transformer (think of QKᵀ for sentences of about 30
#    tokens)?
# 2. **By code.** Replace stage 5 of `translate_by_stages` with notebook 7's
#    plain loop, which feeds the whole prefix through `model((source,
#    target))` at every step. Check that both loops give the same tokens,
#    count the target positions each decodes for an output of *n* tokens,
#    and time both for this sentence and for one about twice as long. How
#    does each grow with the output length, and why?
# 3. **By experiment.** One pair of seeds is a thin yardstick. Train the
#    baseline from a third seed,
#    `python benchmarks/ablations.py --variants baseline --seed 2 --out /tmp/seed2.json`,
#    and take the range of the three baselines' scores as the noise. Which
#    rows of the table still lie outside it, in validation accuracy and in
#    BLEU?
# 4. **By experiment.** Train `baseline`, `post_norm` and `heads_1` for
#    several times the budget,
#    `python benchmarks/ablations.py --variants baseline post_norm heads_1 --steps 1000 --out /tmp/long.json`
#    (notebook 6's length), and set each gap to the baseline beside the two
#    seeds' difference. Does the post-norm model leave its plateau and catch
#    up? Does one head fall behind, as in Table 3? Which of the three models
#    differ in their number of parameters, and by how much?
#
# Worked solutions: [solutions/09_training_and_performance.py](solutions/09_training_and_performance.py)
# (run it from this folder: `python solutions/09_training_and_performance.py`; exercises 3 and 4
# train for a long time, `TF_TRANSFORMER_FAST=1` runs a tiny version of them).
