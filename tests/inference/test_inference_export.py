"""The exported SavedModel, loaded the way servers load it: in fresh processes without tf_transformer."""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import pathlib
import re
import shlex
import subprocess
import sys

import pytest
import tensorflow as tf
from helpers.processes import child_env, loaded_translations
from helpers.runs import BAD_INPUTS, corpus_pairs, exported, trained_run_dir, trained_translator
from helpers.shared import build_log

from tf_transformer import cli
from tf_transformer.inference.export import ExportExistsError, export_translator, next_version, version_path

pytestmark = [pytest.mark.slow, pytest.mark.shared("inference_export")]  # fresh processes load it

SERVING_DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "decoding-and-serving.md"

# Bad input of every kind, invalid UTF-8 included, mixed with real sentences.
INPUTS = (
    [s.encode("utf-8") for s in BAD_INPUTS.values()]
    + [b"O gato \xff dorme.", b"\xc3"]
    + [pt.encode("utf-8") for pt, _ in corpus_pairs(count=4)]
)


@pytest.fixture(scope="module")
def export_dir():
    return exported()


def test_the_export_command_wrote_one_version_and_said_where(export_dir):
    # The session's export is `tf-transformer export --out <base>/pt_en` (helpers/build.py).
    base = export_dir.parent
    assert build_log("inference_export").startswith(f"SavedModel written to {base / '1'}\n")
    assert sorted(p.name for p in base.iterdir()) == ["1"]  # no temporary folder left behind


@pytest.fixture(scope="module")
def expected():
    translator = trained_translator()
    texts = tf.constant(INPUTS)
    return {"greedy": list(translator(texts).numpy()), "beam": list(translator(texts, beam_size=4).numpy())}


@pytest.fixture(scope="module")
def loaded(export_dir, tmp_path_factory):
    """Each loader's translations of ``INPUTS`` in a fresh process without our package."""
    return loaded_translations(export_dir, INPUTS, cwd=tmp_path_factory.mktemp("loaders"))


def test_tf2_loader_matches_translator(loaded, expected):
    assert loaded["tf2"] == expected
    assert loaded["tf2"]["greedy"][0] == b"" and all(loaded["tf2"]["greedy"][-4:])


def test_tf1_session_loader_matches_translator(loaded, expected):
    # What TensorFlow Serving and `saved_model_cli run` do.
    assert loaded["tf1"] == expected


def test_export_writes_numbered_versions_and_refuses_to_overwrite(export_dir, tmp_path, capsys):
    base = export_dir.parent
    before = {p: p.stat().st_mtime_ns for p in export_dir.rglob("*")}
    # An existing version: refused before the model is even loaded, with the next free number.
    run = ["export", "--run-dir", str(trained_run_dir()), "--out", str(base)]
    assert cli.main([*run, "--version", "1"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"tf-transformer export: error: {base / '1'} already exists; pass --overwrite to replace it, "
        f"or --version 2 to write the next free version.\n"
    )
    # A version folder given as the base: the message says what to pass instead.
    assert cli.main(["export", "--run-dir", str(trained_run_dir()), "--out", str(export_dir)]) == 2
    assert f"--out {base} --version 1" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in export_dir.rglob("*")} == before
    # The next version: after the highest number, whether or not the folders between exist.
    for name in ("1", "7", "notes", ".7.tmp-99"):
        (tmp_path / "m" / name).mkdir(parents=True)
    assert next_version(tmp_path / "m") == 8 and next_version(tmp_path / "new") == 1
    assert version_path(tmp_path / "m") == tmp_path / "m" / "8"
    assert version_path(tmp_path / "m", 7, overwrite=True) == tmp_path / "m" / "7"
    with pytest.raises(ExportExistsError, match="version 8, the next free one"):
        version_path(tmp_path / "m", 7)
    (tmp_path / "old" / "saved_model.pb").parent.mkdir()
    (tmp_path / "old" / "saved_model.pb").write_bytes(b"")  # an export from before versions
    with pytest.raises(ValueError, match="holds a SavedModel itself"):
        version_path(tmp_path / "old")
    # The Python API writes exactly the folder it is given, and refuses one that is not empty.
    with pytest.raises(ExportExistsError, match="pass overwrite=True"):
        export_translator(trained_translator(), export_dir)


def _documented_command(marker: str) -> list[str]:
    """docs/decoding-and-serving.md's shell command that contains ``marker`` (its continuation lines
    joined), as argv."""
    text = SERVING_DOC.read_text("utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if marker in line]
    assert len(lines) == 1, lines
    return shlex.split(lines[0])


def test_saved_model_cli_command_of_the_docs(export_dir, tmp_path):
    """`saved_model_cli run` with tensorflow-text's ops loaded first: the command the docs give."""
    argv = _documented_command("saved_model_cli import main")
    assert argv[0] == "python" and "exports/pt_en/1" in argv
    argv = [sys.executable, *[str(export_dir) if a == "exports/pt_en/1" else a for a in argv[1:]]]
    proc = subprocess.run(argv, cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sentence = re.search(r"text=\[\"(.*?)\"\]", " ".join(argv)).group(1)
    beam = re.search(r"beam_size=(\d+)", " ".join(argv)).group(1)
    want = trained_translator().translate([sentence], beam_size=int(beam))[0]
    assert proc.stdout.splitlines() == ["Result for output key translation:", repr(want.encode()).join("[]")]
