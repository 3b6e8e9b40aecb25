"""Serve an exported translator with TensorFlow Serving's REST API, batching requests as they come.

Endpoints (the subset of TensorFlow Serving's REST API a client needs, so the
same client code works against TensorFlow Serving unchanged):

- ``POST /v1/models/NAME[/versions/N]:predict`` with ``{"instances": [...]}``
  (row format, answered ``{"predictions": [...]}``) or ``{"inputs": ...}``
  (columnar format, answered ``{"outputs": ...}``), and an optional
  ``"signature_name"`` (``serving_default``, ``beam_search``, ``attention``).
- ``GET /v1/models/NAME[/versions/N]``: the model's version status.
- ``GET /v1/models/NAME[/versions/N]/metadata``: its signature definitions.
- ``GET /monitoring/prometheus/metrics``: request, batch and queue counters.
- ``GET /``: a page to translate and look at the attention (``page.html``, with the
  attention viewer of ``tf_transformer/viz`` inlined: ``read_page``).

Errors are answered as TensorFlow Serving answers them, ``{"error": "..."}``.
Requests are batched dynamically: concurrent requests for the same signature
share one model call. The server stops on SIGTERM, SIGINT or SIGHUP after the
requests in flight are answered.

One idea a file, in this folder:

- ``options``: the settings and their command-line flags;
- ``servable``: the SavedModel, its signatures, its status and metadata;
- ``rest``: the ``:predict`` body's JSON to arrays and back;
- ``batcher``: the dynamic batching;
- ``metrics``: the Prometheus counters;
- ``errors``: a request's failure and its HTTP status;
- ``http_server``: the routes, the limits, the deadlines, the drain;
- ``server`` (this file): the process: load, warm up, serve, stop.

This file runs as a fresh process (``tf-transformer serve`` replaces itself
with ``python server.py``) and imports TensorFlow and tensorflow-text only,
never the ``tf_transformer`` package: the SavedModel is served alone, as
TensorFlow Serving would serve it. Run as a file, it loads this folder as a
package of its own, ``serving``, so that the modules above import each other
without the ``tf_transformer`` package (whose import loads the model code).

Run::

    python tf_transformer/serving/server.py --export exports/pt_en [--port 8501]
"""

from __future__ import annotations

import argparse
import dataclasses
import faulthandler
import importlib.util
import pathlib
import signal
import sys
import threading
import time
import urllib.parse

STANDALONE_PACKAGE = "serving"


def _load_this_folder_as_a_package() -> str:
    """Run as a file: make this folder the package ``serving``, so that relative imports work.

    The package ``tf_transformer.serving`` is not an option: importing it
    imports ``tf_transformer`` first, and with it Keras and the model's layers.
    The folder also leaves ``sys.path`` (as with ``python -P``): ``options.py``
    or ``metrics.py`` must not shadow a top-level module of the same name.
    """
    folder = pathlib.Path(__file__).resolve().parent
    if sys.path and pathlib.Path(sys.path[0] or ".").resolve() == folder:
        del sys.path[0]
    spec = importlib.util.spec_from_file_location(
        STANDALONE_PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[STANDALONE_PACKAGE] = package
    spec.loader.exec_module(package)
    return STANDALONE_PACKAGE


def _quiet_tensorflow_start_up():
    """Run the package's ``_quiet.py`` (TensorFlow's start-up noise off) from its file.

    Loaded by path so that this process never imports the ``tf_transformer``
    package; when this module is imported from the package, it already ran.
    """
    if "tensorflow" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "_quiet", pathlib.Path(__file__).resolve().parents[1] / "_quiet.py"
    )
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


if not __package__:  # `python server.py`, not an import from the package
    __package__ = _load_this_folder_as_a_package()
_quiet_tensorflow_start_up()

