"""The real-text recipe, measured: train on a real corpus, score it on its test split.

    python benchmarks/real_text.py --dataset gettext:pt_BR          # en -> pt_BR, 28 minutes
    python benchmarks/real_text.py --dataset gettext:zh_CN          # en -> zh_CN
    python benchmarks/real_text.py --dataset gettext:zh_CN --reverse --minutes 10
    python benchmarks/real_text.py --dataset gettext:pt_BR --tokenizer wordpiece  # the same recipe
    python benchmarks/real_text.py --fast                           # a few steps (the tests)
    python benchmarks/real_text.py --minutes 10 --variant dropout_rate=0.3   # one change to the recipe

Each corpus is prepared (its sizes, skipped lines and tokenizer round trip), trained from
seed 0 with ``recipes.recipe("real-text")`` into a fresh run directory within
``--minutes`` of training, and scored on its whole test split with sacreBLEU (greedy and beam
4): BLEU (its ``zh`` tokenizer for a Chinese target), chrF, and the share of outputs that are
the reference exactly. The best and worst translations by sentence chrF are kept, to be read.
A row per corpus goes into ``--out`` (JSON, rows of other corpora kept) and a Markdown table
beside it, with the command, the machine (CPU model and flags) and the date.
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import json
import pathlib
import shlex
import shutil
import sys
import tempfile
import time


from tf_transformer import recipes
from tf_transformer.config import PRESETS
from tf_transformer.data import DatasetSpec
from tf_transformer.data.prepare import prepare
from tf_transformer.inference import evaluate_run
from tf_transformer.runs import HISTORY_FILE, load_run
from tf_transformer.training import train
from tf_transformer.training.precision import describe_machine, machine

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLES = 6  # best and worst translations kept per corpus
# --fast: the smoke recipe's tiny model and slice of the corpus, 20 steps (tests).
FAST = recipes.recipe(
    "smoke", steps_per_epoch=10, max_steps=20, patience=None, warmup_steps=10, max_minutes=None
)
FAST_TEST_SENTENCES = 16


def sentence_examples(examples, language: str, count: int) -> dict:
    """The ``count`` best and worst (source, reference, output) by sentence chrF."""
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    scored = [(chrf.sentence_score(out, [ref]).score, src, ref, out) for src, ref, out in examples]
    # The best: the longest among the top fifth (a long string right says more than "OK");
    # the worst: the lowest, the longest first among equals.
    scored.sort(key=lambda row: (-row[0], -len(row[1])))
    good = sorted(scored[: max(len(scored) // 5, count)], key=lambda row: -len(row[1]))[:count]
    bad = sorted(scored, key=lambda row: (row[0], -len(row[1])))[:count]

    def rows(chosen):
        return [dict(chrf=round(s, 1), source=src, reference=ref, output=out) for s, src, ref, out in chosen]

    return dict(good=rows(good), bad=rows(bad))


def key(row: dict) -> tuple:
    """What a row of the report measured: the corpus, its direction, its tokenizer, the recipe's
    changes (a variant) and the training budget (rows written before budgets were recorded: the
    28-minute recipe's, or 10 minutes for a shorter run)."""
    budget = row.get("budget_minutes")
    if budget is None and "train_minutes" in row:
        budget = recipes.recipe("real-text")["max_minutes"] if (row["train_minutes"] or 0) > 20 else 10.0
    return (
        row["dataset"],
        row["reverse"],
        row.get("tokenizer", "sentencepiece"),
        row.get("variant") or "",
        budget,
    )


def parse_variant(items: list[str]) -> dict:
    """``["dropout_rate=0.3", "num_layers=2"]`` -> ``{"dropout_rate": 0.3, "num_layers": 2}``."""
    changes = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--variant wants NAME=VALUE (a train setting), not {item!r}")
        try:
            changes[name] = json.loads(value)
        except json.JSONDecodeError:
            changes[name] = value  # a string, e.g. preset=small
    return changes


def variant_name(changes: dict, vocab_size) -> str:
    """The short name of a recipe's changes, as the table shows it ("" for the recipe itself)."""
    parts = [f"{k}={v}" for k, v in changes.items()]
    if vocab_size:
        parts.append(f"vocab={vocab_size}")
    return " ".join(parts)


def measure(
    spec,
    minutes,
    runs: pathlib.Path,
    data_dir,
    fast: bool,
    vocab_size,
    reuse=None,
    tokenizer=None,
    changes: dict | None = None,
) -> dict:
    """Prepare, train (or, with ``reuse``, the rows of an earlier report, score the run there
    again) and score one corpus: its row of the report."""
    summary = prepare(spec, data_dir=data_dir, vocab_size=vocab_size, tokenizer=tokenizer)
    tokenizer = summary["tokenizer"]
    if vocab_size and not summary["vocab_built"] and vocab_size not in summary["vocab_sizes"].values():
        raise SystemExit(
            f"the vocabularies in {summary['vocab_dir']} were learned at another size "
            f"({summary['vocab_sizes']}); give --data-dir a folder of its own for --vocab-size {vocab_size}"
        )
    variant = variant_name(changes or {}, vocab_size)
    run_dir = runs / "_".join(
        ["real", *spec.languages]
        + ([tokenizer] if tokenizer != "sentencepiece" else [])
        + ([variant.replace(" ", "_").replace("=", "-")] if variant else [])
    )
    settings = recipes.recipe("real-text", max_minutes=minutes, seed=0, verbose=2, **(changes or {}))
    if fast:
        settings.update(FAST)
    if reuse and (run_dir / HISTORY_FILE).is_file():  # score the run already there again
        print(f"\n== scoring the run in {run_dir} again", flush=True)
        this = dict(dataset=spec.name, reverse=spec.reverse, tokenizer=tokenizer, variant=variant)
        previous = {key(r): r for r in reuse}.get(key(dict(this, budget_minutes=minutes)), {})
        history = json.loads((run_dir / HISTORY_FILE).read_text(encoding="utf-8"))
        stopped = previous.get("stopped")
        result = argparse.Namespace(history=history, steps=history[-1]["step"], stopped=stopped)
        train_minutes = previous.get("train_minutes")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run: the minutes are this run's
        print(f"\n== training {spec.name}{' reversed' if spec.reverse else ''} into {run_dir}", flush=True)
        started = time.monotonic()
        result = train(run_dir=run_dir, dataset=spec, data_dir=data_dir, tokenizer=tokenizer, **settings)
        train_minutes = round((time.monotonic() - started) / 60, 1)
    run = load_run(run_dir)  # the best checkpoint by validation loss
    best = min(result.history, key=lambda row: row.get("val_loss", float("inf")))
    limit = FAST_TEST_SENTENCES if fast else None
    scores, translator = {}, None
    for beam in (1, 4):
        begun = time.monotonic()
        score = evaluate_run(run_dir, "test", beam_size=beam, limit=limit, run=run, translator=translator)
        translator = None  # (evaluate_run picks the decoding mode by the split's size)
        scores["greedy" if beam == 1 else "beam4"] = dict(
            bleu=score["bleu"],
            chrf=score["chrf"],
            exact=score["exact"],
            sentences=score["sentences"],
            bleu_signature=score["bleu_signature"],
            minutes=round((time.monotonic() - begun) / 60, 2),
        )
        if beam == 1:
            examples = sentence_examples(score["examples"], run.target_language, EXAMPLES)
    source_language, target_language = spec.languages
    return dict(
        dataset=spec.name,
        reverse=spec.reverse,
        direction=f"{source_language}->{target_language}",
        sizes=summary["splits"],
        skipped=summary.get("skipped", {}),
        changed=summary.get("changed", {}),
        catalogs=len(summary.get("catalogs", [])),
        tokenizer=run.info.tokenizer,
        variant=variant,
        budget_minutes=minutes,
        vocab_sizes=summary["vocab_sizes"],
        round_trip=summary["round_trip"],
        recipe=settings,
        parameters=int(run.model.count_params()),
        steps=result.steps,
        stopped=result.stopped,
        train_minutes=train_minutes,
        best_epoch=dict(
            step=best.get("step"),
            val_loss=round(float(best["val_loss"]), 4),
            val_masked_accuracy=round(float(best["val_masked_accuracy"]), 4),
        ),
        test=scores,
        examples=examples,
    )


def recipe_name(row: dict) -> str:
    """``real_text, 2 layers`` (and the variant's changes): what trained the row, as the table shows it."""
    recipe = row.get("recipe", {})
    layers = recipe.get("num_layers") or PRESETS[recipe.get("preset", "tutorial")]["num_layers"]
    return f"real_text, {layers} layers" + (f" ({row['variant']})" if row.get("variant") else "")


def table(rows: list[dict]) -> str:
    lines = [
        "| corpus | direction | tokenizer | vocabulary | recipe | parameters | train pairs | steps | minutes "
        "| best val. accuracy | test BLEU greedy | beam 4 | chrF | exact | machine |",
        "|" + " --- |" * 3 + " ---: | --- |" + " ---: |" * 9 + " --- |",
    ]
    for row in rows:
        if "test" not in row:  # (a row some other version wrote)
            continue
        greedy, beam = row["test"]["greedy"], row["test"]["beam4"]
        lines.append(
            f"| `{row['dataset']}` | {row['direction']} | {row['tokenizer']} "
            f"| {' / '.join(f'{n:,}' for n in row['vocab_sizes'].values())} "
            f"| {recipe_name(row)} | {row['parameters'] / 1e6:.1f}M "
            f"| {row['sizes']['train']:,} "
            f"| {row['steps']:,} "
            f"| {row['train_minutes']} | {row['best_epoch']['val_masked_accuracy']:.3f} "
            f"| {greedy['bleu']:.2f} | {beam['bleu']:.2f} | {beam['chrf']:.2f} | {100 * beam['exact']:.1f}% "
            f"| {row['machine']['cpu']} ({', '.join(row['machine']['flags'])}) |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", action="append", help="a corpus (repeat: more; default gettext:pt_BR)")
    parser.add_argument("--reverse", action="store_true", help="the other direction (LANG -> en)")
    parser.add_argument(
        "--tokenizer", choices=("sentencepiece", "wordpiece"), default=None, help="(default: the corpus's)"
    )
    parser.add_argument(
        "--minutes", type=float, default=recipes.recipe("real-text")["max_minutes"], help="training budget"
    )
    parser.add_argument("--runs", default=None, help="where the runs go (default: a temporary folder)")
    parser.add_argument("--data-dir", default=None, help="prepared data (default: TFDS's data dir)")
    parser.add_argument("--vocab-size", type=int, default=None, help="per side (default: prepare's)")
    parser.add_argument("--out", default=str(HERE / "results" / "real_text.json"))
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one setting of the recipe (repeat: more), e.g. dropout_rate=0.3 num_layers=2",
    )
    parser.add_argument("--fast", action="store_true", help="a tiny model, a few steps (the tests)")
    parser.add_argument(
        "--rescore", action="store_true", help="score the runs already in --runs again, without training"
    )
    args = parser.parse_args(argv)
    print(f"machine: {describe_machine()}", flush=True)
    out = pathlib.Path(args.out)
    runs = pathlib.Path(args.runs) if args.runs else pathlib.Path(tempfile.mkdtemp(prefix="real_text_"))
    report = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {"rows": []}
    command = "python benchmarks/real_text.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    for name in args.dataset or ["gettext:pt_BR"]:
        spec = DatasetSpec(name, reverse=args.reverse)
        reuse = report["rows"] if args.rescore else None
        row = measure(
            spec,
            args.minutes,
            runs,
            args.data_dir,
            args.fast,
            args.vocab_size,
            reuse,
            args.tokenizer,
            parse_variant(args.variant),
        )
        if reuse:  # the training's command and machine; the scores are the same computation
            earlier = [r for r in reuse if key(r) == key(row)]
            row.update({k: earlier[0][k] for k in ("command", "machine") if earlier})
        row.setdefault("command", command)
        row.setdefault("machine", machine())
        report["rows"] = [r for r in report["rows"] if key(r) != key(row)]
        report["rows"].append(row)
        greedy, beam = row["test"]["greedy"], row["test"]["beam4"]
        print(
            f"{row['dataset']} {row['direction']}: {row['steps']} steps in {row['train_minutes']} min "
            f"({row['stopped']}); test BLEU greedy {greedy['bleu']:.2f}, beam 4 {beam['bleu']:.2f}, "
            f"chrF {beam['chrf']:.2f}, exact {100 * beam['exact']:.1f}%; machine: {row['machine']['cpu']} "
            f"({', '.join(row['machine']['flags'])})",
            flush=True,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(table(report["rows"]), encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
