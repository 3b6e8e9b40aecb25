"""TrainConfig: every setting declared once, validated with its range, and the same in the CLI."""

import argparse
import dataclasses
import json

import pytest

from tf_transformer import cli, recipes
from tf_transformer.config import PRESETS
from tf_transformer.constants import DEFAULT_MAX_LENGTH, MIN_MAX_LENGTH
from tf_transformer.data import DatasetSpec
from tf_transformer.training import TrainConfig, precision
from tf_transformer.training.config import PRECISION_CHOICES, flag_name
from tf_transformer.training.strategy import STRATEGIES


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir")
    TrainConfig.add_arguments(parser)
    return parser


def test_defaults_come_from_the_shared_constants():
    config = TrainConfig()
    assert config.preset == "tutorial" and config.max_length == DEFAULT_MAX_LENGTH
    assert config.dataset == DatasetSpec.parse("embedded") and config.data_dir is None
    assert config.epochs is None and config.max_steps is None and config.seed is None


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("preset", "huge", r"preset \(--preset\) must be one of tiny, tutorial, base, big, got 'huge'"),
        ("strategy", "tpu", r"strategy \(--strategy\) must be one of auto, mirrored, multiworker"),
        ("mixed_precision", "fp8", r"must be one of none, bf16, fp16, auto, got 'fp8'"),
        ("verbose", 3, r"verbose \(--verbose\) must be one of 0, 1, 2, got 3"),
        ("lr_scale", 0.0, r"lr_scale \(--lr-scale\) must be greater than 0, got 0.0"),
        ("lr_scale", -1, r"must be greater than 0, got -1"),
        ("decay_power", 0, r"decay_power \(--decay-power\) must be in \(0, 2\], got 0"),
        ("decay_power", 3, r"decay_power \(--decay-power\) must be in \(0, 2\], got 3"),
        ("ema_momentum", 1.0, r"ema_momentum \(--ema-momentum\) must be in \[0, 1\), got 1.0"),
        ("ema_momentum", -0.5, r"must be in \[0, 1\), got -0.5"),
        ("label_smoothing", 1.0, r"label_smoothing \(--label-smoothing\) must be in \[0, 1\), got 1.0"),
        ("label_smoothing", -0.1, r"must be in \[0, 1\), got -0.1"),
        ("dropout_rate", 1.0, r"dropout_rate \(--dropout-rate\) must be in \[0, 1\), got 1.0"),
        ("max_length", MIN_MAX_LENGTH - 1, rf"max_length \(--max-length\) must be at least {MIN_MAX_LENGTH}"),
        ("batch_tokens", 0, r"batch_tokens \(--batch-tokens\) must be at least 1, got 0"),
        ("epochs", 0, r"epochs \(--epochs\) must be at least 1, got 0"),
        ("max_steps", -5, r"max_steps \(--max-steps\) must be at least 1, got -5"),
        ("max_minutes", 0, r"max_minutes \(--max-minutes\) must be greater than 0, got 0"),
        ("steps_per_epoch", 0, r"steps_per_epoch \(--steps-per-epoch\) must be at least 1"),
        ("train_examples", 0, r"train_examples \(--train-examples\) must be at least 1"),
        ("validation_examples", -1, r"validation_examples \(--validation-examples\) must be at least 0"),
        ("warmup_steps", 0, r"warmup_steps \(--warmup-steps\) must be at least 1"),
        ("backup_every", -1, r"backup_every \(--backup-every\) must be at least 0"),
        ("seed", -1, r"seed \(--seed\) must be at least 0"),
        ("max_steps", 2.5, r"max_steps \(--max-steps\) must be int, got 2.5"),
        ("max_steps", True, r"must be int, got True"),
        ("lr_scale", "1", r"lr_scale \(--lr-scale\) must be a number, got '1'"),
        ("preset", None, r"preset \(--preset\) must be given"),
    ],
)
def test_each_bad_value_gets_a_message_with_the_allowed_range(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})


