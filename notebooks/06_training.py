# %% [markdown]
# # 6. Training
#
# **What you will learn:**
# - one training step read line by line: teacher-forced inputs, the forward
#   pass, the masked, label-smoothed loss divided by the number of real
#   tokens, the gradients, the optimizer step and the metrics; and that
#   writing it out by hand gives `model.fit`'s step, to float32 rounding;
# - how `tf_transformer.training.train` wraps `model.fit`: batches, loss,
#   schedule, callbacks, and the run directory it fills;
# - training the `tutorial` preset on the embedded corpus, with its loss and
#   accuracy curves;
# - checkpoints, and resuming a run that was interrupted mid-epoch;
# - reading the TensorBoard logs: the learning rate at every step, the
#   training loss and the throughput;
# - how the same code scales out with `tf.distribute`, checked on two
#   logical CPUs, and what mixed precision does and does not buy on a CPU.

# %% [markdown]
# ## 本节内容
#
# 这一节真正开始训练。我们先把一个训练步骤逐行读一遍：教师强制的输入、前向计算、
# 只在真实词元上求平均并带标签平滑的损失、梯度、优化器更新和指标，并亲手写出同样的
# 一步，验证它与 `model.fit` 的结果完全一致。然后用 `train` 训练 `tutorial` 预设
# 1000 步，画出损失和准确率曲线，看运行目录里保存了什么，演示训练被中断后如何从
# 检查点原样续训。接着读 TensorBoard 日志，逐步画出带预热的学习率。最后在两个逻辑
# CPU 上运行分布式策略，确认按全局批次的真实词元数归一化后，两个副本与单个设备得到
# 相同的损失和梯度；并说明混合精度在 CPU 上什么时候能提速、什么时候不能。

# %%
# In Google Colab, or a Jupyter where the course is not installed, this cell installs it
# (README: "Opening the course elsewhere"). Where tf_transformer is installed, it does nothing.
import importlib.util

if importlib.util.find_spec("tf_transformer") is None:
    import glob
    import os
    import re
    import subprocess
    import sys

    # TF_TRANSFORMER_SOURCE: a wheel, a checkout folder or git+https://...; else the newest wheel
    # beside this notebook (by version, not by name: 0.10.0 is newer than 0.9.0)
    wheels = glob.glob("tf_transformer-*.whl")
    source = os.environ.get("TF_TRANSFORMER_SOURCE") or max(
        wheels, key=lambda w: [int(n) for n in re.findall(r"\d+", w.split("-")[1])], default=""
    )
    if not source:
        raise RuntimeError(
            "tf_transformer is not installed. Upload its wheel beside this notebook (Colab: the Files "
            "panel; a checkout builds it with `pip wheel --no-deps -w dist .`), or run "
            "`%env TF_TRANSFORMER_SOURCE=git+https://github.com/OWNER/REPO` with the course "
            "repository's address; then run this cell again."
        )
    command = [sys.executable, "-m", "pip", "install", "--quiet", source]
    pip = subprocess.run(command, capture_output=True, text=True)
    if pip.returncode:  # one line, not pip's traceback
        said = (pip.stderr.strip().splitlines() or ["(nothing)"])[-1]
        raise RuntimeError(f"pip could not install {source!r}: {said} (TF_TRANSFORMER_SOURCE or the wheel?)")
    importlib.invalidate_caches()

# %%
import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

from tf_transformer import Transformer, TransformerConfig, course, data
from tf_transformer.course import show
from tf_transformer.runs import load_run, read_run_info
from tf_transformer.viz import architecture_figure
from tf_transformer.training import (
    MaskedAccuracy,
    TrainConfig,
    WarmupSchedule,
    loop,
    make_optimizer,
    masked_accuracy,
    masked_loss,
    plan,
    train,
)
from tf_transformer.training import losses as training_losses
from tf_transformer.training.stops import TrainingInterrupted

FAST = course.fast_mode()


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
# `tf_transformer.training.loop` that `show` displays like these (the first,
# `prepare_run`, which settles the run directory before a batch is trained,
# has a module of its own, `training.plan`, and waits in the appendix at the
# end: the training comes first):

# %%
show(train)
show(loop.train_plan)

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
# **要点**
#
# - `train` 就是命令 `tf-transformer train` 运行的东西：普通的 `model.fit`，接上第 2、5 节的部件。数据：
#   `make_batches` 分桶、按词元预算组好的批次，作为一条带种子的无尽数据流，所以第 s 步总是看到第 s 个批次；
#   模型：按分词器词表大小建的 `Transformer`；损失和指标：只计真实词元的 `masked_loss`（标签平滑 0.1）和
#   `MaskedAccuracy`；优化器：带预热调度的 Adam(0.9, 0.98, 1e-9)。
# - 回调：最好的和最新的检查点（只存权重）；每隔 `backup_every` 步以及收到停止信号时保存可续训的备份（权
#   重**和**优化器状态）；跨越多次续训的整轮指标；TensorBoard；时间上限；损失变成 NaN 时明确地停下；
#   进度条上的每秒词元数。
# - `train` 先检查设置，再准备这次运行（锁住运行目录，让第二个往同一目录训练的进程立即停下），然后交给
#   `train_plan`：一串有名字的步骤，每一步都是 `tf_transformer.training.loop` 里的一个函数。第一步
#   `prepare_run` 在训练任何批次之前就做出所有决定，并与目录中已有的运行核对（见本节末尾的附录）。
# - 每个设置都是 `TrainConfig` 的一个字段，默认值、允许的取值和帮助文字都只声明一次；
#   `tf-transformer train --help` 列出同样的选项，`run.json` 记录同样的字段。取值越界会立刻失败，
#   什么都不写（如 `label_smoothing=1.0`）。

