"""``tf-transformer check --run-dir DIR``: is a run directory whole, consistent and usable?

It reads every file a run directory holds, the way ``load_run`` would, and
prints one line per file: ``ok``, ``-`` for an optional file that is absent,
or ``FAIL`` with what is wrong and what to do. Then it translates one short
sentence with the weights ``translate`` would use. Exit status 0 when nothing
failed, 1 otherwise.

Checked: ``run.json`` (UTF-8 JSON, every entry well formed); both
vocabularies (the SHA-256 ``run.json`` recorded, UTF-8, reserved tokens first,
the sizes the model was trained with); every weights file present
(``model.weights.h5``, the checkpoints, the backup: readable and loadable into
the architecture ``run.json`` describes, no NaN); ``model.keras`` (a whole zip archive); ``history.json``
and ``metrics.json`` (JSON); ``backup/state.json`` beside a backup (the step it
names). Decoding runs eagerly, with nothing to compile.

Example:
    >>> results = check_run("runs/demo")  # doctest: +SKIP
    >>> all(r.ok for r in results)  # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
import zipfile

from tf_transformer import runs as rd
from tf_transformer.constants import SIDES

SENTENCE = "O gato dorme."  # any text will do: the check is that decoding runs, not what it says


@dataclasses.dataclass
class Result:
    """One line of the report.

    Attributes:
        item: what was checked (a file relative to the run directory, or ``translation``).
        ok: True when it is fine, False when it is not, None when an optional file is absent.
        text: what was found; for a failure, what is wrong and what to do.
    """

    item: str
    ok: bool | None
    text: str

    def line(self) -> str:
        status = {True: "ok", False: "FAIL", None: "-"}[self.ok]
        return f"{status:<4}  {self.item}: {self.text}"


def check_run(run_dir) -> list[Result]:
    """Check every file of ``run_dir``; see the module docstring. Never raises for a damaged run."""
    path = pathlib.Path(run_dir)
    results: list[Result] = []

    def fail(item, err):
        results.append(Result(item, False, _without_prefix(str(err), path / item)))

    try:
        info = rd.read_run_info(path)
        config = info.model
        results.append(Result(rd.RUN_FILE, True, _describe(info)))
    except (ValueError, FileNotFoundError) as err:
        if not path.is_dir() or not (path / rd.RUN_FILE).is_file():
            return [Result(str(path), False, str(err))]
        fail(rd.RUN_FILE, err)
        info = config = None  # (the vocabularies are then looked for as vocab/SIDE.txt)

    tokenizers = {}
    for side in SIDES:
        item = info.vocab[side] if info is not None else f"{rd.VOCAB_DIR}/{side}.txt"
        try:
            tokenizers[side] = rd.load_run_tokenizer(path, info, side, config)
            verified = (
                "the SHA-256 run.json recorded"
                if info is not None and info.vocab_verified
                else "not verified: this run.json is from before runs recorded their vocabularies' SHA-256"
            )
            results.append(Result(item, True, f"{int(tokenizers[side].get_vocab_size())} tokens, {verified}"))
        except (ValueError, FileNotFoundError) as err:
            fail(item, err)

    model = _build(config) if config is not None else None
    intact = _check_weights(path, model, results)
    _check_keras_file(path, results)
    for name in (rd.HISTORY_FILE, rd.METRICS_FILE):
        _check_json(path, name, results)
    _check_backup_state(path, results)
    if info is not None and info.prepared_corpus:
        _check_corpus(info, results)
    if model is not None and len(tokenizers) == 2 and intact:
        results.append(_translate(path, model, tokenizers, info, intact))
    else:
        results.append(Result("translation", None, "not tried: it needs the files that failed above"))
    return results


def _check_corpus(info: rd.RunInfo, results: list[Result]) -> None:
    """The local corpus the run trained on: the same files as then? (A warning: the run is whole.)"""
    change = rd.corpus_change(info)
    if change:
        text = f"{change}; restore those files to evaluate on the run's own test split, or train a new run"
        results.append(Result("corpus", False, text))
    else:
        results.append(
            Result("corpus", True, f"{info.spec}: the files it trained on ({info.prepared_corpus})")
        )


def _describe(info: rd.RunInfo) -> str:
    config = info.model
    return (
        f"format {rd.FORMAT}, {info.source_language} -> {info.target_language}, "
        f"{config.num_layers} layers, d_model {config.d_model}, {config.num_heads} heads"
    )


def _build(config):
    from tf_transformer.model import Transformer

    model = Transformer(config)
    model.build()
    return model


def _check_weights(path: pathlib.Path, model, results: list[Result]) -> list[str]:
    """A line per weights file; returns the names of those that load (in ``WEIGHTS_FLAGS`` order)."""
    present = [name for name in rd.WEIGHTS_FLAGS if (path / name).is_file()]
    found = {name: _weights_problem(model, path / name) for name in present}
    intact = [name for name, problem in found.items() if problem is None]
    # Several weights files, each whole, none of which fits run.json's model: one wrong run.json
    # explains that better than as many damaged weights files.
    run_json_suspect = (
        model is not None
        and len(found) >= 2
        and not intact
        and all(_weights_problem(None, path / name) is None for name in found)
    )
    for name, flag in rd.WEIGHTS_FLAGS.items():
        if name not in found:
            if name != rd.WEIGHTS_FILE:
                results.append(Result(name, None, "absent"))
            elif found and (path / rd.MODEL_FILE).is_file():  # written with it when training ends
                results.append(
                    Result(
                        name,
                        False,
                        f"is missing, though training finished ({rd.MODEL_FILE} is there); rerunning the "
                        f"training command writes it again from {rd.BEST_WEIGHTS}",
                    )
                )
            elif found:
                results.append(Result(name, None, "absent: training has not finished (checkpoints stand in)"))
            else:
                advice = f"train first: `tf-transformer train --run-dir {path}`, at least one epoch"
                results.append(Result(name, False, f"no weights file at all; {advice}"))
        elif found[name] is None:
            use = f" (use it with {flag})" if flag else ""
            what = "loads into the model run.json describes" if model is not None else "a whole HDF5 file"
            results.append(Result(name, True, what + use))
        else:
            others = [other for other in intact if other != name]
            if others:
                other_flag = rd.WEIGHTS_FLAGS[others[0]] or "no --weights"
                hint = f"{others[0]} is intact: evaluate, translate and export use it with {other_flag}"
            elif run_json_suspect:
                hint = (
                    f"but every weights file here ({len(found)}) is a whole file that disagrees with "
                    f"{rd.RUN_FILE}: {rd.RUN_FILE} is more likely the odd one out (another run's?); "
                    f"restore {rd.RUN_FILE} from a copy of this run"
                )
            else:
                hint = rd.restore_advice(path)
            if name == rd.WEIGHTS_FILE and rd.BEST_WEIGHTS in intact:
                hint += f"; rerunning the training command writes it again from {rd.BEST_WEIGHTS}"
            results.append(Result(name, False, f"{found[name]}; {hint}"))
    return intact


def _weights_problem(model, file: pathlib.Path) -> str | None:
    if model is not None:
        return rd.weights_problem(model, file)
    import h5py  # no architecture to load into (run.json is damaged): read every dataset

    try:
        with h5py.File(file, "r") as weights:
            weights.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)
    except Exception as err:  # noqa: BLE001 (h5py raises OSError, KeyError, RuntimeError...)
        return f"is damaged ({rd.short_reason(err)})"
    return None


def _check_keras_file(path: pathlib.Path, results: list[Result]) -> None:
    file = path / rd.MODEL_FILE
    if not file.is_file():
        results.append(Result(rd.MODEL_FILE, None, "absent (evaluate, translate and export do not need it)"))
        return
    try:
        with zipfile.ZipFile(file) as archive:
            bad = archive.testzip()
            names = set(archive.namelist())
        why = f"{bad} is corrupt" if bad else None
        if not why and not {"config.json", "model.weights.h5"} <= names:
            why = "config.json or model.weights.h5 is missing from it"
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        why = rd.short_reason(err)
    if why is None:
        results.append(Result(rd.MODEL_FILE, True, "a whole .keras archive"))
    else:
        results.append(
            Result(
                rd.MODEL_FILE,
                False,
                f"is damaged ({why}); rerun the training command to write it again "
                f"(evaluate, translate and export do not need it)",
            )
        )


def _check_json(path: pathlib.Path, name: str, results: list[Result]) -> None:
    file = path / name
    if not file.is_file():
        results.append(Result(name, None, "absent"))
        return
    try:
        json.loads(file.read_bytes().decode("utf-8"))
        results.append(Result(name, True, "valid JSON"))
    except (ValueError, OSError) as err:
        what = "the training history" if name == rd.HISTORY_FILE else "earlier evaluations' scores"
        results.append(
            Result(
                name,
                False,
                f"is damaged ({rd.short_reason(err)}); it holds only {what}: move it aside or delete it",
            )
        )


def _check_backup_state(path: pathlib.Path, results: list[Result]) -> None:
    """``backup/state.json``, beside a backup: the running epoch's metric sums and dropout's
    random streams, which a resume reads."""
    from tf_transformer.training.resume import StepBackup

    name = f"{rd.BACKUP_DIR}/{StepBackup.INFO}"
    if not (path / rd.BACKUP_WEIGHTS).is_file():
        results.append(Result(name, None, "absent (no backup to resume from)"))
        return
    info, problem = StepBackup.check_info(path / rd.BACKUP_DIR)
    if problem is None:
        results.append(
            Result(name, True, f"step {info['step']}, saved {info.get('saved_at', 'at an unknown time')}")
        )
        return
    results.append(
        Result(
            name,
            False,
            f"{problem}; resuming still works, but the running epoch's metrics before the saved step "
            f"are lost (its row in {rd.HISTORY_FILE} will say so) and dropout draws other masks: "
            f"restore it from a copy to resume exactly",
        )
    )


def _translate(path, model, tokenizers, info, intact: list[str]) -> Result:
    """Translate ``SENTENCE`` with the weights ``translate`` uses by default (or else an intact file)."""
    from tf_transformer.inference.evaluate import decoding
    from tf_transformer.inference.translator import Translator

    try:
        default = rd.weights_path(path).relative_to(path).as_posix()
    except (FileNotFoundError, ValueError):
        default = None
    name = default if default in intact else intact[0]
    rd.load_run_weights(model, path / name)
    try:
        max_length = min(info.max_length, model.config.max_length)
        translator = Translator(model, tokenizers["source"], tokenizers["target"], max_length=max_length)
        with decoding("eager"):
            output = translator.translate(SENTENCE)
    except Exception as err:  # noqa: BLE001 (report whatever breaks decoding, as one line)
        return Result("translation", False, f"decoding failed with {name}: {rd.short_reason(err)}")
    return Result("translation", True, f"{SENTENCE!r} -> {output!r} (with {name})")


def _without_prefix(message: str, file: pathlib.Path) -> str:
    """A message that starts with the file's full path, starting instead after it (the line names it)."""
    return message[len(str(file)) + 1 :] if message.startswith(f"{file} ") else message


def run_check(args) -> int:
    results = check_run(args.run_dir)
    for result in results:
        print(result.line())
    failed = sum(result.ok is False for result in results)
    print(f"{args.run_dir}: " + (f"{failed} problem{'s' * (failed > 1)}" if failed else "all well"))
    sys.stdout.flush()
    return 1 if failed else 0


def add_commands(commands) -> None:
    parser = commands.add_parser(
        "check",
        help="check that a run directory is whole and usable, file by file",
        description="Read every file of a run directory (run.json, the vocabularies, every weights "
        "file, model.keras, history.json, metrics.json), check that they fit together, and "
        "translate one sentence. One line per file; exit status 1 if anything is wrong.",
    )
    parser.add_argument("--run-dir", required=True, help="a directory written by `train`")
    parser.set_defaults(run=run_check)
