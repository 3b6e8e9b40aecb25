"""A small synchronous grammar: it builds a Portuguese sentence and its English
translation together, from the lexicon in :mod:`tf_transformer.corpus.lexicon`.

Each builder returns both sides at once, so every phenomenon is written once:

- agreement: articles, adjectives and predicates agree with their noun in
  gender and number ("as casas brancas" -> "the white houses");
- verbs in five persons and four tenses; English gets do-support for
  negation and questions ("não comeu" -> "didn't eat", "Comeste?" -> "Did you
  eat?") and the past progressive for the imperfect of action verbs;
- subject drop: "eu", "tu" and "nós" are left out when the verb form alone
  says who acts; English must restore the pronoun;
- contractions: de/em/a/por + article or demonstrative ("do", "na", "ao",
  "pelo", "neste", "daquele");
- adjectives after the noun in Portuguese, before it (in English order) in
  English; possessives ("o meu", "o livro dela", "o cão do João" -> "João's
  dog"); numbers; professions without an article ("é médico" -> "is a
  doctor");
- relative clauses, subordinate clauses (porque, quando, se) and
  coordination (e, mas);
- the "animal / street" family: "O animal não atravessou a rua porque estava
  muito cansado." The gender and meaning of the adjective tell which noun
  the (dropped or explicit) pronoun refers to, and so whether English says
  "he", "she", "it" or "they".

The grammar is deterministic given the random generator, and the mapping is a
function: one Portuguese sentence always gets the same English sentence (the
corpus builder checks this). Ambiguous Portuguese is avoided on purpose: a
form that is the same in two tenses ("comemos") gets a time adverb that
settles it, and a subject is only dropped when the verb form is unique.
"""

from __future__ import annotations

import dataclasses
import random

from tf_transformer.corpus import lexicon as lx

PRONOUNS = {  # person -> [(pt, en, gender, plural)]
    0: [("eu", "I", "m", False), ("eu", "I", "f", False)],
    1: [("tu", "you", "m", False), ("tu", "you", "f", False)],
    2: [("ele", "he", "m", False), ("ela", "she", "f", False)],
    3: [("nós", "we", "m", True), ("nós", "we", "f", True)],
    4: [
        ("eles", "they", "m", True),
        ("elas", "they", "f", True),
        ("vocês", "you", "m", True),
        ("vocês", "you", "f", True),
    ],
}

DETERMINERS = {  # name -> ((m.sg, f.sg, m.pl, f.pl), en singular, en plural)
    "def": (("o", "a", "os", "as"), "the", "the"),
    "indef": (("um", "uma", "uns", "umas"), "a", "some"),
    "this": (("este", "esta", "estes", "estas"), "this", "these"),
    "that": (("aquele", "aquela", "aqueles", "aquelas"), "that", "those"),
    "my": (("o meu", "a minha", "os meus", "as minhas"), "my", "my"),
    "your": (("o teu", "a tua", "os teus", "as tuas"), "your", "your"),
    "our": (("o nosso", "a nossa", "os nossos", "as nossas"), "our", "our"),
}

CONTRACTIONS = {}
for _prep, _out in (("de", "d"), ("em", "n")):
    for _w in (
        "o",
        "a",
        "os",
        "as",
        "este",
        "esta",
        "estes",
        "estas",
        "aquele",
        "aquela",
        "aqueles",
        "aquelas",
    ):
        CONTRACTIONS[_prep, _w] = _out + _w
for _w in ("um", "uma", "uns", "umas"):
    CONTRACTIONS["em", _w] = "n" + _w
CONTRACTIONS.update(
    {
        ("a", "o"): "ao",
        ("a", "a"): "à",
        ("a", "os"): "aos",
        ("a", "as"): "às",
        ("a", "aquele"): "àquele",
        ("a", "aquela"): "àquela",
        ("a", "aqueles"): "àqueles",
        ("a", "aquelas"): "àquelas",
        ("por", "o"): "pelo",
        ("por", "a"): "pela",
        ("por", "os"): "pelos",
        ("por", "as"): "pelas",
    }
)

# (pt, en, tenses it fits); the last two lines settle "comemos"-style forms.
ADVERBS = [
    ("ontem", "yesterday", ("pret",)),
    ("ontem à noite", "last night", ("pret",)),
    ("hoje", "today", ("pres", "pret", "fut")),
    ("amanhã", "tomorrow", ("fut",)),
    ("amanhã de manhã", "tomorrow morning", ("fut",)),
    ("todos os dias", "every day", ("pres",)),
    ("de manhã", "in the morning", ("pres", "pret", "impf", "fut")),
    ("à noite", "at night", ("pres", "pret", "impf", "fut")),
]
DISAMBIGUATING_ADVERBS = {"pres": ("todos os dias",), "pret": ("ontem", "ontem à noite")}