def test_settings_that_only_fail_together():
    with pytest.raises(
        ValueError,
        match=r"batch_tokens \(--batch-tokens\) 16 cannot hold one sentence "
        r"of max_length \(--max-length\) 32.*at least 32",
    ):
        TrainConfig(batch_tokens=16, max_length=32)
    TrainConfig(batch_tokens=32, max_length=32)  # exactly one sentence fits
    with pytest.raises(ValueError, match="max_minutes.*several workers.*max_steps"):
        TrainConfig(max_minutes=1, strategy="multiworker")


def test_plain_values_become_the_richer_types():
    config = TrainConfig(dataset="embedded", lr_scale=2, max_minutes=1)
    assert config.dataset == DatasetSpec.parse("embedded")
    assert isinstance(config.lr_scale, float) and isinstance(config.max_minutes, float)
    assert TrainConfig(dataset=config.dataset.to_dict()).dataset == config.dataset


def test_to_dict_is_json_and_round_trips():
    config = TrainConfig(preset="tiny", max_steps=7, seed=3, dropout_rate=0.2, norm_first=True)
    recorded = json.loads(json.dumps(config.to_dict()))
    assert recorded["dataset"] == config.dataset.to_dict()
    assert TrainConfig.from_dict(recorded) == config
    with pytest.raises(ValueError, match="Unknown TrainConfig fields: colour"):
        TrainConfig.from_dict({**recorded, "colour": "red"})


def test_the_same_run_check_compares_only_the_fixed_fields():
    fixed = set(TrainConfig.fixed_fields())
    assert {
        "preset",
        "dataset",
        "tokenizer",  # the vocabularies' kind: the model's ids mean pieces of that kind
        "max_length",
        "batch_tokens",
        "seed",
        "steps_per_epoch",
        "train_examples",
        "warmup_steps",
        "lr_scale",
        "decay_power",
        "ema_momentum",
        "label_smoothing",
        "num_layers",
        "dropout_rate",
        "norm_first",
        "mixed_precision",  # the optimizer's state differs (fp16 scales the loss): no exact resume
    } == fixed
    config = TrainConfig(preset="tiny", batch_tokens=512, seed=7)
    recorded = config.to_dict()
    # How long, on what hardware, how verbose: free to change when resuming.
    assert (
        dataclasses.replace(
            config, max_steps=99, strategy="mirrored", verbose=0, max_minutes=5, backup_every=3
        ).differences(recorded)
        == []
    )
    assert dataclasses.replace(config, batch_tokens=1024).differences(recorded) == [
        "batch_tokens: 512 -> 1024"
    ]
    assert (
        dataclasses.replace(config, dataset=DatasetSpec.parse("embedded", reverse=True))
        .differences(recorded)[0]
        .startswith("dataset: ")
    )
    # An older run.json: a dataset name, and fewer settings (those are not compared).
    old = {"preset": "tiny", "dataset": "embedded", "batch_tokens": 512}
    assert config.differences(old) == []
    # ...except the ones added since: a record without them trained with their defaults.
    assert dataclasses.replace(config, ema_momentum=0.99).differences(old) == ["ema_momentum: 0.0 -> 0.99"]
    assert dataclasses.replace(config, decay_power=1.0).differences(old) == ["decay_power: 0.5 -> 1.0"]


def test_cli_flags_are_the_fields():
    parser = train_parser()
    actions = {a.dest: a for a in parser._actions if a.dest not in ("help", "run_dir")}
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    data_flags = set(vars(_data_parser().parse_args([])))
    # Every field has a flag (the data fields through DatasetSpec.add_arguments), and no flag
    # is anything but a field or a data flag.
    assert set(fields) - {"dataset"} <= set(actions)
    assert set(actions) == (set(fields) - {"dataset"}) | data_flags
    for name, field in fields.items():
        if not field.metadata["flag"]:
            continue
        action = actions[name]
        assert action.option_strings == [flag_name(name)]
        assert action.default == field.default, name
        assert (tuple(action.choices) if action.choices else None) == field.metadata["choices"], name
    assert tuple(actions["preset"].choices) == tuple(PRESETS)
    assert tuple(actions["strategy"].choices) == STRATEGIES
    assert tuple(actions["mixed_precision"].choices) == PRECISION_CHOICES


