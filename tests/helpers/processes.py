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


# Both loaders, one after the other, in one fresh process: what `tf.saved_model.load` gives (TF2),
# and what TensorFlow Serving and `saved_model_cli run` do (the TF1 session loader).
LOADERS = NO_TF_TRANSFORMER + textwrap.dedent("""
    def hexes(strings):
        return [t.hex() for t in strings]

    loaded = tf.saved_model.load(export_dir)
    greedy = loaded.signatures["serving_default"](text=tf.constant(texts))["translation"]
    beam = loaded.signatures["beam_search"](text=tf.constant(texts), beam_size=tf.constant(4))
    tf2 = {"greedy": hexes(greedy.numpy()), "beam": hexes(beam["translation"].numpy())}

    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], export_dir)
        results = {}
        for key, feeds in [("serving_default", {}), ("beam_search", {"beam_size": 4})]:
            signature = meta_graph.signature_def[key]
            feed = {signature.inputs["text"].name: texts}
            feed.update({signature.inputs[k].name: v for k, v in feeds.items()})
            results[key] = session.run(signature.outputs["translation"].name, feed)
    tf1 = {"greedy": hexes(results["serving_default"]), "beam": hexes(results["beam_search"])}
    print(json.dumps({"tf2": tf2, "tf1": tf1}))
""")


def loaded_translations(export_dir, texts, *, cwd) -> dict:
    """``{"tf2"|"tf1": {"greedy"|"beam": [bytes, ...]}}``: an export's translations of ``texts``
    (str or bytes), through both loaders, in one fresh process that cannot import our package."""
    encoded = [t.encode("utf-8") if isinstance(t, str) else t for t in texts]
    result = fresh_python(LOADERS, export_dir, json.dumps([t.hex() for t in encoded]), cwd=cwd)
    return {
        loader: {search: [bytes.fromhex(t) for t in found] for search, found in searches.items()}
        for loader, searches in result.items()
    }
