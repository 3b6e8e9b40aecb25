"""Installed, not checked out: build the wheel, install it into a fresh virtual
environment, and use it from an unrelated directory.

The fresh environment reuses this one's packages (TensorFlow and the rest) through
a plain path in a ``.pth`` file: that path is added to ``sys.path`` but its own
``.pth`` files are not run, so the editable install of the checkout stays out of
sight and only the wheel's ``tf_transformer`` can be imported.

The helpers (:func:`build_wheel`, :func:`make_venv`, :class:`Installed`) are meant
for more checks through the wheel (train, evaluate, translate, export).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a wheel, a virtual environment, its commands

REPO = Path(__file__).resolve().parents[2]
# What a source distribution holds: everything the build reads.
BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "tf_transformer", "data", "benchmarks/results")


def build_wheel(dest: Path) -> Path:
    """Build the wheel from a copy of the sources (a build writes ``build/`` and an
    ``egg-info`` beside the sources it reads, which must not land in the checkout)."""
    source = dest / "source"
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name,
                source / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
            )
        elif (REPO / name).exists():
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-cache-dir",
            "--quiet",
            "--wheel-dir",
            str(dest / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = (dest / "dist").glob("tf_transformer-*.whl")
    return wheel


@dataclasses.dataclass
class Installed:
    """A fresh virtual environment with the wheel installed, and a place to run it from."""

    root: Path
    workdir: Path  # an unrelated directory to run commands from
    home: Path  # $HOME, so that nothing escapes into the real one
    data_dir: Path  # $TFDS_DATA_DIR: where prepared data and learned vocabularies go

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        (site,) = (self.root / "lib").glob("python3*/site-packages")
        return site

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return {
            **env,
            "HOME": str(self.home),
            "TFDS_DATA_DIR": str(self.data_dir),
            "PYTHONNOUSERSITE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }

    def run(self, *args: str | Path, timeout: float = 300) -> str:
        """Run a command of the environment (``python`` or a console script) in ``workdir``."""
        program = args[0] if Path(args[0]).is_absolute() else self.root / "bin" / args[0]
        result = subprocess.run(
            [str(program), *map(str, args[1:])],
            cwd=self.workdir,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def python_code(self, code: str, timeout: float = 300) -> str:
        return self.run("python", "-c", textwrap.dedent(code), timeout=timeout)


def make_venv(root: Path, wheel: Path) -> Installed:
    """A ``--without-pip`` venv that sees this environment's packages, with ``wheel`` installed."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    installed = Installed(root, root.parent / "elsewhere", root.parent / "home", root.parent / "tfds")
    for folder in (installed.workdir, installed.home, installed.data_dir):
        folder.mkdir()
    reuse = Path(sysconfig.get_paths()["purelib"])
    (installed.site_packages / "reuse_test_environment.pth").write_text(f"{reuse}\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(installed.python),
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return installed


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder``: relative path -> (size, mtime)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    start = time.monotonic()
    tmp = tmp_path_factory.mktemp("wheel")
    env = make_venv(tmp / "venv", build_wheel(tmp / "build"))
    print(f"wheel built and installed in {time.monotonic() - start:.1f} s")
    return env


def test_the_installed_package_works_from_anywhere_and_writes_only_to_the_data_dir(installed):
    start = time.monotonic()
    site = installed.site_packages
    before_site, before_data = snapshot(site), snapshot(REPO / "data")
    before_repo = set(os.listdir(REPO))

    out = installed.run("python", "-m", "tf_transformer", "prepare")
    print(out)
    assert "validation" in out and "100,000 pairs" in out and "round trip" in out
    assert f"vocabulary  wordpiece, found in {site / 'tf_transformer' / '_data' / 'vocab'}" in out
    # The console script, on the reversed corpus: en -> pt from the same shipped files.
    out = installed.run("tf-transformer", "prepare", "--reverse")
    assert "(en -> pt, reversed)" in out

    found = installed.python_code("""
        import tf_transformer
        from tf_transformer.layers import Encoder
        from tf_transformer.data import _paths, load_dataset, load_tokenizers
        pairs = list(load_dataset("embedded", "test").as_numpy_iterator())
        tokenizers = load_tokenizers()
        print(tf_transformer.__file__, _paths.embedded_dir(), len(pairs))
        print(tokenizers.source.get_vocab_path().numpy().decode())
        print(tokenizers.en.detokenize(tokenizers.en.tokenize([pairs[0][1]])).numpy()[0] == pairs[0][1])
        from tf_transformer import course  # what the notebooks read, in Colab or any Jupyter
        print(course.results_dir(), len(course.ablation_report()["rows"]) > 0, course.runs_root().resolve())
    """).split()
    package = site / "tf_transformer"
    assert found == [
        str(package / "__init__.py"),
        str(package / "_data"),
        "2000",
        str(package / "_data" / "vocab" / "pt.txt"),
        "True",
        str(package / "_results"),
        "True",
        str(installed.workdir / "runs"),
    ]

    # TFDS prepared the corpus in the data dir; nothing went into site-packages, the
    # checkout, or the real home directory.
    assert (installed.data_dir / "embedded_pt_en").is_dir()
    assert snapshot(site) == before_site and not (site / "data").exists()
    assert snapshot(REPO / "data") == before_data and set(os.listdir(REPO)) <= before_repo | {".pytest_cache"}
    assert not (installed.home / "tensorflow_datasets").exists()
    print(f"commands through the wheel: {time.monotonic() - start:.1f} s")


def test_the_installed_package_ships_the_attention_pages(installed):
    """The pages' files are package data: the view's template, the one viewer, the serving page."""
    package = installed.site_packages / "tf_transformer"
    viewer = [package / "viz" / name for name in ("attention_viewer.js", "attention_viewer.css")]
    for path in [package / "viz" / "attention.html", package / "serving" / "page.html", *viewer]:
        assert path.is_file(), f"the wheel lacks {path.relative_to(installed.site_packages)}"
    found = installed.python_code("""
        from tf_transformer.serving.server import VIEWER_FILES, read_page
        from tf_transformer.viz import attention_view
        pages = attention_view(["a"], encoder=[[[[1.0]]]]).html, read_page()
        print(*(all(path.read_text("utf-8") in page for path in VIEWER_FILES) for page in pages))
        print(*(str(path) for path in VIEWER_FILES))
    """).split()
    assert found == ["True", "True", *map(str, viewer[::-1])]


def test_the_installed_command_trains_evaluates_translates_and_exports(installed):
    """The whole command line through the wheel, from an unrelated directory (tiny, brief)."""
    start = time.monotonic()
    run_dir = installed.workdir / "runs" / "tiny"
    # fmt: off
    installed.run("tf-transformer", "train", "--preset", "tiny", "--run-dir", run_dir,
                  "--max-steps", "30", "--train-examples", "2000", "--validation-examples", "100",
                  "--batch-tokens", "1024", "--max-length", "32", "--seed", "1", "--verbose", "0")
    out = installed.run("tf-transformer", "evaluate", "--run-dir", run_dir, "--limit", "20")
    assert "BLEU" in out and (run_dir / "metrics.json").is_file()
    out = installed.run("tf-transformer", "translate", "--run-dir", run_dir, "O gato dorme.")
    assert out.strip()
    export = installed.workdir / "exports" / "tiny" / "1"  # TF Serving's layout: BASE/VERSION
    installed.run("tf-transformer", "export", "--run-dir", run_dir, "--out", export.parent)
    # fmt: on
    assert (export / "saved_model.pb").is_file()
    assert not (installed.site_packages / "runs").exists()
    print(f"train, evaluate, translate and export through the wheel: {time.monotonic() - start:.1f} s")
