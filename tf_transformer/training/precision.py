"""``--mixed-precision auto``: bfloat16 where the hardware multiplies it natively, float32 elsewhere.

bfloat16 pays only where the CPU or GPU multiplies it in its own instructions; elsewhere oneDNN
converts to float32 to multiply, and the casts cost more than the halved bytes save. ``auto``
picks it on CPUs with bfloat16 matrix instructions (Intel's AMX tiles, flag ``amx_bf16``; AVX-512's
bfloat16 dot products, flag ``avx512_bf16``, as on AMD EPYC Zen 4) and on NVIDIA GPUs from
compute capability 8.0 (Ampere) on. On both CPU kinds a run showed that bf16 trains as well as
float32 and sooner (docs/performance.md: the demo's accuracy by step, seeds and BLEU,
``benchmarks/precision_quality.py``); ``benchmarks/train_throughput.py --variants fp32 bf16``
measures the step's speed-up on a machine. ``auto`` never picks fp16: that needs loss scaling.

A run records what ``auto`` resolved to when it began, and a resumed run keeps it on any machine
(``training.loop``): the precision is part of what a run is.

Example:
    >>> resolve("bf16")
    ('bf16', 'asked for')
    >>> resolve("auto", gpus=[(9, 0)])[0]
    'bf16'
    >>> resolve("auto", gpus=[], flags={"avx512f", "amx_bf16"})
    ('bf16', 'this CPU multiplies bfloat16 natively (amx_bf16)')
    >>> resolve("auto", gpus=[], flags={"avx2", "avx512f", "avx512_bf16"})
    ('bf16', 'this CPU multiplies bfloat16 natively (avx512_bf16)')
    >>> resolve("auto", gpus=[], flags={"avx2", "fma"})[0]
    'none'
"""

from __future__ import annotations

import contextlib
import pathlib

CPUINFO = pathlib.Path("/proc/cpuinfo")
# The key in run.json's "train" that records what the run computes in ("auto" resolved).
RESOLVED_PRECISION = "resolved_precision"
# The CPU flags of bfloat16 matrix instructions auto picks bf16 on.
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: pathlib.Path = CPUINFO) -> set[str]:
    """The first CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    with contextlib.suppress(OSError):
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


# The CPU flags that decide a step's speed: numbers from CPUs that differ in them never compare.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_model(cpuinfo: pathlib.Path = CPUINFO) -> str:
    """The first CPU's model name from ``/proc/cpuinfo`` ("unknown CPU" where there is none)."""
    with contextlib.suppress(OSError):
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def machine() -> dict:
    """What a benchmark's numbers were measured on: the CPU model, its speed flags, cores, load.

    Every benchmark prints it (``describe_machine``) and records it beside its numbers.
    """
    import datetime
    import os
    import platform
    import sys

    flags = cpu_flags()
    return dict(
        cpu=cpu_model(),
        flags=[f for f in SPEED_FLAGS if f in flags],
        cores=os.cpu_count(),
        load_average=[round(x, 2) for x in os.getloadavg()],
        python=platform.python_version(),
        tensorflow=getattr(sys.modules.get("tensorflow"), "__version__", None),  # (if it is loaded)
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def describe_machine(info: dict | None = None) -> str:
    """One line: ``AMD EPYC 9R14 (avx2, avx512f, avx512_bf16; no amx_bf16), 2 cores, load 0.31``.

    >>> describe_machine(dict(cpu="X", flags=["avx2"], cores=2, load_average=[0.5, 0, 0]))
    'X (avx2; no avx512f, avx512_bf16, amx_bf16), 2 cores, load 0.50'
    """
    info = info or machine()
    if "flags" not in info:  # (a record from before flags were recorded)
        flags = "flags not recorded"
    else:
        missing = [f for f in SPEED_FLAGS if f not in info["flags"]]
        flags = ", ".join(info["flags"]) or "none of " + ", ".join(SPEED_FLAGS)
        if info["flags"] and missing:
            flags += "; no " + ", ".join(missing)
    return f"{info['cpu']} ({flags}), {info['cores']} cores, load {info['load_average'][0]:.2f}"


def gpu_compute_capabilities() -> list[tuple[int, int]]:
    """``(major, minor)`` of each GPU TensorFlow sees; empty on a CPU-only machine."""
    import tensorflow as tf

    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capabilities.append(tuple(details.get("compute_capability", (0, 0))))
    return capabilities


def resolve(choice: str, *, gpus=None, flags=None) -> tuple[str, str]:
    """The precision ``choice`` means on this machine (``"none"``, ``"bf16"`` or ``"fp16"``), and why.

    ``gpus`` (compute capabilities) and ``flags`` (CPU flags) stand in for
    this machine's, for tests.
    """
    if choice != "auto":
        return choice, "asked for"
    gpus = gpu_compute_capabilities() if gpus is None else gpus
    if gpus:
        if all(capability >= (8, 0) for capability in gpus):
            return "bf16", f"GPU compute capability {'.'.join(map(str, min(gpus)))} multiplies bfloat16"
        return "none", "a GPU older than compute capability 8.0 has no bfloat16 tensor cores"
    flags = cpu_flags() if flags is None else flags
    for flag in BF16_FLAGS:
        if flag in flags:
            return "bf16", f"this CPU multiplies bfloat16 natively ({flag})"
    return "none", (
        "this CPU has no bfloat16 matrix instructions (amx_bf16, avx512_bf16): bfloat16 runs no "
        "faster than float32 on it"
    )


def resolve_before_records(choice: str, *, gpus=None, flags=None) -> str:
    """What ``auto`` meant for a run begun before runs recorded it: bfloat16 on AMX or a GPU of
    compute capability 8.0 and later, float32 elsewhere (an AVX-512 bfloat16 CPU included: auto
    picked bf16 there only after runs recorded what it resolved to)."""
    if choice != "auto":
        return choice
    dtype, _ = resolve(choice, gpus=gpus, flags=flags)
    flags = cpu_flags() if flags is None else flags
    gpus = gpu_compute_capabilities() if gpus is None else gpus
    return dtype if gpus or "amx_bf16" in flags else "none"
