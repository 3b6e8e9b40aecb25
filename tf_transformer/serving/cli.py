"""Sub-command ``serve`` (see ``tf_transformer.cli``): TensorFlow Serving's REST API and a page.

The command replaces its own process with ``python server.py`` (``os.execv``):
the server then holds TensorFlow and tensorflow-text only, not this package's
layers and model, and serves the SavedModel exactly as a fresh process (or
TensorFlow Serving) would load it. The process id stays the same, so signals
and the exit status reach the server directly.
"""

from __future__ import annotations

import os
import sys

from tf_transformer.serving import options, servable, server


def run_serve(args) -> int:
    servable.find_saved_model(args.export)  # a missing export fails here, before TensorFlow loads again
    # -P: the server's folder must not shadow top-level modules; the flags go through unchanged.
    argv = [sys.executable, "-P", server.__file__, *options.forward_arguments(args)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)
    return 0  # not reached


def add_commands(commands) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve an export with TensorFlow Serving's REST API, and a page to try it",
        description=server.__doc__.split("\n\n")[0],
    )
    options.add_arguments(parser)
    parser.set_defaults(run=run_serve)
