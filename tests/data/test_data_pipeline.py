"""make_batches: shapes, token budget, padding at the end, efficiency."""

import numpy as np
import pytest
import tensorflow as tf

from tf_transformer.constants import END_ID, START_ID
from tf_transformer.corpus import corpus
from tf_transformer.data import load_tokenizers, make_batches
from tf_transformer.data.pipeline import bucket_boundaries

TOKENIZERS = load_tokenizers()
PAIRS = corpus.read("test")
DATASET = tf.data.Dataset.from_tensor_slices(([p for p, _ in PAIRS], [e for _, e in PAIRS]))
BUDGET = 1024


@pytest.fixture(scope="module")
def batches():
    ds = make_batches(
        DATASET, TOKENIZERS.source, TOKENIZERS.target, max_length=64, batch_tokens=BUDGET, seed=0
    )
    return [((pt.numpy(), en_in.numpy()), en_out.numpy()) for (pt, en_in), en_out in ds]


def test_structure_shapes_and_dtype():
    ds = make_batches(DATASET, TOKENIZERS.source, TOKENIZERS.target, batch_tokens=BUDGET)
    (pt_spec, en_in_spec), en_out_spec = ds.element_spec
    for spec in (pt_spec, en_in_spec, en_out_spec):
        assert spec.dtype == tf.int64 and spec.shape.rank == 2


def test_every_sentence_once_and_target_shifted(batches):
    assert sum(pt.shape[0] for (pt, _), _ in batches) == len(PAIRS)
    for (pt, en_in), en_out in batches:
        assert pt.shape[0] == en_in.shape[0] == en_out.shape[0]
        assert en_in.shape == en_out.shape
        assert (en_in[:, 0] == START_ID).all() and (pt[:, 0] == START_ID).all()
        np.testing.assert_array_equal(en_in[:, 1:], en_out[:, :-1])
        lengths = (en_out != 0).sum(axis=1)
        assert (en_out[np.arange(len(lengths)), lengths - 1] == END_ID).all()


def test_token_budget_is_respected(batches):
    for (pt, en_in), _ in batches:
        assert pt.shape[0] * pt.shape[1] <= BUDGET
        assert en_in.shape[0] * en_in.shape[1] <= BUDGET


def test_padding_only_at_the_end(batches):
    for (pt, en_in), en_out in batches:
        for ids in (pt, en_in, en_out):
            real = ids != 0
            # once a row hits padding it stays padding
            assert (np.diff(real.astype(int), axis=1) <= 0).all()
            assert real.any(axis=1).all()


def test_max_length_caps_both_sides():
    ds = make_batches(DATASET, TOKENIZERS.source, TOKENIZERS.target, max_length=8, batch_tokens=64)
    for (pt, en_in), en_out in ds:
        assert pt.shape[1] <= 8 and en_in.shape[1] <= 8 and en_out.shape[1] <= 8


def test_budget_smaller_than_one_sentence_is_a_clear_error():
    with pytest.raises(ValueError, match="batch_tokens=100 cannot hold a single sentence"):
        make_batches(DATASET, TOKENIZERS.source, TOKENIZERS.target, max_length=128, batch_tokens=100)
    with pytest.raises(ValueError, match="max_length must be at least 3"):
        make_batches(DATASET, TOKENIZERS.source, TOKENIZERS.target, max_length=2)


def test_seed_makes_order_reproducible():
    def first(seed):
        ds = make_batches(DATASET, TOKENIZERS.source, TOKENIZERS.target, batch_tokens=BUDGET, seed=seed)
        return next(iter(ds))[0][0].numpy()

    np.testing.assert_array_equal(first(3), first(3))


def test_buckets_cover_all_lengths():
    bounds = bucket_boundaries(128)
    assert bounds == sorted(bounds) and bounds[-1] <= 128 and bounds[0] > 1


def test_bucketing_wastes_less_than_fixed_batches(batches):
    def efficiency(batch_list):
        real = sum((pt != 0).sum() + (en != 0).sum() for (pt, en), _ in batch_list)
        total = sum(pt.size + en.size for (pt, en), _ in batch_list)
        return real / total

    batch_size = round(len(PAIRS) / len(batches))
    tokenized = DATASET.batch(256).map(
        lambda pt, en: (TOKENIZERS.source.tokenize(pt), TOKENIZERS.target.tokenize(en))
    )
    baseline = []
    for pt, en in (
        tokenized.unbatch()
        .map(lambda a, b: (a, b))
        .shuffle(5000, seed=0)
        .apply(tf.data.experimental.dense_to_ragged_batch(batch_size))
    ):
        pt, en = pt.to_tensor().numpy(), en.to_tensor().numpy()
        baseline.append(((pt, en[:, :-1]), en[:, 1:]))
    bucketed, plain = efficiency(batches), efficiency(baseline)
    print(f"padding efficiency: bucketed {bucketed:.1%}, padded_batch({batch_size}) {plain:.1%}")
    assert bucketed > 0.85 and bucketed > plain + 0.15
