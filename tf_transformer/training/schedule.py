"""The learning-rate schedule and optimizer of the paper (section 5.3).

    lrate = d_model^-0.5 * min(step_num^-0.5, step_num * warmup_steps^-1.5)

The rate rises linearly for ``warmup_steps`` steps, then decays with the
inverse square root of the step. It peaks at ``d_model^-0.5 *
warmup_steps^-0.5`` when ``step_num == warmup_steps``.

``decay_power`` generalizes the decay to ``step_num^-p`` from the same peak
(the paper's is ``p = 0.5``). With ``p = 1`` the rate halves each time the
step doubles, not each time it quadruples: on the embedded corpus the demo
reaches its target accuracy in fewer steps that way (docs/demo-recipe.md gives the
measurements).

``AveragingAdam`` also keeps a moving average of the weights, which the
training loop validates and saves instead of the weights themselves.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_transformer")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then inverse-square-root decay (paper eq. 3), times ``scale``.

    The schedule is called with the optimizer's iteration count, which starts
    at 0; the paper's ``step_num`` starts at 1, so ``step_num = step + 1``
    (the very first update then gets a small positive rate, not 0).

    Args:
        d_model: model width; the rate scales as ``d_model^-0.5``.
        warmup_steps: steps of linear warm-up (4000 in the paper).
        scale: a constant factor on the whole curve (1.0 is the paper's).
        decay_power: after the peak the rate falls as ``step_num^-decay_power``
            (0.5 is the paper's; 1.0 falls faster).

    Example:
        >>> lr = WarmupSchedule(d_model=128, warmup_steps=4000)
        >>> float(lr(3999))  # the peak: 128**-0.5 * 4000**-0.5
        0.0013975...
    """

    def __init__(self, d_model, warmup_steps=4000, scale=1.0, decay_power=0.5):
        super().__init__()
        if warmup_steps <= 0:
            raise ValueError(f"warmup_steps must be positive, got {warmup_steps}.")
        if decay_power <= 0:
            raise ValueError(f"decay_power must be positive, got {decay_power}.")
        self.d_model = int(d_model)
        self.warmup_steps = int(warmup_steps)
        self.scale = float(scale)
        self.decay_power = float(decay_power)

    def __call__(self, step):
        step_num = tf.cast(step, tf.float32) + 1.0
        if self.decay_power == 0.5:
            decay = tf.math.rsqrt(step_num)  # the paper's
        else:  # the same peak: (warmup / step_num)^p * warmup^-0.5
            decay = (self.warmup_steps / step_num) ** self.decay_power * self.warmup_steps**-0.5
        warmup = step_num * self.warmup_steps**-1.5
        return self.scale * self.d_model**-0.5 * tf.minimum(decay, warmup)

    def get_config(self):
        config = {"d_model": self.d_model, "warmup_steps": self.warmup_steps, "scale": self.scale}
        if self.decay_power != 0.5:  # (the paper's schedule keeps the keys it had before the option)
            config["decay_power"] = self.decay_power
        return config


def make_optimizer(d_model, warmup_steps=4000, scale=1.0, decay_power=0.5, ema_momentum=0.0):
    """Adam(beta_1=0.9, beta_2=0.98, epsilon=1e-9) on a ``WarmupSchedule``, as in the paper.

    ``ema_momentum`` > 0 gives an ``AveragingAdam``, which also keeps a moving
    average of the weights.
    """
    schedule = WarmupSchedule(d_model, warmup_steps, scale, decay_power)
    if not ema_momentum:
        return keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
    return AveragingAdam(
        schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9, use_ema=True, ema_momentum=ema_momentum
    )


@keras.saving.register_keras_serializable(package="tf_transformer")
class AveragingAdam(keras.optimizers.Adam):
    """Adam that also keeps an exponential moving average of the weights, for evaluation only.

    After every step, Keras's ``use_ema`` updates ``average = m * average +
    (1 - m) * weights`` (``m = ema_momentum``; the first step copies the
    weights). The average is what the paper's checkpoint averaging
    approximates (section 6.1: the last 5 or 20 checkpoints): the noise of the
    last steps cancels out, so the average is more accurate than the weights
    it follows, most of all late in training.

    Training itself never sees the average. Keras would copy it into the
    weights at the end of every ``fit`` (``finalize_variable_values``); this
    subclass does not, so that training continues from its own weights
    however many ``fit`` calls it spans, and a resumed run makes exactly the
    updates an uninterrupted one does. The training loop swaps the average in
    to validate and to save checkpoints (``metrics.averaged_weights``).
    """

    def finalize_variable_values(self, var_list):
        """Leave the weights as training left them (the average stays in the optimizer)."""
