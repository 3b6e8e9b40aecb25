"""Where data lives: what ships with the package, and where it is written.

Two places, never mixed:

- **Shipped, read-only**: the embedded corpus and its vocabularies. In the
  repository they sit in the top-level ``data/`` folder (one copy in git);
  a wheel carries the same files as the package data ``tf_transformer/_data``
  (``pyproject.toml`` maps that package name onto ``data/``).
- **Written**: everything ``prepare`` makes (TFDS's prepared datasets,
  cleaned local corpora, learned vocabularies) goes under the TFDS data dir:
  ``data_dir=`` / ``--data-dir``, else ``$TFDS_DATA_DIR``, else
  ``~/tensorflow_datasets``. Never into the installed package or the checkout.
"""

from __future__ import annotations

import importlib.resources
import os
import pathlib

# The checkout's data/ folder, when this file runs from a checkout (editable install).
_CHECKOUT_DATA = pathlib.Path(__file__).resolve().parents[2] / "data"
# Our own folder inside the TFDS data dir, beside TFDS's datasets.
CACHE_NAME = "tf_transformer"


def embedded_dir() -> pathlib.Path:
    """The shipped data folder: ``embedded_pt_en/`` (corpus), ``vocab/``, ``README.md``.

    Returns:
        ``<site-packages>/tf_transformer/_data`` in an installed wheel, else the
        checkout's top-level ``data/``.

    Raises:
        FileNotFoundError: neither holds the corpus (a broken install).
    """
    installed = pathlib.Path(str(importlib.resources.files("tf_transformer") / "_data"))
    for candidate in (installed, _CHECKOUT_DATA):
        if (candidate / "embedded_pt_en").is_dir():
            return candidate
    raise FileNotFoundError(
        f"the embedded corpus is neither installed ({installed}) nor in a checkout "
        f"({_CHECKOUT_DATA}); reinstall tf_transformer"
    )


def embedded_corpus_dir() -> pathlib.Path:
    """``<shipped data>/embedded_pt_en``: one ``<split>.tsv.gz`` per split."""
    return embedded_dir() / "embedded_pt_en"


def embedded_vocab_dir() -> pathlib.Path:
    """``<shipped data>/vocab``: the committed ``pt.txt`` and ``en.txt``."""
    return embedded_dir() / "vocab"


def checkout_data_dir() -> pathlib.Path | None:
    """The checkout's ``data/`` (the corpus generator writes there), or ``None`` when installed."""
    return _CHECKOUT_DATA if (_CHECKOUT_DATA / "embedded_pt_en").is_dir() else None


def data_root(data_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """The TFDS data dir: ``data_dir``, else ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``.

    Read at call time (TFDS reads the variable once, at import), so that a
    test or a notebook can point it elsewhere.
    """
    chosen = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    return pathlib.Path(chosen).expanduser()


def cache_dir(data_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """``<data_root>/tf_transformer``: cleaned local corpora and learned vocabularies."""
    return data_root(data_dir) / CACHE_NAME
