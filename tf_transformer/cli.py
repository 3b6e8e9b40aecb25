"""Command line: ``python -m tf_transformer COMMAND`` (installed as ``tf-transformer``).

Each feature module registers its own sub-commands through ``add_commands``;
this file only assembles them, so a command lives beside the code it runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from tf_transformer import _quiet  # noqa: F401

# Modules that contribute sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "tf_transformer.demo",
    "tf_transformer.data.cli",
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


# Commands that only read and print. Once they have printed there is nothing left to do, and
# leaving without the interpreter's shutdown (TensorFlow's teardown: ~0.9 s on two cores)
# gives the prompt back that much sooner.
QUICK_EXIT = frozenset({"translate"})


def run() -> None:
    """The ``tf-transformer`` program (console script, ``python -m tf_transformer``): ``main``, then exit."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left early (`... | head -1`): no traceback, as other tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        code = 1
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    if command in QUICK_EXIT:
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
