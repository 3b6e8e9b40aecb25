"""Build one shared test artifact in a fresh process: ``python -m helpers.build NAME DIR [INPUT ...]``.

``helpers.shared.artifact`` runs this (from ``tests/``, under its lock); each recipe writes
``DIR`` and prints what a test may want to check about how it was made.
"""

from __future__ import annotations

import os
import pathlib
import sys

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)


def inference_run(out: pathlib.Path) -> None:
    from helpers.runs import train_inference_run

    train_inference_run(out)


def inference_export(out: pathlib.Path, run: pathlib.Path) -> None:
    from tf_transformer import cli

    status = cli.main(["export", "--run-dir", str(run), "--out", str(out / "pt_en")])
    sys.exit(status)


def course_runs(out: pathlib.Path) -> None:
    """The course's fast runs, exactly as a notebook in fast mode would train them."""
    os.environ["TF_TRANSFORMER_RUNS"] = str(out)
    os.environ["TF_TRANSFORMER_FAST"] = "1"
    from tf_transformer import course

    for name in sorted(course.RUNS):
        print(course.ensure_run(name))


RECIPES = {"inference_run": inference_run, "inference_export": inference_export, "course_runs": course_runs}

if __name__ == "__main__":
    name, out, *inputs = sys.argv[1:]
    RECIPES[name](pathlib.Path(out), *map(pathlib.Path, inputs))
