"""Exports that are killed halfway, and beam sizes the exported graph must refuse on its own.

The export under test is the session's one (``helpers.runs.exported``, of the tiny
trained run); nothing here trains.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import dataclasses
import hashlib
import json
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the exports use)
from helpers.processes import NO_TF_TRANSFORMER, child_env, fresh_python
from helpers.runs import exported, trained_run_dir, trained_translator

from tf_transformer import Transformer, cli, files
from tf_transformer import runs as rd
from tf_transformer.inference import export
from tf_transformer.inference.search import beam_limit_message

# Subprocesses that export and load SavedModels, from the session's export.
pytestmark = [pytest.mark.slow, pytest.mark.shared("inference_export")]

# The child: `tf-transformer export` in a fresh process. It says START once it runs; with
# DIE_WRITING_SAVED_MODEL set it kills itself as TensorFlow starts writing saved_model.pb, when the
# variables are written already (the moment a non-atomic export leaves half of each).
EXPORT_CHILD = textwrap.dedent("""
    import os, signal, sys
    if os.environ.get("DIE_WRITING_SAVED_MODEL"):
        from tensorflow.python.lib.io import file_io
        write = file_io.atomic_write_string_to_file
        def write_or_die(path, *args, **kwargs):
            if str(path).endswith("saved_model.pb"):
                print("WRITING", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            return write(path, *args, **kwargs)
        file_io.atomic_write_string_to_file = write_or_die
    from tf_transformer import cli
    print("START", flush=True)
    sys.exit(cli.main(sys.argv[1:]))
""")


def _digest(folder) -> str:
    """Every file's path and bytes: equal digests, equal exports."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _translates(folder) -> None:
    """Load the SavedModel and translate with both signatures (what a server does first)."""
    loaded = tf.saved_model.load(str(folder))
    text = tf.constant(["O gato dorme."])
    greedy = loaded.signatures["serving_default"](text=text)["translation"]
    beam = loaded.signatures["beam_search"](text=text, beam_size=tf.constant(2))["translation"]
    assert greedy.shape == beam.shape == (1,) and greedy.dtype == tf.string


def _other_run(folder):
    """A run directory of another architecture (1 layer, untrained) with the trained run's vocabularies.

    Its export and the old one cannot be mixed: a target holding half of each does not load.
    """
    shutil.copytree(trained_run_dir() / "vocab", folder / "vocab")
    info = rd.read_run_info(trained_run_dir())
    info = dataclasses.replace(info, model=dataclasses.replace(info.model, num_layers=1))
    (folder / rd.RUN_FILE).write_text(json.dumps(info.to_dict()))
    model = Transformer(info.model)
    model.build()
    model.save_weights(str(folder / rd.WEIGHTS_FILE))
    return folder


class ExportChild:
    """``tf-transformer export --overwrite`` of ``run`` into ``base``, version 1, in a fresh process."""

    def __init__(self, run, base, workdir, die_writing=False):
        env = child_env(**({"DIE_WRITING_SAVED_MODEL": "1"} if die_writing else {}))
        argv = ["export", "--run-dir", str(run), "--out", str(base), "--version", "1", "--overwrite"]
        self.stderr = workdir / f"stderr-{time.monotonic_ns()}.txt"
        with open(self.stderr, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-c", EXPORT_CHILD, *argv],
                cwd=workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert self.process.stdout.readline() == "START\n", self.errors()
        self.started = time.monotonic()

    def errors(self) -> str:
        return self.stderr.read_text()[-3000:]

    def kill_at(self, seconds) -> str:
        """SIGKILL ``seconds`` after START (unless it ended before); what happened, in words."""
        try:
            self.process.wait(max(0.0, self.started + seconds - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process.wait()
        return f"killed at {seconds:.1f} s" if self.process.returncode == -signal.SIGKILL else "finished"


def test_a_killed_export_leaves_the_old_export_or_the_new_one(tmp_path):
    """SIGKILL at three moments of `tf-transformer export --overwrite` over an existing export.

    The first kill comes as the SavedModel's last file is written (the child does it itself), and
    measures how long the export takes to get there; the others come at random moments of the
    first and the second half of the whole export (the last one may come too late, after the
    export finished). After each, the version folder must hold the old export, byte for byte, or a
    new one that loads and translates. (It took 68 s on 2 busy CPU cores, the shared export aside.)
    """
    base = tmp_path / "exports" / "pt_en"
    target = base / "1"
    shutil.copytree(exported(), target)
    began = start = time.monotonic()
    _translates(target)  # the old export works
    verify_seconds = time.monotonic() - start  # about what the export's own check takes
    current = old = _digest(target)
    run = _other_run(tmp_path / "other_run")

    child = ExportChild(run, base, tmp_path, die_writing=True)
    child.process.wait(600)
    to_last_file = time.monotonic() - child.started
    out = child.process.stdout.read()
    assert child.process.returncode == -signal.SIGKILL and "WRITING" in out, child.errors()
    assert _digest(target) == old  # nothing of the half-written export reached the target
    print(f"\nverify {verify_seconds:.1f} s; to the last file {to_last_file:.1f} s")
    killed = [child.process.pid]

    duration = to_last_file + verify_seconds
    rng = random.Random()
    moments = [rng.uniform(0.05, 0.5) * duration, rng.uniform(0.5, 1.1) * duration]  # (or it finishes)
    for moment in moments:
        child = ExportChild(run, base, tmp_path)
        what = child.kill_at(moment)
        if what == "finished":
            assert child.process.returncode == 0, child.errors()
        killed.append(child.process.pid)
        now = _digest(target)
        if now != current:  # it must be the new export, whole
            _translates(target)
            assert now != old
            current = now
        print(f"export over an export, {what} of about {duration:.0f} s: {'new' if now != old else 'old'}")

    # What the killed exports left beside the target: their own temporary folders, which the next
    # export to the same place deletes.
    left = {p.name for p in base.iterdir()} - {"1"}
    assert left <= {f".1{files.TEMPORARY_MARK}{pid}" for pid in killed}
    export._remove_abandoned(target)
    assert [p.name for p in base.iterdir()] == ["1"]
    print(f"the test took {time.monotonic() - began:.0f} s")


BEAM_CHILD = NO_TF_TRANSFORMER + textwrap.dedent("""
    import resource, time
    beam = tf.saved_model.load(export_dir).signatures["beam_search"]
    assert beam(text=tf.constant(["O gato dorme."]), beam_size=tf.constant(2))["translation"].shape == (1,)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = []
    for size, sentences in json.loads(sys.argv[3]):
        start = time.monotonic()
        try:
            beam(text=tf.constant(["O gato dorme."] * sentences), beam_size=tf.constant(size, tf.int32))
            results.append({"error": None})
        except tf.errors.InvalidArgumentError as err:
            results.append({"error": err.message, "seconds": time.monotonic() - start})
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"results": results, "grown_kib": grown}))
""")


def test_the_exported_beam_search_refuses_bad_beam_sizes_on_its_own(tmp_path):
    """Below 1, and over the ceiling on hypotheses: clear errors from the graph, before any memory goes."""
    limit = trained_translator().max_hypotheses
    assert limit == 54760  # 2 GiB / 39,216 bytes (see search.hypothesis_bytes)
    cases = [(0, 1), (-1, 1), (limit + 1, 1), (limit // 2 + 1, 2), (2**31 - 1, 3)]
    report = fresh_python(BEAM_CHILD, exported(), "[]", json.dumps(cases), cwd=tmp_path)
    wanted = ["beam_size must be at least 1, got 0", "beam_size must be at least 1, got -1"] + [
        beam_limit_message(size, sentences, size * sentences, limit) for size, sentences in cases[2:]
    ]
    for (size, sentences), result, message in zip(cases, report["results"], wanted):
        assert result["error"] is not None, f"beam_size {size} x {sentences} was accepted"
        assert f"assertion failed: [{message}]" in result["error"]
        print(f"beam_size {size} x {sentences}: refused in {result['seconds']:.2f} s")
    # An unchecked beam over the ceiling would hold gigabytes; refused ones hold nothing.
    assert report["grown_kib"] < 256 * 1024


def test_translate_splits_sentences_under_the_ceiling_and_refuses_a_beam_over_it(monkeypatch, capsys):
    translator = trained_translator()
    sentences = ["O gato dorme.", "Eu gosto de chá.", "Ela lê.", "Nós comemos.", "Ele corre."]
    whole = translator.translate(sentences, beam_size=2)
    sizes = []
    beam = translator.beam

    def counting_beam(text, beam_size):
        sizes.append(int(text.shape[0]))
        return beam(text, beam_size)

    monkeypatch.setattr(translator, "beam", counting_beam)
    monkeypatch.setattr(translator, "max_hypotheses", 5)  # beam 2: 2 sentences per call
    assert translator.translate(sentences, beam_size=2) == whole
    assert sizes == [2, 2, 1]
    with pytest.raises(ValueError, match=r"^beam_size 6 is over the limit of 5 hypotheses at once"):
        translator.translate(sentences, beam_size=6)
    with pytest.raises(ValueError, match=r"^beam_size must be at least 1, got 0\.$"):
        translator.translate(sentences, beam_size=0)
    monkeypatch.undo()
    # The command line says it in one line.
    over = str(translator.max_hypotheses + 1)
    assert cli.main(["translate", "--run-dir", str(trained_run_dir()), "--beam-size", over, "Olá."]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tf-transformer translate: error: beam_size {over} is over the limit of ")
    assert err.count("\n") == 1
