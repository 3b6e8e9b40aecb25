"""What a validation accuracy is worth in BLEU: the demo's recipe, scored on the test split as it trains.

The demo stops training at a validation masked accuracy (``--stop-at-accuracy``),
and promises a test BLEU. This trains the demo's recipe
(``recipes.recipe("demo")``) for a fixed number of steps, without
its stops, and at each validation from ``--bleu-from`` steps on translates
the whole test split greedily with the weights that validation measured (the
moving average of the weights, as the checkpoints hold it) and scores it with
sacreBLEU. It prints, and writes as JSON, validation accuracy, test BLEU and
the share of sentences translated exactly, by step: the accuracy to stop at
is the lowest from which the BLEU stays above the promise.

Run::

    python benchmarks/bleu_by_step.py                 # 1,500 steps: about 12 minutes on 2 CPU cores
    python benchmarks/bleu_by_step.py --fast          # seconds: the tiny preset (tests)
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import json
import os
import pathlib
import tempfile
import time

import keras

from tf_transformer import course, recipes
from tf_transformer.constants import TEST_SPLIT
from tf_transformer.data import DatasetSpec, load_dataset, load_tokenizers
from tf_transformer.inference import Translator
from tf_transformer.inference.evaluate import evaluate_translator
from tf_transformer.training import TrainConfig, train
from tf_transformer.training.metrics import averaged_weights
from tf_transformer.training.precision import describe_machine, machine

# --fast (and TF_TRANSFORMER_FAST=1): the smoke recipe's tiny model and slice of the corpus, for
# the test suite, scored at two validations.
FAST_RUN = dict(steps=4, every=2, bleu_from=2, sentences=16)


class TestBleu(keras.callbacks.Callback):
    """At each epoch end from ``bleu_from`` steps on: test BLEU of the validated (averaged) weights."""

    def __init__(self, pairs, bleu_from):
        super().__init__()
        self.pairs = pairs
        self.bleu_from = bleu_from
        self.points = []
        self.tokenizers = self.translator = None
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        point = {
            "step": step,
            "minutes": round((time.monotonic() - self.started) / 60, 2),
            "val_masked_accuracy": round(float((logs or {})["val_masked_accuracy"]), 4),
        }
        if step >= self.bleu_from:
            if self.translator is None:  # (the tokenizers must outlive the translator's use of them)
                self.tokenizers = load_tokenizers(DatasetSpec())
                self.translator = Translator(self.model, self.tokenizers.source, self.tokenizers.target)
            with averaged_weights(self.model):
                scores = evaluate_translator(self.translator, self.pairs)
            exact = sum(output == reference for _, reference, output in scores["examples"])
            point.update(test_bleu=scores["bleu"], exact=round(exact / scores["sentences"], 4))
        self.points.append(point)
        print("  " + "  ".join(f"{key} {value}" for key, value in point.items()), flush=True)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1500, help="optimizer steps (default: 1500)")
    parser.add_argument("--every", type=int, default=100, help="steps between validations (default: 100)")
    parser.add_argument("--bleu-from", type=int, default=800, help="first step scored (default: 800)")
    parser.add_argument("--sentences", type=int, default=None, help="only the first N test pairs")
    parser.add_argument("--out", default="bleu_by_step.json", help="the JSON file (default: %(default)s)")
    parser.add_argument(
        "--fast", action="store_true", help="the tiny preset for seconds (TF_TRANSFORMER_FAST=1)"
    )
    args = parser.parse_args(argv)
    print(f"machine: {describe_machine()}", flush=True)
    fast = args.fast or course.fast_mode()
    settings = recipes.recipe("smoke") if fast else {}
    if fast:
        for key, value in FAST_RUN.items():
            setattr(args, key, value)

    # The demo's recipe for a fixed number of steps, without its stops.
    stops = dict(max_minutes=None, stop_at_accuracy=None, patience=None)
    length = dict(max_steps=args.steps, steps_per_epoch=args.every, verbose=0)
    config = TrainConfig(**recipes.recipe("demo", **{**settings, **stops, **length}))
    pairs = list(load_dataset(DatasetSpec(), TEST_SPLIT).as_numpy_iterator())[: args.sentences]
    scorer = TestBleu(pairs, args.bleu_from)
    print(
        f"the demo's recipe for {args.steps} steps; test BLEU (greedy, {len(pairs)} sentences) "
        f"from step {args.bleu_from}"
    )
    with tempfile.TemporaryDirectory(prefix="bleu_by_step_") as run_dir:
        train(config, pathlib.Path(run_dir) / "run", callbacks=[scorer])
    recipe = {k: v for k, v in config.to_dict().items() if k not in ("data_dir", "verbose", "dataset")}
    report = {"fast": fast, "sentences": len(pairs), "recipe": recipe, "points": scorer.points}
    report["load_average"] = list(os.getloadavg())
    report["machine"] = machine()
    pathlib.Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"written to {args.out}")
    return report


if __name__ == "__main__":
    main()