# %% [markdown]
# ## One training step, line by line
#
# `model.fit` repeats one *training step* per batch. The library does not
# write that step itself: `build_model` hands Keras the pieces (the model,
# the loss, the optimizer, the metrics) with `model.compile`, and Keras's
# own `train_step` runs them.

# %%
show(loop.build_model)

# %% [markdown]
# **The batch: teacher-forced inputs.** Each batch from `make_batches` is
# `((source, target_in), target_out)`. The target sentence appears twice,
# shifted by one: `target_in` is `[START] y1 ... yn` and `target_out` is
# `y1 ... yn [END]`, so position *t* of the decoder sees the true tokens up
# to *t* and must predict token *t + 1* (teacher forcing, notebook 2). All
# positions are trained at once, in one pass.

# %%
tokenizers = data.load_tokenizers()
pairs = data.load_dataset("embedded", "train").take(256)
batches = data.make_batches(
    pairs, tokenizers.source, tokenizers.target, max_length=32, batch_tokens=512, seed=0
)
batch = next(iter(batches))
(source_ids, target_in), target_out = batch
print("source_ids", source_ids.shape, " target_in", target_in.shape, " target_out", target_out.shape)
pieces = tokenizers.target.lookup(tf.cast(tf.stack([target_in[0], target_out[0]]), tf.int64)).numpy()
for t, (seen, wanted) in enumerate(zip(*pieces)):
    if wanted.decode() != "[PAD]":
        print(f"position {t:2d}: decoder sees {seen.decode():8s} -> must predict {wanted.decode()}")
real_in = target_in[:, 1:] != 0
assert bool(tf.reduce_all(target_in[:, 0] == data.START_ID))  # every target_in starts with [START]
assert bool(
    tf.reduce_all(tf.boolean_mask(target_in[:, 1:], real_in) == tf.boolean_mask(target_out[:, :-1], real_in))
)
assert bool(tf.reduce_all(tf.reduce_sum(tf.cast(target_out == data.END_ID, tf.int32), axis=1) == 1))

# %% [markdown]
# **The step.** This is the code `model.fit` runs for every batch (Keras
# 3's TensorFlow trainer, as installed here):

# %%
show(TensorFlowTrainer.train_step)

# %% [markdown]
# Line by line:
#
# 1. `unpack_x_y_sample_weight(data)`: `x` is `(source, target_in)`, `y` is
#    `target_out`; we pass no sample weights (the padding is handled by the
#    loss itself).
# 2. `with tf.GradientTape() as tape`: record every operation from here on,
#    so that the gradients can be computed afterwards.
# 3. `y_pred = self(x, training=True)`: the forward pass, logits `(B, T,
#    V)` for every target position at once; `training=True` turns dropout
#    on.
# 4. `self._compute_loss(...)`: calls the loss given to `compile`, our
#    `masked_loss(target_out, logits)` (shown below): the label-smoothed
#    cross-entropy of every position, summed over the real tokens and
#    divided by their number.
# 5. `self._loss_tracker.update_state(...)`: the running mean that the
#    progress bar prints as `loss`. (`unscale_loss_for_distribution` undoes,
#    for the display only, the scaling Keras applies under `tf.distribute`.)
# 6. `self.optimizer.scale_loss(loss)`: a no-op except for fp16 loss
#    scaling (mixed precision, below).
# 7. `tape.gradient(loss, trainable_weights)`: backpropagation, one
#    gradient per weight.
# 8. `self.optimizer.apply_gradients(...)`: one Adam update, with the
#    learning rate that the warm-up schedule gives at the optimizer's
#    current iteration (which this call increments).
# 9. `self.compute_metrics(...)`: updates `MaskedAccuracy` (and the token
#    counter `RealTokens`) from the same logits.
#
# The loss of step 4 is the library's:

# %%
show(masked_loss)

# %% [markdown]
# `sum(loss * mask) / count`: every real token weighs the same, whatever
# the padding of its sentence, and the loss of a padded position never
# counts. (`_real_token_count` is the count; under `tf.distribute` it counts
# the whole global batch, which the section on scaling out explains and
# checks.)
#
# Now the same step written out by hand, on the batch above and a `tiny`
# model without dropout (so that both runs draw no random numbers). Two
# identical models, one trained by Keras's `train_on_batch` (which runs
# `train_step`), one by our lines; after one step they must hold the same
# weights and report the same loss and accuracy.

# %%
step_config = TransformerConfig.from_preset(
    "tiny",
    input_vocab_size=int(tokenizers.source.get_vocab_size()),
    target_vocab_size=int(tokenizers.target.get_vocab_size()),
    max_length=32,
    dropout_rate=0.0,
)


