"""Time to a good model: the demo's recipe vs TensorFlow's tutorial recipe, on the embedded corpus.

What a learner waits for is not a step but a model that translates well, and
that depends on the recipe as much as on the step's speed. Both recipes train
the ``tutorial`` sizes (4 layers, d_model 128, 8 heads, dff 512) one after the
other in this process, each for the same wall-time budget, and every
``--every`` steps their validation masked accuracy is measured on the same
validation split (bucketed batches; the clock stops while it is measured).

- *ours*: ``tf_transformer.training.train`` with the demo's settings
  (``recipes.recipe("demo")``) but the preset's 4 layers, where the
  demo trains 1: pre-norm layers, no dropout,
  batches of about 2048 tokens grouped by length, a 200-step warm-up, then a
  rate falling as 1/step, and a moving average of the weights (momentum
  0.99) that validation measures; backups, checkpoints and the history file
  are written as in the demo, and count.
- *tutorial*: the tutorial-style model of ``train_throughput.py``
  (``keras.layers.MultiHeadAttention``, post-norm), batches of 64 sentences
  padded to the longest (``input_pipeline.py``'s ``baseline_batches``), the
  paper's learning rate with a 4000-step warm-up, as TensorFlow's tutorial
  trains it. The loss (label-smoothed, over real tokens) and Adam are the same.

It prints, and writes as JSON, accuracy against training wall time and steps
for both, the minutes (and steps) each needs to reach 0.90 / 0.95 / 0.99, and
the tutorial/ours ratios. A recipe stops at its budget or once it reaches the
highest threshold. This machine is shared, so both run under whatever else
runs: look at the load (``uptime``) beside the numbers.

On a real corpus (``--dataset gettext:pt_BR``, any ``--dataset``), where no recipe
converges in minutes, the measure is the test split's sacreBLEU instead: every
``--bleu-minutes`` of training time (the clock stops while it is measured) each model
translates the test sentences greedily, and the report gives the tutorial recipe's best BLEU,
the minutes ours needed to reach it, and the ratio. *ours* is then the real-text recipe
(``recipes.recipe("real-text")``: 2 layers, pre-norm, a 400-step warm-up, batches of
about 2048 tokens, a moving average of the weights; run to the budget, no early stop); the
tutorial recipe trains its 4 layers with dropout 0.1. Both read the corpus's prepared
tokenizers (SentencePiece, 4,000 pieces by default), so what differs is the recipe, and both
translate the same way: greedy, one full forward pass over the prefix per generated token (no
cache), so the BLEU of the two is computed by one function.

Run::

    python benchmarks/time_to_quality.py --minutes 10        # 10 minutes per recipe, at most
    python benchmarks/time_to_quality.py --fast              # seconds: the tiny preset (tests)
    python benchmarks/time_to_quality.py --dataset gettext:pt_BR --minutes 12 --bleu-minutes 2
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import contextlib
import json
import os
import pathlib
import sys
import tempfile
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from tf_transformer import course, data, recipes
from tf_transformer.config import TransformerConfig
from tf_transformer.constants import END_ID, START_ID, TEST_SPLIT, TRAIN_SPLIT, VALIDATION_SPLIT
from tf_transformer.data import DatasetSpec
from tf_transformer.data.prepare import prepare
from tf_transformer.training import MaskedAccuracy, TrainConfig, make_optimizer, masked_loss, train
from tf_transformer.training.plan import count_batches
from tf_transformer.training.precision import describe_machine, machine

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # the baseline's parts, shared with these
from input_pipeline import baseline_batches  # noqa: E402
from train_throughput import TutorialTransformer  # noqa: E402

THRESHOLDS = (0.90, 0.95, 0.99)
TUTORIAL = dict(batch_size=64, warmup_steps=4000)  # TensorFlow's tutorial; the paper's learning rate
# --fast (and TF_TRANSFORMER_FAST=1), for the test suite: the smoke recipe's tiny model and slice of
# the corpus, each recipe keeping its own depth (both train one model size), for seconds.
FAST = {name: value for name, value in recipes.recipe("smoke").items() if name != "num_layers"}
FAST_CLOCK = dict(every=2, seconds=5)


class Clock(keras.callbacks.Callback):
    """Training wall time (validation excluded) and validation accuracy at each epoch end.

    Stops training once ``seconds`` of training time have passed or the
    accuracy reaches ``target``. ``train`` calls ``fit`` again after a stop it
    did not ask for; the next call then ends with ``Clock.Done`` before its
    first step.
    """

    class Done(Exception):
        """The budget is spent or the target reached."""

    def __init__(self, seconds: float, target: float, measure=None, every_seconds: float | None = None):
        super().__init__()
        self.seconds, self.target = seconds, target
        self.points = []  # {"step", "seconds", "val_masked_accuracy"}
        self.elapsed, self._since, self.done = 0.0, None, False
        # Real text: ``measure(model) -> float`` (test BLEU) every ``every_seconds`` of training.
        self.measure, self.every_seconds = measure, every_seconds
        self.bleu_points, self._next_measure = [], every_seconds

    def _measure_now(self):
        """Test BLEU now, outside the training clock (it is paused while the model translates)."""
        self._pause()
        step = int(self.model.optimizer.iterations.numpy())
        if not self.bleu_points or self.bleu_points[-1]["step"] != step:
            started = time.monotonic()
            bleu = self.measure(self.model)
            self.bleu_points.append(
                {
                    "step": step,
                    "seconds": round(self.elapsed, 2),
                    "bleu": round(bleu, 2),
                    "measure_seconds": round(time.monotonic() - started, 1),
                    "load_average_1min": round(os.getloadavg()[0], 2),
                }
            )
            print(f"  step {step:>6}  {self.elapsed / 60:6.2f} min  test BLEU {bleu:6.2f}", flush=True)
        self._since = time.monotonic()

    def _stop(self):
        self.done = self.model.stop_training = True

    def _pause(self):
        if self._since is not None:
            self.elapsed += time.monotonic() - self._since
            self._since = None

    def on_train_begin(self, logs=None):
        if self.done:
            raise Clock.Done
        self._since = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        elapsed = self.elapsed + time.monotonic() - self._since
        if self.measure and elapsed >= min(self._next_measure, self.seconds):
            self._measure_now()
            while self._next_measure <= self.elapsed:
                self._next_measure += self.every_seconds
        if self.elapsed + time.monotonic() - self._since >= self.seconds:
            self._stop()

    def on_test_begin(self, logs=None):
        self._pause()

    def on_test_end(self, logs=None):
        self._since = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self._pause()  # (the epoch end's saves are counted up to here)
        accuracy = float((logs or {})["val_masked_accuracy"])
        step = int(self.model.optimizer.iterations.numpy())
        self.points.append({"step": step, "seconds": round(self.elapsed, 2), "val_masked_accuracy": accuracy})
        if not self.measure:
            print(
                f"  step {step:>6}  {self.elapsed / 60:6.2f} min  val_masked_accuracy {accuracy:.4f}",
                flush=True,
            )
        if self.target is not None and accuracy >= self.target:
            self._stop()
        self._since = time.monotonic()

    def on_train_end(self, logs=None):
        self._pause()


def ours(settings: dict, seconds: float, every: int) -> tuple[dict, list]:
    """The demo's recipe, through ``train``, into a scratch run directory."""
    # The preset's own layers (the demo trains fewer): both recipes train one model size.
    overrides = dict(
        num_layers=None,
        steps_per_epoch=every,
        max_minutes=None,
        stop_at_accuracy=None,
        patience=None,
        verbose=0,
    )
    config = TrainConfig(**recipes.recipe("demo", **{**overrides, **settings}))
    clock = Clock(seconds, THRESHOLDS[-1])
    return train_on_the_clock(config, clock), clock.points


