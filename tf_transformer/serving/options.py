"""The server's settings: ``Options``, and the command-line flags that fill it, one per field.

``tf-transformer serve`` declares the same flags (``add_arguments``) and hands
them on to the server's own process (``forward_arguments``).
"""

from __future__ import annotations

import argparse
import dataclasses


@dataclasses.dataclass(frozen=True)
class Options:
    """Every setting of the server; the command line's flags are these fields (``add_arguments``)."""

    export: str = ""
    host: str = "127.0.0.1"
    port: int = 8501
    model_name: str | None = None
    batch_timeout_ms: float = 5.0
    max_batch_size: int = 64
    max_instances: int = 64
    max_beam_size: int = 8
    max_body_bytes: int = 1 << 20
    request_timeout: float = 30.0
    max_connections: int = 512


HELP = {
    "export": "a SavedModel written by `tf-transformer export`, or a TensorFlow Serving base folder "
    "of numbered versions (the highest is served)",
    "host": "address to bind; anything but 127.0.0.1 exposes the model to the network (default: %(default)s)",
    "port": "0 picks a free port (default: %(default)s)",
    "model_name": "NAME in /v1/models/NAME (default: the export folder's name, without the version)",
    "batch_timeout_ms": "how long a batch waits for more requests (default: %(default)s)",
    "max_batch_size": "most sentences in one model call (default: %(default)s)",
    "max_instances": "most sentences in one request (default: %(default)s)",
    "max_beam_size": "largest beam_size a request may ask for (default: %(default)s)",
    "max_body_bytes": "largest request body (default: %(default)s)",
    "request_timeout": "seconds a request may wait for its answer, and an idle connection stays open "
    "(default: %(default)s)",
    "max_connections": "open connections at most; more are answered 503 (default: %(default)s)",
}


METAVAR = {
    "export": "DIR",
    "model_name": "NAME",
    "batch_timeout_ms": "MS",
    "max_body_bytes": "BYTES",
    "request_timeout": "SECONDS",
}


def _number(kind, minimum, maximum=None):
    def parse(text):
        value = kind(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its errors
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's flags, one per ``Options`` field (``tf-transformer serve`` uses them too)."""
    for field in dataclasses.fields(Options):
        flag = "--" + field.name.replace("_", "-")
        whole = _number(int, 0, 65535) if field.name == "port" else _number(int, 1)  # (TCP's ports)
        kind = {"int": whole, "float": _number(float, 0)}.get(field.type)
        parser.add_argument(
            flag,
            type=kind,
            default=field.default,
            required=field.name == "export",
            metavar=METAVAR.get(field.name, "N" if kind else None),
            help=HELP[field.name],
        )


def forward_arguments(args: argparse.Namespace) -> list[str]:
    """Parsed flags -> the command line that gives the same ``Options`` again."""
    out = []
    for field in dataclasses.fields(Options):
        value = getattr(args, field.name)
        if value is not None:
            out.append(f"--{field.name.replace('_', '-')}={value}")
    return out
