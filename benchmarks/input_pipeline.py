"""Input pipeline: bucketed, token-budgeted batches vs plain ``padded_batch``.

Both pipelines read the same tokenized, cached, shuffled examples and give the
same average number of sentences per batch; the baseline pads every batch to
its longest sentence. Printed per pipeline:

- padding efficiency: real tokens / all tokens in the batches (source plus
  decoder input), i.e. the share of the model's work that is not padding;
- tokens/s: real tokens the pipeline delivers per second (one full epoch after
  a warm-up epoch that fills the cache).

Run: ``python benchmarks/input_pipeline.py [--split train] [--batch-tokens 4096]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from tf_transformer.data import load_dataset, load_tokenizers, make_batches  # noqa: E402
from tf_transformer.data.pipeline import _dense_rows  # noqa: E402
from tf_transformer.training.precision import describe_machine


def measure(batches: tf.data.Dataset) -> dict:
    for _ in batches:  # warm-up epoch: tokenizes and fills the cache
        pass
    real = total = n = 0
    start = time.perf_counter()
    for (source, target_in), _ in batches:
        real += int(tf.math.count_nonzero(source)) + int(tf.math.count_nonzero(target_in))
        total += int(tf.size(source)) + int(tf.size(target_in))
        n += 1
    seconds = time.perf_counter() - start
    return {
        "batches": n,
        "efficiency": real / total,
        "tokens_per_s": real / seconds,
        "padded_tokens_per_s": total / seconds,
    }


def baseline_batches(
    dataset, source_tokenizer, target_tokenizer, batch_size: int, max_length: int, seed: int
) -> tf.data.Dataset:
    """Tokenize, cache and shuffle like make_batches, then a fixed batch size."""

    def tokenize(source, target):
        return (
            source_tokenizer.tokenize(source)[:, :max_length],
            target_tokenizer.tokenize(target)[:, : max_length + 1],
        )

    ds = (
        dataset.batch(256)
        .map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .map(_dense_rows)
        .cache()
        .shuffle(20_000, seed=seed)
        .padded_batch(batch_size, padded_shapes=([None], [None]))
    )
    return ds.map(lambda source, target: ((source, target[:, :-1]), target[:, 1:])).prefetch(tf.data.AUTOTUNE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="train")
    parser.add_argument("--batch-tokens", type=int, default=4096)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    print(f"machine: {describe_machine()}", flush=True)

    tokenizers = load_tokenizers()
    dataset = load_dataset("embedded", args.split, data_dir=args.data_dir)
    bucketed = make_batches(
        dataset,
        tokenizers.source,
        tokenizers.target,
        max_length=args.max_length,
        batch_tokens=args.batch_tokens,
        seed=0,
    )
    results = {"bucketed (token budget)": measure(bucketed)}
    sentences = sum(1 for _ in dataset)
    batch_size = round(sentences / results["bucketed (token budget)"]["batches"])
    baseline = baseline_batches(
        dataset, tokenizers.source, tokenizers.target, batch_size, args.max_length, seed=0
    )
    results[f"padded_batch({batch_size})"] = measure(baseline)

    print(
        f"split={args.split} sentences={sentences} batch_tokens={args.batch_tokens} "
        f"max_length={args.max_length}"
    )
    print(f"{'pipeline':<26}{'batches':>9}{'padding eff.':>14}{'real tok/s':>13}{'all tok/s':>13}")
    for name, r in results.items():
        print(
            f"{name:<26}{r['batches']:>9}{r['efficiency']:>13.1%}"
            f"{r['tokens_per_s']:>13,.0f}{r['padded_tokens_per_s']:>13,.0f}"
        )
    b, p = results.values()
    print(
        f"ratio bucketed/baseline: padding efficiency x{b['efficiency'] / p['efficiency']:.2f}, "
        f"real tokens/s x{b['tokens_per_s'] / p['tokens_per_s']:.2f}"
    )
    print(
        f"model work per real token: bucketed {1 / b['efficiency']:.2f}, baseline "
        f"{1 / p['efficiency']:.2f} padded tokens (bucketing's per-example grouping costs "
        "pipeline speed, which prefetch hides while the model is far slower)"
    )


if __name__ == "__main__":
    main()
