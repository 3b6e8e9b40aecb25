"""Your own corpus: TSV/CSV and line-aligned files, bad lines skipped and counted,
deterministic carving, caching by content, any script, and the `prepare` report."""

import argparse
import gzip
import importlib
import os
import random

import pytest
import tensorflow as tf
from helpers.corpora import chinese_pairs

from tf_transformer.data import DatasetSpec, load_dataset, load_tokenizers, local, prepare, vocab_files

# The module, not the function that tf_transformer.data exports under the same name.
prepare_module = importlib.import_module("tf_transformer.data.prepare")
data_cli = importlib.import_module("tf_transformer.data.cli")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ATTRIBUTION = "CC-BY 2.0 (France) Attribution: tatoeba.org #{}"
GOOD = [(f"Eu tenho {n} gatos.", f"I have {n} cats.") for n in range(40)]  # (pt, en)
# One line of each kind of trouble, in an Anki/Tatoeba export (English<TAB>Portuguese<TAB>attribution).
DIRTY_LINES = [
    b"Only one column here",  # columns
    b"One\ttoo\tmany\tcolumns",  # columns
    "\tOlá.\tattr".encode(),  # empty (English side)
    b"Hello.\t   \tattr",  # empty (Portuguese side, only spaces)
    b"",  # empty (a blank line)
    b"Caf\xe9 latte.\tCaf\xc3\xa9 com leite.\tattr",  # invalid_utf8 (Latin-1 bytes)
    ("Long " * 300).encode() + b"\tLongo.\tattr",  # too_long (1,500 characters)
    b"I have 3 cats.\tEu tenho 3 gatos.\tattr",  # duplicate of a good pair
    b"I have 3 cats.\tEu tenho 3 gatos.\tattr",  # duplicate again
    b"Binary\x00junk.\tLixo\x00bin\xc3\xa1rio.\tattr",  # nul_bytes (a binary file's bytes)
]
DIRTY_COUNTS = {"invalid_utf8": 1, "columns": 2, "empty": 3, "too_long": 1, "duplicate": 2, "nul_bytes": 1}


def anki_bytes(pairs, extra=()):
    lines = [f"{en}\t{pt}\t{ATTRIBUTION.format(i)}".encode() for i, (pt, en) in enumerate(pairs)]
    lines[3:3] = extra  # bad lines in the middle, not only at the end
    return b"\r\n".join(lines) + b"\r\n"  # Windows line ends, as exports often have


@pytest.fixture
def dirty_tsv(tmp_path):
    path = tmp_path / "corpus" / "por.txt"
    path.parent.mkdir()
    path.write_bytes(b"\xef\xbb\xbf" + anki_bytes(GOOD, DIRTY_LINES))  # with a UTF-8 BOM
    return path


def anki_spec(path, **options):
    return DatasetSpec.parse(f"tsv:{path}", source_column=1, target_column=0, **options)


def read_all(spec, data_dir, split):
    return [
        (s.decode(), t.decode()) for s, t in load_dataset(spec, split, data_dir=data_dir).as_numpy_iterator()
    ]


def test_dirty_tsv_skips_and_counts_every_kind_of_bad_line(dirty_tsv, tmp_path):
    info = local.prepare_local(anki_spec(dirty_tsv), tmp_path / "tfds")
    print("skipped:", info["skipped"], "splits:", info["splits"])
    assert info["skipped"] == DIRTY_COUNTS
    assert sum(info["splits"].values()) == len(GOOD)
    assert info["carved"] == ["validation", "test"]
    everything = [
        pair
        for split in ("train", "validation", "test")
        for pair in read_all(anki_spec(dirty_tsv), tmp_path / "tfds", split)
    ]
    assert sorted(everything) == sorted(GOOD)  # Portuguese first: --source-column 1


def test_prepared_files_live_in_the_data_dir_and_nowhere_else(dirty_tsv, tmp_path):
    data_dir = tmp_path / "tfds"
    info = local.prepare_local(anki_spec(dirty_tsv), data_dir)
    assert info["path"].startswith(str(data_dir / "tf_transformer" / "local" / "por.txt-"))
    assert sorted(p.name for p in dirty_tsv.parent.iterdir()) == ["por.txt"]


