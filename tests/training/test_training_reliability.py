"""Nothing lost, nothing confusing: signals, kills, a full disk, two trainings at once, damaged final files.

Each test reproduces one way a training run used to lose work or confuse its
user (see issues 12, 17 and 20), on the tiny preset and a slice of the
embedded corpus. In-process tests raise real signals (``os.kill`` on this
process) at chosen moments; subprocess tests check what a user sees: the
exit code, the message, no traceback.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import types

import h5py
import keras
import numpy as np
import pytest
from helpers.runs import smoke_flags

from tf_transformer import files
from tf_transformer import runs as rd
from tf_transformer.recipes import recipe
from tf_transformer.runs import load_run, read_run_info
from tf_transformer.training import TrainConfig, loop, train
from tf_transformer.training.plan import prepare_run
from tf_transformer.training.metrics import LineProgress
from tf_transformer.training.resume import StepBackup
from tf_transformer.training.stops import TrainingInterrupted

pytestmark = pytest.mark.slow  # trainings, signals and killed processes

# Epochs of 4 steps, validation after each: small enough to be quick, long enough to interrupt
# in the middle of an epoch and during its validation. Dropout on, so that resuming must also
# restore the dropout masks' random stream (issue 17, item 8).
QUICK = recipe(
    "smoke",
    steps_per_epoch=4,
    max_steps=10,
    backup_every=0,  # only at epoch ends: a state saved mid-epoch can only come from a signal
    dropout_rate=0.1,
    seed=11,
)
CLI_QUICK = smoke_flags({name: value for name, value in QUICK.items() if name != "verbose"})


def train_command(path):
    """``tf-transformer train`` of the tiny preset into ``path`` with QUICK's settings, as argv."""
    return [sys.executable, "-m", "tf_transformer", "train", "--preset=tiny", f"--run-dir={path}", *CLI_QUICK]


def history(path):
    return json.loads((path / rd.HISTORY_FILE).read_text())


