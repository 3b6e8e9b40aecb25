# %% [markdown]
# # 2. The data
#
# **What you will learn:**
# - the embedded Portuguese→English corpus that ships in `data/`, loaded with
#   TensorFlow Datasets, and what is in it;
# - how long its sentences are, drawn;
# - how a WordPiece vocabulary is learned locally, and how the tokenizers
#   turn text into ids and back, exactly;
# - the `tf.data` pipeline: tokenize, cap, bucket by length under a token
#   budget, shuffle, cache, prefetch, and how much padding bucketing saves;
# - how to switch to TED talks pt→en, and what happens without a network;
# - how to bring your own corpus (a TSV or line-aligned files), and how to
#   turn the direction around (English→Portuguese).
#
# Nothing here downloads anything.

# %% [markdown]
# ## 本节内容
#
# 本节准备训练用的数据。课程自带一份葡萄牙语→英语的平行语料，通过 TensorFlow Datasets 读取，
# 全程不需要联网。我们先看句子长度的分布，再在本地学一个 WordPiece（子词切分）词表（vocabulary），
# 逐行拆解分词器（tokenizer）如何在文本和整数 id 之间来回转换，以及特殊词元（special tokens）
# `[PAD]` `[UNK]` `[START]` `[END]` 各自的用途。随后搭建 `tf.data` 管道：按长度分桶（bucketing）、
# 按词元预算组批，并测量它比普通的填充（padding）省下多少计算；还会讲到教师强制（teacher forcing）、
# 如何换成 TED 语料或自己的语料，以及如何反转翻译方向。学完后，
# 你能把任意一份平行语料变成可以直接喂给模型的批次。

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

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

import tensorflow_text as tf_text

from tf_transformer import course
from tf_transformer.course import show
from tf_transformer.data import build_vocab, load_dataset, load_tokenizers, make_batches
from tf_transformer.data.datasets import offline_help
from tf_transformer.data.tokenizer import Tokenizer

FAST = course.fast_mode()


# %% [markdown]
# ## The corpus, through TFDS
#
# TensorFlow's tutorial downloads TED talk transcripts. This course ships its
# own corpus instead, so that it runs with no network: a generator
# in `tf_transformer/corpus/` writes sentence pairs from a hand-written
# lexicon and grammar, with the phenomena that make translation more than
# word lookup: gender and number agreement, four tenses in all persons,
# Portuguese dropping subject pronouns, contractions (*do, na, pelo, ao*),
# adjectives that swap sides, negation and questions that need English
# *do*-support, relative and subordinate clauses. `data/README.md` is its
# data card.
#
# Importing `tf_transformer.data` registers a TFDS builder, so the usual
# TFDS call works (the first call converts the files to TFDS's format, once).

# %%
builder = tfds.builder("embedded_pt_en")
builder.download_and_prepare()
print(builder.info.features)
print({name: split.num_examples for name, split in builder.info.splits.items()})
train = tfds.load("embedded_pt_en", split="train", as_supervised=True)  # (pt, en) string pairs

# %% [markdown]
# `tf_transformer.data.load_dataset` is the same call with the course's
# defaults, and the way to reach the other dataset (below).

# %%
for pt, en in load_dataset("embedded", "train").take(5):
    print(pt.numpy().decode(), " →  ", en.numpy().decode())

# %% [markdown]
# The test split holds the classic sentence of the attention literature, and
# its family: whether *it* is the animal or the street is told in Portuguese
# by the agreement of the adjective (*cansado* is masculine, like *animal*;
# *larga* is feminine, like *rua*).

# %%
classic = "O animal não atravessou a rua porque estava muito cansado."
family = []
for split in ("train", "test"):
    for pt, en in load_dataset("embedded", split).as_numpy_iterator():
        if pt.decode().startswith("O animal não atravessou a rua porque"):
            family.append((split, pt.decode(), en.decode()))
for split, pt, en in family[:6]:
    print(f"[{split}] {pt}\n        {en}")
assert any(pt == classic for _, pt, _ in family)

