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

The parts: :mod:`~tf_transformer.corpus.tables` (pronouns, determiners,
contractions, adverbs, the family's words), :mod:`~tf_transformer.corpus.phrases`
(referents, clauses, the English verb group, finishing a pair),
:mod:`~tf_transformer.corpus.noun_phrases` and :mod:`~tf_transformer.corpus.clauses`
(the builders); :class:`Grammar` puts them together, and this module keeps every
name importable from here.
"""

from __future__ import annotations

from tf_transformer.corpus.clauses import Clauses
from tf_transformer.corpus.phrases import Clause, Ref, _Retry, en_verb, finish, fix_articles
from tf_transformer.corpus.tables import (
    ADVERBS,
    CONTRACTIONS,
    DETERMINERS,
    DISAMBIGUATING_ADVERBS,
    FAMILY_VERBS,
    PRONOUNS,
    STATE_ADJECTIVES,
    contract,
    words,
)

__all__ = [
    "ADVERBS",
    "CONTRACTIONS",
    "DETERMINERS",
    "DISAMBIGUATING_ADVERBS",
    "FAMILY_VERBS",
    "PRONOUNS",
    "STATE_ADJECTIVES",
    "Clause",
    "Grammar",
    "Ref",
    "_Retry",
    "contract",
    "en_verb",
    "finish",
    "fix_articles",
    "words",
]


class Grammar(Clauses):
    """Draws sentence pairs. All randomness comes from ``rng``.

    Its words and noun phrases come from
    :class:`~tf_transformer.corpus.noun_phrases.NounPhrases`, its clauses from
    :class:`~tf_transformer.corpus.clauses.Clauses`.
    """
