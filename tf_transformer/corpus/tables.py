"""The grammar's closed word tables: subject pronouns, determiners, the contractions of
de/em/a/por with articles and demonstratives ("do", "na", "ao", "pelo"), time adverbs
with the tenses they fit, and the adjectives and verbs of the "animal / street" family;
with :func:`contract`, which joins a preposition to the phrase after it.
"""

from __future__ import annotations

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
