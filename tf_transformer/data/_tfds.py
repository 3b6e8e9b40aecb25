"""TFDS's builders by name, read from TFDS's code only (no download, no network).

Its own module so that :mod:`~tf_transformer.data.spec` (which asks a TFDS dataset for its
languages) stands on it without importing the loaders (:mod:`~tf_transformer.data.datasets`,
which stand on ``spec``): the data package has no import circle.
"""

from __future__ import annotations

import os

import tensorflow_datasets as tfds

from tf_transformer.data._paths import data_root

TED = "ted_hrlr_translate/pt_to_en"  # TensorFlow's tutorial's corpus


def tfds_builder(name: str, data_dir: str | os.PathLike | None = None) -> tfds.core.DatasetBuilder:
    """TFDS's builder for ``name`` (reads code only: no download, no network).

    Raises:
        ValueError: TFDS has no such dataset or config.
    """
    _alias_importlib_resources()
    try:
        return tfds.builder(name, data_dir=str(data_root(data_dir)))
    except ValueError as error:  # DatasetNotFoundError, or an unknown config
        first_line = str(error).strip().splitlines()[0]
        raise ValueError(
            f"unknown dataset {name!r}: it is not 'embedded', 'tsv:PATH', 'text:SRC_PATH,TGT_PATH' "
            f"or a TFDS translation dataset such as {TED!r} (TFDS says: {first_line})"
        ) from error


def _alias_importlib_resources() -> None:
    """TFDS 4.9.10 imports the ``importlib_resources`` backport when it prepares
    a built-in dataset, but declares it only for Python < 3.9. The standard
    library's ``importlib.resources`` has what it needs (Python >= 3.11)."""
    try:
        import importlib_resources  # noqa: F401
    except ImportError:
        import importlib.resources
        import importlib.resources.abc  # noqa: F401
        import sys

        sys.modules["importlib_resources"] = importlib.resources
