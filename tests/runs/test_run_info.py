"""``run.json`` as a ``RunInfo``: written and read back equal, older formats upgraded, damage named.

Nothing here trains or loads TensorFlow Text's ops: the files are written by hand.
"""

import json

import pytest

from tf_transformer import TransformerConfig, files
from tf_transformer import runs as rd
from tf_transformer.data import DatasetSpec

MODEL = TransformerConfig.from_preset("tiny", input_vocab_size=30, target_vocab_size=20, max_length=16)


def vocabularies(folder):
    """Two vocabulary files to copy into a run (their content is not read here)."""
    folder.mkdir()
    for side in ("source", "target"):
        (folder / f"{side}.txt").write_text("[PAD]\n[UNK]\n[START]\n[END]\nolá\n", encoding="utf-8")
    return {side: folder / f"{side}.txt" for side in ("source", "target")}


def test_what_write_run_info_writes_reads_back_equal(tmp_path):
    data = {**DatasetSpec().to_dict(), "source_language": "pt", "target_language": "en"}
    data["tokenizer"] = "wordpiece"
    train = {"preset": "tiny", "data_dir": str(tmp_path / "data"), "warmup_steps": 4000}
    written = rd.write_run_info(
        tmp_path / "run",
        config=MODEL,
        data=data,
        max_length=12,
        vocab_files=vocabularies(tmp_path / "vocab"),
        train=train,
    )
    info = rd.read_run_info(tmp_path / "run")
    assert info == written and isinstance(info, rd.RunInfo)
    assert info.model == MODEL and info.max_length == 12 and info.train == train
    assert (info.source_language, info.target_language, info.tokenizer) == ("pt", "en", "wordpiece")
    assert info.vocab == {"source": "vocab/source.txt", "target": "vocab/target.txt"}
    assert info.vocab_verified and info.vocab_digest("source") == files.sha256(
        tmp_path / "run/vocab/source.txt"
    )
    assert info.prepared_corpus is None  # (a TFDS dataset: the embedded corpus)
    assert info.data_dir == train["data_dir"] and info.spec == DatasetSpec()
    # The file on disk is what to_dict gives: the same format as before RunInfo.
    on_disk = json.loads((tmp_path / "run" / rd.RUN_FILE).read_text())
    assert on_disk == info.to_dict() and on_disk["format"] == rd.FORMAT == 2
    assert set(on_disk) == {
        "format",
        "model",
        "data",
        "max_length",
        "vocab",
        "vocab_sha256",
        "train",
        "tf_transformer_version",
    }
    assert rd.RunInfo.from_dict(on_disk) == info
    with pytest.raises(AttributeError):
        info.max_length = 3  # frozen


def test_a_format_1_run_json_is_upgraded(tmp_path):
    old = {
        "model": MODEL.to_dict(),
        "vocab": {"pt": "vocab/pt.txt", "en": "vocab/en.txt"},
        "dataset": "embedded",
        "train": {"preset": "tiny"},
    }  # (no "format", no "max_length", no digests: what the first version wrote)
    (tmp_path / rd.RUN_FILE).write_text(json.dumps(old))
    info = rd.read_run_info(tmp_path)
    assert (info.source_language, info.target_language) == ("pt", "en")
    assert info.vocab == {"source": "vocab/pt.txt", "target": "vocab/en.txt"}
    assert info.spec == DatasetSpec() and info.max_length == MODEL.max_length == 16
    assert not info.vocab_verified and info.tokenizer is None
    assert rd.RunInfo.from_dict(old) == info
    assert info.to_dict()["format"] == 2 and "dataset" not in info.to_dict()


def test_a_malformed_run_json_is_refused_with_a_clear_message(tmp_path):
    entries = rd.RunInfo(
        model=MODEL,
        data={"name": "embedded", "source_language": "pt", "target_language": "en"},
        vocab={"source": "vocab/source.txt", "target": "vocab/target.txt"},
        max_length=16,
    ).to_dict()
    del entries["vocab"]["target"]
    (tmp_path / rd.RUN_FILE).write_text(json.dumps(entries))
    with pytest.raises(rd.DamagedRunError) as err:
        rd.read_run_info(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / rd.RUN_FILE} is damaged (its vocab entry needs 'source' and 'target' as "
        f"strings); restore it from a copy of {tmp_path}, or train a new run into another --run-dir."
    )
    with pytest.raises(ValueError, match=r"^run.json is malformed \(its vocab entry needs 'source'"):
        rd.RunInfo.from_dict(entries)
    with pytest.raises(ValueError, match=r"^run.json is malformed \(its train entry is not an object\)"):
        rd.RunInfo.from_dict({**entries, "vocab": {"source": "a", "target": "b"}, "train": [1]})
    with pytest.raises(ValueError, match="has format 3, newer than this tf_transformer reads"):
        rd.RunInfo.from_dict({**entries, "format": 3})
