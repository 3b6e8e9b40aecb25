"""A corpus on this machine: read, clean, carve and cache ``tsv:``, ``text:`` and ``gettext:`` files.

:func:`prepare_local` reads the files a spec names (see
:mod:`~tf_transformer.data.spec`), keeps the usable pairs and writes them as
``{train,validation,test}.tsv.gz`` under the TFDS data dir::

    <data_dir>/tf_transformer/local/<file names>-<content key>/
        corpus.json             # sizes, skipped lines by kind, the files and their hashes
        train.tsv.gz ...        # source<TAB>target, one pair a line
        vocab/                  # learned by ``prepare``

The key is a hash of the files' bytes and of the cleaning rules, so a changed
file is prepared again, never served stale.

Bad lines never stop the run; each is skipped and counted by kind:

- ``invalid_utf8``: bytes that are not UTF-8;
- ``columns``: a TSV/CSV line with another number of columns than most lines;
- ``empty``: a blank line, or a pair with an empty side;
- ``too_long``: a side longer than :data:`MAX_SENTENCE_CHARS` characters
  (a paragraph or a misalignment, not a sentence);
- ``duplicate``: the same (source, target) pair again;
- ``nul_bytes``: a side with NUL bytes (binary data, or a file in UTF-16), which no
  sentence holds and the TSV files the corpus is written into could not keep.

Line-aligned files (``text:A,B``) with different numbers of lines are refused, not
skipped: one lost line shifts every pair after it, and no count of "unpaired" lines
would say that half the corpus is wrong. The error names both counts and, from the
lengths of the lines, where the shift most likely begins.

Gettext catalogs add their own kinds (the header, untranslated, fuzzy and
identical entries; see :mod:`~tf_transformer.data.catalogs`), and count what
they change but keep (plural forms left out, contexts dropped, accelerators
removed) under ``changed``; ``corpus.json`` lists every catalog read, with its
pairs and its SHA-256, so a run says what it was trained on.

Whitespace inside a side is normalised (runs of spaces, tabs and line breaks
become one space). When the files give no validation or test split, they are
carved out of the training pairs by a hash of the source sentence: reruns
agree, and one source sentence never sits in two splits.

Example::

    info = prepare_local(DatasetSpec.parse("tsv:por.txt", source_column=1, target_column=0))
    info["splits"], info["skipped"]   # {"train": 180_000, ...}, {"columns": 3, ...}
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import pathlib
import re
import shutil
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from tf_transformer.constants import TEST_SPLIT, TRAIN_SPLIT, VALIDATION_SPLIT
from tf_transformer.data import catalogs
from tf_transformer.data._paths import cache_dir
from tf_transformer.data.spec import DatasetSpec
from tf_transformer.files import sha256 as file_sha256

SKIP_KINDS = ("invalid_utf8", "columns", "empty", "too_long", "duplicate", "nul_bytes")
# Longer than this, a "sentence" is a paragraph or two lines glued by a misalignment.
MAX_SENTENCE_CHARS = 1000
# Carved validation and test splits: each gets this share of the pairs, at most HELD_OUT_MAX.
HELD_OUT_SHARE = 0.05
HELD_OUT_MAX = 2000
MIN_PAIRS_TO_CARVE = 10
# Bump when the cleaning rules change, so that older prepared corpora are not reused.
FORMAT = 1
INFO_FILE = "corpus.json"
# File names that line-aligned corpora use for each split (the TED archive says "dev").
SPLIT_FILE_NAMES = {
    TRAIN_SPLIT: ("train",),
    VALIDATION_SPLIT: ("validation", "dev", "valid"),
    TEST_SPLIT: ("test",),
}

# Invalid UTF-8 bytes decode (with "surrogateescape") to lone surrogates.
_INVALID_UTF8 = re.compile("[\udc80-\udcff]")


def prepare_local(spec: DatasetSpec | str, data_dir=None) -> dict:
    """Clean and carve a ``tsv:`` / ``text:`` corpus once; return its ``corpus.json``.

    Args:
        spec: a local :class:`DatasetSpec` (``reverse`` is ignored: the files
            are stored in their own direction and swapped when read).
        data_dir: the TFDS data dir (``None``: ``$TFDS_DATA_DIR`` or
            ``~/tensorflow_datasets``).

    Returns:
        ``{"path", "splits": {split: pairs}, "skipped": {kind: lines}, "carved":
        [splits carved out of train], "languages", "files", ...}``.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: the columns do not exist in the file, or too few usable
            pairs remain to carve validation and test out of.
    """
    spec = DatasetSpec.parse(spec).unreversed()
    path = prepared_path(spec, data_dir)
    if not (path / INFO_FILE).is_file():
        _build_atomically(spec, path)
    return read_info(path)


def prepared_path(spec: DatasetSpec | str, data_dir=None) -> pathlib.Path:
    """Where :func:`prepare_local` keeps ``spec``'s files (hashes them; writes nothing)."""
    spec = DatasetSpec.parse(spec).unreversed()
    if not spec.is_local:
        raise ValueError(f"{spec.name} is not a local corpus (tsv:PATH, text:SRC,TGT or gettext:...)")
    files = split_files(spec)
    rules = {
        "format": FORMAT,
        "kind": spec.kind,
        "max_chars": MAX_SENTENCE_CHARS,
        "held_out": [HELD_OUT_SHARE, HELD_OUT_MAX],
        "columns": [spec.source_column, spec.target_column],
        "files": {split: [file_sha256(p) for p in paths] for split, paths in files.items()},
    }
    if spec.kind == "gettext":
        rules["gettext_rules"] = catalogs.RULES
    else:  # (since NUL bytes are skipped: a corpus prepared before is prepared again)
        rules["skips"] = SKIP_KINDS
    key = hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()[:16]
    names = [f"gettext-{spec.languages[1]}"] if spec.kind == "gettext" else [p.name for p in spec.paths]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", "+".join(names))[:60]
    return cache_dir(data_dir) / "local" / f"{slug}-{key}"