def test_carving_is_deterministic_and_keeps_a_source_sentence_in_one_split(tmp_path):
    pairs = [(f"Frase número {n}.", f"Sentence number {n}.") for n in range(400)]
    pairs += [("Frase número 7.", "Sentence no. 7."), ("Frase número 8.", "The 8th sentence.")]
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    spec = DatasetSpec.parse(f"tsv:{path}")
    runs = [
        {split: read_all(spec, tmp_path / data, split) for split in ("train", "validation", "test")}
        for data in ("one", "two")
    ]
    assert runs[0] == runs[1]
    sizes = {split: len(p) for split, p in runs[0].items()}
    print("carved sizes:", sizes)
    assert sizes["validation"] >= local.held_out_size(402) and sizes["test"] >= local.held_out_size(402)
    assert sum(sizes.values()) == 402
    where = {}
    for split, split_pairs in runs[0].items():
        for source, _ in split_pairs:
            assert where.setdefault(source, split) == split


def test_a_changed_file_is_prepared_again_never_served_stale(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in GOOD), encoding="utf-8")
    spec = DatasetSpec.parse(f"tsv:{path}")
    first = local.prepare_local(spec, tmp_path)
    path.write_text("".join(f"{s}\t{t}\n" for s, t in GOOD[:30]), encoding="utf-8")
    second = local.prepare_local(spec, tmp_path)
    assert first["path"] != second["path"] and sum(second["splits"].values()) == 30


def test_reverse_swaps_the_sides(dirty_tsv, tmp_path):
    forward = read_all(anki_spec(dirty_tsv), tmp_path, "train")
    backward = read_all(anki_spec(dirty_tsv, reverse=True), tmp_path, "train")
    assert backward == [(t, s) for s, t in forward]
    # Swapping the columns reads the same pairs English-first; the carving then hashes
    # the English sentences, so only the union of the splits is the same.
    spec = DatasetSpec.parse(f"tsv:{dirty_tsv}")
    by_columns = [p for split in ("train", "validation", "test") for p in read_all(spec, tmp_path, split)]
    assert sorted(by_columns) == sorted((en, pt) for pt, en in GOOD)


def test_gzipped_csv_with_quoted_commas(tmp_path):
    path = tmp_path / "memory.csv.gz"
    rows = [f'"Hello, {n}!","Olá, {n}!",note' for n in range(30)] + ['"broken,quote', "a,b"]
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
    info = local.prepare_local(DatasetSpec.parse(f"tsv:{path}"), tmp_path)
    assert sum(info["splits"].values()) == 30 and info["skipped"]["columns"] == 2
    assert ("Hello, 0!", "Olá, 0!") in read_all(
        DatasetSpec.parse(f"tsv:{path}"), tmp_path, "train"
    ) + read_all(DatasetSpec.parse(f"tsv:{path}"), tmp_path, "validation") + read_all(
        DatasetSpec.parse(f"tsv:{path}"), tmp_path, "test"
    )


