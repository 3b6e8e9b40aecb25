"""TFDS: the embedded builder works offline; online datasets go through TFDS's ordinary
download path (mocked here: no test ever touches the network) or fail within seconds."""

import gzip
import socket
import tempfile
import time
from unittest import mock

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tf_transformer.constants import EMBEDDED_SPLITS
from tf_transformer.corpus import corpus
from tf_transformer.data import (
    TED,
    DatasetSpec,
    DatasetUnavailableError,
    datasets,
    load_dataset,
    manual_dir,
    prepare,
    tfds_embedded,
    vocab_files,
)
from tf_transformer.data.datasets import TED_ARCHIVE, TED_ARCHIVE_COPY


@pytest.fixture(scope="module")
def data_dir():
    tfds.disable_progress_bar()
    with tempfile.TemporaryDirectory() as path:
        tfds_embedded.prepared_builder(path)
        yield path


@pytest.fixture
def no_network(monkeypatch):
    """Every connection and name lookup fails at once, as on a machine with no network."""

    def unreachable(*args, **kwargs):
        raise OSError(101, "Network is unreachable (no network in tests)")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(socket, "getaddrinfo", unreachable)


@pytest.fixture
def online(monkeypatch):
    """The probe says "online"; TFDS itself is mocked in the tests that use this."""
    monkeypatch.setattr(datasets, "network_available", lambda *args, **kwargs: True)


def supply_ted_archive(data_dir):
    archive = manual_dir(data_dir) / TED_ARCHIVE  # "supplied by hand"; TFDS itself is mocked
    archive.parent.mkdir(parents=True)
    archive.touch()


def test_builder_is_registered():
    assert "embedded_pt_en" in tfds.list_builders()
    info = tfds.builder("embedded_pt_en").info
    assert info.supervised_keys == ("pt", "en")
    assert isinstance(info.features, tfds.features.Translation)


def test_tfds_load_offline(data_dir):
    builder = tfds.builder("embedded_pt_en", data_dir=data_dir)
    assert {s: i.num_examples for s, i in builder.info.splits.items()} == corpus.SPLIT_SIZES
    ds = tfds.load("embedded_pt_en", split="test", as_supervised=True, data_dir=data_dir)
    assert ds.element_spec == (tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string))
    pairs = {(pt.decode(), en.decode()) for pt, en in ds.as_numpy_iterator()}
    assert pairs == set(corpus.read("test"))


def test_load_dataset_embedded(data_dir):
    ds = load_dataset("embedded", split="generalization", data_dir=data_dir)
    pt, en = next(iter(ds))
    assert pt.dtype == en.dtype == tf.string
    assert sum(1 for _ in ds) == corpus.SPLIT_SIZES["generalization"]


def test_reversed_embedded_corpus_is_english_to_portuguese(data_dir):
    forward = list(load_dataset("embedded", "test", data_dir=data_dir).take(3).as_numpy_iterator())
    spec = DatasetSpec.parse("embedded", reverse=True)
    backward = list(load_dataset(spec, "test", data_dir=data_dir).take(3).as_numpy_iterator())
    assert backward == [(en, pt) for pt, en in forward]
    assert backward[0][0].decode() in {en for _, en in corpus.read("test")}


def test_prepare_reports_what_it_did(data_dir):
    summary = prepare("embedded", data_dir=data_dir)
    assert summary["splits"] == corpus.SPLIT_SIZES
    assert summary["vocab_built"] is False and summary["skipped"] == {}
    assert summary["languages"] == {"source": "pt", "target": "en"}
    assert summary["vocab_sizes"]["source"] > summary["vocab_sizes"]["target"] > 500
    assert summary["round_trip_split"] == "validation" and summary["round_trip_sentences"] == 2000
    print("embedded round trip on validation:", summary["round_trip"])
    assert min(summary["round_trip"].values()) >= 0.99


@pytest.mark.slow  # learns vocabularies from the whole corpus
def test_rebuilding_the_embedded_vocabularies_writes_into_the_data_dir_only(data_dir):
    # After test_prepare_reports_what_it_did: from here on, data_dir holds learned vocabularies.
    shipped = vocab_files("embedded")
    before = {side: (path.read_bytes(), path.stat().st_mtime_ns) for side, path in shipped.items()}
    summary = prepare("embedded", data_dir=data_dir, rebuild_vocab=True)
    learned = vocab_files("embedded", data_dir=data_dir)
    assert summary["vocab_built"] and summary["vocab"] == {s: str(p) for s, p in learned.items()}
    assert all(str(p).startswith(str(data_dir)) for p in learned.values())
    for side, path in shipped.items():
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before[side]  # untouched
        assert learned[side].read_bytes() == before[side][0]  # and learned again identically


def test_tfds_dataset_goes_through_the_ordinary_download_path(tmp_path, online):
    configs = []

    def download_and_prepare(self, *args, download_config=None, **kwargs):
        configs.append(download_config)

    with (
        tfds.testing.mock_data(num_examples=4),
        mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare),
    ):
        pairs = list(load_dataset(TED, split="train", data_dir=tmp_path).take(4))
        reverse = list(load_dataset(DatasetSpec.parse(TED, reverse=True), "train", data_dir=tmp_path))
    assert len(pairs) == 4 and all(pt.dtype == en.dtype == tf.string for pt, en in pairs)
    assert [(en.numpy(), pt.numpy()) for pt, en in pairs] == [(s.numpy(), t.numpy()) for s, t in reverse]
    # TFDS's own path: its mirror of prepared data first (try_download_gcs), then the original files.
    assert configs and configs[0].try_download_gcs is True
    assert configs[0].manual_dir == str(tmp_path / "downloads" / "manual")


