"""tf.distribute: two local replicas follow one device's loss trajectory, and two
MultiWorkerMirroredStrategy workers on 127.0.0.1 train together.

Both run in subprocesses: logical devices and collective ops are configured once per
process, before TensorFlow starts, and must not leak into the other tests.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np

ARGS = dict(train_examples=256, validation_examples=0, batch_tokens=512, max_length=32,
            steps_per_epoch=1, max_steps=4, seed=7, verbose=0)

MIRRORED = textwrap.dedent("""
    import json, sys
    import tf_transformer
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from tf_transformer.training import train
    from tf_transformer.training.train import make_strategy
    assert make_strategy("mirrored").num_replicas_in_sync == 2
    losses, weights = {}, {}
    for strategy in ("auto", "mirrored"):
        result = train("tiny", f"{sys.argv[1]}/{strategy}", strategy=strategy, **json.loads(sys.argv[2]))
        losses[strategy] = [e["loss"] for e in result.history]
        weights[strategy] = [w.numpy() for w in result.model.weights]
        keras.backend.clear_session()
    losses["weight_diff"] = max(float(abs(a - b).max()) for a, b in zip(weights["auto"], weights["mirrored"]))
    print("LOSSES", json.dumps(losses))
""")

WORKER = textwrap.dedent("""
    import json, sys
    import tf_transformer
    from tf_transformer.training import train
    result = train("tiny", sys.argv[1], strategy="multiworker", **json.loads(sys.argv[2]))
    print("STEPS", result.steps)
""")


def _env(**extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
    env.pop("TF_CONFIG", None)
    return {**env, **extra}


def test_two_mirrored_replicas_match_one_device(tmp_path):
    proc = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path), json.dumps(ARGS)],
                          capture_output=True, text=True, timeout=400, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    losses = json.loads(proc.stdout.split("LOSSES", 1)[1])
    assert len(losses["auto"]) == len(losses["mirrored"]) == 4
    # Same global batches, loss normalised by the global token count: the same updates, so
    # after 4 steps the same weights (up to float summation order) ...
    assert losses["weight_diff"] < 1e-5
    # ... and the same loss trajectory (Keras's displayed loss weighs replicas by sentences).
    np.testing.assert_allclose(losses["mirrored"], losses["auto"], rtol=1e-2)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_multiworker_processes_train_together_and_the_chief_checkpoints(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    args = json.dumps({**ARGS, "max_steps": 3, "steps_per_epoch": 3, "seed": None})
    run_dir = tmp_path / "run"
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(run_dir), args],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=_env(TF_CONFIG=tf_config)))
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=400))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
        assert "STEPS 3" in out
    assert (run_dir / "checkpoints" / "latest.weights.h5").is_file()
    assert (run_dir / "model.weights.h5").is_file()
    history = json.loads((run_dir / "history.json").read_text())
    assert [e["step"] for e in history] == [3]
