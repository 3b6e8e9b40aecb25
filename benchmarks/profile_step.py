"""Where a training step's time goes: TensorFlow's profiler, op by op, grouped by what the op does.

The step is ``benchmarks/train_throughput.py``'s (the ``tutorial`` preset, one
fixed batch, ``model.train_on_batch`` after a warm-up), profiled with
``tf.profiler.experimental`` for ``--steps`` steps. Each op event on the
executor's threads is put in one group, first by its type (the matmuls,
whatever their scope), then by the name scope it ran under, which the
gradient ops keep (``gradient_tape/.../ffn_norm/...``), so each group holds
its forward and backward work:

- *matmuls*: dense and batched matmuls, with their fused bias (oneDNN's ``_Mkl*MatMul``);
- *dropout*: the random bits and the mask (``layers/dropout.py``);
- *layer norm*, *softmax & masks* (the attention's softmax, its mask and scaling),
  *embedding* (the gather, its sparse gradient, the positions), *loss*
  (cross-entropy, label smoothing, the mask over padding), *optimizer* (Adam's
  update of every weight, the learning-rate schedule);
- *other*: everything else, with its three largest op types named.

An op's time is its wall time on the thread that ran it; ops on two threads
overlap, so the groups can add up to more than the step. The *matmul floor*
(``train_throughput.matmul_step``: the step's matmuls alone, at its shapes)
is timed in the same run for scale.

Run::

    python benchmarks/profile_step.py                 # float32 and bf16, about two minutes
    python benchmarks/profile_step.py --fast          # a smoke run (the suite runs it)
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import collections
import json
import pathlib
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from train_throughput import batch_of, compiled_model, matmul_step, step_matmuls  # noqa: E402

from tf_transformer import Transformer, TransformerConfig  # noqa: E402
from tf_transformer.training.precision import describe_machine, machine  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16"}

MATMUL_TYPES = ("MatMul", "BatchMatMul")  # any op type containing one of these
# (group, name-scope fragments), checked in this order after the matmuls.
SCOPES = (
    ("dropout", ("dropout",)),
    ("layer norm", ("_norm", "layer_normalization")),
    ("softmax & masks", ("softmax", "mask", "scores", "_attend")),
    ("embedding", ("embedding", "positional")),
    ("loss", ("loss", "masked_loss", "cross_entropy")),
    ("optimizer", ("adam", "optimizer", "learning_rate", "schedule", "iteration")),
)
TYPE_GROUPS = {  # op types whose scope says nothing useful
    "StatelessRandomUniformFullIntV2": "dropout",
    "StatelessRandomGetKeyCounter": "dropout",
    "_MklSoftmax": "softmax & masks",
    "Softmax": "softmax & masks",
    "SparseSoftmaxCrossEntropyWithLogits": "loss",
    "SoftmaxCrossEntropyWithLogits": "loss",
    "ResourceApplyAdam": "optimizer",
    "UnsortedSegmentSum": "embedding",
    "ResourceGather": "embedding",
    "BiasAdd": "bias & activation",
    "BiasAddGrad": "bias & activation",
    "Relu": "bias & activation",
    "ReluGrad": "bias & activation",
    "_MklTranspose": "head split & merge",
    "Transpose": "head split & merge",
}
GROUPS = (
    ("matmuls",) + tuple(name for name, _ in SCOPES) + ("bias & activation", "head split & merge", "other")
)
SKIP = (
    "ThreadpoolListener",
    "ExecutorState",
    "ParallelFor",
    "ReadVariableOp",
    "_Send",
    "_Recv",
    "NoOp",
    "Identity",
)


def group_of(name: str, op_type: str) -> str:
    if any(t in op_type for t in MATMUL_TYPES):
        return "matmuls"
    if TYPE_GROUPS.get(op_type) in ("bias & activation", "head split & merge"):
        return TYPE_GROUPS[op_type]
    scope = name.lower()
    for group, fragments in SCOPES:
        if any(f in scope for f in fragments):
            return group
    return TYPE_GROUPS.get(op_type, "other")


def op_times(logdir: str) -> dict[tuple[str, str], float]:
    """Seconds per (group, op type), summed over the executor threads' op events."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    files = sorted(pathlib.Path(logdir).glob("plugins/profile/*/*.xplane.pb"))
    space = xplane_pb2.XSpace()
    space.ParseFromString(files[-1].read_bytes())
    totals = collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                scope, _, op_type = name.rpartition(":")
                if not scope or name.startswith(SKIP) or op_type.startswith(SKIP):
                    continue
                totals[group_of(scope, op_type), op_type] += event.duration_ps * 1e-12
    return dict(totals)


