"""Files that are either whole or absent: atomic writes, weights-only saves, directory swaps.

Everything a run directory or an export holds is written here, the same way:
into a temporary sibling (``.STEM.tmp-PID.SUFFIXES``), flushed to disk, then renamed
over the target. A kill, a full disk or a power cut at any moment leaves the
previous file intact, never half of a new one; the temporary file is removed
on failure, and ``remove_temporaries`` sweeps up after a kill.

Example:
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_text(folder / "a.json", '{"step": 1}')
    >>> (folder / "a.json").read_text()
    '{"step": 1}'
    >>> sorted(p.name for p in folder.iterdir())  # no temporary left behind
    ['a.json']
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import os
import pathlib
import shutil

TEMPORARY_MARK = ".tmp-"  # in every temporary name: ".STEM.tmp-PID.SUFFIXES"


class WriteError(OSError):
    """A file could not be written (a full disk, no permission); the previous copy is intact."""


_HASHES: dict[tuple, str] = {}


def sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (remembered per size and mtime within one process)."""
    path = pathlib.Path(path)
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _HASHES[memo] = digest.hexdigest()
    return _HASHES[memo]


def temporary_path(target: str | os.PathLike) -> pathlib.Path:
    """The temporary sibling a write of ``target`` goes through.

    It keeps ``target``'s suffixes after the mark (Keras insists on ``.weights.h5``
    and ``.keras``): ``model.weights.h5`` -> ``.model.tmp-PID.weights.h5``.
    """
    target = pathlib.Path(target)
    stem, dot, suffixes = target.name.partition(".")
    return target.with_name(f".{stem}{TEMPORARY_MARK}{os.getpid()}{dot}{suffixes}")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path to write; on success it replaces ``target`` in one rename.

    On any error the temporary file is removed and ``target`` is left as it
    was; an ``OSError`` (a full disk...) becomes a ``WriteError`` that names
    ``target`` and says what happened.
    """
    target = pathlib.Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(target)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException as err:
        _remove(tmp)
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise WriteError(describe_write_error(target, err)) from err
        raise
    _fsync_dir(target.parent)


def describe_write_error(target, err: BaseException) -> str:
    """One line: which file, why (a full disk said plainly), and that the old copy is intact."""
    text = str(err)
    full = getattr(err, "errno", None) == errno.ENOSPC or "No space left" in text
    why = "the disk is full (no space left on device)" if full else text
    keep = "its previous version is intact" if pathlib.Path(target).exists() else "nothing was written"
    advice = "free some space and run the same command again" if full else "fix that and run again"
    return f"could not write {target}: {why}; {keep}. {advice[0].upper()}{advice[1:]}."


def write_text(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_weights(model, target: str | os.PathLike, *more: str | os.PathLike, optimizer: bool = False) -> None:
    """Save ``model``'s weights to ``target`` (``.weights.h5``), and to each of ``more``, atomically.

    The file is built once, however many copies are written.

    Keras 3's ``save_weights`` of a compiled model also writes the optimizer's
    state (Adam's two moments: the file is three times the model's size).
    Here it is left out unless ``optimizer=True``, so the file holds the
    weights only and loads into any model of the same architecture, compiled
    or not (``load_weights``).

    The HDF5 file is built in memory and written with plain file I/O: HDF5
    writing straight to a full disk leaves handles that crash the process
    when Python exits (a segmentation fault), where a failed plain write is
    just an ``OSError``.
    """
    skip = [] if optimizer or getattr(model, "optimizer", None) is None else [model.optimizer]
    data = weights_bytes(model, skip)
    for path in (target, *more):
        with atomic_path(path) as tmp:
            _write_bytes(tmp, data)


class _Captured:
    """Stands in for the zip archive Keras's ``H5IOStore`` writes into: keeps the finished file's bytes."""

    data = None

    def writestr(self, name, data):
        self.data = bytes(data)


def weights_bytes(model, skip=()) -> bytes:
    """The ``.weights.h5`` file of ``model`` (leaving out the objects in ``skip``), as bytes."""
    from keras.src.saving import saving_lib  # (its weights-only save without a file is not public)

    sink = _Captured()
    store = saving_lib.H5IOStore("model.weights.h5", archive=sink, mode="w")
    try:
        saving_lib._save_state(
            model,
            weights_store=store,
            assets_store=None,
            inner_path="",
            visited_saveables={id(o) for o in skip},
        )
    finally:
        store.close()
    return sink.data


def _write_bytes(path: pathlib.Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def load_weights(model, path: str | os.PathLike) -> None:
    """Load a ``.weights.h5`` file into ``model``: weights-only files into compiled models too.

    A file saved with the optimizer's state restores it as well (``backup/``).
    """
    import h5py
    from keras.src.saving import saving_lib

    with h5py.File(path, "r") as f:
        has_optimizer = "optimizer" in f
    optimizer = getattr(model, "optimizer", None)
    skip = [optimizer] if optimizer is not None and not has_optimizer else None
    saving_lib.load_weights_only(model, str(path), objects_to_skip=skip)


def replace_directory(new: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move the finished folder ``new`` to ``target``; an existing ``target`` is swapped out in one step.

    On Linux the swap is one ``renameat2(RENAME_EXCHANGE)`` call, so ``target``
    always names a whole folder, the old one or the new one; elsewhere it is
    two renames with the old folder kept aside (``.NAME.old-PID``) between them.
    The old folder is deleted afterwards.
    """
    new, target = pathlib.Path(new), pathlib.Path(target)
    if not target.exists():
        os.replace(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new)  # ``new`` now names the old folder
        return
    aside = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, aside)
    os.replace(new, target)
    shutil.rmtree(aside)


def remove_temporaries(folder: str | os.PathLike) -> list[pathlib.Path]:
    """Delete the temporary files and folders left in ``folder`` (and below) by killed writes.

    Call it only while no other process writes there (``runs.RunLock``). Returns what was removed.
    """
    removed = []
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        return removed
    for path in sorted(folder.rglob(f".*{TEMPORARY_MARK}*")) + sorted(folder.rglob("tmp-*.weights.h5")):
        if path.exists():  # (a folder's contents go with it)
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            removed.append(path)
    return removed


# -- helpers -----------------------------------------------------------------------------------


def _remove(path: pathlib.Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _fsync(path: pathlib.Path) -> None:
    """Flush a written file (or every file of a written folder) to the disk before the rename."""
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    for file in files:
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(folder: pathlib.Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _exchange(a: pathlib.Path, b: pathlib.Path) -> bool:
    """Swap two paths atomically with Linux's ``renameat2(RENAME_EXCHANGE)``; False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    try:
        renameat2 = ctypes.CDLL(libc_name, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0
