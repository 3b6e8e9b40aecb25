"""Generate the embedded Portuguese→English corpus in ``data/embedded_pt_en``.

The corpus is made by this project from its own lexicon
(:mod:`~tf_transformer.corpus.lexicon`) and grammar
(:mod:`~tf_transformer.corpus.grammar`); nothing is downloaded. It is
deterministic: the same seed gives the same bytes.

Run::

    python -m tf_transformer.corpus                 # (re)write data/embedded_pt_en
    python -m tf_transformer.corpus --out /tmp/x    # somewhere else
    python -m tf_transformer.corpus --stats         # print the data card tables
    python -m tf_transformer.corpus --update-readme # refresh them in data/README.md

Splits (one pair a line, ``pt<TAB>en``, gzip):

- ``train`` (100,000), ``validation`` (2,000), ``test`` (2,000): the same
  distribution. Every sentence has at most ONE clause-level extension: a
  relative clause, a subordinate clause (porque / quando / se) or a
  coordination (e / mas).
- ``generalization`` (1,000): sentences that combine TWO extensions (a
  relative clause inside a sentence with a subordinate clause, a relative
  clause inside a coordination, a subordinate clause with a coordinated main
  clause, the porque family with a relative clause). Every part is seen in
  training, the combination never is.

No Portuguese sentence of validation, test or generalization occurs in
train, and no sentence occurs twice in the whole corpus.

Variants of the "animal / street" family (issue 34: does the encoder's "it"
resolve its referent when the target does, or does not, name it?), for
experiments only, written elsewhere than the shipped corpus::

    python -m tf_transformer.corpus --out /tmp/always --it-pronoun always --it-referent balanced

- ``it_pronoun="always"`` (``--it-pronoun always``): the family's reason
  clause always writes its Portuguese subject pronoun ("porque ele estava
  muito cansado"); ``"never"``: it leaves it out wherever Portuguese may (a
  third-person pronoun always; "eu estava" keeps its "eu"). ``None`` (the
  default): as the shipped corpus, subject referents drop it, object
  referents write it 40% of the time.
- ``it_referent="balanced"`` (``--it-referent balanced``): every family
  sentence has the classic's shape, a singular animal subject and a singular
  object, so English says "it" whichever is meant, and the subject or the
  object is meant with equal chance. (By default most family sentences whose
  English says "it" mean the object: a person subject is "he" or "she".)
  These sentences come from their own random stream, so every other line of
  the corpus is the default corpus's line, in the same place.

The defaults give the shipped files, byte for byte.

The parts: :mod:`~tf_transformer.corpus.templates` (the sentence templates),
:mod:`~tf_transformer.corpus.family` (the "animal / street" family and its
variants), :mod:`~tf_transformer.corpus.sentences` (drawing them),
:mod:`~tf_transformer.corpus.splits` (making, writing and reading the splits),
:mod:`~tf_transformer.corpus.data_card` (the data card's statistics); this module
is the command line, and keeps their names importable from here.
"""

from __future__ import annotations

import argparse
import pathlib

from tf_transformer.corpus.data_card import forms, statistics, update_readme
from tf_transformer.corpus.family import IT_PRONOUN_CHOICES, IT_REFERENT_CHOICES
from tf_transformer.corpus.sentences import MAX_WORDS, MIN_WORDS, Sentences
from tf_transformer.corpus.splits import (
    CLASSIC_STEM,
    DEFAULT_OUT,
    README,
    SEED,
    SPLIT_SIZES,
    generate,
    read,
    write,
)
from tf_transformer.corpus.templates import comma

__all__ = [
    "CLASSIC_STEM",
    "DEFAULT_OUT",
    "IT_PRONOUN_CHOICES",
    "IT_REFERENT_CHOICES",
    "MAX_WORDS",
    "MIN_WORDS",
    "README",
    "SEED",
    "SPLIT_SIZES",
    "Sentences",
    "comma",
    "forms",
    "generate",
    "main",
    "read",
    "statistics",
    "update_readme",
    "write",
]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=DEFAULT_OUT,
        help="where to write (default: the checkout's data/embedded_pt_en)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--it-pronoun",
        choices=IT_PRONOUN_CHOICES,
        help='a variant: the "porque ..." family always / never writes its Portuguese pronoun '
        "(experiments only; default: the shipped corpus)",
    )
    parser.add_argument(
        "--it-referent",
        choices=IT_REFERENT_CHOICES,
        help='a variant: the family always says "it", meaning the subject or the object with equal '
        "chance (experiments only)",
    )
    parser.add_argument("--stats", action="store_true", help="print statistics of --out")
    parser.add_argument(
        "--update-readme", action="store_true", help="write the statistics of --out into data/README.md"
    )
    args = parser.parse_args(argv)
    if args.out is None:
        parser.error("not running from a checkout: say where to write with --out")
    if args.stats or args.update_readme:
        if args.update_readme:
            update_readme(args.out)
        print(statistics(args.out))
        return
    variant = dict(it_pronoun=args.it_pronoun, it_referent=args.it_referent)
    if any(variant.values()) and DEFAULT_OUT is not None and args.out.resolve() == DEFAULT_OUT.resolve():
        parser.error("a variant corpus never replaces the shipped one: say where to write it with --out")
    write(generate(args.seed, **variant), args.out)
    print(f"wrote {', '.join(SPLIT_SIZES)} to {args.out}")


if __name__ == "__main__":
    main()
