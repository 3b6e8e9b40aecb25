"""Command line: ``python -m tf_transformer COMMAND`` (installed as ``tf-transformer``).

Each feature module registers its own sub-commands through ``add_commands``;
this file assembles them, so a command lives beside the code it runs, and ends
each with the exit status that the exception which stopped it maps to
(``EXIT_CODES``), so the codes are written once.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import signal
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

    Exit status (``EXIT_CODES``): 0 done, 2 a usage or input error (a bad flag, a missing or
    damaged file), 1 the work itself failed (a write failed, the run directory is in use by
    another process, training diverged), 128 + the signal's number when a signal stopped it.
    """
    args = build_parser().parse_args(argv)
    try:
        with _signals_interrupt():
            return args.run(args) or 0
    except BaseException as err:
        exit_code = _exit_code(err)
        if exit_code is None:  # a bug (or SystemExit): its traceback
            raise
        code, report = exit_code
        print(f"tf-transformer {args.command}: {report(err, args)}", file=sys.stderr)
        return code(err) if callable(code) else code


def _error(err: BaseException, args) -> str:
    return f"error: {err}"


def _said(err: BaseException, args) -> str:  # the exception's own words say what happened
    return str(err)


def _location(err: OSError, args) -> str:  # a folder that is read-only, a file, or on a full disk
    return f"error: {location_error(err, args)}"


def _export_exists(err, args) -> str:
    free = f", or --version {err.next_version} to write the next free version" if err.next_version else ""
    return f"error: {err.path} already exists; pass --overwrite to replace it{free}."


def _interrupted(err: KeyboardInterrupt, args) -> str:
    return (
        f"interrupted ({signal.Signals(_signum(err)).name}); what it had finished writing is whole, "
        "and running the same command again does the rest"
    )


def _signum(err: BaseException) -> int:
    return getattr(err, "signum", signal.SIGINT)  # (Ctrl-C's KeyboardInterrupt carries none)


def _signal_code(err: BaseException) -> int:
    """128 + the signal's number, as a shell reports a process ended by it (130, 143, 129)."""
    return 128 + _signum(err)


# How each exception ends a command: its exit status (or a function of the exception that gives
# it) and the line printed after "tf-transformer COMMAND: ". The most specific listed class in
# the exception's MRO decides: a WriteError is an OSError, a FileNotFoundError too, a
# DamagedRunError a ValueError. Classes are named, not imported, so that reporting an error loads
# no other command's code. Anything else is a bug, and keeps its traceback. argparse's own usage
# errors exit 2 before a command runs. docs/command-line.md documents the codes.
EXIT_CODES = {
    # 2: a usage or input error
    "builtins.ValueError": (2, _error),  # a bad setting, a damaged run directory...
    "builtins.FileNotFoundError": (2, _error),
    "tf_transformer.data.spec.DatasetUnavailableError": (2, _error),
    "tf_transformer.inference.export.ExportExistsError": (2, _export_exists),
    # 1: the work itself failed
    "tf_transformer.files.WriteError": (1, _error),
    "tf_transformer.runs.lock.LockedError": (1, _error),
    "tf_transformer.training.stops.TrainingDiverged": (1, _said),
    "tf_transformer.training.strategy.ClusterTimeout": (1, _error),
    "builtins.OSError": (1, _location),
    # 128 + the signal: SIGINT (Ctrl-C) 130, SIGTERM 143, SIGHUP 129
    "tf_transformer.training.stops.TrainingInterrupted": (_signal_code, _said),
    "tf_transformer.training.strategy.ClusterInterrupted": (_signal_code, _said),
    "builtins.KeyboardInterrupt": (_signal_code, _interrupted),
}


def _exit_code(err: BaseException):
    """``EXIT_CODES``'s entry for ``err`` (its most specific listed class), or None."""
    for cls in type(err).__mro__:
        entry = EXIT_CODES.get(f"{cls.__module__}.{cls.__qualname__}")
        if entry is not None:
            return entry
    return None


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the command is, like Ctrl-C: its ``finally`` blocks and
    ``except BaseException`` clean-ups run (an export's half-written folder is removed)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _signals_interrupt():
    """While a command runs: SIGTERM and SIGHUP raise ``Terminated`` (Python's default is to die at
    once, leaving temporary files). ``train`` installs its own handlers inside (save, then stop)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


# Where a path may come from: the flags that name a location, and the environment variable.
LOCATION_FLAGS = ("run_dir", "data_dir", "out", "export")
RUNS_VARIABLE = "TF_TRANSFORMER_RUNS"
_ADVICE = {
    errno.EACCES: "choose a folder you may write to",
    errno.EPERM: "choose a folder you may write to",
    errno.EROFS: "it is on a read-only file system: choose another folder",
    errno.ENOTDIR: "a file stands where a folder must be: pass a folder",
    errno.EISDIR: "a folder stands where a file is needed",
    errno.ENOSPC: "the disk is full: free some space and run the command again",
    errno.EDQUOT: "the disk quota is used up: free some space and run the command again",
}


def location_error(err: OSError, args: argparse.Namespace) -> str:
    """One line for an ``OSError`` on a path: the path, the flag or environment variable it came
    from, what the system said, and what to do.

    >>> err = NotADirectoryError(20, "Not a directory", "/tmp/a/run")
    >>> print(location_error(err, argparse.Namespace(run_dir="/tmp/a/run")))
    cannot use /tmp/a/run (--run-dir): Not a directory; a file stands where a folder must be: pass a folder
    """
    path = err.filename
    source = None
    if path:
        candidates = [("--" + name.replace("_", "-"), getattr(args, name, None)) for name in LOCATION_FLAGS]
        candidates.append((RUNS_VARIABLE, os.environ.get(RUNS_VARIABLE)))
        for name, value in candidates:
            if value and _within(path, value):
                source = name
                break
    what = err.strerror or str(err)
    advice = _ADVICE.get(err.errno, "")
    advice = f"; {advice}" if advice else ""
    if not path:  # (the output itself: `> /dev/full`)
        return f"{what}{advice}"
    return f"cannot use {path}{f' ({source})' if source else ''}: {what}{advice}"


def _within(path, folder) -> bool:
    path, folder = os.path.abspath(os.fspath(path)), os.path.abspath(os.fspath(folder))
    return (
        path == folder or path.startswith(folder.rstrip(os.sep) + os.sep) or folder.startswith(path + os.sep)
    )


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
    except OSError as err:  # the output could not be written (`> /dev/full`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"tf-transformer: error: cannot write the output: {err.strerror or err}", file=sys.stderr)
        code = 1
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    if command in QUICK_EXIT:
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
