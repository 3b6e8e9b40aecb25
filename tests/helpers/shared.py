"""Artifacts built once per test session and shared by every test and every xdist worker.

The session's first process (the xdist controller, or plain pytest) makes one folder and
names it in ``$TF_TRANSFORMER_TEST_SHARED``; the workers inherit the variable. ``artifact(name)``
returns ``<folder>/<name>``, building it on first use:

- in a fresh Python process (``python -m helpers.build NAME DIR``), so what it holds does not
  depend on which tests ran earlier in the asking process (seeds, precision policies, traced
  functions), and a run is the same whichever worker asks first;
- under an exclusive file lock, so that two workers asking at once build it once: the second
  waits for the first and then reads the same folder.

Tests read shared artifacts and never write into them: a test that changes a run copies it
into its own ``tmp_path`` first (``copy_of``). A module names the artifacts its tests read
(``pytestmark = pytest.mark.shared("course_runs")``), and each worker starts building them as
soon as it has collected its tests (``prefetch``), beside the tests that need nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time

ENV = "TF_TRANSFORMER_TEST_SHARED"
TESTS = pathlib.Path(__file__).resolve().parents[1]
# The recipes of ``helpers.build``, and what each reads (built first, passed after its folder).
RECIPES = ("inference_run", "inference_export", "course_runs")
NEEDS = {"inference_export": ("inference_run",)}


def root() -> pathlib.Path:
    """The session's shared folder (``conftest.py`` creates it and sets ``$TF_TRANSFORMER_TEST_SHARED``)."""
    if not os.environ.get(ENV):
        raise RuntimeError(f"${ENV} is not set: run the tests with pytest, whose conftest.py sets it")
    return pathlib.Path(os.environ[ENV])


@contextlib.contextmanager
def locked(path: pathlib.Path):
    """Hold an exclusive ``flock`` on ``path`` (the kernel drops it if this process dies)."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def artifact(name: str) -> pathlib.Path:
    """``<shared>/<name>``, built by ``helpers.build``'s recipe ``name`` unless this session built it."""
    inputs = [artifact(need) for need in NEEDS.get(name, ())]
    folder, done = root() / name, root() / f"{name}.done"
    with locked(root() / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that died halfway
            start = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "helpers.build", name, str(folder), *map(str, inputs)],
                cwd=TESTS,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                capture_output=True,
                text=True,
                timeout=900,
            )
            if proc.returncode != 0:
                raise RuntimeError(
                    f"building the shared {name!r} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
                )
            done.write_text(f"{time.monotonic() - start:.1f}\n{proc.stdout}")
    return folder


def build_log(name: str) -> str:
    """What the builder of ``name`` printed (after its build time, on the first line)."""
    artifact(name)
    return (root() / f"{name}.done").read_text().split("\n", 1)[1]


def copy_of(name: str, destination: pathlib.Path) -> pathlib.Path:
    """A private copy of a shared artifact, for a test that writes into it."""
    shutil.copytree(artifact(name), destination)
    return destination


def prefetch(names) -> list[threading.Thread]:
    """Start building ``names`` now, each in a background thread, so that the tests that need them
    later find them built instead of waiting (the other worker may be building one: the lock
    makes the second asker wait for it, and a failed build is raised again by the test's own call)."""
    threads = []
    for name in sorted(set(names)):

        def build(name=name):
            try:
                artifact(name)
            except Exception:  # noqa: BLE001 (the test that needs it builds it again and says why)
                pass

        thread = threading.Thread(target=build, name=f"prefetch {name}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads
