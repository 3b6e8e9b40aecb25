"""The embedded corpus: reproducible, sized, leak-free, and rich enough."""

import gzip
import re
import runpy
import sys

import pytest

from tf_transformer.constants import CLASSIC_SENTENCES, EMBEDDED_SPLITS
from tf_transformer.corpus import corpus, lexicon

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def splits():
    return {split: corpus.read(split) for split in EMBEDDED_SPLITS}


def test_regenerating_reproduces_the_committed_files(tmp_path):
    corpus.write(corpus.generate(), tmp_path)
    for split in EMBEDDED_SPLITS:
        committed = corpus.DEFAULT_OUT / f"{split}.tsv.gz"
        fresh = tmp_path / f"{split}.tsv.gz"
        assert gzip.decompress(fresh.read_bytes()) == gzip.decompress(committed.read_bytes()), split
        # Same zlib gives the same compressed bytes (mtime=0, fixed file name).
        assert fresh.read_bytes() == committed.read_bytes(), split


def test_split_sizes(splits):
    assert {s: len(p) for s, p in splits.items()} == corpus.SPLIT_SIZES
    assert len(splits["train"]) >= 100_000 and len(splits["generalization"]) >= 1_000


def test_no_sentence_leaks_into_train_and_none_repeats(splits):
    train = {pt for pt, _ in splits["train"]}
    for split in ("validation", "test", "generalization"):
        assert not train & {pt for pt, _ in splits[split]}, split
    everything = [pt for pairs in splits.values() for pt, _ in pairs]
    assert len(everything) == len(set(everything))


def test_each_portuguese_sentence_has_one_translation(splits):
    seen = {}
    for pairs in splits.values():
        for pt, en in pairs:
            assert seen.setdefault(pt, en) == en


def test_classic_example_is_in_test_and_its_family_in_train(splits):
    assert set(CLASSIC_SENTENCES) <= set(splits["test"])
    assert (
        "O animal não atravessou a rua porque estava muito cansado.",
        "The animal didn't cross the street because it was too tired.",
    ) in splits["test"]
    siblings = [pair for pair in splits["train"] if pair[0].startswith(corpus.CLASSIC_STEM)]
    assert len(siblings) >= 5
    assert any(en.endswith("it was too wide.") for _, en in siblings)
    # The family with people: the adjective's gender picks he / she.
    family = [en for _, en in splits["train"] if " because " in en and " too " in en]
    assert len(family) > 3000
    assert any("because he was too tired." in en for en in family)
    assert any("because she was too tired." in en for en in family)


def test_vocabulary_and_lengths(splits):
    forms = {f for pairs in splits.values() for pt, _ in pairs for f in corpus.forms(pt)}
    assert len(forms) >= 1500
    lengths = [len(pt.split()) for pairs in splits.values() for pt, _ in pairs]
    assert min(lengths) >= 3 and max(lengths) <= 30
    train = [len(pt.split()) for pt, _ in splits["train"]]
    assert 9.5 <= sum(train) / len(train) <= 14


def test_natural_text_and_phenomena(splits):
    pairs = splits["train"]
    pt_text = "\n".join(pt for pt, _ in pairs)
    en_text = "\n".join(en for _, en in pairs)
    assert all(pt[0].isupper() and en[0].isupper() for pt, en in pairs)
    assert all(pt[-1] in ".?" and en[-1] == pt[-1] for pt, en in pairs)
    for word in (
        "do",
        "da",
        "no",
        "na",
        "pelo",
        "pela",
        "ao",
        "à",
        "neste",
        "daquele",
        "porque",
        "quando",
        "se",
        "que",
        "não",
        "mas",
        "dela",
        "minha",
    ):
        assert re.search(rf"\b{word}\b", pt_text), word
    for phrase in (
        "didn't",
        "doesn't",
        "don't",
        "won't",
        "wasn't",
        "isn't",
        "I'm not",
        "'s ",
        " an ",
        "Did ",
        "Does ",
        "Why ",
        "Who ",
        "What ",
        "Where ",
        " who ",
        " that ",
        " because ",
        " when ",
        "If ",
        " but ",
        " was ",
        "ing ",
    ):
        assert phrase in en_text, phrase
    # Subject drop: a sentence starting with a verb that English gives a pronoun.
    assert ("Comemos o bolo todos os dias.", "We eat the cake every day.") in pairs or any(
        pt.startswith("Comi ") and en.startswith("I ate ") for pt, en in pairs
    )


def test_generalization_holds_out_combined_structures(splits):
    def relative(pt):  # "que" that is not the question word ("O que", "Por que")
        return re.search(r"(?<!^O)(?<!^Por) que ", pt) is not None

    def subordinate(pt):
        return re.search(r"\b(porque|quando|[Ss]e)\b", pt) is not None

    assert not any(relative(pt) and subordinate(pt) for pt, _ in splits["train"])
    gen = splits["generalization"]
    assert sum(relative(pt) and subordinate(pt) for pt, _ in gen) > 0.4 * len(gen)
    mean = lambda pairs: sum(len(pt.split()) for pt, _ in pairs) / len(pairs)  # noqa: E731
    assert mean(gen) > mean(splits["train"]) + 4


def test_data_card_statistics_are_current():
    card = corpus.README.read_text(encoding="utf-8")
    block = card.split("<!-- stats:begin -->\n")[1].split("\n<!-- stats:end -->")[0]
    assert block == corpus.statistics()