def compiled_model():
    model = Transformer(step_config)
    model.build()
    model.compile(
        optimizer=make_optimizer(step_config.d_model, 400), loss=masked_loss, metrics=[MaskedAccuracy()]
    )
    return model


by_keras, by_hand = compiled_model(), compiled_model()
for mine, theirs in zip(by_hand.weights, by_keras.weights):
    mine.assign(theirs)

logs = by_keras.train_on_batch((source_ids, target_in), target_out, return_dict=True)

with tf.GradientTape() as tape:  # 2. record
    logits = by_hand((source_ids, target_in), training=True)  # 3. forward: (B, T, V)
    loss = masked_loss(target_out, logits)  # 4. masked, smoothed, / real tokens
gradients = tape.gradient(loss, by_hand.trainable_weights)  # 7. backpropagation
by_hand.optimizer.apply_gradients(zip(gradients, by_hand.trainable_weights))  # 8. one Adam step
accuracy = masked_accuracy(target_out, logits)  # 9. the metric

real_tokens = int(tf.reduce_sum(tf.cast(target_out != 0, tf.int32)))
hand_sum = tf.reduce_sum(
    training_losses.smoothed_cross_entropy(target_out, logits) * tf.cast(target_out != 0, tf.float32)
)
weight_gap = max(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(by_hand.weights, by_keras.weights))
print(
    f"real target tokens in the batch: {real_tokens} of {target_out.shape[0] * target_out.shape[1]} positions"
)
print(f"loss:     Keras {logs['loss']:.6f}   by hand {float(loss):.6f}")
print(f"          the same by its definition, sum / count: {float(hand_sum) / real_tokens:.6f}")
print(f"accuracy: Keras {logs['masked_accuracy']:.6f}   by hand {float(accuracy):.6f}")
print(f"largest difference between the two models' weights after the step: {weight_gap:.1e}")
assert abs(logs["loss"] - float(loss)) < 1e-5 and abs(float(hand_sum) / real_tokens - float(loss)) < 1e-5
assert abs(logs["masked_accuracy"] - float(accuracy)) < 1e-6
assert weight_gap < 1e-5

# %% [markdown]
# **要点**
#
# - `model.fit` 对每个批次重复一个训练步骤。库自己不写这一步：`build_model` 用 `model.compile` 把模型、损失、
#   优化器和指标交给 Keras，由 Keras 自己的 `train_step` 运行。
# - 批次是 `((source, target_in), target_out)`，目标句错开一位出现两次：`target_in` 是 `[START] y1 … yn`，
#   `target_out` 是 `y1 … yn [END]`；所有位置在一次前向计算中一起训练（教师强制，第 2 节）。
# - 逐行来看：拆出 x 和 y（不用样本权重，填充由损失自己处理）；`GradientTape` 记录运算；前向计算用
#   `training=True`，打开暂退法；`masked_loss` 计算每个位置带标签平滑的交叉熵，
#   在真实词元上求和再除以它们的个数；`scale_loss` 只在 fp16 损失缩放时起作用；反向传播求出每个权重的梯度；
#   `apply_gradients` 以预热调度在当前迭代给出的学习率做一次 Adam 更新；最后用同样的 logits 更新指标。
# - 手写同一步，与 Keras 的 `train_on_batch` 比较（不带暂退法的 `tiny` 模型，两份相同的初始权重）：
#   损失和准确率完全相同，一步之后两个模型的权重只差 float32 的舍入误差（数值见上面的输出，每次运行的
#   初始权重不同，数值也不同）。

# %% [markdown]
# ## Train the `tutorial` preset
#
# Four layers, `d_model` 128, eight heads: 2.3M parameters with this
# corpus's vocabularies. In full mode it trains for 1,000 optimizer steps (a
# fixed count, so every machine trains the same model; the cell prints how
# long it took);
# fast mode (CI) trains the `tiny` preset for a few dozen steps on a slice of
# the data. A short warm-up suits a short budget: the paper's 4000 steps
# would never reach the peak learning rate here.
#
# We also switch to *pre-norm* layers (`norm_first=True`, notebook 4). With
# the paper's post-norm and this short warm-up, the tutorial model sits on a
# plateau near 50% accuracy for hundreds of steps, having learned English
# word order but not yet to read the source; pre-norm leaves it within a few
# hundred steps (notebook 9's ablation table, from the same seed: 0.787
# against 0.416 validation masked accuracy after 300 steps of 2048 tokens).
#
# These settings are the course's `tutorial` recipe: notebooks 7 and 9 read
# this run, and train it with the same settings if they are opened first
# (`course.recipe`, `course.run_dir`; the folder is in `runs/`, notebook 0).
# The run directory is removed first so that the notebook always shows a
# fresh run (running `train` on an existing directory resumes it instead).

# %%
RUN_DIR = course.run_dir("tutorial")
shutil.rmtree(RUN_DIR, ignore_errors=True)
settings = course.recipe("tutorial")
print(RUN_DIR, settings)
started = time.perf_counter()
result = train(run_dir=RUN_DIR, seed=0, verbose=2, **settings)
minutes = (time.perf_counter() - started) / 60
print(f"\n{result.steps} optimizer steps in {minutes:.1f} minutes on {os.cpu_count()} CPU cores")

