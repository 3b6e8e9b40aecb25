"""Generate the embedded Portuguese→English corpus in ``data/embedded_pt_en``.

The corpus is made by this project from its own lexicon
(:mod:`~tf_transformer.corpus.lexicon`) and grammar
(:mod:`~tf_transformer.corpus.grammar`); nothing is downloaded. It is
deterministic: the same seed gives the same bytes.

Run::

    python -m tf_transformer.corpus                 # (re)write data/embedded_pt_en
    python -m tf_transformer.corpus --out /tmp/x    # somewhere else
    python -m tf_transformer.corpus --stats         # print the data card tables
    python -m tf_transformer.corpus --update-readme # refresh them in data/README.md

Splits (one pair a line, ``pt<TAB>en``, gzip):

- ``train`` (100,000), ``validation`` (2,000), ``test`` (2,000): the same
  distribution. Every sentence has at most ONE clause-level extension: a
  relative clause, a subordinate clause (porque / quando / se) or a
  coordination (e / mas).
- ``generalization`` (1,000): sentences that combine TWO extensions (a
  relative clause inside a sentence with a subordinate clause, a relative
  clause inside a coordination, a subordinate clause with a coordinated main
  clause, the porque family with a relative clause). Every part is seen in
  training, the combination never is.

No Portuguese sentence of validation, test or generalization occurs in
train, and no sentence occurs twice in the whole corpus.

Variants of the "animal / street" family (issue 34: does the encoder's "it"
resolve its referent when the target does, or does not, name it?), for
experiments only, written elsewhere than the shipped corpus::

    python -m tf_transformer.corpus --out /tmp/always --it-pronoun always --it-referent balanced

- ``it_pronoun="always"`` (``--it-pronoun always``): the family's reason
  clause always writes its Portuguese subject pronoun ("porque ele estava
  muito cansado"); ``"never"``: it leaves it out wherever Portuguese may (a
  third-person pronoun always; "eu estava" keeps its "eu"). ``None`` (the
  default): as the shipped corpus, subject referents drop it, object
  referents write it 40% of the time.
- ``it_referent="balanced"`` (``--it-referent balanced``): every family
  sentence has the classic's shape, a singular animal subject and a singular
  object, so English says "it" whichever is meant, and the subject or the
  object is meant with equal chance. (By default most family sentences whose
  English says "it" mean the object: a person subject is "he" or "she".)
  These sentences come from their own random stream, so every other line of
  the corpus is the default corpus's line, in the same place.

The defaults give the shipped files, byte for byte.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import pathlib
import random
import re

from tf_transformer.constants import (
    CLASSIC_SENTENCES,
    GENERALIZATION_SPLIT,
    TEST_SPLIT,
    TRAIN_SPLIT,
    VALIDATION_SPLIT,
)
from tf_transformer.corpus import lexicon as lx
from tf_transformer.corpus.grammar import (
    FAMILY_VERBS,
    STATE_ADJECTIVES,
    Clause,
    Grammar,
    Ref,
    _Retry,
    finish,
)
from tf_transformer.data._paths import checkout_data_dir, embedded_corpus_dir

SEED = 20240611
IT_PRONOUN_CHOICES = ("always", "never")  # generate(it_pronoun=...); None: the shipped corpus
IT_REFERENT_CHOICES = ("balanced",)  # generate(it_referent=...); None: the shipped corpus
# In generation order: the held-out splits first, so that train can avoid their sentences.
SPLIT_SIZES = {VALIDATION_SPLIT: 2000, TEST_SPLIT: 2000, GENERALIZATION_SPLIT: 1000, TRAIN_SPLIT: 100_000}
MAX_WORDS = 30
MIN_WORDS = 3

CLASSIC_STEM = "O animal não atravessou a rua porque"

# The generator rewrites the checkout's files; an installed package only reads its own copy.
_CHECKOUT = checkout_data_dir()
DEFAULT_OUT = _CHECKOUT / "embedded_pt_en" if _CHECKOUT else None
README = _CHECKOUT / "README.md" if _CHECKOUT else None


def comma(ws: list[str]) -> list[str]:
    return ws[:-1] + [ws[-1] + ","]


class Sentences:
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
        """``it_pronoun`` and ``it_referent``: see the module docstring. A balanced
        family is drawn from ``family_rng``, its own stream, so that ``rng`` makes
        the same choices, and so the same other sentences, as without it."""
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
        verb = g.verbs[g.pick(verbs)]
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
        if g.chance(0.5):
            pool = [a for a in STATE_ADJECTIVES if set(g.adjectives[a].kinds) & set(subj.kinds)]
            if not pool:
                raise _Retry
            adj, about = g.adjectives[g.pick(pool)], subj.as_pronoun()
            drop = True
        else:
            adj, about = g.adjectives[g.pick(FAMILY_VERBS[verb.inf][kind])], obj.as_pronoun()
            drop = g.chance(0.6)
        if self.it_pronoun is not None:  # (after the draws above: the stream stays the default's)
            drop = self.it_pronoun == "never"
        sub = g.copula(
            subj=about, tense=sub_tense, neg=False, kind="adj", adjective=adj, degree="too", drop=drop
        )
        return main.pt() + ["porque"] + sub.pt(), main.en() + ["because"] + sub.en(), "."

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

    def family_relative(self):
        g = self.g
        if self.balanced:  # a singular animal, as the balanced family's subjects
            head = g.np(("animal",), muito=False, adjectives=[], plural=False)
        else:
            head = g.np(("person", "animal"), muito=False, adjectives=[])
        return self.family(subj=self.relative_clause(head))


def generate(
    seed: int = SEED,
    sizes: dict[str, int] | None = None,
    *,
    it_pronoun: str | None = None,
    it_referent: str | None = None,
) -> dict[str, list[tuple[str, str]]]:
    """All splits as lists of (pt, en) pairs.

    Each split has its own random stream (seeded by ``seed`` and the split
    name), so changing the size of train does not change the test split.
    The pt -> en mapping is checked to be a function over the whole corpus.
    ``it_pronoun`` (``"always"``, ``"never"``) and ``it_referent``
    (``"balanced"``) make a variant of the "animal / street" family (the
    module docstring says how); ``None``, the default, gives the shipped corpus.
    """
    sizes = sizes or SPLIT_SIZES
    seen: dict[str, str] = dict(CLASSIC_SENTENCES)
    out = {}
    for split in SPLIT_SIZES:
        maker = Sentences(
            random.Random(f"{seed}-{split}"),
            it_pronoun=it_pronoun,
            it_referent=it_referent,
            family_rng=random.Random(f"{seed}-{split}-family") if it_referent else None,
        )
        table = Sentences.COMBINED if split == GENERALIZATION_SPLIT else Sentences.SIMPLE
        pairs = list(CLASSIC_SENTENCES) if split == TEST_SPLIT else []
        while len(pairs) < sizes[split]:
            pt, en = maker.draw(table)
            if split != TRAIN_SPLIT and pt.startswith(CLASSIC_STEM):
                continue  # the classic's closest siblings are kept for training
            if pt in seen:
                if seen[pt] != en:
                    raise AssertionError(
                        f"one Portuguese sentence, two translations:\n{pt}\n{seen[pt]}\n{en}"
                    )
                continue
            seen[pt] = en
            pairs.append((pt, en))
        if split == TEST_SPLIT:
            random.Random(f"{seed}-test-order").shuffle(pairs)
        out[split] = pairs
    return out


def write(splits: dict[str, list[tuple[str, str]]], out_dir: pathlib.Path) -> None:
    """Write ``<split>.tsv.gz`` files whose bytes depend only on the pairs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, pairs in splits.items():
        data = "".join(f"{pt}\t{en}\n" for pt, en in pairs).encode("utf-8")
        with open(out_dir / f"{split}.tsv.gz", "wb") as raw:
            with gzip.GzipFile(
                filename=f"{split}.tsv", mode="wb", fileobj=raw, compresslevel=9, mtime=0
            ) as gz:
                gz.write(data)


