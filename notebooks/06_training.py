# %% [markdown]
# # 6. Training
#
# **What you will learn:**
# - how `tf_transformer.training.train` wraps `model.fit`: batches, loss,
#   schedule, callbacks, and the run directory it fills;
# - training the `tutorial` preset on the embedded corpus, with its loss and
#   accuracy curves;
# - checkpoints, and resuming a run that was interrupted mid-epoch;
# - reading the TensorBoard logs (learning rate, tokens per second);
# - how the same code scales out with `tf.distribute`, and what mixed
#   precision does.

# %%
import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import dataclasses
import inspect
import json
import os
import pathlib
import shutil
import signal
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from IPython.display import Code, display

from tf_transformer.run_dir import load_run
from tf_transformer.training import TrainConfig, loop, train
from tf_transformer.training import callbacks as training_callbacks
from tf_transformer.training.callbacks import TrainingInterrupted

FAST = os.environ.get("TF_TRANSFORMER_FAST") == "1"


def show(obj):
    """Display the library's source for ``obj``, as the package has it."""
    display(Code(inspect.getsource(obj), language="python"))


# %% [markdown]
# ## What `train` does
#
# `train` is what the command `tf-transformer train` runs. It is ordinary
# `model.fit` with the pieces of notebooks 2 and 5 plugged in:
#
# - **data**: the bucketed, token-budgeted batches of `make_batches`, as one
#   endless seeded stream, so that optimizer step *s* always sees batch *s*;
# - **model**: `Transformer(TransformerConfig.from_preset(...))`, sized to
#   the tokenizers' vocabularies;
# - **loss and metric**: `masked_loss` (label smoothing 0.1) and
#   `MaskedAccuracy`, over real tokens only;
# - **optimizer**: Adam(0.9, 0.98, 1e-9) on the warm-up schedule;
# - **callbacks**: best and latest checkpoints (the weights only), a
#   resumable backup (weights *and* optimizer state) every `backup_every`
#   steps and whenever a signal stops training, whole-epoch metrics across
#   resumes, TensorBoard, a time limit, a clear stop if the loss becomes NaN,
#   and a tokens/s figure on the progress bar.
#
# `train` checks the settings, prepares the run (taking a lock on the run
# directory, so that a second training into it stops at once) and hands over
# to `train_plan`, a short sequence of named steps, each a function of
# `tf_transformer.training.loop` that `show` displays like these:

# %%
show(train)
show(loop.train_plan)

# %% [markdown]
# The first step decides everything before a single batch is trained, and
# checks it against the run already in the directory:

# %%
show(loop.prepare_run)

# %% [markdown]
# Every setting is a field of `TrainConfig`, declared once with its default,
# its allowed values and its help; `tf-transformer train --help` lists the
# same flags, and `run.json` records the same fields. A value out of range
# fails at once, before anything is written:

# %%
for field in dataclasses.fields(TrainConfig):
    default = field.default_factory() if field.default is dataclasses.MISSING else field.default
    print(f"{field.name:20s} {str(default):10s} {field.metadata['help']}")
try:
    TrainConfig(label_smoothing=1.0)
except ValueError as error:
    print("\n", error)

# %% [markdown]
# ## Train the `tutorial` preset
#
# Four layers, `d_model` 128, eight heads: 2.3M parameters with this
# corpus's vocabularies. In full mode it trains for 1,000 optimizer steps (a
# fixed count, so every machine trains the same model; about ten minutes on
# two CPU cores);
# fast mode (CI) trains the `tiny` preset for a few dozen steps on a slice of
# the data. A short warm-up suits a short budget: the paper's 4000 steps
# would never reach the peak learning rate here.
#
# We also switch to *pre-norm* layers (`norm_first=True`, notebook 4). With
# the paper's post-norm and this short warm-up, the tutorial model sits on a
# plateau near 50% accuracy for hundreds of steps, having learned English
# word order but not yet to read the source; pre-norm leaves it within a few
# hundred steps (we measured 0.81 against 0.40 validation accuracy after 300
# steps of 2048 tokens).
#
# The run directory is removed first so that the notebook always shows a
# fresh run (running `train` on an existing directory resumes it instead).

