"""Training recipes that several commands share, each with the measurements behind it.

A recipe is a dict of ``TrainConfig`` fields (``train(**recipe, dataset=..., run_dir=...)``).
The demo's recipe for the embedded corpus lives in :mod:`tf_transformer.demo`;
this module holds the one for real text, which ``demo --dataset`` (on any corpus
but the embedded one), the course's real-text runs and ``benchmarks/real_text.py``
use.

Example:
    >>> from tf_transformer.recipes import real_text
    >>> real_text(minutes=5)["max_minutes"], real_text()["dropout_rate"]
    (5, 0.1)
"""

from __future__ import annotations

# Real text (the gettext catalogs' 20-50 thousand pairs, the TED talks' 50 thousand) is
# nothing like the embedded corpus: every sentence is new and the vocabulary is open. The recipe
# was chosen by measurement: 10-minute runs on the pt_BR catalogs (en -> pt_BR, 2 CPU cores, seed
# 0), one change at a time (benchmarks/results/real_text_sweep.md; test BLEU greedy / beam 4):
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
#   and patience: training stops once the validation loss has not improved for PATIENCE
#   epochs, whatever the time budget still allows; the best weights are what evaluation reads.
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
    mixed_precision="auto",
)
REAL_TEXT_MINUTES = 28.0  # under the 30 minutes a real-text run is given on a 2-core CPU


def real_text(minutes: float | None = REAL_TEXT_MINUTES) -> dict:
    """The real-text recipe as ``train`` keyword arguments, within ``minutes`` of training."""
    return dict(REAL_TEXT, max_minutes=minutes)