# %% [markdown]
# **要点**
#
# - `tutorial` 预设：4 层，d_model 128，8 个头，用本语料的词表共 2.3M 个参数。完整模式训练固定的 1000
#   个优化器步（步数固定，每台机器都训练出同一个模型）；快速模式（CI）只在一小片数据上训练 `tiny` 预设几十步。
# - 预算短，就用短的预热：论文的 4000 步在这里永远到不了峰值学习率（本配方预热 400 步，每批 2048 个词元，每轮
#   200 步）。
# - 改用前置规范化（`norm_first=True`，第 4 节）：用论文的后置规范化加这么短的预热，模型会在 50%
#   左右的准确率上停滞几百步（学会了英语语序，还没学会读源句）；前置规范化几百步内就能走出来（第 9
#   节的消融表，同一种子，以 2048 个词元的批次训练 300 步后，验证集掩码准确率 0.787 对 0.416）。
# - 这套设置就是课程的 `tutorial` 配方，第 7、9 节都读取这次运行。这次在 2 个 CPU 核上用 4.9 分钟训练完 1000
#   步，最后一轮的验证损失为 1.1020，验证集掩码准确率为 0.9907。

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
# **要点**
#
# - 每轮（这里是 200 步）画一个点。
# - 损失包含标签平滑，所以到不了 0：即使完美的模型，也要为要求它摊到整个词表上的那 10% 概率付出代价。
# - 最终的验证准确率为 0.991。

# %% [markdown]
# ## The run directory
#
# Everything later steps need sits in one folder, so that `evaluate`,
# `translate` and `export` take nothing but `--run-dir`:

# %%
for path in sorted(RUN_DIR.rglob("*")):
    if path.is_file() and "logs" not in path.parts:
        print(f"{str(path.relative_to(RUN_DIR)):40s} {path.stat().st_size / 1e6:8.2f} MB")
info = read_run_info(RUN_DIR)  # run.json, as a RunInfo
print("\nrun.json model config:", info.model)

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
# The model this notebook trained, drawn from the config its run recorded
# (the same figure as notebook 4's, now read back from `run.json`: pre-norm,
# as the course's recipe builds it, and its own vocabularies and length):

# %%
architecture_figure(run.config)

# %% [markdown]
# **要点**
#
# - 后续步骤需要的一切都在一个文件夹里，所以 `evaluate`、`translate` 和 `export` 只需要 `--run-dir`。
# - 目录里有：`run.json`（模型和训练的配置）、两份词表、`checkpoints/` 下最好的和最新的权重、最终的
#   `model.weights.h5` 和 `model.keras`、`history.json`、可续训的 `backup/`（权重加优化器状态，
#   所以比其他权重文件大得多：28.20 MB 对 9.52 MB），以及 TensorBoard 日志。
# - `load_run` 把它全部读回：配置、分词器（来自运行目录自己的词表副本）和装好最佳权重的模型（4 层，词表 2024
#   和 806，pt → en）；上图按 `run.json` 里记录的配置画出本节训练的这个模型（前置规范化）。

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
# **要点**
#
# - 长时间的训练总有一天会被打断：合上笔记本电脑、云主机被抢占（会收到 SIGTERM）、按下 Ctrl-C（SIGINT）。
# - `train` 每隔 `backup_every` 步保存模型和优化器状态；收到信号时，它做完当前这一步，保存这一步的状态，
#   然后抛出 `TrainingInterrupted`（命令行打印 “interrupted at step N; state saved; run the same command to
#   resume”，并以 130 或 143 退出）。
# - 用同样的参数再调用一次，它就恢复状态、跳过已经用过的批次，最后得到与不中断时完全相同的步数、权重和历史；
#   被信号打断了验证的那一轮也会补完。
# - 演示：一个回调在第 12 步之后向本进程发出真正的 SIGINT；训练在第 13 步停下并保存状态，
#   同样的调用再运行一次，总共完成 30 步，历史恰好是三轮：(1, 10)、(2, 20)、(3, 30)。

# %% [markdown]
# ## TensorBoard
#
# The run writes TensorBoard logs: `tensorboard --logdir runs/tutorial/logs`
# in a terminal shows them live. The same events can be read from Python.
# Each event has a *tag*: `train/batch_loss` is the training loss logged
# every few steps (its step is the optimizer step), `train/epoch_*` and
# `validation/epoch_*` are logged once per epoch (their step is the epoch
# number).


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

# %% [markdown]
# Keras logs the learning rate once per epoch, five points in this run
# (the cell below counts them): too few to see the warm-up, which is over after 400 of the 1,000 steps.
# But the rate is a known function of the step, the run's `WarmupSchedule`,
# so we compute it for every step from the settings in `run.json` and check
# it against the logged points. The optimizer calls the schedule with its
# iteration count, which is 0 for step 1: step *s* uses `schedule(s - 1)`,
# and the point logged at the end of epoch *e* is the rate of the next step,
# `schedule(e * 200)`. In this run the rate rises linearly to its peak of
# 4.4 · 10⁻³ at step 400 and has decayed, as 1/√step, to 2.8 · 10⁻³ at step
# 1,000.

