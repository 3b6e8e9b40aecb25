"""Sub-commands ``evaluate``, ``translate`` and ``export`` (see ``tf_transformer.cli``)."""

from __future__ import annotations

import argparse
import sys

from tf_transformer.constants import EVALUATION_SPLITS


def _at_least_one(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _load(run_dir, weights=None, jit_compile=False):
    """The ``Translator`` of a run directory, with the weights ``--weights`` names."""
    from tf_transformer.inference.translator import Translator
    from tf_transformer.runs import load_run

    return Translator.from_run(load_run(run_dir, weights), jit_compile=jit_compile)


def run_evaluate(args) -> int:
    from tf_transformer.inference.evaluate import evaluate_run
    from tf_transformer.runs import METRICS_FILE

    result = evaluate_run(
        args.run_dir,
        args.split,
        beam_size=args.beam_size,
        batch_size=args.batch_size,
        limit=args.limit,
        data_dir=args.data_dir,
        weights=args.weights,
        xla=args.xla,
    )
    for number in result["invalid_utf8"]:
        print(
            f"warning: pair {number} of the {args.split} split is not valid UTF-8; "
            f"its invalid bytes were replaced with U+FFFD.",
            file=sys.stderr,
        )
    search = "greedy" if args.beam_size == 1 else f"beam {args.beam_size}, alpha {result['alpha']}"
    print(
        f"{args.split}: {result['sentences']} sentences, {search}, "
        f"{result['sentences_per_second']} sentences/s"
    )
    print(result["bleu_line"])
    print(result["chrf_line"])
    print(f"exact: {100 * result['exact']:.1f}% of the outputs are their reference, character for character")
    print(f"written to {args.run_dir.rstrip('/')}/{METRICS_FILE} as {result['key']!r}")
    return 0


def _as_text(raw: bytes | str, where: str) -> str:
    """One input sentence as text; invalid UTF-8 (bytes, or an argument's surrogate escapes) is
    replaced with U+FFFD, with a warning naming ``where`` ("line 3")."""
    if isinstance(raw, str):
        try:
            raw.encode("utf-8")
            return raw
        except UnicodeEncodeError:  # undecodable argv bytes arrive as surrogate escapes
            try:
                raw = raw.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:  # (surrogates that stand for no byte)
                raw = raw.encode("utf-8", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        print(
            f"warning: {where} is not valid UTF-8; its invalid bytes were replaced with U+FFFD "
            f"and the rest is translated.",
            file=sys.stderr,
        )
        return raw.decode("utf-8", errors="replace")


def _input_sentences(args) -> list[str]:
    """The sentences to translate: the arguments, else stdin's lines, each decoded on its own."""
    if args.text:
        return [_as_text(text, f"argument {i}") for i, text in enumerate(args.text, start=1)]
    stream = getattr(sys.stdin, "buffer", sys.stdin)  # (a text stream where stdin was replaced)
    newline = b"\n" if stream is not sys.stdin else "\n"
    return [_as_text(line.rstrip(newline), f"line {i}") for i, line in enumerate(stream, start=1)]


def run_translate(args) -> int:
    from tf_transformer.inference.evaluate import decoding, decoding_mode

    sentences = _input_sentences(args)
    mode = decoding_mode(args.xla, len(sentences))
    translator = _load(args.run_dir, args.weights, jit_compile=mode == "xla")
    with decoding(mode):
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


def _version(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {value!r}")
    return int(value)


def run_export(args) -> int:
    from tf_transformer.inference.export import export_version, version_path

    # An existing version is refused (ExportExistsError, with the next free one) before the model loads.
    version_path(args.out, args.version, overwrite=args.overwrite)
    translator = _load(args.run_dir, args.weights)
    path = export_version(translator, args.out, args.version, overwrite=args.overwrite)
    print(
        f"SavedModel written to {path}\n"
        f"  serving_default: text (tf.string [None]) -> translation (tf.string [None]), greedy\n"
        f"  beam_search:     text, beam_size (tf.int32 scalar) -> translation\n"
        f"  attention:       text -> source_tokens, target_tokens, weights, translation\n"
        f"Load it with TensorFlow and `import tensorflow_text`; no tf_transformer needed.\n"
        f"Serve it: tf-transformer serve --export {args.out}"
    )
    return 0


def add_commands(commands) -> None:
    def run_dir(parser):
        parser.add_argument("--run-dir", required=True, help="a directory written by `train`")

    def weights(parser):
        parser.add_argument(
            "--weights",
            default=None,
            metavar="best|latest|backup|PATH",
            help="which weights: the best or latest checkpoint, the mid-epoch backup, or a "
            ".weights.h5 file (default: model.weights.h5, or the best checkpoint of an unfinished run)",
        )

    def xla(parser):
        parser.add_argument(
            "--xla",
            default="auto",
            choices=("auto", "on", "off"),
            help="on: compile the decoding steps with XLA; off: run them as a plain TensorFlow graph; "
            "auto (default): a few sentences eagerly, with nothing to trace, many as a plain graph",
        )

    parser = commands.add_parser("evaluate", help="corpus BLEU and chrF (sacreBLEU) on a split")
    run_dir(parser)
    parser.add_argument("--split", default="test", choices=EVALUATION_SPLITS, help="(default: test)")
    parser.add_argument("--beam-size", type=_at_least_one, default=1, help="1 = greedy (default)")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default: 64)")
    parser.add_argument(
        "--limit",
        type=_at_least_one,
        default=None,
        help="only the first N sentence pairs (scored under their own key in metrics.json)",
    )
    parser.add_argument(
        "--data-dir", default=None, help="where the prepared data lives (default: where training found it)"
    )
    weights(parser)
    xla(parser)
    parser.set_defaults(run=run_evaluate)

    parser = commands.add_parser(
        "translate", help="translate sentences of the run's source language (arguments or stdin lines)"
    )
    run_dir(parser)
    parser.add_argument("--beam-size", type=_at_least_one, default=1, help="1 = greedy (default)")
    weights(parser)
    xla(parser)
    parser.add_argument("text", nargs="*", help="sentences; without any, one per line on stdin")
    parser.set_defaults(run=run_translate)

    parser = commands.add_parser(
        "export",
        help="write a SavedModel that serves strings to strings, as version N of a base folder",
        description="Write the run's translator as a SavedModel into OUT/N, the layout TensorFlow "
        "Serving reads (`serve --export OUT` serves the highest N). It is written aside, loaded "
        "back and run once, and only then moved into place: an interrupted export leaves OUT/N "
        "as it was.",
    )
    run_dir(parser)
    weights(parser)
    parser.add_argument(
        "--out", required=True, metavar="BASE", help="base folder; the SavedModel goes into BASE/N"
    )
    parser.add_argument(
        "--version",
        type=_version,
        default=None,
        metavar="N",
        help="version number (default: the highest existing one plus 1, or 1)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace BASE/N if it exists (default: refuse)"
    )
    parser.set_defaults(run=run_export)
