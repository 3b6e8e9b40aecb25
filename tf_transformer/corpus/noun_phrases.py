"""The noun side of the grammar: :class:`NounPhrases`, the part of
:class:`~tf_transformer.corpus.grammar.Grammar` that draws words from the lexicon and
builds noun phrases on both sides at once: determiners, numbers, possessives and
genitives ("o cão do menino" -> "the boy's dog") that agree with their noun, adjectives
after the noun in Portuguese and before it (opinion-size-age-colour) in English,
subject pronouns, subjects, and prepositional phrases of place ("na cozinha" -> "in the
kitchen"). All randomness comes from ``self.rng``, in a fixed order of draws.
"""

from __future__ import annotations

import random

from tf_transformer.corpus import lexicon as lx
from tf_transformer.corpus.phrases import Ref, _Retry
from tf_transformer.corpus.tables import DETERMINERS, PRONOUNS, contract, words


class NounPhrases:
    """Words and noun phrases, drawn from ``rng``."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.nouns = {}
        for noun in lx.NOUNS:
            for kind in noun.kinds:
                self.nouns.setdefault(kind, []).append(noun)
        self.adjectives = {a.forms[0]: a for a in lx.ADJECTIVES}
        self._nouns_of, self._adjectives_of = {}, {}

    # ------------------------------------------------------------------ words
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq):
        if not seq:
            raise _Retry
        return seq[self.rng.randrange(len(seq))]

    def noun(self, kinds) -> lx.Noun:
        key = tuple(kinds)
        if key not in self._nouns_of:
            self._nouns_of[key] = [n for n in lx.NOUNS if set(n.kinds) & set(kinds)]
        return self.pick(self._nouns_of[key])

    @staticmethod
    def noun_named(pt: str) -> lx.Noun:
        return next(n for n in lx.NOUNS if n.pt == pt)

    def adjectives_of(self, kinds) -> list[lx.Adjective]:
        key = tuple(kinds)
        if key not in self._adjectives_of:
            self._adjectives_of[key] = [a for a in lx.ADJECTIVES if set(a.kinds) & set(kinds)]
        return self._adjectives_of[key]

    def adjectives_for(self, noun: lx.Noun, n: int) -> list[lx.Adjective]:
        pool = self.adjectives_of(noun.kinds)
        first = self.pick(pool)
        if n == 1:
            return [first]
        others = [a for a in pool if a.order != first.order]
        return [first, self.pick(others)] if others else [first]

    # --------------------------------------------------------- noun phrases
    def np(
        self, kinds, *, det=None, plural=None, adjectives=None, muito=True, allow_bare=False, noun=None
    ) -> Ref:
        """A noun phrase of one of ``kinds``.

        Portuguese puts adjectives after the noun ("o gato preto"), English
        before it, ordered opinion-size-age-colour ("the small black cat").
        """
        noun = noun or self.noun(kinds)
        if "name" in noun.kinds:
            return Ref(
                ["o" if noun.gender == "m" else "a", noun.pt],
                [noun.en],
                2,
                noun.gender,
                False,
                noun.pronoun,
                noun.kinds + ("person",),
            )
        can_plural = not noun.mass and "singular" not in noun.kinds
        if plural is None:
            plural = can_plural and self.chance(0.3)
        plural = plural and can_plural
        if det is None:
            det = self.determiner(noun, plural, can_plural, allow_bare)
        if det == "num":
            plural = True
        if adjectives is None:
            r = self.rng.random()
            adjectives = self.adjectives_for(noun, 2 if r < 0.08 else 1) if r < 0.45 else []
        g = noun.gender
        pt_noun, en_noun = (noun.pt_pl, noun.en_pl) if plural else (noun.pt, noun.en)
        adj_pt = [a.form(g, plural) for a in adjectives]
        if len(adj_pt) == 2:
            adj_pt = [adj_pt[0], "e", adj_pt[1]]
        adj_en = [a.en for a in sorted(adjectives, key=lambda a: a.order)]
        if len(adjectives) == 1 and muito and self.chance(0.12):
            adj_pt, adj_en = ["muito"] + adj_pt, ["very"] + adj_en
        det_pt, det_en, tail_pt = self.determiner_words(det, g, plural)
        pt = det_pt + [pt_noun] + adj_pt + tail_pt
        en = det_en + adj_en + [en_noun]
        return Ref(pt, en, 4 if plural else 2, g, plural, "they" if plural else noun.pronoun, noun.kinds)

    def determiner(self, noun: lx.Noun, plural: bool, can_plural: bool, allow_bare: bool) -> str:
        """Draw the name of a determiner that fits ``noun`` (a key of ``DETERMINERS``, or
        "num", "bare", "post" for "o livro dela", "gen" for "o cão do menino")."""
        r = self.rng.random()
        det = (
            "def"
            if r < 0.45
            else "indef"
            if r < 0.57
            else "this"
            if r < 0.63
            else "that"
            if r < 0.68
            else self.pick(("my", "your", "our"))
            if r < 0.80
            else "post"
            if r < 0.87
            else "gen"
            if r < 0.93
            else "num"
        )
        if det == "num" and not can_plural:
            det = "def"
        if det in ("post", "gen") and "nopos" in noun.kinds:
            det = "def"  # "a mulher dele" would mean "his wife"
        if det == "indef" and noun.mass:
            det = "bare" if allow_bare else "def"
        if allow_bare and (noun.mass or plural) and self.chance(0.15):
            det = "bare"
        return det

    def determiner_words(self, det: str, g: str, plural: bool) -> tuple[list[str], list[str], list[str]]:
        """The determiner ``det`` for a noun of gender ``g``: (pt words before the noun,
        en words before the adjectives, pt words after the adjectives)."""
        index = (2 if plural else 0) + (1 if g == "f" else 0)
        tail_pt = []
        if det in DETERMINERS:
            forms, en_sg, en_pl = DETERMINERS[det]
            det_pt, det_en = words(forms[index]), [en_pl if plural else en_sg]
        elif det == "num":
            pt_num, en_num = self.pick(lx.NUMBERS)
            det_pt, det_en = [pt_num[1 if g == "f" else 0]], [en_num]
        elif det == "bare":
            det_pt, det_en = [], []
        elif det == "post":  # "o livro dela" -> "her book"
            who = self.pick((("dele", "his"), ("dela", "her"), ("deles", "their"), ("delas", "their")))
            det_pt, det_en = words(DETERMINERS["def"][0][index]), [who[1]]
            tail_pt = [who[0]]
        elif det == "gen":  # "o cão do menino" -> "the boy's dog"
            owner = self.np(("person", "name"), det="def", plural=False, adjectives=[])
            det_pt = words(DETERMINERS["def"][0][index])
            det_en = owner.en[:-1] + [owner.en[-1] + "'s"]
            tail_pt = contract("de", owner.pt)
        else:
            raise ValueError(det)
        return det_pt, det_en, tail_pt

    def pronoun(self, persons=(0, 1, 2, 3, 4)) -> Ref:
        person = self.pick(persons)
        pt, en, g, plural = self.pick(PRONOUNS[person])
        return Ref([pt], [en], person, g, plural, en if en != "I" else "I", ("person",), is_pronoun=True)

    def subject(self, verb: lx.Verb | None = None, people=True, animals=True) -> Ref:
        if verb is not None:
            people, animals = "p" in verb.subjects, "a" in verb.subjects
        r = self.rng.random()
        if people and r < 0.28:
            return self.pronoun()
        if people and r < 0.36:
            return self.np(("name",))
        if people and animals and r < 0.39:  # "o menino e a menina"
            a, b = (self.np(("person", "animal"), det="def", plural=False, adjectives=[]) for _ in "ab")
            if a.pt == b.pt:
                return a
            return Ref(
                a.pt + ["e"] + b.pt,
                a.en + ["and"] + b.en,
                4,
                "f" if a.gender == b.gender == "f" else "m",
                True,
                "they",
                a.kinds,
            )
        kinds = (("person",) if people else ()) + (("animal",) if animals else ())
        return self.np(kinds)

    def place(self, kinds=("place",), prep="em", det=None) -> tuple[list[str], list[str], lx.Noun]:
        """A prepositional phrase of place: "na cozinha" -> "in the kitchen"."""
        noun = self.noun(kinds)
        if prep == "por" and not noun.via:
            noun = self.noun(("road",))
        det = det or self.pick(("def", "def", "def", "this", "that", "my", "our"))
        ref = self.np(
            kinds, noun=noun, det=det, plural=False, muito=False, adjectives=None if self.chance(0.25) else []
        )
        en_prep = {"em": noun.loc, "a": "to", "por": noun.via}[prep]
        return contract(prep, ref.pt), [en_prep] + ref.en, noun
