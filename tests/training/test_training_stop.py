"""Stopping once the model is good: ``stop_at_accuracy`` and ``patience`` (issue 14, item 2).

The rule is judged on the run's recorded history, at an epoch end that is
already validated, recorded and backed up, so a rerun of a stopped run stays
stopped and a run interrupted while it waits for an improvement keeps its count.
The training tests use the tiny preset on a slice of the embedded corpus.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import dataclasses
import json
import math
import re
from types import SimpleNamespace

import keras
import pytest
from helpers.runs import smoke_flags

from tf_transformer import cli
from tf_transformer import runs as rd
from tf_transformer.data import DatasetSpec
from tf_transformer.recipes import recipe
from tf_transformer.runs import load_run
from tf_transformer.training import TrainConfig, train
from tf_transformer.training.resume import HistoryFile, StepBackup
from tf_transformer.training.stops import QualityStop

# Epochs of 3 steps, validation after each, room for 10 epochs: a stop is what ends these runs.
QUICK = recipe("smoke", steps_per_epoch=3, max_steps=30, backup_every=0, seed=5)


def history(path):
    return json.loads((path / rd.HISTORY_FILE).read_text())


def judged(rows, **settings):
    """``QualityStop`` on a history of hand-written rows: (reason, message)."""
    file = HistoryFile("unused.json", write=False)
    file.epochs = rows
    stop = QualityStop(file, **settings)
    return stop.judge(), stop.message


def row(epoch, **metrics):
    return {"epoch": epoch, "step": 10 * epoch, **metrics}


# -- the rule, on written histories ----------------------------------------------------------


def test_accuracy_is_judged_on_the_last_epoch():
    rows = [row(1, val_masked_accuracy=0.5), row(2, val_masked_accuracy=0.99)]
    reason, message = judged(rows, accuracy=0.99)
    assert reason == QualityStop.QUALITY == "quality reached"
    assert message == "val_masked_accuracy 0.9900 reached the target 0.99 at epoch 2 (step 20)"
    assert judged(rows, accuracy=0.995) == (None, None)
    # An earlier good epoch does not count: the model that would be kept is today's.
    assert judged(list(reversed(rows)), accuracy=0.99)[0] is None
    assert judged([], accuracy=0.5, patience=1) == (None, None)


def test_patience_counts_epoch_ends_since_the_lowest_loss():
    losses = [3.0, 2.0, 2.5, 2.0, 2.2]  # the best is epoch 2; a tie (epoch 4) is no improvement
    rows = [row(i + 1, val_loss=v) for i, v in enumerate(losses)]
    reason, message = judged(rows, patience=3)
    assert reason == QualityStop.NO_IMPROVEMENT == "no improvement"
    assert message == "val_loss has not improved on 2.0000 (epoch 2) in 3 epoch ends (patience 3)"
    assert judged(rows, patience=4) == (None, None)
    assert judged(rows[:4], patience=3) == (None, None)
    # Rows without the value, or with a NaN one, are not evaluations.
    holes = rows[:2] + [row(3, loss=1.0), row(4, val_loss=math.nan)] + rows[2:]
    assert judged(holes, patience=3)[0] == "no improvement"
    assert judged(holes, patience=4)[0] is None


def test_without_validation_the_training_metrics_are_judged():
    rows = [row(1, loss=2.0, masked_accuracy=0.7), row(2, loss=2.1, masked_accuracy=0.8)]
    assert judged(rows, accuracy=0.8, prefix="")[0] == "quality reached"
    assert judged(rows, accuracy=0.8)[0] is None  # no val_masked_accuracy in these rows
    assert judged(rows, patience=1, prefix="")[1].startswith("loss has not improved on 2.0000 (epoch 1)")


def test_either_rule_stops_and_accuracy_is_named_first():
    rows = [row(1, val_loss=1.0, val_masked_accuracy=0.9), row(2, val_loss=1.1, val_masked_accuracy=0.95)]
    assert judged(rows, accuracy=0.95, patience=1)[0] == "quality reached"
    assert judged(rows, accuracy=0.99, patience=1)[0] == "no improvement"


# -- the settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("stop_at_accuracy", 0, r"stop_at_accuracy \(--stop-at-accuracy\) must be in \(0, 1\], got 0"),
        ("stop_at_accuracy", 1.5, r"must be in \(0, 1\], got 1.5"),
        ("stop_at_accuracy", "high", r"must be a number, got 'high'"),
        ("patience", 0, r"patience \(--patience\) must be at least 1, got 0"),
        ("patience", 2.5, r"patience \(--patience\) must be int, got 2.5"),
    ],
)
def test_bad_stop_settings_name_the_allowed_range(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})


def test_stop_settings_are_adjustable_on_resume_not_run_defining():
    config = TrainConfig(preset="tiny", stop_at_accuracy=0.99, patience=3)
    assert {"stop_at_accuracy", "patience"}.isdisjoint(TrainConfig.fixed_fields())
    assert config.to_dict()["stop_at_accuracy"] == 0.99 and config.to_dict()["patience"] == 3
    changed = dataclasses.replace(config, stop_at_accuracy=1, patience=None)
    assert changed.differences(config.to_dict()) == [] and changed.stop_at_accuracy == 1.0


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--stop-at-accuracy", "0"], "TrainConfig.stop_at_accuracy (--stop-at-accuracy) must be in (0, 1]"),
        (["--stop-at-accuracy", "99"], "TrainConfig.stop_at_accuracy (--stop-at-accuracy) must be in (0, 1]"),
        (["--patience", "0"], "TrainConfig.patience (--patience) must be at least 1, got 0"),
    ],
)
def test_bad_cli_stop_values_fail_plainly_and_write_nothing(tmp_path, capsys, flags, message):
    run_dir = tmp_path / "run"
    assert cli.main(["train", "--preset", "tiny", "--run-dir", str(run_dir), *flags]) == 2
    err = capsys.readouterr().err
    assert f"tf-transformer train: error: {message}" in err and "Traceback" not in err
    assert not run_dir.exists()


def test_cli_parses_the_stop_flags():
    args = cli.build_parser().parse_args(
        ["train", "--run-dir", "r", "--stop-at-accuracy", "0.99", "--patience", "3"]
    )
    config = TrainConfig.from_args(args)
    assert config.stop_at_accuracy == 0.99 and config.patience == 3


# -- training that stops -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run whose accuracy target is met at its first epoch end."""
    path = tmp_path_factory.mktemp("runs") / "stopped"
    result = train("tiny", path, stop_at_accuracy=1e-3, **QUICK)
    keras.backend.clear_session()
    return path, result


