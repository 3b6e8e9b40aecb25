# %% [markdown]
# # 11. Real text: the translations already on your machine
#
# **What you will learn:**
# - where tens of thousands of human translations hide on every Linux
#   machine (the gettext catalogs of its programs), what is in them, and what
#   a translator would clean before learning from them;
# - why a tokenizer must give text back exactly, and how WordPiece's
#   detokenizer and SentencePiece differ on `'%s'` and `(%d minutes)`;
# - what the Transformer of this course learns from real text in under half
#   an hour on a CPU, with a recipe chosen by measurement for real data (2
#   layers, 4,000 SentencePiece pieces, dropout, label smoothing, a
#   validation loss that decides when to stop);
# - what a BLEU score on real text means next to the embedded corpus's 99
#   and the paper's 27.3, and how to read a model's mistakes one by one.

# %% [markdown]
# ## 本节内容
#
# 前面十节里，模型只见过课程自带的合成语料：它的 BLEU 接近 99，但那些测试句只是
# 训练短语的重新组合，说明不了模型在真实文本上能做到什么。这一节换成真实文本，
# 而且不用联网：每台 Linux 机器的
# `/usr/share/locale/<语言>/LC_MESSAGES/*.mo` 里都有各个软件的界面文字及其人工译文
# （gettext 翻译目录）。我们读取巴西葡萄牙语（pt_BR）的目录，统计其中的内容（长度、
# `%s` 这类占位符、重复），说明清洗规则；比较 WordPiece 与 SentencePiece 能否把文本
# 原样还原；用为真实数据测出来的训练配方（2 层、4000 个 SentencePiece 片段、暂退法（dropout）、
# 标签平滑、按验证集损失停止）在 CPU 上训练不到半小时，用 sacreBLEU 打分，并把
# 分数与合成语料的 99 和论文的 27.3 放在一起解释；逐条阅读模型的错误，看一句真实
# 句子上的注意力。最后是给中文读者的
# 英译中（zh_CN）目录：它的数据、切分和已提交的训练结果（BLEU 使用 sacreBLEU 的
# `zh` 分词）。

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

import collections
import json
import random
import re
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from tf_transformer import course
from tf_transformer.data import DatasetSpec, catalogs, load_dataset, prepare
from tf_transformer.data import sentencepiece_tokenizer as sentencepiece
from tf_transformer.data.prepare import format_summary
from tf_transformer.data.tokenizer import VOCAB_SIZE, Tokenizer, build_vocab, write_vocab
from tf_transformer.inference import Translator, evaluate_run
from tf_transformer.runs import HISTORY_FILE, load_run

FAST = course.fast_mode()  # TF_TRANSFORMER_FAST=1: a tiny model and samples, every cell still runs
PT_BR = DatasetSpec("gettext:pt_BR")

# %% [markdown]
# ## Where the text comes from
#
# Programs show their messages through *gettext*: the English string in the
# source code (the `msgid`) is looked up in a catalog of the user's language,
# which gives the translation (the `msgstr`). The catalogs are written by
# each program's community of translators (for GNU programs the Translation
# Project, for desktops GNOME's and KDE's teams, for Debian's own tools
# Debian's), compiled to `.mo` files and installed beside the program, in
# `/usr/share/locale/<LANG>/LC_MESSAGES/`. Every Linux machine that has
# installed software in a language holds the catalogs: a corpus of real,
# human, sentence-aligned translations, offline.
#
# They are not ours: each catalog keeps its program's licence. We read them
# where they lie, record which ones we read (name, pairs kept, a SHA-256 of
# the file), and never copy them into the course's repository.

# %%
found = catalogs.find_catalogs("pt_BR")
print(f"{len(found)} catalogs for pt_BR on this machine, {sum(p.stat().st_size for p in found) / 1e6:.1f} MB")
print("for example:", ", ".join(sorted(p.stem for p in found)[:12]), "...")

# %% [markdown]
# `--dataset gettext:pt_BR` reads them all (`gettext:PATH` reads one `.po`
# or `.mo` file, or a folder of them). English is the source, the catalogs'
# language the target; `reverse=True` turns it around. `prepare` cleans the
# pairs the way a translator would want (the rules and their reasons are in
# `tf_transformer/data/catalogs.py`), carves validation and test out of them
# by a hash of the English string (the same string lands in the same split
# on every machine), learns the vocabularies, and reports what it did.

# %%
summary = prepare(PT_BR)
print(format_summary(summary).replace(summary["data_dir"], "<data dir>"))  # ($TFDS_DATA_DIR)