# %% [markdown]
# **要点**
#
# - TensorFlow 的教程要下载 TED 演讲稿；本课程改用自带的语料，不联网也能运行。`tf_transformer/corpus/`
#   里的生成器按手写的词典和语法生成句对，覆盖让翻译不只是查词的现象：性数一致、所有人称的四种时态、
#   葡萄牙语省略主语代词、缩合形式（*do, na, pelo, ao*）、形容词位置前后互换、英语否定句和疑问句要加助动词
#   *do*、关系从句和状语从句。数据卡片在 `data/README.md`。
# - 导入 `tf_transformer.data` 会注册一个 TFDS 构建器，所以常规的 TFDS 调用可以直接用；四个划分：训练集
#   100,000 对，验证集 2000 对，测试集 2000 对，泛化集（generalization）1000 对。
# - `tf_transformer.data.load_dataset` 是带课程默认值的同一个调用，也是切换到其他数据集的入口。
# - 测试集里有注意力文献中那个经典句子及其同族句子：*it* 指动物还是街道，
#   在葡萄牙语里由形容词的性决定（*cansado* 是阳性，与 *animal* 一致；*larga* 是阴性，与 *rua* 一致）。

# %% [markdown]
# ## Sentence lengths
#
# Lengths matter twice: the model's `max_length` must cover them, and the
# batching below is built around them.


# %%
def word_lengths(split, limit=None):
    ds = load_dataset("embedded", split)
    if limit:
        ds = ds.take(limit)
    pairs = list(ds.as_numpy_iterator())
    return (np.array([len(p.split()) for p, _ in pairs]), np.array([len(e.split()) for _, e in pairs]))


pt_len, en_len = word_lengths("train", 5000 if FAST else None)
gen_pt, gen_en = word_lengths("generalization")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=False)
bins = np.arange(0, 36)
axes[0].hist(pt_len, bins=bins, alpha=0.6, label="Portuguese")
axes[0].hist(en_len, bins=bins, alpha=0.6, label="English")
axes[0].set_title("train: words per sentence")
axes[0].legend()
axes[1].hist(gen_pt, bins=bins, color="tab:green", alpha=0.7)
axes[1].set_title("generalization split: Portuguese words")
for ax in axes:
    ax.set_xlabel("words")
plt.show()
print(
    f"train: mean {pt_len.mean():.1f} pt / {en_len.mean():.1f} en words, "
    f"longest {pt_len.max()} / {en_len.max()}"
)

# %% [markdown]
# The generalization split combines structures in ways training never shows
# (the data card lists which), so its sentences run longer: it measures
# whether the model learned the grammar or memorised the shapes it saw.

# %% [markdown]
# **要点**
#
# - 句子长度有两处要紧：模型的 `max_length` 必须覆盖它，下面的分批也是围绕它设计的。
# - 训练集平均每句 10.2 个葡萄牙语词、10.5 个英语词，最长 30 个和 28 个词。
# - 泛化集以训练中从未出现过的方式组合各种结构（数据卡片列出了是哪些），所以句子更长：它检验模型学会的是语法，
#   还是只记住了见过的句型。

# %% [markdown]
# ## Learning a WordPiece vocabulary
#
# A word-level vocabulary cannot spell a word it has not seen; a
# character-level one makes sequences long. WordPiece sits between: frequent
# words are single tokens, rare ones are split into pieces (`##` marks a
# piece that continues a word). `tensorflow_text`'s
# `bert_vocab_from_dataset` learns such a vocabulary from text, locally.

# %%
show(build_vocab)

# %% [markdown]
# The committed vocabularies in `data/vocab/` were learned from the whole
# training split (a test rebuilds them and checks they come out identical).
# Here we learn a small one from a sample, to see what the learner does.

# %%
sample = load_dataset("embedded", "train").take(2000 if FAST else 20000).map(lambda pt, en: pt)
small_vocab = build_vocab(sample, vocab_size=600)
print(len(small_vocab), "tokens:", small_vocab[:4], "...", small_vocab[100:110], "...", small_vocab[-8:])

