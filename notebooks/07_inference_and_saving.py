# %% [markdown]
# # 7. Inference and saving
#
# **What you will learn:**
# - greedy decoding written out step by step, first recomputing the whole
#   prefix at every step (as TensorFlow's tutorial does), then with the
#   key/value cache, and that both give the same tokens;
# - beam search with a length penalty, and where it and greedy disagree;
# - scores on the test split and on the generalization split;
# - corpus BLEU and chrF with sacreBLEU;
# - attention maps for "O animal não atravessou a rua porque estava muito
#   cansado." and its sibling "... porque ela era muito larga.";
# - saving and reloading weights (`.weights.h5`) and whole models
#   (`.keras`), and exporting a SavedModel that serves strings to strings.

# %%
import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import inspect
import os
import pathlib
import shutil
import subprocess
import sys

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from IPython.display import Code, display

from tf_transformer.data import END_ID, START_ID, load_dataset
from tf_transformer.inference import (
    Translator,
    beam_search,
    corpus_scores,
    export_translator,
    greedy_search,
    length_penalty,
    sequence_log_probs,
)
from tf_transformer.run_dir import load_run
from tf_transformer.training import train

FAST = os.environ.get("TF_TRANSFORMER_FAST") == "1"
CLASSIC = "O animal não atravessou a rua porque estava muito cansado."
SIBLING = "O animal não atravessou a rua porque ela era muito larga."


def show(obj):
    """Display the library's source for ``obj``, as the package has it."""
    display(Code(inspect.getsource(obj), language="python"))


# %% [markdown]
# ## The trained model
#
# We use the run that notebook 6 trained (in `runs/` at the repository
# root, notebook 0). If you opened this notebook first, it trains the same
# run now, 1,000 steps (about ten minutes on two CPU cores), so that every
# cell has a model.

# %%
RUNS = pathlib.Path("..", "runs")  # runs/ at the repository root (notebook 0)
RUN_DIR = RUNS / ("fast/tutorial" if FAST else "tutorial")
if not (RUN_DIR / "run.json").exists():
    settings = (
        dict(
            preset="tiny",
            max_steps=60,
            steps_per_epoch=20,
            train_examples=4000,
            validation_examples=200,
            warmup_steps=50,
        )
        if FAST
        else dict(
            preset="tutorial",
            max_steps=1000,
            steps_per_epoch=200,
            warmup_steps=400,
            batch_tokens=2048,
            norm_first=True,
        )
    )
    train(run_dir=RUN_DIR, seed=0, verbose=0, **settings)
run = load_run(RUN_DIR)
model, target_tokenizer = run.model, run.target_tokenizer
translator = Translator.from_run(run)
print(run.config)

# %% [markdown]
# ## Greedy decoding, the plain way
#
# The decoder was trained to predict token *t + 1* from tokens 0..*t*. To
# translate, we start the target with `[START]`, ask for the most likely
# next token, append it, and repeat until `[END]`. The simplest loop feeds
# the whole prefix back through the model at every step:

# %%
source = translator.source_ids(tf.constant([CLASSIC]))  # (1, S): [START] ... [END]
print("source ids:", source.numpy()[0])
target = tf.constant([[START_ID]])  # (1, 1)
for _ in range(run.config.max_length - 1):
    logits = model((source, target), training=False)  # (1, t + 1, V): every position again
    next_id = tf.argmax(logits[:, -1], axis=-1, output_type=tf.int32)  # only the last one is new
    target = tf.concat([target, next_id[:, None]], axis=1)
    if int(next_id[0]) == END_ID:
        break
plain_ids = target.numpy()[0, 1:]
print("pieces:", [t.decode() for t in target_tokenizer.lookup(tf.constant([plain_ids], tf.int64)).numpy()[0]])
print("text:  ", target_tokenizer.detokenize(tf.constant([plain_ids], tf.int64)).numpy()[0].decode())

# %% [markdown]
# Step *t* recomputes the encoder and all *t* earlier decoder positions,
# whose results have not changed: the work grows with the square of the
# output length.
#
# ## Greedy decoding with the cache
#
# Encode the source once. Keep, in every decoder layer, the keys and values
# of the positions already decoded (notebook 3's cache), and compute only
# the new token at each step. The cross-attention keys and values of the
# source are computed once, up front.

