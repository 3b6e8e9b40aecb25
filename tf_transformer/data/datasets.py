"""``load_dataset``: (pt, en) string pairs from the embedded corpus or TED.

Example::

    from tf_transformer.data import load_dataset
    for pt, en in load_dataset("embedded", split="test").take(1):
        print(pt.numpy().decode(), "->", en.numpy().decode())

The embedded corpus (the default) ships in ``data/`` and never needs the
network. ``ted_hrlr_translate/pt_to_en`` (the TED talks corpus of the
TensorFlow tutorial) goes through plain ``tfds.load`` and works offline only
when its archive or its prepared files are already on disk; otherwise
:class:`DatasetUnavailableError` says how to supply them. This module never
starts a download.
"""

from __future__ import annotations

import pathlib

import tensorflow as tf
import tensorflow_datasets as tfds

from tf_transformer.data import tfds_embedded

EMBEDDED = "embedded"
EMBEDDED_TFDS_NAME = "embedded_pt_en"
TED = "ted_hrlr_translate/pt_to_en"
TED_ARCHIVE = "qi18naacl-dataset.tar.gz"
TED_ARCHIVE_URL = "http://www.phontron.com/data/qi18naacl-dataset.tar.gz"
DATASETS = (EMBEDDED, TED)


class DatasetUnavailableError(RuntimeError):
    """A dataset is neither prepared nor downloadable here (no network)."""


def _tfds_name(name: str) -> str:
    if name in (EMBEDDED, EMBEDDED_TFDS_NAME):
        return EMBEDDED_TFDS_NAME
    if name == TED or name.startswith("ted_hrlr_translate/"):
        return name
    raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")


def data_root(data_dir: str | pathlib.Path | None) -> pathlib.Path:
    """The TFDS data dir that ``tfds.load`` would use for ``data_dir``."""
    return pathlib.Path(data_dir or tfds.core.constants.DATA_DIR).expanduser()


def manual_dir(data_dir: str | pathlib.Path | None = None) -> pathlib.Path:
    """Where TFDS looks for archives supplied by hand: ``<data_dir>/downloads/manual``."""
    return data_root(data_dir) / "downloads" / "manual"


def load_dataset(name: str = EMBEDDED, split: str = "train",
                 data_dir: str | pathlib.Path | None = None) -> tf.data.Dataset:
    """``(pt, en)`` pairs of ``tf.string`` scalars for one split.

    Args:
        name: ``"embedded"`` (default) or ``"ted_hrlr_translate/pt_to_en"``.
        split: ``train``, ``validation``, ``test`` (and ``generalization``
            for the embedded corpus); TFDS slicing such as ``"train[:1%]"``
            works too.
        data_dir: the TFDS data dir; ``None`` means TFDS's default
            (``~/tensorflow_datasets`` or ``$TFDS_DATA_DIR``).

    Raises:
        DatasetUnavailableError: TED is neither prepared in ``data_dir`` nor
            supplied as an archive in ``<data_dir>/downloads/manual``.
    """
    tfds_name = _tfds_name(name)
    if tfds_name == EMBEDDED_TFDS_NAME:
        return tfds.load(tfds_name, split=split, data_dir=data_dir and str(data_dir),
                         as_supervised=True)
    _alias_importlib_resources()
    builder = tfds.builder(tfds_name, data_dir=data_dir and str(data_dir))
    manual = manual_dir(data_dir)
    if not builder.is_prepared() and not (manual / TED_ARCHIVE).exists():
        raise DatasetUnavailableError(_ted_help(tfds_name, data_dir, manual))
    try:
        return tfds.load(
            tfds_name, split=split, data_dir=data_dir and str(data_dir), as_supervised=True,
            download_and_prepare_kwargs={
                "download_config": tfds.download.DownloadConfig(
                    manual_dir=str(manual), try_download_gcs=False)})
    except Exception as error:  # TFDS raises many types; the cause stays attached
        raise DatasetUnavailableError(
            f"{_ted_help(tfds_name, data_dir, manual)}\nTFDS said: {error}") from error


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


def _ted_help(tfds_name: str, data_dir, manual: pathlib.Path) -> str:
    return (
        f"{tfds_name} is not prepared in {data_root(data_dir)} and there is no network "
        "to download it. Either\n"
        f"  1. copy the archive {TED_ARCHIVE} (from {TED_ARCHIVE_URL}) into {manual}/ "
        "and run again: TFDS prepares it from there without downloading; or\n"
        f"  2. pass data_dir= (or set TFDS_DATA_DIR) to a directory where {tfds_name} "
        "was already prepared on a machine with network; or\n"
        f"  3. use the embedded corpus: load_dataset('{EMBEDDED}').")
