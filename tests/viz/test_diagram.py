"""The architecture figure is drawn from the config: its numbers, its layers and its norms follow it."""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import io
import pathlib
import subprocess
import sys

import matplotlib.text
import pytest

from tf_transformer import TransformerConfig
from tf_transformer.viz.diagram import architecture_figure

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def texts(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def gids(fig) -> list[str]:
    return [p.get_gid() for p in fig.axes[0].patches if p.get_gid()]


def config(**overrides) -> TransformerConfig:
    sizes = {"input_vocab_size": 2024, "target_vocab_size": 806, **overrides}
    return TransformerConfig.from_preset("tutorial", **sizes)


def test_the_config_numbers_are_in_the_figure():
    text = texts(architecture_figure(config()))
    for expected in ("N = 4", "d_model = 128", "h = 8 heads", "d_k = 16", "d_ff = 512", "dropout 0.1"):
        assert expected in text
    assert "2024 × 128 table" in text and "806 × 128 table" in text  # the two embeddings
    assert "128 → 512 → 128" in text  # the feed-forward network
    assert "128 → 806" in text and "(batch, T, 806)" in text  # the projection and the logits


def test_the_course_model_is_drawn_as_notebook_6_trains_it():
    """Notebooks 1 and 4 draw it so: pre-norm, sentences of up to 64 tokens (issue 34)."""
    text = texts(architecture_figure(config(norm_first=True, max_length=64)))
    assert "pre-norm" in text and "max_length 64" in text and "sin/cos, 64 × 128 table" in text
    # The encoder reads the source as the tokenizer writes it, [START] first; the decoder its shifted target.
    assert "[START] w1 w2 … [END]" in text and "[START] w1 w2 … (teacher forcing)" in text


def test_the_figure_changes_with_the_config():
    text = texts(
        architecture_figure(
            TransformerConfig.from_preset(
                "base", input_vocab_size=37000, target_vocab_size=32000, dropout_rate=0.3
            )
        )
    )
    for expected in ("N = 6", "d_model = 512", "h = 8 heads", "d_k = 64", "d_ff = 2048", "dropout 0.3"):
        assert expected in text
    assert "37000 × 512 table" in text and "32000 × 512 table" in text
    assert "512 → 2048 → 512" in text and "(batch, T, 32000)" in text
    assert "d_model = 128" not in text and "806" not in text


@pytest.mark.parametrize("num_layers", [1, 3, 7])
def test_each_stack_draws_num_layers_layers(num_layers):
    drawn = gids(architecture_figure(config(num_layers=num_layers)))
    for side in ("encoder", "decoder"):
        assert sorted(g for g in drawn if g.startswith(f"{side}_layer_")) == sorted(
            f"{side}_layer_{i}" for i in range(1, num_layers + 1)
        )


def test_the_layers_are_the_ones_the_library_builds():
    drawn = gids(architecture_figure(config()))
    assert [g for g in drawn if g.startswith("encoder_") and g.endswith(("attention", "ffn"))] == [
        "encoder_self_attention",
        "encoder_ffn",
    ]
    assert [g for g in drawn if g.startswith("decoder_") and g.endswith(("attention", "ffn"))] == [
        "decoder_self_attention",
        "decoder_cross_attention",
        "decoder_ffn",
    ]
    # Post-norm: every sub-layer ends in add & norm, and no stack has a final norm.
    assert sum(g.endswith("_add_norm") for g in drawn) == 5
    assert not [g for g in drawn if g.endswith(("_final_norm", "_norm")) and not g.endswith("_add_norm")]


def test_pre_norm_and_shared_embeddings_are_drawn_as_the_code_runs_them():
    fig = architecture_figure(config(norm_first=True))
    drawn = gids(fig)
    assert sum(g.endswith("_norm") and not g.endswith("_final_norm") for g in drawn) == 5  # norm before f
    assert sum(g.endswith("_add") for g in drawn) == 5  # and a plain residual add after it
    assert {"encoder_final_norm", "decoder_final_norm"} <= set(drawn)  # LayerStack.final_norm
    assert "pre-norm" in texts(fig)

    shared = texts(
        architecture_figure(config(input_vocab_size=900, target_vocab_size=900, share_embeddings=True))
    )
    assert "Transposed embedding → logits" in shared and "Linear (Dense)" not in shared


def test_the_ablations_options_are_drawn():
    default = texts(architecture_figure(config()))
    assert "sin/cos, 128 × 128 table" in default and "d_v" not in default
    varied = texts(architecture_figure(config(positions="learned", key_dim=4, tie_output=True)))
    assert "learned 128 × 128 table" in varied and "sin/cos" not in varied
    assert "8 heads × d_k 4, d_v 16" in varied and "(d_k = 4)" in varied
    assert "Transposed embedding → logits" in varied and "806 × 128 table, shared with the output" in varied
    assert "2024 × 128 table," not in varied  # the source embedding is not tied
    assert "adds nothing" in texts(architecture_figure(config(positions="none")))


def test_shapes_use_the_given_sizes():
    text = texts(architecture_figure(config(), batch=64, source_length=40, target_length=38))
    assert "(64, 40, 128)" in text and "(64, 38, 806)" in text
    assert "(64, 8, 38, 40)" in text  # the cross-attention weights: (batch, heads, T, S)
    with pytest.raises(ValueError, match="max_length"):
        architecture_figure(config(), source_length=129)
    with pytest.raises(ValueError, match="batch"):
        architecture_figure(config(), batch=0)


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_it_saves_without_a_display(fmt):
    buffer = io.BytesIO()
    architecture_figure(config()).savefig(buffer, format=fmt)
    assert buffer.getvalue().startswith(b"\x89PNG" if fmt == "png" else b"<?xml")


def test_jupyter_shows_it_as_an_image():
    assert architecture_figure(config())._repr_png_().startswith(b"\x89PNG")  # no pyplot needed


@pytest.mark.slow  # a fresh process
def test_the_docs_script_draws_the_readme_figure(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(DOCS / "make_figures.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / "architecture.png").read_bytes().startswith(b"\x89PNG")
    assert (DOCS / "architecture.png").is_file(), "run `python docs/make_figures.py`"