# %%
context, context_mask = model.encode(source, training=False)  # once: (1, S, d_model)
cache = model.init_cache(context, length=run.config.max_length)
token, cached_ids = tf.constant([[START_ID]]), []
for t in range(run.config.max_length - 1):
    logits, cache = model.decode_cached(token, context_mask, cache, t)  # (1, 1, V)
    token = tf.argmax(logits[:, -1], axis=-1, output_type=tf.int32)[:, None]
    cached_ids.append(int(token[0, 0]))
    if cached_ids[-1] == END_ID:
        break
print("cached ids == plain ids:", cached_ids == plain_ids.tolist())
assert cached_ids == plain_ids.tolist()

# %% [markdown]
# The library's `greedy_search` is this loop inside one `tf.while_loop`, for
# a whole batch at once: each sentence stops at its own `[END]` (later steps
# only pad it) and the loop ends when every sentence has.

# %%
show(greedy_search)
library_ids = greedy_search(model, source, run.config.max_length).numpy()[0]
assert library_ids[: len(cached_ids)].tolist() == cached_ids
print("greedy_search agrees")

# %% [markdown]
# ## Beam search
#
# Greedy commits to the single best token at each step; a slightly worse
# token now can lead to a much better sentence. Beam search keeps the *k*
# best prefixes per sentence. Finished hypotheses are ranked by
# $\log P(Y) / lp(Y)$ with GNMT's length penalty
# $lp(Y) = ((5 + |Y|)/6)^\alpha$, $\alpha = 0.6$: without it, shorter
# sentences would win simply by multiplying fewer probabilities.

# %%
lengths = np.arange(1, 31)
fig, ax = plt.subplots(figsize=(5, 3))
for alpha in (0.0, 0.6, 1.0):
    ax.plot(lengths, length_penalty(lengths, alpha).numpy(), label=f"alpha = {alpha}")
ax.set_xlabel("hypothesis length")
ax.set_ylabel("lp(Y)")
ax.set_title("GNMT length penalty")
ax.legend()
plt.show()

# %% [markdown]
# Beam search with beam size 1 *is* greedy; with beam 4 its choice never has
# a worse model score than greedy's on these sentences:

# %%
test_pairs = list(load_dataset("embedded", "test").as_numpy_iterator())
sample = [pt.decode() for pt, _ in test_pairs[:32]]
ids = translator.source_ids(tf.constant(sample))
n = run.config.max_length
greedy_out = greedy_search(model, ids, n)
beam_out, beam_scores = beam_search(model, ids, 4, n)
assert np.array_equal(beam_search(model, ids, 1, n)[0].numpy(), greedy_out.numpy())


def score(out):
    log_p, length = sequence_log_probs(model, ids, out)
    return (log_p / length_penalty(length, 0.6)).numpy()


greedy_score, beam_score = score(greedy_out), score(beam_out)
print(
    f"beam 4 scored higher on {np.sum(beam_score > greedy_score + 1e-4)} of {len(sample)} sentences, "
    f"equal on {np.sum(np.abs(beam_score - greedy_score) <= 1e-4)}, "
    f"lower on {np.sum(beam_score < greedy_score - 1e-4)}"
)

# %% [markdown]
# ## BLEU
#
# BLEU compares n-gram overlap between outputs and references over the whole
# corpus; chrF does the same on characters. sacreBLEU computes both in a
# standard way and prints a *signature* that pins down tokenization and
# smoothing, so that numbers can be compared across papers.

# %%
pairs = test_pairs[:200] if FAST else test_pairs
sources = [pt.decode() for pt, _ in pairs]
references = [en.decode() for _, en in pairs]
fast_translator = Translator.from_run(run, jit_compile=True)  # XLA-compiled decoding steps
results = {}
for beam in (1, 4):
    outputs = fast_translator.translate(sources, beam_size=beam)
    results[beam] = corpus_scores(outputs, references)
    print(("greedy" if beam == 1 else f"beam {beam}").ljust(7), results[beam]["bleu_line"])
    print(" " * 7, results[beam]["chrf_line"])
for src, ref, out in list(zip(sources, references, outputs))[:5]:
    print(f"\n  {src}\n  ref: {ref}\n  out: {out}")

# %% [markdown]
# ## The generalization split, and when beam search pays
#
# Notebook 2 set aside a split whose sentences combine two constructions
# that training only ever shows apart (a relative clause inside a `porque`
# clause, say). Its score says whether the model learned to compose what
# it saw, not only to repeat it. We translate it both ways and then look at
# the sentences where beam 4 and greedy disagree: which of the two matches
# the reference there, and how often.