def read(split: str, data_dir: pathlib.Path | str | None = None) -> list[tuple[str, str]]:
    """Read one split back as (pt, en) pairs (default: the shipped corpus)."""
    data_dir = pathlib.Path(data_dir) if data_dir else embedded_corpus_dir()
    with gzip.open(data_dir / f"{split}.tsv.gz", "rt", encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f]


# ----------------------------------------------------------------- statistics
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def forms(sentence: str) -> list[str]:
    """Lower-cased word forms of a sentence, punctuation removed."""
    return [w.lower() for w in _WORD.findall(sentence)]


def statistics(data_dir: pathlib.Path | str | None = None) -> str:
    """The data card's tables, as Markdown, computed from the files."""
    splits = {s: read(s, data_dir) for s in SPLIT_SIZES}
    lines = [
        "| split | pairs | pt words | en words | mean pt length | min-max pt length |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    all_pt, all_en = collections.Counter(), collections.Counter()
    for split, pairs in splits.items():
        pt_len = [len(p.split()) for p, _ in pairs]
        en_len = [len(e.split()) for _, e in pairs]
        for p, e in pairs:
            all_pt.update(forms(p))
            all_en.update(forms(e))
        lines.append(
            f"| {split} | {len(pairs):,} | {sum(pt_len):,} | {sum(en_len):,} | "
            f"{sum(pt_len) / len(pairs):.1f} | {min(pt_len)}-{max(pt_len)} |"
        )
    train_pt = collections.Counter(w for p, _ in splits["train"] for w in forms(p))
    lines += [
        "",
        f"Distinct Portuguese word forms (lower-cased): {len(all_pt):,} in all, "
        f"{len(train_pt):,} in train; English: {len(all_en):,}.",
        "",
        "Sentence length in Portuguese words (share of each split):",
        "",
        "| words | " + " | ".join(SPLIT_SIZES) + " |",
        "|---|" + "---:|" * len(SPLIT_SIZES),
    ]
    bins = [(1, 5), (6, 8), (9, 11), (12, 14), (15, 17), (18, 20), (21, 25), (26, 30)]
    for lo, hi in bins:
        row = []
        for split in SPLIT_SIZES:
            n = sum(lo <= len(p.split()) <= hi for p, _ in splits[split])
            row.append(f"{100 * n / len(splits[split]):.1f}%")
        lines.append(f"| {lo}-{hi} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def update_readme(data_dir=None, readme=README) -> None:
    text = readme.read_text(encoding="utf-8")
    begin, end = "<!-- stats:begin -->", "<!-- stats:end -->"
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    readme.write_text(f"{head}{begin}\n{statistics(data_dir)}\n{end}{tail}", encoding="utf-8")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=DEFAULT_OUT,
        help="where to write (default: the checkout's data/embedded_pt_en)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--it-pronoun",
        choices=IT_PRONOUN_CHOICES,
        help='a variant: the "porque ..." family always / never writes its Portuguese pronoun '
        "(experiments only; default: the shipped corpus)",
    )
    parser.add_argument(
        "--it-referent",
        choices=IT_REFERENT_CHOICES,
        help='a variant: the family always says "it", meaning the subject or the object with equal '
        "chance (experiments only)",
    )
    parser.add_argument("--stats", action="store_true", help="print statistics of --out")
    parser.add_argument(
        "--update-readme", action="store_true", help="write the statistics of --out into data/README.md"
    )
    args = parser.parse_args(argv)
    if args.out is None:
        parser.error("not running from a checkout: say where to write with --out")
    if args.stats or args.update_readme:
        if args.update_readme:
            update_readme(args.out)
        print(statistics(args.out))
        return
    variant = dict(it_pronoun=args.it_pronoun, it_referent=args.it_referent)
    if any(variant.values()) and DEFAULT_OUT is not None and args.out.resolve() == DEFAULT_OUT.resolve():
        parser.error("a variant corpus never replaces the shipped one: say where to write it with --out")
    write(generate(args.seed, **variant), args.out)
    print(f"wrote {', '.join(SPLIT_SIZES)} to {args.out}")


if __name__ == "__main__":
    main()