def weights_of(model):
    return [w.numpy() for w in model.weights]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run: what every interrupted-then-resumed run must end up equal to."""
    path = tmp_path_factory.mktemp("runs") / "reference"
    result = train("tiny", path, **QUICK)
    keras.backend.clear_session()
    return path, result, weights_of(result.model)


class SignalAt(keras.callbacks.Callback):
    """Sends this process a real signal at a chosen optimizer step or validation batch."""

    def __init__(self, step=None, validation_after_step=None, signum=signal.SIGINT):
        super().__init__()
        self.step, self.validation_after_step, self.signum = step, validation_after_step, signum
        self.sent = False

    def _send(self):
        if not self.sent:
            self.sent = True
            os.kill(os.getpid(), self.signum)

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            self._send()

    def on_test_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.validation_after_step:
            self._send()


def assert_same_as_reference(path, result, reference):
    ref_path, ref_result, ref_weights = reference
    assert result.steps == ref_result.steps == 10
    # Op determinism and a restored dropout stream: the weights of the uninterrupted run. (atol
    # 1e-6: a weight near 0 may differ in its last float32 bits if a kernel sums in another order.)
    for got, want in zip(weights_of(result.model), ref_weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    got, want = history(path), history(ref_path)
    assert [(e["epoch"], e["step"]) for e in got] == [(1, 4), (2, 8), (3, 10)]  # each epoch once
    for row, ref in zip(got, want):  # whole-epoch numbers, however the epoch was cut
        for key in ("loss", "masked_accuracy", "tokens", "val_loss"):
            assert row[key] == pytest.approx(ref[key], rel=1e-5), (row["epoch"], key)


def test_a_signal_mid_epoch_saves_that_step_and_the_rerun_finishes_the_same(reference, tmp_path, capsys):
    path = tmp_path / "run"
    # The signal comes after step 6 (from a callback that runs after ours): step 7 is finished.
    with pytest.raises(TrainingInterrupted, match="interrupted at step 7; state saved") as stop:
        train("tiny", path, callbacks=[SignalAt(step=6)], **QUICK)
    assert stop.value.signum == signal.SIGINT  # exit 130 (tf_transformer.cli.EXIT_CODES)
    assert StepBackup.read_info(path / rd.BACKUP_DIR)["step"] == 7  # not the epoch-end backup at 4
    assert "SIGINT received: stopping after this step" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers given back
    keras.backend.clear_session()

    result = train("tiny", path, **QUICK)
    assert "resuming " + str(path) + " at step 7 of 10, saved " in capsys.readouterr().out
    assert_same_as_reference(path, result, reference)


def test_a_damaged_state_json_is_named_and_the_epoch_it_cut_says_so(reference, tmp_path, capsys):
    # Stopped at step 7 (mid-epoch 2, by SIGHUP), then backup/state.json cut short: check names it, the
    # resume says what is lost; epoch 2's row counts steps 8 only, and says so; never a silent row.
    path = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as stop:  # SIGHUP (a closed terminal) stops like SIGTERM
        train("tiny", path, callbacks=[SignalAt(step=6, signum=signal.SIGHUP)], **QUICK)
    assert stop.value.signum == signal.SIGHUP
    keras.backend.clear_session()
    state = path / rd.BACKUP_DIR / StepBackup.INFO
    state.write_text(state.read_text()[:20])
    from tf_transformer.check import check_run

    found = {r.item: r for r in check_run(path)}["backup/state.json"]
    assert found.ok is False and found.text.startswith("is damaged (")
    capsys.readouterr()
    train("tiny", path, **QUICK)
    err = capsys.readouterr().err
    assert f"warning: {state} is damaged (" in err and "epoch 2's metrics before step 7 are lost" in err
    rows, ref = history(path), history(reference[0])
    assert [(e["epoch"], e["step"], e.get("counted_from_step")) for e in rows] == [
        (1, 4, None),
        (2, 8, 7),
        (3, 10, None),
    ]
    assert rows[0]["tokens"] == ref[0]["tokens"] and rows[1]["tokens"] < ref[1]["tokens"]


def test_a_signal_during_validation_resumes_by_validating_that_epoch(
    reference, tmp_path, capsys, monkeypatch
):
    path = tmp_path / "run"
    with pytest.raises(TrainingInterrupted, match="interrupted at step 8") as stop:
        train("tiny", path, callbacks=[SignalAt(validation_after_step=8, signum=signal.SIGTERM)], **QUICK)
    assert stop.value.signum == signal.SIGTERM
    # Saved at the epoch's last step, before the epoch was validated or recorded.
    assert StepBackup.read_info(path / rd.BACKUP_DIR)["step"] == 8
    assert [e["step"] for e in history(path)] == [4]
    keras.backend.clear_session()

    # A signal while the rerun validates that epoch (before fit starts): recorded, then a clean stop.
    record = loop.record_unfinished_epoch

    def record_then_signal(*args):
        os.kill(os.getpid(), signal.SIGTERM)
        record(*args)

    monkeypatch.setattr(loop, "record_unfinished_epoch", record_then_signal)
    with pytest.raises(TrainingInterrupted, match="interrupted at step 8; state saved") as stop:
        train("tiny", path, **QUICK)
    assert stop.value.signum == signal.SIGTERM
    assert "epoch 2 ended at step 8 but was not recorded: validating it first" in capsys.readouterr().out
    assert [e["step"] for e in history(path)] == [4, 8]
    monkeypatch.undo()
    keras.backend.clear_session()

    result = train("tiny", path, **QUICK)
    assert "resuming " + str(path) + " at step 8 of 10" in capsys.readouterr().out
    assert_same_as_reference(path, result, reference)
    # best is chosen over every epoch, the recovered one included: the reference's best.
    for got, want in zip(
        weights_of(load_run(path, weights=str(path / rd.BEST_WEIGHTS)).model),
        weights_of(load_run(reference[0], weights=str(reference[0] / rd.BEST_WEIGHTS)).model),
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # (as above)


def test_a_time_limit_then_a_rerun_leaves_one_row_per_epoch(reference, tmp_path):
    path = tmp_path / "run"
    first = train("tiny", path, **{**QUICK, "max_minutes": 1e-6})  # stops after its first step
    assert first.stopped == "time limit" and first.steps == 1
    assert [(e["epoch"], e.get("partial")) for e in history(path)] == [(1, True)]
    keras.backend.clear_session()
    result = train("tiny", path, **QUICK)
    assert_same_as_reference(path, result, reference)  # the partial row was replaced
    # Only the last epoch, 2 steps of 4 (max_steps 10), stays marked as partial.
    assert [e.get("partial", False) for e in history(path)] == [False, False, True]


# The child: `tf-transformer train` of QUICK's run in a fresh process that SIGKILLs itself at the
# moment $KILL_AT names: `step:N` after optimizer step N, `validation:N` as the validation after
# step N begins, `writing:NAME` halfway through writing a file whose name contains NAME.
KILLED_TRAIN = textwrap.dedent("""
    import os, signal, sys
    import keras
    from tf_transformer import cli, files
    from tf_transformer.training import loop

    where, at = os.environ["KILL_AT"].split(":")

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    class KillAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if where == "step" and int(self.model.optimizer.iterations.numpy()) == int(at):
                die()

        def on_test_batch_begin(self, batch, logs=None):
            if where == "validation" and int(self.model.optimizer.iterations.numpy()) == int(at):
                die()

    write = files._write_bytes

    def write_half_then_die(path, data):
        if where == "writing" and at in path.name:
            write(path, data[: len(data) // 2])
            die()
        write(path, data)

    files._write_bytes = write_half_then_die
    train = loop.train
    loop.train = lambda *args, callbacks=None, **kwargs: train(*args, callbacks=[KillAt()], **kwargs)
    sys.exit(cli.main(sys.argv[1:]))
""")


def test_kills_inside_training_lose_nothing(reference, tmp_path, capsys):
    """SIGKILL a CLI training at three moments of its own progress, rerun: every epoch exactly once.

    Mid-epoch (step 6: the last backup is step 4's), during the validation after step 8 (the
    epoch's backup comes after it), and halfway through writing that backup (step 4's stays);
    then the same command finishes the run as an uninterrupted one would have.
    """
    path = tmp_path / "run"
    argv = [sys.executable, "-c", KILLED_TRAIN, "train", "--preset=tiny", f"--run-dir={path}", *CLI_QUICK]
    for moment in ("step:6", "validation:8", f"writing:{StepBackup.FILE.split('.')[0]}"):
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=600, env={**os.environ, "KILL_AT": moment}
        )
        assert proc.returncode == -signal.SIGKILL, f"not killed at {moment}: {proc.stderr[-3000:]}"
        assert StepBackup.read_info(path / rd.BACKUP_DIR)["step"] == 4, moment
    assert [p for p in path.rglob(f"*{files.TEMPORARY_MARK}*")]  # the half-written backup
    result = train("tiny", path, **QUICK)  # the same run again (here in this process)
    assert f"resuming {path} at step 4 of 10" in capsys.readouterr().out
    assert_same_as_reference(path, result, reference)  # every epoch once, the same weights
    assert not [p for p in path.rglob(f"*{files.TEMPORARY_MARK}*")]  # no orphans left


def test_the_command_line_stops_cleanly_on_sigint_and_sigterm(tmp_path):
    """A real process: exit 130 / 143, one line saying what to do, no traceback, plain progress lines."""
    path = tmp_path / "run"
    command = train_command(path) + ["--max-steps=400"]  # (the last --max-steps counts)
    for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in proc.stdout:  # wait for the end of one epoch: training is under way
            if line.startswith("epoch "):
                break
        time.sleep(1.0)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == code, err[-3000:]
        assert "Traceback" not in err
        step = StepBackup.read_info(path / rd.BACKUP_DIR)["step"]
        assert f"interrupted at step {step}; state saved; run the same command to resume" in err
        assert "\r" not in out and "\x1b" not in out  # a pipe gets plain lines, not a redrawn bar


def test_a_second_training_into_the_same_directory_is_refused_at_once(tmp_path):
    """Two trainings started together: one trains, the other stops with a message; no zeroed weights."""
    path = tmp_path / "run"
    command = train_command(path)
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"
    ]
    outcomes = sorted((p.wait(timeout=600), p.stderr.read()) for p in procs)
    assert [code for code, _ in outcomes] == [0, 1], outcomes
    assert "is in use by another process" in outcomes[1][1] and "Traceback" not in outcomes[1][1]
    for name in (rd.WEIGHTS_FILE, rd.BEST_WEIGHTS, rd.LATEST_WEIGHTS):
        arrays = _arrays(path / name)
        zeros = [a for a in arrays if a.size > 1 and not np.any(a)]
        # Only the initial biases are zeros; every kernel and embedding has been trained.
        assert len(zeros) < len(arrays) / 2 and all(a.ndim == 1 for a in zeros), name


def _popen(command, **kwargs):
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _arrays(path):
    """Every array in an HDF5 file."""
    found = []

    def collect(name, item):  # (a visitor that returns anything but None stops the visit)
        if isinstance(item, h5py.Dataset):
            found.append(item[()])

    with h5py.File(path) as weights:
        weights.visititems(collect)
    assert found, path
    return found


def test_a_held_run_directory_refuses_in_process_too(tmp_path):
    with rd.RunLock(tmp_path / "run"):
        with pytest.raises(rd.LockedError, match="in use by another process"):
            train("tiny", tmp_path / "run", **QUICK)


def test_a_full_disk_keeps_the_last_backup_and_says_so(reference, tmp_path, monkeypatch):
    path = tmp_path / "run"
    shutil.copytree(reference[0], path)  # a finished run: train on from its backup at step 10
    before = (path / rd.BACKUP_DIR / StepBackup.FILE).read_bytes()

    def full_disk(path, data):
        pathlib.Path(path).write_bytes(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "_write_bytes", full_disk)
    with pytest.raises(files.WriteError, match="disk is full.*previous version is intact. Free some space"):
        train("tiny", path, **{**QUICK, "max_steps": 12})
    assert (path / rd.BACKUP_DIR / StepBackup.FILE).read_bytes() == before
    assert not [p for p in path.rglob(f"*{files.TEMPORARY_MARK}*")]
    monkeypatch.undo()
    keras.backend.clear_session()
    assert train("tiny", path, **{**QUICK, "max_steps": 12}).steps == 12  # space freed: it resumes


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_real_full_disk_ends_with_one_line_and_exit_1(tmp_path):
    """h5py on a full tmpfs used to end in a segmentation fault (exit 139)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(mount)]).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        path = mount / "run"
        command = train_command(path)
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
        assert "the disk is full" in proc.stderr and "Traceback" not in proc.stderr
        assert not [p for p in path.rglob(f"*{files.TEMPORARY_MARK}*")]
        subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        assert train("tiny", path, **QUICK).steps == 10  # space freed: it resumes (in this process)
        assert [e["step"] for e in history(path)] == [4, 8, 10]
    finally:
        subprocess.run(["umount", str(mount)])


