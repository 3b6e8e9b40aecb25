"""The sentence templates of the corpus, apart from the "animal / street" family:
:class:`Templates` makes one statement, copula, yes/no or wh- question, or a sentence
with one clause-level extension (a relative clause, a subordinate clause with porque /
quando / se, a coordination with e / mas), and, for the generalization split, two
extensions at once. Each template returns ``(pt words, en words, final mark)``; it is a
mixin of :class:`~tf_transformer.corpus.sentences.Sentences`, which holds the grammar
``self.g`` and draws the templates by weight.
"""

from __future__ import annotations

from tf_transformer.corpus import lexicon as lx
from tf_transformer.corpus.grammar import Clause, Grammar, Ref, _Retry


def comma(ws: list[str]) -> list[str]:
    return ws[:-1] + [ws[-1] + ","]


class Templates:
    """The templates but the family's, on the grammar ``self.g``."""

    g: Grammar

    # ------------------------------------------------------------ one clause
    def any_clause(self, **kw) -> Clause:
        if self.g.chance(0.8):
            return self.g.clause(**kw)
        kw.pop("frames", None)
        kw.pop("muito", None)
        kw.pop("adverbs", None)
        return self.g.copula(**kw)

    def statement(self):
        c = self.g.clause()
        return c.pt(), c.en(), "."

    def copula(self):
        if self.g.chance(0.2):
            c = self.g.copula(question=True)
            return c.pt(), c.en(question=True), "?"
        c = self.g.copula()
        return c.pt(), c.en(), "."

    def yes_no(self):
        c = self.any_clause(question=True)
        return c.pt(), c.en(question=True), "?"

    def wh(self):
        g = self.g
        kind = g.pick(("who", "what", "where", "where_is", "why"))
        if kind == "who":  # subject question: no do-support in English
            who = Ref(["quem"], ["who"], 2, "m", False, "who", ("person",))
            verb = g.pick([v for v in lx.VERBS if "p" in v.subjects])
            c = g.clause(subj=who, verb=verb)
            return c.pt(), c.en(), "?"
        if kind == "what":
            verb = g.pick([v for v in g.by_frame["T"] if set(v.args) - {"person", "animal", "place"}])
            c = g.clause(verb=verb, gap="object", question=True, neg=g.chance(0.1))
            return ["o", "que"] + c.pt(), ["what"] + c.en(question=True), "?"
        if kind == "where":
            c = g.clause(verb=g.pick(g.by_frame["L"]), gap="place", question=True, neg=False)
            return ["onde"] + c.pt(), ["where"] + c.en(question=True), "?"
        if kind == "where_is":  # "Onde está o livro?": Portuguese inverts here too
            subj = g.np(("thing", "container", "read", "animal", "person", "name"))
            tense = g.pick(("pres", "pres", "impf", "fut"))
            form = lx.ESTAR[tense][subj.person]
            aux, rest = {
                "pres": ("is" if subj.agr == "3sg" else "are", []),
                "impf": ("was" if subj.agr == "3sg" else "were", []),
                "fut": ("will", ["be"]),
            }[tense]
            return ["onde", form] + subj.pt, ["where", aux] + subj.en + rest, "?"
        c = self.any_clause(question=True, neg=g.chance(0.5))
        return ["por", "que"] + c.pt(), ["why"] + c.en(question=True), "?"

    # ------------------------------------------------------------ extensions
    def relative_clause(self, head: Ref) -> Ref:
        """Attach "que ..." to a noun phrase: "o livro que a menina leu"."""
        g = self.g
        rel = "who" if "person" in head.kinds else "that"
        tense = g.pick(("pres", "pret", "impf"))
        objects = [v for v in g.by_frame["T"] if set(v.args) & set(head.kinds)]
        subjects = [
            v
            for v in lx.VERBS
            if v.frame in "TLMPGI"
            and (
                ("p" in v.subjects and "person" in head.kinds)
                or ("a" in v.subjects and "animal" in head.kinds)
            )
        ]
        if subjects and (not objects or g.chance(0.5)):
            gap = Ref(["que"], [rel], head.person, head.gender, head.plural, head.pronoun, head.kinds)
            c = g.clause(subj=gap, verb=g.pick(subjects), tense=tense, adverbs=False, muito=False)
            pt, en = c.pt(), c.en()
        elif objects:
            verb = g.pick(objects)
            subj = g.subject(verb) if g.chance(0.6) else g.pronoun((0, 1, 3))
            c = g.clause(subj=subj, verb=verb, tense=tense, gap="object", adverbs=False, muito=False)
            pt, en = ["que"] + c.pt(), [rel] + c.en()
        else:
            raise _Retry
        return Ref(
            head.pt + pt, head.en + en, head.person, head.gender, head.plural, head.pronoun, head.kinds
        )

    def relative_main(self) -> Clause:
        """A main clause whose subject or object carries a relative clause."""
        g = self.g
        if g.chance(0.5):
            verb = g.pick([v for v in lx.VERBS if v.frame != "D"])
            kinds = (("person",) if "p" in verb.subjects else ()) + (
                ("animal",) if "a" in verb.subjects else ()
            )
            subj = self.relative_clause(g.np(kinds, muito=False))
            return g.clause(subj=subj, verb=verb, adverbs=False, muito=False)
        verb = g.pick([v for v in g.by_frame["T"] + g.by_frame["G"]])
        obj = self.relative_clause(g.np(verb.args, muito=False))
        return g.clause(verb=verb, obj=obj, adverbs=False, muito=False)

    def relative(self):
        c = self.relative_main()
        return c.pt(), c.en(), "."

    def sub_clause(self, main: Clause, tense: str, coref_ok=True) -> Clause:
        """A subordinate clause: about the main subject (its pronoun may be
        dropped) or about someone new (never a bare 'ele', which would be
        ambiguous)."""
        g = self.g
        if coref_ok and g.chance(0.55):
            subj = main.subj.as_pronoun()
        elif g.chance(0.35):
            subj = g.pronoun((0, 1, 3))
        else:
            subj = g.subject(people=True, animals=g.chance(0.3))
            if subj.is_pronoun and subj.person in (2, 4) and subj.en != ["you"]:
                raise _Retry
        if g.chance(0.3):
            return g.copula(subj=subj, tense=tense, neg=g.chance(0.15), kind="adj", degree=None)
        verb = g.pick(
            [
                v
                for v in lx.VERBS
                if tense in v.tenses
                and (
                    ("p" in v.subjects and "person" in subj.kinds)
                    or ("a" in v.subjects and "animal" in subj.kinds)
                )
            ]
            or [None]
        )
        if verb is None:
            raise _Retry
        return g.clause(subj=subj, verb=verb, tense=tense, neg=g.chance(0.15), adverbs=False, muito=False)

    def subordinate(self, main: Clause | None = None, kind: str | None = None):
        g = self.g
        kind = kind or g.pick(("porque", "quando", "se"))
        if kind == "porque":
            main = main or self.any_clause(muito=False)
            sub_tense = {"pres": "pres", "pret": g.pick(("impf", "pret")), "impf": "impf", "fut": "pres"}[
                main.tense
            ]
            sub = self.sub_clause(main, sub_tense)
            if main.pt_vp[0] == "não" and "muito" in sub.pt_vp:
                raise _Retry
            return main.pt() + ["porque"] + sub.pt(), main.en() + ["because"] + sub.en(), "."
        sub_tense, main_tense = (
            g.pick((("pret", "pret"), ("pret", "impf"), ("impf", "impf"), ("pres", "pres")))
            if kind == "quando"
            else ("pres", "pres")
        )
        word, en_word = {"quando": ("quando", "when"), "se": ("se", "if")}[kind]
        main = main or g.clause(tense=main_tense, muito=False)
        if main.tense != main_tense:
            raise _Retry
        if g.chance(0.5):  # "Quando o pai chegou, o menino dormia."
            sub = self.sub_clause(main, sub_tense, coref_ok=False)
            return ([word] + comma(sub.pt()) + main.pt(), [en_word] + comma(sub.en()) + main.en(), ".")
        sub = self.sub_clause(main, sub_tense)
        return main.pt() + [word] + sub.pt(), main.en() + [en_word] + sub.en(), "."

    def porque(self):
        return self.subordinate(kind="porque")

    def quando(self):
        return self.subordinate(kind="quando")

    def se(self):
        return self.subordinate(kind="se")

    def coordination(self, first: Clause | None = None):
        g = self.g
        if g.chance(0.5):  # one subject, two verb phrases: English keeps one subject too
            first = first or g.clause(frames="TTTLMPDG", adverbs=False)
            second = g.clause(
                subj=first.subj, tense=first.tense, frames="TTTLMPDG", neg=g.chance(0.2), adverbs=False
            )
            en2 = ([second.aux] if second.aux else []) + second.en_vp
            return first.pt() + ["e"] + second.pt_vp, first.en() + ["and"] + en2, "."
        first = first or self.any_clause(adverbs=False)
        second = self.any_clause(adverbs=False)
        if g.chance(0.6):
            return first.pt() + ["e"] + second.pt(), first.en() + ["and"] + second.en(), "."
        return (comma(first.pt()) + ["mas"] + second.pt(), comma(first.en()) + ["but"] + second.en(), ".")

    # ----------------------------------------------- generalization: two at once
    def relative_subordinate(self):
        main = self.relative_main()
        return self.subordinate(main=main, kind=self.g.pick(("porque", "porque", "quando", "se")))

    def relative_coordination(self):
        return self.coordination(first=self.relative_main())

    def subordinate_coordination(self):
        g = self.g
        kind = g.pick(("quando", "se"))
        sub_tense, main_tense = ("pret", "pret") if kind == "quando" else ("pres", "pres")
        sub = self.sub_clause(None, sub_tense, coref_ok=False)
        pt, en, mark = self.coordination(first=g.clause(tense=main_tense, adverbs=False))
        word, en_word = {"quando": ("quando", "when"), "se": ("se", "if")}[kind]
        return [word] + comma(sub.pt()) + pt, [en_word] + comma(sub.en()) + en, mark
