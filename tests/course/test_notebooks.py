"""Every course notebook runs top to bottom in a fresh kernel (fast mode), and the
committed .ipynb matches its .py source and holds no error output."""

import json
import sys
from pathlib import Path

import jupytext
import pytest
from helpers.runs import runs_for

pytestmark = pytest.mark.independent  # the tests share no fixture

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))
import build  # noqa: E402

SOURCES = build.sources()


def test_there_is_a_course():
    assert len(SOURCES) >= 1


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_notebook_matches_source_and_has_outputs(source):
    committed = source.with_suffix(".ipynb")
    assert committed.exists(), f"run `make notebooks` to build {committed.name}"
    built = json.loads(committed.read_text())
    expected = jupytext.read(source)
    assert [
        c["source"] if isinstance(c["source"], str) else "".join(c["source"]) for c in built["cells"]
    ] == [c.source for c in expected.cells], f"{committed.name} is stale: run `make notebooks`"
    outputs = [o for c in built["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert outputs, "committed notebooks carry the outputs of a full run"
    assert not [o for o in outputs if o.get("output_type") == "error"]


@pytest.mark.slow  # a kernel each
@pytest.mark.shared("course_runs")  # notebooks 7, 9 and 10 load them
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_runs_in_fast_mode(source, monkeypatch, tmp_path):
    monkeypatch.setenv("TF_TRANSFORMER_FAST", "1")
    monkeypatch.setenv("TF_TRANSFORMER_RUNS", str(runs_for(source, tmp_path / "runs")))
    notebook = build.execute(source, timeout=900)
    text = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    for noise in ("oneDNN", "cuda_", "WARNING:tensorflow", "WARNING:absl"):
        assert noise not in text, f"TensorFlow log noise ({noise}) leaked into a notebook"


def test_the_docs_give_each_notebooks_full_run_time():
    # The table is `python notebooks/build.py --times`: rebuilding a notebook changes its time,
    # and docs/performance.md (the home of dated measurements, which the README links) must follow.
    performance = (NOTEBOOKS.parent / "docs" / "performance.md").read_text(encoding="utf-8")
    assert build.times_table() in performance, (
        "docs/performance.md's notebook times are stale: paste `build.py --times`"
    )


def test_each_notebook_is_a_declared_pair_that_jupytext_keeps_in_step(tmp_path):
    """notebooks/jupytext.toml pairs NN_name.py with NN_name.ipynb: an edit on the .py side reaches
    the .ipynb through `jupytext --sync`, outputs kept, and the .py comes back unchanged."""
    from jupytext.cli import jupytext as jupytext_cli

    name = "01_self_attention_by_hand"
    for path in (NOTEBOOKS / "jupytext.toml", NOTEBOOKS / f"{name}.py", NOTEBOOKS / f"{name}.ipynb"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    source = tmp_path / f"{name}.py"
    edited = source.read_text(encoding="utf-8").replace("by hand\n", "by hand, edited\n", 1)
    source.write_text(edited, encoding="utf-8")
    jupytext_cli(["--sync", "--quiet", str(tmp_path / f"{name}.ipynb")])
    synced = json.loads((tmp_path / f"{name}.ipynb").read_text(encoding="utf-8"))
    original = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
    title = "".join(synced["cells"][0]["source"]).splitlines()[0]
    assert title == "# 1. From RNNs to self-attention, by hand, edited"
    assert [c.get("outputs") for c in synced["cells"]] == [c.get("outputs") for c in original["cells"]]
    assert source.read_text(encoding="utf-8") == edited