def test_another_precision_is_refused_not_silently_restarted(reference):
    path = reference[0]
    recorded = (path / rd.HISTORY_FILE).read_text()
    with pytest.raises(ValueError, match=r"different run \(mixed_precision: 'none' -> 'fp16'\)"):
        train("tiny", path, **{**QUICK, "mixed_precision": "fp16", "max_steps": 50})
    assert (path / rd.HISTORY_FILE).read_text() == recorded


def test_a_run_from_before_the_newer_settings_resumes(reference, tmp_path, monkeypatch):
    """A run.json written before ``positions``, ``key_dim`` and ``tie_output`` existed, resumed with
    ``--mixed-precision auto`` where auto means float32 (what the run was recorded with): it trains on."""
    from tf_transformer.training import precision

    path = tmp_path / "run"
    shutil.copytree(reference[0], path)
    info = read_run_info(path).to_dict()  # (then as an older version wrote it)
    for field in ("positions", "key_dim", "tie_output"):
        del info["model"][field]
    assert info["train"]["mixed_precision"] == "none"
    (path / rd.RUN_FILE).write_text(json.dumps(info))
    monkeypatch.setattr(precision, "gpu_compute_capabilities", lambda: [])
    monkeypatch.setattr(precision, "cpu_flags", lambda: set())  # no bf16 instructions: auto is float32
    before = history(path)
    result = train("tiny", path, **{**QUICK, "mixed_precision": "auto", "max_steps": 12})
    # Resumed at step 10, not restarted: the first two epochs' rows are the recorded ones, and the
    # third epoch, cut short at 10 before, now ends at 12 and replaces its partial row.
    assert result.steps == 12 and [e["step"] for e in history(path)] == [4, 8, 12]
    assert history(path)[:2] == before[:2]