def test_missing_column_is_a_clear_error(dirty_tsv, tmp_path):
    spec = DatasetSpec.parse(f"tsv:{dirty_tsv}", source_column=4, target_column=0)
    with pytest.raises(ValueError, match="3 column.*column 4 was asked for"):
        local.prepare_local(spec, tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_dataset(f"tsv:{tmp_path / 'nowhere.tsv'}", "train", data_dir=tmp_path)
    with pytest.raises(ValueError, match="is a folder, not a corpus file"):
        local.prepare_local(DatasetSpec.parse(f"tsv:{tmp_path}"), tmp_path / "tfds")
    (tmp_path / "bad.tsv").write_text("word\t\n" * 150, encoding="utf-8")  # every target empty
    with pytest.raises(ValueError, match=r"only 0 usable pairs: .*; lines skipped: empty 150$"):
        local.prepare_local(DatasetSpec.parse(f"tsv:{tmp_path / 'bad.tsv'}"), tmp_path / "tfds")
    os.mkfifo(tmp_path / "pipe.tsv")
    with pytest.raises(ValueError, match="is not a regular file .*copy it into a file first"):
        local.prepare_local(DatasetSpec.parse(f"tsv:{tmp_path / 'pipe.tsv'}"), tmp_path / "tfds")


def write_lines(path, lines):
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def test_line_aligned_files_with_their_own_splits(tmp_path):
    # The layout of the TED archive and of many OPUS/WMT downloads: train.pt + train.en, dev.*, test.*
    folder = tmp_path / "pt_to_en"
    folder.mkdir()
    for split, n in (("train", 30), ("dev", 5), ("test", 4)):
        pt = [f"{split} frase {i} .".encode() for i in range(n)]
        en = [f"{split} sentence {i} .".encode() for i in range(n)]
        if split == "train":
            pt[2], en[5] = b"caf\xe9", b""  # invalid_utf8; empty
        write_lines(folder / f"{split}.pt", pt)
        write_lines(folder / f"{split}.en", en)
    spec = DatasetSpec.parse(f"text:{folder / 'train.pt'},{folder / 'train.en'}")
    assert spec.languages == ("pt", "en")
    assert DatasetSpec.parse(spec, reverse=True).languages == ("en", "pt")
    info = local.prepare_local(spec, tmp_path / "tfds")
    assert info["splits"] == {"train": 28, "validation": 5, "test": 4} and info["carved"] == []
    assert info["skipped"] == {
        **dict.fromkeys(local.SKIP_KINDS, 0),
        "invalid_utf8": 1,
        "empty": 1,
    }
    assert read_all(spec, tmp_path / "tfds", "test")[0] == ("test frase 0 .", "test sentence 0 .")


def test_line_aligned_files_of_different_lengths_are_refused_with_where_they_part(tmp_path):
    # One line lost in the middle of the second file shifts every pair after it: refused, with
    # both counts and the line where the shift begins (found from the lines' lengths).
    rng = random.Random(0)
    words = [rng.choice(["alpha", "beta", "gamma", "delta", "epsilon"]) for _ in range(4000)]
    source = [" ".join(words[i : i + rng.randint(1, 12)]) for i in range(300)]
    target = [line.upper() + "!" for line in source]
    source_path, target_path = tmp_path / "c.en", tmp_path / "c.pt"
    write_lines(source_path, [line.encode() for line in source])
    write_lines(target_path, [line.encode() for line in target[:150] + target[151:]])
    spec = DatasetSpec.parse(f"text:{source_path},{target_path}")
    message = r"c\.en has 300 lines and .*c\.pt has 299.*near line 151 of the first.*with line n-1"
    with pytest.raises(ValueError, match=message):
        local.prepare_local(spec, tmp_path / "tfds")
    assert not (tmp_path / "tfds").exists() or not any((tmp_path / "tfds").rglob("*.tfrecord*"))
    write_lines(target_path, [line.encode() for line in target[:-1]])  # the last line: no place to name
    with pytest.raises(ValueError, match=r"has 299: line-aligned files need one line per sentence"):
        local.prepare_local(spec, tmp_path / "tfds")


def test_one_pair_of_line_aligned_files_is_carved(tmp_path):
    source, target = tmp_path / "opus.de-en.de", tmp_path / "opus.de-en.en"
    write_lines(source, [f"Satz {i}.".encode() for i in range(50)])
    write_lines(target, [f"Sentence {i}.".encode() for i in range(50)])
    spec = DatasetSpec.parse(f"text:{source},{target}")
    info = local.prepare_local(spec, tmp_path)
    assert spec.languages == ("de", "en") and info["carved"] == ["validation", "test"]
    assert info["splits"]["validation"] >= 2 and sum(info["splits"].values()) == 50


def test_a_tsv_with_quoted_fields_and_a_header_gets_a_warning(tmp_path, capsys):
    path = tmp_path / "pairs.tsv"  # a CSV export saved as .tsv: quotes around every field, a header
    rows = ['"english"\t"portuguese"'] + [f'"I have {n} cats."\t"Eu tenho {n} gatos."' for n in range(60)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    summary = prepare(f"tsv:{path}", data_dir=tmp_path / "tfds", vocab_size=120)
    assert len(summary["warnings"]) == 1
    assert summary["warnings"][0].startswith("61 of the first 61 lines have both columns in double quotes")
    assert "warning     61 of the first 61 lines" in prepare_module.format_summary(summary)


def test_a_corpus_replaced_while_it_is_prepared_is_named(tmp_path, monkeypatch):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"I have {n} cats.\tEu tenho {n} gatos.\n" for n in range(60)), encoding="utf-8")
    real = local.prepare_local

    def prepare_then_replace(spec, data_dir=None):
        info = real(spec, data_dir)
        path.write_text(path.read_text(encoding="utf-8") + "One more.\tMais um.\n", encoding="utf-8")
        return info

    monkeypatch.setattr(local, "prepare_local", prepare_then_replace)
    with pytest.raises(
        ValueError, match=r"pairs\.tsv changed while it was being prepared .* prepare it again"
    ):
        prepare(f"tsv:{path}", data_dir=tmp_path / "tfds", vocab_size=120)