# %% [markdown]
# **要点**
#
# - 词级词表拼不出没见过的词，字符级词表又让序列太长；WordPiece 介于两者之间：常用词是一个词元，
#   罕见词拆成若干片段（以 `##` 开头的片段接在词的后面）。
# - `tensorflow_text` 的 `bert_vocab_from_dataset` 在本地从文本学出这样的词表；库里的 `build_vocab` 封装了它，
#   结果是确定的：同样的句子不论顺序如何，都得到同一个文件。
# - `data/vocab/` 里提交的词表是从整个训练集学出来的（有测试重新生成并核对一致）；
#   这里从一个样本学一个目标大小为 600 的小词表（实际得到 599 个词元），看看学习器做了什么：
#   最前面四个是保留的特殊词元 `[PAD]` `[UNK]` `[START]` `[END]`。

# %% [markdown]
# ## The tokenizers
#
# `load_tokenizers()` returns a Portuguese and an English `Tokenizer`, each a
# `tf.Module` whose methods are `tf.function`s: they run inside a `tf.data`
# pipeline and can be saved inside the exported SavedModel. `tokenize` adds
# `[START]` (id 2) and `[END]` (id 3); id 0 is padding.

# %%
tokenizers = load_tokenizers()
print("vocabulary sizes: pt", int(tokenizers.pt.get_vocab_size()), " en", int(tokenizers.en.get_vocab_size()))
ids = tokenizers.pt.tokenize(tf.constant([classic, "Os gatos brancos dormem."]))  # ragged (2, None)
print(ids)
print(tokenizers.pt.lookup(ids))

# %% [markdown]
# ### `Tokenizer.tokenize`, line by line
#
# 1. `unicode_transcode(..., errors="replace")` swaps invalid UTF-8 bytes
#    for U+FFFD before anything else, so one damaged line cannot fail a
#    whole batch.
# 2. tensorflow-text's `BertTokenizer` splits each string into words (at
#    spaces and punctuation), then each word into the longest pieces the
#    vocabulary has, left to right: WordPiece. A piece that continues a
#    word is spelled with a leading `##`. The result is ragged
#    `[batch, words, pieces]`; `merge_dims(-2, -1)` flattens it to one row
#    of pieces per sentence.
# 3. `[START]` and `[END]` are glued to every row: the decoder learns to
#    emit `[END]` when a translation is complete, and `[START]` is the
#    first thing it reads.
#
# `lower_case=False` keeps capitals, so the model learns casing too and the
# output needs no truecasing.

# %%
show(Tokenizer.tokenize)

# %% [markdown]
# The same three steps by hand, checked against the method. The sentence
# ends with *tranquilamente*, a word the corpus never contains: WordPiece
# does not give up with `[UNK]`, it spells the word from the pieces it has,
# here mostly single letters (`t`, `##r`, `##a`, ...). Only a character
# outside the vocabulary altogether becomes `[UNK]`.

# %%
text = tf.constant(["Os gatos brancos dormem tranquilamente."])
vocab_file = tokenizers.pt.get_vocab_path().numpy().decode()
words = tf_text.BertTokenizer(vocab_file, lower_case=False, unknown_token="[UNK]").tokenize(text)
print("pieces per word:", [tokenizers.pt.lookup(w).numpy().tolist() for w in words[0]])
pieces = tf.cast(words.merge_dims(-2, -1), tf.int64)  # step 2: (1, words, pieces) -> (1, pieces)
by_hand = tf.concat([[[2]], pieces.to_tensor(), [[3]]], axis=1)  # step 3: [START] ... [END]
print("ids:", by_hand.numpy()[0])
assert by_hand.numpy().tolist() == tokenizers.pt.tokenize(text).to_tensor().numpy().tolist()

# %% [markdown]
# `detokenize` runs the other way: everything from the first `[END]` on is
# dropped (a cumulative sum of `[END]` marks finds it), as are padding and
# the other reserved ids except `[UNK]`, which stays visible; the pieces are
# joined with spaces, then regular expressions glue `##` pieces back onto
# their words and punctuation onto the word before it.

# %%
show(Tokenizer.detokenize)

# %% [markdown]
# Detokenizing must give back normal English text: pieces joined, casing
# kept, punctuation attached, contractions rejoined. Otherwise BLEU would be
# capped by formatting, not by the model. Round-trip the whole test split:

