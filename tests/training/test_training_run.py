"""train() end to end on a few steps of the tiny preset: the run directory, determinism,
resuming after an interruption, load_run, the CLI, and clear errors for bad input."""

import json
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_transformer
from tf_transformer import Transformer, cli, files
from tf_transformer import runs as rd
from tf_transformer.data import DatasetSpec, vocab_files
from tf_transformer.recipes import recipe
from tf_transformer.runs import load_run, read_run_info
from tf_transformer.training import AveragingAdam, TrainConfig, metrics, train
from tf_transformer.training.resume import StepBackup
from tf_transformer.training.stops import TerminateOnNaN

pytestmark = pytest.mark.slow  # trainings

# The smoke recipe in epochs of 3 steps with a backup every 2: a resume can start mid-epoch.
QUICK = recipe("smoke", steps_per_epoch=3, max_steps=7, backup_every=2, seed=7)


class StepLosses(keras.callbacks.Callback):
    """Records every batch's (running) loss, keyed by optimizer step."""

    def __init__(self):
        super().__init__()
        self.losses = {}

    def on_train_batch_end(self, batch, logs=None):
        self.losses[int(self.model.optimizer.iterations.numpy())] = float(logs["loss"])


class Interrupt(keras.callbacks.Callback):
    """Simulates a crash (or Ctrl-C) after ``step`` optimizer steps."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            raise KeyboardInterrupt(f"simulated interruption at step {self.step}")


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory):
    """One uninterrupted seeded run, shared by the tests below."""
    path = tmp_path_factory.mktemp("runs") / "a"
    losses = StepLosses()
    result = train("tiny", path, callbacks=[losses], **QUICK)
    weights = [w.numpy() for w in result.model.weights]
    keras.backend.clear_session()
    return path, result, losses.losses, weights


def test_run_directory_holds_what_later_commands_need(seeded_run):
    path, result, _, _ = seeded_run
    assert result.steps == 7 and result.stopped == "done"
    for name in (
        rd.RUN_FILE,
        rd.MODEL_FILE,
        rd.WEIGHTS_FILE,
        rd.BEST_WEIGHTS,
        rd.LATEST_WEIGHTS,
        rd.HISTORY_FILE,
        "vocab/source.txt",
        "vocab/target.txt",
        "backup/state.weights.h5",
    ):
        assert (path / name).is_file(), name
    assert any((path / rd.LOG_DIR).rglob("events.out.tfevents*"))
    info = read_run_info(path)
    assert json.loads((path / rd.RUN_FILE).read_text())["format"] == rd.FORMAT == 2
    assert info.max_length == 32
    assert info.vocab == {"source": "vocab/source.txt", "target": "vocab/target.txt"}
    assert info.data == {
        **DatasetSpec().to_dict(),
        "source_language": "pt",
        "target_language": "en",
        "tokenizer": "wordpiece",  # the embedded corpus's (the shipped vocabularies)
    }
    assert info.train == {  # everything, once, and the precision it computes in
        **TrainConfig(**QUICK).to_dict(),
        "resolved_precision": "none",
    }
    assert info.model.d_model == 32 and info.tf_transformer_version == tf_transformer.__version__
    shipped = vocab_files(DatasetSpec())
    for side in ("source", "target"):
        assert (path / info.vocab[side]).read_text() == shipped[side].read_text()
    # History: 7 steps of 3 per epoch = epochs ending at steps 3, 6 and 7 (a short last one).
    history = json.loads((path / rd.HISTORY_FILE).read_text())
    assert [e["step"] for e in history] == [3, 6, 7]
    for key in ("loss", "masked_accuracy", "val_loss", "val_masked_accuracy", "tokens_per_sec"):
        assert all(np.isfinite(e[key]) for e in history), key
    assert all(e["tokens_per_sec"] > 0 for e in history)
    assert history[-1]["loss"] < history[0]["loss"]


def test_weights_files_hold_the_weights_only_and_the_backup_the_optimizer_too(seeded_run):
    path, result, _, _ = seeded_run
    float32_bytes = 4 * result.model.count_params()
    for name in (rd.WEIGHTS_FILE, rd.BEST_WEIGHTS, rd.LATEST_WEIGHTS):
        with h5py.File(path / name) as weights:
            assert "optimizer" not in weights and {"encoder", "decoder"} <= set(weights), name
        # The arrays plus HDF5's bookkeeping, about 1.5 kB per array: a fifth of the tiny
        # model's size, 2% of `tutorial`'s. (With Adam's moments it would be 3x the weights.)
        assert float32_bytes < (path / name).stat().st_size < float32_bytes + 200_000, name
    with h5py.File(path / rd.BACKUP_DIR / StepBackup.FILE) as state:  # Adam's two moments too
        assert "optimizer" in state
    assert (path / rd.BACKUP_DIR / StepBackup.FILE).stat().st_size > 3 * float32_bytes


def test_the_whole_model_file_needs_our_package_and_says_so_without_it(seeded_run):
    path = seeded_run[0]
    code = f"import keras; keras.saving.load_model({str(path / rd.MODEL_FILE)!r})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "Could not locate class 'Transformer'" in proc.stderr  # Keras's usual message


def test_load_run_rebuilds_model_and_tokenizers(seeded_run):
    path, result, _, _ = seeded_run
    run = load_run(path)
    assert run.config == read_run_info(path).model == run.info.model
    assert (run.source_language, run.target_language, run.max_length) == ("pt", "en", 32)
    assert int(run.target_tokenizer.get_vocab_size()) == run.config.target_vocab_size
    pt = run.source_tokenizer.tokenize(tf.constant(["O gato dorme."])).to_tensor()
    en = run.target_tokenizer.tokenize(tf.constant(["The cat sleeps."])).to_tensor()[:, :-1]
    # Same weights and inputs. atol: logits of size ~5 are spaced 5e-7 apart in float32, so
    # 1e-6 lets the last bit differ should a rebuilt model's kernels sum in another order.
    np.testing.assert_allclose(run.model((pt, en)), result.model((pt, en)), atol=1e-6)
    # The whole-model file loads with plain load_model (it is saved uncompiled) after our import.
    whole = keras.saving.load_model(path / rd.MODEL_FILE)
    assert not whole.compiled
    np.testing.assert_allclose(whole((pt, en)), result.model((pt, en)), atol=1e-6)  # as above
    latest = load_run(path, weights="latest")
    assert latest.model.count_params() == run.model.count_params()


def test_interrupted_run_is_deterministic_and_resumes_mid_epoch(seeded_run, tmp_path):
    _, uninterrupted, losses, weights = seeded_run
    path = tmp_path / "c"
    before = StepLosses()
    with pytest.raises(KeyboardInterrupt):
        train("tiny", path, callbacks=[before, Interrupt(5)], **QUICK)  # dies in epoch 2, batch 2
    # --seed with op determinism: the same losses as the first run, step for step.
    assert [before.losses[s] for s in range(1, 6)] == [losses[s] for s in range(1, 6)]

    # backup_every=2: the last saved state is step 4, mid-epoch (epochs are 3 steps).
    keras.backend.clear_session()
    after = StepLosses()
    result = train("tiny", path, callbacks=[after], **QUICK)  # the same command again
    assert min(after.losses) == 5  # continued after step 4, not from 0 or 3
    assert result.steps == uninterrupted.steps == 7
    # Not one batch repeated or skipped: the end state is the uninterrupted run's. (Op
    # determinism makes it equal; atol 1e-6 only lets a weight near 0 differ in its last
    # float32 bits should a restored run's kernels sum in another order.)
    for got, want in zip(result.model.weights, weights):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    assert [e["step"] for e in json.loads((path / rd.HISTORY_FILE).read_text())] == [3, 6, 7]
    # Once more, as a TrainConfig: nothing left to do.
    keras.backend.clear_session()
    assert train(TrainConfig(**QUICK), path).stopped == "already done"


def test_nan_loss_stops_training_with_a_clear_message(tmp_path, capsys):
    guard = TerminateOnNaN()
    backup = StepBackup(tmp_path / "backup", every=1, guard=guard)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=lambda y, p: tf.reduce_mean(p) * float("nan"), jit_compile=False)
    x = np.ones((8, 2), "float32")
    model.fit(x, x[:, :1], batch_size=2, epochs=3, callbacks=[guard, backup], verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 1  # stopped after the first bad step
    assert guard.diverged and "diverged" in guard.message and "--lr-scale" in guard.message
    assert "diverged" in capsys.readouterr().out
    assert not (tmp_path / "backup" / StepBackup.FILE).exists()  # no NaN state saved


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(preset="huge"), ValueError, r"preset \(--preset\) must be one of tiny"),
        (dict(batch_tokens=16, max_length=32), ValueError, "cannot hold one sentence.*at least 32"),
        (dict(strategy="tpu"), ValueError, r"strategy \(--strategy\) must be one of auto"),
        (dict(mixed_precision="fp8"), ValueError, r"mixed_precision \(--mixed-precision\) must be one of"),
        (dict(lr_scale=0), ValueError, "greater than 0"),
        (dict(colour="red"), TypeError, "colour"),
        (dict(dataset="tsv:/nonexistent/corpus.tsv"), FileNotFoundError, "no such file"),
    ],
)
def test_bad_arguments_fail_before_anything_is_written(tmp_path, kwargs, error, match):
    args = {**QUICK, **kwargs}
    with pytest.raises(error, match=match):
        train(args.pop("preset", "tiny"), tmp_path / "x", **args)
    assert not (tmp_path / "x").exists()


def test_an_unprepared_corpus_fails_before_anything_is_written(tmp_path):
    corpus = tmp_path / "corpus.tsv"
    corpus.write_text("Olá.\tHello.\n")
    with pytest.raises(FileNotFoundError, match="run `tf-transformer prepare --dataset tsv:"):
        train("tiny", tmp_path / "x", dataset=f"tsv:{corpus}", data_dir=tmp_path / "tfds", **QUICK)
    assert not (tmp_path / "x").exists()


def test_foreign_or_different_run_directories_are_refused(seeded_run, tmp_path):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="not a run directory"):
        train("tiny", foreign, **QUICK)
    assert (foreign / "thesis.tex").read_text() == "precious"
    path = seeded_run[0]
    recorded = (path / rd.RUN_FILE).read_text()
    with pytest.raises(ValueError, match="different run.*batch_tokens: 512 -> 1024.*another --run-dir"):
        train("tiny", path, **{**QUICK, "batch_tokens": 1024})
    with pytest.raises(ValueError, match=r"different run \(dataset: embedded -> embedded \(reversed\)"):
        train("tiny", path, **QUICK, dataset=DatasetSpec(reverse=True))
    with pytest.raises(ValueError, match=r"different run \(decay_power: 0.5 -> 1.0\)"):
        train("tiny", path, **QUICK, decay_power=1.0)
    assert (path / rd.RUN_FILE).read_text() == recorded  # refused runs leave it untouched


def test_the_decay_power_reaches_the_optimizer(tmp_path):
    result = train("tiny", tmp_path / "run", **{**QUICK, "max_steps": 2}, warmup_steps=1, decay_power=1.0)
    lr = result.model.optimizer._learning_rate
    assert lr.decay_power == 1.0 and int(result.model.optimizer.iterations) == 2
    # warm-up 1: from step_num 2 on, the rate is the peak 32^-0.5 over step_num (not its square root)
    assert float(lr(3)) == pytest.approx(32**-0.5 / 4, rel=1e-6)
    assert read_run_info(tmp_path / "run").train["decay_power"] == 1.0


class AverageWatch(keras.callbacks.Callback):
    """Per epoch: the weights and their average before validation, what validation ran on, and after."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def snapshot(self, index):
        return [pair[index].numpy() for pair in metrics._moving_averages(self.model)]

    def on_train_batch_end(self, batch, logs=None):
        self.trained, self.averages = self.snapshot(0), self.snapshot(1)

    def on_test_begin(self, logs=None):
        self.validated = self.snapshot(0)

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((self.trained, self.averages, self.validated, self.snapshot(0)))


