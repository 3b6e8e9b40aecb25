"""Time to a good model: the demo's recipe vs TensorFlow's tutorial recipe, on the embedded corpus.

What a learner waits for is not a step but a model that translates well, and
that depends on the recipe as much as on the step's speed. Both recipes train
the ``tutorial`` sizes (4 layers, d_model 128, 8 heads, dff 512) one after the
other in this process, each for the same wall-time budget, and every
``--every`` steps their validation masked accuracy is measured on the same
validation split (bucketed batches; the clock stops while it is measured).

- *ours*: ``tf_transformer.training.train`` with the demo's settings
  (``tf_transformer.demo.train_config``) but the preset's 4 layers, where the
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

Run::

    python benchmarks/time_to_quality.py --minutes 10        # 10 minutes per recipe, at most
    python benchmarks/time_to_quality.py --fast              # seconds: the tiny preset (tests)
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import tempfile
import time
import warnings

import keras
import tensorflow as tf

from tf_transformer import cli, data, demo
from tf_transformer.config import TransformerConfig
from tf_transformer.constants import TRAIN_SPLIT, VALIDATION_SPLIT
from tf_transformer.data import DatasetSpec
from tf_transformer.training import MaskedAccuracy, make_optimizer, masked_loss, train
from tf_transformer.training.loop import count_batches
from tf_transformer.training.precision import describe_machine, machine

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # the baseline's parts, shared with these
from input_pipeline import baseline_batches  # noqa: E402
from train_throughput import TutorialTransformer  # noqa: E402

THRESHOLDS = (0.90, 0.95, 0.99)
TUTORIAL = dict(batch_size=64, warmup_steps=4000)  # TensorFlow's tutorial; the paper's learning rate
# --fast (and TF_TRANSFORMER_FAST=1): the tiny preset on a slice of the corpus, for the test suite.
FAST = dict(preset="tiny", train_examples=256, validation_examples=64, batch_tokens=512, every=2, seconds=5)


class Clock(keras.callbacks.Callback):
    """Training wall time (validation excluded) and validation accuracy at each epoch end.

    Stops training once ``seconds`` of training time have passed or the
    accuracy reaches ``target``. ``train`` calls ``fit`` again after a stop it
    did not ask for; the next call then ends with ``Clock.Done`` before its
    first step.
    """

    class Done(Exception):
        """The budget is spent or the target reached."""

    def __init__(self, seconds: float, target: float):
        super().__init__()
        self.seconds, self.target = seconds, target
        self.points = []  # {"step", "seconds", "val_masked_accuracy"}
        self.elapsed, self._since, self.done = 0.0, None, False

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
        print(
            f"  step {step:>6}  {self.elapsed / 60:6.2f} min  val_masked_accuracy {accuracy:.4f}", flush=True
        )
        if accuracy >= self.target:
            self._stop()
        self._since = time.monotonic()

    def on_train_end(self, logs=None):
        self._pause()


def ours(settings: dict, seconds: float, every: int) -> tuple[dict, list]:
    """The demo's recipe, through ``train``, into a scratch run directory."""
    args = cli.build_parser().parse_args(["demo"])
    config = demo.train_config(DatasetSpec(), args)
    # The preset's own layers (the demo trains fewer): both recipes train one model size.
    overrides = dict(
        num_layers=None,
        steps_per_epoch=every,
        max_minutes=None,
        stop_at_accuracy=None,
        patience=None,
        verbose=0,
    )
    config = dataclasses.replace(config, **{**overrides, **settings})
    clock = Clock(seconds, THRESHOLDS[-1])
    with tempfile.TemporaryDirectory(prefix="time_to_quality_") as run_dir:
        try:
            train(config, pathlib.Path(run_dir) / "run", callbacks=[clock])
        except Clock.Done:
            pass
    recipe = {k: v for k, v in config.to_dict().items() if k not in ("data_dir", "verbose", "dataset")}
    return recipe, clock.points


def tutorial(settings: dict, seconds: float, every: int) -> tuple[dict, list]:
    """The tutorial's recipe: its model, fixed padded batches, warm-up 4000, the paper's learning rate."""
    preset = settings.get("preset", "tutorial")
    max_length = settings.get("max_length", 64)
    tokenizers = data.load_tokenizers()
    config = TransformerConfig.from_preset(
        preset,
        input_vocab_size=int(tokenizers.source.get_vocab_size()),
        target_vocab_size=int(tokenizers.target.get_vocab_size()),
        max_length=max_length,
    )
    keras.utils.set_random_seed(0)
    pairs = data.load_dataset("embedded", TRAIN_SPLIT)
    if settings.get("train_examples"):
        pairs = pairs.take(settings["train_examples"])
    stream = baseline_batches(
        pairs, tokenizers.source, tokenizers.target, TUTORIAL["batch_size"], max_length, seed=0
    ).repeat()
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
    model = TutorialTransformer(config)
    model((keras.ops.ones((1, 2), "int32"), keras.ops.ones((1, 2), "int32")))
    model.compile(
        optimizer=make_optimizer(config.d_model, TUTORIAL["warmup_steps"]),
        loss=lambda labels, logits: masked_loss(labels, logits, 0.1),
        metrics=[MaskedAccuracy()],
        # Keras's "auto" would turn XLA on or off by whether ours, trained first with a seed, had
        # enabled op determinism in this process; XLA is slower on a CPU, so it is off, as for ours.
        jit_compile=False,
    )
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
    recipe = {"preset": preset, "max_length": max_length, **TUTORIAL, "norm_first": False}
    return recipe, clock.points


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
    args = parser.parse_args(argv)
    print(f"machine: {describe_machine()}", flush=True)
    # The tutorial's layers drop the padding mask after the first block (Keras warns each time).
    warnings.filterwarnings("ignore", message=".*does not support masking")

    fast = args.fast or os.environ.get("TF_TRANSFORMER_FAST") == "1"
    settings, seconds, every = {}, args.minutes * 60, args.every
    if fast:
        settings = {k: v for k, v in FAST.items() if k not in ("every", "seconds")}
        seconds, every = FAST["seconds"], FAST["every"]
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


if __name__ == "__main__":
    main()