# Adjectives for the "porque ... muito ADJ" family: states of the subject, and
# properties of the object, per object kind.
STATE_ADJECTIVES = ("cansado", "doente", "assustado", "ocupado")
FAMILY_VERBS = {  # verb -> object kind -> adjectives that make the object the reason
    "atravessar": {"road": ("largo", "comprido", "perigoso", "movimentado")},
    "comer": {"food": ("quente", "frio")},
    "beber": {"drink": ("quente", "frio")},
    "comprar": {"thing": ("caro",), "vehicle": ("caro",), "shop": ("caro",)},
    "carregar": {"container": ("pesado",), "thing": ("pesado",)},
    "ler": {"read": ("difícil",)},
}


def words(text: str) -> list[str]:
    return text.split()


def contract(prep: str, pt: list[str]) -> list[str]:
    """Join a preposition with the first word of a phrase where Portuguese does."""
    merged = CONTRACTIONS.get((prep, pt[0]))
    return [merged] + pt[1:] if merged else [prep] + pt


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


class Grammar:
    """Draws sentence pairs. All randomness comes from ``rng``."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.nouns = {}
        for noun in lx.NOUNS:
            for kind in noun.kinds:
                self.nouns.setdefault(kind, []).append(noun)
        self.adjectives = {a.forms[0]: a for a in lx.ADJECTIVES}
        self.verbs = {v.inf: v for v in lx.VERBS}
        self._nouns_of, self._adjectives_of = {}, {}
        self.by_frame = {}
        for verb in lx.VERBS:
            self.by_frame.setdefault(verb.frame, []).append(verb)

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
        pt = det_pt + [pt_noun] + adj_pt + tail_pt
        en = det_en + adj_en + [en_noun]
        return Ref(pt, en, 4 if plural else 2, g, plural, "they" if plural else noun.pronoun, noun.kinds)

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

    # ---------------------------------------------------------------- verbs
    @staticmethod
    def droppable(verb_forms: dict, tense: str, subj: Ref) -> bool:
        """Whether Portuguese may leave the subject out.

        "eu", "tu" and "nós" go when the verb form is unique in its paradigm;
        a third person only when it points back to something just named
        (the reader then knows who it is).
        """
        if not subj.is_pronoun:
            return False
        if subj.coref and subj.person in (2, 4):
            return True
        form = verb_forms[tense][subj.person]
        return subj.person in (0, 1, 3) and sum(f == form for fs in verb_forms.values() for f in fs) == 1

    @staticmethod
    def ambiguous_tense(verb_forms: dict, tense: str, person: int) -> bool:
        """'comemos' is both present and preterite: it needs an adverb."""
        form = verb_forms[tense][person]
        return any(verb_forms[t][person] == form for t in verb_forms if t != tense)

    def adverb(self, tense: str, forced: bool) -> tuple[list[str], list[str]]:
        if forced:
            pt = self.pick(DISAMBIGUATING_ADVERBS[tense])
            return words(pt), words(next(en for p, en, _ in ADVERBS if p == pt))
        pt, en, _ = self.pick([a for a in ADVERBS if tense in a[2]])
        return words(pt), words(en)

    def clause(
        self,
        *,
        subj: Ref | None = None,
        verb: lx.Verb | None = None,
        tense: str | None = None,
        neg: bool | None = None,
        question: bool = False,
        frames="TTTTLMPDGI",
        gap: str | None = None,
        adverbs: bool = True,
        muito: bool = True,
        drop: bool | None = None,
        obj: Ref | None = None,
    ) -> Clause:
        """One clause with a lexical verb.

        ``gap`` leaves out the object ("o que ... comeu?") or the place
        ("onde ... dorme?"). ``adverbs=False`` forbids time adverbs, and then
        tenses whose form is ambiguous are avoided instead.
        """
        if verb is None:
            verb = self.pick(self.by_frame[self.pick(frames)])
        if subj is None:
            subj = self.subject(verb)
        if neg is None:
            neg = self.chance(0.25)
        tenses = list(verb.tenses)
        if tense not in tenses:
            tense = None
        for _ in range(20):
            t = tense or self.pick(tenses)
            if adverbs or not self.ambiguous_tense(verb.paradigm, t, subj.person):
                tense = t
                break
        else:
            raise _Retry
        forced = self.ambiguous_tense(verb.paradigm, tense, subj.person)
        if forced and not adverbs:
            raise _Retry
        if drop is None:
            drop = self.droppable(verb.paradigm, tense, subj) and (subj.coref or self.chance(0.5))
        drop = drop and self.droppable(verb.paradigm, tense, subj)
        if question and neg and subj.agr == "1sg" and tense == "pres":
            neg = False
        aux, en_vp = en_verb(verb.en, tense, subj.agr, neg, question, verb.aspect)
        pt_vp = (["não"] if neg else []) + [verb.form(tense, subj.person)]
        obj_pt, obj_en = self.complement(verb, gap, muito, obj)
        pt_vp += obj_pt
        en_vp = en_vp + obj_en
        if adverbs and (forced or self.chance(0.3)):
            adv_pt, adv_en = self.adverb(tense, forced)
            pt_vp += adv_pt
            en_vp += adv_en
        return Clause(subj, drop, pt_vp, aux, en_vp, verb, tense)

    def complement(self, verb: lx.Verb, gap: str | None, muito: bool, obj: Ref | None = None):
        """Objects and places of ``verb`` as (pt words, en words)."""
        f = verb.frame
        if f == "T":
            if gap == "object":
                return [], []
            obj = obj or self.np(verb.args, allow_bare=True, muito=muito)
            pt, en = obj.pt, obj.en
            if set(verb.args) & {"food", "drink", "thing"} and self.chance(0.25):
                place_pt, place_en, _ = self.place(("room", "building"))
                pt, en = pt + place_pt, en + place_en
            return pt, en
        if f == "L":
            if gap == "place" or self.chance(0.2):
                return [], []
            place_pt, place_en, _ = self.place(verb.args)
            return place_pt, place_en
        if f == "M":
            place_pt, place_en, _ = self.place(("place",), prep="a")
            return place_pt, place_en
        if f == "P":
            place_pt, place_en, _ = self.place(("place", "road"), prep="por")
            return place_pt, place_en
        if f == "D":
            obj = self.np(verb.args, muito=muito)
            to = self.np(("person", "name"), adjectives=[], det=self.pick(("def", "def", "my", "our")))
            return obj.pt + contract("a", to.pt), obj.en + ["to"] + to.en
        if f == "G":
            obj = obj or self.np(verb.args, allow_bare=True, muito=muito)
            return contract("de", obj.pt), obj.en
        return [], []

    def copula(
        self,
        *,
        subj: Ref | None = None,
        tense: str | None = None,
        neg: bool | None = None,
        question: bool = False,
        kind: str | None = None,
        adjective: lx.Adjective | None = None,
        degree: str | None = "maybe",
        drop: bool | None = None,
    ) -> Clause:
        """ "O gato está cansado", "A casa é grande", "O livro está na mesa",
        "O João é médico" (-> "João is a doctor")."""
        if subj is None:
            subj = (
                self.subject(people=True, animals=True)
                if self.chance(0.7)
                else self.np(("thing", "container", "vehicle", "building", "food", "road"))
            )
        if neg is None:
            neg = self.chance(0.25)
        if kind is None:
            r = self.rng.random()
            kind = "adj" if r < 0.7 else "loc" if r < 0.87 else "job"
        if kind == "job" and "person" not in subj.kinds:
            kind = "adj"
        if kind == "job" and subj.is_pronoun and not subj.plural and subj.person != 2:
            kind = "adj"
        if kind == "adj":
            pool = self.adjectives_of(subj.kinds)
            if subj.is_pronoun and not subj.coref:
                pool = [a for a in pool if "person" in a.kinds]
            adjective = adjective or self.pick(pool)
            verb_name = adjective.copula
            pt_rest = [adjective.form(subj.gender, subj.plural)]
            en_rest = [adjective.en]
            if degree == "maybe":
                degree = "very" if self.chance(0.15) else None
            if degree:  # "muito" is "too" in the porque family, "very" elsewhere
                pt_rest, en_rest = ["muito"] + pt_rest, [degree] + en_rest
        elif kind == "loc":
            verb_name = "estar"
            pt_rest, en_rest, _ = self.place(
                ("place",) if {"person", "animal"} & set(subj.kinds) else ("place", "surface", "container")
            )
        else:
            verb_name = "ser"
            job = self.pick([n for n in self.nouns["job"] if n.gender == subj.gender] or self.nouns["job"])
            pt_rest = [job.pt_pl if subj.plural else job.pt]
            en_rest = [job.en_pl] if subj.plural else ["a", job.en]
        forms = lx.ESTAR if verb_name == "estar" else lx.SER
        tenses = ("pres", "pret", "impf", "fut") if verb_name == "estar" else ("pres", "impf", "fut")
        tense = tense if tense in tenses else ("impf" if tense == "pret" else self.pick(tenses))
        if question and neg and subj.agr == "1sg" and tense == "pres":
            neg = False
        if drop is None:
            drop = self.droppable(forms, tense, subj) and (subj.coref or self.chance(0.5))
        drop = drop and self.droppable(forms, tense, subj)
        aux, en_vp = en_verb("be", tense, subj.agr, neg, question)
        pt_vp = (["não"] if neg else []) + [forms[tense][subj.person]] + pt_rest
        return Clause(subj, drop, pt_vp, aux, en_vp + en_rest, None, tense)


class _Retry(Exception):
    """Raised when a random choice cannot be completed; the caller draws again."""
