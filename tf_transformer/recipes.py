"""Named training recipes: every set of ``TrainConfig`` settings the project trains with, each
with the reasons for it.

A recipe is a dict of ``TrainConfig`` fields. ``recipe(name, **overrides)`` returns a fresh copy
with a caller's own settings on top, for ``TrainConfig(**...)`` or ``train(run_dir=..., **...)``;
``NAMES`` lists them. The measurements behind the choices are dated in ``docs/`` (each recipe
names its page); the numbers quoted here are the ones that decided.

- ``paper``: the paper's training at the tutorial preset's size: what the others change.
- ``course``, ``course-fast``: the course's runs (``tf_transformer.course``: notebook 6 trains
  one, notebooks 7, 9 and 10 read them), in full and in fast mode (``TF_TRANSFORMER_FAST=1``).
- ``demo``: ``tf-transformer demo`` on the embedded corpus.
- ``real-text``: real corpora: ``demo --dataset`` (any corpus but the embedded one),
  notebook 11's run, ``benchmarks/real_text.py`` and ``time_to_quality.py --dataset``.
- ``smoke``: the tiny, quick slice that the tests and the benchmarks' fast modes train.

Example:
    >>> from tf_transformer import recipes
    >>> recipes.NAMES
    ('paper', 'course', 'course-fast', 'demo', 'real-text', 'smoke')
    >>> recipes.recipe("real-text", max_minutes=5)["max_minutes"], recipes.recipe("real-text")["dropout_rate"]
    (5, 0.1)
"""

from __future__ import annotations

# The paper's training (section 5), at the tutorial preset's size (4 layers, d_model 128, 8 heads,
# dff 512, dropout 0.1: its P_drop): Adam with the warm-up schedule (4,000 steps, then step^-0.5),
# label smoothing 0.1, post-norm layers, the last weights (no average). These are TrainConfig's
# defaults too. Its batches held about 25,000 tokens a side on 8 GPUs; here 4,096 (TrainConfig's
# default). How long is the caller's: the paper's base model trained 100,000 steps.
PAPER = dict(
    preset="tutorial",
    warmup_steps=4000,
    lr_scale=1.0,
    decay_power=0.5,
    label_smoothing=0.1,
    norm_first=False,
    ema_momentum=0.0,
    batch_tokens=4096,
)

# The course's run (notebook 6 trains it; notebooks 7 and 9 read it, notebook 10 the same on the
# reversed corpus): the paper's, changed for a CPU's budget. A fixed number of steps, so that it is
# the same model on every machine (from seed 0, which the course passes). A short warm-up suits a
# short budget: the paper's 4,000 steps would never reach the peak rate here. Pre-norm: with the
# paper's post-norm and this warm-up the model sits near 50% accuracy for hundreds of steps
# (notebook 9's ablation table, same seed: 0.787 against 0.416 validation masked accuracy after
# 300 steps of 2,048 tokens; benchmarks/results/ablations.md). Epochs of 200 steps: a
# validation, and a point on notebook 6's curves, every 200 steps.
COURSE = dict(
    preset="tutorial",
    max_steps=1000,
    steps_per_epoch=200,
    warmup_steps=400,
    batch_tokens=2048,
    norm_first=True,
)

# The course in fast mode (CI, TF_TRANSFORMER_FAST=1): every cell runs, in minutes. The tiny
# preset for a few dozen steps on a slice of the corpus; a warm-up that fits in them.
COURSE_FAST = dict(
    preset="tiny",
    max_steps=60,
    steps_per_epoch=20,
    train_examples=4000,
    validation_examples=200,
    warmup_steps=50,
)

# The demo on the embedded corpus: the course's recipe, changed where measurements on this corpus
# said so (docs/demo-recipe.md holds them). Short epochs: validation, and with it the check
# whether the model is good enough, come every 20 seconds or so; the time budget is only a cap.
# Training stops at the first epoch end whose validation masked accuracy reaches 0.9985 (the
# test BLEU that accuracies give: docs/demo-recipe.md), or after 5 epochs without a lower
# validation loss. One layer each side: the tutorial preset's 4 reach the target in as many steps
# as 1 and 2 on this corpus, and a step of 1 costs less than half as much. Pre-norm: with a
# 10-minute budget the paper's post-norm stalls near 50% accuracy. No dropout: the largest gain
# of notebook 9's ablations at this size. A rate that decays as 1/step, not 1/sqrt(step), after a
# 200-step warm-up: less noise near the end, where the last errors are. Half the paper's rate:
# with the short warm-up its peak overshoots (0.7x and 0.5x reached the target 100 and 300 steps
# sooner; 1.5x and 0.35x were slower). Validation and the checkpoints use a moving average of the
# weights, which cancels most of the remaining noise.
DEMO = dict(
    preset="tutorial",
    num_layers=1,
    epochs=1000,  # (the target, patience and the time budget end it)
    steps_per_epoch=100,
    max_minutes=10.0,
    stop_at_accuracy=0.9985,
    patience=5,
    seed=0,
    warmup_steps=200,
    lr_scale=0.5,
    batch_tokens=2048,
    norm_first=True,
    dropout_rate=0.0,
    decay_power=1.0,
    ema_momentum=0.99,
    mixed_precision="auto",  # bfloat16 where the hardware multiplies it natively
    verbose=1,
)

