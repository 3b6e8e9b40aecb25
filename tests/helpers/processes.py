"""Fresh Python processes: for what only a process shows (a signal, a kill, an import, an exit code).

Each one imports TensorFlow again (about 4 s), so the tests start one only where the property
needs it, with the smallest workload that proves it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

# Runs first in every child that must work without our package: tf_transformer is not importable.
NO_TF_TRANSFORMER = textwrap.dedent("""
    import json, sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "tf_transformer":
                raise ModuleNotFoundError(f"{name} is blocked in this process")

    sys.meta_path.insert(0, Block())
    try:
        import tf_transformer
    except ModuleNotFoundError:
        pass
    else:
        sys.exit("tf_transformer is importable")
    import tensorflow as tf
    import tensorflow_text  # registers the tokenizer ops
    export_dir, texts = sys.argv[1], [bytes.fromhex(t) for t in json.loads(sys.argv[2])]
""")


def child_env(**extra) -> dict[str, str]:
    """This environment without ``PYTHONPATH`` (the child finds only installed packages), TF quiet."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def fresh_python(code, *args, cwd):
    """Run ``code`` in a fresh interpreter without our package on the path; its last line, as JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