# (after the start-up hush: these import TensorFlow)
from .batcher import Batcher  # noqa: E402
from .errors import ServingError  # noqa: E402
from .http_server import METRICS_PATH, Server  # noqa: E402
from .metrics import Metrics  # noqa: E402
from .options import Options, add_arguments, forward_arguments  # noqa: E402
from .rest import PredictRequest  # noqa: E402
from .servable import (  # noqa: E402
    Servable,
    Signature,
    TensorSpec,
    _model_message,  # noqa: F401
    default_model_name,
    find_saved_model,
)

# serve() and main(), and the names that importers found here before the split (each now lives
# in the file listed above).
__all__ = [
    "METRICS_PATH",
    "Batcher",
    "Metrics",
    "Options",
    "PredictRequest",
    "Server",
    "ServingError",
    "Signature",
    "TensorSpec",
    "add_arguments",
    "default_model_name",
    "find_saved_model",
    "forward_arguments",
    "main",
    "read_page",
    "serve",
]

PAGE_FILE = pathlib.Path(__file__).with_name("page.html")
# The attention viewer of tf_transformer.viz, which the page runs too: read by path (package data
# in a wheel as in a checkout), since this process never imports tf_transformer.
VIEWER_FILES = [
    pathlib.Path(__file__).resolve().parents[1] / "viz" / name
    for name in ("attention_viewer.css", "attention_viewer.js")
]


def read_page() -> str:
    """``page.html`` with the attention viewer's style and script inlined where it names them."""
    page = PAGE_FILE.read_text("utf-8")
    for path in VIEWER_FILES:
        page = page.replace(f"/* {path.name} */", path.read_text("utf-8"), 1)
    return page


def serve(options: Options, ready=print) -> int:
    """Load, warm up, serve until SIGINT, SIGTERM or SIGHUP, drain, return the exit status."""
    try:
        page = read_page()
        servable = Servable(options.export, options.model_name)
    except (OSError, ValueError) as err:
        print(f"tf-transformer serve: error: {err}", file=sys.stderr)
        return 2
    servable.warm_up()
    metrics = Metrics()
    batcher = Batcher(servable.run, options.max_batch_size, options.batch_timeout_ms / 1000, metrics)
    try:
        server = Server(options, servable, batcher, metrics, page)
    except OSError as err:
        print(
            f"tf-transformer serve: error: cannot listen on {options.host}:{options.port}: {err}",
            file=sys.stderr,
        )
        return 2

    # The handler only records the signal: taking a lock there could deadlock the main thread.
    received = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # (SIGHUP: the terminal closed)
        signal.signal(signum, lambda signum, frame: received.append(signum))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="http")
    thread.start()
    host, port = server.server_address[:2]
    quoted = urllib.parse.quote(servable.name, safe="")  # (a name with spaces or 翻译 in a URL)
    chosen = "" if servable.path == pathlib.Path(options.export) else f", the highest in {options.export}"
    ready(
        f"Serving '{servable.name}' version {servable.version}{chosen} ({', '.join(servable.signatures)}) "
        f"from {servable.path}\n"
        f"  page:    http://{host}:{port}/\n"
        f"  predict: POST http://{host}:{port}/v1/models/{quoted}:predict\n"
        f"Ctrl-C (SIGINT), SIGTERM or SIGHUP stops it after the requests in flight.",
        flush=True,
    )
    while not received:
        time.sleep(0.2)

    print(
        f"Stopping: no new connections; {metrics.in_flight} requests in flight.", file=sys.stderr, flush=True
    )
    server.draining = True
    server.shutdown()  # serve_forever returns: nothing new is accepted
    server.server_close()  # the port is free again
    thread.join()
    if not server.drain(options.request_timeout + 5):
        print("Some requests or connections did not finish in time.", file=sys.stderr)
    batcher.stop()
    answered = sum(metrics.responses.values())
    print(
        f"Stopped after {answered} responses in {sum(metrics.batches.values())} batches.",
        file=sys.stderr,
        flush=True,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    faulthandler.enable()  # a crash in TensorFlow's C++ still prints every thread's Python stack
    parser = argparse.ArgumentParser(prog="tf-transformer serve", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return serve(Options(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Options)}))


if __name__ == "__main__":
    sys.exit(main())