# Real text (the gettext catalogs' 20-50 thousand pairs, the TED talks' 50 thousand) is nothing
# like the embedded corpus: every sentence is new and the vocabulary is open. The recipe was
# chosen by measurement (docs/real-data.md#results-on-real-text): 10-minute runs on the pt_BR
# catalogs (en -> pt_BR, 2 CPU cores, seed 0), one change at a time
# (benchmarks/results/real_text_sweep.md; test BLEU greedy / beam 4):
#   tutorial preset, 4 layers, SentencePiece 8,000 (the first recipe)    25.37 / 27.77
#   ... vocabulary 4,000 (now prepare's default, tokenizer.VOCAB_SIZE)    32.61 / 34.13
#   ... vocabulary 2,000                                                 29.25 / 31.40
#   ... vocabulary 4,000, dropout 0.3                                    15.81 / 20.38
#   ... vocabulary 4,000, 2 layers each side                             41.65 / 43.78
# On a CPU's budget the smaller model wins: its steps cost 60% as much (3,259 steps in the 10
# minutes against 1,990), and 20 thousand pairs do not need 4 layers. What the recipe keeps:
# - the tutorial preset's widths (d_model 128, 8 heads, dff 512) with 2 layers each side;
# - its dropout (0.1) and label smoothing (0.1), the paper's: the synthetic corpus needs
#   neither, real text over-fits without them (0.3 learned too slowly for the budget);
# - pre-norm and a 400-step warm-up (notebook 6: post-norm stalls on a CPU's budget);
# - a moving average of the weights for validation and checkpoints (the demo's measurement:
#   it removes most of the late noise), over about 500 steps (momentum 0.998: chosen when the
#   4-layer recipe took ~4,000 steps in the budget, an eighth of them; not swept since);
# - epochs of 200 steps, so validation (and the best checkpoint) comes every minute or two,
#   and patience: training stops once the validation loss has not improved for 4 epochs,
#   whatever the time budget still allows; the best weights are what evaluation reads;
# - 28 minutes: under the 30 minutes a real-text run is given on a 2-core CPU.
REAL_TEXT = dict(
    preset="tutorial",
    num_layers=2,
    norm_first=True,
    dropout_rate=0.1,
    label_smoothing=0.1,
    warmup_steps=400,
    batch_tokens=2048,
    ema_momentum=0.998,
    steps_per_epoch=200,
    patience=4,
    epochs=1000,  # (the time budget and patience end it)
    max_minutes=28.0,
    mixed_precision="auto",
)

# The tests that train, and the benchmarks' fast modes: the tiny preset with one layer of each
# kind, on a slice of the corpus (256 training pairs, 64 for validation) in short sentences and
# small batches, silent. How long is the caller's (a few steps): each adds what its property
# needs (recipe("smoke", steps_per_epoch=4, max_steps=10)).
SMOKE = dict(
    preset="tiny",
    num_layers=1,
    train_examples=256,
    validation_examples=64,
    batch_tokens=512,
    max_length=32,
    verbose=0,
)

RECIPES = {
    "paper": PAPER,
    "course": COURSE,
    "course-fast": COURSE_FAST,
    "demo": DEMO,
    "real-text": REAL_TEXT,
    "smoke": SMOKE,
}
NAMES = tuple(RECIPES)


def recipe(name: str, **overrides) -> dict:
    """The recipe ``name`` as ``TrainConfig`` fields (a fresh dict), with ``overrides`` on top.

    ``TrainConfig`` checks the values; an unknown ``name`` raises ``KeyError`` with the known ones.

    Example:
        >>> recipe("smoke", max_steps=10)["max_steps"], recipe("smoke")["preset"]
        (10, 'tiny')
    """
    if name not in RECIPES:
        raise KeyError(f"no recipe named {name!r}; the recipes are {', '.join(NAMES)}")
    return {**RECIPES[name], **overrides}


def real_text(minutes: float | None = REAL_TEXT["max_minutes"]) -> dict:
    """``recipe("real-text", max_minutes=minutes)``: the name notebook 11's prose gives the
    real-text recipe (kept for it)."""
    return recipe("real-text", max_minutes=minutes)
