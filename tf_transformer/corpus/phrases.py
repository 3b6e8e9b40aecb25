"""What the grammar builds, and how a pair is finished: a :class:`Ref` (something a
clause talks about, with its person, gender and number, and the pronoun that refers
back to it), a :class:`Clause` (both sides before the English word order of a question
is fixed), the English verb group with its do-support and auxiliaries
(:func:`en_verb`), and :func:`finish`, which capitalises, punctuates and turns English
"a" into "an" before a vowel. :class:`_Retry` is what a builder raises when a random
choice cannot be completed.
"""

from __future__ import annotations

import dataclasses

from tf_transformer.corpus import lexicon as lx


@dataclasses.dataclass
class Ref:
    """Something a clause talks about: its words and its grammar."""

    pt: list[str]
    en: list[str]
    person: int  # 0..4, see lexicon
    gender: str
    plural: bool
    pronoun: str  # English subject pronoun for it
    kinds: tuple[str, ...] = ()
    is_pronoun: bool = False
    coref: bool = False  # a pronoun for something named earlier: may be dropped

    def as_pronoun(self) -> Ref:
        """The pronoun that refers back to this referent ("o gato" -> ele / "it")."""
        if self.is_pronoun:
            return dataclasses.replace(self, coref=True)
        pt = (
            ("eles" if self.gender == "m" else "elas")
            if self.plural
            else ("ele" if self.gender == "m" else "ela")
        )
        return Ref(
            [pt],
            [self.pronoun],
            self.person,
            self.gender,
            self.plural,
            self.pronoun,
            self.kinds,
            is_pronoun=True,
            coref=True,
        )

    @property
    def agr(self) -> str:
        """English agreement class: '1sg', '3sg' or 'pl'."""
        if self.en == ["I"]:
            return "1sg"
        return "pl" if self.plural or self.en == ["you"] else "3sg"


@dataclasses.dataclass
class Clause:
    """A clause before word order is fixed: questions move the English auxiliary."""

    subj: Ref
    drop: bool  # Portuguese leaves the subject out
    pt_vp: list[str]  # "não comeu o bolo"
    aux: str | None  # English auxiliary or None ("ate")
    en_vp: list[str]  # what follows the auxiliary
    verb: lx.Verb | None = None
    tense: str = "pres"

    def pt(self) -> list[str]:
        return ([] if self.drop else self.subj.pt) + self.pt_vp

    def en(self, question: bool = False) -> list[str]:
        if question:
            return [self.aux] + self.subj.en + self.en_vp
        if self.aux == "not":  # "I'm not"
            return ["I'm", "not"] + self.en_vp
        return self.subj.en + ([self.aux] if self.aux else []) + self.en_vp


def en_verb(forms, tense: str, agr: str, neg: bool, question: bool, aspect: str = "dyn"):
    """English verb group: ``(auxiliary or None, words after it)``.

    ``forms`` is ``(base, 3sg, past, -ing)`` or the string ``"be"``.
    """
    if forms == "be":
        if tense == "fut":
            return ("won't" if neg else "will"), ["be"]
        if tense == "pres":
            if agr == "1sg":
                return ("not" if neg else "am"), []
            verb = "is" if agr == "3sg" else "are"
        else:
            verb = "was" if agr in ("1sg", "3sg") else "were"
        return (verb + "n't" if neg else verb), []
    base, s3, past, ing = forms
    if tense == "fut":
        return ("won't" if neg else "will"), [base]
    if tense == "impf" and aspect == "dyn":
        verb = "was" if agr in ("1sg", "3sg") else "were"
        return (verb + "n't" if neg else verb), [ing]
    if tense == "pres":
        if neg:
            return ("doesn't" if agr == "3sg" else "don't"), [base]
        if question:
            return ("does" if agr == "3sg" else "do"), [base]
        return None, [s3 if agr == "3sg" else base]
    if neg or question:
        return ("didn't" if neg else "did"), [base]
    return None, [past]


def fix_articles(en: list[str]) -> list[str]:
    """English "a" becomes "an" before a vowel sound."""
    out = list(en)
    for i, word in enumerate(out[:-1]):
        if word == "a" and out[i + 1][0] in "aeiou":
            out[i] = "an"
    return out


def finish(pt: list[str], en: list[str], mark: str) -> tuple[str, str]:
    """Capitalise, punctuate and join both sides."""
    pt = " ".join(pt) + mark
    en = " ".join(fix_articles(en)) + mark
    return pt[0].upper() + pt[1:], en[0].upper() + en[1:]


class _Retry(Exception):
    """Raised when a random choice cannot be completed; the caller draws again."""