# %%
english = [en.decode() for _, en in load_dataset("embedded", "test").as_numpy_iterator()]
round_trip = tokenizers.en.detokenize(tokenizers.en.tokenize(tf.constant(english))).numpy()
exact = np.mean([a.decode() == b for a, b in zip(round_trip, english)])
print(f"detokenize(tokenize(s)) == s for {exact:.2%} of {len(english)} test sentences")
print(round_trip[0].decode())
assert exact >= 0.99

# %% [markdown]
# ### Why WordPiece here, and what real text needs
#
# Three ways of learning subword pieces are in use, and the paper used two:
#
# - **WordPiece** (Schuster and Nakajima, 2012; Google's translation system,
#   Wu et al., 2016): split into words, then each word into the longest
#   pieces of the vocabulary. The paper's English-French model used a
#   32,000-word-piece vocabulary.
# - **Byte-pair encoding** (Sennrich et al., 2016): start from characters and
#   merge the most frequent adjacent pair, again and again, until the
#   vocabulary is full. The paper's English-German model used BPE with about
#   37,000 pieces shared by both languages.
# - **The unigram model** (Kudo, 2018): start from many candidate pieces and
#   drop those that help a unigram language model of the corpus least.
#
# All three give pieces; what differs for us is getting the *text* back. The
# WordPiece tokenizer above splits on spaces and punctuation first, so the
# spaces are gone and the detokenizer must guess them back with rules. The
# rules fit this corpus (100% above), and its vocabularies ship with the
# course. SentencePiece (Kudo and Richardson, 2018), a library for BPE and
# unigram models, keeps the space as a character of the pieces (`▁`), so
# the pieces joined are the text, exactly, in any script. On real text the
# difference is large: on the Portuguese gettext catalogs of notebook 11,
# WordPiece gives back 52% of the English validation strings and
# SentencePiece 100% (`'%s'` comes back from WordPiece as `'% s'`;
# `benchmarks/tokenizers.py` measures every corpus). So `prepare` learns
# SentencePiece (unigram) vocabularies for every corpus but this one;
# `--tokenizer wordpiece` still chooses WordPiece, and a run records which it
# used. Notebook 11 shows both on real text.

# %% [markdown]
# Bad input is handled, not crashed on: empty strings, scripts the
# vocabulary never saw (they become `[UNK]`), even invalid UTF-8 bytes
# (replaced before tokenizing).

# %%
odd = tf.constant(["", "你好", "🙂", "?", b"\xff\xfe ok"])
for text, row in zip(odd.numpy(), tokenizers.pt.tokenize(odd)):
    print(repr(text), "->", row.numpy())

# %% [markdown]
# **要点**
#
# - `load_tokenizers()` 返回葡萄牙语和英语两个 `Tokenizer`，词表大小分别为 2024 和 806；每个都是 `tf.Module`，
#   方法都是 `tf.function`，所以能在 `tf.data` 管道里运行，也能随导出的 SavedModel 一起保存。
# - `tokenize` 分三步：先把无效的 UTF-8 字节换成 U+FFFD，免得一行坏数据让整批失败；再由 `BertTokenizer`
#   按空格和标点切词，把每个词从左到右切成词表里最长的片段，即 WordPiece；最后在每行两端加上 `[START]`（id 2）
#   和 `[END]`（id 3）。id 0 是填充。`lower_case=False` 保留大小写，输出不必再恢复大小写。
# - 语料里没有的词（如 *tranquilamente*）不会变成 `[UNK]`，而是用已有的片段拼出来（这里几乎都是单个字母）；
#   只有词表里根本没有的字符才变成 `[UNK]`。
# - `detokenize` 反向工作：丢掉第一个 `[END]` 及其后的一切、填充和除 `[UNK]` 以外的特殊 id，用空格连接片段，
#   再用正则表达式把 `##` 片段粘回词上、把标点粘到前一个词后面。测试集 2000 句英语全部原样还原（100%）。
# - 这里为什么用 WordPiece：它先按空格和标点切分，空格丢了，只能按规则猜回来，而这些规则正适合这份语料。
#   SentencePiece 把空格记作 `▁` 放进片段，片段拼起来就是原文；在第 11 节的葡萄牙语 gettext 目录上，
#   英语验证集字符串 WordPiece 只还原 52%，SentencePiece 100%。所以除本语料外，`prepare` 对所有语料都学
#   SentencePiece（unigram）词表。（论文的英法模型用 32,000 个 WordPiece 片段，英德模型用两种语言共享的约
#   37,000 个字节对编码（BPE）片段。）
# - 坏输入会得到处理而不是让程序崩溃：空字符串、词表没见过的文字（变成 `[UNK]`），甚至无效的 UTF-8
#   字节（切分前先替换）。

