"""``translate`` and ``evaluate`` on the command line: input decoding, XLA's choice, metrics.json keys."""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import io
import json
import shutil
import types

import pytest
import tensorflow as tf

from helpers.runs import trained_run_dir, trained_translator
from tf_transformer import cli
from tf_transformer.inference.evaluate import EAGER_UP_TO, decoding_mode

pytestmark = pytest.mark.shared("inference_run")  # the session's trained run


def test_translate_decodes_each_input_line_on_its_own(monkeypatch, capsys):
    path = str(trained_run_dir())
    expected = trained_translator().translate(["O gato \ufffd dorme.", "O gato dorme."])  # (a traced graph)
    stdin = types.SimpleNamespace(buffer=io.BytesIO(b"O gato \xff dorme.\nO gato dorme.\n"))
    monkeypatch.setattr("sys.stdin", stdin)
    assert cli.main(["translate", "--run-dir", path]) == 0  # two sentences: decoded eagerly
    captured = capsys.readouterr()
    assert captured.out.splitlines() == expected
    assert "warning: line 1 is not valid UTF-8; its invalid bytes were replaced" in captured.err
    assert "line 2" not in captured.err
    # Arguments: undecodable bytes reach sys.argv as surrogate escapes.
    assert cli.main(["translate", "--run-dir", path, "O gato \udcff dorme.", "O gato dorme."]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == expected
    assert "warning: argument 1 is not valid UTF-8" in captured.err and "argument 2" not in captured.err


def test_decoding_is_chosen_by_the_number_of_sentences(monkeypatch, capsys):
    modes = [decoding_mode("auto", n) for n in (1, EAGER_UP_TO, EAGER_UP_TO + 1, 10**6)]
    assert modes == ["eager", "eager", "graph", "graph"]  # (XLA did not pay on the CPUs measured)
    assert (decoding_mode("on", 1), decoding_mode("off", 1)) == ("xla", "graph")
    with pytest.raises(ValueError, match="xla must be one of auto, on, off"):
        decoding_mode("yes", 1)
    calls = []

    def load(run_dir, weights=None, jit_compile=False):
        calls.append((weights, jit_compile, tf.config.functions_run_eagerly()))
        return trained_translator()

    monkeypatch.setattr("tf_transformer.inference.cli._load", load)
    path = str(trained_run_dir())
    assert cli.main(["translate", "--run-dir", path, "--weights", "latest", "O gato dorme."]) == 0
    assert cli.main(["translate", "--run-dir", path, "--xla", "on", "O gato dorme."]) == 0
    assert calls == [("latest", False, False), (None, True, False)]
    assert not tf.config.functions_run_eagerly()  # eager decoding was undone afterwards
    capsys.readouterr()


def test_evaluate_keeps_partial_and_full_scores_apart(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run_dir(), run)
    old = {"validation/beam4": {"bleu": 12.5, "sentences": 2000}}  # written before the keys had limits
    (run / "metrics.json").write_text(json.dumps(old))
    pairs = [("O gato dorme.", "The cat sleeps."), ("Eu gosto de gatos.", "I like cats.")] * 6
    pairs[2] = (b"O gato \xff dorme.", b"The cat sleeps.")
    sources, targets = zip(*[(s if isinstance(s, bytes) else s.encode(), t) for s, t in pairs])

    def load_dataset(spec, split, data_dir=None):  # a 12-pair split, one with invalid UTF-8
        return tf.data.Dataset.from_tensor_slices((list(sources), list(targets)))

    monkeypatch.setattr("tf_transformer.data.load_dataset", load_dataset)
    assert cli.main(["evaluate", "--run-dir", str(run)]) == 0
    captured = capsys.readouterr()
    assert "written to" in captured.out and "as 'test/greedy'" in captured.out
    assert "warning: pair 3 of the test split is not valid UTF-8" in captured.err
    assert cli.main(["evaluate", "--run-dir", str(run), "--limit", "5"]) == 0
    assert "as 'test/greedy/limit-5'" in capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["validation/beam4"] == old["validation/beam4"]
    assert metrics["test/greedy"]["sentences"] == 12 and metrics["test/greedy"]["invalid_utf8"] == [3]
    assert metrics["test/greedy/limit-5"]["sentences"] == 5
    # A damaged metrics.json stops the evaluation before it starts, and says what to do.
    (run / "metrics.json").write_text('{"test/greedy": ')
    assert cli.main(["evaluate", "--run-dir", str(run), "--limit", "5"]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'metrics.json'} is damaged (" in err and "move it aside or delete it" in err


@pytest.mark.slow  # three fresh processes
def test_the_program_prints_every_line_before_its_quick_exit(tmp_path):
    # `translate` leaves with os._exit (no interpreter shutdown): its output must be flushed first,
    # to a pipe (block-buffered) and to a pipe that closes early, and the exit code kept.
    import subprocess
    import sys

    path = str(trained_run_dir())
    sentences = ["O gato dorme.", "Eu leio.", "A menina come."]
    expected = trained_translator().translate(sentences)
    command = [sys.executable, "-m", "tf_transformer", "translate", "--run-dir", path]
    full = subprocess.run(command, input="\n".join(sentences), capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stderr[-2000:]
    assert full.stdout.splitlines() == expected
    shell = f"{subprocess.list2cmdline(command)} < /dev/null 'O gato dorme.' | head -c 0"
    closed = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=300
    )
    assert "Traceback" not in closed.stderr, closed.stderr[-2000:]
    missing = subprocess.run(command[:-2] + ["--run-dir", str(tmp_path / "none"), "x"], capture_output=True)
    assert missing.returncode == 2 and b"tf-transformer translate: error:" in missing.stderr
    with open("/dev/full", "w") as full_disk:  # output to a full disk: one line, exit 1
        nowhere = subprocess.run([*command, "Eu leio."], stdout=full_disk, stderr=subprocess.PIPE, timeout=99)
    lines = nowhere.stderr.decode().strip().splitlines()
    assert nowhere.returncode == 1 and len(lines) == 1 and "the disk is full" in lines[0], lines