def test_conjugation():
    assert lexicon.conjugate("falar")["pret"] == ("falei", "falaste", "falou", "falámos", "falaram")
    assert lexicon.conjugate("brincar")["pret"][0] == "brinquei"
    assert lexicon.conjugate("comer")["impf"] == ("comia", "comias", "comia", "comíamos", "comiam")
    assert lexicon.conjugate("ter")["pres"][4] == "têm"


def test_generator_runs_as_a_module(capsys, monkeypatch):
    # `python -m tf_transformer.corpus` reaches corpus.main.
    monkeypatch.setattr(sys, "argv", ["generator", "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("tf_transformer.corpus", run_name="__main__")
    assert exit_.value.code == 0
    assert "--update-readme" in capsys.readouterr().out


# ------------------------------------------- the "it" family's variants (issue 34, item 2)
SMALL = {"validation": 150, "test": 150, "generalization": 100, "train": 2500}
IT_PRONOUN = re.compile(r"\bporque (ele|ela|eles|elas)\b")


def in_family(pair) -> bool:
    # only the family says "too" ("porque ... muito ADJ" -> "because ... too ADJ")
    return " too " in pair[1]


@pytest.fixture(scope="module")
def variants():
    return {
        "default": corpus.generate(sizes=SMALL),
        "always": corpus.generate(sizes=SMALL, it_pronoun="always", it_referent="balanced"),
        "never": corpus.generate(sizes=SMALL, it_pronoun="never", it_referent="balanced"),
        "never_in_place": corpus.generate(sizes=SMALL, it_pronoun="never"),
    }


def test_the_variants_write_or_drop_the_pronoun_in_every_family_target(variants):
    for name, writes in (("always", True), ("never", False)):
        for split, pairs in variants[name].items():
            family = [pair for pair in in_family_pairs(pairs) if pair not in CLASSIC_SENTENCES]
            assert len(family) > 5, (name, split)
            assert all(bool(IT_PRONOUN.search(pt)) == writes for pt, _ in family), (name, split)


def in_family_pairs(pairs):
    return [pair for pair in pairs if in_family(pair)]


def test_a_balanced_family_says_it_and_means_either_noun_equally(variants):
    from tf_transformer.corpus.grammar import STATE_ADJECTIVES

    stems = tuple(a[:-1] for a in STATE_ADJECTIVES)
    for name in ("always", "never"):
        family = in_family_pairs(variants[name]["train"])
        assert all(re.search(r"\bbecause it (was|is) too \w+\.$", en) for _, en in family), name
        subject = sum(pt.rstrip(".").split()[-1].startswith(stems) for pt, _ in family)
        assert 0.4 < subject / len(family) < 0.6, (name, subject, len(family))
    # by default "it" mostly means the object (a person subject is "he" or "she")
    family = [p for p in in_family_pairs(variants["default"]["train"]) if " because it " in p[1]]
    subject = sum(pt.rstrip(".").split()[-1].startswith(stems) for pt, _ in family)
    assert subject / len(family) < 0.3


def test_every_other_line_is_the_default_corpus_line_in_the_same_order(variants):
    for name in ("always", "never"):
        for split in ("train", "validation", "generalization"):  # (test is shuffled as a whole)
            default = [p for p in variants["default"][split] if not in_family(p)]
            variant = [p for p in variants[name][split] if not in_family(p)]
            shorter = min(len(default), len(variant))  # (the family's share moves the end a little)
            assert variant[:shorter] == default[:shorter], (name, split)
        assert {p for p in variants[name]["test"] if not in_family(p)} <= set(
            corpus.generate(sizes={**SMALL, "test": 400})["test"]
        )


def test_the_pronoun_option_alone_changes_only_the_pronoun(variants):
    # without it_referent the family is the default's own sentences, the pronoun left out (a
    # sentence that becomes one already drawn is drawn again, as any repeat)
    default, never = variants["default"]["train"], variants["never_in_place"]["train"]
    without = {IT_PRONOUN.sub("porque", pt): en for pt, en in default if in_family((pt, en))}
    family = [(pt, en) for pt, en in never if in_family((pt, en))]
    assert family and all(without.get(pt) == en for pt, en in family)
    assert any(IT_PRONOUN.search(pt) for pt, en in default if in_family((pt, en)))
    rest = [p for p in default if not in_family(p)], [p for p in never if not in_family(p)]
    shorter = min(map(len, rest))
    assert rest[0][:shorter] == rest[1][:shorter]


def test_the_default_options_are_the_shipped_corpus(variants):
    # (test_regenerating_reproduces_the_committed_files checks the full corpus byte for byte)
    assert corpus.generate(sizes=SMALL, it_pronoun=None, it_referent=None) == variants["default"]


def test_bad_variant_options_and_the_shipped_corpus_are_refused(tmp_path, capsys, monkeypatch):
    with pytest.raises(ValueError, match="it_pronoun"):
        corpus.generate(sizes=SMALL, it_pronoun="sometimes")
    with pytest.raises(ValueError, match="it_referent"):
        corpus.generate(sizes=SMALL, it_referent="subject")
    with pytest.raises(SystemExit):
        corpus.main(["--it-pronoun", "always"])  # over data/embedded_pt_en: never
    assert "never replaces the shipped one" in capsys.readouterr().err
    generate = corpus.generate
    monkeypatch.setattr(corpus, "generate", lambda seed, **options: generate(seed, SMALL, **options))
    corpus.main(["--out", str(tmp_path), "--it-pronoun", "never", "--it-referent", "balanced"])
    assert "wrote" in capsys.readouterr().out
    family = in_family_pairs(corpus.read("train", tmp_path))
    assert family and not any(IT_PRONOUN.search(pt) for pt, _ in family)
