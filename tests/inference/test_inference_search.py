"""Cached greedy and beam search on token ids, against the cache-free reference decoder."""

import numpy as np
import pytest
import tensorflow as tf
from helpers.models import make_model
from helpers.runs import corpus_pairs, trained_translator

from tf_transformer.constants import END_ID, PAD_ID, START_ID
from tf_transformer.inference import (
    beam_search,
    greedy_search,
    length_penalty,
    recompute_greedy_search,
    sequence_log_probs,
)

pytestmark = pytest.mark.shared("inference_run")  # the session's trained run


@pytest.fixture(scope="module")
def translator():
    return trained_translator()


@pytest.fixture(scope="module")
def sources(translator):
    """Real test sentences of different lengths, as padded ids, plus one empty row."""
    sentences = [pt for pt, _ in corpus_pairs(count=15)] + [""]
    return translator.source_ids(tf.constant(sentences))


def _stop_positions(ids):
    """Index of each row's [END], or None."""
    return [int(np.argmax(row == END_ID)) if (row == END_ID).any() else None for row in ids]


def test_cached_greedy_equals_recompute_decoder(translator, sources):
    model, n = translator.model, translator.max_length
    cached = tf.function(lambda ids: greedy_search(model, ids, n))(sources).numpy()
    plain = tf.function(lambda ids: recompute_greedy_search(model, ids, n))(sources).numpy()
    np.testing.assert_array_equal(cached, plain)
    stops = _stop_positions(cached)
    # The model is trained: real sentences stop by themselves, at different lengths.
    assert all(s is not None for s in stops[:-1]) and len(set(stops[:-1])) > 2, stops
    assert not cached[-1].any(), "an empty source must decode to nothing"
    # Each row pads after its own [END]; the batch stopped right after the last row ended.
    for row, stop in zip(cached[:-1], stops[:-1]):
        assert (row[stop + 1 :] == PAD_ID).all() and (row[:stop] != PAD_ID).all()
    assert cached.shape[1] == max(stops[:-1]) + 1


def test_xla_compiled_steps_decode_the_same(translator, sources):
    model, n = translator.model, translator.max_length
    plain = greedy_search(model, sources, n).numpy()
    xla = tf.function(lambda ids: greedy_search(model, ids, n, jit_compile=True))(sources).numpy()
    np.testing.assert_array_equal(xla, plain)
    beam, _ = beam_search(model, sources, 4, n)
    beam_xla, _ = tf.function(lambda ids: beam_search(model, ids, 4, n, jit_compile=True))(sources)
    np.testing.assert_array_equal(beam_xla.numpy(), beam.numpy())


def test_beam_size_one_is_greedy(translator, sources):
    model, n = translator.model, translator.max_length
    greedy = greedy_search(model, sources, n).numpy()
    beam, _ = beam_search(model, sources, 1, n)
    np.testing.assert_array_equal(beam.numpy(), greedy)


def test_beam_never_scores_worse_than_greedy(translator, sources):
    model, n = translator.model, translator.max_length
    greedy = greedy_search(model, sources, n)
    beam, beam_scores = beam_search(model, sources, 4, n, alpha=0.6)

    def score(ids):
        log_probs, lengths = sequence_log_probs(model, sources, ids)
        return (log_probs / length_penalty(lengths, 0.6)).numpy()[:-1]  # the empty row has no score

    greedy_score, beam_score = score(greedy), score(beam)
    # The score beam search reports is the one a separate teacher-forced pass gives.
    np.testing.assert_allclose(beam_scores.numpy()[:-1], beam_score, rtol=1e-4, atol=1e-4)
    assert (beam_score >= greedy_score - 1e-4).all(), (beam_score, greedy_score)
    assert not np.array_equal(beam.numpy(), greedy.numpy()), "beam 4 found nothing better anywhere"


@pytest.mark.parametrize("beam_size", [1, 4])
def test_mixed_length_batch_equals_each_alone(translator, sources, beam_size):
    model, n = translator.model, translator.max_length

    def decode(ids):
        if beam_size == 1:
            return greedy_search(model, ids, n).numpy()
        return beam_search(model, ids, beam_size, n)[0].numpy()

    together = decode(sources)
    for i in range(0, sources.shape[0], 3):  # every third row keeps the test quick
        alone_ids = sources[i : i + 1]
        width = int(tf.reduce_sum(tf.cast(alone_ids != 0, tf.int32)))
        alone = decode(alone_ids[:, : max(width, 1)])[0]  # its own length: no padding at all
        row = together[i]
        np.testing.assert_array_equal(row[: len(alone)], alone)
        assert not row[len(alone) :].any()


def test_decoding_stops_at_max_new_tokens():
    # An untrained model whose [END] can never win decodes exactly max_new_tokens tokens.
    model = make_model()
    bias = model.final_layer.bias.numpy()
    bias[END_ID] = -1e4
    model.final_layer.bias.assign(bias)
    S, E = START_ID, END_ID
    ids = tf.constant([[S, 5, 6, 7, E], [S, 9, E, 0, 0], [0, 0, 0, 0, 0]])
    greedy = greedy_search(model, ids, 7).numpy()
    beam, scores = beam_search(model, ids, 3, 7)
    for out in (greedy, beam.numpy()):
        assert out.shape == (3, 7)
        assert (out[:2] > END_ID).all() and not out[2].any()
    assert np.isfinite(scores.numpy()[:2]).all() and scores.numpy()[2] < -1e8
