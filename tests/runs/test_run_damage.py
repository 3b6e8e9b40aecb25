"""Damaged run directories: one line that names the file and says what to do, never a traceback.

Each test copies the shared trained run (``helpers.runs.trained_run_dir``) and damages the copy.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import dataclasses
import json
import os
import random
import shutil
import signal

import numpy as np
import pytest

from helpers.runs import trained_run_dir
from tf_transformer import Transformer, TransformerConfig, cli, files
from tf_transformer import runs as rd
from tf_transformer.check import check_run
from tf_transformer.constants import RESERVED_TOKENS
from tf_transformer.runs import DamagedRunError, load_run, read_run_info

pytestmark = pytest.mark.shared("inference_run")  # the session's trained run


@pytest.fixture
def run(tmp_path):
    """A copy of the trained run, with a latest checkpoint (the same weights) beside model.weights.h5."""
    path = tmp_path / "run"
    shutil.copytree(trained_run_dir(), path)
    (path / rd.CHECKPOINT_DIR).mkdir()
    shutil.copyfile(path / rd.WEIGHTS_FILE, path / rd.LATEST_WEIGHTS)
    return path


def error_line(capsys) -> str:
    """The one line ``tf-transformer`` printed on stderr."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_damaged_weights_name_an_intact_copy_and_it_can_be_used(run, capsys):
    whole = (run / rd.WEIGHTS_FILE).read_bytes()
    (run / rd.WEIGHTS_FILE).write_bytes(whole[: len(whole) // 3])
    assert cli.main(["translate", "--run-dir", str(run), "O gato dorme."]) == 2
    assert error_line(capsys) == (
        f"tf-transformer translate: error: {run / rd.WEIGHTS_FILE} is damaged (truncated: "
        f"{len(whole) // 3} of {len(whole)} bytes); checkpoints/latest.weights.h5 looks intact: "
        f"rerun with --weights latest.\n"
    )
    assert cli.main(["translate", "--run-dir", str(run), "--weights", "latest", "O gato dorme."]) == 0
    assert capsys.readouterr().out.strip()


def test_weights_that_are_garbage_do_not_fit_or_hold_nans(run, tmp_path):
    config = read_run_info(run).model
    model = Transformer(config)
    model.build()
    (run / rd.WEIGHTS_FILE).write_bytes(b"garbage" * 100)
    with pytest.raises(
        DamagedRunError, match=r"model.weights.h5 is damaged \(not an HDF5 file\); checkpoints/"
    ):
        rd.load_run_weights(model, run / rd.WEIGHTS_FILE, run)
    model.final_layer.kernel.assign(np.full(model.final_layer.kernel.shape, np.nan, "float32"))
    files.save_weights(model, run / rd.LATEST_WEIGHTS)
    with pytest.raises(
        DamagedRunError, match="latest.weights.h5 holds NaN or infinite values.*no other weights"
    ):
        rd.load_run_weights(model, run / rd.LATEST_WEIGHTS, run)
    other = Transformer(TransformerConfig.from_dict({**config.to_dict(), "target_vocab_size": 500}))
    other.build()
    files.save_weights(other, tmp_path / "other.weights.h5")
    with pytest.raises(
        DamagedRunError, match=r"other.weights.h5 does not fit the model in run.json \(2 layers"
    ):
        rd.load_run_weights(model, tmp_path / "other.weights.h5", run)
    with pytest.raises(ValueError, match="--weights takes best, latest, backup or the path of a .weights.h5"):
        load_run(run, weights=str(run / rd.MODEL_FILE))


def test_missing_weights_point_to_the_ones_there_are(run):
    (run / rd.LATEST_WEIGHTS).unlink()
    with pytest.raises(
        FileNotFoundError, match="no 'latest' weights .* model.weights.h5 exists: rerun without"
    ):
        load_run(run, weights="latest")
    (run / rd.BACKUP_DIR).mkdir()
    (run / rd.WEIGHTS_FILE).rename(run / rd.BACKUP_WEIGHTS)  # (a weights file with optimizer state)
    with pytest.raises(
        FileNotFoundError, match="backup/state.weights.h5 exists: rerun with --weights backup"
    ):
        load_run(run)
    assert load_run(run, weights="backup").weights_file == run / rd.BACKUP_WEIGHTS
    # check: a finished run (model.keras is there) without model.weights.h5 is damaged, not unfinished.
    missing = {r.item: r for r in check_run(run)}[rd.WEIGHTS_FILE]
    assert (
        missing.ok is False and "is missing, though training finished (model.keras is there)" in missing.text
    )


# A well-formed run.json (no training needed to damage it).
INFO = {
    "format": rd.FORMAT,
    "model": TransformerConfig.from_preset("tiny", input_vocab_size=40, target_vocab_size=40).to_dict(),
    "data": {"name": "embedded", "source_language": "pt", "target_language": "en"},
    "max_length": 32,
    "vocab": {"source": "vocab/source.txt", "target": "vocab/target.txt"},
}


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"\xff\xfe\x00\x81 binary", "it is not UTF-8 text"),
        (b'{"model": ', "not valid JSON: "),
        (b"[1, 2]", "a JSON list, not an object"),
        (
            {"model": {**INFO["model"], "num_layers": "x"}},
            "its model entry is malformed: TransformerConfig.num_",
        ),
        ({"model": {"num_layers": 2}}, "its model entry is malformed: TransformerConfig.__init__() missing"),
        ({"vocab": {"source": "vocab/source.txt"}}, "its vocab entry needs 'source' and 'target'"),
        ({"data": None}, "its data entry needs 'source_language' and 'target_language'"),
        ({"format": "2"}, "its format is '2', not a number"),
        ({"max_length": -1}, "its max_length is -1, not a positive whole number"),
    ],
    ids=[
        "binary",
        "bad-json",
        "list",
        "bad-field",
        "missing-fields",
        "vocab",
        "data",
        "format",
        "max-length",
    ],
)
def test_a_damaged_run_json_is_named(tmp_path, capsys, content, reason):
    run = tmp_path / "run"
    run.mkdir()
    (run / rd.RUN_FILE).write_text(json.dumps(INFO))
    assert read_run_info(run) == rd.RunInfo.from_dict(INFO)  # (the well-formed one reads)
    if isinstance(content, dict):
        content = json.dumps({**INFO, **content}).encode()
    (run / rd.RUN_FILE).write_bytes(content)
    with pytest.raises(DamagedRunError) as err:
        read_run_info(run)
    assert str(err.value).startswith(f"{run / rd.RUN_FILE} is damaged ({reason}")
    assert str(err.value).endswith(
        f"restore it from a copy of {run}, or train a new run into another --run-dir."
    )
    assert cli.main(["evaluate", "--run-dir", str(run)]) == 2
    assert f"error: {run / rd.RUN_FILE} is damaged" in error_line(capsys)


