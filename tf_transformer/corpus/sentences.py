"""The sentence maker: :class:`Sentences` puts the templates
(:class:`~tf_transformer.corpus.templates.Templates`) and the "animal / street" family
(:class:`~tf_transformer.corpus.family.Family`) on one :class:`Grammar`, draws a
template by weight from :attr:`Sentences.SIMPLE` (train, validation, test: at most one
extension) or :attr:`Sentences.COMBINED` (generalization: two), keeps sentences of
:data:`MIN_WORDS` to :data:`MAX_WORDS` Portuguese words, and finishes them; a variant's
family comes from a second maker with its own random stream.
"""

from __future__ import annotations

import random

from tf_transformer.corpus.family import IT_PRONOUN_CHOICES, IT_REFERENT_CHOICES, Family
from tf_transformer.corpus.grammar import Grammar, _Retry, finish
from tf_transformer.corpus.templates import Templates

MAX_WORDS = 30
MIN_WORDS = 3


class Sentences(Templates, Family):
    """Sentence templates on top of :class:`Grammar`.

    Each template returns ``(pt words, en words, final mark)``;
    :meth:`draw` picks one by weight, checks its length and finishes it.
    """

    # name -> weight, for train/validation/test (at most one extension)
    SIMPLE = {
        "statement": 16,
        "copula": 6,
        "yes_no": 5,
        "wh": 5,
        "relative": 17,
        "porque": 13,
        "quando": 9,
        "se": 6,
        "family": 9,
        "coordination": 14,
    }
    # two extensions, only in the generalization split
    COMBINED = {
        "relative_subordinate": 35,
        "relative_coordination": 25,
        "subordinate_coordination": 20,
        "family_relative": 20,
    }

    # the templates of the "animal / street" family (what it_pronoun and it_referent change)
    FAMILY_TEMPLATES = ("family", "family_relative")

    def __init__(
        self,
        rng: random.Random,
        *,
        it_pronoun: str | None = None,
        it_referent: str | None = None,
        family_rng: random.Random | None = None,
    ):
        """``it_pronoun`` and ``it_referent``: see :mod:`~tf_transformer.corpus.corpus`.
        A balanced family is drawn from ``family_rng``, its own stream, so that ``rng``
        makes the same choices, and so the same other sentences, as without it."""
        if it_pronoun not in (None, *IT_PRONOUN_CHOICES):
            raise ValueError(f"it_pronoun must be one of {IT_PRONOUN_CHOICES} or None, got {it_pronoun!r}")
        if it_referent not in (None, *IT_REFERENT_CHOICES):
            raise ValueError(f"it_referent must be one of {IT_REFERENT_CHOICES} or None, got {it_referent!r}")
        self.g = Grammar(rng)
        self.rng = rng
        self.it_pronoun = it_pronoun
        self.balanced = False  # this maker's own family is the balanced one
        self.family_maker: Sentences | None = None
        if it_referent == "balanced":
            if family_rng is None:
                raise ValueError("it_referent='balanced' needs family_rng, the family's own random stream")
            self.family_maker = Sentences(family_rng, it_pronoun=it_pronoun)
            self.family_maker.balanced = True

    def draw(self, table: dict[str, int]) -> tuple[str, str]:
        names = list(table)
        while True:
            name = self.rng.choices(names, weights=[table[n] for n in names])[0]
            try:
                pt, en, mark = getattr(self, name)()
            except _Retry:
                continue
            if MIN_WORDS <= len(pt) <= MAX_WORDS:
                if self.family_maker is not None and name in self.FAMILY_TEMPLATES:
                    # the default sentence was drawn (rng moved on as always); the balanced one replaces it
                    return self.family_maker.redraw(name)
                return finish(pt, en, mark)

    def redraw(self, name: str) -> tuple[str, str]:
        """One sentence of template ``name`` that fits the length limits (this maker's stream only)."""
        while True:
            try:
                pt, en, mark = getattr(self, name)()
            except _Retry:
                continue
            if MIN_WORDS <= len(pt) <= MAX_WORDS:
                return finish(pt, en, mark)