# %%
schedule = WarmupSchedule(info.model.d_model, info.train["warmup_steps"], info.train["lr_scale"])
every_step = np.arange(1, result.steps + 1)
rate = schedule(every_step - 1).numpy()  # step s uses schedule(s - 1)
per_epoch = info.train["steps_per_epoch"]
# (Keras writes an epoch's summaries only when the epoch ends on one of its logging steps, every
# 25 here: 200 is one, fast mode's 20 is not, and fast mode has no epoch points.)
epoch_rate = np.array(logged.get("train/epoch_learning_rate", np.zeros((0, 2))))  # (epoch index, rate)
epoch_end = (epoch_rate[:, 0] + 1) * per_epoch  # the optimizer step at which it was logged
np.testing.assert_allclose(epoch_rate[:, 1], schedule(epoch_end).numpy(), rtol=1e-6)
warmup = info.train["warmup_steps"]
peak_step = int(every_step[rate.argmax()])
print(f"peak: {rate.max():.2e} at step {peak_step}; at step {result.steps}: {rate[-1]:.2e}")
print(f"learning rates logged at the ends of epochs: {len(epoch_rate)}, all on the curve")
assert peak_step == warmup
if not FAST:
    assert (warmup, result.steps, len(epoch_rate)) == (400, 1000, 5)
    assert f"{rate.max():.1e}" == "4.4e-03" and f"{rate[-1]:.1e}" == "2.8e-03"

batch_loss = np.array(logged["train/batch_loss"])
throughput = np.array(logged["train/batch_tokens_per_sec"])
fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
axes[0].plot(every_step, rate, label="schedule, every step")
axes[0].plot(epoch_end, epoch_rate[:, 1], "o", label="logged (end of each epoch)")
axes[0].axvline(warmup, color="gray", linestyle=":", label=f"end of warm-up (step {warmup})")
axes[0].set_title("Learning rate")
axes[0].set_ylabel("learning rate")
axes[1].plot(batch_loss[:, 0], batch_loss[:, 1], label="training (running mean within the epoch)")
axes[1].plot(steps, [e["val_loss"] for e in history], "o-", label="validation (end of each epoch)")
axes[1].set_title("Label-smoothed loss")
axes[1].set_ylabel("loss")
axes[2].plot(throughput[:, 0], throughput[:, 1], ".-")
axes[2].set_title("Training throughput")
axes[2].set_ylabel("real target tokens per second")
for ax in axes:
    ax.set_xlabel("optimizer step")
for ax in axes[:2]:
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Within an epoch, Keras logs the *running mean* of the loss since the
# epoch began, so the training curve starts afresh at every epoch boundary
# and lags behind the model's current loss; the validation points, one
# evaluation each, do not lag.

# %% [markdown]
# **要点**
#
# - 运行会写 TensorBoard 日志：在终端运行 `tensorboard --logdir runs/tutorial/logs` 可以实时查看，也能用
#   Python 读出同样的事件。`train/batch_loss` 每隔几步记录一次（步数是优化器步），`train/epoch_*` 和
#   `validation/epoch_*` 每轮记录一次（步数是轮次）。
# - Keras 每轮只记录一次学习率，这次运行只有 5 个点，看不出 400 步就结束的预热。但学习率是步数的已知函数，
#   所以由 `run.json` 里的设置为每一步算出它，再与记录的点核对：第 s 步用 `schedule(s - 1)`，
#   记录的点全部落在曲线上。
# - 这次运行的学习率线性上升到第 400 步的峰值 4.4 · 10⁻³，到第 1000 步按 1/√step 衰减到 2.8 · 10⁻³。
# - 一轮之内，Keras 记录的是从本轮开始以来损失的累计平均，所以训练曲线在每个轮次边界重新开始，
#   并落后于模型当前的损失；验证点每个都是一次完整的评估，不会滞后。

# %% [markdown]
# ## Scaling out with `tf.distribute`
#
# The same `train` call runs under a `tf.distribute` strategy
# (`strategy=` / `--strategy`):
#
# - `mirrored`: one machine, several GPUs (or logical CPUs). Each replica
#   gets a slice of the global batch; gradients are summed across replicas.
# - `multiworker`: several machines, described by the `TF_CONFIG`
#   environment variable; `docs/command-line.md` shows the launch command. Only the
#   chief (worker 0) writes the run directory.
#
# One detail matters for correctness. The gradients of the replicas are
# *summed*, so each replica's loss must be its share of the global loss:
# its own sum of token losses divided by the number of real tokens in the
# *global* batch. Dividing by its own count instead would give every
# replica's tokens a different weight (a replica that got short sentences
# would count each of its tokens more) and the update would no longer be one
# device's on the same batch. This is the count `masked_loss` divides by:

# %%
show(training_losses._real_token_count)

# %% [markdown]
# Under a strategy, `all_reduce(SUM, count)` adds the replicas' counts, so
# every replica divides by the same global number. The check: one device
# against a `MirroredStrategy` over two logical CPUs, the same weights and
# the same global batch. Logical devices can only be configured before
# TensorFlow sets up its devices, which this notebook's process did long
# ago, so the check runs in a fresh Python process and sends its numbers
# back as JSON. It also computes what a naive split would give: each
# replica averaging over its own tokens, and the two averages averaged.

