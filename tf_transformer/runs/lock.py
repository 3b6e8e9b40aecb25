"""One training at a time in a run directory: ``RunLock``, and the error a second one gets."""

from __future__ import annotations

import os
import pathlib


class LockedError(RuntimeError):
    """Another process holds the run directory."""


class RunLock:
    """An exclusive lock on a directory, held by one process at a time.

    ``fcntl.flock`` on ``DIR/.lock``: the kernel releases it when the process
    ends, however it ends, so a killed training never leaves it stuck. The
    file records the holder's process id for the error message. (Where
    ``fcntl`` does not exist, on Windows, the lock is a no-op.)

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with RunLock(folder):
        ...     RunLock(folder).acquire()
        Traceback (most recent call last):
        ...
        tf_transformer.runs.lock.LockedError: ... is in use by another process (pid ...) ...
    """

    NAME = ".lock"

    def __init__(self, folder: str | os.PathLike, what: str = "training"):
        self.folder = pathlib.Path(folder)
        self.what = what
        self._file = None

    def acquire(self) -> RunLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover (Windows)
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / self.NAME, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise LockedError(
                f"{self.folder} is in use by another process (pid {holder}) that is {self.what} "
                f"into it; wait for it to finish or stop it (a killed process releases the "
                f"directory at once), or pass another --run-dir."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the flock
            self._file = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
