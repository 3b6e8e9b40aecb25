"""The "animal / street" family and its variants: :class:`Family` makes "O animal não
atravessou a rua porque estava muito cansado." and its kin, where the adjective's
meaning and agreement tell whether the reason is about the subject or the object, and
so whether English says "he", "she", "it" or "they"; also the family with a relative
clause on its subject (generalization only). The variants for the experiments of issue
34 live here too: ``it_pronoun`` (:data:`IT_PRONOUN_CHOICES`) always writes or always
leaves out the reason's Portuguese pronoun, and a balanced maker (``it_referent``,
:data:`IT_REFERENT_CHOICES`) draws singular animals and objects, so English says "it"
for either. A mixin of :class:`~tf_transformer.corpus.sentences.Sentences`.
"""

from __future__ import annotations

from tf_transformer.corpus import lexicon as lx
from tf_transformer.corpus.grammar import FAMILY_VERBS, STATE_ADJECTIVES, Grammar, Ref, _Retry

IT_PRONOUN_CHOICES = ("always", "never")  # generate(it_pronoun=...); None: the shipped corpus
IT_REFERENT_CHOICES = ("balanced",)  # generate(it_referent=...); None: the shipped corpus


class Family:
    """The family's templates, on the grammar ``self.g``; ``self.balanced`` and
    ``self.it_pronoun`` choose the variant, ``self.relative_clause`` (of
    :class:`~tf_transformer.corpus.templates.Templates`) gives its relative."""

    g: Grammar
    balanced: bool
    it_pronoun: str | None

    def family(self, subj: Ref | None = None):
        """ "O animal não atravessou a rua porque estava muito cansado." and kin.

        The main clause is negative; the reason says the subject was too
        tired (sick, scared, busy) or the object too wide (hot, heavy...).
        Which one is meant shows in the adjective's meaning and agreement;
        English must pick "he", "she", "it" or "they" accordingly.

        A balanced maker (``it_referent="balanced"``) draws a singular animal
        subject and a singular object: English says "it" for either.
        ``it_pronoun`` decides whether Portuguese writes the reason's subject.
        """
        g = self.g
        verb = self.family_verb(subj)
        kind = g.pick(list(FAMILY_VERBS[verb.inf]))
        obj = None
        if subj is None and g.chance(0.1):  # the course's own animal and street
            verb, kind = g.verbs["atravessar"], "road"
            subj = g.np(("animal",), noun=g.noun_named("animal"), det="def", plural=False, adjectives=[])
            obj = g.np(("road",), noun=g.noun_named("rua"), det="def", plural=False, adjectives=[])
        if subj is None and self.balanced:
            subj = g.np(("animal",), plural=False, muito=False)
        if subj is None:
            subj = g.subject(verb)
            if subj.is_pronoun and subj.person in (2, 4) and subj.en != ["you"] and g.chance(0.5):
                raise _Retry
        obj = obj or g.np(
            (kind,),
            adjectives=[],
            muito=False,
            det=g.pick(("def", "def", "def", "this", "that", "my")),
            plural=False if self.balanced else None,
        )
        if obj.pt == subj.pt or (self.balanced and subj.plural):  # ("três gatos": a number is plural)
            raise _Retry
        tense = g.pick(("pret", "pret", "pret", "pres"))
        main = g.clause(subj=subj, verb=verb, obj=obj, tense=tense, neg=True, adverbs=False)
        sub_tense = "impf" if main.tense == "pret" else "pres"
        adj, about, drop = self.family_reason(verb, kind, subj, obj)
        if self.it_pronoun is not None:  # (after the draws above: the stream stays the default's)
            drop = self.it_pronoun == "never"
        sub = g.copula(
            subj=about, tense=sub_tense, neg=False, kind="adj", adjective=adj, degree="too", drop=drop
        )
        return main.pt() + ["porque"] + sub.pt(), main.en() + ["because"] + sub.en(), "."

    def family_verb(self, subj: Ref | None) -> lx.Verb:
        """The main verb: one of ``FAMILY_VERBS`` that ``subj`` (or, in a balanced maker,
        an animal) can do."""
        g = self.g
        verbs = list(FAMILY_VERBS)
        if self.balanced and subj is None:  # verbs an animal can do
            verbs = [v for v in verbs if "a" in g.verbs[v].subjects]
        if subj is not None:  # keep verbs this subject can do ("o cão" does not buy)
            verbs = [
                v
                for v in verbs
                if ("p" in g.verbs[v].subjects and "person" in subj.kinds)
                or ("a" in g.verbs[v].subjects and "animal" in subj.kinds)
            ]
        return g.verbs[g.pick(verbs)]

    def family_reason(self, verb: lx.Verb, kind: str, subj: Ref, obj: Ref) -> tuple[lx.Adjective, Ref, bool]:
        """The reason's adjective, the pronoun it is said of (the subject's, tired, or
        the object's, wide), and whether Portuguese leaves that pronoun out (by default)."""
        g = self.g
        if g.chance(0.5):
            pool = [a for a in STATE_ADJECTIVES if set(g.adjectives[a].kinds) & set(subj.kinds)]
            if not pool:
                raise _Retry
            return g.adjectives[g.pick(pool)], subj.as_pronoun(), True
        adj, about = g.adjectives[g.pick(FAMILY_VERBS[verb.inf][kind])], obj.as_pronoun()
        return adj, about, g.chance(0.6)

    def family_relative(self):
        g = self.g
        if self.balanced:  # a singular animal, as the balanced family's subjects
            head = g.np(("animal",), muito=False, adjectives=[], plural=False)
        else:
            head = g.np(("person", "animal"), muito=False, adjectives=[])
        return self.family(subj=self.relative_clause(head))