def train_on_the_clock(config, clock) -> dict:
    """``train`` ``config`` into a scratch run directory until ``clock`` stops it; the recipe it ran."""
    with tempfile.TemporaryDirectory(prefix="time_to_quality_") as run_dir:
        try:
            train(config, pathlib.Path(run_dir) / "run", callbacks=[clock])
        except Clock.Done:
            pass
    return {k: v for k, v in config.to_dict().items() if k not in ("data_dir", "verbose", "dataset")}


def tutorial_setup(settings: dict, spec="embedded", data_dir=None, warmup_steps=None):
    """The tutorial's parts on ``spec``: its model (compiled with the paper's schedule, label
    smoothing 0.1), the corpus's tokenizers, and the training stream of 64 padded sentences."""
    max_length = settings.get("max_length", 64)
    tokenizers = data.load_tokenizers(spec, data_dir=data_dir)
    config = TransformerConfig.from_preset(
        settings.get("preset", "tutorial"),
        input_vocab_size=int(tokenizers.source.get_vocab_size()),
        target_vocab_size=int(tokenizers.target.get_vocab_size()),
        max_length=max_length,
    )
    keras.utils.set_random_seed(0)
    pairs = data.load_dataset(spec, TRAIN_SPLIT, data_dir=data_dir)
    if settings.get("train_examples"):
        pairs = pairs.take(settings["train_examples"])
    stream = baseline_batches(
        pairs, tokenizers.source, tokenizers.target, TUTORIAL["batch_size"], max_length, seed=0
    ).repeat()
    model = TutorialTransformer(config)
    model((keras.ops.ones((1, 2), "int32"), keras.ops.ones((1, 2), "int32")))
    model.compile(
        optimizer=make_optimizer(config.d_model, warmup_steps or TUTORIAL["warmup_steps"]),
        loss=lambda labels, logits: masked_loss(labels, logits, 0.1),
        metrics=[MaskedAccuracy()],
        # Keras's "auto" would turn XLA on or off by whether ours, trained first with a seed, had
        # enabled op determinism in this process; XLA is slower on a CPU, so it is off, as for ours.
        jit_compile=False,
    )
    recipe = {
        "preset": settings.get("preset", "tutorial"),
        "max_length": max_length,
        **TUTORIAL,
        "dropout_rate": config.dropout_rate,
        "norm_first": False,
    }
    return model, tokenizers, stream, recipe