# %% [markdown]
# What the counts mean:
#
# - **header**: each catalog's first entry, with an empty `msgid`, holds its
#   metadata (the charset, the plural rule), not a translation;
# - **untranslated** and **fuzzy**: an empty `msgstr`, or one a translator
#   marked as a guess to be checked (`msgfmt` leaves fuzzy ones out of `.mo`
#   files already);
# - **identical**: the translation repeats the English (`GTK`, `%s: %s`,
#   `URL`): nothing to learn, and a model would learn to copy;
# - **duplicate**: the same pair from several catalogs (`File not found` is
#   in many programs), kept once;
# - **plural**: `"%d file"` / `"%d files"` is one entry with several
#   translations; we keep the singular pair, as the one the English writes
#   out in full;
# - **context**: a `msgctxt` ("menu", "verb") disambiguates identical
#   English strings for translators; it is not part of the sentence;
# - **accelerator**: `_File` and `&File` mark the letter a keyboard shortcut
#   uses (in Chinese catalogs `文件(_F)`): removed on both sides, so `_File`
#   and `File` are one sentence.
#
# Placeholders (`%s`, `%d`, `%(name)s`, `{0}`) and markup (`<b>`) are kept
# verbatim: a translation must keep them, and so must a model.

# %% [markdown]
# **要点**
#
# - 程序通过 gettext 显示消息：源代码中的英语字符串（`msgid`）在用户语言的翻译目录里查到译文（`msgstr`）。
#   目录由各个程序的译者社区编写（GNU 程序是 Translation Project，桌面环境是 GNOME 和 KDE 的团队，Debian
#   自己的工具是 Debian 的团队），编译成 `.mo` 文件，装在 `/usr/share/locale/<LANG>/LC_MESSAGES/`。
#   每台装过某种语言软件的 Linux 机器上都有它们：真实的、人工翻译的、按句对齐的语料，不用联网。
# - 它们不属于本课程：每个目录都保留各自程序的许可证。我们就地读取，记录读了哪些（名称、保留的句对数、文件的
#   SHA-256），从不复制进课程仓库。本机有 79 个 pt_BR 目录，共 3.3 MB。
# - `--dataset gettext:pt_BR` 读取全部目录（`gettext:PATH` 读一个 `.po`、`.mo` 文件或一个文件夹）；
#   英语是源语言，`reverse=True` 把方向反过来。`prepare` 按译者希望的方式清洗句对，
#   按英语字符串的哈希切出验证集和测试集（同一字符串在每台机器上都落进同一个划分），学出词表并报告：训练
#   21,383 对、验证 1188 对、测试 1188 对；跳过 6650 条；SentencePiece 词表两边各 4000 个词元；验证集上两边都
#   100% 原样还原。
# - 清洗规则：去掉每个目录的头条目（元数据，不是译文）、未翻译的和被标为 fuzzy（待核对）的条目、
#   译文与英语相同的条目（没什么可学，还会教模型照抄）、多个目录中重复的句对（只保留一次）；
#   复数条目只保留单数那一对；去掉消歧用的 `msgctxt` 上下文；两边都去掉快捷键标记（`_File`、`&File`，
#   中文目录里是 `文件(_F)`）。占位符（`%s`、`%d`、`%(name)s`、`{0}`）和标记（`<b>`）原样保留：
#   译文必须保留它们，模型也必须。

# %% [markdown]
# ## What is in them
#
# Software strings are not novels. Most are short (a button, a menu item, an
# error message), many carry a placeholder for a file name or a number, some
# are whole paragraphs of `--help` text (their line breaks become spaces, as
# for every local corpus; `catalogs.placeholders` finds the placeholders).


# %%
def split_pairs(spec, split, limit=None):
    """A split of ``spec`` as (source, target) strings."""
    dataset = load_dataset(spec, split)
    if limit:
        dataset = dataset.take(limit)
    return [(a.decode("utf-8"), b.decode("utf-8")) for a, b in dataset.as_numpy_iterator()]


train_pairs = split_pairs(PT_BR, "train", limit=5000 if FAST else None)
validation_pairs = split_pairs(PT_BR, "validation")
MARKUP = re.compile(r"</?[a-zA-Z][^<>]*>")
words = np.array([len(en.split()) for en, _ in train_pairs])
print(
    f"{len(train_pairs):,} training pairs; English words per string: median {np.median(words):.0f}, "
    f"90th percentile {np.percentile(words, 90):.0f}, longest {words.max()}"
)
for name, test in [
    ("a printf or Python placeholder", lambda en: catalogs.placeholders(en)),
    ("markup", lambda en: MARKUP.search(en)),
    ("one word", lambda en: len(en.split()) == 1),
]:
    share = np.mean([bool(test(en)) for en, _ in train_pairs])
    print(f"  {share:6.1%} hold {name}")

plt.figure(figsize=(7, 2.8))
plt.hist(np.minimum(words, 40), bins=40, range=(0.5, 40.5), color="tab:blue")
plt.xlabel("English words per training string (40: 40 or more)")
plt.ylabel("strings")
plt.title("gettext:pt_BR: most strings are short")
plt.tight_layout()
plt.show()

# %%
for en, pt in random.Random(11).sample(train_pairs, 8):
    print(f"{en!r}\n  -> {pt!r}")