def test_a_finished_run_with_damaged_final_files_writes_them_again(reference, tmp_path, capsys):
    path = tmp_path / "run"
    shutil.copytree(reference[0], path)
    weights = path / rd.WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:5000])  # cut short
    (path / rd.MODEL_FILE).unlink()
    assert train("tiny", path, **QUICK).stopped == "already done"
    assert "model.weights.h5, model.keras missing or damaged: written again" in capsys.readouterr().out
    np.testing.assert_array_equal(
        load_run(path).model.weights[0].numpy(), load_run(reference[0]).model.weights[0].numpy()
    )
    assert keras.models.load_model(path / rd.MODEL_FILE).count_params() > 0


def test_a_model_larger_than_the_machine_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "run"
    with pytest.raises(ValueError, match=r"about [\d,]+ parameters: training needs at least [\d,.]+ GiB"):
        train("tiny", path, **{**QUICK, "num_layers": 100_000_000})
    assert not path.exists()


def test_a_vocabulary_learned_again_is_another_run(reference, tmp_path):
    # The prepared vocabulary no longer the one the run trained with (learned again at the same
    # size): resuming would copy it over the run's own and train on other token ids. Refused.
    path = tmp_path / "run"
    shutil.copytree(reference[0], path)
    info = read_run_info(path)
    digests = {**info.vocab_sha256, "target": "0" * 64}  # (as if the prepared file had changed since)
    (path / rd.RUN_FILE).write_text(json.dumps(dataclasses.replace(info, vocab_sha256=digests).to_dict()))
    own = (path / "vocab/target.txt").read_bytes()
    with pytest.raises(
        ValueError, match=r"different run \(the prepared target vocabulary .* is not the one it trained with"
    ):
        train("tiny", path, **QUICK)
    assert (path / "vocab/target.txt").read_bytes() == own


