"""Build the course notebooks: each ``NN_name.py`` (jupytext percent format) becomes ``NN_name.ipynb``.

The ``.py`` files are the source a reviewer reads and edits; the ``.ipynb``
files carry the outputs of a full run, so a reader sees real plots and
translations without running anything.

    python notebooks/build.py              # execute every notebook, full mode
    python notebooks/build.py 03 04        # only these
    TF_TRANSFORMER_FAST=1 python notebooks/build.py --check   # execute, write nothing

Every cell runs, in order, in a fresh kernel. Fast mode (``TF_TRANSFORMER_FAST=1``)
shrinks data and training inside the notebooks; it never skips a cell.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def sources(selected=()) -> list[Path]:
    paths = sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))
    return [p for p in paths if not selected or p.name[:2] in selected]


def execute(source: Path, timeout: int = 1800) -> nbformat.NotebookNode:
    """Run a notebook source top to bottom in a fresh kernel; raises on the first failing cell."""
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
    return notebook


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="two-digit notebook numbers to build (default: all)")
    parser.add_argument("--check", action="store_true", help="execute but do not write .ipynb files")
    args = parser.parse_args(argv)
    if os.environ.get("TF_TRANSFORMER_FAST") == "1" and not args.check:
        parser.error("committed notebooks carry full-run outputs: unset TF_TRANSFORMER_FAST or pass --check")
    for source in sources(args.only):
        start = time.perf_counter()
        notebook = execute(source)
        seconds = time.perf_counter() - start
        if not args.check:
            nbformat.write(notebook, source.with_suffix(".ipynb"))
        print(f"{source.name}: ran in {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