# %%
general = list(load_dataset("embedded", "generalization").as_numpy_iterator())
general = general[:200] if FAST else general
general_sources = [pt.decode() for pt, _ in general]
general_references = [en.decode() for _, en in general]
general_outputs = {}
for beam in (1, 4):
    general_outputs[beam] = fast_translator.translate(general_sources, beam_size=beam)
    scores = corpus_scores(general_outputs[beam], general_references)
    print(("greedy" if beam == 1 else f"beam {beam}").ljust(7), scores["bleu_line"])
differ = [i for i, (g, b) in enumerate(zip(general_outputs[1], general_outputs[4])) if g != b]
beam_right = [i for i in differ if general_outputs[4][i] == general_references[i]]
greedy_right = [i for i in differ if general_outputs[1][i] == general_references[i]]
print(
    f"\nbeam 4 and greedy differ on {len(differ)} of {len(general_sources)} sentences; there, beam 4 "
    f"matches the reference exactly on {len(beam_right)}, greedy on {len(greedy_right)}."
)
for i in (beam_right + greedy_right)[:4]:
    print(f"\n  {general_sources[i]}\n  ref:    {general_references[i]}")
    print(f"  greedy: {general_outputs[1][i]}\n  beam 4: {general_outputs[4][i]}")

# %% [markdown]
# Read the counts above before trusting any rule of thumb: on a model this
# well trained on a corpus this regular, greedy and beam search mostly agree,
# and where they disagree either can be the one that is right. Beam search
# maximises the model's own length-normalised score, which is not the same
# thing as matching the reference; it pays most when the model is unsure
# early in a sentence (weaker models, longer and more ambiguous sentences,
# real corpora), and it costs about *k* times the work of greedy decoding.

# %% [markdown]
# ## Where the model looks: attention maps
#
# `Translator.attention` translates a sentence and returns the
# cross-attention weights of every layer and head (`[layers, heads, target,
# source]`). Each row shows, for one English token being produced, how the
# heads spread their attention over the Portuguese tokens.

# %%
attention = translator.attention(CLASSIC)
print("translation:", attention.translation)
print("weights:", attention.weights.shape, "(layers, heads, target tokens, source tokens)")


