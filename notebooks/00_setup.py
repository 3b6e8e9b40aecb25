# %% [markdown]
# # 0. Setup
#
# **What you will learn:** how to install the course, check that TensorFlow
# and its companions are the versions the course was written for, see which
# devices TensorFlow will use, and how the course and the library are laid out.
#
# ## Installing
#
# From the repository root, `make lab` builds a virtual environment in `.venv/`
# (from the pinned `requirements.txt`), installs the `tf_transformer` package
# in editable mode, and opens JupyterLab on this folder. Nothing in the course
# downloads anything: the Portuguese→English corpus and its vocabularies ship
# in `data/`.
#
# Every notebook starts with `import tf_transformer`. Besides making the
# library available, that import loads TensorFlow with its start-up log lines
# silenced, so what you see below each cell is what the cell printed.

# %% [markdown]
# ## 本节内容
#
# 本节搭建课程的运行环境：安装课程包，确认 TensorFlow 2.21、Keras 3 及配套库的版本是否与课程一致，
# 查看 TensorFlow 能用哪些设备（CPU 或 GPU），并了解训练结果所在的运行目录（run directory）放在哪里、
# 快速模式（`TF_TRANSFORMER_FAST=1`）会缩小哪些规模。学完后，
# 你能在自己的机器上顺利运行后面所有笔记本，也能对照课程目录，
# 在 `tf_transformer` 包里找到每一节所讲解的那部分代码。

# %%
import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import os
import platform
import sys

import keras
import matplotlib
import tensorflow as tf
import tensorflow_datasets as tfds
import tensorflow_text as text

versions = {
    "python": platform.python_version(),
    "tensorflow": tf.__version__,
    "keras": keras.__version__,
    "tensorflow-text": text.__version__,
    "tensorflow-datasets": tfds.__version__,
    "matplotlib": matplotlib.__version__,
    "tf_transformer": tf_transformer.__version__,
}
for name, version in versions.items():
    print(f"{name:20s} {version}")

# %% [markdown]
# The course targets TensorFlow 2.21 with Keras 3. `tf.keras` *is* Keras 3
# here; some older tutorials assume Keras 2 behaviour (for example implicit
# padding masks that flow from layer to layer), and we will see in notebook 4
# why this course passes masks explicitly instead.

# %%
assert sys.version_info >= (3, 11), "the course needs Python 3.11 or newer"
assert tf.__version__.startswith("2.21"), f"written for TensorFlow 2.21, found {tf.__version__}"
assert keras.__version__.startswith("3."), f"written for Keras 3, found {keras.__version__}"

# %% [markdown]
# ## Which devices?
#
# Everything in the course runs on a laptop CPU. A GPU makes training faster
# but changes no result beyond floating-point noise: the notebooks train for
# a fixed number of optimizer steps (not for a fixed time), so a faster
# machine trains the same model sooner, and the outputs you read here are the
# ones you get.
#
# ## Where runs live
#
# A trained model is a *run directory* (its weights, vocabularies, history
# and settings: notebook 6). The notebooks, `make demo` and the README's
# commands all keep them in `runs/` at the repository root (`runs/tutorial`,
# `runs/demo`...), so a run trained in one place is found in the others.
# The notebooks run from `notebooks/`, so for them that is `../runs`.

# %%
for device in tf.config.list_physical_devices():
    print(device.device_type, device.name)
print("GPU available:", bool(tf.config.list_physical_devices("GPU")))
print("CPU cores:", os.cpu_count())

# %% [markdown]
# ## Fast mode
#
# Continuous integration executes every notebook on each change. It sets the
# environment variable `TF_TRANSFORMER_FAST=1`, which makes the notebooks use
# less data and fewer training steps. Every cell still runs; only the sizes
# shrink. The notebooks you are reading were run in full mode.

# %%
FAST = os.environ.get("TF_TRANSFORMER_FAST") == "1"
print("fast mode" if FAST else "full mode")

# %% [markdown]
# ## How the course is laid out
#
# | notebook | topic |
# | --- | --- |
# | 0 | this setup |
# | 1 | from RNNs to self-attention, by hand |
# | 2 | the data: corpus, tokenizers, batches |
# | 3 | positional encoding and multi-head attention |
# | 4 | the model: encoder, decoder, `Transformer` |
# | 5 | optimizer and loss |
# | 6 | training |
# | 7 | inference, BLEU, saving and export |
# | 8 | using the layers in your own models |
#
# Each notebook explains code that lives in the `tf_transformer` package, and
# shows that code rather than a copy of it. The package mirrors the course:

# %%
from pathlib import Path

package = Path(tf_transformer.__file__).parent
for path in sorted(package.rglob("*.py")):
    if path.name != "__init__.py" and not path.name.startswith("_"):
        print(path.relative_to(package.parent))

# %% [markdown]
# ## What we built
#
# A working environment, checked: the right TensorFlow and Keras, the devices
# TensorFlow sees, and a map of the library that the next notebooks open one
# file at a time.