# %%
MIRRORED_CHECK = textwrap.dedent("""
    import json
    import tf_transformer  # first: it quiets TensorFlow's start-up logs
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]  # split it in two, before anything runs
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras
    from tf_transformer import Transformer, TransformerConfig, data
    from tf_transformer.training import make_strategy, masked_loss
    from tf_transformer.training.losses import smoothed_cross_entropy

    strategy = make_strategy("mirrored")
    keras.utils.set_random_seed(0)
    tokenizers = data.load_tokenizers()
    pairs = data.load_dataset("embedded", "train").take(256)
    batch = next(iter(data.make_batches(pairs, tokenizers.source, tokenizers.target,
                                        max_length=32, batch_tokens=512, seed=0)))
    config = TransformerConfig.from_preset(
        "tiny", input_vocab_size=int(tokenizers.source.get_vocab_size()),
        target_vocab_size=int(tokenizers.target.get_vocab_size()), max_length=32, dropout_rate=0.0)

    def loss_and_gradients(model, batch):
        (source, target_in), target_out = batch
        with tf.GradientTape() as tape:
            logits = model((source, target_in), training=True)
            loss = masked_loss(target_out, logits)
        gradients = [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_weights)]
        mask = tf.cast(target_out != 0, tf.float32)
        own_count = tf.reduce_sum(smoothed_cross_entropy(target_out, logits) * mask) / tf.reduce_sum(mask)
        return loss, gradients, own_count, tf.reduce_sum(mask)  # (the embedding's gradient made dense)

    one = Transformer(config)
    one.build()
    with strategy.scope():
        two = Transformer(config)
        two.build()
    for mine, theirs in zip(two.weights, one.weights):
        mine.assign(theirs)

    loss_one, gradients_one, _, tokens = loss_and_gradients(one, batch)
    shards = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch))))

    @tf.function
    def on_two_replicas(shards):
        loss, gradients, own, count = strategy.run(lambda b: loss_and_gradients(two, b), args=(shards,))
        total = lambda x: strategy.reduce("SUM", x, axis=None)
        return (total(loss), [total(g) for g in gradients], strategy.reduce("MEAN", own, axis=None),
                list(strategy.experimental_local_results(count)))

    loss_two, gradients_two, own_count_mean, counts = on_two_replicas(shards)
    gap = tf.linalg.global_norm([a - b for a, b in zip(gradients_two, gradients_one)])
    print("RESULT", json.dumps(dict(
        replicas=strategy.num_replicas_in_sync,
        tokens_per_replica=[int(c) for c in counts],
        tokens=int(tokens),
        loss_one=float(loss_one),
        loss_two=float(loss_two),
        loss_own_counts=float(own_count_mean),
        gradient_rel_diff=float(gap / tf.linalg.global_norm(gradients_one)),
    )))
""")
env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
env.pop("TF_CONFIG", None)  # one machine
completed = subprocess.run(
    [sys.executable, "-c", MIRRORED_CHECK], capture_output=True, text=True, env=env, timeout=600
)
assert completed.returncode == 0, completed.stderr[-3000:]
check = json.loads(completed.stdout.split("RESULT", 1)[1])
loss_gap = abs(check["loss_two"] - check["loss_one"]) / check["loss_one"]
own_gap = abs(check["loss_own_counts"] - check["loss_one"]) / check["loss_one"]
print(
    f"{check['replicas']} replicas; real target tokens per replica: {check['tokens_per_replica']} "
    f"(global batch: {check['tokens']})"
)
print(f"loss, one device:                       {check['loss_one']:.6f}")
print(f"loss, two replicas (global count):      {check['loss_two']:.6f}   relative difference {loss_gap:.1e}")
print(f"gradients, two replicas against one:    relative difference {check['gradient_rel_diff']:.1e}")
print(
    f"loss, each replica with its own count:  {check['loss_own_counts']:.6f}   relative diff. {own_gap:.1e}"
)
assert check["replicas"] == 2 and sum(check["tokens_per_replica"]) == check["tokens"]
assert loss_gap < 1e-5 and check["gradient_rel_diff"] < 1e-5
assert own_gap > 10 * max(loss_gap, 1e-7)

# %% [markdown]
# With the global count, two replicas give one device's loss and gradients
# up to float32 rounding (sums of a few hundred numbers added in another
# order). With their own counts the replicas compute a different number:
# not rounding but a bias, which weighs the tokens of the replica holding
# fewer of them more. It is small here, because the two halves hold nearly
# the same number of tokens and an untrained model gives every token about
# the same loss, and it grows as either differs. The same holds for a whole
# training run, step after step: `tests/training/test_training_distributed.py` trains
# four steps each way with `train` and compares the weights.