def test_vocabularies_are_checked_against_the_model(run, capsys):
    target = run / "vocab/target.txt"
    original = target.read_text(encoding="utf-8")
    target.write_text("".join(line + "\n" for line in original.splitlines()[:500]), encoding="utf-8")
    assert cli.main(["translate", "--run-dir", str(run), "O gato dorme."]) == 2  # was: "The."
    err = error_line(capsys)
    assert (
        f"{target} has 500 tokens, but the model in run.json was trained with 806 (target_vocab_size)" in err
    )
    assert "is the run's own (the same SHA-256): copy it to" in err  # the embedded corpus ships it
    target.write_text(original, encoding="utf-8")
    source = run / "vocab/source.txt"
    source.write_bytes(b"[PAD]\n[UNK]\n\xff\xfe\n")
    with pytest.raises(DamagedRunError, match="source.txt is damaged \\(it is not UTF-8 text\\)"):
        load_run(run)
    source.write_text("hello\n", encoding="utf-8")
    with pytest.raises(DamagedRunError, match="source.txt is damaged \\(it does not start with the reserved"):
        load_run(run)
    source.unlink()
    with pytest.raises(FileNotFoundError, match="source.txt is missing; the prepared dataset's"):
        load_run(run)


def test_check_blames_run_json_when_every_whole_weights_file_disagrees_with_it(run):
    # Another run's run.json (one more layer) over whole weights files: run.json is the odd one out.
    info = read_run_info(run)
    deeper = dataclasses.replace(info.model, num_layers=info.model.num_layers + 1)
    info = dataclasses.replace(info, model=deeper)
    (run / rd.RUN_FILE).write_text(json.dumps(info.to_dict()))
    results = {r.item: r for r in check_run(run)}
    for name in (rd.WEIGHTS_FILE, rd.LATEST_WEIGHTS):
        assert results[name].ok is False
        assert "run.json is more likely the odd one out (another run's?)" in results[name].text, name


def test_a_vocabulary_of_the_right_size_but_other_content_is_refused(run, capsys):
    # The demo run's target vocabulary, its tokens shuffled after the reserved ones: the same size,
    # other ids. Translations would be nonsense; every reader refuses it, and check says so.
    target = run / "vocab/target.txt"
    original = target.read_text(encoding="utf-8").splitlines()
    reserved = len(RESERVED_TOKENS)
    tokens = original[reserved:]
    random.Random(0).shuffle(tokens)
    shuffled = original[:reserved] + tokens
    assert shuffled != original
    target.write_text("".join(t + "\n" for t in shuffled), encoding="utf-8")
    assert cli.main(["translate", "--run-dir", str(run), "O gato dorme."]) == 2
    err = error_line(capsys)
    assert f"{target} is not the vocabulary this run was trained with (its SHA-256" in err
    assert "is the run's own (the same SHA-256): copy it to" in err
    results = {r.item: r for r in check_run(run)}
    assert results["vocab/target.txt"].ok is False and "SHA-256" in results["vocab/target.txt"].text
    assert (
        results["vocab/source.txt"].ok and "the SHA-256 run.json recorded" in results["vocab/source.txt"].text
    )
    assert results["translation"].ok is None

    # A run from before the digests: it loads, and check says that it could not verify it.
    target.write_text("".join(t + "\n" for t in original), encoding="utf-8")
    info = dataclasses.replace(read_run_info(run), vocab_sha256=None)
    (run / rd.RUN_FILE).write_text(json.dumps(info.to_dict()))
    results = {r.item: r for r in check_run(run)}
    assert results["vocab/target.txt"].ok and "not verified" in results["vocab/target.txt"].text
    assert results["translation"].ok


