"""Command line: ``python -m tf_transformer COMMAND`` (installed as ``tf-transformer``).

Each feature module registers its own sub-commands through ``add_commands``;
this file only assembles them, so a command lives beside the code it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tf_transformer import _quiet  # noqa: F401

# Modules that contribute sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "tf_transformer.demo",
    "tf_transformer.data.prepare",
    "tf_transformer.training.cli",
    "tf_transformer.inference.cli",
    "tf_transformer.serving.cli",
    "tf_transformer.check",
]


def build_parser() -> argparse.ArgumentParser:
    import tf_transformer

    parser = argparse.ArgumentParser(
        prog="tf-transformer",
        description="Prepare a parallel corpus, then train, evaluate, run and export a Transformer "
        "that translates its source language into its target language (the embedded "
        "corpus, Portuguese->English, by default).",
    )
    parser.add_argument("--version", action="version", version=f"tf-transformer {tf_transformer.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; the errors written for people are printed plainly, without a traceback.

    Exit status: 0 done, 2 a usage or input error (a bad flag, a missing or
    damaged file), 1 the work itself failed (a write failed, the run directory
    is in use by another process).
    """
    from tf_transformer.data import DatasetUnavailableError
    from tf_transformer.files import LockedError, WriteError

    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except (WriteError, LockedError) as err:
        print(f"tf-transformer {args.command}: error: {err}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, DatasetUnavailableError) as err:
        print(f"tf-transformer {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