@pytest.mark.slow
def test_a_reached_target_stops_at_the_epoch_end_with_everything_saved(stopped_run, capsys):
    path, result = stopped_run
    assert result.stopped == "quality reached" and result.steps == 3
    assert [(e["epoch"], e["step"]) for e in history(path)] == [(1, 3)]
    assert "val_masked_accuracy" in history(path)[0] and "partial" not in history(path)[0]
    assert StepBackup.read_info(path / rd.BACKUP_DIR)["step"] == 3  # the stopped epoch is saved
    for name in (rd.MODEL_FILE, rd.WEIGHTS_FILE, rd.BEST_WEIGHTS, rd.LATEST_WEIGHTS):
        assert (path / name).is_file(), name
    assert load_run(path).model.count_params() == result.model.count_params()
    assert rd.read_run_info(path).train["stop_at_accuracy"] == 1e-3


@pytest.mark.slow
def test_the_same_command_again_stays_stopped_and_a_higher_target_trains_on(stopped_run, capsys):
    path, _ = stopped_run
    rows = history(path)
    again = train("tiny", path, stop_at_accuracy=1e-3, **QUICK)
    out = capsys.readouterr().out
    assert again.stopped == "quality reached" and again.steps == 3
    assert "stopped at step 3: val_masked_accuracy" in out and "nothing to train" in out
    assert history(path) == rows and StepBackup.read_info(path / rd.BACKUP_DIR)["step"] == 3
    keras.backend.clear_session()

    # The target is not run-defining: a higher one (here out of reach) trains on, to max_steps.
    more = train("tiny", path, stop_at_accuracy=1.0, **{**QUICK, "max_steps": 6})
    assert more.stopped == "done" and more.steps == 6
    assert [e["step"] for e in history(path)] == [3, 6]
    keras.backend.clear_session()


@pytest.mark.slow
def test_patience_stops_a_run_that_no_longer_learns_and_the_rerun_agrees(tmp_path, capsys):
    path = tmp_path / "run"
    # A learning rate so small that no weight changes: every validation loss equals the first.
    result = train("tiny", path, patience=2, lr_scale=1e-9, **QUICK)
    assert result.stopped == "no improvement" and result.steps == 9
    rows = history(path)
    assert [e["step"] for e in rows] == [3, 6, 9]
    assert rows[0]["val_loss"] == rows[1]["val_loss"] == rows[2]["val_loss"]
    assert "stopped at step 9: val_loss has not improved" in capsys.readouterr().out
    assert (path / rd.MODEL_FILE).is_file() and (path / rd.WEIGHTS_FILE).is_file()
    keras.backend.clear_session()

    again = train("tiny", path, patience=2, lr_scale=1e-9, **QUICK)
    assert again.stopped == "no improvement" and again.steps == 9 and history(path) == rows
    keras.backend.clear_session()
    # More patience: one more epoch, then the same rule stops it again.
    more = train("tiny", path, patience=3, lr_scale=1e-9, **QUICK)
    assert more.stopped == "no improvement" and more.steps == 12
    keras.backend.clear_session()