# %%
RUNS = pathlib.Path("..", "runs")  # runs/ at the repository root (notebook 0)
RUN_DIR = RUNS / ("fast/tutorial" if FAST else "tutorial")
shutil.rmtree(RUN_DIR, ignore_errors=True)
if FAST:
    settings = dict(
        preset="tiny",
        max_steps=60,
        steps_per_epoch=20,
        train_examples=4000,
        validation_examples=200,
        warmup_steps=50,
    )
else:
    settings = dict(
        preset="tutorial",
        max_steps=1000,
        steps_per_epoch=200,
        warmup_steps=400,
        batch_tokens=2048,
        norm_first=True,
    )
started = time.perf_counter()
result = train(run_dir=RUN_DIR, seed=0, verbose=2, **settings)
minutes = (time.perf_counter() - started) / 60
print(f"\n{result.steps} optimizer steps in {minutes:.1f} minutes on {os.cpu_count()} CPU cores")

# %% [markdown]
# ## Curves
#
# One point per epoch (here, 200 steps). The loss includes label smoothing,
# so it cannot reach zero: even a perfect model pays for the 10% of
# probability mass it is asked to spread over the vocabulary.

# %%
history = result.history
steps = [e["step"] for e in history]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
axes[0].plot(steps, [e["loss"] for e in history], marker="o", label="train")
axes[0].plot(steps, [e["val_loss"] for e in history], marker="o", label="validation")
axes[0].set_title("label-smoothed loss")
axes[1].plot(steps, [e["masked_accuracy"] for e in history], marker="o", label="train")
axes[1].plot(steps, [e["val_masked_accuracy"] for e in history], marker="o", label="validation")
axes[1].set_title("next-token accuracy (real tokens)")
for ax in axes:
    ax.set_xlabel("optimizer step")
    ax.legend()
plt.show()
print(f"final validation accuracy: {history[-1]['val_masked_accuracy']:.3f}")

# %% [markdown]
# ## The run directory
#
# Everything later steps need sits in one folder, so that `evaluate`,
# `translate` and `export` take nothing but `--run-dir`:

# %%
for path in sorted(RUN_DIR.rglob("*")):
    if path.is_file() and "logs" not in path.parts:
        print(f"{str(path.relative_to(RUN_DIR)):40s} {path.stat().st_size / 1e6:8.2f} MB")
info = json.loads((RUN_DIR / "run.json").read_text())
print("\nrun.json model config:", info["model"])

# %% [markdown]
# `load_run` reads it all back: the config, the tokenizers (from the run's
# own copy of the vocabularies) and the model with its best weights.

# %%
run = load_run(RUN_DIR)
print(
    type(run.model).__name__,
    run.config.num_layers,
    "layers;",
    "vocabularies:",
    int(run.source_tokenizer.get_vocab_size()),
    int(run.target_tokenizer.get_vocab_size()),
    f"({run.source_language} -> {run.target_language})",
)

# %% [markdown]
# ## Interrupted? Run it again
#
# A long run will be interrupted some day: a laptop lid, a preempted cloud
# machine (which sends SIGTERM), a Ctrl-C (SIGINT). `train` saves the model
# *and the optimizer state* every `backup_every` steps, and when a signal
# comes it finishes the current step, saves the state at that step, and
# raises `TrainingInterrupted` (the command line prints "interrupted at step
# N; state saved; run the same command to resume" and exits 130 or 143).
# Calling it again with the same arguments restores the state, skips the
# batches already used, and finishes with exactly the steps, the weights and
# the history an uninterrupted run would have: a rerun even completes the
# epoch whose validation the signal cut short.
#
# Here a callback presses Ctrl-C for us: it sends this process a real SIGINT
# after 12 steps.


# %%
class CtrlC(keras.callbacks.Callback):
    def __init__(self, after):
        super().__init__()
        self.after, self.seen = after, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.after:
            os.kill(os.getpid(), signal.SIGINT)


RESUME_DIR = RUN_DIR.parent / "resume_demo"
shutil.rmtree(RESUME_DIR, ignore_errors=True)
small = dict(
    preset="tiny",
    max_steps=30,
    steps_per_epoch=10,
    train_examples=2000,
    validation_examples=100,
    backup_every=5,
    seed=0,
    verbose=0,
)
try:
    train(run_dir=RESUME_DIR, callbacks=[CtrlC(after=12)], **small)
