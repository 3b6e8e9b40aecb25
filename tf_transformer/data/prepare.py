"""``prepare``: make everything training needs exist, and say what it did.

For any corpus a :class:`~tf_transformer.data.DatasetSpec` names:

1. the data: TFDS prepares the embedded corpus (from the shipped files) or a
   TFDS dataset (downloading it once); local files are cleaned and carved
   (:mod:`~tf_transformer.data.local`), with every skipped line counted;
2. the vocabularies: found (the embedded corpus ships its own), or learned
   from the training split into the TFDS data dir;
3. a check: the share of validation sentences that come back unchanged
   through ``detokenize(tokenize(x))``, for both sides. Below 100% means
   text the model can never write exactly (unknown characters, or spacing
   the detokenizer cannot restore).

Nothing is written into the installed package or the checkout.

Example::

    summary = prepare("tsv:por.txt", vocab_size=8000)
    summary["splits"], summary["skipped"], summary["round_trip"]
"""

from __future__ import annotations

import itertools
import pathlib
import re
import time

import tensorflow as tf

from tf_transformer.constants import SIDES, SOURCE, TARGET, TEST_SPLIT, TRAIN_SPLIT, VALIDATION_SPLIT
from tf_transformer.data import local
from tf_transformer.data._paths import data_root
from tf_transformer.data.datasets import load_dataset, tfds_builder
from tf_transformer.data.spec import DatasetSpec
from tf_transformer.data.tokenizer import (
    EMBEDDED_VOCAB_SIZE,
    VOCAB_SIZE,
    Tokenizers,
    build_vocab_files,
    check_tokenizer,
    default_tokenizer,
    load_tokenizers,
    vocab_dir,
    vocab_files,
)

# Sentences of the validation split that the round-trip check reads (enough for a rate
# to 0.05%, quick on a CPU).
ROUND_TRIP_SENTENCES = 2000
# Training pairs the vocabulary learner reads: the first ones of the split. Enough for
# a stable WordPiece vocabulary; a WMT-sized corpus would take an hour to count.
VOCAB_PAIRS = 500_000


def prepare(
    spec: DatasetSpec | str = "embedded",
    *,
    data_dir=None,
    rebuild_vocab: bool = False,
    vocab_size: int | None = None,
    tokenizer: str | None = None,
) -> dict:
    """Prepare a corpus and its vocabularies; return a summary (prints nothing).

    Args:
        spec: a :class:`DatasetSpec` or its string (``"embedded"`` by default).
        data_dir: the TFDS data dir where prepared data and learned vocabularies
            go (``None``: ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
        rebuild_vocab: learn the vocabularies again even if they exist (the
            embedded corpus's shipped ones are never overwritten: the learned
            copy goes to the data dir and is used from then on).
        vocab_size: the learner's target size per side, when it learns
            (default 4,000, ``VOCAB_SIZE``). It learns
            from the first :data:`VOCAB_PAIRS` training pairs.
        tokenizer: ``"wordpiece"`` or ``"sentencepiece"`` (default: SentencePiece,
            but WordPiece for the embedded corpus, whose vocabularies ship).

    Returns:
        ``{"dataset": spec.to_dict(), "name", "kind", "languages": {"source",
        "target"}, "data_dir", "prepared_in", "splits": {split: pairs},
        "carved": [splits carved out of train], "skipped": {kind: lines},
        "vocab": {"source": path, "target": path}, "vocab_dir", "vocab_sizes":
        {"source", "target"}, "vocab_built", "round_trip": {"source": rate,
        "target": rate}, "round_trip_split", "round_trip_sentences",
        "round_trip_failures": {side: [(text, back), ...]}, "seconds"}``.

    Raises:
        DatasetUnavailableError: a TFDS dataset cannot be downloaded here.
        ValueError, FileNotFoundError: a bad spec, or missing local files.
    """
    start = time.perf_counter()
    spec = DatasetSpec.parse(spec)
    tokenizer = check_tokenizer(tokenizer or default_tokenizer(spec))
    summary = {
        "dataset": spec.to_dict(),
        "name": spec.name,
        "kind": spec.kind,
        "languages": dict(zip(SIDES, spec.languages)),
        "data_dir": str(data_root(data_dir)),
        "tokenizer": tokenizer,
    }
    summary.update(_prepare_data(spec, data_dir))
    if spec.is_local and local.prepared_path(spec, data_dir) != pathlib.Path(summary["prepared_in"]):
        raise ValueError(
            f"{', '.join(map(str, spec.paths))} changed while it was being prepared (its SHA-256 is not "
            "the one read at the start): once it is written whole, prepare it again"
        )

    built = rebuild_vocab
    if not built:
        try:
            vocab_files(spec, data_dir=data_dir, tokenizer=tokenizer)
        except FileNotFoundError:
            built = True
    if built:
        size = vocab_size or (EMBEDDED_VOCAB_SIZE if spec.kind == "embedded" else VOCAB_SIZE)
        train = load_dataset(spec.unreversed(), TRAIN_SPLIT, data_dir=data_dir).take(VOCAB_PAIRS)
        build_vocab_files(
            train,
            vocab_dir(spec, data_dir=data_dir),
            languages=spec.corpus_languages,
            vocab_size=size,
            tokenizer=tokenizer,
        )
    files = vocab_files(spec, data_dir=data_dir, tokenizer=tokenizer)
    tokenizers = load_tokenizers(spec, data_dir=data_dir, tokenizer=tokenizer)
    summary.update(
        vocab={side: str(path) for side, path in files.items()},
        vocab_dir=str(files[SOURCE].parent),
        vocab_sizes={
            SOURCE: int(tokenizers.source.get_vocab_size()),
            TARGET: int(tokenizers.target.get_vocab_size()),
        },
        vocab_built=built,
    )

    check = next(s for s in (VALIDATION_SPLIT, TEST_SPLIT, TRAIN_SPLIT) if s in summary["splits"])
    pairs = load_dataset(spec, check, data_dir=data_dir).take(ROUND_TRIP_SENTENCES)
    summary.update(round_trip_split=check, **round_trip(pairs, tokenizers))
    summary["warnings"] = _warnings(spec, summary)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    return summary


