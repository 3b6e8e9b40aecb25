"""The splits of the embedded corpus, made and kept: :func:`generate` draws every split
from its own random stream (seeded by :data:`SEED` and the split's name) at the sizes of
:data:`SPLIT_SIZES`, keeps held-out sentences out of train and checks that one
Portuguese sentence never gets two translations; :func:`write` writes ``<split>.tsv.gz``
files whose bytes depend only on the pairs, and :func:`read` reads one back (by default
the shipped corpus). :data:`DEFAULT_OUT` and :data:`README` are the checkout's corpus
folder and data card, or None in an installed package.
"""

from __future__ import annotations

import gzip
import pathlib
import random

from tf_transformer.constants import (
    CLASSIC_SENTENCES,
    GENERALIZATION_SPLIT,
    TEST_SPLIT,
    TRAIN_SPLIT,
    VALIDATION_SPLIT,
)
from tf_transformer.corpus.sentences import Sentences
from tf_transformer.data._paths import checkout_data_dir, embedded_corpus_dir

SEED = 20240611
# In generation order: the held-out splits first, so that train can avoid their sentences.
SPLIT_SIZES = {VALIDATION_SPLIT: 2000, TEST_SPLIT: 2000, GENERALIZATION_SPLIT: 1000, TRAIN_SPLIT: 100_000}

CLASSIC_STEM = "O animal não atravessou a rua porque"

# The generator rewrites the checkout's files; an installed package only reads its own copy.
_CHECKOUT = checkout_data_dir()
DEFAULT_OUT = _CHECKOUT / "embedded_pt_en" if _CHECKOUT else None
README = _CHECKOUT / "README.md" if _CHECKOUT else None


def generate(
    seed: int = SEED,
    sizes: dict[str, int] | None = None,
    *,
    it_pronoun: str | None = None,
    it_referent: str | None = None,
) -> dict[str, list[tuple[str, str]]]:
    """All splits as lists of (pt, en) pairs.

    Each split has its own random stream (seeded by ``seed`` and the split
    name), so changing the size of train does not change the test split.
    The pt -> en mapping is checked to be a function over the whole corpus.
    ``it_pronoun`` (``"always"``, ``"never"``) and ``it_referent``
    (``"balanced"``) make a variant of the "animal / street" family
    (:mod:`~tf_transformer.corpus.corpus` says how); ``None``, the default, gives
    the shipped corpus.
    """
    sizes = sizes or SPLIT_SIZES
    seen: dict[str, str] = dict(CLASSIC_SENTENCES)
    out = {}
    for split in SPLIT_SIZES:
        maker = Sentences(
            random.Random(f"{seed}-{split}"),
            it_pronoun=it_pronoun,
            it_referent=it_referent,
            family_rng=random.Random(f"{seed}-{split}-family") if it_referent else None,
        )
        table = Sentences.COMBINED if split == GENERALIZATION_SPLIT else Sentences.SIMPLE
        pairs = list(CLASSIC_SENTENCES) if split == TEST_SPLIT else []
        while len(pairs) < sizes[split]:
            pt, en = maker.draw(table)
            if split != TRAIN_SPLIT and pt.startswith(CLASSIC_STEM):
                continue  # the classic's closest siblings are kept for training
            if pt in seen:
                if seen[pt] != en:
                    raise AssertionError(
                        f"one Portuguese sentence, two translations:\n{pt}\n{seen[pt]}\n{en}"
                    )
                continue
            seen[pt] = en
            pairs.append((pt, en))
        if split == TEST_SPLIT:
            random.Random(f"{seed}-test-order").shuffle(pairs)
        out[split] = pairs
    return out


def write(splits: dict[str, list[tuple[str, str]]], out_dir: pathlib.Path) -> None:
    """Write ``<split>.tsv.gz`` files whose bytes depend only on the pairs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, pairs in splits.items():
        data = "".join(f"{pt}\t{en}\n" for pt, en in pairs).encode("utf-8")
        with open(out_dir / f"{split}.tsv.gz", "wb") as raw:
            with gzip.GzipFile(
                filename=f"{split}.tsv", mode="wb", fileobj=raw, compresslevel=9, mtime=0
            ) as gz:
                gz.write(data)


def read(split: str, data_dir: pathlib.Path | str | None = None) -> list[tuple[str, str]]:
    """Read one split back as (pt, en) pairs (default: the shipped corpus)."""
    data_dir = pathlib.Path(data_dir) if data_dir else embedded_corpus_dir()
    with gzip.open(data_dir / f"{split}.tsv.gz", "rt", encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f]
