"""WordPiece, SentencePiece unigram and SentencePiece BPE side by side, on every corpus at hand.

For each corpus (the embedded one, the machine's gettext catalogs of several
languages, any ``--dataset``) and each tokenizer, learned from the same
training pairs with the same target size: the share of validation sentences
that come back exactly (``detokenize(tokenize(x)) == x``, each side), the
vocabulary size, tokens per sentence, and sentences tokenized and detokenized
per second (both sides, batches of 256, after one call to trace). The same
rows for the package's own tokenizers are what ``prepare`` prints; BPE is
learned here alone (the package keeps unigram, SentencePiece's recommended
model).

Run::

    python benchmarks/tokenizers.py                      # embedded, gettext:pt_BR, zh_CN, de
    python benchmarks/tokenizers.py --dataset gettext:fr --out results/tok.json
    python benchmarks/tokenizers.py --fast               # one small corpus (tests)
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import json
import pathlib
import statistics
import tempfile
import time

import tensorflow as tf

from tf_transformer.constants import SIDES, TRAIN_SPLIT, VALIDATION_SPLIT
from tf_transformer.data import DatasetSpec, load_dataset, prepare
from tf_transformer.data import sentencepiece_tokenizer as sentencepiece
from tf_transformer.data.tokenizer import Tokenizer, build_vocab, write_vocab
from tf_transformer.training.precision import describe_machine, machine

CORPORA = ("embedded", "gettext:pt_BR", "gettext:zh_CN", "gettext:de")
KINDS = ("wordpiece", "sentencepiece unigram", "sentencepiece bpe")
VALIDATION_SENTENCES = 2000
VOCAB_PAIRS = 200_000


def learn(kind: str, sentences: list[str], folder: pathlib.Path, vocab_size: int):
    """A tokenizer of ``kind`` learned from ``sentences``."""
    if kind == "wordpiece":
        vocab = build_vocab(tf.data.Dataset.from_tensor_slices(sentences), vocab_size)
        return Tokenizer(write_vocab(vocab, folder / "wordpiece.txt"))
    if kind == "sentencepiece unigram":
        return sentencepiece.SentencePieceTokenizer(
            sentencepiece.learn_model(sentences, folder / "unigram.model", vocab_size)
        )
    return sentencepiece.SentencePieceTokenizer(
        sentencepiece.learn_model(sentences, folder / "bpe.model", vocab_size, model_type="bpe")
    )


def measure(tokenizer, sentences: list[str]) -> dict:
    """Round trip, tokens per sentence and speed of ``tokenizer`` on ``sentences``."""
    batches = [tf.constant(sentences[i : i + 256]) for i in range(0, len(sentences), 256)]
    tokenizer.detokenize(tokenizer.tokenize(batches[0]))  # trace both
    back, tokens = [], 0
    start = time.perf_counter()
    for batch in batches:
        ids = tokenizer.tokenize(batch)
        tokens += int(ids.flat_values.shape[0]) - 2 * int(ids.nrows())  # without [START] and [END]
        back += [b.decode("utf-8", "replace") for b in tokenizer.detokenize(ids).numpy()]
    seconds = time.perf_counter() - start
    failures = [(a, b) for a, b in zip(sentences, back) if a != b]
    return {
        "round_trip": 1 - len(failures) / len(sentences),
        "vocab_size": int(tokenizer.get_vocab_size()),
        "tokens_per_sentence": tokens / len(sentences),
        "sentences_per_second": len(sentences) / seconds,
        "failures": failures[:3],
    }


def corpus_rows(name: str, data_dir, vocab_size: int, scratch: pathlib.Path, limit: int) -> list[dict]:
    spec = DatasetSpec.parse(name)
    prepare(spec, data_dir=data_dir)  # the data, carved and cleaned as training sees it
    train = list(load_dataset(spec, TRAIN_SPLIT, data_dir=data_dir).take(limit).as_numpy_iterator())
    validation = list(
        load_dataset(spec, VALIDATION_SPLIT, data_dir=data_dir).take(VALIDATION_SENTENCES).as_numpy_iterator()
    )
    rows = []
    for side, language, index in zip(SIDES, spec.languages, (0, 1)):
        learn_from = [pair[index].decode("utf-8") for pair in train]
        check = [pair[index].decode("utf-8") for pair in validation]
        for kind in KINDS:
            folder = scratch / name.replace(":", "_").replace("/", "_") / side / kind.replace(" ", "_")
            folder.mkdir(parents=True)
            start = time.perf_counter()
            tokenizer = learn(kind, learn_from, folder, vocab_size)
            learned = time.perf_counter() - start
            row = {"dataset": name, "side": side, "language": language, "tokenizer": kind}
            row.update(measure(tokenizer, check), learn_seconds=learned, sentences=len(check))
            rows.append(row)
            print(
                f"{name:16s} {language:6s} {kind:22s} round trip {row['round_trip']:8.3%}  vocab "
                f"{row['vocab_size']:6,d}  tokens/sentence {row['tokens_per_sentence']:6.1f}  "
                f"{row['sentences_per_second']:8,.0f} sentences/s  (learned in {learned:.1f} s)",
                flush=True,
            )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| corpus | language | tokenizer | round trip | vocabulary | tokens / sentence | sentences / s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['language']} | {r['tokenizer']} | {r['round_trip']:.2%} | "
            f"{r['vocab_size']:,} | {r['tokens_per_sentence']:.1f} | {r['sentences_per_second']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dataset", action="append", help=f"a corpus (repeatable; default: {', '.join(CORPORA)})"
    )
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--data-dir", default=None, help="where prepared data goes (default: TFDS's)")
    parser.add_argument("--fast", action="store_true", help="the embedded corpus, 2,000 pairs, 1,000 tokens")
    parser.add_argument("--out", type=pathlib.Path, help="also write the report here as JSON")
    args = parser.parse_args(argv)
    corpora = args.dataset or (["embedded"] if args.fast else list(CORPORA))
    vocab_size, limit = (1000, 2000) if args.fast else (args.vocab_size, VOCAB_PAIRS)
    print(f"machine: {describe_machine()}")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in corpora:
            try:
                rows += corpus_rows(name, args.data_dir, vocab_size, pathlib.Path(scratch), limit)
            except FileNotFoundError as err:  # a language this machine has no catalogs for
                print(f"{name}: skipped ({err})")
    print("\n" + table(rows))
    worst = {
        kind: min((r["round_trip"] for r in rows if r["tokenizer"] == kind), default=None) for kind in KINDS
    }
    print("lowest round trip: " + ", ".join(f"{k} {v:.2%}" for k, v in worst.items() if v is not None))
    report = {
        "machine": machine(),
        "fast": args.fast,
        "vocab_size": vocab_size,
        "learned_from": limit,
        "rows": rows,
    }
    report["median_tokens_per_sentence"] = {
        kind: statistics.median(r["tokens_per_sentence"] for r in rows if r["tokenizer"] == kind)
        for kind in KINDS
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        args.out.with_suffix(".md").write_text(table(rows) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
