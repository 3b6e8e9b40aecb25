"""tf.distribute: two local replicas follow one device's loss trajectory, and two
MultiWorkerMirroredStrategy workers on 127.0.0.1 train together.

Both run in subprocesses: logical devices and collective ops are configured once per
process, before TensorFlow starts, and must not leak into the other tests.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tf_transformer.recipes import recipe

pytestmark = [pytest.mark.slow, pytest.mark.independent]  # processes that train; no fixture shared

ARGS = recipe("smoke", validation_examples=0, steps_per_epoch=1, max_steps=4, seed=7)

MIRRORED = textwrap.dedent("""
    import json, sys
    import tf_transformer
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np
    from tf_transformer import Transformer, TransformerConfig, data
    from tf_transformer.training import masked_loss, train
    from tf_transformer.training import make_strategy
    mirrored = make_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2
    args = json.loads(sys.argv[2])
    out = {}

    # 1. One global batch: the gradient summed over two replicas against one device's.
    keras.utils.set_random_seed(args["seed"])
    tokenizers = data.load_tokenizers()
    pairs = data.load_dataset("embedded", "train").take(args["train_examples"])
    batches = data.make_batches(pairs, tokenizers.source, tokenizers.target, max_length=args["max_length"],
                                batch_tokens=args["batch_tokens"], seed=args["seed"], repeat=True)
    (context, target), labels = batch = next(iter(batches))
    config = TransformerConfig.from_preset(
        "tiny", input_vocab_size=int(tokenizers.source.get_vocab_size()),
        target_vocab_size=int(tokenizers.target.get_vocab_size()), max_length=args["max_length"])

    def gradient(model, context, target, labels):
        with tf.GradientTape() as tape:
            loss = masked_loss(labels, model((context, target), training=True))
        return [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_weights)]

    one = Transformer(config)
    one.build()
    with mirrored.scope():
        two = Transformer(config)
        two.build()
    for a, b in zip(two.weights, one.weights):
        a.assign(b)
    per_replica = next(iter(mirrored.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors(batch))))
    summed = tf.function(lambda b: [mirrored.reduce("SUM", g, None) for g in mirrored.run(
        lambda b: gradient(two, b[0][0], b[0][1], b[1]), args=(b,))])(per_replica)
    alone = gradient(one, context, target, labels)
    out["gradient_rel_diff"] = float(tf.linalg.global_norm([a - b for a, b in zip(summed, alone)])
                                     / tf.linalg.global_norm(alone))

    # 2. The whole train(): four Adam steps each way, from the same seeded start.
    class FirstWeights(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.weights = [w.numpy().astype("float64") for w in self.model.weights]

    updates, losses = {}, {}
    for strategy in ("auto", "mirrored"):
        first = FirstWeights()
        result = train("tiny", f"{sys.argv[1]}/{strategy}", strategy=strategy, callbacks=[first], **args)
        losses[strategy] = [e["loss"] for e in result.history]
        updates[strategy] = {w.path.split("/", 1)[1]: w.numpy().astype("float64") - w0
                             for w, w0 in zip(result.model.weights, first.weights)}
        keras.backend.clear_session()
    names = [n for n in updates["auto"] if not n.endswith("key_bias")]
    diff = np.sqrt(sum(((updates["auto"][n] - updates["mirrored"][n]) ** 2).sum() for n in names))
    size = np.sqrt(sum((updates["auto"][n] ** 2).sum() for n in names))
    out["update_rel_diff"] = float(diff / size)
    out["losses"] = losses
    print("RESULT", json.dumps(out))
""")


def _env(**extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
    env.pop("TF_CONFIG", None)
    return {**env, **extra}


def test_two_mirrored_replicas_match_one_device(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(tmp_path), json.dumps(ARGS)],
        capture_output=True,
        text=True,
        timeout=400,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT", 1)[1])
    # The gradient of one global batch, summed over two replicas that each divide by the
    # global token count, is one device's gradient up to float32 summation order: each
    # component is a sum over the batch's tokens, and regrouping a sum of n float32 terms
    # moves it by about sqrt(n) * 1.2e-7 of its size (n ~ 500 here: ~3e-6), on any CPU.
    assert result["gradient_rel_diff"] < 1e-5, result
    # The weights after 4 Adam steps. Adam divides each gradient component by its own
    # running size, so a component that is rounding noise around 0 steps by a full +-lr
    # either way. The key biases are exactly that (softmax ignores a constant added to every
    # score, so their gradient is 0 in exact arithmetic): left out. Of the other ~160k
    # weights, a single sign flip moves this relative difference by 2 / sqrt(160k) = 5e-3;
    # the bound lets a few such near-zero components differ, while different data or a
    # wrongly normalised loss moves every weight (0.86 when the shuffle order depended on
    # the strategy). Measured here: ~1e-6 on an AMD EPYC.
    assert result["update_rel_diff"] < 1e-2, result
    losses = result["losses"]
    assert len(losses["auto"]) == len(losses["mirrored"]) == 4
    # Keras's displayed loss weighs replicas by sentences, not tokens: equal when the two
    # replicas get equal sentence counts, within a percent otherwise.
    np.testing.assert_allclose(losses["mirrored"], losses["auto"], rtol=1e-2)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(run_dir, flags, workers):
    command = [sys.executable, "-m", "tf_transformer", "train", "--preset=tiny", f"--run-dir={run_dir}"]
    command += [f"--{name.replace('_', '-')}={value}" for name, value in flags.items()]
    return [
        subprocess.Popen(
            command + ["--strategy=multiworker"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(
                TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}})
            ),
        )
        for i in range(len(workers))
    ]


def _finish(procs, timeout=400):
    try:
        return [proc.communicate(timeout=timeout) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def test_two_workers_train_together_stop_together_and_resume_to_the_end(tmp_path):
    """Two MultiWorkerMirroredStrategy processes on 127.0.0.1 (one cluster start, then one more).

    They train together until SIGTERM reaches the chief alone; both stop at the same step, the
    chief saves it; the same command resumes both there, and they finish with the chief's
    checkpoints and final weights written.
    """
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    flags = {**ARGS, "steps_per_epoch": 2, "max_steps": 400, "backup_every": 0}
    flags.pop("seed")
    run_dir = tmp_path / "run"
    procs = _start_workers(run_dir, flags, workers)
    deadline = time.monotonic() + 300
    while not (run_dir / "history.json").is_file():  # one epoch done: both are training
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), _finish(procs, 5)
        time.sleep(0.2)
    procs[0].send_signal(signal.SIGTERM)
    outputs = _finish(procs)
    step = json.loads((run_dir / "backup" / "state.json").read_text())["step"]
    (_, chief_err), (_, other_err) = outputs
    assert [p.returncode for p in procs] == [143, 143], chief_err[-2000:] + other_err[-2000:]
    assert f"interrupted at step {step}; state saved; run the same command to resume" in chief_err
    assert f"interrupted at step {step}; the chief saved the state" in other_err
    assert "Traceback" not in chief_err + other_err

    procs = _start_workers(run_dir, {**flags, "max_steps": step + 3}, workers)
    outputs = _finish(procs)
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
        assert f"done: {step + 3} steps" in out
    assert f"resuming {run_dir} at step {step} of {step + 3}" in outputs[0][0]
    assert (run_dir / "checkpoints" / "latest.weights.h5").is_file()
    assert (run_dir / "model.weights.h5").is_file()
    history = json.loads((run_dir / "history.json").read_text())
    steps = [e["step"] for e in history]
    assert steps == list(range(2, step + 3, 2)) + [step + 3], steps