def read_info(path: pathlib.Path) -> dict:
    info = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))
    info["path"] = str(path)
    return info


def load_local(spec: DatasetSpec | str, split: str, data_dir=None) -> tf.data.Dataset:
    """``(source, target)`` ``tf.string`` pairs of one split, in the corpus's own direction."""
    info = prepare_local(spec, data_dir)
    if split not in info["splits"]:
        raise ValueError(
            f"no split {split!r} in {DatasetSpec.parse(spec).name}; it has {', '.join(info['splits'])}"
        )
    lines = tf.data.TextLineDataset(
        str(pathlib.Path(info["path"]) / f"{split}.tsv.gz"), compression_type="GZIP"
    )
    pairs = lines.map(_split_line, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return pairs.apply(tf.data.experimental.assert_cardinality(info["splits"][split]))


def _split_line(line):
    # Cleaning turned every tab inside a side into a space: exactly one tab per line.
    parts = tf.strings.split(line, "\t", maxsplit=1)
    return parts[0], parts[1]


# --------------------------------------------------------------------- inputs
def split_files(spec: DatasetSpec) -> dict[str, tuple[pathlib.Path, ...]]:
    """The files of each split the corpus provides: ``{"train": (paths...), ...}``.

    A TSV file is the train split alone. Line-aligned ``train.SRC`` /
    ``train.TGT`` files bring their ``validation|dev|valid`` and ``test``
    siblings, when both sides of a sibling exist.
    """
    for path in spec.paths:
        if path.is_dir():
            raise ValueError(f"{path} is a folder, not a corpus file (from --dataset {spec.name})")
        if path.exists() and not path.is_file():  # a FIFO, a socket, a device: read twice, it differs
            raise ValueError(
                f"{path} is not a regular file (from --dataset {spec.name}): a corpus is read more "
                "than once (to count, to hash, to carve), so copy it into a file first"
            )
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file (from --dataset {spec.name})")
    files = {TRAIN_SPLIT: spec.paths}
    if spec.kind == "text" and all(p.name.split(".")[0] == "train" for p in spec.paths):
        for split in (VALIDATION_SPLIT, TEST_SPLIT):
            for stem in SPLIT_FILE_NAMES[split]:
                siblings = tuple(p.with_name(stem + p.name[len("train") :]) for p in spec.paths)
                if all(s.is_file() for s in siblings):
                    files[split] = siblings
                    break
    return files


def read_lines(path: pathlib.Path) -> Iterator[str]:
    """Decoded lines without their line ends; bytes that are not UTF-8 become lone surrogates."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as f:
            for number, raw in enumerate(f):
                line = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
                yield line.removeprefix("\ufeff") if number == 0 else line
    except (OSError, EOFError) as error:  # a truncated or damaged .gz
        raise ValueError(f"{path}: cannot be read to the end ({error})") from error


def _fields(line: str, is_csv: bool) -> list[str]:
    if not is_csv:
        return line.split("\t")
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return []


def _tsv_records(path: pathlib.Path, source_column: int, target_column: int):
    """``(source, target)`` per usable line, or the kind of a bad one."""
    is_csv = ".csv" in path.suffixes
    columns = _usual_column_count(path, is_csv)
    needed = max(source_column, target_column) + 1
    if columns < needed:
        raise ValueError(
            f"{path}: most lines have {columns} column(s) (separated by "
            f"{'commas' if is_csv else 'tabs'}), but column {needed - 1} was asked for; "
            "columns count from 0 (--source-column / --target-column)"
        )
    for line in read_lines(path):
        if not line.strip():
            yield "empty"
        elif _INVALID_UTF8.search(line):
            yield "invalid_utf8"
        else:
            fields = _fields(line, is_csv)
            if len(fields) != columns:
                yield "columns"
            else:
                yield fields[source_column], fields[target_column]


def _usual_column_count(path: pathlib.Path, is_csv: bool, sample: int = 1000) -> int:
    """The most common number of columns among the first ``sample`` non-blank lines."""
    counts: dict[int, int] = {}
    for line in read_lines(path):
        if line.strip():
            n = len(_fields(line, is_csv))
            counts[n] = counts.get(n, 0) + 1
            if sum(counts.values()) >= sample:
                break
    if not counts:
        raise ValueError(f"{path}: the file is empty")
    return max(counts, key=lambda n: (counts[n], n))


def _text_records(source_path: pathlib.Path, target_path: pathlib.Path):
    sizes = [[len(line) for line in read_lines(path)] for path in (source_path, target_path)]
    if len(sizes[0]) != len(sizes[1]):
        raise ValueError(_misaligned(source_path, target_path, *sizes))
    for source, target in zip(read_lines(source_path), read_lines(target_path), strict=True):
        if _INVALID_UTF8.search(source) or _INVALID_UTF8.search(target):
            yield "invalid_utf8"
        else:
            yield source, target


def _misaligned(source_path, target_path, source_sizes: list[int], target_sizes: list[int]) -> str:
    """The error for line-aligned files of different lengths: both counts, and where the shift
    most likely begins (see :func:`shift_start`)."""
    message = (
        f"{source_path} has {len(source_sizes):,} lines and {target_path} has {len(target_sizes):,}: "
        "line-aligned files need one line per sentence in both, in the same order"
    )
    start = shift_start(source_sizes, target_sizes)
    if start is not None:
        message += (
            f". From the lengths of their lines, they part ways near line {start + 1:,} of the "
            f"first: before it, line n of the first pairs with line n of the second; after it, "
            f"with line n{len(target_sizes) - len(source_sizes):+,}"
        )
    return message + ". Repair the file with the missing or extra lines, then prepare again."


def shift_start(source_sizes: list[int], target_sizes: list[int]) -> int | None:
    """The line (0-based) where ``target`` most likely lost or gained its extra lines, from the
    lengths of the lines alone; None where no one place explains the difference clearly.

    A translation's length follows its source's. With ``k`` lines lost or added in one place ``p``,
    line ``i`` of the source pairs with line ``i`` of the target before ``p`` and with line
    ``i + k`` after it; the ``p`` whose pairing has the smallest total mismatch of log lengths is
    where they part (one pass, with prefix sums). It is reported only when it explains the
    lines clearly better (by a quarter) than the best pairing with no shift at all.

    >>> source = [5, 40, 12, 30, 8, 25, 60, 14, 33, 9] * 3
    >>> shift_start(source, source[:17] + source[18:])  # index 17 lost: pairs shift from index 18
    18
    """
    import math

    k = len(target_sizes) - len(source_sizes)
    n = min(len(source_sizes), len(target_sizes))
    if n < 8 or abs(k) > n // 4:
        return None
    log = [math.log1p(x) for x in source_sizes], [math.log1p(x) for x in target_sizes]

    def mismatch(i: int, j: int) -> float:
        return abs(log[0][i] - log[1][j]) if 0 <= j < len(log[1]) and i < len(log[0]) else 1.0

    # Pairs (i, i) before p, (i, i + k) from p on, over the source's lines.
    lines = len(source_sizes)
    before = [0.0]
    for i in range(lines):
        before.append(before[-1] + mismatch(i, i))
    after = [0.0] * (lines + 1)
    for i in range(lines - 1, -1, -1):
        after[i] = after[i + 1] + mismatch(i, i + k)
    costs = [before[p] + after[p] for p in range(lines + 1)]
    best = min(range(lines + 1), key=costs.__getitem__)
    if costs[best] > 0.75 * before[lines] or best in (0, lines):
        return None
    return best


def _records(spec: DatasetSpec, paths: tuple[pathlib.Path, ...]):
    if spec.kind == "tsv":
        return _tsv_records(paths[0], spec.source_column, spec.target_column)
    return _text_records(*paths)


def _skip_kinds(spec: DatasetSpec) -> dict[str, int]:
    """``{kind: 0}`` for every kind of line ``spec``'s reader can skip."""
    kinds = SKIP_KINDS + (
        tuple(k for k in catalogs.SKIPPED if k not in SKIP_KINDS) if spec.kind == "gettext" else ()
    )
    return dict.fromkeys(kinds, 0)


def clean(records, skipped: dict[str, int], seen: set[bytes]) -> Iterator[tuple[str, str]]:
    """The usable pairs of ``records``; counts every skipped line in ``skipped``.

    Args:
        records: ``(source, target)`` tuples, or the kind (a string) of a line
            already found bad.
        skipped: ``{kind: count}``, updated in place.
        seen: digests of the pairs kept so far (for ``duplicate``), updated in place.
    """
    for record in records:
        if isinstance(record, str):
            skipped[record] += 1
            continue
        source, target = (" ".join(side.split()) for side in record)
        if not source or not target:
            skipped["empty"] += 1
        elif len(source) > MAX_SENTENCE_CHARS or len(target) > MAX_SENTENCE_CHARS:
            skipped["too_long"] += 1
        elif "\x00" in source or "\x00" in target:
            skipped["nul_bytes"] += 1
        else:
            digest = hashlib.blake2b(f"{source}\t{target}".encode(), digest_size=16).digest()
            if digest in seen:
                skipped["duplicate"] += 1
            else:
                seen.add(digest)
                yield source, target


# ------------------------------------------------------------ build and carve
def _build_atomically(spec: DatasetSpec, path: pathlib.Path) -> None:
    # Build beside the target, then rename: a crash or a concurrent run never
    # leaves a half-written corpus that looks finished.
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        info = _build(spec, tmp)
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        try:
            tmp.rename(path)
        except OSError:
            if not (path / INFO_FILE).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _build(spec: DatasetSpec, out: pathlib.Path) -> dict:
    files = split_files(spec)
    carve = [s for s in (VALIDATION_SPLIT, TEST_SPLIT) if s not in files]
    skipped = _skip_kinds(spec)
    sizes = {}
    extra = {}
    for split, paths in files.items():
        with gzip.open(out / f"{split}.tsv.gz", "wt", encoding="utf-8", newline="\n") as f:
            sizes[split] = 0
            if spec.kind == "gettext":  # one catalog after the other, to count each one's pairs
                changed, seen, read = dict.fromkeys(catalogs.CHANGED, 0), set(), []
                for path in paths:
                    kept = 0
                    for source, target in clean(catalogs.records([path], changed), skipped, seen):
                        f.write(f"{source}\t{target}\n")
                        kept += 1
                    read.append(
                        {"name": path.name, "path": str(path), "pairs": kept, "sha256": file_sha256(path)}
                    )
                    sizes[split] += kept
                extra = {"changed": changed, "catalogs": read}
                continue
            for source, target in clean(_records(spec, paths), skipped, set()):
                f.write(f"{source}\t{target}\n")
                sizes[split] += 1
    if carve:
        sizes.update(_carve(out, carve, sizes[TRAIN_SPLIT], skipped))
    return extra | {
        "format": FORMAT,
        "spec": spec.to_dict(),
        "languages": list(spec.corpus_languages),
        "files": {
            split: [{"path": str(p), "sha256": file_sha256(p)} for p in paths]
            for split, paths in files.items()
        },
        "splits": {split: sizes[split] for split in SPLIT_FILE_NAMES},
        "carved": carve,
        "skipped": skipped,
        "max_sentence_chars": MAX_SENTENCE_CHARS,
    }


def source_hash(source: str) -> int:
    """A 64-bit hash of a source sentence: the same on every machine and every run."""
    return int.from_bytes(hashlib.blake2b(source.encode(), digest_size=8).digest(), "big")


def held_out_size(pairs: int) -> int:
    """Pairs each carved split receives out of ``pairs``: 5%, at most 2,000, at least 1."""
    return max(1, min(HELD_OUT_MAX, round(HELD_OUT_SHARE * pairs)))


def _carve(out: pathlib.Path, carve: list[str], pairs: int, skipped: dict[str, int]) -> dict[str, int]:
    """Move the pairs with the smallest source hashes from train into the ``carve`` splits."""
    if pairs < MIN_PAIRS_TO_CARVE:
        lines = ", ".join(f"{kind} {n:,}" for kind, n in skipped.items() if n)
        raise ValueError(
            f"only {pairs} usable pairs: too few to carve {' and '.join(carve)} "
            f"out of (at least {MIN_PAIRS_TO_CARVE} are needed)"
            + (f"; lines skipped: {lines}" if lines else "")
        )
    everything = out / "all.tsv.gz"
    (out / f"{TRAIN_SPLIT}.tsv.gz").rename(everything)

    def rows():
        with gzip.open(everything, "rt", encoding="utf-8", newline="\n") as f:
            for line in f:
                source = line.split("\t", 1)[0]
                yield source_hash(source), line

    hashes = np.sort(np.fromiter((h for h, _ in rows()), dtype=np.uint64, count=pairs))
    k = held_out_size(pairs)
    # Split i takes the hashes in (bounds[i], bounds[i + 1]]; all copies of one source
    # sentence share a hash, so they land together.
    bounds = [-1] + [int(hashes[min((i + 1) * k, pairs) - 1]) for i in range(len(carve))]
    targets = carve + [TRAIN_SPLIT]
    sizes = dict.fromkeys(targets, 0)
    writers = {s: gzip.open(out / f"{s}.tsv.gz", "wt", encoding="utf-8", newline="\n") for s in targets}
    try:
        for h, line in rows():
            split = next((carve[i] for i in range(len(carve)) if bounds[i] < h <= bounds[i + 1]), TRAIN_SPLIT)
            writers[split].write(line)
            sizes[split] += 1
    finally:
        for writer in writers.values():
            writer.close()
    everything.unlink()
    return sizes
