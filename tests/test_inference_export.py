"""The exported SavedModel, loaded the way servers load it: in fresh processes without tf_transformer."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf
from _inference_run import BAD_INPUTS, corpus_pairs, trained_run_dir, trained_translator

from tf_transformer import cli

# Bad input of every kind, invalid UTF-8 included, mixed with real sentences.
INPUTS = (
    [s.encode("utf-8") for s in BAD_INPUTS.values()]
    + [b"O gato \xff dorme.", b"\xc3"]
    + [pt.encode("utf-8") for pt, _ in corpus_pairs(count=4)]
)

# Runs first in every child process: tf_transformer must not be importable there.
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

TF2_LOADER = NO_TF_TRANSFORMER + textwrap.dedent("""
    loaded = tf.saved_model.load(export_dir)
    greedy = loaded.signatures["serving_default"](text=tf.constant(texts))["translation"]
    beam = loaded.signatures["beam_search"](text=tf.constant(texts), beam_size=tf.constant(4))
    print(json.dumps({"greedy": [t.hex() for t in greedy.numpy()],
                      "beam": [t.hex() for t in beam["translation"].numpy()]}))
""")

TF1_LOADER = NO_TF_TRANSFORMER + textwrap.dedent("""
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], export_dir)
        results = {}
        for key, feeds in [("serving_default", {}), ("beam_search", {"beam_size": 4})]:
            signature = meta_graph.signature_def[key]
            feed = {signature.inputs["text"].name: texts}
            feed.update({signature.inputs[k].name: v for k, v in feeds.items()})
            results[key] = session.run(signature.outputs["translation"].name, feed)
    print(json.dumps({"greedy": [t.hex() for t in results["serving_default"]],
                      "beam": [t.hex() for t in results["beam_search"]]}))
""")


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "pt_en"
    assert cli.main(["export", "--run-dir", str(trained_run_dir()), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def expected():
    translator = trained_translator()
    texts = tf.constant(INPUTS)
    return {"greedy": list(translator(texts).numpy()), "beam": list(translator(texts, beam_size=4).numpy())}


def _run_child(code, export_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(export_dir), json.dumps([t.hex() for t in INPUTS])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {k: [bytes.fromhex(t) for t in v] for k, v in result.items()}


def test_tf2_loader_matches_translator(export_dir, expected, tmp_path):
    result = _run_child(TF2_LOADER, export_dir, tmp_path)
    assert result == expected
    assert result["greedy"][0] == b"" and all(result["greedy"][-4:])


def test_tf1_session_loader_matches_translator(export_dir, expected, tmp_path):
    # What TensorFlow Serving and `saved_model_cli run` do.
    assert _run_child(TF1_LOADER, export_dir, tmp_path) == expected