def test_the_moving_average_is_validated_and_saved_and_a_resumed_run_keeps_it(tmp_path):
    settings = {**QUICK, "ema_momentum": 0.5}
    watch = AverageWatch()
    whole = train("tiny", tmp_path / "a", callbacks=[watch], **settings)
    assert isinstance(whole.model.optimizer, AveragingAdam) and len(watch.epochs) == 3
    for trained, averages, validated, after in watch.epochs:
        assert any(not np.array_equal(t, a) for t, a in zip(trained, averages))
        for t, a, v, e in zip(trained, averages, validated, after):
            np.testing.assert_array_equal(v, a)  # validation measured the average...
            np.testing.assert_array_equal(e, t)  # ...and training went on from its own weights
    # The checkpoints hold what validation measured: the last epoch's average.
    _, averages, _, _ = watch.epochs[-1]
    saved = train_model_copy(whole.model)
    files.load_weights(saved, tmp_path / "a" / rd.LATEST_WEIGHTS)
    for weight, average in zip(saved.trainable_variables, averages):
        np.testing.assert_array_equal(weight.numpy(), average)
    assert read_run_info(tmp_path / "a").train["ema_momentum"] == 0.5

    # Interrupted at step 5 (backup at step 4), then resumed: the weights and their average
    # end where the uninterrupted run's did.
    keras.backend.clear_session()
    with pytest.raises(KeyboardInterrupt):
        train("tiny", tmp_path / "b", callbacks=[Interrupt(5)], **settings)
    keras.backend.clear_session()
    resumed = train("tiny", tmp_path / "b", **settings)
    for (got_w, got_a), (want_w, want_a) in zip(
        metrics._moving_averages(resumed.model), metrics._moving_averages(whole.model)
    ):
        np.testing.assert_allclose(got_w.numpy(), want_w.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got_a.numpy(), want_a.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"different run \(ema_momentum: 0.5 -> 0.0\)"):
        train("tiny", tmp_path / "b", **QUICK)