def test_prepare_learns_a_tfds_datasets_vocabularies_into_the_data_dir(tmp_path, online):
    with tfds.testing.mock_data(num_examples=20):
        summary = prepare(TED, data_dir=tmp_path, vocab_size=200)
    assert summary["vocab_built"] and summary["languages"] == {"source": "pt", "target": "en"}
    vocab_dir = tmp_path / "tf_transformer" / "tfds" / "ted_hrlr_translate_pt_to_en" / "vocab"
    assert summary["tokenizer"] == "sentencepiece"  # any corpus but the embedded one
    assert summary["vocab"] == {"source": str(vocab_dir / "pt.model"), "target": str(vocab_dir / "en.model")}
    assert set(summary["splits"]) == {"train", "validation", "test"}
    assert set(summary["round_trip"]) == {"source", "target"}


def test_offline_tfds_dataset_fails_within_seconds_and_says_what_to_do(tmp_path, no_network):
    start = time.monotonic()
    with pytest.raises(DatasetUnavailableError) as error:
        load_dataset(TED, split="train", data_dir=tmp_path)
    seconds = time.monotonic() - start
    message = str(error.value)
    print(f"offline message after {seconds:.2f} s:\n{message}")
    assert seconds < datasets.NETWORK_PROBE_SECONDS + 5  # no download attempt, no long timeout
    assert "no network" in message and isinstance(error.value, RuntimeError)
    assert str(tmp_path / "downloads" / "manual") in message and TED_ARCHIVE in message
    assert TED_ARCHIVE_COPY in message and "web.archive.org" in message
    assert "--data-dir" in message and "TFDS_DATA_DIR" in message
    assert not (tmp_path / "ted_hrlr_translate").exists()


def test_the_network_probe_gives_up_after_its_timeout(monkeypatch):
    # A name lookup without a network can hang much longer than any socket timeout.
    def hang(*args, **kwargs):
        time.sleep(5)
        raise OSError("name lookup timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.monotonic()
    assert datasets.network_available(timeout=0.5) is False
    assert time.monotonic() - start < 5


def test_offline_with_the_archive_supplied_skips_the_mirror(tmp_path, no_network):
    supply_ted_archive(tmp_path)
    configs = []

    def download_and_prepare(self, *args, download_config=None, **kwargs):
        configs.append(download_config)

    with (
        tfds.testing.mock_data(num_examples=2),
        mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare),
    ):
        assert len(list(load_dataset(TED, split="train", data_dir=tmp_path))) == 2
    assert configs[0].try_download_gcs is False


def test_a_failing_preparation_is_wrapped(tmp_path, no_network):
    supply_ted_archive(tmp_path)
    broken = ValueError("not a gzip archive")
    with mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare", side_effect=broken):
        with pytest.raises(DatasetUnavailableError, match="downloads/manual") as error:
            load_dataset(TED, split="train", data_dir=tmp_path)
    assert error.value.__cause__ is broken and "not a gzip archive" in str(error.value)


def test_other_tfds_datasets_get_their_own_help(tmp_path, no_network):
    with pytest.raises(DatasetUnavailableError, match="catalog/wmt14_translate") as error:
        load_dataset("wmt14_translate/de-en", split="validation", data_dir=tmp_path)
    assert DatasetSpec.parse("wmt14_translate/de-en").languages == ("de", "en")
    assert TED_ARCHIVE not in str(error.value)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset 'wmt14'"):
        load_dataset("wmt14")
    with pytest.raises(ValueError, match="unknown dataset"):
        _ = DatasetSpec.parse("ted_hrlr_translate/xx_to_yy").languages
    # A TFDS dataset that is not a translation: said so, before any download advice.
    with pytest.raises(ValueError, match=r"mnist is not a translation dataset: .*image \(Image\)"):
        _ = DatasetSpec.parse("mnist").languages


def test_a_changed_embedded_corpus_is_prepared_again(tmp_path, monkeypatch, capsys):
    """The prepared TFRecords remember the files they came from (their SHA-256)."""
    source = tmp_path / "corpus"
    source.mkdir()

    def write(pairs_per_split):
        for split in EMBEDDED_SPLITS:
            lines = "".join(f"Frase {i}.\tSentence {i}.\n" for i in range(pairs_per_split))
            (source / f"{split}.tsv.gz").write_bytes(gzip.compress(lines.encode()))

    def count():
        return sum(1 for _ in load_dataset("embedded", "test", data_dir=tmp_path / "tfds"))

    monkeypatch.setattr(tfds_embedded.EmbeddedPtEn, "SOURCE_DIR", source)
    write(3)
    assert count() == 3
    assert count() == 3 and "preparing again" not in capsys.readouterr().out  # reused while current
    write(5)  # the corpus changes (regenerated, edited by hand)
    assert count() == 5
    assert "files changed since" in capsys.readouterr().out
