"""Does bfloat16 train as well as float32? The demo's recipe in both, on the same seeds.

``--mixed-precision auto`` may pick bfloat16 only where it trains as well as float32 and
faster. This trains the demo's recipe (``recipes.recipe("demo")``: the embedded corpus, its
stop at validation accuracy 0.9985, its time budget) once per precision and seed,
one after the other in this process, seeds interleaved (float32, bf16, float32, bf16, ...) so
that a drift in the machine's load touches both alike. For each run it records the validation
masked accuracy at every epoch (the same steps for both precisions), the steps and minutes to
the demo's stop, and the test split's sacreBLEU (greedy, as ``evaluate`` computes it).

"Within the seed noise" is read from the same table: the float32 runs of two seeds differ by
some amount at each step; bfloat16's difference from float32 at the same seed is compared
with it.

Run::

    python benchmarks/precision_quality.py                    # seeds 0 and 1, the demo's budget
    python benchmarks/precision_quality.py --fast             # seconds: the tiny preset (tests)
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import json
import pathlib
import tempfile
import time

from tf_transformer import recipes
from tf_transformer.constants import TEST_SPLIT
from tf_transformer.training import TrainConfig, train
from tf_transformer.training.precision import describe_machine, machine

PRECISIONS = ("float32", "bf16")
SETTING = {"float32": "none", "bf16": "bf16"}  # --mixed-precision for each


def recipe(seed: int, precision: str, minutes: float, fast: bool) -> TrainConfig:
    """The demo's recipe on the embedded corpus, with this seed and precision (``--fast``: on the
    smoke recipe's tiny model and slice of the corpus, two epochs of 5 steps)."""
    settings = dict(max_minutes=minutes, seed=seed, mixed_precision=SETTING[precision], verbose=0)
    if fast:
        settings = {**recipes.recipe("smoke"), **settings, "steps_per_epoch": 5, "epochs": 2}
    return TrainConfig(**recipes.recipe("demo", **settings))


def one_run(seed: int, precision: str, minutes: float, fast: bool, limit: int | None) -> dict:
    from tf_transformer.inference.evaluate import evaluate_run

    config = recipe(seed, precision, minutes, fast)
    with tempfile.TemporaryDirectory(prefix="precision-quality-") as tmp:
        run_dir = pathlib.Path(tmp) / "run"
        started = time.perf_counter()
        result = train(config, run_dir)
        train_seconds = time.perf_counter() - started
        started = time.perf_counter()
        score = evaluate_run(run_dir, TEST_SPLIT, beam_size=1, limit=limit)
        evaluate_seconds = time.perf_counter() - started
    return {
        "seed": seed,
        "precision": precision,
        "steps": result.steps,
        "stopped": result.stopped,
        "train_minutes": round(train_seconds / 60, 3),
        "evaluate_minutes": round(evaluate_seconds / 60, 3),
        "test_bleu_greedy": round(score["bleu"], 2),
        "test_sentences": score["sentences"],
        "val_accuracy_by_step": {
            int(epoch["step"]): round(float(epoch["val_masked_accuracy"]), 5) for epoch in result.history
        },
    }


def noise(runs: list[dict]) -> dict:
    """At each step both precisions reached on every seed: float32's spread across seeds, and
    the largest |bf16 - float32| at the same seed."""
    by = {(r["precision"], r["seed"]): r["val_accuracy_by_step"] for r in runs}
    seeds = sorted({r["seed"] for r in runs})
    steps = sorted(set.intersection(*(set(curve) for curve in by.values()))) if by else []
    rows = []
    for step in steps:
        fp32 = [by["float32", s][step] for s in seeds if ("float32", s) in by]
        gaps = [abs(by["bf16", s][step] - by["float32", s][step]) for s in seeds if ("bf16", s) in by]
        rows.append(
            {
                "step": step,
                "float32_seed_spread": round(max(fp32) - min(fp32), 5) if len(fp32) > 1 else None,
                "bf16_gap_same_seed": round(max(gaps), 5) if gaps else None,
            }
        )
    return {"steps": rows}


def table(runs: list[dict], spread: dict) -> str:
    lines = [
        "| precision | seed | steps | stopped | train min | test BLEU greedy |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['precision']} | {r['seed']} | {r['steps']:,} | {r['stopped']} | "
            f"{r['train_minutes']:.2f} | {r['test_bleu_greedy']:.2f} |"
        )
    lines += ["", "| step | float32: spread across seeds | bf16: largest gap to float32, same seed |"]
    lines.append("|---:|---:|---:|")
    for row in spread["steps"]:
        show = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        lines.append(
            f"| {row['step']:,} | {show(row['float32_seed_spread'])} | {show(row['bf16_gap_same_seed'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument("--minutes", type=float, default=10.0, help="each run's budget (the demo's: 10)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test sentences")
    parser.add_argument(
        "--out", default="precision_quality.json", help="the JSON file (default: %(default)s)"
    )
    parser.add_argument(
        "--fast", action="store_true", help="the tiny preset, 10 steps (a test of the script)"
    )
    args = parser.parse_args(argv)
    print(f"machine: {describe_machine()}")
    runs = []
    for seed in args.seeds:
        for precision in args.precisions:
            print(f"seed {seed}, {precision}: training the demo's recipe ...", flush=True)
            runs.append(one_run(seed, precision, args.minutes, args.fast, 16 if args.fast else args.limit))
            r = runs[-1]
            print(
                f"  {r['steps']:,} steps in {r['train_minutes']:.2f} min ({r['stopped']}), "
                f"test BLEU greedy {r['test_bleu_greedy']:.2f}",
                flush=True,
            )
    spread = noise(runs)
    print(table(runs, spread))
    report = {
        "machine": machine(),
        "fast": args.fast,
        "budget_minutes": args.minutes,
        "runs": runs,
        "noise": spread,
    }
    pathlib.Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