except TrainingInterrupted as stop:
    print("stopped:", stop)
backup = RESUME_DIR / "backup"
print("backup holds:", sorted(p.name for p in backup.iterdir()))
print("saved at step:", json.loads((backup / "state.json").read_text())["step"])

resumed = train(run_dir=RESUME_DIR, **small)  # the same call, again
print(f"resumed run finished after {resumed.steps} optimizer steps in total")
print("history rows (epoch, step):", [(e["epoch"], e["step"]) for e in resumed.history])
assert resumed.steps == 30

# %% [markdown]
# ## TensorBoard
#
# The run writes TensorBoard logs: `tensorboard --logdir runs/tutorial/logs`
# in a terminal shows them live. The same events can be read from Python;
# here are the learning rate (the warm-up schedule of notebook 5) and the
# throughput as training went.


# %%
def scalars(log_dir):
    """{tag: [(step, value), ...]} from every event file under log_dir."""
    out = {}
    for path in pathlib.Path(log_dir).rglob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                number = (
                    float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                )
                out.setdefault(f"{path.parent.name}/{value.tag}", []).append((event.step, number))
    return {tag: sorted(points) for tag, points in out.items()}


logged = scalars(RUN_DIR / "logs")
print(sorted(logged))
wanted = [tag for tag in logged if "learning_rate" in tag or "tokens_per_sec" in tag]
fig, axes = plt.subplots(1, len(wanted), figsize=(5 * len(wanted), 3.2), squeeze=False)
for ax, tag in zip(axes[0], wanted):
    points = np.array(logged[tag])
    ax.plot(points[:, 0], points[:, 1], marker=".")
    ax.set_title(tag)
    ax.set_xlabel("step" if "batch" in tag else "epoch or step")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Scaling out with `tf.distribute`
#
# The same `train` call runs under a `tf.distribute` strategy
# (`strategy=` / `--strategy`):
#
# - `mirrored`: one machine, several GPUs (or logical CPUs). Each replica
#   gets a slice of the global batch; gradients are summed across replicas.
# - `multiworker`: several machines, described by the `TF_CONFIG`
#   environment variable; the README shows the launch command. Only the
#   chief (worker 0) writes the run directory.
#
# One detail matters for correctness: each replica divides its loss by the
# number of real tokens in the *global* batch, not in its own slice.
# Otherwise a replica that happened to get short sentences would weigh its
# tokens more. With that, N replicas follow exactly the trajectory of one
# device on the same global batch; a test checks it on two logical CPUs.

# %%
show(training_callbacks.TerminateOnNaN)

# %% [markdown]
# ## Mixed precision
#
# `mixed_precision="bf16"` (or `"fp16"`, with loss scaling) computes the
# matrix products in 16-bit floats and keeps the variables in float32. The
# model keeps what is numerically delicate in float32 regardless: attention
# scores and softmax, and the final logits and the loss. On GPUs with tensor
# cores this roughly doubles throughput; on a small CPU model the casts cost
# more than they save (`benchmarks/train_throughput.py` measures both).

# %%
keras.mixed_precision.set_global_policy("mixed_bfloat16")
try:
    model = tf_transformer.Transformer(
        tf_transformer.TransformerConfig.from_preset("tiny", input_vocab_size=100, target_vocab_size=100)
    )
    logits = model((tf.constant([[2, 5, 3]]), tf.constant([[2, 7]])))
    print("compute dtype of a layer:", model.encoder.enc_layers[0].ffn.inner.compute_dtype)
    print("variable dtype:          ", model.encoder.enc_layers[0].ffn.inner.kernel.dtype)
    print("logits dtype:            ", logits.dtype)
finally:
    keras.mixed_precision.set_global_policy("float32")

# %% [markdown]
# ## What we built
#
# - A trained `tutorial` Transformer in `runs/tutorial`, with its curves.
# - A run directory that holds everything later steps need, read back with
#   `load_run`.
# - A run interrupted mid-epoch and resumed to exactly the planned number of
#   steps.
# - TensorBoard logs read back and plotted; the distributed and mixed
#   precision switches, and why the loss is normalised by global tokens.