# %% [markdown]
# **要点**
#
# - 软件字符串不是小说：大多很短（按钮、菜单项、错误信息），很多带有文件名或数字的占位符，也有整段的 `--help`
#   文字（它们的换行变成空格）。
# - 训练集 21,383 对；每个英语字符串的词数中位数是 5，第 90 百分位是 11，最长 156；24.0% 含 printf 或 Python
#   风格的占位符，1.3% 含标记，8.3% 只有一个词。
# - 随机抽出的样例也是这样：专有名称、选项和占位符原样出现在译文里，例如 ``%s: can't open `%s'`` →
#   ``%s: não foi possível abrir `%s'``。

# %% [markdown]
# ## Giving text back exactly
#
# Notebook 2's WordPiece tokenizer splits text into words and punctuation
# and, to detokenize, joins the pieces with spaces by rules that fit the
# embedded corpus (no space before a full stop, none inside a contraction).
# Real text breaks those rules everywhere: `'%s'` comes back as `'% s'`,
# `pam_get_item()` as `pam _ get _ item ( )`. A model trained on those pieces
# writes its translations with the invented spacing, and BLEU pays for it.
#
# SentencePiece (Kudo and Richardson, 2018) does not split on spaces first:
# it treats the text as a stream of characters, the space itself written
# `▁` inside the pieces, so joining the pieces is the text again, exactly. It
# learns its pieces either by merging frequent pairs (byte-pair encoding,
# what the paper used for English-German) or by keeping the most useful
# pieces of a unigram language model (the default here); characters it never
# saw fall back to their UTF-8 bytes. The cell below learns both kinds from
# the training strings and checks `detokenize(tokenize(x)) == x` on the
# validation strings (benchmarks/tokenizers.py does it for more corpora).


# %%
def round_trip(tokenizer, sentences):
    """The share of ``sentences`` that come back exactly, and the first failures."""
    ids = tokenizer.tokenize(tf.constant(sentences))
    back = [b.decode("utf-8") for b in tokenizer.detokenize(ids).numpy()]
    failures = [(a, b) for a, b in zip(sentences, back) if a != b]
    return 1 - len(failures) / len(sentences), failures


learn_from = [en for en, _ in train_pairs[: 3000 if FAST else None]]
check = [en for en, _ in validation_pairs]
scratch = Path(tempfile.mkdtemp())
vocab = build_vocab(tf.data.Dataset.from_tensor_slices(learn_from), VOCAB_SIZE)  # 4,000 pieces
wordpiece = Tokenizer(write_vocab(vocab, scratch / "wordpiece.txt"))
unigram = sentencepiece.SentencePieceTokenizer(
    sentencepiece.learn_model(learn_from, scratch / "unigram.model", VOCAB_SIZE)
)
for name, tokenizer in [("WordPiece", wordpiece), ("SentencePiece", unigram)]:
    rate, failures = round_trip(tokenizer, check)
    print(f"{name:13s} round trip on {len(check):,} validation strings: {rate:.2%}")
    for a, b in failures[:4]:
        print(f"    {a!r}\n -> {b!r}")

# %% [markdown]
# So the course's default for every corpus but the embedded one is
# SentencePiece (`prepare --tokenizer wordpiece` still learns WordPiece; a
# run records which it used). Exactness did not cost BLEU, once the
# vocabulary size was measured too: with the same 4-layer recipe for 10
# minutes, SentencePiece at 8,000 pieces scored *lower* than WordPiece (whose
# learner stopped near 3,000: a smaller softmax, faster steps), but at 4,000
# pieces it scored higher on BLEU (32.61 against 30.07) and on exact outputs
# (11.2% against 6.4%), and 4,000 is now `prepare`'s default (the table in
# the next section). BLEU's own tokenizer and chrF forgive most of
# WordPiece's invented spaces; the exact-match rate and a reader do not.
# SentencePiece's tokenizer runs in the graph (tensorflow-text's
# `SentencepieceTokenizer`), so an exported SavedModel carries it, and a
# server needs nothing of this package.

# %% [markdown]
# **要点**
#
# - 第 2 节的 WordPiece 分词器先把文本切成词和标点，反分词时按适合内置语料的规则用空格把片段连起来。
#   真实文本处处打破这些规则：`'%s'` 回来变成 `'% s'`，`pam_get_item()` 变成 `pam _ get _ item ( )`。
#   用这些片段训练的模型会带着凭空加上的空格写译文，BLEU 为此扣分。
# - SentencePiece 不先按空格切分，而是把文本当作字符流，空格本身在片段里写作 `▁`，所以片段拼起来就是原文，
#   一字不差。它可以用字节对编码（BPE，论文的英德翻译所用）或 unigram 语言模型（这里的默认）学出片段；
#   没见过的字符退回到它的 UTF-8 字节。
# - 在 1188 个验证字符串上：WordPiece 原样还原 52.02%，SentencePiece 100.00%。
# - 所以除内置语料外，课程对所有语料默认用 SentencePiece。精确并没有牺牲 BLEU：同样的 4 层配方各训练 10 分钟，
#   8000 个片段的 SentencePiece 得分反而低于 WordPiece，但用 4000 个片段时 BLEU 更高（32.61 对 30.07），
#   完全一致的输出也更多（11.2% 对 6.4%），于是 4000 成了 `prepare` 的默认值。SentencePiece
#   的分词器在计算图里运行，导出的 SavedModel 自带它，服务端不需要本包的任何东西。