def tutorial(settings: dict, seconds: float, every: int) -> tuple[dict, list]:
    """The tutorial's recipe: its model, fixed padded batches, warm-up 4000, the paper's learning rate."""
    model, tokenizers, stream, recipe = tutorial_setup(settings)
    max_length = recipe["max_length"]
    validation = data.load_dataset("embedded", VALIDATION_SPLIT)
    if settings.get("validation_examples"):
        validation = validation.take(settings["validation_examples"])
    # The same validation batches as ours (bucketed; accuracy is counted per real token either way).
    validation = data.make_batches(
        validation,
        tokenizers.source,
        tokenizers.target,
        max_length=max_length,
        batch_tokens=settings.get("batch_tokens", 2048),
        shuffle=False,
    )
    # A known length spares Keras a "ran out of data" warning after every validation.
    validation = validation.apply(tf.data.experimental.assert_cardinality(count_batches(validation)))
    clock = Clock(seconds, THRESHOLDS[-1])
    model.fit(
        stream,
        steps_per_epoch=every,
        epochs=10**6,
        validation_data=validation,
        callbacks=[clock],
        verbose=0,
        shuffle=False,  # (the stream is shuffled already)
    )
    return recipe, clock.points


# -- real text: test BLEU against training time ---------------------------------------------------


class TestBleu:
    """Greedy test-split BLEU of any model called as ``model((source, target)) -> logits``.

    The whole decoder runs once per generated token on the prefix so far (the tutorial's way,
    no cache; ``reduce_retracing`` keeps it to a trace or two), so both recipes' models are
    scored by the same code. ``weights(model)`` is a context for the weights to
    translate with (ours: the moving average its validation reads).
    """

    def __init__(self, spec, tokenizers, max_length, sentences=None, weights=None, batch=64, data_dir=None):
        import sacrebleu  # noqa: F401  (fail now, not after minutes of training)

        pairs = data.load_dataset(spec, TEST_SPLIT, data_dir=data_dir)
        if sentences:
            pairs = pairs.take(sentences)
        self.sources, self.references = [], []
        for source, target in pairs.as_numpy_iterator():
            self.sources.append(source)
            self.references.append(target.decode("utf-8"))
        self.tokenizers, self.max_length, self.batch = tokenizers, max_length, batch
        self.weights = weights or (lambda model: contextlib.nullcontext())
        self.language = spec.languages[1]

    def _source_ids(self, strings):
        ids = self.tokenizers.source.tokenize(tf.constant(strings)).to_tensor()[:, : self.max_length]
        ids = ids.numpy()
        ids[:, -1] = np.where(ids[:, -1] > 0, END_ID, 0)  # a cut sentence still ends
        padded = np.zeros((len(strings), self.max_length), np.int64)
        padded[:, : ids.shape[1]] = ids
        return padded

    def translate(self, model) -> list[str]:
        forward = tf.function(lambda s, t: model((s, t), training=False), reduce_retracing=True)
        outputs = []
        for start in range(0, len(self.sources), self.batch):
            source = self._source_ids(self.sources[start : start + self.batch])
            target = np.zeros_like(source)
            target[:, 0] = START_ID
            ended = np.zeros(len(source), bool)
            for t in range(self.max_length - 1):
                # The prefix so far (the causal mask makes later positions irrelevant): a step costs
                # its length, not max_length's, and most sentences end long before max_length.
                logits = forward(tf.constant(source), tf.constant(target[:, : t + 1])).numpy()
                target[:, t + 1] = np.where(ended, 0, logits[:, t].argmax(-1))
                ended |= target[:, t + 1] == END_ID
                if ended.all():
                    break
            texts = self.tokenizers.target.detokenize(tf.constant(target[:, 1:]))
            outputs += [text.decode("utf-8") for text in texts.numpy()]
        return outputs

    def __call__(self, model) -> float:
        import sacrebleu

        with self.weights(model):
            outputs = self.translate(model)
        tokenize = "zh" if self.language.lower().startswith("zh") else "13a"
        return float(sacrebleu.corpus_bleu(outputs, [self.references], tokenize=tokenize).score)


