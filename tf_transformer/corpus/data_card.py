"""The data card's statistics of the corpus: :func:`statistics` computes the tables of
``data/README.md`` (pairs, words and sentence lengths per split, distinct word forms)
from the files, and :func:`update_readme` writes them between the card's
``<!-- stats:begin -->`` and ``<!-- stats:end -->`` marks.
"""

from __future__ import annotations

import collections
import pathlib
import re

from tf_transformer.corpus.splits import README, SPLIT_SIZES, read

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def forms(sentence: str) -> list[str]:
    """Lower-cased word forms of a sentence, punctuation removed."""
    return [w.lower() for w in _WORD.findall(sentence)]


def statistics(data_dir: pathlib.Path | str | None = None) -> str:
    """The data card's tables, as Markdown, computed from the files."""
    splits = {s: read(s, data_dir) for s in SPLIT_SIZES}
    lines = [
        "| split | pairs | pt words | en words | mean pt length | min-max pt length |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    all_pt, all_en = collections.Counter(), collections.Counter()
    for split, pairs in splits.items():
        pt_len = [len(p.split()) for p, _ in pairs]
        en_len = [len(e.split()) for _, e in pairs]
        for p, e in pairs:
            all_pt.update(forms(p))
            all_en.update(forms(e))
        lines.append(
            f"| {split} | {len(pairs):,} | {sum(pt_len):,} | {sum(en_len):,} | "
            f"{sum(pt_len) / len(pairs):.1f} | {min(pt_len)}-{max(pt_len)} |"
        )
    train_pt = collections.Counter(w for p, _ in splits["train"] for w in forms(p))
    lines += [
        "",
        f"Distinct Portuguese word forms (lower-cased): {len(all_pt):,} in all, "
        f"{len(train_pt):,} in train; English: {len(all_en):,}.",
        "",
        "Sentence length in Portuguese words (share of each split):",
        "",
        "| words | " + " | ".join(SPLIT_SIZES) + " |",
        "|---|" + "---:|" * len(SPLIT_SIZES),
    ]
    bins = [(1, 5), (6, 8), (9, 11), (12, 14), (15, 17), (18, 20), (21, 25), (26, 30)]
    for lo, hi in bins:
        row = []
        for split in SPLIT_SIZES:
            n = sum(lo <= len(p.split()) <= hi for p, _ in splits[split])
            row.append(f"{100 * n / len(splits[split]):.1f}%")
        lines.append(f"| {lo}-{hi} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def update_readme(data_dir=None, readme=README) -> None:
    text = readme.read_text(encoding="utf-8")
    begin, end = "<!-- stats:begin -->", "<!-- stats:end -->"
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    readme.write_text(f"{head}{begin}\n{statistics(data_dir)}\n{end}{tail}", encoding="utf-8")
