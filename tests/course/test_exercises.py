"""Every course notebook from 1 on ends with exercises, and their worked solutions run.

The exercises are the notebook's last section, ``## Exercises``, with two to
four numbered items, each labelled by its kind (**By hand.**, **By code.** or
**By experiment.**). The worked solutions live apart, out of the learner's
way, in ``notebooks/solutions/NN_name.py`` (the notebook's own name): a
script with one ``# %% Exercise k`` cell per exercise that works the answer
out and asserts it, so that a change to the library or the notebook that makes
an answer false fails here. The scripts run in fast mode, like the notebooks.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
from helpers.runs import runs_for

pytestmark = pytest.mark.independent  # the tests share no fixture

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
COURSE = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.py") if p.name[:2] != "00")
KINDS = ("By hand.", "By code.", "By experiment.")


def exercises(source):
    """The numbered items of the notebook's last markdown cell, which must be its exercises."""
    cells = [c for c in jupytext.read(source).cells if c.cell_type == "markdown"]
    last = cells[-1].source
    assert last.startswith("## Exercises"), f"{source.name} does not end with '## Exercises'"
    return re.findall(r"^\d+\. \*\*(.+?)\*\*", last, re.M)


@pytest.mark.parametrize("source", COURSE, ids=lambda p: p.stem)
def test_each_notebook_ends_with_two_to_four_exercises_and_points_to_their_solutions(source):
    kinds = exercises(source)
    assert 2 <= len(kinds) <= 4, f"{source.name}: {len(kinds)} exercises"
    assert set(kinds) <= set(KINDS), f"{source.name}: unknown kinds {set(kinds) - set(KINDS)}"
    solution = SOLUTIONS / source.name
    assert solution.exists(), f"no worked solutions for {source.name} in {SOLUTIONS}"
    assert f"solutions/{source.name}" in jupytext.read(source).cells[-1].source
    cells = re.findall(r"^# %% Exercise (\d+)", solution.read_text(encoding="utf-8"), re.M)
    assert cells == [str(k) for k in range(1, len(kinds) + 1)], f"{solution.name}: cells {cells}"


@pytest.mark.slow  # a fresh process each
@pytest.mark.shared("course_runs")  # the solutions of 9 and 10 load them
@pytest.mark.parametrize("source", COURSE, ids=lambda p: p.stem)
def test_worked_solutions_run_and_their_checks_hold(source, tmp_path):
    solution = SOLUTIONS / source.name
    runs = runs_for(solution, tmp_path / "runs")
    env = dict(os.environ, TF_TRANSFORMER_FAST="1", MPLBACKEND="Agg", TF_TRANSFORMER_RUNS=str(runs))
    proc = subprocess.run(
        [sys.executable, str(solution)], cwd=NOTEBOOKS, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for noise in ("oneDNN", "cuda_", "WARNING:tensorflow", "WARNING:absl"):
        assert noise not in proc.stdout + proc.stderr, f"TensorFlow log noise ({noise}) in {solution.name}"
