"""Keep TensorFlow's start-up noise out of what users see.

TensorFlow 2.21 prints a screenful of C++ log lines (oneDNN, CUDA probing)
while it loads and first enumerates devices. Some of them come before its
logger reads ``TF_CPP_MIN_LOG_LEVEL``, so the variable alone is not enough:
we also point file descriptor 2 at /dev/null for exactly those two steps.
Python exceptions are unaffected (they are raised, and printed after the
descriptor is restored). Device enumeration does not initialise the runtime,
so logical devices can still be configured afterwards.

The default level, 3, also hides spurious C++ "errors" such as oneDNN's
note that it falls back to Eigen for int64 ops; Python exceptions still
surface. Set ``TF_CPP_MIN_LOG_LEVEL=0`` yourself to see everything again.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _import_tensorflow_quietly():
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        import tensorflow  # noqa: F401

        return
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()
        # TensorFlow Datasets and Keras report routine events through absl's
        # Python logger as warnings; errors still show.
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
        tf.get_logger().setLevel("ERROR")  # retracing notes, "Assets written to ..."
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_tensorflow_quietly()
