"""Cold start of ``tf-transformer translate``: one sentence, a fresh process each time.

Runs the command alternately from this checkout and from a baseline commit
(checked out into a temporary git worktree, put first on ``PYTHONPATH``), so
that both see the same machine load, and prints each time, the medians and
their ratio. Everything a user waits for is inside: Python's start, importing
TensorFlow, reading the run directory, building the model, loading its
weights, translating and printing.

    python benchmarks/cold_start.py --run-dir runs/tutorial            # against BASELINE
    python benchmarks/cold_start.py --baseline HEAD~5 --repeats 5

The run directory is any trained run (notebook 6 trains ``runs/tutorial``;
``tf-transformer train --preset tiny --max-steps 20 --run-dir runs/tiny`` makes
a small one in a minute).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The last commit before the cold-start work of 2026-11-27 (explicit layer builds, lazy
# tokenizer traces, no sacreBLEU import, no dropout calls while decoding).
BASELINE = "01a4b2b"
SENTENCE = "O gato dorme."


def one_start(source_root: pathlib.Path, run_dir: pathlib.Path) -> tuple[float, str]:
    """Seconds for one ``translate`` in a fresh process importing the package from ``source_root``."""
    env = {**os.environ, "PYTHONPATH": str(source_root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "tf_transformer", "translate", "--run-dir", str(run_dir), SENTENCE]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"translate from {source_root} failed:\n{done.stderr[-2000:]}")
    return seconds, done.stdout.strip()


def _precision():
    """``tf_transformer.training.precision`` read as a file: importing the package here would load
    TensorFlow into this process and its files into the page cache, warming the cold starts."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("precision", ROOT / "tf_transformer/training/precision.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=str(ROOT / "runs" / "tutorial"), help="a trained run directory")
    parser.add_argument("--baseline", default=BASELINE, help=f"commit to compare with (default {BASELINE})")
    parser.add_argument("--repeats", type=int, default=3, help="cold starts of each (default 3)")
    args = parser.parse_args(argv)
    print(f"machine: {_precision().describe_machine()}", flush=True)
    run_dir = pathlib.Path(args.run_dir).resolve()
    if not (run_dir / "run.json").is_file():
        raise SystemExit(f"{run_dir} is not a trained run directory; see this script's docstring.")
    with tempfile.TemporaryDirectory(prefix="cold_start_") as scratch:
        baseline = pathlib.Path(scratch) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(baseline), args.baseline],
            check=True,
        )
        try:
            times = {"baseline": [], "this tree": []}
            for i in range(args.repeats):
                for name, root in (("baseline", baseline), ("this tree", ROOT)):
                    seconds, output = one_start(root, run_dir)
                    times[name].append(seconds)
                    print(f"{i + 1}. {name:9s} {seconds:6.2f} s  -> {output}", flush=True)
        finally:
            remove = ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)]
            subprocess.run(remove, check=False)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"\nmachine load (1 min) at the end: {os.getloadavg()[0]:.2f}")
    for name, values in times.items():
        print(f"{name:9s} median {medians[name]:.2f} s  (min {min(values):.2f}, max {max(values):.2f})")
    print(f"baseline / this tree: {medians['baseline'] / medians['this tree']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
