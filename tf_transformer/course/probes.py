"""What a trained model's self-attention says about "it": the course's opening lesson, measured.

In "The animal didn't cross the street because it was too tired", only the
adjective tells whether "it" is the animal or the street. The embedded
corpus has a whole family of such sentences (see ``data/README.md``), and its
generator knows the answer for each one: adjectives of a *state* (tired,
sick, scared, busy as *ocupado*) describe the subject, the others (wide,
hot, heavy, busy as *movimentado*...) the object. Translating English into
Portuguese, a model must resolve "it" to make the adjective agree.

- :func:`it_family` finds the family in a split of the English→Portuguese corpus;
- :func:`noun_positions` finds the subject's and the object's nouns among the
  WordPiece pieces;
- :func:`attention_from_it` gives every encoder layer's and head's weights
  from "it", and :func:`weights_on_nouns` sums them on the meant noun and on
  the other one, for every sentence of a family.

Notebook 10 reads these line by line.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from tf_transformer.constants import PAD_ID, START_ID
from tf_transformer.corpus.grammar import STATE_ADJECTIVES
from tf_transformer.corpus.lexicon import NOUNS
from tf_transformer.data.spec import DatasetSpec

ENGLISH_NOUNS = frozenset(form for noun in NOUNS for form in (noun.en, noun.en_pl) if form != "-")
# The Portuguese state adjectives without their ending: cansad-o/-a/-os/-as, doent-e/-es...
STATE_STEMS = tuple(adjective[:-1] for adjective in STATE_ADJECTIVES)
FAMILY = re.compile(r"\bbecause it was too \w+\.$")


@dataclasses.dataclass(frozen=True)
class FamilySentence:
    """One "... because it was too ADJ." pair, and which noun "it" means."""

    english: str
    portuguese: str
    subject_is_meant: bool


def it_family(split: str, *, data_dir=None) -> list[FamilySentence]:
    """The split's English sentences ending "because it was too ADJ.", with their Portuguese.

    The referent comes from the Portuguese adjective: a state adjective
    means the subject, any other the object (the generator's own rule).
    """
    from tf_transformer.data import load_dataset  # imports TensorFlow Datasets

    found = []
    for en, pt in load_dataset(DatasetSpec(reverse=True), split, data_dir=data_dir).as_numpy_iterator():
        en, pt = en.decode(), pt.decode()
        if FAMILY.search(en):
            adjective = pt.rstrip(".").split()[-1]
            found.append(FamilySentence(en, pt, adjective.startswith(STATE_STEMS)))
    return found


def words(pieces: list[str]) -> list[tuple[str, list[int]]]:
    """WordPiece pieces grouped into words: ``[(word, [positions])]`` ("##" pieces continue a word).

    Example:
        >>> words(["[START]", "The", "gir", "##affe", "sleeps", "."])
        [('[START]', [0]), ('The', [1]), ('giraffe', [2, 3]), ('sleeps', [4]), ('.', [5])]
    """
    grouped: list[tuple[str, list[int]]] = []
    for i, piece in enumerate(pieces):
        if piece.startswith("##") and grouped:
            grouped[-1] = (grouped[-1][0] + piece[2:], grouped[-1][1] + [i])
        else:
            grouped.append((piece, [i]))
    return grouped


def noun_positions(pieces: list[str]) -> tuple[list[int], list[int]] | None:
    """The pieces of the subject's noun and of the object's noun; None without both.

    The main clause's negation is the last "didn't" before "because" (a
    relative clause in the subject may have its own); the subject's noun is
    the first noun before it, the object's the first noun after its verb.

    Example:
        >>> pieces = "The cat that didn ' t sleep didn ' t eat the fish because it was too hot .".split()
        >>> noun_positions(pieces)
        ([1], [12])
        >>> noun_positions("He didn ' t eat the fish because it was too hot .".split()) is None
        True
    """
    grouped = words(pieces)
    text = [word for word, _ in grouped]
    because = text.index("because")
    main = max(i for i in range(because) if text[i] == "didn")
    subject = [p for word, p in grouped[:main] if word.lower() in ENGLISH_NOUNS]
    obj = [p for word, p in grouped[main + 4 : because] if word in ENGLISH_NOUNS]  # didn ' t VERB ...
    return (subject[0], obj[0]) if subject and obj else None


def source_pieces(translator, sentence: str) -> tuple[np.ndarray, list[str]]:
    """The encoder's input for ``sentence``: its ids and their pieces, ``[START]`` and ``[END]`` included."""
    ids = translator.source_ids([sentence])[0].numpy()
    ids = ids[ids != PAD_ID]
    pieces = [p.decode() for p in translator.source_tokenizer.lookup(ids[None]).numpy()[0]]
    return ids, pieces