QUOTED = re.compile(r'^\s*"[^\t]*"\s*$')  # a whole field in double quotes


def _warnings(spec: DatasetSpec, summary: dict) -> list[str]:
    """What may be wrong although nothing failed: quoted fields in a TSV (a CSV named .tsv, with
    its header perhaps), and a round trip far from exact (the text will come back changed)."""
    found = []
    if spec.kind == "tsv" and ".csv" not in spec.paths[0].suffixes:
        lines = list(itertools.islice(local.read_lines(spec.paths[0]), 200))
        columns = (spec.source_column, spec.target_column)
        quoted = sum(
            1
            for line in lines
            if all(c < len(fields := line.split("\t")) and QUOTED.match(fields[c]) for c in columns)
        )
        if lines and quoted >= 0.9 * len(lines):
            found.append(
                f"{quoted} of the first {len(lines)} lines have both columns in double quotes, which "
                "stay part of every sentence: if the file is a CSV, name it .csv (its quotes are then "
                "read as CSV's), or remove them; a header line, if it has one, is trained on as a pair"
            )
    low = {side: rate for side, rate in summary["round_trip"].items() if rate < 0.99}
    if low:
        found.append(
            "only "
            + ", ".join(f"{rate:.2%} of the {side} sentences" for side, rate in low.items())
            + " come back exactly from the tokenizer: translations will come back changed too "
            "(see the examples above; --tokenizer sentencepiece gives any text back exactly)"
        )
    return found


def _prepare_data(spec: DatasetSpec, data_dir) -> dict:
    if spec.is_local:
        info = local.prepare_local(spec, data_dir)
        return {
            "prepared_in": info["path"],
            "splits": info["splits"],
            "carved": info["carved"],
            "skipped": info["skipped"],
            **{key: info[key] for key in ("changed", "catalogs") if key in info},
        }
    load_dataset(spec, TRAIN_SPLIT, data_dir=data_dir)  # TFDS prepares on first use
    builder = tfds_builder(spec.tfds_name, data_dir)
    splits = {name: split.num_examples for name, split in builder.info.splits.items()}
    if not splits:  # a builder that has not recorded its splits (TFDS's mocks)
        splits = {
            s: _count(load_dataset(spec, s, data_dir=data_dir))
            for s in (TRAIN_SPLIT, VALIDATION_SPLIT, TEST_SPLIT)
        }
    return {"prepared_in": str(builder.data_dir), "splits": splits, "carved": [], "skipped": {}}