def ours_on_text(spec, settings: dict, seconds: float, bleu_seconds: float, sentences, data_dir) -> tuple:
    """The real-text recipe, through ``train``, to the budget (no early stop); test BLEU on a clock."""
    from tf_transformer.training.metrics import averaged_weights

    # What the demo trains on real text (from its seed), to the budget: no early stop.
    stops = {"max_minutes": None, "patience": None, "stop_at_accuracy": None, "verbose": 0}
    config = TrainConfig(
        **recipes.recipe("real-text", seed=0, **{**stops, **settings}), dataset=spec, data_dir=data_dir
    )
    tokenizers = data.load_tokenizers(spec, data_dir=data_dir)
    bleu = TestBleu(spec, tokenizers, config.max_length, sentences, averaged_weights, data_dir=data_dir)
    clock = Clock(seconds, None, measure=bleu, every_seconds=bleu_seconds)
    return train_on_the_clock(config, clock), clock


def tutorial_on_text(spec, settings: dict, seconds: float, bleu_seconds: float, sentences, data_dir) -> tuple:
    """The tutorial's recipe on the corpus: its 4 layers, dropout 0.1, 64 sentences a batch,
    a 4000-step warm-up; the same tokenizers and test BLEU as ours."""
    warmup = settings.get("warmup_steps")
    model, tokenizers, stream, recipe = tutorial_setup(settings, spec, data_dir, warmup)
    max_length = recipe["max_length"]
    bleu = TestBleu(spec, tokenizers, max_length, sentences, data_dir=data_dir)
    clock = Clock(seconds, None, measure=bleu, every_seconds=bleu_seconds)
    # No validation here: what is measured is test BLEU, on the clock's schedule.
    clock.on_epoch_end = lambda epoch, logs=None: None
    model.fit(stream, steps_per_epoch=100, epochs=10**6, callbacks=[clock], verbose=0, shuffle=False)
    return recipe, clock


def bleu_summary(results: dict) -> dict:
    """The tutorial recipe's best BLEU and its minutes; ours' first minutes at or above it."""
    points = results["tutorial"]["bleu_points"]
    best = max(points, key=lambda p: p["bleu"]) if points else None
    mine = best and next((p for p in results["ours"]["bleu_points"] if p["bleu"] >= best["bleu"]), None)
    return {
        "tutorial_best_bleu": best and best["bleu"],
        "tutorial_minutes": best and round(best["seconds"] / 60, 2),
        "ours_minutes": mine and round(mine["seconds"] / 60, 2),
        "ratio": round(best["seconds"] / mine["seconds"], 2) if mine and mine["seconds"] else None,
        "ours_best_bleu": max((p["bleu"] for p in results["ours"]["bleu_points"]), default=None),
    }


def bleu_table(results: dict, reached_at: dict) -> str:
    lines = ["| minutes of training | " + " | ".join(results) + " |", "|---:|" + "---:|" * len(results)]
    by_minute = {}
    for name, result in results.items():
        for p in result["bleu_points"]:
            by_minute.setdefault(round(p["seconds"] / 60, 1), {})[name] = (
                f"{p['bleu']:.2f} ({p['step']:,} steps)"
            )
    for minute in sorted(by_minute):
        lines.append(f"| {minute:.1f} | " + " | ".join(by_minute[minute].get(n, "") for n in results) + " |")
    r = reached_at
    if r["tutorial_best_bleu"] is not None:
        lines.append("")
        lines.append(
            f"the tutorial recipe's best test BLEU, {r['tutorial_best_bleu']:.2f}, at "
            f"{r['tutorial_minutes']:.2f} "
            + (
                f"min: ours was there at {r['ours_minutes']:.2f} min ({r['ratio']:.2f}x sooner)"
                if r["ratio"]
                else "min: ours did not reach it"
            )
        )
    return "\n".join(lines)


