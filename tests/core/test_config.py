import pytest

from tf_transformer import PRESETS, Transformer, TransformerConfig


def test_presets_match_the_papers():
    assert PRESETS["tutorial"] == dict(num_layers=4, d_model=128, num_heads=8, dff=512, dropout_rate=0.1)
    base = TransformerConfig.from_preset("base", input_vocab_size=100, target_vocab_size=100)
    assert (base.num_layers, base.d_model, base.num_heads, base.dff) == (6, 512, 8, 2048)
    big = TransformerConfig.from_preset("big", input_vocab_size=100, target_vocab_size=100, dropout_rate=0.2)
    assert (big.d_model, big.num_heads, big.dff, big.dropout_rate) == (1024, 16, 4096, 0.2)


def test_base_with_shared_37k_vocab_is_near_the_papers_65m():
    cfg = TransformerConfig.from_preset(
        "base", input_vocab_size=37000, target_vocab_size=37000, share_embeddings=True
    )
    model = Transformer(cfg)
    model.build()
    assert 60e6 < model.count_params() < 66e6


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("d_model", 130, "divisible by num_heads"),
        ("num_heads", 0, "num_heads must be a positive integer"),
        ("num_layers", -1, "num_layers must be a positive integer"),
        ("dff", 2.5, "dff must be a positive integer"),
        ("dropout_rate", 1.0, "dropout_rate"),
        ("input_vocab_size", 3, "at least 4"),
        ("max_length", 0, "max_length must be a positive integer"),
        ("key_dim", 0, "key_dim must be a positive integer or None"),
        ("positions", "rotary", "positions must be one of 'sinusoidal', 'learned', 'none'"),
    ],
)
def test_bad_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        TransformerConfig.from_preset(
            "tutorial", **{"input_vocab_size": 100, "target_vocab_size": 100, field: value}
        )


def test_sharing_needs_equal_vocabularies():
    with pytest.raises(ValueError, match="share_embeddings"):
        TransformerConfig.from_preset(
            "tiny", input_vocab_size=100, target_vocab_size=90, share_embeddings=True
        )


def test_unknown_preset_and_missing_vocab():
    with pytest.raises(ValueError, match="Unknown preset 'huge'.*tiny, tutorial, base, big"):
        TransformerConfig.from_preset("huge", input_vocab_size=10, target_vocab_size=10)
    with pytest.raises(ValueError, match="needs input_vocab_size and target_vocab_size"):
        TransformerConfig.from_preset("tiny")


def test_json_round_trip_and_unknown_fields():
    cfg = TransformerConfig.from_preset("tiny", input_vocab_size=10, target_vocab_size=12, norm_first=True)
    assert TransformerConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="Unknown TransformerConfig fields: colour"):
        TransformerConfig.from_dict({**cfg.to_dict(), "colour": "red"})
