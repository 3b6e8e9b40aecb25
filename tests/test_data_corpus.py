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
