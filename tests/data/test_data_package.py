"""Packaging of the data: pyproject names every package, the shipped files are package
data, and the data code finds them from a checkout (an installed wheel: test_wheel.py)."""

import tomllib
from pathlib import Path

from tf_transformer.data import _paths

REPO = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_pyproject_lists_every_package():
    found = {
        ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "tf_transformer").rglob("__init__.py")
    }
    listed = set(SETUPTOOLS["packages"])
    mapped = set(SETUPTOOLS["package-dir"])  # data-only packages, folders outside tf_transformer/
    assert listed - mapped == found, (
        "pyproject.toml [tool.setuptools] packages must name every package: "
        f"add {sorted(found - listed)}, remove {sorted(listed - found - mapped)}"
    )


def test_the_shipped_files_are_package_data():
    assert SETUPTOOLS["package-dir"] == {
        "tf_transformer._data": "data",
        "tf_transformer._results": "benchmarks/results",
    }
    shipped = {
        p.relative_to(REPO / "data").as_posix()
        for glob in SETUPTOOLS["package-data"]["tf_transformer._data"]
        for p in (REPO / "data").glob(glob)
    }
    needed = {
        p.relative_to(REPO / "data").as_posix()
        for p in [*_paths.embedded_corpus_dir().glob("*.tsv.gz"), *_paths.embedded_vocab_dir().glob("*.txt")]
    }
    assert needed and needed | {"README.md"} == shipped


def test_a_checkout_reads_its_own_data_folder(monkeypatch, tmp_path):
    assert _paths.embedded_dir() == REPO / "data" == _paths.checkout_data_dir()
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    assert _paths.data_root() == tmp_path and _paths.cache_dir() == tmp_path / "tf_transformer"
    assert _paths.data_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("TFDS_DATA_DIR")
    assert _paths.data_root() == Path("~/tensorflow_datasets").expanduser()
