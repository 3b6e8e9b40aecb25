"""The verb side of the grammar: :class:`Clauses` builds one clause on both sides at
once, with a lexical verb (its tense, negation, objects and places, and a time adverb
where a form like "comemos" needs one to say its tense) or with "ser" / "estar" ("O gato
está cansado", "O João é médico" -> "João is a doctor"). It decides when Portuguese
leaves the subject out, and English gets do-support, auxiliaries and the past
progressive from :func:`~tf_transformer.corpus.phrases.en_verb`. It stands on
:class:`~tf_transformer.corpus.noun_phrases.NounPhrases` for the subjects and objects.
"""

from __future__ import annotations

import random

from tf_transformer.corpus import lexicon as lx
from tf_transformer.corpus.noun_phrases import NounPhrases
from tf_transformer.corpus.phrases import Clause, Ref, _Retry, en_verb
from tf_transformer.corpus.tables import ADVERBS, DISAMBIGUATING_ADVERBS, contract, words


class Clauses(NounPhrases):
    """Clauses, drawn from ``rng``, on top of the noun phrases."""

    def __init__(self, rng: random.Random):
        super().__init__(rng)
        self.verbs = {v.inf: v for v in lx.VERBS}
        self.by_frame = {}
        for verb in lx.VERBS:
            self.by_frame.setdefault(verb.frame, []).append(verb)

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
        tense, forced = self.clause_tense(verb, subj, tense, adverbs)
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

    def clause_tense(self, verb: lx.Verb, subj: Ref, tense: str | None, adverbs: bool) -> tuple[str, bool]:
        """The clause's tense (``tense`` if the verb has it), and whether its form is
        ambiguous, so that an adverb must settle it; without ``adverbs`` such a tense is
        avoided."""
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
        return tense, forced

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
        verb_name, pt_rest, en_rest = self.predicate(subj, kind, adjective, degree)
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

    def predicate(
        self, subj: Ref, kind: str, adjective: lx.Adjective | None, degree: str | None
    ) -> tuple[str, list[str], list[str]]:
        """What follows the copula, of ``kind`` "adj", "loc" or "job": ``(verb, pt words,
        en words)``, the verb "ser" or "estar" as the predicate asks."""
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
        return verb_name, pt_rest, en_rest