# %% [markdown]
# ## Training on real text
#
# The embedded corpus is easy in one way that real text is not: its test
# sentences are made of the same phrases as its training sentences. Here
# every string is new, the vocabulary is open and a 2.5-million-parameter
# model can learn 21,000 pairs by heart. The recipe for real text
# (`tf_transformer.recipes.real_text`, also what `tf-transformer demo
# --dataset gettext:pt_BR` trains) was chosen by measurement, one change at a
# time, 10 minutes each (printed below from
# `benchmarks/results/real_text_sweep.json`), and keeps the paper's
# regularizers that the synthetic corpus did without:
#
# - the tutorial preset's widths (d_model 128, 8 heads, dff 512) with 2
#   layers each side, not its 4: on a CPU's budget the smaller model takes
#   more steps and wins, and 21,000 pairs do not need 4 layers;
# - SentencePiece vocabularies of 4,000 pieces per side;
# - dropout 0.1 and label smoothing 0.1 (the paper's);
# - pre-norm and a 400-step warm-up (notebook 6);
# - a moving average of the weights for validation and the checkpoints;
# - validation every 200 steps, a time budget of 28 minutes, and *patience*:
#   training stops once the validation loss has not improved for 4 epochs,
#   and the best checkpoint is what we evaluate.
#
# %%
sweep = json.loads((course.results_dir() / "real_text_sweep.json").read_text())["rows"]
for row in sweep:
    greedy, beam = row["test"]["greedy"], row["test"]["beam4"]
    layers = row["recipe"].get("num_layers") or 4
    print(
        f"{layers} layers, {row['vocab_sizes']['source']:,} pieces, dropout {row['recipe']['dropout_rate']}: "
        f"{row['steps']:5,} steps, test BLEU greedy {greedy['bleu']:5.2f}, beam 4 {beam['bleu']:5.2f}, "
        f"chrF {beam['chrf']:5.2f}, exact {beam['exact']:.1%}"
    )

# %% [markdown]
# It is the course's run `real_en_pt_BR`, kept in `runs/real_en_pt_BR`
# (`benchmarks/real_text.py --runs runs` writes the same one); if it is there
# already, we load it. Training it takes the full 28 minutes or less on two
# CPU cores.

# %%
print(course.recipe("real_en_pt_BR"))
RUN_DIR = course.ensure_run("real_en_pt_BR", verbose=2)
run = load_run(RUN_DIR)
history = json.loads((RUN_DIR / HISTORY_FILE).read_text())
steps = [row["step"] for row in history]
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
left.plot(steps, [row["loss"] for row in history], label="training loss")
left.plot(steps, [row["val_loss"] for row in history], label="validation loss")
left.set_xlabel("step")
left.legend()
right.plot(steps, [row["val_masked_accuracy"] for row in history], color="tab:green")
right.set_xlabel("step")
right.set_title("validation masked accuracy")
plt.tight_layout()
plt.show()
best, last = min(history, key=lambda row: row["val_loss"]), history[-1]
print(
    f"{steps[-1]:,} steps; best validation loss {best['val_loss']:.3f} at step {best['step']:,}, "
    f"accuracy {best['val_masked_accuracy']:.3f}; at the end: training accuracy "
    f"{last['masked_accuracy']:.2f}, validation accuracy {last['val_masked_accuracy']:.2f}"
)

# %% [markdown]
# The training loss keeps falling; the validation loss flattens near 2.76
# from step 3,000 on and turns up after step 4,600, while the training
# accuracy (0.86 at the end) pulls away from the
# validation accuracy (0.66): the model learns its training strings faster
# than the language. Patience stopped the run at step 5,400, after 17.5 of
# its 28 minutes, four epochs after the lowest validation loss (step 4,600),
# whose weights are what we evaluate: more time would not have helped this
# model; more data would.
# Label smoothing keeps both losses high (the targets are never quite
# one-hot), so compare them with each other, not with the embedded corpus's.

