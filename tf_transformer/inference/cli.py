"""Sub-commands ``evaluate``, ``translate`` and ``export`` (see ``tf_transformer.cli``)."""

from __future__ import annotations

import argparse
import sys

from tf_transformer.constants import EVALUATION_SPLITS


def _beam_size(value: str) -> int:
    size = int(value)
    if size < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {size}")
    return size


def _load(run_dir):
    from tf_transformer.inference.translator import Translator
    from tf_transformer.run_dir import load_run

    return Translator.from_run(load_run(run_dir), jit_compile=True)


def run_evaluate(args) -> int:
    from tf_transformer.inference.evaluate import METRICS_FILE, evaluate_run

    result = evaluate_run(
        args.run_dir,
        args.split,
        beam_size=args.beam_size,
        batch_size=args.batch_size,
        limit=args.limit,
        data_dir=args.data_dir,
    )
    search = "greedy" if args.beam_size == 1 else f"beam {args.beam_size}, alpha {result['alpha']}"
    print(
        f"{args.split}: {result['sentences']} sentences, {search}, "
        f"{result['sentences_per_second']} sentences/s"
    )
    print(result["bleu_line"])
    print(result["chrf_line"])
    print(f"written to {args.run_dir.rstrip('/')}/{METRICS_FILE}")
    return 0


def run_translate(args) -> int:
    sentences = args.text or [line.rstrip("\n") for line in sys.stdin]
    translator = _load(args.run_dir)
    for i, count in enumerate(translator.source_lengths(sentences)):
        if count > translator.max_length:
            print(
                f"warning: sentence {i + 1} has {count} tokens; only its first "
                f"{translator.max_length} (with [START] and [END]) are translated.",
                file=sys.stderr,
            )
    for line in translator.translate(sentences, beam_size=args.beam_size):
        print(line)
    return 0


def run_export(args) -> int:
    from tf_transformer.inference.export import export_translator

    path = export_translator(_load(args.run_dir), args.out)
    print(
        f"SavedModel written to {path}\n"
        f"  serving_default: text (tf.string [None]) -> translation (tf.string [None]), greedy\n"
        f"  beam_search:     text, beam_size (tf.int32 scalar) -> translation\n"
        f"Load it with TensorFlow and `import tensorflow_text`; no tf_transformer needed."
    )
    return 0


def add_commands(commands) -> None:
    def run_dir(parser):
        parser.add_argument("--run-dir", required=True, help="a directory written by `train`")

    parser = commands.add_parser("evaluate", help="corpus BLEU and chrF (sacreBLEU) on a split")
    run_dir(parser)
    parser.add_argument("--split", default="test", choices=EVALUATION_SPLITS, help="(default: test)")
    parser.add_argument("--beam-size", type=_beam_size, default=1, help="1 = greedy (default)")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default: 64)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N sentence pairs")
    parser.add_argument(
        "--data-dir", default=None, help="where the prepared data lives (default: where training found it)"
    )
    parser.set_defaults(run=run_evaluate)

    parser = commands.add_parser(
        "translate", help="translate sentences of the run's source language (arguments or stdin lines)"
    )
    run_dir(parser)
    parser.add_argument("--beam-size", type=_beam_size, default=1, help="1 = greedy (default)")
    parser.add_argument("text", nargs="*", help="sentences; without any, one per line on stdin")
    parser.set_defaults(run=run_translate)

    parser = commands.add_parser("export", help="write a SavedModel that serves strings to strings")
    run_dir(parser)
    parser.add_argument("--out", required=True, help="directory for the SavedModel")
    parser.set_defaults(run=run_export)