def test_a_start_that_never_trained_does_not_pin_its_settings(tmp_path):
    path = tmp_path / "run"
    plan = prepare_run(TrainConfig(**{**QUICK, "warmup_steps": 7}), path)
    plan.lock.release()  # as if it had failed right after writing run.json
    assert (path / rd.RUN_FILE).is_file()
    result = train("tiny", path, **{**QUICK, "max_steps": 1})  # other settings: accepted
    assert result.steps == 1
    assert read_run_info(path).train["warmup_steps"] == 4000


def test_auto_resumes_a_run_in_the_precision_it_began_in_on_another_cpu(tmp_path, monkeypatch):
    """Begun where auto means bfloat16 (AMX), resumed where it means float32: the run
    keeps bfloat16 and says why; asking for float32 by name is another run."""
    from tf_transformer.training import precision

    path = tmp_path / "run"
    monkeypatch.setattr(precision, "gpu_compute_capabilities", lambda: [])
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx512f", "amx_bf16"})
    auto = TrainConfig(**{**QUICK, "mixed_precision": "auto"})
    plan = prepare_run(auto, path)
    plan.lock.release()
    assert (plan.precision, plan.precision_reason) == (
        "bf16",
        "this CPU multiplies bfloat16 natively (amx_bf16)",
    )
    assert read_run_info(path).train["resolved_precision"] == "bf16"
    (path / rd.HISTORY_FILE).write_text("[]")  # as if it had trained

    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2"})  # a CPU where auto is float32
    plan = prepare_run(auto, path)
    plan.lock.release()
    assert plan.precision == "bf16" and "the run's own" in plan.precision_reason
    assert read_run_info(path).train["resolved_precision"] == "bf16"
    with pytest.raises(ValueError, match=r"different run \(mixed_precision: 'bf16' -> 'none'\)"):
        prepare_run(dataclasses.replace(auto, mixed_precision="none"), path)


@pytest.mark.parametrize(
    "value, match",
    [
        ("garbage", r"TF_CONFIG is not valid JSON .*unset TF_CONFIG"),
        ('{"cluster": {"worker": "host:1"}}', r"cluster.worker is a list of 'host:port'"),
        ('{"cluster": {"worker": ["a:1", "b:2"]}}', r"TF_CONFIG's task must name this machine"),
    ],
)
def test_a_broken_tf_config_is_named(tmp_path, monkeypatch, value, match):
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(ValueError, match=match):
        train("tiny", tmp_path / "run", **QUICK)
    assert not (tmp_path / "run").exists()


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _lonely_worker(tmp_path, timeout):
    ports = [_free_port(), _free_port()]
    config = {
        "cluster": {"worker": [f"localhost:{p}" for p in ports]},
        "task": {"type": "worker", "index": 0},
    }
    command = train_command(tmp_path / "r") + [f"--cluster-timeout={timeout}"]
    env = {**os.environ, "TF_CONFIG": json.dumps(config)}
    return ports, subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def test_a_cluster_with_a_missing_worker_times_out_and_names_it(tmp_path):
    ports, proc = _lonely_worker(tmp_path, timeout=3)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 1, err[-3000:]
    assert f"worker 1 (localhost:{ports[1]}) does not answer" in err and "--cluster-timeout" in err


def test_sigterm_ends_a_cluster_that_is_still_forming(tmp_path):
    ports, proc = _lonely_worker(tmp_path, timeout=600)
    for line in proc.stdout:
        if line.startswith("waiting up to 600 s for the cluster's other workers: worker 1"):
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err[-3000:]
    assert "SIGTERM while waiting for the cluster's workers" in err


def test_a_resumed_epochs_progress_line_shows_the_whole_epochs_averages(capsys):
    # Keras averages the batches of this session only; the line takes the epoch's sums (the
    # ledger's, carried over from before the resume) instead.
    ledger = types.SimpleNamespace(sums_now=lambda: {"loss": [12.0, 4.0], "masked_accuracy": [3.0, 6.0]})
    progress = LineProgress(total_steps=10, every=2, ledger=ledger)
    progress.set_model(types.SimpleNamespace(optimizer=types.SimpleNamespace(iterations=keras.Variable(6))))
    progress.on_train_batch_end(0, {"loss": 1.0, "masked_accuracy": 0.9})
    assert "step 6/10  loss 3.0000  masked_accuracy 0.5000  (" in capsys.readouterr().out