# %% [markdown]
# ## Batches: bucketing under a token budget
#
# Padding every batch to its longest sentence wastes work when a short
# sentence shares a batch with a long one. `make_batches` groups sentences
# of similar length (buckets) and gives each bucket its own batch size, so
# that `batch size × padded length` stays within `batch_tokens`: many short
# sentences per batch, few long ones.

# %%
show(make_batches)

# %%
pairs = load_dataset("embedded", "train").take(4000 if FAST else 40000)
bucketed = make_batches(pairs, tokenizers.pt, tokenizers.en, batch_tokens=4096, seed=0)
(pt_ids, en_in), en_out = next(iter(bucketed))
print("one batch: pt", pt_ids.shape, " en_in", en_in.shape, " en_out", en_out.shape, pt_ids.dtype)
print("en_in  starts with [START]:", en_in[0, :6].numpy())
print("en_out is en_in shifted:   ", en_out[0, :6].numpy())

# %% [markdown]
# ### Teacher forcing
#
# `en_in` is what the decoder reads and `en_out` what it must predict at
# each position: the same sentence shifted by one token, so position *t*
# reads the reference's tokens up to *t* and is scored on token *t + 1*.
# In training the decoder reads the *reference* translation, never its own
# guesses: this is **teacher forcing**. It lets every position of every
# sentence be trained in one parallel pass; the causal mask (notebook 3)
# keeps position *t* from peeking at *t + 1*. At inference there is no
# reference, so the decoder feeds its own outputs back one token at a time:
# **autoregressive decoding** (notebook 7).

# %%
real = en_out[:, :-1].numpy() != 0  # every real target token but the last
assert np.array_equal(en_in[:, 1:].numpy()[real], en_out[:, :-1].numpy()[real])
print(f"en_in[:, 1:] == en_out[:, :-1] at all {real.sum()} real positions of this batch")

# %% [markdown]
# The baseline a tutorial would use: a fixed batch size (here the bucketed
# pipeline's average), padded to the longest sentence in each batch. We
# count the share of real tokens in every batch of both.


# %%
def efficiencies(batches):
    out = []
    for (pt, en_in), _ in batches:
        real = tf.math.count_nonzero(pt) + tf.math.count_nonzero(en_in)
        out.append(float(real) / float(tf.size(pt) + tf.size(en_in)))
    return np.array(out)


def tokenized(pairs):
    return pairs.map(
        lambda pt, en: (tokenizers.pt.tokenize(pt[None])[0], tokenizers.en.tokenize(en[None])[0])
    )


bucket_eff = efficiencies(bucketed)
average_batch = int(np.mean([int(pt.shape[0]) for (pt, _), _ in bucketed]))
plain = (
    tokenized(pairs)
    .shuffle(20000, seed=0)
    .padded_batch(average_batch)
    .map(lambda pt, en: ((pt, en[:, :-1]), en[:, 1:]))
)
plain_eff = efficiencies(plain)

fig, ax = plt.subplots(figsize=(7, 3.2))
ax.hist(
    plain_eff,
    bins=30,
    range=(0, 1),
    alpha=0.7,
    label=f"padded_batch({average_batch}): mean {plain_eff.mean():.0%}",
)
ax.hist(
    bucket_eff, bins=30, range=(0, 1), alpha=0.7, label=f"bucketed, 4096 tokens: mean {bucket_eff.mean():.0%}"
)
ax.set_xlabel("real tokens / all tokens in a batch")
ax.set_ylabel("batches")
ax.set_title("padding with and without bucketing")
ax.legend()
plt.show()
assert bucket_eff.mean() > plain_eff.mean()