def test_check_reports_each_file(run, capsys):
    assert cli.main(["check", "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert "ok    run.json: format 2, pt -> en" in out and "ok    translation: 'O gato dorme.' -> " in out
    assert out.rstrip().endswith(": all well")

    keras_file = run / rd.MODEL_FILE
    keras_file.write_bytes(keras_file.read_bytes()[:5000])
    (run / rd.LATEST_WEIGHTS).write_bytes((run / rd.WEIGHTS_FILE).read_bytes()[:5000])
    (run / rd.BACKUP_DIR).mkdir()
    shutil.copyfile(run / rd.WEIGHTS_FILE, run / rd.BACKUP_WEIGHTS)
    (run / "metrics.json").write_bytes(b"\x00\x01")
    results = {r.item: r for r in check_run(run)}
    assert results[rd.WEIGHTS_FILE].ok and results[rd.BACKUP_WEIGHTS].ok and results["translation"].ok
    assert results[rd.BEST_WEIGHTS].ok is None  # absent, which is fine
    assert results[rd.LATEST_WEIGHTS].text.startswith("is damaged (truncated")
    assert "model.weights.h5 is intact: evaluate, translate and export use it with no --weights" in (
        results[rd.LATEST_WEIGHTS].text
    )
    assert results[rd.MODEL_FILE].text.startswith("is damaged (") and "rerun the training" in (
        results[rd.MODEL_FILE].text
    )
    assert not results["metrics.json"].ok
    state = results["backup/state.json"]  # a backup without its state.json: listed, with what it costs
    assert state.ok is False and state.text.startswith("is missing; resuming still works, but the running")

    (run / "vocab/target.txt").unlink()
    (run / rd.RUN_FILE).write_text("{")
    assert cli.main(["check", "--run-dir", str(run)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  run.json: is damaged (not valid JSON" in out
    assert "FAIL  vocab/target.txt: is missing" in out
    assert "ok    model.weights.h5: a whole HDF5 file" in out  # (no architecture to load it into)
    assert "-     translation: not tried" in out and out.rstrip().endswith(": 6 problems")


def test_cli_version_and_failures_that_are_not_usage_errors(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert (
        exit_.value.code == 0 and capsys.readouterr().out == f"tf-transformer {tf_transformer.__version__}\n"
    )
    for error in (files.WriteError("could not write x: the disk is full"), rd.LockedError("x is in use")):

        def fail(args, error=error):
            raise error

        monkeypatch.setattr("tf_transformer.check.run_check", fail)
        assert cli.main(["check", "--run-dir", "x"]) == 1
        assert error_line(capsys) == f"tf-transformer check: error: {error}\n"


def test_locations_that_are_not_folders_and_ctrl_c_get_one_line(tmp_path, monkeypatch, capsys):
    # A file where a folder must be: one line naming the path and its flag, exit 1 (not a traceback).
    afile = tmp_path / "notes.txt"
    afile.write_text("hello")
    train = ["train", "--preset", "tiny", "--run-dir", str(afile / "run"), "--max-steps", "1"]
    assert cli.main(train) == 1
    assert error_line(capsys) == (
        f"tf-transformer train: error: cannot use {afile / 'run'} (--run-dir): Not a directory; a file "
        "stands where a folder must be: pass a folder\n"
    )
    assert cli.main(["prepare", "--data-dir", str(afile)]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"tf-transformer prepare: error: cannot use {afile}/") and "(--data-dir)" in err

    # Ctrl-C in a command other than train (which saves and says so itself): one line, exit 130.
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("tf_transformer.check.run_check", interrupted)
    assert cli.main(["check", "--run-dir", str(tmp_path)]) == 130
    assert error_line(capsys).startswith("tf-transformer check: interrupted (SIGINT); what it had finished")


def test_sigterm_during_export_leaves_no_half_written_folder(run, tmp_path, monkeypatch, capsys):
    # SIGTERM while the SavedModel is being written: the command stops at once with one line and
    # exit 143, and the temporary folder is gone (it used to stay until the next export).
    from tf_transformer.inference import export as export_module

    write = export_module._write

    def write_then_terminate(translator, folder):
        write(translator, folder)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(export_module, "_write", write_then_terminate)
    before = signal.getsignal(signal.SIGTERM)
    base = tmp_path / "exports" / "pt_en"
    assert cli.main(["export", "--run-dir", str(run), "--out", str(base)]) == 143
    assert error_line(capsys).startswith("tf-transformer export: interrupted (SIGTERM); what it had")
    assert not [p.name for p in base.parent.rglob("*") if p.name != "pt_en"], list(base.parent.rglob("*"))
    assert signal.getsignal(signal.SIGTERM) == before  # handlers given back
