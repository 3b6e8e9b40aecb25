"""The course opens anywhere: a checkout, any Jupyter with the package pip-installed, Google Colab.

Every notebook's first code cell installs the package where it is missing and
does nothing where it is installed; no notebook or solution reaches into the
checkout (``..``); runs go where ``tf_transformer.course`` says; the committed
ablation table ships with the package; a version mismatch is explained, not fatal.
"""

import doctest
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import jupytext
import pytest

from tf_transformer import course

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))
import build  # noqa: E402

SOURCES = build.sources()


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_notebook_starts_with_the_install_cell(source):
    code = [c.source for c in jupytext.read(source).cells if c.cell_type == "code"]
    assert code[0] == build.INSTALL_CELL.rstrip("\n"), f"{source.name}: first code cell is not INSTALL_CELL"
    assert code[1].startswith("import tf_transformer")


def run_install_cell(tmp_path, env_extra=(), isolated=True):
    """Run the install cell in a fresh interpreter with a stand-in for pip that records its arguments.

    ``isolated``: ``python -S``, where ``tf_transformer`` cannot be imported (as in Colab).
    """
    fakes = tmp_path / "fakes" / "pip"
    fakes.mkdir(parents=True, exist_ok=True)
    (fakes / "__init__.py").write_text("")
    record = tmp_path / "pip_args.txt"
    recorder = (
        f"import os, sys\nopen({str(record)!r}, 'w').write(' '.join(sys.argv[1:]))\n"
        "if os.environ.get('FAKE_PIP_FAILS'):\n"
        "    sys.exit('Traceback (most recent call last):\\n  ...\\nERROR: Invalid requirement: x')\n"
    )
    (fakes / "__main__.py").write_text(recorder)
    env = {k: v for k, v in os.environ.items() if k not in ("TF_TRANSFORMER_SOURCE", "PYTHONPATH")}
    env.update(env_extra, PYTHONPATH=str(fakes.parent))
    flags = ["-S"] if isolated else []
    proc = subprocess.run(
        [sys.executable, *flags, "-c", build.INSTALL_CELL],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc, (record.read_text() if record.exists() else None)


def test_the_install_cell_does_nothing_where_the_package_is_installed(tmp_path):
    proc, pip_args = run_install_cell(tmp_path, {"TF_TRANSFORMER_SOURCE": "anything"}, isolated=False)
    assert proc.returncode == 0, proc.stderr
    assert pip_args is None and proc.stdout == ""


def test_the_install_cell_without_a_source_says_how_to_supply_one(tmp_path):
    proc, pip_args = run_install_cell(tmp_path)
    assert proc.returncode != 0 and pip_args is None
    message = proc.stderr.splitlines()[-1]
    assert message.startswith("RuntimeError: tf_transformer is not installed")
    assert "wheel" in message and "TF_TRANSFORMER_SOURCE" in message


def test_the_install_cell_installs_an_uploaded_wheel_or_the_named_source(tmp_path):
    for name in ("tf_transformer-0.9.0-py3-none-any.whl", "tf_transformer-0.10.0-py3-none-any.whl"):
        (tmp_path / name).write_bytes(b"")
    proc, pip_args = run_install_cell(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert pip_args == "install --quiet tf_transformer-0.10.0-py3-none-any.whl"  # by version, not name

    proc, pip_args = run_install_cell(tmp_path, {"TF_TRANSFORMER_SOURCE": "x", "FAKE_PIP_FAILS": "1"})
    assert proc.returncode != 0 and pip_args == "install --quiet x"
    assert proc.stderr.splitlines()[-1] == (
        "RuntimeError: pip could not install 'x': ERROR: Invalid requirement: x (TF_TRANSFORMER_SOURCE "
        "or the wheel?)"
    )

    proc, pip_args = run_install_cell(tmp_path, {"TF_TRANSFORMER_SOURCE": "git+https://example.org/x/y"})
    assert proc.returncode == 0, proc.stderr
    assert pip_args == "install --quiet git+https://example.org/x/y"  # the variable wins over a wheel


def test_no_notebook_or_solution_reaches_into_the_checkout():
    # Opened from a pip install or in Colab there is no "..": runs and results come from `course`.
    for path in [*SOURCES, *sorted((NOTEBOOKS / "solutions").glob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        found = re.findall(r"""Path\(\s*["']\.\.["']|["']\.\./""", text)
        assert not found, f"{path.relative_to(REPO)} reaches outside its folder: {found}"


def test_the_notebooks_share_one_show_and_one_fast_mode_switch():
    # One `show` (tf_transformer.course.show) and one reading of TF_TRANSFORMER_FAST
    # (course.fast_mode): a notebook that kept its own copy could drift from the others.
    for path in [*SOURCES, *sorted((NOTEBOOKS / "solutions").glob("*.py")), NOTEBOOKS / "build.py"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^def show\(", text, re.MULTILINE), f"{path.name} defines its own show"
        reads = re.search(r"^[^#\n]*environ(\.get\(|\[)\s*[\"']TF_TRANSFORMER_FAST", text, re.MULTILINE)
        assert not reads, f"{path.name} reads TF_TRANSFORMER_FAST itself: use course.fast_mode()"


def test_show_prints_the_current_source_outside_jupyter(capsys):
    from tf_transformer.course.show import show as show_function
    from tf_transformer.layers import causal_mask

    assert course.show is show_function
    course.show(causal_mask)
    assert capsys.readouterr().out.strip() == inspect.getsource(causal_mask).strip()


def test_runs_go_to_the_variable_the_checkout_or_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(course.RUNS_VARIABLE, raising=False)
    assert course.runs_root(NOTEBOOKS) == REPO / "runs"  # shared with `make demo` and the README
    assert course.runs_root(REPO) == REPO / "runs"
    assert course.runs_root(tmp_path) == tmp_path / "runs"  # Colab: /content/runs
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv(course.RUNS_VARIABLE, str(tmp_path / "afile"))
    with pytest.raises(ValueError, match=r"TF_TRANSFORMER_RUNS=.*afile is a file, not a folder"):
        course.runs_root()
    monkeypatch.delenv(course.RUNS_VARIABLE)
    stray = tmp_path / "notebooks"  # a folder named notebooks that is not a checkout's
    stray.mkdir()
    assert course.runs_root(stray) == stray / "runs"
    monkeypatch.setenv(course.RUNS_VARIABLE, str(tmp_path / "elsewhere"))
    assert course.runs_root(NOTEBOOKS) == tmp_path / "elsewhere"

    monkeypatch.setenv(course.FAST_VARIABLE, "1")
    assert course.run_dir("tutorial") == tmp_path / "elsewhere" / "fast" / "tutorial"
    assert course.recipe("tutorial")["preset"] == "tiny"
    monkeypatch.delenv(course.FAST_VARIABLE)
    assert course.run_dir("it_en_pt") == tmp_path / "elsewhere" / "it_en_pt"
    assert course.recipe("it_en_pt")["dataset"].reverse and "reverse" not in course.recipe("it_en_pt")
    with pytest.raises(KeyError, match="tutorial"):
        course.recipe("tutorail")


def test_ensure_run_trains_only_a_missing_or_unfinished_run(tmp_path, monkeypatch):
    import tf_transformer.training as training

    calls = []

    def fake_train(run_dir, **settings):
        calls.append((Path(run_dir), settings))
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        for name in ("run.json", "model.weights.h5"):
            (Path(run_dir) / name).write_text("{}")

    monkeypatch.setattr(training, "train", fake_train)
    monkeypatch.setenv(course.RUNS_VARIABLE, str(tmp_path))
    monkeypatch.setenv(course.FAST_VARIABLE, "1")
    path = course.ensure_run("tutorial")
    assert path == tmp_path / "fast" / "tutorial" and len(calls) == 1
    assert calls[0][1] == dict(course.recipe("tutorial"), seed=0, verbose=0)
    course.ensure_run("tutorial")
    assert len(calls) == 1, "a finished run is read, not trained again"
    (path / "model.weights.h5").unlink()  # interrupted before its final save: train resumes it
    course.ensure_run("tutorial")
    assert len(calls) == 2


def test_the_ablation_table_ships_with_the_package():
    report = course.ablation_report()
    assert report == __import__("json").loads((REPO / "benchmarks/results/ablations.json").read_text())
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    shipped = setuptools["package-data"]["tf_transformer._results"]
    results = (REPO / "benchmarks/results").iterdir()
    assert sorted(shipped) == sorted(p.name for p in results if p.name != "README.md")  # (its index)


def test_a_version_mismatch_is_explained_with_what_to_run():
    assert course.version_problems() == []  # this environment is the pinned one
    problems = course.version_problems({"python": "3.10.12", "tensorflow": "2.19.0", "keras": "3.8.0"})
    assert len(problems) == 2
    assert problems[0].startswith("Python 3.10.12") and "3.11" in problems[0]
    assert problems[1].startswith("TensorFlow 2.19.0") and '"tensorflow==2.21.*"' in problems[1]
    assert "restart the kernel" in problems[1]
    keras2 = course.version_problems({"python": "3.12.1", "tensorflow": "2.21.0", "keras": "2.15.0"})
    assert len(keras2) == 1 and "Keras 3" in keras2[0]


def test_build_gives_colab_links_for_a_github_repository():
    assert doctest.testmod(build, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
    links = build.colab_links("https://github.com/me/tf_transformer.git").splitlines()[2:]
    assert len(links) == len(SOURCES)
    assert all("colab.research.google.com/github/me/tf_transformer/blob/main/notebooks/" in r for r in links)
    with pytest.raises(ValueError, match="OWNER/REPO"):
        build.colab_links("https://gitlab.com/me/tf_transformer")


def test_notebook_6_quotes_the_bf16_measurements_of_the_docs():
    # Notebook 6 cites the measurements per machine kind (docs/performance.md, the home of dated
    # measurements); the page must still give them (the AMX one included), and the machine it
    # names must still be in the test-time history.
    performance = " ".join((REPO / "docs" / "performance.md").read_text(encoding="utf-8").split())
    assert "Intel Xeon (Sapphire Rapids) of the test-time history in [testing.md](testing.md)" in performance
    assert "bf16 is 1.20x faster than float32 there (AMX)" in performance
    history = (REPO / "docs" / "testing.md").read_text(encoding="utf-8")
    assert "Intel Xeon (Sapphire Rapids) | AVX-512, AMX-BF16" in history
    zen4_row = "| AMD EPYC Zen 4 (AVX-512, avx512_bf16; no AMX), 2026-12-07 |"
    assert zen4_row in performance  # the table it cites
    notebook = " ".join((NOTEBOOKS / "06_training.py").read_text(encoding="utf-8").replace("#", " ").split())
    assert (
        "The table in `docs/performance.md` gives what `benchmarks/train_throughput.py` measured on each "
        "machine kind" in notebook
    )
    # ... and the check that made auto pick bf16 on AVX-512 bfloat16, whose BLEU it quotes.
    assert "99.41 and 99.49 against 99.33 and 99.59" in notebook
    assert (
        "| bf16 | 0 | 1,200 | 1.87 | 99.41 |" in performance
        and "| float32 | 1 | 1,100 | 2.05 | 99.59 |" in (performance)
    )


# -- what the notebooks show of the library is the library ------------------------------------


def _imported_names(source: Path) -> dict:
    """``{name: (module, attribute or None)}`` for the notebook's ``tf_transformer`` imports."""
    import ast

    found = {}
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tf_transformer"):
            for alias in node.names:
                found[alias.asname or alias.name] = (node.module, alias.name)
    return found


def _resolve(expression: str, names: dict):
    head, *rest = expression.split(".")
    if head not in names:
        return None  # (the notebook's own function)
    module, attribute = names[head]
    found = importlib.import_module(module)
    try:
        found = getattr(found, attribute)
    except AttributeError:  # `from tf_transformer import probes`: a module
        found = importlib.import_module(f"{module}.{attribute}")
    for part in rest:
        found = getattr(found, part)
    return found


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_the_library_source_a_notebook_shows_is_the_current_source(source):
    """Every ``show(X)`` output, and every line printed from ``inspect.getsource(X)``, is X's source
    as it is now: a change to the library without a rebuild of the notebook fails here."""
    names = _imported_names(source)
    stale = []
    for cell in json.loads(source.with_suffix(".ipynb").read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        code = "".join(cell["source"])
        shown_names = re.findall(r"^show\(([\w.]+)\)\s*$", code, re.MULTILINE)
        data = [o.get("data", {}) for o in cell["outputs"]]
        outputs = ["".join(d["text/plain"]) for d in data if "text/plain" in d]
        for index, name in enumerate(shown_names):  # (one displayed output per show, in order)
            if (shown := _resolve(name, names)) is None:
                continue
            if index >= len(outputs) or outputs[index].strip() != inspect.getsource(shown).strip():
                stale.append(name)
        for match in re.finditer(r"inspect\.getsource\(([\w.]+)\)", code):
            if (shown := _resolve(match.group(1), names)) is None:
                continue
            printed = "".join(
                "".join(o.get("text", "")) for o in cell["outputs"] if o["output_type"] == "stream"
            )
            current = inspect.getsource(shown)
            if any(line.strip() and line not in current for line in printed.splitlines()):
                stale.append(match.group(1))
    assert not stale, f"{source.name} shows an old source of {stale}: rebuild it (python notebooks/build.py)"


# -- the paper's Table 1, measured (notebook 1) -------------------------------------------------


def test_measure_layers_gives_both_rows_of_table_1_at_each_length():
    from tf_transformer.course.complexity import crossover, layer_tensor_bytes, measure_layers

    rows = measure_layers([4, 16], d_model=8, num_heads=2, batch=1, repeats=1)
    assert [(r.layer, r.length) for r in rows] == [
        ("self-attention", 4),
        ("recurrent", 4),
        ("self-attention", 16),
        ("recurrent", 16),
    ]
    assert all(r.seconds > 0 for r in rows)
    attention, recurrent = rows[2], rows[3]
    assert (attention.sequential_ops, attention.path_length) == (1, 1)
    assert (recurrent.sequential_ops, recurrent.path_length) == (16, 15)
    assert (attention.operations, recurrent.operations) == (16 * 16 * 8, 16 * 8 * 8)
    # The attention weights grow with n², the recurrent state does not grow at all.
    assert attention.tensor_bytes == 4 * (2 * 16 * 16 + 4 * 16 * 8)
    assert recurrent.tensor_bytes == 4 * (16 * 8 + 8)
    # The paper's count: self-attention is the cheaper layer while n < d.
    assert crossover(rows, "operations") == 16
    with pytest.raises(ValueError, match="no layer named"):
        layer_tensor_bytes("convolutional", 4, 8, 2, 1)


def test_the_crossover_ignores_noise_at_short_lengths():
    from tf_transformer.course.complexity import LayerCost, crossover

    def row(layer, length, seconds):
        return LayerCost(layer, length, 8, seconds, 0, 0, 1, 1)

    times = {4: (2, 1), 8: (1, 2), 16: (3, 2), 32: (5, 2)}  # (attention, recurrent): noisy at 4
    rows = [
        row(layer, n, s)
        for n, pair in times.items()
        for layer, s in zip(["self-attention", "recurrent"], pair)
    ]
    assert crossover(rows) == 16
    assert crossover(rows[:4]) is None  # cheaper at the longest measured length: no crossover yet