def _count(dataset: tf.data.Dataset) -> int:
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def round_trip(pairs: tf.data.Dataset, tokenizers: Tokenizers, examples: int = 3) -> dict:
    """The share of sentences with ``detokenize(tokenize(x)) == x``, per side.

    Args:
        pairs: ``(source, target)`` string pairs.
        tokenizers: the :class:`Tokenizers` of the same direction.
        examples: how many failures to keep per side, to show.

    Returns:
        ``{"round_trip": {"source": rate, "target": rate}, "round_trip_sentences": n,
        "round_trip_failures": {"source": [(text, back), ...], "target": [...]}}``.
    """
    same = {SOURCE: 0, TARGET: 0}
    failures = {SOURCE: [], TARGET: []}
    total = 0
    for batch in pairs.batch(256):
        for side, text in zip(SIDES, batch):
            tokenizer = getattr(tokenizers, side)
            back = tokenizer.detokenize(tokenizer.tokenize(text)).numpy()
            for original, returned in zip(text.numpy(), back):
                if original == returned:
                    same[side] += 1
                elif len(failures[side]) < examples:
                    failures[side].append(
                        (original.decode("utf-8", "replace"), returned.decode("utf-8", "replace"))
                    )
        total += int(batch[0].shape[0])
    return {
        "round_trip": {side: same[side] / max(total, 1) for side in SIDES},
        "round_trip_sentences": total,
        "round_trip_failures": failures,
    }


def format_summary(summary: dict) -> str:
    """The report ``tf-transformer prepare`` prints."""
    langs = summary["languages"]
    lines = [
        f"dataset     {summary['name']} ({langs[SOURCE]} -> {langs[TARGET]}"
        + (", reversed" if summary["dataset"]["reverse"] else "")
        + ")",
        f"prepared in {summary['prepared_in']}",
    ]
    lines += [f"  {split:15s} {pairs:9,d} pairs" for split, pairs in summary["splits"].items()]
    if summary["carved"]:
        lines.append(
            f"  ({' and '.join(summary['carved'])} carved out of the one file by a hash "
            "of the source sentence: the same on every run)"
        )
    if "catalogs" in summary:
        read = summary["catalogs"]
        lines.append(
            f"read        {len(read)} gettext catalogs ({sum(c['pairs'] for c in read):,} pairs kept; "
            f"the most from {', '.join(c['name'] for c in sorted(read, key=lambda c: -c['pairs'])[:3])}); "
            "their programs' licences apply"
        )
    if summary["kind"] in ("tsv", "text", "gettext"):
        bad = {kind: n for kind, n in summary["skipped"].items() if n}
        unit = "entries" if summary["kind"] == "gettext" else "lines"
        lines.append(
            "skipped     "
            + (
                f"{sum(bad.values()):,} {unit}: " + ", ".join(f"{kind} {n:,}" for kind, n in bad.items())
                if bad
                else f"no {unit}"
            )
        )
    changed = {kind: n for kind, n in summary.get("changed", {}).items() if n}
    if changed:
        lines.append("changed     " + ", ".join(f"{kind} {n:,}" for kind, n in changed.items()) + " (kept)")
    sizes, vocab = summary["vocab_sizes"], summary["vocab"]
    lines.append(
        f"vocabulary  {summary['tokenizer']}, {'learned' if summary['vocab_built'] else 'found'} in "
        f"{summary['vocab_dir']}"
    )
    for side in SIDES:
        language = langs[side] if langs[side] != side else ""  # no code: say "source" once
        lines.append(f"  {side:6s} {language:8s} {sizes[side]:7,d} tokens  {vocab[side]}")
    rates = summary["round_trip"]
    lines.append(
        f"round trip  detokenize(tokenize(x)) == x on {summary['round_trip_sentences']:,} "
        f"{summary['round_trip_split']} sentences: source {rates[SOURCE]:.2%}, "
        f"target {rates[TARGET]:.2%}"
    )
    for side in SIDES:
        for text, back in summary["round_trip_failures"][side][:1]:
            lines.append(f"  e.g. {side}: {text!r}\n     back as {back!r}")
    lines += [f"warning     {text}" for text in summary.get("warnings", [])]
    lines.append(f"done in {summary['seconds']} s")
    return "\n".join(lines)
