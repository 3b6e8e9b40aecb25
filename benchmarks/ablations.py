"""Table 3 of "Attention Is All You Need" at laptop scale: what each design choice buys.

Vaswani et al. (2017) varied one thing at a time around their base model and
reported each variant's perplexity and BLEU on newstest2013 (Table 3). This
script does the same around the course's tutorial run, on the embedded corpus:
every variant trains from the same seed (the seed row excepted) for the same
number of optimizer steps (a step count, not a time budget, so every machine trains the same
models), through ``tf_transformer.training.train``, into its own scratch run
directory; then it is scored with the library's own evaluation.

The baseline is notebook 6's tutorial run: the ``tutorial`` preset (4 layers,
d_model 128, 8 heads, dff 512, dropout 0.1), label smoothing 0.1, batches of
2048 tokens, a 400-step warm-up, and pre-norm layers (with the paper's
post-norm the tutorial model sits on a plateau near 50% accuracy for hundreds
of steps, so at a short budget every other row would be measured on that
plateau; post-norm is one of the rows instead). The variants:

- heads 1 / 4 / 16 at d_model 128 (Table 3, rows A): each head gets
  d_k = d_v = d_model / h (8 heads: 16; 1 head: 128; 16 heads: 8).
- d_k 4 for the queries and keys of 8 heads, the values keeping d_v 16
  (rows B: a smaller key size alone, ``TransformerConfig.key_dim``).
- dropout 0 instead of 0.1, label smoothing 0 instead of 0.1 (rows D).
- learned positional embeddings instead of the sinusoids (row E), and no
  positional information at all (``TransformerConfig.positions``).
- the pre-softmax projection tied to the target embedding (section 3.4's
  sharing, on the target side: ``TransformerConfig.tie_output``).
- post-norm (the paper's layout) instead of pre-norm.
- the baseline again from another seed: how far two runs of the same recipe
  differ, the yardstick for every other row.

Left out: section 3.4's full three-way sharing (one matrix for both
embeddings and the projection), which needs one vocabulary for both
languages; the embedded corpus has one per language.

For each variant: the validation masked accuracy at the end of training (on
the first 1,000 sentences of the validation split), corpus BLEU (sacreBLEU)
of greedy decoding on the first ``--sentences`` sentences of the test split and of the
generalization split (sentence shapes never seen in training), the steps and
the training and evaluation seconds. It writes ``ablations.json`` and
``ablations.md`` (a Markdown table, with the machine it ran on).

Run::

    python benchmarks/ablations.py                  # the committed table: 12 variants of 300 steps
    python benchmarks/ablations.py --variants baseline heads_1 --steps 1000   # a longer look at two rows
    python benchmarks/ablations.py --fast --out /tmp/ablations.json   # one tiny variant, a few steps (tests)

``TF_TRANSFORMER_FAST=1`` means ``--fast``.
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import contextlib
import json
import pathlib
import tempfile
import time
from unittest import mock


from tf_transformer import course, data, files, recipes
from tf_transformer.config import PRESETS
from tf_transformer.constants import GENERALIZATION_SPLIT, TEST_SPLIT
from tf_transformer.inference import Translator
from tf_transformer.inference.evaluate import decoding, evaluate_translator
from tf_transformer.training import TrainConfig, train
from tf_transformer.training.precision import describe_machine, machine

RESULTS = pathlib.Path(__file__).resolve().parent / "results"

# The committed table's budget took each variant about 4 minutes (training, validation, scoring),
# one after the other, on two otherwise idle CPU cores: 54 minutes for the 12 rows. Variants are
# independent: on more cores, run a few at once (--variants, --out) and merge their rows.

# The baseline recipe: notebook 6's tutorial run (the course recipe, from seed 0), with the step
# count left to --steps.
BASELINE = recipes.recipe("course", seed=0)
VALIDATION_SENTENCES = 1000  # the first half of the validation split: enough to rank, half the time


def variant(label, paper, model=None, **train_settings):
    """One row: its label, the row of the paper's Table 3 it echoes, its model sizes and training settings."""
    return dict(label=label, paper=paper, model=model or {}, train=train_settings)