# %% [markdown]
# **要点**
#
# - 内置语料有一点比真实文本容易：它的测试句由训练句里的短语组成。这里每个字符串都是新的，词表是开放的，而一个
#   250 万参数的模型能把 21,000 个句对背下来。
# - 真实文本的配方是一次改一处、每次训练 10 分钟测出来的，并重新用上了合成语料用不着的论文正则化手段：tutorial
#   预设的宽度（d_model 128，8 个头，dff 512），但每边 2 层而不是 4 层（在 CPU 的预算下，小模型能走更多步，
#   结果更好）；每边 4000 个 SentencePiece 片段；暂退率 0.1 和标签平滑 0.1；前置规范化和 400 步预热；
#   验证和检查点用权重的移动平均；每 200 步验证一次，时间预算 28 分钟，验证损失连续 4 轮没有改进就停止（耐心，
#   patience），评估的是最好的检查点。
# - 扫描结果（测试集 BLEU，贪心 / 束宽 4）：4 层 8000 片段 25.37 / 27.77；4 层 4000 片段 32.61 / 34.13；4 层
#   2000 片段 29.25 / 31.40；4 层 4000 片段、暂退率 0.3 为 15.81 / 20.38；2 层 4000 片段 41.65 / 43.78。
# - 课程的运行 `real_en_pt_BR` 训练了 5400 步，最好的验证损失 2.756 出现在第 4600 步（准确率 0.654）。
#   训练损失一直在降，验证损失从第 3000 步起在 2.76 附近走平，第 4600 步后回升；训练准确率（结束时 0.86）
#   与验证准确率（0.66）拉开了：模型学训练字符串比学语言快。耐心机制在第 5400 步停下训练（28 分钟只用了 17.5
#   分钟）：更多时间帮不了这个模型，更多数据才行。

# %% [markdown]
# ## BLEU in context
#
# We translate the whole test split (greedy search; fast mode: 32 strings)
# and score it with sacreBLEU, as `tf-transformer evaluate` does: corpus BLEU,
# chrF (character n-grams, kinder to a near-miss of a long word), and the
# share of outputs that are the reference exactly.

# %%
translator = Translator.from_run(run)
scores = evaluate_run(RUN_DIR, "test", limit=32 if FAST else None, run=run, translator=translator)
print(scores["bleu_line"])
print(scores["chrf_line"])
print(f"exact: {scores['exact']:.1%} of {scores['sentences']:,} strings")

# %% [markdown]
# How to read that number, beside the others this course has shown:
#
# | | BLEU | test set | training |
# | --- | ---: | --- | --- |
# | the embedded corpus (`make demo`) | 99.3 | synthetic: training phrases recombined | 100k pairs, 5 min |
# | this run, gettext pt_BR | above | software strings, new at test time | 21k pairs, 17.5 min |
# | the paper, base model | 27.3 | WMT 2014 English-German news | 4.5M pairs, 12 h, 8 GPUs |
# | the paper, big model | 28.4 | the same | the same, 3.5 days |
#
# The numbers do not rank the models. BLEU counts the n-grams an output
# shares with *one* reference, so it depends on the test set as much as on
# the model. The synthetic corpus has a small vocabulary and one way to say
# each thing. News is long, varied and has many correct translations, which
# is why 27 was the state of the art. Software strings sit in between: short,
# repetitive across programs (near-duplicates such as `Cannot open file %s`
# and `Cannot open file '%s'` fall on both sides of the split), with
# placeholders and technical terms copied verbatim, all of which help; but
# the model has seen a tiny fraction of the data the paper used. The
# benchmark's numbers for this recipe on this CPU, with beam search too, are
# in `benchmarks/results/real_text.md`:

# %%
committed = {  # (corpus, reversed, tokenizer): the benchmark's row
    (row["dataset"], row["reverse"], row["tokenizer"]): row
    for row in json.loads((course.results_dir() / "real_text.json").read_text())["rows"]
}
for (name, _, tokenizer), row in committed.items():
    greedy, beam = row["test"]["greedy"], row["test"]["beam4"]
    print(
        f"{name:14s} {row['direction']:10s} {tokenizer:13s} {row['steps']:5,} steps in "
        f"{row['train_minutes']:4.1f} min: "
        f"BLEU greedy {greedy['bleu']:5.2f}, beam 4 {beam['bleu']:5.2f}, chrF {beam['chrf']:5.2f}, "
        f"exact {beam['exact']:.1%}  ({row['machine']['cpu']}, {', '.join(row['machine']['flags'])})"
    )

# %% [markdown]
# **要点**
#
# - 对整个测试集做贪心翻译，用 sacreBLEU 打分：BLEU 43.34，chrF 60.28，1188 个字符串中 17.8%
#   与参考译文完全相同。
# - 与课程中其他数字并排：内置语料（`make demo`）为 99.3；论文的 base 模型在 WMT 2014 英德新闻上为 27.3，big
#   模型为 28.4。这些数字不能给模型排名：BLEU 只与**一个**参考译文比较 n 元语法，所以它取决于测试集，
#   不亚于取决于模型。
# - 合成语料词汇少，每件事只有一种说法；新闻长而多样，正确译法很多，所以 27 就是当年的最好水平。
#   软件字符串介于两者之间：短，在程序之间重复（`Cannot open file %s` 和 `Cannot open file '%s'`
#   这样的近似重复会分落在划分两边），占位符和术语原样照抄，这些都有帮助；
#   但模型见过的数据只是论文所用的极小一部分。
# - 提交的基准结果（束宽 4）：en→pt_BR 用 WordPiece 训练 10.1 分钟，BLEU 31.88；用 SentencePiece 训练 17.5
#   分钟，45.10；en→zh_CN 用 SentencePiece 训练 27.1 分钟，42.96。

