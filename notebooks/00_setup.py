# %% [markdown]
# # 0. Setup
#
# **What you will learn:** how to install the course, check that TensorFlow
# and its companions are the versions the course was written for, see which
# devices TensorFlow will use, and how the course and the library are laid out.
#
# ## Installing
#
# Three ways, each giving the same course:
#
# - **A checkout.** From the repository root, `make lab` builds a virtual
#   environment in `.venv/` (from the pinned `requirements.txt`), installs
#   the `tf_transformer` package in editable mode, and opens JupyterLab on
#   this folder.
# - **Any Jupyter.** `pip install` the checkout or its wheel into the
#   kernel's environment, and open the `.ipynb` files from any folder.
# - **Google Colab.** Open a notebook from the course repository's GitHub
#   page or upload it; its first code cell installs the package (from a
#   wheel you upload beside it, or from `TF_TRANSFORMER_SOURCE`). Where the
#   package is installed already, that cell does nothing.
#
# Nothing in the course downloads a dataset: the Portuguese→English corpus
# and its vocabularies ship inside the package.
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

import os
import platform

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
#
# Another version does not stop the course (Colab, for one, ships its own
# TensorFlow), but numbers and messages may differ from the ones printed
# here. `course.version_problems()` compares and, for each difference, says
# what to run to match.

# %%
from tf_transformer import course

problems = course.version_problems()
for problem in problems:
    print("Note:", problem)
print("versions as the course expects" if not problems else f"{len(problems)} version difference(s), above")

# %% [markdown]
# **要点**
#
# - 三种安装方式得到同一套课程：在仓库根目录运行 `make lab`（按锁定版本的 `requirements.txt` 在 `.venv/`
#   建虚拟环境，以可编辑模式安装 `tf_transformer`，再打开 JupyterLab）；在任意 Jupyter 的内核环境里
#   `pip install` 仓库或它的 wheel；在 Google Colab 里由笔记本的第一个代码单元格安装（用你上传的 wheel 或
#   `TF_TRANSFORMER_SOURCE`），已经装好时它什么也不做。
# - 课程不下载任何数据集：葡萄牙语→英语语料和它的词表都随包附带。
# - 每个笔记本都以 `import tf_transformer` 开头，它同时让 TensorFlow 启动时的日志安静下来，
#   所以单元格下面显示的就是单元格自己打印的内容。
# - 课程针对 TensorFlow 2.21 和 Keras 3 编写，这里的 `tf.keras` 就是 Keras 3；一些旧教程默认 Keras 2
#   的行为（例如在层与层之间自动传递的填充掩码），第 4 节会说明本课程为什么改为显式传递掩码。
# - 版本不同并不妨碍学习（Colab 就自带它自己的 TensorFlow），只是数字和提示信息可能与这里不同；
#   `course.version_problems()` 会逐项比较，并说明要运行什么命令才能对齐版本。

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
# and settings: notebook 6). In a checkout the notebooks, `make demo` and the
# README's commands all keep them in `runs/` at the repository root
# (`runs/tutorial`, `runs/demo`...), so a run trained in one place is found in
# the others. Opened anywhere else, the notebooks keep them in `runs/` under
# the folder they run in (`/content/runs` in Colab); the environment variable
# `TF_TRANSFORMER_RUNS` chooses another place. `course.runs_root()` applies
# these rules, and notebooks 6, 7, 9 and 10 use it; it gives the folder as
# you would type it from here (`../runs` in a checkout), so what the
# notebooks print names no machine's absolute paths.

# %%
for device in tf.config.list_physical_devices():
    print(device.device_type, device.name)
print("GPU available:", bool(tf.config.list_physical_devices("GPU")))
print("CPU cores:", os.cpu_count())
print("runs live in:", course.runs_root(), "(relative to this notebook's folder)")

# %% [markdown]
# **要点**
#
# - 课程的全部内容都能在笔记本电脑的 CPU 上运行。GPU 只让训练更快，除了浮点误差不改变任何结果：
#   笔记本按固定的优化器步数训练（而不是固定的时长），所以快的机器只是更早训练出同一个模型。
# - 训练好的模型就是一个运行目录（run directory，第 6 节）：权重、词表、训练历史和设置都在里面。
# - 在仓库里，笔记本、`make demo` 和 README 中的命令都把运行目录放在仓库根目录的 `runs/` 下（`runs/tutorial`、
#   `runs/demo` 等），在一处训练的模型在另一处也找得到；在别处打开时，放在笔记本所在文件夹下的 `runs/`（Colab
#   中是 `/content/runs`）；环境变量 `TF_TRANSFORMER_RUNS` 可以另选位置。
# - `course.runs_root()` 实现这些规则，第 6、7、9、10 节都用到它。

# %% [markdown]
# ## Fast mode
#
# Continuous integration executes every notebook on each change. It sets the
# environment variable `TF_TRANSFORMER_FAST=1`, which makes the notebooks use
# less data and fewer training steps. Every cell still runs; only the sizes
# shrink. The notebooks you are reading were run in full mode.

# %%
FAST = course.fast_mode()  # os.environ.get("TF_TRANSFORMER_FAST") == "1"
print("fast mode" if FAST else "full mode")

# %% [markdown]
# **要点**
#
# - 持续集成（CI）每次改动都会执行全部笔记本，它设置环境变量 `TF_TRANSFORMER_FAST=1`，让笔记本少用数据、
#   少训练几步。
# - 快速模式下每个单元格照样运行，变小的只是规模。
# - 你正在读的这些笔记本是在完整模式下运行的。

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
# | 9 | training and performance: the paper's study at laptop scale |
# | 10 | what "it" refers to: self-attention resolving a pronoun |
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
# **要点**
#
# - 第 0 节搭建环境；第 1–10 节依次是：从 RNN 到自注意力（手算）、数据（语料、分词器、批次）、
#   位置编码与多头注意力、模型（编码器、解码器、`Transformer`）、优化器与损失、训练、推理（BLEU、保存与导出）
#   、在自己的模型里复用这些层、笔记本电脑规模的论文训练与性能研究、自注意力怎样处理代词 “it” 的指代。
#   上表没有列出的第 11 节用本机 gettext 翻译目录里的真实文本训练。
# - 每个笔记本讲解的代码都在 `tf_transformer` 包里，笔记本展示的是这份代码本身，而不是它的副本。
# - 包的结构与课程一一对应：上面的单元格列出了包里的每个模块。

# %% [markdown]
# ## What we built
#
# A working environment, checked: the right TensorFlow and Keras, the devices
# TensorFlow sees, and a map of the library that the next notebooks open one
# file at a time.

# %% [markdown]
# **要点：本节小结**
#
# - 环境已检查：TensorFlow 和 Keras 的版本符合课程要求，也知道了 TensorFlow 能看到哪些设备。
# - 知道了运行目录放在哪里，以及快速模式缩小了什么。
# - 有了一张库的地图，后面的笔记本会逐个文件地打开它。