VARIANTS = {
    "baseline": variant("baseline: 8 heads (d_k 16), dropout 0.1, smoothing 0.1, pre-norm", "base"),
    "heads_1": variant("1 head (d_k 128)", "A", dict(num_heads=1)),
    "heads_4": variant("4 heads (d_k 32)", "A", dict(num_heads=4)),
    "heads_16": variant("16 heads (d_k 8)", "A", dict(num_heads=16)),
    "key_dim_4": variant("d_k 4 for queries and keys (d_v stays 16)", "B", dict(key_dim=4)),
    "dropout_0": variant("dropout 0", "D", dropout_rate=0.0),
    "smoothing_0": variant("label smoothing 0", "D", label_smoothing=0.0),
    "learned_positions": variant("learned positional embeddings", "E", dict(positions="learned")),
    "no_positions": variant("no positional encoding", "-", dict(positions="none")),
    "tied_output": variant("output projection = target embedding", "-", dict(tie_output=True)),
    "post_norm": variant("post-norm (the paper's layout)", "-", norm_first=False),
    "seed_1": variant("baseline again, seed 1 (the noise)", "-", seed=1),
}
SKIPPED = {
    "one matrix for both embeddings and the projection (section 3.4)": (
        "needs one vocabulary for both languages; the embedded corpus has one per language "
        "(the tied-output row shares the target side)"
    ),
}

# --fast (and TF_TRANSFORMER_FAST=1): the smoke recipe's tiny model, a handful of steps on its slice
# of the corpus.
FAST = dict(
    steps=4,
    sentences=8,
    variants=("baseline",),
    settings=recipes.recipe("smoke", validation_examples=32, warmup_steps=50),
)


@contextlib.contextmanager
def preset_sizes(preset: str, sizes: dict):
    """Train ``preset`` with some of its sizes changed (``num_heads=1``...), for the ``with`` block.

    ``train`` builds its model from a named preset, so a variant of the model
    is a variant of the preset while it trains. The run's ``run.json`` records
    the sizes that were actually trained, and ``load_run`` reads them from there.
    """
    with mock.patch.dict(PRESETS, {preset: {**PRESETS[preset], **sizes}}):
        yield


def scored_pairs(split: str, sentences: int) -> list:
    """The first ``sentences`` (source, reference) pairs of a split of the embedded corpus."""
    return list(data.load_dataset(data.EMBEDDED, split).take(sentences).as_numpy_iterator())


def run_variant(name: str, steps: int, settings: dict, work: pathlib.Path, evaluation: dict) -> dict:
    """Train one variant into ``work/name``, score it on ``evaluation`` ({split: pairs}); return its row."""
    spec = VARIANTS[name]
    config = TrainConfig(
        **{
            **BASELINE,
            "validation_examples": VALIDATION_SENTENCES,
            **settings,
            **spec["train"],
            "max_steps": steps,
            "steps_per_epoch": steps,  # one epoch: validated once, at the end
            "backup_every": 0,
            "verbose": 0,
        }
    )
    run_dir = work / name
    print(f"\n== {name}: {spec['label']} ({steps} steps)", flush=True)
    started = time.perf_counter()
    with preset_sizes(config.preset, spec["model"]):
        result = train(config, run_dir)
    train_seconds = time.perf_counter() - started
    model_config = result.model.config
    last = result.history[-1]
    # The trained model as train returns it (its final weights), with the run's tokenizers. Each
    # split is one batch, decoded eagerly: for a few hundred sentences that is quicker than tracing
    # the search into a graph for every variant (see evaluate.decoding_mode).
    started = time.perf_counter()
    tokenizers = data.load_tokenizers(config.dataset, data_dir=config.data_dir)
    translator = Translator(result.model, tokenizers.source, tokenizers.target, max_length=config.max_length)
    with decoding("eager"):
        bleu = {
            split: evaluate_translator(translator, pairs, batch_size=len(pairs))["bleu"]
            for split, pairs in evaluation.items()
        }
    row = dict(
        name=name,
        label=spec["label"],
        paper_row=spec["paper"],
        num_heads=model_config.num_heads,
        d_k=model_config.head_dim,
        positions=model_config.positions,
        tie_output=model_config.output_tied,
        dropout_rate=model_config.dropout_rate,
        label_smoothing=config.label_smoothing,
        norm_first=model_config.norm_first,
        parameters=int(result.model.count_params()),
        steps=result.steps,
        val_masked_accuracy=round(float(last["val_masked_accuracy"]), 4),
        val_loss=round(float(last["val_loss"]), 4),
        bleu_test=bleu[TEST_SPLIT],
        bleu_generalization=bleu[GENERALIZATION_SPLIT],
        train_seconds=round(train_seconds, 1),
        eval_seconds=round(time.perf_counter() - started, 1),
    )
    print(
        f"   val accuracy {row['val_masked_accuracy']:.4f}, BLEU test {row['bleu_test']:.2f}, "
        f"generalization {row['bleu_generalization']:.2f}; {row['train_seconds']:.0f} s training, "
        f"{row['eval_seconds']:.0f} s evaluation",
        flush=True,
    )
    return row


