"""Training throughput of our Transformer vs a TF-tutorial-style baseline, and MFU.

Both models have the ``tutorial`` preset's sizes (4 layers, d_model 128,
8 heads, dff 512) and are trained the same way (``masked_loss``, the
paper's Adam and schedule, ``model.fit``) on one fixed batch shape, timed
after a warm-up (tracing and XLA compilation are not counted). The models
take turns step by step, and each gets the median of its step times: this
machine is shared, and its speed drifts by tens of percent within seconds,
so only measurements taken side by side compare.

- *ours*: ``tf_transformer.Transformer``: our ``MultiHeadAttention`` (one
  fused Q/K/V matmul, 2-D matmuls) with explicit padding masks.
- *baseline*: built here the way TensorFlow's tutorial builds it:
  ``keras.layers.MultiHeadAttention`` (``key_dim = d_model / num_heads``),
  ``Add`` and ``LayerNormalization``, ``Embedding(mask_zero=True)``.

MFU (model FLOP utilisation) = analytic training FLOPs per step / step time
/ a float32 matmul peak measured here, on this machine, in this run. The
FLOP count is the matmuls' (``3 x forward``: the backward pass costs twice
the forward), on every position of the padded batch. The *matmuls* row
times those matmuls alone, at the step's shapes: the most a step can reach
with this machine's matmul kernels, before any softmax, dropout, norm, loss
or optimizer work. It takes its turn between the models' steps like a
third model, so our step's ratio to it compares neighbours too; with a bf16
variant, a second floor runs the same matmuls in bfloat16.

``--keras-norm`` adds a third model per variant: ours with Keras's
``LayerNormalization`` in place of ours (its gradient left to automatic
differentiation), to measure what the hand-written gradient of
``tf_transformer/layers/norm.py`` saves, in the same turns.

Run::

    python benchmarks/train_throughput.py                 # a few minutes on 2 CPU cores
    python benchmarks/train_throughput.py --steps 5 --variants fp32   # quick look
    python benchmarks/train_throughput.py --variants fp32 bf16 --keras-norm   # what our layer norm saves
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from tf_transformer import Transformer, TransformerConfig
from tf_transformer.layers import positional_encoding
from tf_transformer.layers.norm import keras_gradient
from tf_transformer.training import make_optimizer, masked_loss
from tf_transformer.training.precision import describe_machine

VARIANTS = {  # name: (mixed precision policy, XLA)
    "fp32": ("float32", False),
    "fp32+xla": ("float32", True),
    "bf16": ("mixed_bfloat16", False),
    "bf16+xla": ("mixed_bfloat16", True),
}


# --- the baseline, as TensorFlow's Transformer tutorial writes it ------------------------


class TutorialPositionalEmbedding(keras.layers.Layer):
    def __init__(self, vocab_size, d_model, max_length):
        super().__init__()
        self.d_model = d_model
        self.embedding = keras.layers.Embedding(vocab_size, d_model, mask_zero=True)
        self.pos_encoding = positional_encoding(max_length, d_model)

    def compute_mask(self, *args, **kwargs):
        return self.embedding.compute_mask(*args, **kwargs)

    def call(self, x):
        length = tf.shape(x)[1]
        x = self.embedding(x) * tf.math.sqrt(tf.cast(self.d_model, self.compute_dtype))
        return x + tf.cast(self.pos_encoding[None, :length], self.compute_dtype)


class TutorialAttention(keras.layers.Layer):
    """keras.layers.MultiHeadAttention + Add + LayerNormalization (post-norm)."""

    def __init__(self, d_model, num_heads, dropout_rate, causal=False):
        super().__init__()
        self.mha = keras.layers.MultiHeadAttention(
            num_heads=num_heads, key_dim=d_model // num_heads, dropout=dropout_rate
        )
        self.add = keras.layers.Add()
        self.norm = keras.layers.LayerNormalization()
        self.causal = causal

    def call(self, x, context=None):
        context = x if context is None else context
        out = self.mha(query=x, value=context, key=context, use_causal_mask=self.causal)
        return self.norm(self.add([x, out]))


class TutorialFeedForward(keras.layers.Layer):
    def __init__(self, d_model, dff, dropout_rate):
        super().__init__()
        self.seq = keras.Sequential(
            [
                keras.layers.Dense(dff, activation="relu"),
                keras.layers.Dense(d_model),
                keras.layers.Dropout(dropout_rate),
            ]
        )
        self.add = keras.layers.Add()
        self.norm = keras.layers.LayerNormalization()

    def call(self, x):
        return self.norm(self.add([x, self.seq(x)]))


class TutorialTransformer(keras.Model):
    def __init__(self, c: TransformerConfig):
        super().__init__()
        self.enc_embedding = TutorialPositionalEmbedding(c.input_vocab_size, c.d_model, c.max_length)
        self.dec_embedding = TutorialPositionalEmbedding(c.target_vocab_size, c.d_model, c.max_length)
        self.enc_dropout = keras.layers.Dropout(c.dropout_rate)
        self.dec_dropout = keras.layers.Dropout(c.dropout_rate)
        self.enc = [
            (
                TutorialAttention(c.d_model, c.num_heads, c.dropout_rate),
                TutorialFeedForward(c.d_model, c.dff, c.dropout_rate),
            )
            for _ in range(c.num_layers)
        ]
        self.dec = [
            (
                TutorialAttention(c.d_model, c.num_heads, c.dropout_rate, causal=True),
                TutorialAttention(c.d_model, c.num_heads, c.dropout_rate),
                TutorialFeedForward(c.d_model, c.dff, c.dropout_rate),
            )
            for _ in range(c.num_layers)
        ]
        self.final_layer = keras.layers.Dense(c.target_vocab_size)

    def call(self, inputs, training=None):
        context, x = inputs
        context = self.enc_dropout(self.enc_embedding(context), training=training)
        for attention, ffn in self.enc:
            context = ffn(attention(context), training=training)
        x = self.dec_dropout(self.dec_embedding(x), training=training)
        for self_attention, cross_attention, ffn in self.dec:
            x = ffn(cross_attention(self_attention(x), context), training=training)
        logits = tf.cast(self.final_layer(x), tf.float32)
        try:
            del logits._keras_mask  # the loss masks padding itself (as the tutorial does)
        except AttributeError:
            pass
        return logits


# --- measuring ---------------------------------------------------------------------------


def training_flops(c: TransformerConfig, batch, src_len, tgt_len):
    """Matmul FLOPs of one training step: 3 x forward (2 FLOPs per multiply-add)."""
    d, f, L = c.d_model, c.dff, c.num_layers
    enc = src_len * (4 * d * d + 2 * d * f) + 2 * src_len * src_len * d
    dec = (
        tgt_len * (4 * d * d + 2 * d * d + 2 * d * f)  # self-attn, cross Q and out, FFN
        + src_len * 2 * d * d  # cross K and V
        + 2 * tgt_len * (tgt_len + src_len) * d
    )  # scores and weighted sums
    final = tgt_len * d * c.target_vocab_size
    return 3 * 2 * batch * (L * (enc + dec) + final)


def matmul_peak(dtype=tf.float32, n=2048, repeats=10):
    """Best sustained matmul FLOP/s of this machine for ``dtype`` (after a warm-up)."""
    a = tf.random.normal((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)

    @tf.function
    def run():
        out = tf.zeros((n, n), dtype)
        for _ in tf.range(4):
            out += tf.matmul(a, b)
        return out

    run().numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run().numpy()
        best = min(best, time.perf_counter() - start)
    return 4 * 2 * n**3 / best


def step_matmuls(c: TransformerConfig, batch, src_len, tgt_len):
    """The forward matmuls of one training step, as ``(batch dims, m, k, n)``, in our layout."""
    d, f, h, V = c.d_model, c.dff, c.num_heads, c.target_vocab_size
    dk, es, dt = d // h, batch * src_len, batch * tgt_len
    enc = [
        ((), es, d, 3 * d),
        ((), es, d, d),
        ((), es, d, f),
        ((), es, f, d),
        ((batch * h,), src_len, dk, src_len),
        ((batch * h,), src_len, src_len, dk),
    ]
    dec = [
        ((), dt, d, 3 * d),
        ((), dt, d, d),
        ((), dt, d, d),
        ((), es, d, 2 * d),
        ((), dt, d, d),
        ((), dt, d, f),
        ((), dt, f, d),
        ((batch * h,), tgt_len, dk, tgt_len),
        ((batch * h,), tgt_len, tgt_len, dk),
        ((batch * h,), tgt_len, dk, src_len),
        ((batch * h,), tgt_len, src_len, dk),
    ]
    return c.num_layers * (enc + dec) + [((), dt, d, V)]


def matmul_step(shapes, dtype=tf.float32):
    """A traced function that runs the step's matmuls alone, forward and backward (dA = dC B^T, dB = A^T dC).

    Nothing else a step does (softmax, dropout, norms, the loss, Adam) is in
    it: a step cannot be faster than this with these matmul kernels. Calling
    it returns when the matmuls are done.
    """
    operands = [
        (tf.random.normal((*lead, m, k), dtype=dtype), tf.random.normal((*lead, k, n), dtype=dtype))
        for lead, m, k, n in shapes
    ]

    @tf.function
    def run():
        total = tf.zeros(())
        for a, b in operands:
            out = tf.matmul(a, b)
            grad_a = tf.matmul(out, b, transpose_b=True)
            grad_b = tf.matmul(a, out, transpose_a=True)
            for t in (out, grad_a, grad_b):
                total += tf.cast(tf.reduce_sum(t[..., :1, :1]), tf.float32)
        return total

    run().numpy()  # traced and warm
    return lambda: run().numpy()


def batch_of(c, batch, src_len, tgt_len, seed=0):
    rng = np.random.default_rng(seed)
    ctx = rng.integers(4, c.input_vocab_size, (batch, src_len)).astype("int32")
    tgt = rng.integers(4, c.target_vocab_size, (batch, tgt_len + 1)).astype("int32")
    return (ctx, tgt[:, :-1]), tgt[:, 1:]


def compiled_model(build, c, policy, jit, x, y, warmup):
    """A model built under ``policy``, compiled, and trained ``warmup`` steps (tracing, XLA)."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = build(c)
        model((tf.ones((1, 2), tf.int32), tf.ones((1, 2), tf.int32)))
        model.compile(
            optimizer=make_optimizer(c.d_model, 4000), loss=lambda y, p: masked_loss(y, p), jit_compile=jit
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for _ in range(warmup):
        model.train_on_batch(x, y)  # the same step function the timing calls
    return model


def time_models(models, x, y, steps, others=None):
    """Each model's step times, the models taking turns step by step.

    This machine is shared and its speed drifts by tens of percent within
    seconds, so models timed minutes apart do not compare. Interleaved, each
    step of one model has a neighbour of the other taken under the same
    conditions; comparisons use the ratio of such pairs. ``others`` (name:
    function) take their turns too (the matmul floor).
    """
    runs = {name: (lambda model=model: model.train_on_batch(x, y)) for name, model in models.items()}
    runs.update(others or {})
    times = {name: [] for name in runs}
    for _ in range(steps):
        for name, run in runs.items():
            start = time.perf_counter()
            run()  # returns when the step is done
            times[name].append(time.perf_counter() - start)
    return {name: np.array(t) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tutorial")
    parser.add_argument("--vocab", type=int, default=4000, help="both vocabularies (the data's size)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--src-len", type=int, default=32)
    parser.add_argument("--tgt-len", type=int, default=32)
    parser.add_argument("--steps", type=int, default=40, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument(
        "--keras-norm",
        action="store_true",
        help="also time ours with Keras's LayerNormalization (model 'ours-kn'), in the same turns",
    )
    parser.add_argument(
        "--inter-op-threads",
        type=int,
        default=0,
        help="ops TensorFlow may run side by side (0: its default, one per core)",
    )
    args = parser.parse_args(argv)
    if args.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)
    print(f"machine: {describe_machine()}", flush=True)
    print(
        f"threads: inter-op {tf.config.threading.get_inter_op_parallelism_threads() or 'default'}, "
        f"intra-op {tf.config.threading.get_intra_op_parallelism_threads() or 'default'}",
        flush=True,
    )
    # The tutorial's layers drop the padding mask after the first block (Keras warns each
    # time; that is the baseline as written, and this batch has no padding anyway).
    warnings.filterwarnings("ignore", message=".*does not support masking")

    c = TransformerConfig.from_preset(args.preset, input_vocab_size=args.vocab, target_vocab_size=args.vocab)
    flops = training_flops(c, args.batch, args.src_len, args.tgt_len)
    tokens = args.batch * args.tgt_len
    x, y = batch_of(c, args.batch, args.src_len, args.tgt_len)
    x, y = tf.nest.map_structure(tf.constant, (x, y))
    models = {}
    for name in args.variants:
        policy, jit = VARIANTS[name]
        for label, build in (("baseline", TutorialTransformer), ("ours", Transformer)):
            models[name, label] = compiled_model(build, c, policy, jit, x, y, args.warmup)
        if args.keras_norm:
            with keras_gradient():  # traced in the block (its warm-up): it keeps Keras's norm
                models[name, "ours-kn"] = compiled_model(Transformer, c, policy, jit, x, y, args.warmup)
    peak32 = matmul_peak(tf.float32)
    peak16 = matmul_peak(tf.bfloat16)
    shapes = step_matmuls(c, args.batch, args.src_len, args.tgt_len)
    floors = {("fp32", "matmuls"): matmul_step(shapes)}
    if any(VARIANTS[name][0] == "mixed_bfloat16" for name in args.variants):
        floors["bf16", "matmuls"] = matmul_step(shapes, tf.bfloat16)
    times = time_models(models, x, y, args.steps, others=floors)
    floor_times = {key[0]: times.pop(key) for key in floors}
    floor = {name: float(np.median(t)) for name, t in floor_times.items()}
    step = {key: float(np.median(t)) for key, t in times.items()}
    peak32, peak16 = max(peak32, matmul_peak(tf.float32)), max(peak16, matmul_peak(tf.bfloat16))

    print(
        f"{args.preset}: {c.num_layers} layers, d_model {c.d_model}, {c.num_heads} heads, "
        f"dff {c.dff}, vocab {args.vocab}; batch {args.batch} x {args.src_len}/{args.tgt_len} tokens"
    )
    print(
        f"matmul peak on this machine (best of before and after): float32 {peak32 / 1e9:.0f} GFLOP/s, "
        f"bfloat16 {peak16 / 1e9:.0f} GFLOP/s; {flops / 1e9:.2f} GFLOP per training step"
    )
    print(f"median of {args.steps} steps per model, the models taking turns step by step\n")
    header = (
        f"{'variant':<10} {'model':<9} {'step ms':>8} {'tokens/s':>9} {'MFU f32':>8} "
        f"{'MFU bf16':>9} {'vs ours':>9} {'IQR':>11}"
    )
    print(header)
    print("-" * len(header))
    for (name, label), seconds in step.items():
        ratio = spread = ""
        if label != "ours":
            # its time / our time for each pair of neighbouring steps: median and quartiles
            pairs = times[name, label] / times[name, "ours"]
            low, mid, high = np.percentile(pairs, [25, 50, 75])
            ratio, spread = f"{mid:.2f}x", f"{low:.2f}-{high:.2f}"
        print(
            f"{name:<10} {label:<9} {seconds * 1e3:8.1f} {tokens / seconds:9.0f} "
            f"{flops / seconds / peak32:8.1%} {flops / seconds / peak16:9.1%} {ratio:>9} {spread:>11}"
        )
    for name, seconds in floor.items():
        print(
            f"{name:<10} {'matmuls':<9} {seconds * 1e3:8.1f} {tokens / seconds:9.0f} "
            f"{flops / seconds / peak32:8.1%} {flops / seconds / peak16:9.1%}   "
            f"(the step's matmuls alone, in {name}: no step can beat this)"
        )
    print("\n('vs ours': the model's step time / ours, median of neighbouring pairs, and their quartiles)")
    for name in args.variants:
        precision = "bf16" if VARIANTS[name][0] == "mixed_bfloat16" else "fp32"
        if (name, "ours") not in step:
            continue
        for floor_name in sorted({"fp32", precision}):
            # our step / the matmuls' in the same turn: median and quartiles
            low, mid, high = np.percentile(times[name, "ours"] / floor_times[floor_name], [25, 50, 75])
            print(
                f"ours {name} / {floor_name} matmul floor: {mid:.2f}x "
                f"(quartiles {low:.2f}-{high:.2f}; goal at most 1.4x)"
            )
    if ("fp32", "ours") in step:
        effects = ", ".join(
            f"{n} {step['fp32', 'ours'] / step[n, 'ours']:.2f}x" for n in args.variants if n != "fp32"
        )
        if effects:
            print(f"ours vs ours fp32 (speed-up): {effects}")


if __name__ == "__main__":
    main()