def profile(model, x, y, steps: int) -> tuple[dict, float]:
    """Op seconds per step by (group, type), and the median wall time of a step (unprofiled)."""
    walls = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        walls.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(steps):
            model.train_on_batch(x, y)
        tf.profiler.experimental.stop()
        totals = op_times(logdir)
    return {key: seconds / steps for key, seconds in totals.items()}, float(np.median(walls))


def summarize(per_op: dict, wall: float) -> dict:
    groups = {g: 0.0 for g in GROUPS}
    by_type = collections.defaultdict(collections.Counter)
    for (group, op_type), seconds in per_op.items():
        groups[group] += seconds
        by_type[group][op_type] += seconds
    return dict(
        wall_ms=wall * 1e3,
        ops_ms=sum(groups.values()) * 1e3,
        groups_ms={g: s * 1e3 for g, s in groups.items()},
        top_types={g: [(t, s * 1e3) for t, s in c.most_common(3)] for g, c in by_type.items()},
    )


def report(name: str, s: dict, floor_ms: float) -> None:
    print(
        f"\n{name}: step {s['wall_ms']:.1f} ms (median, unprofiled); "
        f"ops {s['ops_ms']:.1f} ms on the threads; matmul floor {floor_ms:.1f} ms "
        f"(step / floor {s['wall_ms'] / floor_ms:.2f}x)"
    )
    print(f"  {'group':<16} {'ms/step':>8} {'of ops':>7}  largest op types (ms)")
    for group, ms in sorted(s["groups_ms"].items(), key=lambda kv: -kv[1]):
        tops = ", ".join(f"{t} {v:.1f}" for t, v in s["top_types"].get(group, []))
        print(f"  {group:<16} {ms:8.1f} {ms / s['ops_ms']:7.1%}  {tops}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tutorial")
    parser.add_argument("--vocab", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=32, help="source and target length")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--variants", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    parser.add_argument("--fast", action="store_true", help="the tiny preset, 3 steps: a smoke run")
    parser.add_argument("--out", type=pathlib.Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.fast:
        args.preset, args.vocab, args.batch, args.length, args.steps = "tiny", 200, 8, 8, 3
    info = machine()
    print(f"machine: {describe_machine(info)}", flush=True)
    c = TransformerConfig.from_preset(args.preset, input_vocab_size=args.vocab, target_vocab_size=args.vocab)
    x, y = batch_of(c, args.batch, args.length, args.length)
    x, y = tf.nest.map_structure(tf.constant, (x, y))
    floor_fn = matmul_step(step_matmuls(c, args.batch, args.length, args.length))
    floor_fn()
    floor = []
    for _ in range(args.steps):
        start = time.perf_counter()
        floor_fn()
        floor.append(time.perf_counter() - start)
    floor_ms = float(np.median(floor)) * 1e3
    results = dict(machine=info, preset=args.preset, batch=args.batch, length=args.length, steps=args.steps)
    for name in args.variants:
        model = compiled_model(Transformer, c, POLICIES[name], False, x, y, warmup=3)
        per_op, wall = profile(model, x, y, args.steps)
        results[name] = summarize(per_op, wall)
        report(name, results[name], floor_ms)
    results["floor_ms"] = floor_ms
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
