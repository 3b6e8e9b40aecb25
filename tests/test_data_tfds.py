"""TFDS: the embedded builder works offline; TED is mocked or fails clearly."""

import tempfile
from unittest import mock

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import tf_transformer.data  # noqa: F401  (registers embedded_pt_en)
from tf_transformer.data import (
    TED, DatasetUnavailableError, corpus, load_dataset, manual_dir, prepare)
from tf_transformer.data.datasets import TED_ARCHIVE


@pytest.fixture(scope="module")
def data_dir():
    tfds.disable_progress_bar()
    with tempfile.TemporaryDirectory() as path:
        tfds.builder("embedded_pt_en", data_dir=path).download_and_prepare()
        yield path


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


def test_prepare_reports_what_it_did(data_dir):
    summary = prepare("embedded", data_dir=data_dir)
    assert summary["splits"] == corpus.SPLIT_SIZES
    assert summary["vocab_built"] is False
    assert summary["vocab_sizes"]["pt"] > summary["vocab_sizes"]["en"] > 500


def test_ted_goes_through_tfds_load(tmp_path):
    archive = manual_dir(tmp_path) / TED_ARCHIVE  # "supplied by hand"; TFDS itself is mocked
    archive.parent.mkdir(parents=True)
    archive.touch()
    with tfds.testing.mock_data(num_examples=4):
        ds = load_dataset(TED, split="train", data_dir=tmp_path)
        pairs = list(ds.take(4))
    assert len(pairs) == 4
    assert all(pt.dtype == en.dtype == tf.string for pt, en in pairs)


def test_ted_offline_says_how_to_supply_it(tmp_path):
    with pytest.raises(DatasetUnavailableError) as error:
        load_dataset(TED, split="train", data_dir=tmp_path)
    message = str(error.value)
    assert str(tmp_path / "downloads" / "manual") in message and TED_ARCHIVE in message
    assert "data_dir" in message and isinstance(error.value, RuntimeError)


def test_ted_failing_preparation_is_wrapped(tmp_path):
    archive = manual_dir(tmp_path) / TED_ARCHIVE
    archive.parent.mkdir(parents=True)
    archive.touch()
    offline = ConnectionError("Failed to establish a new connection: network is unreachable")
    with mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare", side_effect=offline):
        with pytest.raises(DatasetUnavailableError, match="downloads/manual") as error:
            load_dataset(TED, split="train", data_dir=tmp_path)
    assert error.value.__cause__ is offline


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("wmt14")