def plot_heads(att, layer=-1):
    heads = att.weights.shape[1]
    fig, axes = plt.subplots(2, heads // 2, figsize=(3.2 * heads // 2, 6.5))
    for h, ax in enumerate(axes.flat):
        ax.imshow(att.weights[layer, h], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"head {h + 1}")
        ax.set_xticks(range(len(att.source_tokens)), att.source_tokens, rotation=90, fontsize=7)
        ax.set_yticks(range(len(att.target_tokens)), att.target_tokens, fontsize=7)
    fig.suptitle(f"last layer's cross-attention: {att.translation}")
    plt.tight_layout()
    plt.show()


plot_heads(attention)

# %% [markdown]
# Row *i* of a map belongs to the decoder input `target_tokens[i]` and
# predicts the next token. Two rows matter here: the one that *produces*
# "it", and the one that produces the adjective at the end. In Portuguese the
# adjective's gender is what says whom "it" means: masculine *cansado*
# agrees with *animal*, feminine *larga* with *rua* (the street). Below, the
# last layer's attention at those rows, averaged over its heads, for the
# classic sentence and its sibling. (In the fast CI run the model is barely
# trained and these rows mean little.)


# %%
def producing(att, word):
    """Mean attention over the last layer's heads in the row that outputs ``word``."""
    tokens = att.target_tokens
    row = tokens.index(word) - 1 if word in tokens else len(tokens) - 2  # row i predicts token i + 1
    return att.weights[-1, :, row].mean(axis=0), tokens[row + 1]


sibling = translator.attention(SIBLING)
print("sibling translation:", sibling.translation)
fig, axes = plt.subplots(2, 2, figsize=(12, 6))
for line, att, adjective in [(0, attention, "tired"), (1, sibling, "wide")]:
    for column, word in enumerate(("it", adjective)):
        weights, produced = producing(att, word)
        ax = axes[line, column]
        ax.bar(range(len(att.source_tokens)), weights)
        ax.set_xticks(range(len(att.source_tokens)), att.source_tokens, rotation=60, fontsize=8)
        ax.set_title(f"producing '{produced}'")
plt.tight_layout()
plt.show()

# %% [markdown]
# The pictures above fix one layer, one head and one row. To browse them
# all, `tf_transformer.viz.translation_view` draws the three kinds of
# attention of this translation (the encoder's self-attention over the
# Portuguese, the decoder's masked self-attention over its own output, and
# the cross-attention) as one interactive page: pick a kind, a layer and a
# head, then hover or click a token to see where it looks. It runs inside
# the notebook, with no server; `view.save("attention.html")` writes the
# same page to a file that any browser opens.

# %%
from tf_transformer.viz import translation_view

view = translation_view(translator, CLASSIC)
assert view.kinds == ("encoder", "decoder", "cross"), view.kinds
display(view)

# %% [markdown]
# ## Saving and reloading
#
# Two Keras formats, both tested to reload to identical outputs:
#
# - `.weights.h5`: the weights only. Rebuild the model from its config (the
#   run's `run.json`) and load them. Loading into a different architecture
#   fails with a message that says so.
# - `.keras`: config and weights together; `keras.saving.load_model`
#   rebuilds the `Transformer` by itself once `tf_transformer` is imported
#   (its layers are registered as serializable; without the import Keras
#   says "Could not locate class 'Transformer'"). The `model.keras` that
#   `train` writes is saved uncompiled, in float32: a model to use, not a
#   training to continue. The optimizer's state lives only in the run's
#   `backup/`, which is what resuming reads.

# %%
SAVE_DIR = RUN_DIR.parent / "saved"
shutil.rmtree(SAVE_DIR, ignore_errors=True)
SAVE_DIR.mkdir(parents=True)
check_target = tf.constant([[START_ID] + cached_ids[:-1]])
expected = model((source, check_target), training=False)

model.save_weights(SAVE_DIR / "model.weights.h5")
rebuilt = tf_transformer.Transformer(run.config)
rebuilt.load_weights(SAVE_DIR / "model.weights.h5")
print(".weights.h5 max difference:", float(tf.reduce_max(tf.abs(rebuilt((source, check_target)) - expected))))

model.save(SAVE_DIR / "model.keras")
reloaded = keras.saving.load_model(SAVE_DIR / "model.keras")
print(
    ".keras      max difference:", float(tf.reduce_max(tf.abs(reloaded((source, check_target)) - expected)))
)

try:
    tf_transformer.Transformer(
        run.config.__class__.from_dict({**run.config.to_dict(), "num_layers": run.config.num_layers + 1})
    ).load_weights(SAVE_DIR / "model.weights.h5")
except ValueError as error:
    print("\nwrong architecture:", str(error).split(". Keras said")[0])

# %% [markdown]
# ## Exporting a SavedModel
#
# For serving, the tokenizers and the decoding loop go inside the model, so
# that a server takes strings and returns strings. `export_translator`
# builds it with `keras.export.ExportArchive`, which (unlike saving a plain
# `tf.Module` around a Keras 3 model) also loads in the TF1 session loader
# that TensorFlow Serving uses.

# %%
show(export_translator)
EXPORT_DIR = RUN_DIR.parent / "export" / "1"
shutil.rmtree(EXPORT_DIR.parent, ignore_errors=True)
export_translator(translator, EXPORT_DIR)
print(sorted(p.name for p in EXPORT_DIR.iterdir()))

# %% [markdown]
# Reload it in a fresh Python process that has TensorFlow and
# tensorflow-text but not this package, as a server would:

# %%
probe = f"""
import sys
sys.modules["tf_transformer"] = None            # make sure the package cannot be imported
import tensorflow as tf, tensorflow_text
served = tf.saved_model.load({str(EXPORT_DIR)!r})
print(list(served.signatures))
out = served.signatures["serving_default"](text=tf.constant([{CLASSIC!r}, ""]))["translation"]
for line in out.numpy():
    print(repr(line.decode()))
"""
env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
print(completed.stdout)
assert translator.translate(CLASSIC) in completed.stdout

# %% [markdown]
# ## What we built
#
# - Greedy decoding three ways (recompute, cache by hand, the library's
#   `tf.while_loop`), all giving the same tokens.
# - Beam search with the GNMT length penalty, never scoring worse than
#   greedy here.
# - sacreBLEU BLEU and chrF on the test split, greedy and beam 4.
# - Attention maps of the classic sentence and its sibling.
# - Weights and whole models saved and reloaded exactly, and a SavedModel
#   that translates strings in a process that never imports `tf_transformer`.
