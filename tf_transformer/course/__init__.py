"""What the course notebooks share: the fast-mode switch, ``show`` (a library object's source on
the page), where runs live, the runs they train, the committed ablation table, and the version
check.

The notebooks open from a checkout (``make lab``), from any folder of a Jupyter
where the package is pip-installed, and in Google Colab; nothing here assumes
the checkout. Runs live in:

1. ``$TF_TRANSFORMER_RUNS``, when it is set;
2. the checkout's ``runs/``, when the notebook runs in a checkout's
   ``notebooks/`` folder (shared with ``make demo`` and the README's commands);
3. otherwise ``runs/`` in the current folder (``/content/runs`` in Colab).

Example:
    >>> from tf_transformer import course
    >>> sorted(course.RUNS)
    ['it_en_pt', 'real_en_pt_BR', 'tutorial']
    >>> course.recipe("tutorial", fast=False)["max_steps"]
    1000
"""

from __future__ import annotations

import importlib.resources
import json
import os
import pathlib
import platform
import sys

from tf_transformer import recipes
from tf_transformer.course.show import show  # noqa: F401  (the notebooks' ``show``)

FAST_VARIABLE = "TF_TRANSFORMER_FAST"
RUNS_VARIABLE = "TF_TRANSFORMER_RUNS"

# The checkout's committed benchmark results, when this file runs from a checkout.
_CHECKOUT_RESULTS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "results"

# The course's runs: each name's recipe (tf_transformer.recipes) and corpus, in full mode (what
# the committed notebooks show) and in fast mode (what CI runs, TF_TRANSFORMER_FAST=1), as
# (recipe name, its overrides). A name's full run is the same model on every machine where its
# recipe counts steps (``course``); ``ensure_run`` trains each from seed 0.
RUNS = {
    # Notebook 6 trains it; notebooks 7 and 9 read it (pt→en).
    "tutorial": dict(full=("course", {}), fast=("course-fast", {})),
    # Notebook 10: the same recipe on the reversed corpus (en→pt), for the "it" lesson. (Its fast
    # run keeps the full recipe's 400-step warm-up.)
    "it_en_pt": dict(
        full=("course", dict(reverse=True)), fast=("course-fast", dict(warmup_steps=400, reverse=True))
    ),
    # Notebook 11: real text, the machine's gettext catalogs (en→pt_BR), with the real-text recipe:
    # a time budget (28 minutes), not a number of steps, so the full run's length depends on the
    # machine; benchmarks/real_text.py writes the same run.
    "real_en_pt_BR": dict(
        full=("real-text", dict(dataset="gettext:pt_BR")), fast=("course-fast", dict(dataset="gettext:pt_BR"))
    ),
}

# What the course was written and measured with; another version runs, but may differ.
EXPECTED = {"python": (3, 11), "tensorflow": "2.21.", "keras": "3."}


def fast_mode() -> bool:
    """True when ``TF_TRANSFORMER_FAST=1``: smaller data and training, every cell still runs."""
    return os.environ.get(FAST_VARIABLE) == "1"


def runs_root(cwd: str | os.PathLike | None = None) -> pathlib.Path:
    """The folder that holds the course's runs (see the module docstring for the order)."""
    if os.environ.get(RUNS_VARIABLE):
        root = pathlib.Path(os.environ[RUNS_VARIABLE]).expanduser()
        if root.exists() and not root.is_dir():
            raise ValueError(
                f"{RUNS_VARIABLE}={os.environ[RUNS_VARIABLE]} is a file, not a folder: point it at a "
                f"folder for the course's runs, or unset it"
            )
        return root
    here = pathlib.Path(cwd) if cwd is not None else pathlib.Path.cwd()
    # Without an explicit cwd the path stays relative to the current folder, as a learner would
    # type it: what the notebooks print then names no machine's absolute paths.
    base = here if cwd is not None else pathlib.Path()
    if here.name == "notebooks" and (here.parent / "tf_transformer" / "__init__.py").is_file():
        return (base.parent if cwd is not None else pathlib.Path("..")) / "runs"
    return base / "runs"


def _fast(fast: bool | None) -> bool:
    return fast_mode() if fast is None else fast


def _run(name: str) -> dict:
    if name not in RUNS:
        raise KeyError(f"no course run named {name!r}; the course has {sorted(RUNS)}")
    return RUNS[name]


