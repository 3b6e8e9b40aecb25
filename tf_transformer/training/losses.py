"""Loss and accuracy over real target tokens only (padding id 0 is ignored).

Label smoothing (paper section 5.4, epsilon_ls = 0.1) trains against

    q = (1 - eps) * one_hot(label) + eps / V

instead of the one-hot label, so the cross-entropy ``-sum_k q_k log p_k`` is

    (1 - eps) * (-log p_label) + (eps / V) * sum_k (-log p_k).

It hurts perplexity (the model learns to be less sure) but helps accuracy and BLEU.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def _real_token_count(mask):
    """Real tokens in this batch, as a float; under ``tf.distribute``, in the global batch."""
    count = tf.reduce_sum(mask)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
    return count


def smoothed_cross_entropy(labels, logits, label_smoothing=0.1):
    """Per-token label-smoothed cross-entropy ``[batch, T]``, with its gradient written out.

    The gradient of ``-sum_k q_k log softmax(z)_k`` with respect to the logits
    ``z`` is ``softmax(z) - q``. Autodiff finds it through the log-sum-exp,
    the label gather and the mean (three ``[batch, T, vocab]`` gradients,
    added); here it is one expression, reusing the forward pass's ``exp``.
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.int32)
    vocab = logits.shape[-1]
    eps = label_smoothing

    @tf.custom_gradient
    def per_token(logits):
        peak = tf.reduce_max(logits, axis=-1, keepdims=True)  # for a stable exp
        exp = tf.exp(logits - peak)  # (B, T, V)
        total = tf.reduce_sum(exp, axis=-1)  # (B, T)
        log_z = peak[..., 0] + tf.math.log(total)  # log sum_k e^z_k
        nll = log_z - tf.gather(logits, labels, axis=-1, batch_dims=2)  # -log p_label
        loss = (1.0 - eps) * nll
        if eps:
            loss += eps * (log_z - tf.reduce_mean(logits, axis=-1))  # eps * mean_k(-log p_k)

        def grad(upstream):  # upstream: (B, T)
            q = tf.one_hot(labels, vocab, on_value=1.0 - eps + eps / vocab, off_value=eps / vocab)
            softmax = exp * (1.0 / total)[..., None]
            return (softmax - q) * upstream[..., None]

        return loss, grad

    return per_token(logits)


def masked_loss(labels, logits, label_smoothing=0.1):
    """Label-smoothed cross-entropy, averaged over the real (non-zero) labels.

    Args:
        labels: int ``[batch, T]``, 0 = padding.
        logits: float ``[batch, T, vocab]`` (computed in float32 whatever the model's policy).
        label_smoothing: the eps above; 0 gives plain cross-entropy.

    Returns a float32 scalar: ``sum(loss * mask) / sum(mask)``, so every real
    token weighs the same however much padding its sentence has; 0 for a
    batch without real tokens.

    Under ``tf.distribute`` each replica divides its own sum by the *global*
    batch's token count. The replicas' gradients are summed, so the update is
    exactly one device's on the whole global batch. (Keras leaves a scalar
    loss unscaled and multiplies it by the number of replicas for display,
    so the displayed loss is that of the global batch too when the replicas
    get equal numbers of sentences, and close to it otherwise.)

    Example:
        >>> # uniform logits over 5 classes: log(5), the padding position not counted
        >>> float(masked_loss(tf.constant([[3, 0]]), tf.zeros((1, 2, 5))))
        1.6094...
    """
    loss = smoothed_cross_entropy(labels, logits, label_smoothing)  # (B, T)
    mask = tf.cast(tf.cast(labels, tf.int32) != 0, tf.float32)
    return tf.math.divide_no_nan(tf.reduce_sum(loss * mask), _real_token_count(mask))


def _correct_and_count(labels, logits):
    labels = tf.cast(labels, tf.int32)
    mask = labels != 0
    hits = tf.logical_and(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels), mask)
    return tf.reduce_sum(tf.cast(hits, tf.float32)), tf.reduce_sum(tf.cast(mask, tf.float32))


def masked_accuracy(labels, logits):
    """Share of real (non-zero) labels that the argmax of ``logits`` predicts; 0 if none."""
    correct, count = _correct_and_count(labels, logits)
    return tf.math.divide_no_nan(correct, count)


@keras.saving.register_keras_serializable(package="tf_transformer")
class MaskedAccuracy(keras.metrics.Metric):
    """``masked_accuracy`` accumulated over batches, every real token weighing the same.

    (Keras's wrapper around a metric function would average the per-batch
    accuracies instead, over-weighting short batches.)
    """

    def __init__(self, name="masked_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        correct, count = _correct_and_count(y_true, y_pred)
        self.correct.assign_add(correct)
        self.count.assign_add(count)

    def result(self):
        return tf.math.divide_no_nan(self.correct, self.count)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)
