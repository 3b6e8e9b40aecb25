"""How much the key/value cache, batching and beam search cost or save when decoding.

Same model, same weights, same sources for every row, each timed after a
warm-up call (so tracing is not counted), median of ``--repeats`` runs:

1. cached greedy vs the recompute decoder (the tutorial's loop), 1 sentence;
2. cached greedy, sentences/s at batch 64 vs batch 1;
3. beam search (4) vs cached greedy, batch 1 and batch 64.

The model is the ``tutorial`` preset with random weights (speed depends on
shapes, not on weight values) and with the ``[END]`` logit pushed down, so
every sentence decodes exactly ``--tokens`` tokens and every decoder does the
same number of steps.

Run::

    python benchmarks/decode_speed.py            # about a minute on 2 CPU cores
    python benchmarks/decode_speed.py --tokens 60 --source-tokens 30
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from tf_transformer import Transformer, TransformerConfig
from tf_transformer.constants import END_ID, RESERVED_TOKENS, START_ID
from tf_transformer.inference.recompute import recompute_greedy_search
from tf_transformer.inference.search import beam_search, greedy_search
from tf_transformer.training.precision import describe_machine


def build_model(preset, vocab, max_length):
    keras.utils.set_random_seed(0)
    model = Transformer(
        TransformerConfig.from_preset(
            preset, input_vocab_size=vocab, target_vocab_size=vocab, max_length=max_length
        )
    )
    model.build()
    bias = model.final_layer.bias.numpy()
    bias[END_ID] = -1e4  # never stop early: every decoder runs the same number of steps
    model.final_layer.bias.assign(bias)
    return model


def sources(batch, length, vocab, seed=0):
    rng = np.random.default_rng(seed)
    body = rng.integers(len(RESERVED_TOKENS), vocab, size=(batch, length - 2))  # words only
    return tf.constant(
        np.concatenate([np.full((batch, 1), START_ID), body, np.full((batch, 1), END_ID)], 1), tf.int32
    )


def timed(fn, ids, repeats):
    """Median seconds of ``fn(ids)`` after one warm-up call, and the output."""
    out = fn(ids)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = tf.nest.map_structure(lambda t: t.numpy(), fn(ids))
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tutorial")
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--tokens", type=int, default=40, help="output tokens per sentence")
    parser.add_argument("--source-tokens", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"machine: {describe_machine()}", flush=True)

    model = build_model(args.preset, args.vocab, max(64, args.tokens + 1, args.source_tokens))
    n = args.tokens
    greedy = tf.function(lambda ids: greedy_search(model, ids, n))
    recompute = tf.function(lambda ids: recompute_greedy_search(model, ids, n))
    beam = tf.function(lambda ids: beam_search(model, ids, args.beam_size, n)[0])
    greedy_xla = tf.function(lambda ids: greedy_search(model, ids, n, jit_compile=True))
    beam_xla = tf.function(lambda ids: beam_search(model, ids, args.beam_size, n, jit_compile=True)[0])
    one, many = (
        sources(1, args.source_tokens, args.vocab),
        sources(args.batch, args.source_tokens, args.vocab),
    )

    rows = {}
    for name, fn, ids in [
        ("recompute greedy", recompute, one),
        ("cached greedy", greedy, one),
        ("cached greedy", greedy, many),
        (f"beam {args.beam_size}", beam, one),
        (f"beam {args.beam_size}", beam, many),
        ("cached greedy XLA", greedy_xla, one),
        ("cached greedy XLA", greedy_xla, many),
        (f"beam {args.beam_size} XLA", beam_xla, one),
        (f"beam {args.beam_size} XLA", beam_xla, many),
    ]:
        seconds, out = timed(fn, ids, args.repeats)
        assert out.shape == (ids.shape[0], n), f"{name} decoded {out.shape}, expected {n} tokens each"
        rows[name, int(ids.shape[0])] = seconds
    recompute_out, greedy_out = recompute(one).numpy(), greedy(one).numpy()
    assert (recompute_out == greedy_out).all(), "cached and recompute greedy disagree"
    xla_agree = float((greedy_xla(many).numpy() == greedy(many).numpy()).mean())

    b = args.batch
    threads = tf.config.threading.get_intra_op_parallelism_threads() or "all"
    print(
        f"\n{args.preset} preset, random weights, {args.source_tokens} source tokens -> {n} output "
        f"tokens, median of {args.repeats} after warm-up, {threads} intra-op threads\n"
    )
    print(f"{'decoder':<22} {'batch':>5} {'s / call':>9} {'ms / token':>11} {'sentences/s':>12}")
    for (name, batch), seconds in rows.items():
        print(f"{name:<22} {batch:>5} {seconds:>9.3f} {1000 * seconds / n:>11.2f} {batch / seconds:>12.1f}")

    def ratio(label, value, goal=None):
        mark = "" if goal is None else f"  (goal >= {goal:g}x: {'met' if value >= goal else 'NOT met'})"
        print(f"  {label:<52} {value:6.1f}x{mark}")

    print(
        f"\nXLA greedy tokens equal to plain greedy tokens: {xla_agree:.1%} "
        "(float32 rounding may flip near-ties)"
    )
    print("\nratios")
    ratio(
        "cached greedy vs recompute, 1 sentence (speed-up)",
        rows["recompute greedy", 1] / rows["cached greedy", 1],
        5,
    )
    ratio(
        f"cached greedy sentences/s, batch {b} vs batch 1",
        (b / rows["cached greedy", b]) / (1 / rows["cached greedy", 1]),
        10,
    )
    ratio(
        f"beam {args.beam_size} vs greedy time, 1 sentence (cost)",
        rows[f"beam {args.beam_size}", 1] / rows["cached greedy", 1],
    )
    ratio(
        f"beam {args.beam_size} vs greedy time, batch {b} (cost)",
        rows[f"beam {args.beam_size}", b] / rows["cached greedy", b],
    )
    print("\nwith each decoding step compiled by XLA (Translator(jit_compile=True); `translate --xla on`)")
    ratio(
        "cached greedy XLA vs recompute, 1 sentence (speed-up)",
        rows["recompute greedy", 1] / rows["cached greedy XLA", 1],
        5,
    )
    ratio(
        "cached greedy XLA vs cached greedy, 1 sentence (speed-up)",
        rows["cached greedy", 1] / rows["cached greedy XLA", 1],
    )
    ratio(
        f"cached greedy XLA vs cached greedy, batch {b} (speed-up)",
        rows["cached greedy", b] / rows["cached greedy XLA", b],
    )
    ratio(
        f"beam {args.beam_size} XLA vs beam {args.beam_size}, batch {b} (speed-up)",
        rows[f"beam {args.beam_size}", b] / rows[f"beam {args.beam_size} XLA", b],
    )


if __name__ == "__main__":
    main()