# %% [markdown]
# `benchmarks/input_pipeline.py` measures the same on the whole training
# split, with throughput.

# %% [markdown]
# **要点**
#
# - 把每批都填充到其中最长的句子，短句和长句同批时就浪费计算。`make_batches` 把长度相近的句子分进同一个桶，
#   每个桶有自己的批大小，使“批大小 × 填充后的长度”不超过 `batch_tokens`：短句一批放很多，长句一批放得少。
# - 每个批次是 `((pt_ids, en_in), en_out)`：`en_in` 以 `[START]` 开头，`en_out` 是同一句错开一位；位置 t
#   读参考译文到第 t 个为止的词元，按第 t + 1 个词元计分。
# - 这就是教师强制（teacher forcing）：训练时解码器读的是参考译文，从不读自己的猜测，
#   所以每句话的每个位置能在一次并行计算里一起训练；因果掩码（第 3 节）保证位置 t 偷看不到 t + 1。
#   推理时没有参考译文，解码器只能把自己的输出逐个接回输入：自回归解码（第 7 节）。
# - 与教程常用的做法（固定批大小，按每批最长的句子填充）相比，分桶后每批中真实词元所占的比例更高，
#   图中画出了两者的分布；`benchmarks/input_pipeline.py` 在整个训练集上测量同样的比例以及吞吐量。

# %% [markdown]
# ## Switching to TED talks (pt→en)
#
# The tutorial's dataset, `ted_hrlr_translate/pt_to_en`, goes through TFDS's
# ordinary download path: with a network, `load_dataset` downloads and
# prepares it once (TFDS's mirror of prepared datasets first, else the
# original archive). Without a network it raises `DatasetUnavailableError`
# within seconds, instead of failing deep inside a download, with this
# message (printed here without trying, so that this notebook never downloads):

# %%
print(offline_help("ted_hrlr_translate/pt_to_en", data_dir="/tmp/no_ted_here"))

# %% [markdown]
# With the data in place, `python -m tf_transformer prepare --dataset
# ted_hrlr_translate/pt_to_en` learns TED vocabularies and the rest of the
# course runs unchanged.

# %% [markdown]
# **要点**
#
# - 教程用的数据集 `ted_hrlr_translate/pt_to_en` 走 TFDS 的常规下载流程：有网络时，`load_dataset`
#   下载并准备一次（先找 TFDS 已准备好的镜像，再找原始存档）。
# - 没有网络时，它在几秒之内抛出 `DatasetUnavailableError`，而不是在下载深处失败；报错信息列出可行的办法：
#   联网后重试；手动放入存档；指向一个已准备好该数据集的 TFDS 数据目录；或者改用内置语料或自己的文件。
# - 数据就位后，`python -m tf_transformer prepare --dataset ted_hrlr_translate/pt_to_en` 学出 TED 的词表，
#   课程的其余部分无需改动。

# %% [markdown]
# ## Your own corpus
#
# Any parallel text works the same way. A `DatasetSpec` names it:
# `tsv:PATH` for a tab- or comma-separated file (an Anki or Tatoeba export
# is `English<TAB>Portuguese<TAB>attribution`, so Portuguese→English reads
# column 1 as the source and column 0 as the target), or
# `text:PATH.SRC,PATH.TGT` for two line-aligned files as OPUS and WMT
# distribute them. We write a small file of that Anki shape here, with a few
# lines of the trouble real exports have, and run the same pipeline on it.

# %%
import pathlib
import tempfile

from tf_transformer.data import DatasetSpec, prepare

workdir = pathlib.Path(tempfile.mkdtemp(prefix="own_corpus_"))
animals = [
    ("cat", "cats", "gato", "gatos"),
    ("dog", "dogs", "cão", "cães"),
    ("bird", "birds", "pássaro", "pássaros"),
    ("horse", "horses", "cavalo", "cavalos"),
    ("fish", "fish", "peixe", "peixes"),
]
lines = [f"The {en}s is here.\tO {pt} está aqui.\tCC-BY".replace("s is", " is") for en, _, pt, _ in animals]
for count in range(2, 42):
    for _, en_plural, _, pt_plural in animals:
        lines.append(f"I have {count} {en_plural}.\tEu tenho {count} {pt_plural}.\tCC-BY")