def attention_from_it(translator, sentence: str) -> tuple[np.ndarray, list[str]]:
    """Encoder self-attention from the "it" after "because": ``[layers, heads, S]``, and the pieces."""
    ids, pieces = source_pieces(translator, sentence)
    target = np.array([[START_ID]], ids.dtype)  # the target plays no part in the encoder
    _, attention = translator.model.call_with_attention((ids[None], target), training=False)
    weights = np.stack([w[0] for w in attention.encoder])  # (layers, heads, S, S) of the one sentence
    it = pieces.index("it", pieces.index("because"))
    return weights[:, :, it, :], pieces


def weights_on_nouns(translator, family: list[FamilySentence]):
    """For each sentence with two nouns, "it"'s weights on the meant noun and on the other one.

    Returns ``(meant, other, kept)``: two float arrays ``[sentences, layers,
    heads]`` (a noun's weight is the sum over its pieces) and the sentences
    they belong to (those with a pronoun subject, "He didn't...", have one
    noun and nothing to choose: left out).
    """
    meant, other, kept = [], [], []
    for sentence in family:
        weights, pieces = attention_from_it(translator, sentence.english)
        nouns = noun_positions(pieces)
        if nouns is None:
            continue
        on_subject, on_object = (weights[..., positions].sum(-1) for positions in nouns)
        meant.append(on_subject if sentence.subject_is_meant else on_object)
        other.append(on_object if sentence.subject_is_meant else on_subject)
        kept.append(sentence)
    return np.array(meant), np.array(other), kept


def pronoun_in_targets(family: list[FamilySentence]) -> dict[str, tuple[int, int]]:
    """How many Portuguese targets write "porque ele/ela/eles/elas", per referent:
    ``{"subject": (with the pronoun, sentences), "object": (...)}``."""
    pronoun = re.compile(r"\bporque (ele|ela|eles|elas)\b")
    counts = {}
    for case, meant in (("subject", True), ("object", False)):
        chosen = [s for s in family if s.subject_is_meant == meant]
        counts[case] = (sum(bool(pronoun.search(s.portuguese)) for s in chosen), len(chosen))
    return counts


def adjective_reads(translator, family: list[FamilySentence]) -> dict[str, np.ndarray]:
    """Where the decoder looks when it writes the Portuguese adjective.

    For each sentence with two nouns, the cross-attention row of the decoder
    position that outputs the adjective's first piece (teacher-forced on the
    model's own translation), averaged over layers and heads, summed over the
    pieces of the English adjective, of the noun "it" means, of the other
    noun and of "it". Returns ``{"adjective", "meant", "other", "it"}``, each
    a float array over the sentences kept (those with a pronoun subject are
    left out, as in ``weights_on_nouns``).
    """
    found = {"adjective": [], "meant": [], "other": [], "it": []}
    for sentence in family:
        view = translator.attention(sentence.english)
        pieces = view.source_tokens
        nouns = noun_positions(pieces)
        words_out = [t for t in view.target_tokens if t not in ("[START]", "[END]")]
        if nouns is None or not words_out or "because" not in pieces:
            continue
        # The output adjective: the last word before the final "."; its first piece's position.
        target = view.target_tokens
        last = max(i for i, t in enumerate(target) if t not in (".", "[END]"))
        first = last
        while first > 1 and target[first].startswith("##"):
            first -= 1
        row = view.weights[:, :, first - 1, :].mean(axis=(0, 1))  # the position that outputs it
        source_words = words(pieces)
        adjective = next(p for word, p in reversed(source_words) if word not in (".", "[END]"))
        it = [pieces.index("it", pieces.index("because"))]
        subject, obj = nouns
        meant, other = (subject, obj) if sentence.subject_is_meant else (obj, subject)
        for name, positions in (("adjective", adjective), ("meant", meant), ("other", other), ("it", it)):
            found[name].append(float(row[positions].sum()))
    return {name: np.array(values) for name, values in found.items()}
