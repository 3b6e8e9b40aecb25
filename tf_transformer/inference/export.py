"""Export a ``Translator`` as a SavedModel that serves strings to strings.

The SavedModel holds the model's weights, both tokenizers' vocabularies and
the whole decoding loop, so it needs only TensorFlow and tensorflow-text
(``import tensorflow_text`` registers the tokenizer ops) to run; it does not
import ``tf_transformer``.

It is written with ``keras.export.ExportArchive``, not by saving a
``tf.Module`` that wraps the Keras model: the latter reloads in TF2 Python but
fails in the TF1 session loader that TensorFlow Serving and
``saved_model_cli run`` use ("Could not find variable ..."). ``ExportArchive``
lists every variable the endpoints use, and we hand it the tokenizers so that
their lookup tables and vocabulary files are saved as well.

Signatures:

- ``serving_default``: ``text`` (``tf.string [None]``) -> ``translation``
  (``tf.string [None]``), greedy decoding.
- ``beam_search``: ``text`` and ``beam_size`` (``tf.int32`` scalar) ->
  ``translation``. The graph itself rejects a ``beam_size`` below 1, and more
  than ``max_hypotheses`` (``beam_size`` times the number of sentences) at
  once, with an ``InvalidArgumentError`` that says why (see
  ``search.check_beam_size``).
- ``attention``: ``text`` -> ``source_tokens``, ``target_tokens``, ``weights``
  (cross-attention, ``[B, layers, heads, T, S]``), ``translation`` (greedy),
  for the page of ``tf-transformer serve`` (see ``export_attention``).

Writing is all or nothing. The SavedModel is written into a temporary sibling
folder (``.NAME.tmp-PID``), loaded back and run once, and only then moved into
place (``files.replace_directory``, one atomic swap on Linux). Whenever the
process dies, the target folder holds the previous export or the new one,
whole; what a killed export left behind is removed by the next export to
the same place.

Layouts: ``export_translator`` writes exactly the folder it is given.
``export_version`` writes TensorFlow Serving's layout, ``BASE/<version>``
(``1``, ``2``, ...): ``tf-transformer export --out BASE`` and the demo use it,
and ``tf-transformer serve --export BASE`` serves its highest version.
"""

from __future__ import annotations

import os
import pathlib
import shutil

import keras

from tf_transformer import files
from tf_transformer.inference.export_attention import add_attention_endpoint
from tf_transformer.inference.translator import BEAM_SIZE_SPEC, TEXT_SPEC, Translator

SAVED_MODEL_FILE = "saved_model.pb"
VERIFY_TEXT = "ok"  # what the new export translates once before it replaces anything


class ExportExistsError(FileExistsError):
    """The export's target folder already holds something, and overwriting was not asked for."""

    def __init__(self, path: pathlib.Path, next_version: int | None = None):
        self.path, self.next_version = path, next_version
        hint = f", or write version {next_version}, the next free one" if next_version is not None else ""
        super().__init__(f"{path} already exists; pass overwrite=True to replace it{hint}.")


def export_translator(translator, out_dir, *, overwrite: bool = False) -> pathlib.Path:
    """Write ``translator`` as a SavedModel into ``out_dir``, all or nothing, and return its path.

    Args:
        translator: a ``Translator``.
        out_dir: the SavedModel's folder. If it exists and is not empty, it is
            replaced only with ``overwrite=True`` (else ``ExportExistsError``);
            the old export stays whole until the new one is complete and has
            been loaded back and run.

    Raises:
        ExportExistsError: ``out_dir`` holds something and ``overwrite`` is False.
        ValueError: ``out_dir`` is a file.
        files.WriteError: the disk is full, or the folder is not writable;
            ``out_dir`` is as it was.

    Example:
        >>> translator = Translator.from_run(load_run("runs/demo"))  # doctest: +SKIP
        >>> export_translator(translator, "exports/pt_en/1")  # doctest: +SKIP
        >>> reloaded = tf.saved_model.load("exports/pt_en/1")  # doctest: +SKIP
        >>> reloaded.signatures["serving_default"](text=tf.constant(["Olá."]))  # doctest: +SKIP
    """
    out_dir = pathlib.Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} is a file; an export is a folder")
    if not overwrite and _holds_something(out_dir):
        raise ExportExistsError(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(out_dir)
    tmp = files.temporary_path(out_dir)
    shutil.rmtree(tmp, ignore_errors=True)  # (this process's own, from an export that failed halfway)
    try:
        _write(translator, tmp)
        verify_export(tmp)
        files._fsync(tmp)  # every file on disk before the folder is swapped in
        if not overwrite and _holds_something(out_dir):  # another process got there first
            raise ExportExistsError(out_dir)
        files.replace_directory(tmp, out_dir)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        full = isinstance(err, Exception) and "No space left" in str(err)  # TensorFlow's own errors too
        if (isinstance(err, OSError) or full) and not isinstance(err, (files.WriteError, FileExistsError)):
            raise files.WriteError(files.describe_write_error(out_dir, err)) from err
        raise
    files._fsync_dir(out_dir.parent)
    return out_dir


def next_version(base) -> int:
    """The version after the highest numbered folder in ``base`` (1 for a new or empty ``base``)."""
    return max(existing_versions(base), default=0) + 1


def existing_versions(base) -> list[int]:
    """The numbered entries of ``base`` (``1``, ``2``, ...), sorted; complete or not, they are taken."""
    base = pathlib.Path(base)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit())


