"""Build the course notebooks: each ``NN_name.py`` (jupytext percent format) becomes ``NN_name.ipynb``.

The ``.py`` files are the source a reviewer reads and edits; the ``.ipynb``
files carry the outputs of a full run, so a reader sees real plots and
translations without running anything.

    python notebooks/build.py              # execute every notebook, full mode
    python notebooks/build.py 03 04        # only these
    python notebooks/build.py --prose 03   # text edits only: keep the committed outputs
    python notebooks/build.py --times      # each committed notebook's full-run time, as a table
    python notebooks/build.py --colab https://github.com/OWNER/REPO   # "Open in Colab" links
    TF_TRANSFORMER_FAST=1 python notebooks/build.py --check   # execute, write nothing

Every cell runs, in order, in a fresh kernel. Fast mode (``TF_TRANSFORMER_FAST=1``)
shrinks data and training inside the notebooks; it never skips a cell.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

# Every notebook's first code cell, word for word (tests/course/test_course.py checks): it installs
# the course where the package is missing (Google Colab, a bare Jupyter), and does nothing
# where it is installed, so every committed output was made with it doing nothing.
INSTALL_CELL = """\
# In Google Colab, or a Jupyter where the course is not installed, this cell installs it
# (README: "Opening the course elsewhere"). Where tf_transformer is installed, it does nothing.
import importlib.util

if importlib.util.find_spec("tf_transformer") is None:
    import glob
    import os
    import re
    import subprocess
    import sys

    # TF_TRANSFORMER_SOURCE: a wheel, a checkout folder or git+https://...; else the newest wheel
    # beside this notebook (by version, not by name: 0.10.0 is newer than 0.9.0)
    wheels = glob.glob("tf_transformer-*.whl")
    source = os.environ.get("TF_TRANSFORMER_SOURCE") or max(
        wheels, key=lambda w: [int(n) for n in re.findall(r"\\d+", w.split("-")[1])], default=""
    )
    if not source:
        raise RuntimeError(
            "tf_transformer is not installed. Upload its wheel beside this notebook (Colab: the Files "
            "panel; a checkout builds it with `pip wheel --no-deps -w dist .`), or run "
            "`%env TF_TRANSFORMER_SOURCE=git+https://github.com/OWNER/REPO` with the course "
            "repository's address; then run this cell again."
        )
    command = [sys.executable, "-m", "pip", "install", "--quiet", source]
    pip = subprocess.run(command, capture_output=True, text=True)
    if pip.returncode:  # one line, not pip's traceback
        said = (pip.stderr.strip().splitlines() or ["(nothing)"])[-1]
        raise RuntimeError(f"pip could not install {source!r}: {said} (TF_TRANSFORMER_SOURCE or the wheel?)")
    importlib.invalidate_caches()
"""


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


def with_new_prose(source: Path) -> nbformat.NotebookNode:
    """The committed notebook with its markdown taken from ``source``; its code must be unchanged.

    A prose fix does not change what any cell prints, so the outputs of the
    last full run stay true; anything else needs a real run.
    """
    built = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    notebook = jupytext.read(source)
    old_code = [c for c in built.cells if c.cell_type == "code"]
    new_code = [c for c in notebook.cells if c.cell_type == "code"]
    if [c.source for c in old_code] != [c.source for c in new_code]:
        raise SystemExit(f"{source.name}: code cells changed since the last build; run it in full instead")
    old_text = [c for c in built.cells if c.cell_type != "code"]
    new_text = [c for c in notebook.cells if c.cell_type != "code"]
    if len(old_text) == len(new_text):  # the same cells, edited: keep their ids
        for old, new in zip(old_text, new_text):
            new.id = old.id
    code = iter(old_code)  # the run's cells as they are: outputs, ids, timings
    notebook.cells = [next(code) if c.cell_type == "code" else c for c in notebook.cells]
    notebook.metadata = built.metadata
    return notebook


def run_seconds(notebook: nbformat.NotebookNode) -> float:
    """Wall time of a built notebook's run: from its first code cell's start to its last cell's reply.

    Read from the timestamps Jupyter stores in every executed cell, so it is
    the time of the run whose outputs the notebook carries.
    """
    stamps = [c.metadata.get("execution", {}) for c in notebook.cells if c.cell_type == "code"]
    stamps = [s for s in stamps if "iopub.execute_input" in s and "shell.execute_reply" in s]
    if not stamps:
        raise ValueError("no executed cells")
    first = datetime.fromisoformat(stamps[0]["iopub.execute_input"].replace("Z", "+00:00"))
    last = datetime.fromisoformat(stamps[-1]["shell.execute_reply"].replace("Z", "+00:00"))
    return (last - first).total_seconds()


def times_table() -> str:
    """A Markdown table of every committed notebook's full-run time."""
    rows = ["| notebook | full run |", "| --- | ---: |"]
    for source in sources():
        if not source.with_suffix(".ipynb").exists():
            rows.append(f"| {source.stem} | not built |")
            continue
        seconds = run_seconds(nbformat.read(source.with_suffix(".ipynb"), as_version=4))
        shown = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
        rows.append(f"| {source.stem} | {shown} |")
    return "\n".join(rows)


def colab_links(repository: str, branch: str = "main") -> str:
    """A Markdown table linking each notebook to Google Colab, for the repository at ``repository``.

    >>> print(colab_links("https://github.com/me/tft").splitlines()[2])
    | 00_setup | [open](https://colab.research.google.com/github/me/tft/blob/main/notebooks/00_setup.ipynb) |
    """
    prefix = "https://github.com/"
    if not repository.startswith(prefix) or repository.rstrip("/").count("/") != 4:
        raise ValueError(f"expected https://github.com/OWNER/REPO, got {repository!r}")
    path = repository[len(prefix) :].rstrip("/").removesuffix(".git")
    rows = ["| notebook | open in Colab |", "| --- | --- |"]
    for source in sources():
        url = f"https://colab.research.google.com/github/{path}/blob/{branch}/notebooks/{source.stem}.ipynb"
        rows.append(f"| {source.stem} | [open]({url}) |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="two-digit notebook numbers to build (default: all)")
    parser.add_argument("--check", action="store_true", help="execute but do not write .ipynb files")
    parser.add_argument(
        "--prose", action="store_true", help="markdown edits only: keep the committed outputs, run nothing"
    )
    parser.add_argument("--times", action="store_true", help="print each committed notebook's full-run time")
    parser.add_argument("--colab", metavar="URL", help="print Colab links for the GitHub repository at URL")
    args = parser.parse_args(argv)
    if args.times:
        print(times_table())
        return 0
    if args.colab:
        print(colab_links(args.colab))
        return 0
    from tf_transformer import course  # (here: --times and --colab need no TensorFlow)

    if course.fast_mode() and not args.check:
        parser.error(
            f"committed notebooks carry full-run outputs: unset {course.FAST_VARIABLE} or pass --check"
        )
    for source in sources(args.only):
        if args.prose:
            nbformat.write(with_new_prose(source), source.with_suffix(".ipynb"))
            print(f"{source.name}: prose updated, outputs kept", flush=True)
            continue
        start = time.perf_counter()
        notebook = execute(source)
        seconds = time.perf_counter() - start
        if not args.check:
            nbformat.write(notebook, source.with_suffix(".ipynb"))
        print(f"{source.name}: ran in {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