def reached(points: list, threshold: float) -> dict | None:
    """The first measurement at or above ``threshold`` (None if none)."""
    return next((p for p in points if p["val_masked_accuracy"] >= threshold), None)


def summary(results: dict, budget_minutes: float | None = None) -> dict:
    """Minutes and steps to each threshold, and tutorial/ours ratios of the minutes.

    Where only ours reached a threshold within ``budget_minutes``, the ratio is
    unknown but bounded: ``ratio_at_least`` is the budget over our minutes.
    ``tutorial_best`` compares at the tutorial's best accuracy instead: its
    minutes to that point against ours to the same accuracy.
    """
    out = {}
    for name, result in results.items():
        out[name] = {
            f"{t:.2f}": (
                {"minutes": round(p["seconds"] / 60, 3), "step": p["step"]}
                if (p := reached(result["points"], t))
                else None
            )
            for t in THRESHOLDS
        }
    out["ratio_tutorial_over_ours"] = {
        f"{t:.2f}": (
            round(out["tutorial"][f"{t:.2f}"]["minutes"] / out["ours"][f"{t:.2f}"]["minutes"], 2)
            if out["tutorial"][f"{t:.2f}"] and out["ours"][f"{t:.2f}"]
            else None
        )
        for t in THRESHOLDS
    }
    out["ratio_at_least"] = {
        f"{t:.2f}": (
            round(budget_minutes / out["ours"][f"{t:.2f}"]["minutes"], 2)
            if budget_minutes and out["tutorial"][f"{t:.2f}"] is None and out["ours"][f"{t:.2f}"]
            else None
        )
        for t in THRESHOLDS
    }
    points = results["tutorial"]["points"]
    best = max(points, key=lambda p: p["val_masked_accuracy"]) if points else None
    ours = best and reached(results["ours"]["points"], best["val_masked_accuracy"])
    out["tutorial_best"] = best and {
        "accuracy": round(best["val_masked_accuracy"], 4),
        "tutorial_minutes": round(best["seconds"] / 60, 3),
        "ours_minutes": round(ours["seconds"] / 60, 3) if ours else None,
        "ratio": round(best["seconds"] / ours["seconds"], 2) if ours and ours["seconds"] else None,
    }
    return out


def table(results: dict, reached_at: dict, budget_minutes: float) -> str:
    def cell(entry):
        if entry is None:
            return f"> {budget_minutes:.3g} min"
        return f"{entry['minutes']:.2f} min ({entry['step']} steps)"

    lines = [f"{'recipe':<10}" + "".join(f"{f'to {t:.2f}':>26}" for t in THRESHOLDS) + f"{'best':>8}"]
    for name in results:
        best = max((p["val_masked_accuracy"] for p in results[name]["points"]), default=0.0)
        row = "".join(f"{cell(reached_at[name][f'{t:.2f}']):>26}" for t in THRESHOLDS)
        lines.append(f"{name:<10}{row}{best:>8.4f}")
    ratios, bounds = reached_at["ratio_tutorial_over_ours"], reached_at.get("ratio_at_least", {})

    def ratio(key):
        if ratios[key] is not None:
            return f"{ratios[key]:.2f}x"
        return f"> {bounds[key]:.2f}x" if bounds.get(key) is not None else "n/a"

    row = "".join(f"{ratio(k):>26}" for k in ratios)
    lines.append(f"{'ratio':<10}{row}   (tutorial minutes / ours)")
    best = reached_at.get("tutorial_best")
    if best and best["ours_minutes"] is not None:
        lines.append(
            f"the tutorial recipe's best, {best['accuracy']:.4f} at {best['tutorial_minutes']:.2f} min: "
            f"ours was there at {best['ours_minutes']:.2f} min ({best['ratio']:.2f}x sooner)"
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="training budget per recipe (default: 10)"
    )
    parser.add_argument("--every", type=int, default=100, help="steps between validations (default: 100)")
    parser.add_argument("--out", default="time_to_quality.json", help="the JSON file (default: %(default)s)")
    parser.add_argument(
        "--fast", action="store_true", help="the tiny preset for seconds (TF_TRANSFORMER_FAST=1)"
    )
    parser.add_argument(
        "--dataset",
        default="embedded",
        help="a real corpus (gettext:pt_BR, text:..., ...): test BLEU on a clock instead of "
        "validation accuracy (default: embedded)",
    )
    parser.add_argument("--reverse", action="store_true", help="the corpus's other direction")
    parser.add_argument("--data-dir", default=None, help="where the corpus is prepared (default: TFDS's)")
    parser.add_argument(
        "--bleu-minutes", type=float, default=2.0, help="real text: minutes of training between BLEUs"
    )
    parser.add_argument(
        "--bleu-sentences",
        type=int,
        default=None,
        help="real text: the first N test sentences (default: all)",
    )
    args = parser.parse_args(argv)
    if args.dataset != "embedded":
        return main_on_text(args)
    print(f"machine: {describe_machine()}", flush=True)
    # The tutorial's layers drop the padding mask after the first block (Keras warns each time).
    warnings.filterwarnings("ignore", message=".*does not support masking")

    fast = args.fast or course.fast_mode()
    settings, seconds, every = {}, args.minutes * 60, args.every
    if fast:
        settings, seconds, every = FAST, FAST_CLOCK["seconds"], FAST_CLOCK["every"]
    results = {}
    for name, run in (("ours", ours), ("tutorial", tutorial)):
        print(f"{name}: training for at most {seconds / 60:.2f} minutes, validating every {every} steps")
        started = time.monotonic()
        recipe, points = run(settings, seconds, every)
        results[name] = {
            "recipe": recipe,
            "points": points,
            "wall_seconds": round(time.monotonic() - started, 1),
        }
        keras.backend.clear_session()
    reached_at = summary(results, seconds / 60)
    report = {
        "budget_minutes": seconds / 60,
        "every_steps": every,
        "fast": fast,
        "load_average": list(os.getloadavg()),
        "machine": machine(),
        "results": results,
        "reached": reached_at,
    }
    print()
    print(table(results, reached_at, seconds / 60))
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    pathlib.Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"written to {args.out}")
    return report