@pytest.mark.slow
def test_the_command_line_says_why_it_stopped(tmp_path, capsys):
    flags = smoke_flags(QUICK)
    argv = ["train", "--preset=tiny", f"--run-dir={tmp_path / 'run'}", *flags, "--stop-at-accuracy=0.001"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "stopped at step 3: val_masked_accuracy" in out
    assert f"quality reached: 3 steps in {tmp_path / 'run'}" in out


def test_the_demo_trains_to_a_target_and_refuses_a_bad_one_before_any_work(tmp_path, capsys):
    from tf_transformer import demo

    args = cli.build_parser().parse_args(["demo", "--run-dir", str(tmp_path / "run")])
    config = demo.train_config(DatasetSpec.from_args(args), args)
    ours = recipe("demo")
    assert config.stop_at_accuracy == ours["stop_at_accuracy"] and config.patience == ours["patience"]
    assert config.max_minutes == 10.0  # the time budget stays, as a cap
    assert (config.preset, config.num_layers) == ("tutorial", 1)
    argv = ["demo", "--run-dir", str(tmp_path / "run"), "--data-dir", str(tmp_path / "data")]
    assert cli.main([*argv, "--stop-at-accuracy", "2"]) == 2
    assert "stop_at_accuracy (--stop-at-accuracy) must be in (0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "data").exists()


@pytest.mark.slow
def test_the_demo_runs_end_to_end_and_says_where_its_time_went(tmp_path, capsys):
    # The whole main job on the tiny preset with one layer, its training cut to a few seconds by
    # the cap, scored on the first 16 sentences of each split (a whole split: test_inference_cli),
    # with the session's prepared corpus (preparing it: test_data_tfds).
    run = tmp_path / "run"
    argv = ["demo", "--preset", "tiny", "--num-layers", "1", "--minutes", "0.1", "--run-dir", str(run)]
    assert cli.main([*argv, "--examples", "2", "--limit", "16"]) == 0
    out = capsys.readouterr().out
    for title in ("1. data", "2. training", "3. evaluation (sacreBLEU)", "4. export, reload, translate"):
        assert f"== {title} " in out
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"test BLEU greedy [\d.]+, beam 4 [\d.]+; generalization BLEU greedy [\d.]+, beam 4 [\d.]+; "
        r"demo wall time [\d.]+ minutes \(data [\d.]+, training [\d.]+, evaluation [\d.]+, export [\d.]+\)",
        last,
    ), last
    metrics = json.loads((run / "metrics.json").read_text())
    keys = ("test/greedy", "test/beam4", "generalization/greedy", "generalization/beam4")
    assert set(metrics) == {f"{key}/limit-16" for key in keys}
    assert all(entry["sentences"] == 16 for entry in metrics.values())
    assert (run / "export" / "1" / "saved_model.pb").is_file()
    info = rd.read_run_info(run)
    settings = info.train
    assert settings["ema_momentum"] == 0.99 and settings["lr_scale"] == 0.5 and settings["num_layers"] == 1
    assert (info.model.num_layers, info.model.d_model) == (1, 32)  # the tiny preset's width
    assert "2. training the tiny preset with 1 layer to validation accuracy" in out
    # The export (from the evaluation's translator) translated the classic sentence and 2 examples.
    assert out.count("\nsource     ") == 3 and "source     O animal não atravessou a rua" in out


def test_the_demo_trains_real_text_with_the_real_text_recipe(tmp_path, monkeypatch, capsys):
    import tf_transformer.training
    from tf_transformer import demo

    argv = ["demo", "--dataset", "gettext:pt_BR", "--run-dir", str(tmp_path / "run"), "--minutes", "3"]
    args = cli.build_parser().parse_args(argv)
    config = demo.train_config(DatasetSpec.from_args(args), args)
    for name, value in recipe("real-text", max_minutes=3.0).items():
        assert getattr(config, name) == value, name
    assert config.num_layers == 2 and config.stop_at_accuracy is None  # the recipe's 2; the loss decides
    trained = []  # what the demo's training stage says and passes on (the training itself: elsewhere)
    monkeypatch.setattr(
        tf_transformer.training,
        "train",
        lambda *a: trained.append(a) or SimpleNamespace(steps=0, stopped="done", history=[]),
    )
    demo.train_run(config, tmp_path / "run", args)
    assert trained == [(config, tmp_path / "run")]
    assert (
        "training the tutorial preset with 2 layers until the validation loss stops improving (4 epochs), "
        in (capsys.readouterr().out)
    )
    args = cli.build_parser().parse_args([*argv, "--num-layers", "3", "--warmup-steps", "100"])
    config = demo.train_config(DatasetSpec.from_args(args), args)
    assert (config.num_layers, config.warmup_steps, config.dropout_rate) == (3, 100, 0.1)