# %% [markdown]
# ## The model's mistakes, one by one
#
# A corpus score hides what went wrong. Sentence-level chrF sorts the test
# strings from worst to best; the worst are where to look first.

# %%
from sacrebleu.metrics import CHRF  # noqa: E402  (only here)

chrf = CHRF()
rows = sorted(
    ((chrf.sentence_score(out, [ref]).score, src, ref, out) for src, ref, out in scores["examples"]),
    key=lambda row: row[0],
)
print("worst:")
for score, src, ref, out in rows[:8]:
    print(f"  chrF {score:5.1f}  {src!r}\n             reference {ref!r}\n             output    {out!r}")
print("good, among the longer ones:")
for score, src, _, out in sorted(rows[-len(rows) // 5 :], key=lambda row: -len(row[1]))[:5]:
    print(f"  chrF {score:5.1f}  {src!r}\n             output    {out!r}")

# %% [markdown]
# Reading them (the full run's outputs above):
#
# - The worst are one or two words with no sentence around them. For
#   `Miscellaneous`, `Friday`, `East Timor` and `When needed` the model
#   writes words that do not exist (`Maciplônia`, `Fríbri`, `Espagar`,
#   `Aoli`): it assembles pieces that sound Portuguese. A model trained on
#   21,000 strings has no fallback for a word it has not learned, where a
#   human translator has a dictionary.
# - Some "mistakes" are right: `Stopped` -> `Parado` scores 2.2 against the
#   reference `Suspenso`; both are good Portuguese, and BLEU and chrF count
#   only the one reference they are given.
# - Some references are right only in their program: `y` is the "yes" key of
#   a prompt, which Portuguese answers with `s` (*sim*); no model can know
#   that from the string alone.
# - `Top:` against `A_cima:` shows a limit of our cleaning: an accelerator in
#   the middle of a word is kept, because `_` inside a word is more often an
#   identifier's (`pam_get_item`) than an accelerator.
# - The good ones are long and technical, and their parts are copied:
#   identifiers, options and placeholders pass through, and a frequent frame
#   (`internal error: ...: conflicting ... values`) is translated whole; two
#   of them differ only in a CPU's name (`cris_`, `mt_`), near-duplicates
#   that the split by exact string cannot keep apart.
# - A high chrF is not a right output: the `pep-0263` message scores 92.2,
#   but its URL came back as `https://wwwwwwwww.python.org/...` (a piece
#   repeated), and a `launchable` tag of type `url` became `ured`: copying is
#   learned piece by piece, and a piece can be one too many.
#
# (In the fast CI run the model is barely trained, and these lines show it.)

# %% [markdown]
# **要点**
#
# - 语料级的分数掩盖了错在哪里；用句子级 chrF 把测试字符串从差到好排序，最差的就是最先要看的。
# - 最差的是没有上下文的一两个词：`Miscellaneous`、`Friday`、`East Timor`、`When needed`
#   被译成了不存在的词（`Maciplônia`、`Fríbri`、`Espagar`、`Aoli`），模型拼出了听起来像葡萄牙语的片段。只见过
#   21,000 个字符串的模型遇到没学过的词没有退路，而人工译者有词典。
# - 有些“错误”其实是对的：`Stopped` → `Parado` 与参考的 `Suspenso` 相比只得 2.2 分，两者都是地道的葡萄牙语，
#   BLEU 和 chrF 只认给定的那一个参考。有些参考只在它的程序里才对：`y` 是提示符里的 “yes” 键，葡萄牙语用
#   `s`（*sim*）。`Top:` 对 `A_cima:` 暴露了清洗的局限：词中间的快捷键标记被保留了，因为词中间的 `_`
#   更常属于标识符（`pam_get_item`）。
# - 好的译文又长又专业，其中的部分是照抄的：标识符、选项和占位符原样通过，
#   常见的句式（`internal error: ...: conflicting ... values`）整体译出。
# - chrF 高不等于输出正确：`pep-0263` 那条得 92.2 分，可网址变成了 `https://wwwwwwwww.python.org/...`（一个片
#   段重复了），类型为 `url` 的 `launchable` 标签变成了 `ured`：照抄是一个片段一个片段学会的，
#   而片段可能多出一个。

# %% [markdown]
# ## Attention on a real sentence
#
# The cross-attention of the last decoder layer, averaged over its heads,
# for a test string with a placeholder: each row is one output piece, and
# where its weight goes says which source pieces it was read from.

# %%
sentence = next(
    (src for src, _, _ in scores["examples"] if "%s" in src and 5 <= len(src.split()) <= 10),
    scores["examples"][0][0],
)
attention = translator.attention(sentence)
mean = attention.weights[-1].mean(axis=0)  # (target, source)
plt.figure(figsize=(0.45 * len(attention.source_tokens) + 2, 0.35 * len(attention.target_tokens) + 1.5))
plt.imshow(mean, cmap="viridis", vmin=0)
plt.xticks(range(len(attention.source_tokens)), attention.source_tokens, rotation=90)
plt.yticks(range(len(attention.target_tokens)), attention.target_tokens)
plt.title(f"{sentence}\n-> {attention.translation}", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# Row *i* belongs to the decoder input `target_tokens[i]` and predicts the
# next piece. In the full run's picture (`Unable to create and initialize
# directory '%s'.`), the row that writes *criar* (after *possível*) looks
# almost only at `▁create`, the one that writes *diretório* at `▁directory`,
# and the row that writes *inicializar*'s first piece at `▁initialize`: to
# translate a word, look at it. The output is also wrong in an instructive
# way: *Não foi possível criar diretório e inicializar.* drops the quoted
# placeholder. The last rows spread their weight over `'%`, `s` and `'.`
# without writing them, and the sentence ends: a translation that loses
# `%s` would crash or mislead in the program it is for, and no BLEU point
# says so (counting the outputs that keep their placeholders, with
# `catalogs.placeholders`, is exercise 2).

# %% [markdown]
# **要点**
#
# - 图是最后一个解码器层的交叉注意力（各头平均），句子是一个带占位符的测试字符串；每一行是一个输出片段，
#   权重落在哪里，说明它是从哪些源片段读来的。
# - 在完整运行的图里（`Unable to create and initialize directory '%s'.`），写出 *criar* 的那一行几乎只看
#   `▁create`，写出 *diretório* 的那一行看 `▁directory`，写出 *inicializar* 第一个片段的那一行看
#   `▁initialize`：要翻译一个词，就看那个词。
# - 输出也错得有启发性：*Não foi possível criar diretório e inicializar.* 丢掉了带引号的占位符。
#   最后几行把权重分散在 `'%`、`s` 和 `'.` 上，却没有把它们写出来，句子就结束了。丢掉 `%s`
#   的译文会让它所在的程序崩溃或误导用户，而 BLEU 不会因此少一分（用 `catalogs.placeholders`
#   统计保留了占位符的输出，是练习 2）。

# %% [markdown]
# ## For Chinese learners: en→zh_CN
#
# The same machine holds Chinese catalogs too (`prepare --dataset
# gettext:zh_CN` prepares them as it did pt_BR's; here we read them directly,
# with the reader `prepare` uses, and the committed run's row says the rest).
# SentencePiece needs no word segmentation (Chinese is written without
# spaces, and the unigram model learns its pieces from characters), and
# BLEU on Chinese needs a tokenizer of its own: sacreBLEU's `zh` splits
# every Chinese character, and `tf-transformer evaluate` picks it from the
# run's target language. The committed run below (the same recipe as pt_BR's;
# patience stopped it after 27.1 minutes) reaches about the BLEU of pt_BR's
# run and a lower chrF: chrF counts character n-grams up to 6, and six
# Chinese characters are a phrase, not a part of a word. Its good outputs are
# long strings whose frame is frequent; its worst are short ones it has no
# words for (`MicroDVD subtitles` -> `微调`, "fine-tuning"), and technical
# phrases it turns into fluent nonsense.

# %%
zh_catalogs = catalogs.find_catalogs("zh_CN")
changed = dict.fromkeys(catalogs.CHANGED, 0)
found = list(catalogs.records(zh_catalogs, changed))  # (English, Chinese), or a skipped kind
zh_pairs = [entry for entry in found if not isinstance(entry, str)]
skipped = collections.Counter(entry for entry in found if isinstance(entry, str))
print(
    f"{len(zh_catalogs)} zh_CN catalogs: {len(zh_pairs):,} pairs before duplicates are removed; "
    f"skipped {dict(skipped)}; changed {changed}"
)
for en, zh in random.Random(11).sample(zh_pairs, 5):
    print(f"{en!r}\n  -> {zh!r}")
zh_row = committed.get(("gettext:zh_CN", False, "sentencepiece"))
if zh_row:  # prepared by the same `prepare` as pt_BR: its splits, round trip, training and scores
    print(f"\nsplits {zh_row['sizes']}, round trip {zh_row['round_trip']}")
    layers = zh_row["recipe"].get("num_layers") or 4
    vocabulary = zh_row["vocab_sizes"]["target"]
    print(f"\nthe committed run, {layers} layers and {vocabulary:,} pieces ({zh_row['command']}):")
    for search in ("greedy", "beam4"):
        s = zh_row["test"][search]
        print(
            f"  {search:6s} BLEU {s['bleu']:5.2f} ({s['bleu_signature']}), "
            f"chrF {s['chrf']:5.2f}, exact {s['exact']:.1%}"
        )
    for example in zh_row["examples"]["good"][:3] + zh_row["examples"]["bad"][:3]:
        print(
            f"  chrF {example['chrf']:5.1f}  {example['source']!r} -> {example['output']!r} "
            f"(reference {example['reference']!r})"
        )

# %% [markdown]
# **要点**
#
# - 同一台机器上也有中文翻译目录（`prepare --dataset gettext:zh_CN` 像处理 pt_BR 那样准备它们）：本机 87 个
#   zh_CN 目录，去重之前 49,859 对；切分为训练 38,633 对、验证 2000 对、测试 2000 对，两边都 100% 原样还原。
# - SentencePiece 不需要分词（中文书写不加空格，unigram 模型从字符学出片段）；中文的 BLEU 却需要自己的分词：
#   sacreBLEU 的 `zh` 把每个汉字分开，`tf-transformer evaluate` 按运行的目标语言自动选用它。
# - 提交的运行用与 pt_BR 相同的配方（2 层，4000 个片段），耐心机制在 27.1 分钟后停下：BLEU 贪心 41.65、束宽 4
#   为 42.96，与 pt_BR 的运行相当；chrF 较低（43.45），因为 chrF 统计最长 6 个字符的 n 元语法，
#   而六个汉字已经是一个短语，不再是词的一部分。
# - 好的输出是句式常见的长字符串；最差的是没学过相应词语的短字符串（`MicroDVD subtitles` → `微调`），
#   以及被译成通顺却毫无意义的技术短语（如 `heuristic to shift diff hunk boundaries for easy reading` →
#   `健全部内容到导出到智能卡的第五层`）。

# %% [markdown]
# ## What would make it better
#
# - **More data.** 21 thousand pairs is a small corpus. The TED talks of the
#   TensorFlow tutorial (51,785 pt→en pairs) are one command away online:
#   `tf-transformer prepare --dataset ted_hrlr_translate/pt_to_en`;
#   Tatoeba's sentence pairs (a TSV from tatoeba.org, `--dataset tsv:PATH`)
#   add everyday language; a desktop Linux has several times the catalogs of
#   a server.
# - **More steps, a bigger model.** The budget here is half an hour on two
#   CPU cores. On a GPU the base model (`--preset base`, 65 million
#   parameters, the paper's Table 3) trains for the paper's 100,000 steps in
#   hours.
# - **Better search and checkpoints.** Beam search (the committed table's
#   beam 4 column) and averaging the last checkpoints, as the paper did.
# - **Cleaner references.** One reference per string, from translators who
#   wrote for a user interface, not for a test: a second reference would
#   raise every score.

# %% [markdown]
# **要点：怎样做得更好**
#
# - 更多数据：21,000 个句对是个小语料。TensorFlow 教程用的 TED 演讲（葡→英 51,785 对）联网后一条命令就能准备：
#   `tf-transformer prepare --dataset ted_hrlr_translate/pt_to_en`；Tatoeba 的句对（tatoeba.org 的 TSV，
#   `--dataset tsv:PATH`）能补充日常用语；桌面版 Linux 上的翻译目录是服务器的好几倍。
# - 更多步数、更大的模型：这里的预算是两个 CPU 核上半小时。在 GPU 上，base 模型（`--preset base`，6500
#   万个参数，见论文表 3）几个小时就能训练完论文的 100,000 步。
# - 更好的搜索和检查点：束搜索（提交的表中束宽 4 那一栏），以及像论文那样平均最后几个检查点。
# - 更干净的参考译文：每个字符串只有一个参考译文，出自为用户界面而不是为测试写译文的译者；再多一个参考译文，
#   每项分数都会提高。
#
# **练习**（英文原题在下一格；参考解答见 [solutions/11_real_text.py](solutions/11_real_text.py)）
#
# 1. **动手算。** SentencePiece 的字节回退把没见过的字符拼成它的 UTF-8 字节。鹦鹉表情 🦜（U+1F99C）
#    会变成几个片段，分别是什么？用这次运行的源语言分词器检查。
# 2. **写代码。** 译文必须保留每一个占位符。在含占位符的测试字符串上，
#    统计模型的输出有多少次保留了完全相同的占位符（`%s`、`%d`、`{0}` 等的同一个多重集）。
# 3. **做实验。** 用同样的配方训练反方向 pt_BR→en（`reverse=True`），把它的测试 BLEU 与 en→pt_BR 的比较。
#    哪个方向更容易，可能是为什么？

# %% [markdown]
# ## Exercises
#
# 1. **By hand.** SentencePiece's byte fallback spells a character it never
#    saw as its UTF-8 bytes. How many pieces does the parrot emoji 🦜
#    (U+1F99C) become, and which? Check with the run's source tokenizer.
# 2. **By code.** A translation must keep every placeholder. Count, on the
#    test strings that hold one, how often the model's output keeps exactly
#    the same placeholders (the same multiset of `%s`, `%d`, `{0}`...).
# 3. **By experiment.** Train the other direction, pt_BR→en (`reverse=True`),
#    with the same recipe, and compare its test BLEU with en→pt_BR's. Which
#    direction is easier, and why might it be?
#
# Worked solutions: [solutions/11_real_text.py](solutions/11_real_text.py)
# (run it from this folder: `python solutions/11_real_text.py`).
