"""benchmarks/ablations.py: its fast mode trains one tiny variant end to end and writes the table."""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import json
import os
import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "ablations.py"
COLUMNS = {
    "name",
    "label",
    "paper_row",
    "num_heads",
    "d_k",
    "positions",
    "tie_output",
    "dropout_rate",
    "label_smoothing",
    "norm_first",
    "parameters",
    "steps",
    "val_masked_accuracy",
    "val_loss",
    "bleu_test",
    "bleu_generalization",
    "train_seconds",
    "eval_seconds",
}


@pytest.mark.slow
def test_fast_mode_trains_scores_and_writes_json_and_markdown(tmp_path):
    out = tmp_path / "results" / "ablations.json"
    env = {**os.environ, "TF_TRANSFORMER_FAST": "1"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        cwd=tmp_path,  # nothing may land in the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["fast"] is True and report["steps"] == 4 and report["sentences"] == 8
    assert set(report["machine"]) >= {"cpu", "cores", "date", "tensorflow"}
    assert report["machine"]["cores"] >= 1
    assert report["skipped"] and report["total_seconds"] > 0
    [row] = report["rows"]
    assert set(row) == COLUMNS
    assert row["name"] == "baseline" and row["steps"] == 4
    assert 0.0 <= row["val_masked_accuracy"] <= 1.0 and row["val_loss"] > 0
    assert 0.0 <= row["bleu_test"] <= 100.0 and 0.0 <= row["bleu_generalization"] <= 100.0
    assert row["num_heads"] * row["d_k"] == 32  # the tiny preset's d_model
    assert row["parameters"] > 0 and row["train_seconds"] > 0 and row["eval_seconds"] > 0
    table = out.with_suffix(".md").read_text()
    assert "| variant |" in table and "fast mode" in table and "Not measured" in table
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # the run directories were scratch


def test_every_variant_changes_what_its_label_says():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ablations", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.VARIANTS["baseline"]["model"] == {} and bench.VARIANTS["baseline"]["train"] == {}
    assert {bench.VARIANTS[f"heads_{h}"]["model"]["num_heads"] for h in (1, 4, 16)} == {1, 4, 16}
    for name, variant in bench.VARIANTS.items():
        if name != "baseline":
            assert variant["model"] or variant["train"], name
    # Each model variant builds the model its label names.
    from tf_transformer.config import TransformerConfig

    built = {}
    for name, variant in bench.VARIANTS.items():
        with bench.preset_sizes("tutorial", variant["model"]):
            built[name] = TransformerConfig.from_preset("tutorial", input_vocab_size=99, target_vocab_size=98)
    assert built["key_dim_4"].head_dim == 4 and built["baseline"].head_dim == 16
    assert built["heads_16"].head_dim == 8 and built["heads_1"].head_dim == 128
    assert built["no_positions"].positions == "none" and built["learned_positions"].positions == "learned"
    assert built["baseline"].positions == "sinusoidal" and not built["baseline"].tie_output
    assert built["tied_output"].tie_output
    # A changed preset lasts only while its variant trains.
    before = dict(bench.PRESETS["tutorial"])
    with bench.preset_sizes("tutorial", {"num_heads": 1}):
        assert bench.PRESETS["tutorial"]["num_heads"] == 1
    assert bench.PRESETS["tutorial"] == before
