"""``load_dataset``: (source, target) string pairs from any corpus a spec names.

Example::

    from tf_transformer.data import load_dataset
    for source, target in load_dataset("embedded", split="test").take(1):
        print(source.numpy().decode(), "->", target.numpy().decode())

- The embedded corpus (the default) ships with the package and never needs
  the network.
- A TFDS translation dataset (``ted_hrlr_translate/pt_to_en``,
  ``wmt14_translate/de-en``, ...) goes through TFDS's ordinary download path:
  its mirror of prepared datasets first, else the original files, with its
  progress bar; once, into the TFDS data dir. Without a network it fails
  within seconds with :class:`DatasetUnavailableError`, which says how to
  supply the files by hand.
- Local files (``tsv:PATH``, ``text:SRC,TGT``) are cleaned and carved once by
  :mod:`~tf_transformer.data.local`.
"""

from __future__ import annotations

import os
import pathlib
import socket
import threading
import urllib.parse

import tensorflow as tf
import tensorflow_datasets as tfds

from tf_transformer.data import local, tfds_embedded  # noqa: F401  (registers embedded_pt_en)
from tf_transformer.data._paths import data_root
from tf_transformer.data._tfds import tfds_builder
from tf_transformer.data.spec import EMBEDDED, DatasetSpec, DatasetUnavailableError

TED_ARCHIVE = "qi18naacl-dataset.tar.gz"
TED_ARCHIVE_URL = "http://www.phontron.com/data/qi18naacl-dataset.tar.gz"
# The Internet Archive keeps copies of the TED archive; this address picks the nearest one.
TED_ARCHIVE_COPY = f"https://web.archive.org/web/2020/{TED_ARCHIVE_URL}"
# Where TFDS fetches prepared datasets from; reachable means "online" for TFDS.
NETWORK_PROBE = ("storage.googleapis.com", 443)
NETWORK_PROBE_SECONDS = 3.0


def load_dataset(
    spec: DatasetSpec | str = EMBEDDED, split: str = "train", *, data_dir: str | os.PathLike | None = None
) -> tf.data.Dataset:
    """``(source, target)`` pairs of ``tf.string`` scalars for one split.

    Args:
        spec: a :class:`~tf_transformer.data.DatasetSpec` or its string:
            ``"embedded"`` (default), a TFDS translation dataset name,
            ``"tsv:PATH"`` or ``"text:SRC_PATH,TGT_PATH"``. Its ``reverse``
            swaps the two sides.
        split: ``train``, ``validation``, ``test`` (and ``generalization``
            for the embedded corpus). TFDS datasets also take TFDS's slicing
            (``"train[:1%]"``).
        data_dir: the TFDS data dir, where prepared data goes (``None``:
            ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).

    Returns:
        A ``tf.data.Dataset`` of ``(source, target)`` scalar strings.

    Raises:
        DatasetUnavailableError: a TFDS dataset is not prepared and cannot be
            downloaded (no network, or the download failed).
        ValueError: an unknown dataset or split.
        FileNotFoundError: a local file is missing.
    """
    spec = DatasetSpec.parse(spec)
    if spec.kind == "embedded":
        builder = tfds_embedded.prepared_builder(str(data_root(data_dir)))  # current with data/'s files
        pairs = builder.as_dataset(split=split, as_supervised=True)
    elif spec.kind == "tfds":
        pairs = _load_tfds(spec, split, data_dir)
    else:
        pairs = local.load_local(spec, split, data_dir)
    if spec.reverse:
        pairs = pairs.map(lambda source, target: (target, source))
    return pairs


def manual_dir(data_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """Where TFDS looks for files supplied by hand: ``<data_dir>/downloads/manual``."""
    return data_root(data_dir) / "downloads" / "manual"


def network_available(address: tuple[str, int] | None = None, timeout: float = NETWORK_PROBE_SECONDS) -> bool:
    """Whether a TCP connection to TFDS's download host opens within ``timeout`` seconds.

    Behind an HTTPS proxy (``$HTTPS_PROXY``) the proxy is probed instead. The
    probe runs in a daemon thread, because a name lookup without a network can
    block far longer than any socket timeout.
    """
    if address is None:
        proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
        parsed = urllib.parse.urlsplit(proxy) if proxy else None
        address = (parsed.hostname, parsed.port or 443) if parsed and parsed.hostname else NETWORK_PROBE
    answer: list[bool] = []

    def probe():
        try:
            with socket.create_connection(address, timeout=timeout):
                answer.append(True)
        except Exception:  # whatever stops the probe, TFDS would not get through either
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True, name="tf_transformer-network-probe")
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])


def _load_tfds(spec: DatasetSpec, split: str, data_dir) -> tf.data.Dataset:
    builder = tfds_builder(spec.name, data_dir)
    if not builder.is_prepared():
        _download_and_prepare(builder, spec.name, data_dir)
    return builder.as_dataset(split=split, as_supervised=True)


def _download_and_prepare(builder: tfds.core.DatasetBuilder, name: str, data_dir) -> None:
    manual = manual_dir(data_dir)
    if name.startswith("ted_hrlr_translate"):
        supplied = (manual / TED_ARCHIVE).is_file()
    else:
        supplied = manual.is_dir() and any(manual.iterdir())
    online = network_available()
    if not online and not supplied:
        raise DatasetUnavailableError(offline_help(name, data_dir, reason="there is no network"))
    # Online: TFDS's ordinary path, its mirror of prepared data first. Offline with
    # files supplied by hand: skip the mirror, which would only wait for a timeout.
    config = tfds.download.DownloadConfig(manual_dir=str(manual), try_download_gcs=online)
    try:
        builder.download_and_prepare(download_config=config)
    except Exception as error:  # TFDS raises many types; the cause stays attached
        reason = (
            "the download or preparation failed"
            if online
            else "there is no network, and preparing from the files supplied by hand failed"
        )
        raise DatasetUnavailableError(
            f"{offline_help(name, data_dir, reason=reason)}\nTFDS said: {error}"
        ) from error


def offline_help(name: str, data_dir=None, *, reason: str = "there is no network") -> str:
    """What to do when TFDS dataset ``name`` is not prepared and cannot be downloaded."""
    root, manual = data_root(data_dir), manual_dir(data_dir)
    if name.startswith("ted_hrlr_translate"):
        by_hand = (
            f"copy the archive {TED_ARCHIVE} into {manual}/ (keep its name) and run again: "
            "TFDS prepares it from there without the network. The archive was published at "
            f"{TED_ARCHIVE_URL}; if that host does not answer, web archives keep public "
            f"copies, e.g. {TED_ARCHIVE_COPY}"
        )
    else:
        base = name.split("/")[0].split(":")[0]
        by_hand = (
            f"put the files TFDS would download into {manual}/ and run again (the dataset's "
            f"page lists them: https://www.tensorflow.org/datasets/catalog/{base})"
        )
    return (
        f"{name} is not prepared in {root}, and TFDS cannot download it: {reason}. Any one of "
        "these works:\n"
        "  1. run the same command again with a network: TFDS downloads the dataset (from its "
        f"mirror of prepared datasets, else from the original files) and prepares it once, in {root};\n"
        f"  2. {by_hand};\n"
        "  3. point --data-dir (data_dir=, or $TFDS_DATA_DIR) at a TFDS data dir where "
        f"{name} is already prepared, e.g. one copied from a machine with a network;\n"
        f"  4. use the embedded corpus (--dataset {EMBEDDED}) or your own files "
        "(--dataset tsv:PATH or text:SRC_PATH,TGT_PATH)."
    )
