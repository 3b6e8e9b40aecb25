"""WarmupSchedule, masked_loss and masked_accuracy against values computed by hand."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.models import make_model

from tf_transformer.training import (
    AveragingAdam,
    MaskedAccuracy,
    WarmupSchedule,
    make_optimizer,
    masked_accuracy,
    masked_loss,
)
from tf_transformer.training.metrics import _moving_averages, averaged_weights

# --- schedule -------------------------------------------------------------------------


def test_schedule_follows_the_paper_formula():
    lr = WarmupSchedule(d_model=512, warmup_steps=4000)
    for step in [0, 1, 99, 3998, 3999, 4000, 20000]:
        n = step + 1  # the paper counts steps from 1
        expected = 512**-0.5 * min(n**-0.5, n * 4000**-1.5)
        assert float(lr(step)) == pytest.approx(expected, rel=1e-6)
    # Linear warm-up, a peak of d_model^-0.5 * warmup^-0.5 at step_num == warmup, then decay.
    assert float(lr(0)) > 0
    assert float(lr(3999)) == pytest.approx(512**-0.5 * 4000**-0.5, rel=1e-6)
    assert float(lr(1999)) == pytest.approx(float(lr(3999)) / 2, rel=1e-6)
    assert float(lr(15999)) == pytest.approx(float(lr(3999)) / 2, rel=1e-6)


def test_schedule_scale_and_serialization():
    lr = WarmupSchedule(d_model=128, warmup_steps=100, scale=2.0)
    assert float(lr(50)) == pytest.approx(2 * float(WarmupSchedule(128, 100)(50)))
    config = keras.saving.serialize_keras_object(lr)
    json.dumps(config)
    again = keras.saving.deserialize_keras_object(config)
    assert isinstance(again, WarmupSchedule)
    assert (again.d_model, again.warmup_steps, again.scale) == (128, 100, 2.0)
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupSchedule(128, 0)


def test_a_faster_decay_keeps_the_peak_and_halves_with_each_doubling():
    paper = WarmupSchedule(d_model=128, warmup_steps=200)
    lr = WarmupSchedule(d_model=128, warmup_steps=200, decay_power=1.0)
    for step in [0, 50, 198, 199]:  # the warm-up and the peak are the paper's
        assert float(lr(step)) == pytest.approx(float(paper(step)), rel=1e-6)
    peak = float(lr(199))
    assert float(lr(399)) == pytest.approx(peak / 2, rel=1e-6)  # step_num doubled: half the rate
    assert float(lr(799)) == pytest.approx(peak / 4, rel=1e-6)
    assert float(paper(799)) == pytest.approx(peak / 2, rel=1e-6)  # the paper's: a quarter of that fall
    for step in [300, 1234, 5000]:
        n = step + 1
        assert float(lr(step)) == pytest.approx(128**-0.5 * 200**-0.5 * (200 / n), rel=1e-6)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(lr))
    assert again.decay_power == 1.0 and float(again(1234)) == float(lr(1234))
    # The paper's schedule saves the keys it always had, so older files and newer ones match.
    assert "decay_power" not in paper.get_config()
    with pytest.raises(ValueError, match="decay_power"):
        WarmupSchedule(128, 200, decay_power=0)


def test_optimizer_is_the_papers_adam():
    opt = make_optimizer(128, warmup_steps=10)
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.9, 0.98, 1e-9)
    assert isinstance(opt._learning_rate, WarmupSchedule)
    # Survives the optimizer's own serialization (part of model.keras).
    again = keras.optimizers.Adam.from_config(opt.get_config())
    assert float(again.learning_rate) == pytest.approx(float(opt.learning_rate))


def _compiled_tiny(ema_momentum):
    model = make_model()
    optimizer = make_optimizer(32, warmup_steps=2, ema_momentum=ema_momentum)
    model.compile(optimizer=optimizer, loss=masked_loss, jit_compile=False)
    optimizer.build(model.trainable_variables)  # as `train` does: the step is then traced once
    rng = np.random.default_rng(0)
    x = (rng.integers(1, 37, (4, 6)).astype("int32"), rng.integers(1, 41, (4, 5)).astype("int32"))
    y = rng.integers(1, 41, (4, 5)).astype("int32")
    return model, x, y


def test_the_averaging_optimizer_keeps_an_average_that_training_never_sees():
    assert type(make_optimizer(128)) is keras.optimizers.Adam  # ema_momentum 0: the paper's Adam
    model, x, y = _compiled_tiny(ema_momentum=0.5)
    assert isinstance(model.optimizer, AveragingAdam) and model.optimizer.ema_momentum == 0.5
    before = [w.numpy() for w in model.trainable_variables]
    model.fit(x, y, epochs=3, verbose=0)  # Keras's Adam(use_ema) would end fit on the average
    pairs = _moving_averages(model)
    assert len(pairs) == len(model.trainable_variables) > 0
    weights, averages = [w.numpy() for w, _ in pairs], [a.numpy() for _, a in pairs]
    # After the first step copied them, the average lags the weights: 0.5 x new + 0.5 x old.
    assert all(not np.array_equal(w, a) for w, a in zip(weights, averages) if w.size > 1)
    assert all(not np.array_equal(w, b) for w, b in zip(weights, before) if w.size > 1)

    with averaged_weights(model):  # the average swapped in...
        for (weight, _), average in zip(pairs, averages):
            np.testing.assert_array_equal(weight.numpy(), average)
    for (weight, average), w, a in zip(pairs, weights, averages):  # ...and out, bit for bit
        np.testing.assert_array_equal(weight.numpy(), w)
        np.testing.assert_array_equal(average.numpy(), a)

    plain, x, y = _compiled_tiny(ema_momentum=0.0)
    plain.fit(x, y, epochs=1, verbose=0)
    kept = [w.numpy() for w in plain.weights]
    assert _moving_averages(plain) == []
    with averaged_weights(plain):  # nothing to swap: nothing changes
        for w, k in zip(plain.weights, kept):
            np.testing.assert_array_equal(w.numpy(), k)


# --- loss -----------------------------------------------------------------------------


def reference_loss(labels, logits, eps):
    """Written out the long way: the smoothed target distribution q, then -sum q log p."""
    labels, logits = np.asarray(labels), np.asarray(logits, np.float64)
    vocab = logits.shape[-1]
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    total, count = 0.0, 0
    for b in range(labels.shape[0]):
        for t in range(labels.shape[1]):
            if labels[b, t] == 0:
                continue
            q = np.full(vocab, eps / vocab)
            q[labels[b, t]] += 1 - eps
            total += -(q * log_p[b, t]).sum()
            count += 1
    return total / count


def test_loss_by_hand_on_a_tiny_example():
    # One real token, 2 classes, logits (0, ln 3): p = (1/4, 3/4); label 1.
    logits = tf.constant([[[0.0, math.log(3.0)], [5.0, -5.0]]])
    labels = tf.constant([[1, 0]])
    assert float(masked_loss(labels, logits, label_smoothing=0.0)) == pytest.approx(-math.log(0.75), rel=1e-6)
    # eps = 0.1: q = (0.05, 0.95) -> -(0.05 log 1/4 + 0.95 log 3/4)
    expected = -(0.05 * math.log(0.25) + 0.95 * math.log(0.75))
    assert float(masked_loss(labels, logits)) == pytest.approx(expected, rel=1e-6)


def test_loss_counts_real_tokens_only_including_an_almost_all_padding_row(rng):
    vocab = 7
    labels = np.array(
        [
            [3, 5, 2, 6, 1, 4],
            [2, 0, 0, 0, 0, 0],  # one real token, five pads
            [1, 6, 3, 0, 0, 0],
        ],
        np.int32,
    )
    logits = rng.normal(size=(3, 6, vocab)).astype("float32") * 3
    for eps in (0.0, 0.1):
        got = float(masked_loss(tf.constant(labels), tf.constant(logits), label_smoothing=eps))
        assert got == pytest.approx(reference_loss(labels, logits, eps), rel=1e-5)
    # Each real token weighs the same: a per-sentence average would give the lone token of
    # row 1 the weight of a whole sentence.
    per_row = np.mean([reference_loss(labels[i : i + 1], logits[i : i + 1], 0.1) for i in range(3)])
    assert float(masked_loss(labels, logits)) != pytest.approx(per_row, rel=1e-3)
    # Whatever the logits at padding positions, the loss does not move.
    noisy = logits.copy()
    noisy[labels == 0] = rng.normal(size=noisy[labels == 0].shape) * 100
    assert float(masked_loss(labels, noisy)) == pytest.approx(float(masked_loss(labels, logits)), rel=1e-6)


def test_loss_of_an_all_padding_batch_is_zero_not_nan():
    assert float(masked_loss(tf.zeros((2, 3), tf.int32), tf.random.normal((2, 3, 5)))) == 0.0


def test_loss_gradient_ignores_padding(rng):
    labels = tf.constant([[3, 1, 0, 0]])
    logits = tf.Variable(rng.normal(size=(1, 4, 5)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = masked_loss(labels, logits)
    grad = tape.gradient(loss, logits).numpy()
    assert np.all(grad[0, 2:] == 0) and np.all(np.abs(grad[0, :2]).sum(-1) > 0)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_written_out_gradient_equals_autodiff_of_the_definition(rng, eps):
    """masked_loss's gradient (softmax - q, written by hand) against TensorFlow's autodiff
    of -sum_k q_k log_softmax(z)_k, on real and padding positions, with large logits."""
    vocab = 9
    labels = tf.constant([[3, 5, 2, 8, 1], [2, 0, 0, 0, 0], [7, 6, 3, 0, 0]])
    logits = tf.constant(rng.normal(size=(3, 5, vocab)).astype("float32") * 20)

    def definition(labels, logits):
        q = (1 - eps) * tf.one_hot(labels, vocab) + eps / vocab
        per_token = -tf.reduce_sum(q * tf.nn.log_softmax(logits), axis=-1)
        mask = tf.cast(labels != 0, tf.float32)
        return tf.reduce_sum(per_token * mask) / tf.reduce_sum(mask)

    grads = []
    for loss_fn in (lambda y, z: masked_loss(y, z, label_smoothing=eps), definition):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            loss = loss_fn(labels, logits)
        grads.append(tape.gradient(loss, logits).numpy())
    # Entries below 1 that sum the same terms in another order: float32 spacing near 1 is 1.2e-7.
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-7)
    # Each real token's gradient sums to zero over the vocabulary (softmax and q both sum to 1);
    # 9 float32 terms of size at most 1/9 (the mean over 9 real tokens) round to under 1e-7.
    np.testing.assert_allclose(grads[0].sum(-1), 0, atol=1e-7)


def test_accuracy_by_hand():
    # argmax per position: 2, 1, 0, 3 | 1, 1, 1, 1
    logits = tf.one_hot([[2, 1, 0, 3], [1, 1, 1, 1]], depth=4)
    labels = tf.constant(
        [
            [2, 2, 3, 0],  # 1 of 3 real tokens right
            [1, 0, 0, 0],
        ]
    )  # 1 of 1 (almost all padding)
    assert float(masked_accuracy(labels, logits)) == pytest.approx(2 / 4)
    # The metric accumulates tokens over batches (not the mean of batch accuracies).
    metric = MaskedAccuracy()
    metric.update_state(labels, logits)  # 2 of 4
    metric.update_state(tf.constant([[1, 1, 1, 1]]), tf.one_hot([[0, 0, 0, 2]], 4))  # 0 of 4
    assert float(metric.result()) == pytest.approx(2 / 8)
    assert float(masked_accuracy(tf.zeros((1, 3), tf.int32), logits[:1, :3])) == 0.0


def test_keras_counts_the_loss_once_without_an_extra_mask(rng):
    """compile + evaluate gives exactly masked_loss of the model's logits: Keras applies no
    implicit mask of its own (the logits carry none) and no second averaging."""
    model = make_model()
    logits_probe = model((tf.constant([[5, 0]]), tf.constant([[2, 0]])))
    assert getattr(logits_probe, "_keras_mask", None) is None

    def loss(y, p):
        return masked_loss(y, p)

    model.compile(optimizer="adam", loss=loss, metrics=[MaskedAccuracy()], jit_compile=False)
    ctx = tf.constant(np.pad(rng.integers(1, 37, (4, 6)), ((0, 0), (0, 3))).astype("int32"))
    tgt = rng.integers(1, 41, (4, 7)).astype("int32")
    tgt[1, 2:] = 0
    tgt[3, 1:] = 0
    tgt_in, tgt_out = tf.constant(tgt[:, :-1]), tf.constant(tgt[:, 1:])
    result = model.evaluate((ctx, tgt_in), tgt_out, batch_size=4, verbose=0, return_dict=True)
    logits = model((ctx, tgt_in))
    assert result["loss"] == pytest.approx(float(masked_loss(tgt_out, logits)), rel=1e-5)
    assert result["masked_accuracy"] == pytest.approx(float(masked_accuracy(tgt_out, logits)), rel=1e-5)
