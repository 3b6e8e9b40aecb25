"""Translating a split longest first against in its own order: how much the batches' lengths cost.

``Translator.translate`` puts the longest sentences in the first batch, the
next longest in the next, and so on, and hands the translations back in the
caller's order. A batch's search runs until its longest translation ends and
pads every source to its longest; with sentences of about one length
together, both waste less. This translates the first ``--sentences`` of a
split of a trained run both ways, in turns (``--repeats`` each, after one
call of each search to trace it), counts the translations that differ (none
should, but other batches round floats differently and can tip a near tie),
and prints the median seconds and the ratio for greedy and beam search.

Run::

    python benchmarks/length_sorting.py           # runs/demo (make demo first): about 3 minutes
    python benchmarks/length_sorting.py --fast    # a minute: a tiny model trained for 2 steps (tests)
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import json
import pathlib
import statistics
import tempfile
import time

import tensorflow as tf

from tf_transformer.constants import TEST_SPLIT
from tf_transformer.data import load_dataset
from tf_transformer.inference import Translator
from tf_transformer.runs import load_run
from tf_transformer.training.precision import describe_machine, machine


def in_given_order(translator, sentences, beam_size, batch_size):
    """What ``translate`` did before it sorted: batches in the sentences' own order."""
    out = []
    for i in range(0, len(sentences), batch_size):
        batch = translator(tf.constant(sentences[i : i + batch_size], tf.string), beam_size)
        out += [text.decode("utf-8", errors="replace") for text in batch.numpy()]
    return out


def fast_run(directory) -> pathlib.Path:
    """A tiny model trained for two steps on the embedded corpus (the tests' smallest run)."""
    from tf_transformer.training import TrainConfig, train

    run_dir = pathlib.Path(directory) / "run"
    config = TrainConfig(
        preset="tiny", max_steps=2, steps_per_epoch=2, batch_tokens=512, max_length=32, seed=0
    )
    train(config, run_dir)
    return run_dir


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", default="runs/demo", help="a trained run (default: runs/demo)")
    parser.add_argument("--split", default=TEST_SPLIT)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fast", action="store_true", help="a tiny model, 48 sentences, batches of 16")
    parser.add_argument("--out", type=pathlib.Path, help="also write the report here as JSON")
    args = parser.parse_args(argv)
    print(f"machine: {describe_machine()}", flush=True)
    if args.fast:
        args.sentences, args.batch_size, args.repeats = 48, 16, 1
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = fast_run(scratch) if args.fast else pathlib.Path(args.run_dir)
        if not (run_dir / "run.json").is_file():
            parser.error(f"{run_dir} holds no trained run: run `make demo` first, or pass --run-dir")
        run = load_run(run_dir)
        translator = Translator.from_run(run)
        pairs = load_dataset(run.info.spec, args.split, data_dir=run.info.data_dir)  # (as evaluate reads it)
        pairs = pairs.take(args.sentences).as_numpy_iterator()
        sentences = [source.decode("utf-8") for source, _ in pairs]
        report = {"run_dir": str(run_dir), "split": args.split, "sentences": len(sentences), "searches": {}}
        report["machine"] = machine()
        ways = {
            "given order": lambda beam: in_given_order(translator, sentences, beam, args.batch_size),
            "longest first": lambda beam: translator.translate(sentences, beam, args.batch_size),
        }
        print(f"{len(sentences)} sentences of {run_dir}'s {args.split} split, batches of {args.batch_size}")
        for beam in (1, args.beam_size):
            search = "greedy" if beam == 1 else f"beam {beam}"
            outputs = {name: way(beam) for name, way in ways.items()}  # traces the search, once
            # Other batches, other float rounding: a near tie can go the other way (rarely).
            differing = sum(a != b for a, b in zip(*outputs.values()))
            if differing:
                print(f"  {search}: {differing} of {len(sentences)} translations differ between the orders")
            seconds = {name: [] for name in ways}
            for _ in range(args.repeats):
                for name, way in ways.items():
                    started = time.perf_counter()
                    way(beam)
                    seconds[name].append(time.perf_counter() - started)
            medians = {name: statistics.median(times) for name, times in seconds.items()}
            ratio = medians["given order"] / medians["longest first"]
            report["searches"][search] = {
                "seconds": seconds,
                "median_seconds": medians,
                "speedup": ratio,
                "differing_translations": differing,
            }
            print(
                f"  {search:>7}: given order {medians['given order']:.2f} s, longest first "
                f"{medians['longest first']:.2f} s: {ratio:.2f}x"
            )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