def recipe(name: str, fast: bool | None = None) -> dict:
    """The ``train`` keyword arguments of the course's run ``name`` (a fresh copy): its recipe
    of :mod:`tf_transformer.recipes` with its corpus.

    ``reverse=True`` becomes ``dataset=DatasetSpec(reverse=True)``. ``fast`` defaults
    to :func:`fast_mode`. (Not ``recipes.recipe``, which takes a recipe's name: notebooks 6,
    10 and 11 call this one by its name.)
    """
    recipe_name, overrides = _run(name)["fast" if _fast(fast) else "full"]
    settings = recipes.recipe(recipe_name, **overrides)
    reverse = settings.pop("reverse", False)
    if reverse or "dataset" in settings:
        from tf_transformer.data import DatasetSpec

        settings["dataset"] = DatasetSpec.parse(settings.get("dataset", "embedded"), reverse=reverse)
    return settings


def run_dir(name: str, fast: bool | None = None) -> pathlib.Path:
    """Where the course's run ``name`` lives: ``<runs>/name``, or ``<runs>/fast/name`` in fast mode."""
    _run(name)  # an unknown name fails here, with the known ones
    return runs_root() / ("fast" if _fast(fast) else "") / name


def ensure_run(name: str, verbose: int = 0) -> pathlib.Path:
    """The course's run ``name``, trained now with its recipe if its folder holds no run yet
    (its corpus prepared first, where it is a local one, such as the gettext catalogs).

    An interrupted training resumes where it stopped (``train`` resumes a run
    directory). Returns the run directory, for ``load_run``.
    """
    path = run_dir(name)
    if not all((path / file).exists() for file in ("run.json", "model.weights.h5")):
        from tf_transformer.data import prepare
        from tf_transformer.training import train

        settings = recipe(name)
        if "dataset" in settings and settings["dataset"].is_local:  # (its vocabularies are learned)
            prepare(settings["dataset"])
        train(run_dir=path, seed=0, verbose=verbose, **settings)
    return path


def results_dir() -> pathlib.Path:
    """The committed benchmark results: package data when installed, ``benchmarks/results`` in a checkout."""
    installed = pathlib.Path(str(importlib.resources.files("tf_transformer") / "_results"))
    for candidate in (installed, _CHECKOUT_RESULTS):
        if (candidate / "ablations.json").is_file():
            return candidate
    raise FileNotFoundError(
        f"the committed benchmark results are neither installed ({installed}) nor in a checkout "
        f"({_CHECKOUT_RESULTS}); reinstall tf_transformer"
    )


def ablation_report() -> dict:
    """``benchmarks/ablations.py``'s committed table (notebook 9), as its JSON."""
    return json.loads((results_dir() / "ablations.json").read_text(encoding="utf-8"))


def version_problems(found: dict | None = None) -> list[str]:
    """What differs from the versions the course was written for, each with what to do.

    ``found`` maps ``python``, ``tensorflow`` and ``keras`` to version strings
    (default: this interpreter's). An empty list means all is as expected.
    """
    if found is None:
        import keras
        import tensorflow as tf

        found = dict(python=platform.python_version(), tensorflow=tf.__version__, keras=keras.__version__)
    problems = []
    python = tuple(int(part) for part in found["python"].split(".")[:2])
    if python < EXPECTED["python"]:
        problems.append(
            f"Python {found['python']}: the course needs 3.11 or newer. Start the notebook in a "
            "Python 3.11+ environment (in Colab: Runtime > Change runtime type)."
        )
    if not found["tensorflow"].startswith(EXPECTED["tensorflow"]):
        problems.append(
            f"TensorFlow {found['tensorflow']}: the course was written for 2.21; other versions run but "
            "their numbers and messages can differ. To match: "
            f'`{sys.executable} -m pip install "tensorflow==2.21.*" "tensorflow-text==2.21.*"`, '
            "then restart the kernel."
        )
    if not found["keras"].startswith(EXPECTED["keras"]):
        problems.append(
            f"Keras {found['keras']}: the course needs Keras 3 (Keras 2 passes masks implicitly and "
            f'saves differently). Run `{sys.executable} -m pip install "keras>=3.15,<4"`, then restart '
            "the kernel."
        )
    return problems