def test_chinese_to_english_vocabularies_and_round_trip(tmp_path):
    path = tmp_path / "zh-en.tsv"
    path.write_text("".join(f"{zh}\t{en}\n" for zh, en in chinese_pairs()), encoding="utf-8")
    spec = DatasetSpec.parse(f"tsv:{path}")
    summary = prepare(spec, data_dir=tmp_path / "tfds", vocab_size=300)
    print(prepare_module.format_summary(summary))
    assert summary["vocab_built"] and summary["round_trip"] == {"source": 1.0, "target": 1.0}
    assert summary["round_trip_split"] == "validation" and summary["round_trip_sentences"] >= 5
    assert all(str(tmp_path / "tfds") in p for p in summary["vocab"].values())
    tokenizers = load_tokenizers(spec, data_dir=tmp_path / "tfds")
    everything = load_dataset(spec, "train", data_dir=tmp_path / "tfds")
    assert prepare_module.round_trip(everything, tokenizers)["round_trip"] == {"source": 1.0, "target": 1.0}
    ids = tokenizers.source.tokenize(["他们喜欢音乐吗？"])
    pieces = [t.decode() for t in tokenizers.source.lookup(ids)[0].numpy()]
    assert pieces[0] == "[START]" and "".join(pieces[1:-1]) == "▁他们喜欢音乐吗？"  # SentencePiece's
    assert tokenizers.source.detokenize(ids).numpy()[0].decode() == "他们喜欢音乐吗？"
    # The same files, reversed: English -> Chinese, vocabularies swapped, nothing learned again.
    reverse = DatasetSpec.parse(spec, reverse=True)
    assert vocab_files(reverse, data_dir=tmp_path / "tfds") == {
        "source": vocab_files(spec, data_dir=tmp_path / "tfds")["target"],
        "target": vocab_files(spec, data_dir=tmp_path / "tfds")["source"],
    }
    assert prepare(reverse, data_dir=tmp_path / "tfds")["vocab_built"] is False


def test_prepare_command_prints_sizes_skipped_lines_vocabularies_and_round_trip(dirty_tsv, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    data_cli.add_commands(parser.add_subparsers())
    args = parser.parse_args(
        [
            "prepare",
            "--dataset",
            f"tsv:{dirty_tsv}",
            "--source-column",
            "1",
            "--target-column",
            "0",
            "--data-dir",
            str(tmp_path / "tfds"),
            "--vocab-size",
            "200",
        ]
    )
    assert args.run(args) == 0
    out = capsys.readouterr().out
    print(out)
    assert "(source -> target)" in out and "train" in out and "carved out of the one file" in out
    skipped = "skipped     10 lines: invalid_utf8 1, columns 2, empty 3, too_long 1, duplicate 2, nul_bytes 1"
    assert skipped in out
    assert "vocabulary  sentencepiece, learned in " + str(tmp_path / "tfds") in out
    assert "round trip  detokenize(tokenize(x)) == x on" in out


# ------------------------------------------------------------------- the spec
def test_spec_strings_round_trip_through_run_json(tmp_path):
    spec = DatasetSpec.parse("tsv:por.txt", source_column=1, target_column=0, reverse=True)
    assert spec.kind == "tsv" and spec.paths[0].is_absolute() and spec.paths[0].name == "por.txt"
    assert DatasetSpec.from_dict({**spec.to_dict(), "source_language": "source"}) == spec
    assert DatasetSpec.parse("embedded_pt_en") == DatasetSpec() and DatasetSpec().kind == "embedded"
    assert DatasetSpec.parse("ted_hrlr_translate/pt_to_en").kind == "tfds"
    assert str(spec).endswith("(columns 1->0, reversed)")


@pytest.mark.parametrize(
    "name,options,message",
    [
        ("pairs.tsv", {}, "write tsv:pairs.tsv"),
        ("embedded", {"source_column": 2}, "only apply to tsv"),
        ("tsv:x.tsv", {"source_column": 1, "target_column": 1}, "both 1"),
        ("tsv:x.tsv", {"source_column": -1}, ">= 0"),
        ("text:only_one_file.en", {}, "two paths"),
    ],
)
def test_bad_specs_are_clear_errors(name, options, message):
    with pytest.raises(ValueError, match=message):
        DatasetSpec.parse(name, **options)


def test_dataset_flags_are_declared_once():
    parser = argparse.ArgumentParser()
    DatasetSpec.add_arguments(parser)
    args = parser.parse_args(
        [
            "--dataset",
            "tsv:a.tsv",
            "--source-column",
            "1",
            "--target-column",
            "0",
            "--reverse",
            "--data-dir",
            "/tmp/d",
        ]
    )
    spec = DatasetSpec.from_args(args)
    assert (spec.source_column, spec.target_column, spec.reverse, args.data_dir) == (1, 0, True, "/tmp/d")
    assert DatasetSpec.from_args(parser.parse_args([])) == DatasetSpec()


def test_loaded_pairs_are_string_scalars(dirty_tsv, tmp_path):
    ds = load_dataset(anki_spec(dirty_tsv), "validation", data_dir=tmp_path)
    assert ds.element_spec == (tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string))
    assert (
        int(ds.cardinality()) == local.prepare_local(anki_spec(dirty_tsv), tmp_path)["splits"]["validation"]
    )