def main_on_text(args) -> dict:
    """``--dataset`` names a real corpus: both recipes, test BLEU every ``--bleu-minutes``."""
    print(f"machine: {describe_machine()}", flush=True)
    warnings.filterwarnings("ignore", message=".*does not support masking")
    spec = DatasetSpec.parse(args.dataset, reverse=args.reverse)
    fast = args.fast or course.fast_mode()
    seconds, bleu_seconds, sentences = args.minutes * 60, args.bleu_minutes * 60, args.bleu_sentences
    settings = {}
    if fast:
        settings = dict(FAST, warmup_steps=10, steps_per_epoch=10)
        seconds, bleu_seconds, sentences = FAST_CLOCK["seconds"], FAST_CLOCK["seconds"] / 2, sentences or 8
    summary_ = prepare(spec, data_dir=args.data_dir)  # (once; both recipes read its tokenizers)
    print(f"{args.dataset}: {summary_['splits']} pairs, tokenizer {summary_.get('tokenizer')}", flush=True)
    results = {}
    for name, run in (("ours", ours_on_text), ("tutorial", tutorial_on_text)):
        print(f"{name}: training for {seconds / 60:.2f} minutes, test BLEU every {bleu_seconds / 60:.2f}")
        started = time.monotonic()
        recipe, clock = run(spec, settings, seconds, bleu_seconds, sentences, args.data_dir)
        results[name] = {
            "recipe": recipe,
            "bleu_points": clock.bleu_points,
            "wall_seconds": round(time.monotonic() - started, 1),
        }
        keras.backend.clear_session()
    reached_at = bleu_summary(results)
    report = {
        "dataset": args.dataset,
        "reverse": args.reverse,
        "budget_minutes": seconds / 60,
        "bleu_every_minutes": bleu_seconds / 60,
        "test_sentences": sentences or summary_["splits"][TEST_SPLIT],
        "tokenizer": summary_.get("tokenizer"),
        "fast": fast,
        "machine": machine(),
        "results": results,
        "reached": reached_at,
    }
    print()
    print(bleu_table(results, reached_at))
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    pathlib.Path(args.out).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    pathlib.Path(args.out).with_suffix(".md").write_text(
        f"# Time to test BLEU: {report['dataset']}{' (reversed)' if args.reverse else ''}\n\n"
        f"Machine: {describe_machine(report['machine'])}; budget {seconds / 60:g} minutes of training "
        f"per recipe; {report['test_sentences']} test sentences, greedy.\n\n"
        + bleu_table(results, reached_at)
        + "\n",
        encoding="utf-8",
    )
    print(f"written to {args.out}")
    return report


if __name__ == "__main__":
    main()