@pytest.mark.parametrize(
    "gpus, flags, expected",
    [
        ([], {"avx2", "fma"}, "none"),  # AMD EPYC Zen 3: bf16 measured 0.97x float32
        ([], {"avx2", "avx512f", "avx512_bf16"}, "bf16"),  # AMD EPYC Zen 4: the demo's check passed
        ([], {"avx512f", "amx_bf16", "amx_tile"}, "bf16"),  # AMX: measured 1.19x
        ([(8, 0)], set(), "bf16"),  # an A100
        ([(9, 0), (8, 6)], set(), "bf16"),
        ([(7, 0)], {"amx_bf16"}, "none"),  # a V100 trains, whatever the host CPU has
    ],
)
def test_auto_precision_picks_bf16_only_where_the_hardware_multiplies_it(gpus, flags, expected):
    choice, why = precision.resolve("auto", gpus=gpus, flags=flags)
    assert choice == expected and why
    for explicit in ("none", "bf16", "fp16"):
        assert precision.resolve(explicit, gpus=gpus, flags=flags) == (explicit, "asked for")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu sse2 amx_bf16\n\nprocessor\t: 1\n")
    assert precision.cpu_flags(cpuinfo) == {"fpu", "sse2", "amx_bf16"}
    assert precision.cpu_flags(tmp_path / "missing") == set()


@pytest.mark.parametrize(
    "recorded, resolved, asked, changed",
    [
        ("auto", "bf16", "auto", None),  # auto resumes a run in its own precision, on any machine
        ("auto", "none", "auto", None),
        ("none", "none", "auto", None),
        ("auto", "bf16", "none", "'bf16' -> 'none'"),  # another precision asked for: another run
        ("auto", "none", "bf16", "'none' -> 'bf16'"),
        ("auto", None, "auto", None),  # a run from before the record
        ("auto", None, "none", "'bf16' -> 'none'"),  # ... which auto trained in bfloat16 here
    ],
)
def test_a_run_keeps_the_precision_it_began_in(monkeypatch, recorded, resolved, asked, changed):
    monkeypatch.setattr(precision, "gpu_compute_capabilities", lambda: [])
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx512f", "amx_bf16"})  # auto: bf16 here
    record = TrainConfig(preset="tiny", mixed_precision=recorded).to_dict()
    if resolved:
        record[precision.RESOLVED_PRECISION] = resolved
    differences = TrainConfig(preset="tiny", mixed_precision=asked).differences(record)
    assert differences == ([f"mixed_precision: {changed}"] if changed else [])


def _data_parser():
    parser = argparse.ArgumentParser()
    DatasetSpec.add_arguments(parser)
    return parser


def test_cli_defaults_and_values_build_the_same_config():
    parser = train_parser()
    assert TrainConfig.from_args(parser.parse_args([])) == TrainConfig()
    args = parser.parse_args(
        [
            "--preset",
            "tiny",
            "--max-steps",
            "7",
            "--max-minutes",
            "1.5",
            "--batch-tokens",
            "512",
            "--max-length",
            "32",
            "--seed",
            "3",
            "--lr-scale",
            "0.5",
            "--decay-power",
            "1",
            "--ema-momentum",
            "0.99",
            "--label-smoothing",
            "0",
            "--num-layers",
            "2",
            "--dropout-rate",
            "0.2",
            "--norm-first",
            "--jit-compile",
            "--mixed-precision",
            "bf16",
            "--validation-examples",
            "0",
            "--verbose",
            "2",
            "--reverse",
            "--data-dir",
            "/tmp/tfds",
        ]
    )
    assert TrainConfig.from_args(args) == TrainConfig(
        preset="tiny",
        max_steps=7,
        max_minutes=1.5,
        batch_tokens=512,
        max_length=32,
        seed=3,
        lr_scale=0.5,
        decay_power=1.0,
        ema_momentum=0.99,
        label_smoothing=0.0,
        num_layers=2,
        dropout_rate=0.2,
        norm_first=True,
        jit_compile=True,
        mixed_precision="bf16",
        validation_examples=0,
        verbose=2,
        dataset=DatasetSpec.parse("embedded", reverse=True),
        data_dir="/tmp/tfds",
    )


def test_cli_help_lists_every_setting_once():
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for field in dataclasses.fields(TrainConfig):
        if field.metadata["flag"]:
            assert flag_name(field.name) in help_text, field.name
    assert "--dataset" in help_text and "--reverse" in help_text and "--data-dir" in help_text


