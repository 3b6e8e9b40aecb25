"""Sub-command ``prepare`` (see ``tf_transformer.cli``).

Apart from :mod:`~tf_transformer.data.prepare` so that building the command
line does not import TensorFlow Datasets: ``translate`` never needs it.
"""

from __future__ import annotations

from tf_transformer.data.spec import DatasetSpec
from tf_transformer.data.tokenizer import EMBEDDED_VOCAB_SIZE, TOKENIZERS, VOCAB_SIZE

DESCRIPTION = "Prepare a corpus and its vocabularies: everything training needs, and what was done."


def run_prepare(args) -> int:
    from tf_transformer.data.prepare import format_summary, prepare

    summary = prepare(
        DatasetSpec.from_args(args),
        data_dir=args.data_dir,
        rebuild_vocab=args.rebuild_vocab,
        vocab_size=args.vocab_size,
        tokenizer=args.tokenizer,
    )
    print(format_summary(summary))
    return 0


def add_commands(commands) -> None:
    parser = commands.add_parser(
        "prepare",
        help="prepare a corpus and its vocabularies (what training needs)",
        description=DESCRIPTION,
    )
    DatasetSpec.add_arguments(parser)
    parser.add_argument(
        "--rebuild-vocab", action="store_true", help="learn the vocabularies again even if they exist"
    )
    parser.add_argument(
        "--vocab-size",
        type=int,
        default=None,
        metavar="N",
        help=f"target vocabulary size per side when learning (default {VOCAB_SIZE:,}; the embedded "
        f"corpus's shipped ones have {EMBEDDED_VOCAB_SIZE:,})",
    )
    parser.add_argument(
        "--tokenizer",
        choices=TOKENIZERS,
        default=None,
        help="which vocabularies to learn (default: sentencepiece, which gives real text back "
        "exactly; wordpiece for the embedded corpus, whose vocabularies ship with the package)",
    )
    parser.set_defaults(run=run_prepare)