def version_path(base, version: int | None = None, *, overwrite: bool = False) -> pathlib.Path:
    """``BASE/<version>`` that ``export_version`` would write, checked before any work is done.

    ``version`` None picks ``next_version(base)``.

    Raises:
        ValueError: ``version`` is below 1; ``base`` is itself a SavedModel, or
            is named like a version folder (``exports/pt_en/1``: the version
            goes below the base folder, so pass ``exports/pt_en``).
        ExportExistsError: ``BASE/<version>`` exists and ``overwrite`` is False
            (it carries the next free version).
    """
    base = pathlib.Path(base)
    if version is not None and version < 1:
        raise ValueError(f"the version must be a whole number of at least 1, got {version}")
    if base.name.isdigit():
        raise ValueError(
            f"{base} is named like a version folder; give the base folder instead, and the "
            f"version is added below it: --out {base.parent} --version {base.name}"
        )
    if (base / SAVED_MODEL_FILE).exists():
        raise ValueError(
            f"{base} holds a SavedModel itself; exports go into numbered folders below a base "
            f"folder (TensorFlow Serving's layout): choose another base folder, or move that "
            f"SavedModel into {base / '1'} first"
        )
    path = base / str(version if version is not None else next_version(base))
    if not overwrite and path.exists():
        raise ExportExistsError(path, next_version(base))
    return path


def export_version(translator, base, version: int | None = None, *, overwrite: bool = False) -> pathlib.Path:
    """Write ``translator`` as version ``version`` of ``base`` (TensorFlow Serving's layout); return its path.

    ``version`` None writes the next one: the highest existing numbered folder
    plus one, 1 in a new ``base``. An existing version is replaced only with
    ``overwrite=True``, all or nothing (see ``export_translator``).

    Example:
        >>> export_version(translator, "exports/pt_en")  # doctest: +SKIP
        PosixPath('exports/pt_en/1')
        >>> export_version(translator, "exports/pt_en")  # doctest: +SKIP
        PosixPath('exports/pt_en/2')
    """
    path = version_path(base, version, overwrite=overwrite)
    return export_translator(translator, path, overwrite=overwrite)


def verify_export(path) -> None:
    """Load the SavedModel at ``path`` and run ``serving_default`` and ``beam_search`` on one sentence.

    Raises ``RuntimeError`` if either does not give one string back.
    """
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel calls)

    loaded = tf.saved_model.load(str(path))
    text = tf.constant([VERIFY_TEXT])
    outputs = {
        "serving_default": loaded.signatures["serving_default"](text=text),
        "beam_search": loaded.signatures["beam_search"](text=text, beam_size=tf.constant(2)),
    }
    for name, output in outputs.items():
        translation = output["translation"]
        if translation.dtype != tf.string or translation.shape != (1,):
            raise RuntimeError(f"the SavedModel written to {path} is broken: {name} gave {translation!r}")


def _write(translator, path: pathlib.Path) -> None:
    if translator.jit_compile:  # a server may run without XLA: export the plain loop
        translator = Translator(
            translator.model,
            translator.source_tokenizer,
            translator.target_tokenizer,
            translator.max_length,
            translator.alpha,
        )
    archive = keras.export.ExportArchive()
    archive.track(translator.model)
    archive.track(translator.source_tokenizer)
    archive.track(translator.target_tokenizer)
    archive.add_endpoint(
        "serving_default", lambda text: {"translation": translator.greedy(text)}, input_signature=[TEXT_SPEC]
    )
    archive.add_endpoint(
        "beam_search",
        lambda text, beam_size: {"translation": translator.beam(text, beam_size)},
        input_signature=[TEXT_SPEC, BEAM_SIZE_SPEC],
    )
    add_attention_endpoint(archive, translator)
    archive.write_out(str(path), verbose=False)


def _holds_something(path: pathlib.Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def _remove_abandoned(out_dir: pathlib.Path) -> None:
    """Delete what killed exports to ``out_dir`` left beside it (their process is gone)."""
    for pattern in (f".{out_dir.name}{files.TEMPORARY_MARK}*", f".{out_dir.name}.old-*"):
        for leftover in out_dir.parent.glob(pattern):
            pid = leftover.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to someone else
        return True
    return True