def test_invalid_cli_values_write_nothing(tmp_path, capsys):
    run_dir = tmp_path / "run"
    for flags in (
        ["--lr-scale", "0"],
        ["--label-smoothing", "1"],
        ["--max-length", "2"],
        ["--batch-tokens", "16", "--max-length", "32"],
        ["--max-steps", "0"],
    ):
        assert cli.main(["train", "--preset", "tiny", "--run-dir", str(run_dir), *flags]) == 2
        err = capsys.readouterr().err
        assert "tf-transformer train: error: TrainConfig." in err and "Traceback" not in err
        assert not run_dir.exists(), flags


def test_every_recipe_is_a_valid_config_and_the_defaults_are_the_papers():
    for name in recipes.NAMES:
        TrainConfig(**recipes.recipe(name))  # each field known and in its range
    assert recipes.recipe("smoke", max_steps=3) == {**recipes.recipe("smoke"), "max_steps": 3}
    assert recipes.recipe("smoke") is not recipes.recipe("smoke")  # a fresh copy each time
    paper = TrainConfig(**recipes.recipe("paper"))
    assert paper == TrainConfig(preset="tutorial")  # what the defaults' help calls the paper's
    with pytest.raises(KeyError, match="the recipes are paper, course, course-fast, demo, real-text"):
        recipes.recipe("tutorial")


def test_the_demos_flags_are_train_configs_with_the_recipes_as_defaults():
    from tf_transformer import demo

    parser = cli.build_parser()
    actions = {a.dest: a for a in parser._subparsers._group_actions[0].choices["demo"]._actions}
    fields = {field.name: field for field in dataclasses.fields(TrainConfig)}
    for name in demo.FLAGS:  # TrainConfig's flag and help text, the recipe's value as the default
        action = actions[name]
        assert flag_name(name) in action.option_strings and action.default is None, name
        assert action.help.startswith(fields[name].metadata["help"] + " (default: "), name
    assert actions["num_layers"].help.endswith(
        "(default: 1 on the embedded corpus (recipe demo), 2 on any other (recipe real-text))"
    )
    assert actions["max_minutes"].option_strings == ["--max-minutes", "--minutes"]
    # Every flag the demo took before, with the same meaning; None means "the recipe's".
    argv = ["demo", "--preset", "tiny", "--num-layers", "2", "--minutes", "0.5", "--seed", "3"]
    argv += ["--stop-at-accuracy", "0.9", "--warmup-steps", "20", "--run-dir", "r", "--examples", "1"]
    argv += ["--limit", "4", "--dataset", "embedded", "--reverse"]
    args = parser.parse_args(argv)
    config = demo.train_config(DatasetSpec.from_args(args), args)
    given = dict(preset="tiny", num_layers=2, max_minutes=0.5, seed=3, stop_at_accuracy=0.9, warmup_steps=20)
    assert config == TrainConfig(
        **{**recipes.recipe("demo"), **given}, dataset=DatasetSpec.parse("embedded", reverse=True)
    )
    args = parser.parse_args(["demo"])
    assert demo.train_config(DatasetSpec.from_args(args), args) == TrainConfig(**recipes.recipe("demo"))


def test_the_exit_code_table_names_classes_that_exist():
    import importlib

    for name, (code, report) in cli.EXIT_CODES.items():
        module, _, qualname = name.rpartition(".")
        cls = getattr(importlib.import_module(module), qualname)
        assert issubclass(cls, BaseException), name
        assert (callable(code) or code in (1, 2)) and callable(report), name
    # The most specific listed class decides.
    from tf_transformer.files import WriteError
    from tf_transformer.training.stops import TrainingInterrupted

    assert cli._exit_code(WriteError("x"))[0] == 1 and cli._exit_code(FileNotFoundError("x"))[0] == 2
    assert cli._exit_code(PermissionError("x"))[0] == 1 and cli._exit_code(RuntimeError("x")) is None
    stopped = TrainingInterrupted(step=3, signum=15)
    code, report = cli._exit_code(stopped)
    assert code(stopped) == 143 and report(stopped, None) == str(stopped)