# %% [markdown]
# **要点**
#
# - 同一个 `train` 调用可以在 `tf.distribute` 策略下运行（`strategy=` / `--strategy`）：`mirrored`
#   用于一台机器上的多块 GPU（或多个逻辑 CPU），每个副本拿到全局批次的一部分，梯度在副本之间求和；
#   `multiworker` 用于多台机器，由环境变量 `TF_CONFIG` 描述，只有主节点（worker 0）写运行目录。
# - 关键的细节：各副本的梯度是**相加**的，所以每个副本的损失必须是全局损失中属于它的那一份：
#   它自己的词元损失之和，除以**全局**批次的真实词元数。若除以自己的词元数，
#   分到短句的副本里每个词元的权重会更大，这次更新也就不再等于单个设备在同一批次上的更新。`_real_token_count`
#   用 `all_reduce(SUM, count)` 把各副本的计数加起来。
# - 检查（在新的 Python 进程里把 CPU 拆成两个逻辑设备）：两个副本各有 237 和 232 个真实目标词元（全局 469 个）
#   ；用全局计数时，两个副本的损失与单个设备完全相同（6.686948），梯度的相对差为 1.1e-07，只是 float32
#   换了求和顺序造成的舍入；各用自己的计数时，损失变成 6.687116，相对差 2.5e-05。
# - 后者不是舍入误差，而是偏差：它让词元较少的那个副本中每个词元的权重更大。这里偏差很小，
#   是因为两半的词元数几乎相同，而未训练的模型给每个词元的损失也差不多；两者任一相差越大，偏差越大。
#   `tests/training/test_training_distributed.py` 用 `train` 按两种方式各训练四步，比较权重。

# %% [markdown]
# ## Mixed precision
#
# `mixed_precision="bf16"` (or `"fp16"`, with loss scaling) computes the
# matrix products in 16-bit floats and keeps the variables in float32. The
# model keeps what is numerically delicate in float32 regardless: attention
# scores and softmax, and the final logits and the loss.

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
# Whether it is faster depends on the hardware. On GPUs with tensor cores
# 16-bit matrix products run at several times the float32 rate. On a CPU the
# answer hangs on bfloat16 instructions: Intel's AMX tiles (flag `amx_bf16`)
# and AVX-512's bfloat16 dot products (`avx512_bf16`, on AMD EPYC Zen 4 and
# recent Xeons) multiply bfloat16 directly; a CPU with neither (AMD EPYC
# Zen 3, most laptops) converts to float32 to multiply, and bf16 can only
# gain from moving half as many bytes, set against the casts. The table in
# `docs/performance.md` gives what `benchmarks/train_throughput.py` measured on
# each machine kind. `--mixed-precision auto` decides from these flags (the
# cell prints its choice and reason): bf16 on AMX, on AVX-512 bfloat16 or on a
# recent GPU. On AVX-512 bfloat16 it picked float32 until a run had shown that
# bf16 also trains as well there, since speed alone does not make a recipe:
# the demo's recipe in both precisions on two seeds reached the same accuracy
# at every step, within the seeds' own spread, and the same test BLEU (99.41
# and 99.49 against 99.33 and 99.59; `benchmarks/precision_quality.py`). No
# rule of thumb replaces a measurement, so the cell also times one training
# step of the tutorial model both ways, here, and says whether `auto`'s
# choice pays on this machine.

# %%
from tf_transformer.training import precision  # noqa: E402

flags = precision.cpu_flags()
found = [flag for flag in ("amx_bf16", "avx512_bf16") if flag in flags]
print("bfloat16 instructions on this CPU:", ", ".join(found) or "none")
chosen, why = precision.resolve("auto")
print(f"--mixed-precision auto picks {'bfloat16' if chosen == 'bf16' else 'float32'} here: {why}")


