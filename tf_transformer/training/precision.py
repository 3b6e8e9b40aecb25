"""``--mixed-precision auto``: bfloat16 where the hardware multiplies it natively, float32 elsewhere.

bfloat16 pays only where the matrix units take it directly. Measured with
``benchmarks/train_throughput.py`` on the tutorial model: 1.19x float32's
steps on a CPU with AMX (Intel's matrix tiles, flag ``amx_bf16``), 0.97x on
an AMD EPYC without it, where oneDNN converts to float32 to multiply. NVIDIA
GPUs multiply bfloat16 in their tensor cores from compute capability 8.0
(Ampere) on. ``auto`` never picks fp16: that needs loss scaling, and a run
started in it could not resume in another precision.

Example:
    >>> resolve("bf16")
    ('bf16', 'asked for')
    >>> resolve("auto", gpus=[(9, 0)])[0]
    'bf16'
    >>> resolve("auto", gpus=[], flags={"avx2"})
    ('none', 'this CPU has no AMX (amx_bf16): bfloat16 runs no faster than float32 on it')
"""

from __future__ import annotations

import contextlib
import pathlib

CPUINFO = pathlib.Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: pathlib.Path = CPUINFO) -> set[str]:
    """The first CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    with contextlib.suppress(OSError):
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


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
    if "amx_bf16" in flags:
        return "bf16", "this CPU has AMX (amx_bf16)"
    return "none", "this CPU has no AMX (amx_bf16): bfloat16 runs no faster than float32 on it"