def train_model_copy(model):
    """A fresh, built model of ``model``'s configuration (to load weights files into)."""
    copy = Transformer(model.config)
    copy.build()
    return copy


def test_load_run_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*tf-transformer train --run-dir"):
        load_run(tmp_path / "missing")
    with pytest.raises(ValueError, match="not a run directory.*no run.json"):
        load_run(tmp_path)


def test_cli_prints_errors_plainly(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--preset", "huge", "--run-dir", str(tmp_path / "r")])
    assert exit_.value.code == 2 and "invalid choice: 'huge'" in capsys.readouterr().err
    assert cli.main(["train", "--warmup-steps", "0", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert (
        "tf-transformer train: error: TrainConfig.warmup_steps (--warmup-steps) must be at least 1" in err
        and "Traceback" not in err
    )
    assert not (tmp_path / "r").exists()
    assert "train" in cli.build_parser().format_help()


def test_cli_trains_the_reversed_corpus(tmp_path, capsys):
    """The CLI's flags become the run's TrainConfig; --reverse trains en -> pt on the same files."""
    path = tmp_path / "en_pt"
    flags = [
        "--preset",
        "tiny",
        "--train-examples",
        "64",
        "--validation-examples",
        "0",
        "--batch-tokens",
        "256",
        "--max-length",
        "16",
        "--max-steps",
        "2",
        "--seed",
        "1",
        "--verbose",
        "0",
        "--reverse",
    ]
    assert cli.main(["train", "--run-dir", str(path), *flags]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"training {path}: preset tiny") and "training to step 2" in lines[0]
    assert lines[-1].startswith(f"done: 2 steps in {path}")
    info = read_run_info(path)
    parser = cli.build_parser()
    recorded = dict(info.train)
    assert recorded.pop("resolved_precision") == "none"  # (what the run computes in)
    assert (
        recorded
        == TrainConfig.from_args(
            parser.parse_args(
                [
                    "train",
                    "--run-dir",
                    str(path),
                    *flags,
                    "--steps-per-epoch",
                    str(info.train["steps_per_epoch"]),
                ]
            )
        ).to_dict()
    )
    assert (info.source_language, info.target_language) == ("en", "pt")
    shipped = vocab_files(DatasetSpec())  # the corpus's own pt -> en vocabularies
    assert (path / "vocab/source.txt").read_text() == shipped["target"].read_text()
    run = load_run(path)
    assert (run.source_language, run.target_language) == ("en", "pt")
    assert run.config.input_vocab_size == int(run.source_tokenizer.get_vocab_size())