lines += ["Only one column", "\tVazio.\tattribution", lines[0]]  # trouble: columns, empty, duplicate
(workdir / "por.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

own = DatasetSpec.parse(f"tsv:{workdir / 'por.txt'}", source_column=1, target_column=0)
summary = prepare(own, data_dir=workdir / "data", vocab_size=200)
print(own.languages, summary["splits"])
print("skipped:", {kind: n for kind, n in summary["skipped"].items() if n})
print("round trip on validation:", summary["round_trip"])
assert summary["round_trip"] == {"source": 1.0, "target": 1.0}

# %% [markdown]
# The file had one part, not three splits: `prepare` carved validation and
# test out of it by a hash of each source sentence (so a rerun carves the
# same), skipped the bad lines and said which, and learned both vocabularies
# from the training split into the data directory (never into the package).
# A TSV does not say which languages it holds, so its sides are called
# `source` and `target`. The same `make_batches` then feeds the model:

# %%
own_tokenizers = load_tokenizers(own, data_dir=workdir / "data")
own_pairs = load_dataset(own, "train", data_dir=workdir / "data")
(source_ids, target_in), target_out = next(
    iter(make_batches(own_pairs, own_tokenizers.source, own_tokenizers.target, batch_tokens=512, seed=0))
)
print(source_ids.shape, target_in.shape)
print(own_tokenizers.source.detokenize(source_ids[:2]).numpy())
print(own_tokenizers.target.detokenize(target_out[:2]).numpy())

# %% [markdown]
# **要点**
#
# - 任何平行文本都能同样使用，用 `DatasetSpec` 指定：`tsv:PATH` 是制表符或逗号分隔的文件（Anki 或 Tatoeba
#   导出的格式是 `English<TAB>Portuguese<TAB>attribution`，葡萄牙语→英语时以第 1 列为源、第 0 列为目标）；
#   `text:PATH.SRC,PATH.TGT` 是两个逐行对齐的文件，即 OPUS 和 WMT 的发布格式。
# - 文件只有一份时，`prepare` 按每个源句的哈希值从中切出验证集和测试集（重新运行时切法不变），
#   跳过坏行并报告原因（本例中列数不对、空行、重复各 1 行），从训练集学出两个词表，存进数据目录，而不是包里。
# - TSV 不说明语言，所以两边叫作 `source` 和 `target`；之后同一个 `make_batches` 照样为模型提供批次。

# %% [markdown]
# ## The other direction: English→Portuguese
#
# `reverse=True` (`--reverse` on the command line) swaps the sides of any
# corpus. On the embedded corpus it gives English→Portuguese from the same
# files and the same two vocabularies, swapped. This is the direction of the
# classic sentence's lesson: in "The animal didn't cross the street because
# it was too tired", English "it" has no gender, but Portuguese must choose
# *cansado* (the animal, masculine) or *larga* (the street, feminine), so the
# encoder has to work out what "it" refers to before the decoder can agree.

# %%
en_pt = DatasetSpec(reverse=True)
en_pt_tokenizers = load_tokenizers(en_pt)
print(en_pt.languages)
for en, pt in load_dataset(en_pt, "test").take(3):
    print(en.numpy().decode(), "->", pt.numpy().decode())
assert en_pt_tokenizers.source.get_vocab_size() == tokenizers.target.get_vocab_size()

# %% [markdown]
# `python -m tf_transformer train --reverse ...` trains on it; every later
# notebook works in either direction.

# %% [markdown]
# **要点**
#
# - `reverse=True`（命令行上是 `--reverse`）调换任何语料的两边；在内置语料上，它用同样的文件、
#   互换的两个词表得到英语→葡萄牙语。
# - 这正是经典句子要讲的方向：“The animal didn't cross the street because it was too tired” 中，英语的 “it”
#   没有性，葡萄牙语却必须在 *cansado*（动物，阳性）和 *larga*（街道，阴性）之间选择，所以编码器要先弄清 “it”
#   指什么，解码器才能写对一致。
# - `python -m tf_transformer train --reverse ...` 在它上面训练；后面的每个笔记本两个方向都能用。

# %% [markdown]
# ## What we built
#
# - The embedded corpus, loaded through TFDS, with its lengths drawn and the
#   classic sentence found in the test split.
# - A WordPiece vocabulary learned locally, and tokenizers that round-trip
#   the test split's English exactly.
# - A bucketed, token-budgeted pipeline, and a measurement of how much
#   padding it saves against a plain `padded_batch`.
# - The path to TED talks, and what it says offline.
# - Your own corpus from a file, bad lines counted, and the reversed corpus.

# %% [markdown]
# **要点：本节小结**
#
# - 通过 TFDS 读取内置语料，画出句长分布，并在测试集里找到经典句子。
# - 在本地学出 WordPiece 词表；分词器能把测试集的英语原样还原。
# - 搭好按长度分桶、按词元预算组批的管道，并量出它比普通的 `padded_batch` 少用多少填充。
# - 切换到 TED 演讲的路径及其离线时的提示；从文件读入自己的语料（坏行被计数），以及反转方向的语料。
#
# **练习**（英文原题在下一格；参考解答见 [solutions/02_data.py](solutions/02_data.py)）
#
# 1. **动手算。** 只用 `data/vocab/en.txt`（一个词元的 id 是它的行号减 1；在本文件夹下，
#    `grep -nx sleep ../data/vocab/en.txt` 能找到一个词所在的行），对 “The zebra didn't sleep.” 和 “Kate
#    didn't sleep at 3.” 分词：按空格和标点切词，把每个词贪心地切成词表里最长的片段（续接的片段写作 `##`），
#    再加上 `[START]` 和 `[END]`。得到几个 `[UNK]`？为什么 *zebra* 能拼出来，*Kate* 却丢了？再写出第一句的
#    `en_in` 和 `en_out`。
# 2. **写代码。** 只用词表文件，用纯 Python 自己实现 WordPiece 的贪心最长匹配，
#    检查它在测试集每一句的两边都给出与分词器相同的片段。用它解释为什么 “O gato🙂 dorme.” 丢掉一整个词，而 “O
#    gato 🙂 dorme.” 只丢掉表情符号；再列出英语词表拼不出的大写字母。
# 3. **做实验。** 用 `build_vocab` 从训练集的同一个样本学出 150、300 和 600
#    个词元的葡萄牙语词表（有几分钟空闲的话，再试更大的），分别统计测试集每句的词元数，并与提交的词表比较。
#    随长度平方增长的注意力开销，与嵌入表的大小之间如何取舍？

# %% [markdown]
# ## Exercises
#
# These take the tokenizer apart a little further than the notebook did, and
# ask what the size of the vocabulary costs.
#
# 1. **By hand.** With nothing but `data/vocab/en.txt` (a token's id is its
#    line number minus one; from this folder,
#    `grep -nx sleep ../data/vocab/en.txt` finds a word's line), tokenize
#    "The zebra didn't sleep." and "Kate didn't sleep at 3.": split each
#    sentence into words at spaces and punctuation, split each word greedily
#    into the longest pieces the vocabulary has (a piece that continues a
#    word is written with `##`), and add `[START]` and `[END]`. How many `[UNK]`s do you get, and why is
#    *zebra* spelled out while *Kate* is lost? Then write `en_in` and `en_out`
#    for the first sentence.
# 2. **By code.** Write WordPiece's greedy longest-match-first yourself, in
#    plain Python, from the vocabulary files alone, and check that it gives the
#    tokenizer's pieces for every sentence of the test split, on both sides.
#    Use it to explain why "O gato🙂 dorme." loses a whole word but
#    "O gato 🙂 dorme." only the emoji, and list the capital letters the
#    English vocabulary cannot spell.
# 3. **By experiment.** With `build_vocab`, learn Portuguese vocabularies of
#    150, 300 and 600 tokens (larger ones too, if you can spare a few minutes)
#    from one sample of the training split, and count the tokens per sentence
#    of the test split under each, and under the committed vocabulary. How
#    does the cost of attention, which grows with the square of the length,
#    trade against the size of the embedding table?
#
# Worked solutions: [solutions/02_data.py](solutions/02_data.py)
# (run it from this folder: `python solutions/02_data.py`).