def timed_step(policy, repeats):
    """Median seconds of one train_on_batch of the tutorial model under ``policy`` (after a warm-up)."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = Transformer(run.config)
        model.build()
        model.compile(optimizer=make_optimizer(run.config.d_model, 400), loss=masked_loss)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rng = np.random.default_rng(0)
    source = rng.integers(4, run.config.input_vocab_size, (64, 32))
    target = rng.integers(4, run.config.target_vocab_size, (64, 33))
    x, y = (source, target[:, :-1]), target[:, 1:]
    model.train_on_batch(x, y)  # traces the step: not timed
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


repeats = 2 if FAST else 7
fp32_seconds, bf16_seconds = timed_step("float32", repeats), timed_step("mixed_bfloat16", repeats)
speedup = fp32_seconds / bf16_seconds
print(
    f"one step, 64 x 32 tokens: float32 {fp32_seconds * 1000:.0f} ms, bf16 {bf16_seconds * 1000:.0f} ms: "
    f"bf16 runs {speedup:.2f}x the speed of float32 here"
)
pays = speedup > 1.05  # (a step timed a few times: a few percent is noise)
agrees = pays == (chosen == "bf16") or abs(speedup - 1) <= 0.05
print(
    f"so auto's choice {'pays' if agrees else 'does not pay'} on this machine"
    + ("" if agrees else " (pass --mixed-precision explicitly, and see benchmarks/train_throughput.py)")
)

# %% [markdown]
# **要点**
#
# - `mixed_precision="bf16"`（或带损失缩放的 `"fp16"`）用 16 位浮点数做矩阵乘法，变量仍以 float32 保存；
#   数值上敏感的部分模型始终留在 float32：注意力打分和 softmax、最后的 logits 和损失。
# - 能不能提速取决于硬件。有张量核心的 GPU 上，16 位矩阵乘法的速度是 float32 的好几倍。CPU 上要看有没有
#   bfloat16 指令：Intel 的 AMX（标志 `amx_bf16`）和 AVX-512 的 bfloat16 点积（`avx512_bf16`，AMD EPYC Zen 4
#   和较新的 Xeon 上有）能直接做 bfloat16 乘法；两者都没有的 CPU（AMD EPYC Zen 3、大多数笔记本电脑）要先转换成
#   float32 再乘，bf16 只能从少搬一半字节中获益，还要扣去类型转换的开销。
# - `--mixed-precision auto` 根据这些标志选择：有 AMX、AVX-512 bfloat16 或较新的 GPU 时选 bf16。
#   对 AVX-512 bfloat16，auto 原先保留 float32，直到一次运行证明 bf16 在那里也训练得一样好（只是快，
#   还不足以成为配方）：demo 的配方用两种精度、两个种子训练，每一步的准确率之差都在种子之间的差异以内，
#   测试 BLEU 也一样（`benchmarks/precision_quality.py`）。`docs/performance.md` 的表格给出
#   `benchmarks/train_throughput.py` 在各类机器上的测量结果。
# - 单元格在本机实测一个训练步（64 × 32 个词元）的两种精度，并说明 `auto` 的选择在这台机器上是否划算。
#   任何经验法则都代替不了测量。

# %% [markdown]
# ## What we built
#
# - One training step read line by line, and written out by hand to the
#   same weights as Keras's `train_step`.
# - A trained `tutorial` Transformer in `runs/tutorial`, with its curves.
# - A run directory that holds everything later steps need, read back with
#   `load_run`.
# - A run interrupted mid-epoch and resumed to exactly the planned number of
#   steps.
# - TensorBoard logs read back, and the learning rate of every step
#   computed from the run's schedule.
# - Two logical CPUs under `MirroredStrategy` matching one device, thanks to
#   the global token count; mixed precision, and when it pays.

# %% [markdown]
# **要点：本节小结**
#
# - 逐行读懂一个训练步骤，并手写出与 Keras 的 `train_step` 得到相同权重的一步。
# - 在 `runs/tutorial` 训练好一个 `tutorial` Transformer 并画出曲线；运行目录装着后续步骤需要的一切，用
#   `load_run` 读回。
# - 一次在轮次中途被打断、续训后恰好完成计划步数的运行；读回 TensorBoard 日志，
#   并由这次运行的调度算出每一步的学习率。
# - 借助全局词元计数，`MirroredStrategy` 下的两个逻辑 CPU 与单个设备结果一致；混合精度，以及它什么时候划算。
#
# **练习**（英文原题在下一格；参考解答见 [solutions/06_training.py](solutions/06_training.py)）
#
# 1. **动手算。** `tutorial` 这次运行用 d_model 128、预热 400 步。算出它在第 100 步、峰值处和第 1000
#    步的学习率（记住第 s 步用的是调度在 s − 1 处的值）。从峰值到最后一步，学习率下降了多少倍？
# 2. **动手算。** 标签平滑给损失设了一个下限。ε = 0.1、本语料的目标词表有 806 个词元时，
#    任何模型每个词元能达到的最小损失是多少？哪个输出分布能达到它？与上面这次运行的最终损失比较。
# 3. **写代码。** 像两个副本那样，把逐行讲解那一部分用的批次按句子分成两半。
#    证明两半各自的词元损失之和除以**全局**词元数后相加，等于整批的 `masked_loss`；而两半各自 `masked_loss`
#    的平均不等于它。第二种算法让哪些词元的权重更大？

# %% [markdown]
# ## Appendix: how `train` prepares the run directory
#
# The first of `train_plan`'s steps decides everything before a single
# batch is trained, and checks it against the run already in the directory:
# the same settings, model sizes, vocabularies and corpus, or a refusal that
# names what differs; the precision `auto` resolved to; the lock that makes a
# second training into the same directory stop at once; and `run.json`.

# %%
show(plan.prepare_run)

# %% [markdown]
# ## Exercises
#
# Three exercises on the arithmetic behind a training step.
#
# 1. **By hand.** The tutorial run uses `d_model` 128 and 400 warm-up
#    steps. Work out its learning rate at step 100, at its peak and at step
#    1,000 (remember that step *s* uses the schedule at *s - 1*). By what
#    factor has the rate fallen between the peak and the last step?
# 2. **By hand.** Label smoothing puts a floor under the loss. With
#    ε = 0.1 and the 806 target tokens of this corpus, what is the smallest
#    loss per token any model can reach, and which output distribution
#    reaches it? Compare it with the final losses of the run above.
# 3. **By code.** Split the batch of the line-by-line section into two
#    halves of sentences, as two replicas would. Show that the two halves'
#    token-loss sums, each divided by the *global* token count, add up to
#    `masked_loss` of the whole batch, and that the mean of the halves' own
#    `masked_loss` does not. Which tokens does the second recipe weigh more?
#
# Worked solutions, to run from this folder with `python solutions/06_training.py`:
# [solutions/06_training.py](solutions/06_training.py).