def markdown(report: dict) -> str:
    """The Markdown table of a report, with its budget, machine and notes."""
    m = report["machine"]
    lines = [
        "# Ablations of the tutorial model on the embedded corpus",
        "",
        f"Each row: {report['steps']} optimizer steps of about {report['batch_tokens']} tokens from seed "
        f"{report['seed']}, warm-up {report['warmup_steps']} steps; validation masked accuracy on the "
        f"first {report['validation_sentences']} sentences of the validation split; BLEU (sacreBLEU, "
        f"greedy) on the first {report['sentences']} sentences "
        f"of the test and generalization splits. Written by `benchmarks/ablations.py`"
        + (" in fast mode (not a real table)." if report["fast"] else "."),
        "",
        "| variant | Table 3 row | heads | d_k | parameters | val accuracy | BLEU test "
        "| BLEU generalization | steps | train s | eval s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['label']} | {r['paper_row']} | {r['num_heads']} | {r['d_k']} | {r['parameters']:,} "
            f"| {r['val_masked_accuracy']:.4f} | {r['bleu_test']:.2f} | {r['bleu_generalization']:.2f} "
            f"| {r['steps']} | {r['train_seconds']:.0f} | {r['eval_seconds']:.0f} |"
        )
    lines += [
        "",
        f"Machine: {describe_machine(m)} at the start; Python {m['python']}, TensorFlow "
        f"{m['tensorflow']}, {m['date']}. "
        f"Total wall time {report['total_seconds'] / 60:.1f} minutes"
        + (
            f", the variants split between {report['processes']} processes running side by side."
            if report.get("processes", 1) > 1
            else "."
        ),
        "",
        "Not measured:",
        "",
    ]
    lines += [f"- {what}: {why}." for what, why in report["skipped"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per variant (default: 300)")
    parser.add_argument(
        "--sentences", type=int, default=200, help="test and generalization sentences scored (default: 200)"
    )
    parser.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), help="default: all of them")
    parser.add_argument("--seed", type=int, default=BASELINE["seed"], help="(default: %(default)s)")
    parser.add_argument("--fast", action="store_true", help="one tiny variant, a few steps (tests)")
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=RESULTS / "ablations.json",
        help="the JSON file; the Markdown table goes beside it (.md)",
    )
    args = parser.parse_args(argv)
    print(f"machine: {describe_machine()}", flush=True)
    fast = args.fast or course.fast_mode()
    steps, sentences, names, settings = args.steps, args.sentences, args.variants or tuple(VARIANTS), {}
    if fast:
        steps, sentences, settings = FAST["steps"], FAST["sentences"], FAST["settings"]
        names = args.variants or FAST["variants"]
    settings = {**settings, "seed": args.seed}
    recipe = {**BASELINE, **settings}
    report = dict(
        fast=fast,
        steps=steps,
        sentences=sentences,
        preset=recipe["preset"],
        batch_tokens=recipe["batch_tokens"],
        warmup_steps=recipe["warmup_steps"],
        seed=recipe["seed"],
        validation_sentences=recipe.get("validation_examples", VALIDATION_SENTENCES),
        machine=machine(),
        skipped=SKIPPED,
        rows=[],
    )
    started = time.perf_counter()
    evaluation = {split: scored_pairs(split, sentences) for split in (TEST_SPLIT, GENERALIZATION_SPLIT)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ablations_") as work:
        for name in names:
            report["rows"].append(run_variant(name, steps, settings, pathlib.Path(work), evaluation))
            report["total_seconds"] = round(time.perf_counter() - started, 1)
            # After every row: a run stopped halfway keeps the rows it finished.
            files.write_text(args.out, json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    files.write_text(args.out.with_suffix(".md"), table)
    print("\n" + table)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return report


if __name__ == "__main__":
    main()
