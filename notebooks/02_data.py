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

import inspect
import os

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from IPython.display import Code, display

import tensorflow_text as tf_text

from tf_transformer.data import build_vocab, load_dataset, load_tokenizers, make_batches
from tf_transformer.data.datasets import offline_help
from tf_transformer.data.tokenizer import Tokenizer

FAST = os.environ.get("TF_TRANSFORMER_FAST") == "1"


def show(obj):
    """Display the library's source for ``obj``, as the package has it."""
    display(Code(inspect.getsource(obj), language="python"))


# %% [markdown]
# ## The corpus, through TFDS
#
# TensorFlow's tutorial downloads TED talk transcripts. This course ships its
# own corpus instead, so that it runs with no network: a generator
# in `tf_transformer/data/generator/` writes sentence pairs from a hand-written
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
#
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
#
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
#
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
#
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
