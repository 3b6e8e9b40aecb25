"""Does the encoder's "it" resolve its referent? The decisive experiment (issue 34, item 2).

    python benchmarks/it_experiment.py                  # both variants, 1,000 steps each (~10-20 min each)
    python benchmarks/it_experiment.py --families always
    python benchmarks/it_experiment.py --fast           # a tiny smoke version (the tests), < 1 minute

Notebook 10 found no encoder head whose attention from "it" picks the right noun in the
course's en→pt model (``runs/it_en_pt``), and two ways around it: the training targets give
the referent away one way (object referents write "porque ele/ela ...", subject referents
never do), and the decoder reads the English adjective when it writes the Portuguese one. This
script regenerates the "animal / street" family of the embedded corpus twice, with the same
seed and every other line unchanged (``tf_transformer.corpus``'s ``it_pronoun`` and
``it_referent`` options):

- ``always``: the Portuguese target always writes the reason's pronoun ("porque ele estava
  muito cansado"), whose gender names the referent;
- ``never``: it never does ("porque estava muito cansado");

both with a balanced referent (a singular animal subject, a singular object: English says "it"
for either, and either is meant with equal chance). Each variant trains en→pt with the course's
recipe (``course.recipe("it_en_pt", fast=False)``, seed 0, the course's WordPiece vocabularies,
so only the corpus differs) into ``--out``/it_always and ``--out``/it_never. The variant corpora
are kept in ``--out``/it_corpora (their runs' ``run.json`` names them).

Each run, and the course's own ``runs/it_en_pt`` on today's corpus ("today"), is then measured
as notebook 10 measures it (``tf_transformer.course.probes``): per encoder layer and head, how
often "it"'s attention favours the meant noun when the subject is meant and when the object
is; their mean (balanced accuracy; any position-only rule scores 50%), the head chosen on
validation and scored on test and generalization; the agreement of the adjective in greedy
translations (exact / adjective right / wrong); whether the translation's pronoun after
"porque" is the reference's; where the decoder's cross-attention looks when it writes the
adjective; and the pronoun counts in the training targets. Results go to
``benchmarks/results/it_experiment.json`` (rows of other families kept) and a Markdown table
beside it, with the machine (CPU model and flags) and the date.
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import json
import pathlib
import shlex
import shutil
import sys
import time

import numpy as np

from tf_transformer import course, recipes
from tf_transformer.corpus import corpus
from tf_transformer.course import probes
from tf_transformer.data import DatasetSpec, local, prepare, vocab_files
from tf_transformer.data.tokenizer import vocab_dir
from tf_transformer.inference import Translator
from tf_transformer.runs import load_run
from tf_transformer.training import train
from tf_transformer.training.precision import describe_machine, machine

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
FAMILIES = ("always", "never")
TODAY = "today"
PROBED = ("validation", "test", "generalization")
# --fast: a small corpus and the smoke recipe, a few steps (the tests).
FAST_SIZES = {"validation": 200, "test": 200, "generalization": 100, "train": 1500}
FAST_STEPS = 5
FAST_SENTENCES = 8  # per split, for the probes


# ------------------------------------------------------------------ the corpora
def write_variant(family: str, out: pathlib.Path, sizes: dict[str, int] | None = None) -> pathlib.Path:
    """The ``family`` variant corpus in ``out``: the generator's gzip TSV splits (pt<TAB>en),
    and line-aligned ``SPLIT.en`` / ``SPLIT.pt`` files for ``text:`` training. Kept when there."""
    marker = out / "variant.json"
    wanted = dict(it_pronoun=family, it_referent="balanced", seed=corpus.SEED, sizes=sizes)
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return out
    splits = corpus.generate(corpus.SEED, sizes, it_pronoun=family, it_referent="balanced")
    corpus.write(splits, out)
    for split, pairs in splits.items():
        for side, column in (("pt", 0), ("en", 1)):
            lines = "".join(pair[column] + "\n" for pair in pairs)
            (out / f"{split}.{side}").write_text(lines, encoding="utf-8")
    marker.write_text(json.dumps(wanted) + "\n")
    return out


def variant_spec(corpus_dir: pathlib.Path) -> DatasetSpec:
    """English→Portuguese from the variant's line-aligned files (train, validation, test)."""
    return DatasetSpec(f"text:{corpus_dir / 'train.en'},{corpus_dir / 'train.pt'}")


def use_course_vocabularies(spec: DatasetSpec, data_dir) -> dict[str, pathlib.Path]:
    """Copy the course's WordPiece vocabularies (the embedded corpus's) where ``prepare`` looks
    for ``spec``'s, so that it uses them instead of learning new ones."""
    course_files = vocab_files(DatasetSpec("embedded"), tokenizer="wordpiece")  # {"source": pt, "target": en}
    by_language = {"pt": course_files["source"], "en": course_files["target"]}
    target = vocab_dir(spec, data_dir=data_dir)
    target.mkdir(parents=True, exist_ok=True)
    for language, path in by_language.items():
        shutil.copyfile(path, target / f"{language}{path.suffix}")
    return by_language


def family_of(split: str, data_dir: pathlib.Path | None) -> list[probes.FamilySentence]:
    """``probes.it_family``'s sentences of one split, read from a corpus folder (None: the shipped one)."""
    found = []
    for pt, en in corpus.read(split, data_dir):
        if probes.FAMILY.search(en):
            adjective = pt.rstrip(".").split()[-1]
            found.append(probes.FamilySentence(en, pt, adjective.startswith(probes.STATE_STEMS)))
    return found


# ------------------------------------------------------------------ the measurements
def per_case(meant, other, kept):
    """Per head: how often the meant noun is favoured, when the subject is meant and when the object is
    (notebook 10's ``per_case``)."""
    subject = np.array([sentence.subject_is_meant for sentence in kept])
    right = meant > other  # [sentences, layers, heads]
    return right[subject].mean(axis=0), right[~subject].mean(axis=0)


def heads(translator, families: dict[str, list]) -> dict:
    """Notebook 10's count: the head chosen on validation, scored on the other splits."""
    found = {name: probes.weights_on_nouns(translator, family) for name, family in families.items()}
    on_subject, on_object = per_case(*found["validation"])
    balanced = (on_subject + on_object) / 2
    layer, head = (int(i) for i in np.unravel_index(balanced.argmax(), balanced.shape))
    report = dict(
        layer=layer + 1,
        head=head + 1,
        validation_balanced_per_head=np.round(balanced, 3).tolist(),
        splits={},
    )
    for name, (meant, other, kept) in found.items():
        on_subject, on_object = per_case(meant, other, kept)
        either = (on_subject + on_object) / 2
        subject_share = float(np.mean([s.subject_is_meant for s in kept]))
        report["splits"][name] = dict(
            sentences=len(kept),
            subject_meant_share=round(subject_share, 3),
            subject_meant=round(float(on_subject[layer, head]), 3),
            object_meant=round(float(on_object[layer, head]), 3),
            balanced=round(float(either[layer, head]), 3),
            best_after_the_fact=round(float(either.max()), 3),
            # Position-only rules: "always the subject" / "always the nearer noun (the object)".
            always_subject_accuracy=round(subject_share, 3),
            always_object_accuracy=round(1 - subject_share, 3),
            position_only_balanced=0.5,
        )
    return report, {name: kept for name, (_, _, kept) in found.items()}


def after_porque(sentence: str) -> str:
    words = sentence.rstrip(".").split()
    return words[words.index("porque") + 1] if "porque" in words[:-1] else ""


def agreement(translator, kept: list) -> dict:
    """Notebook 10's count of the adjective in greedy outputs, over the sentences whose adjective
    shows gender, marked as it marks them: "exact" (the reference), "adj" (the adjective agrees,
    the rest differs), "NO"; and whether the output's word after "porque" is the reference's."""
    kept = [s for s in kept if s.portuguese.rstrip(".").endswith(("o", "a", "os", "as"))]
    outputs = translator.translate([s.english for s in kept]) if kept else []
    exact = adjective = wrong = pronoun_right = 0
    examples = []
    for out, sentence in zip(outputs, kept):
        right = out.rstrip(".").split()[-1:] == sentence.portuguese.rstrip(".").split()[-1:]
        if out == sentence.portuguese:
            exact += 1
        elif right:
            adjective += 1
        else:
            wrong += 1
            if len(examples) < 3:
                examples.append(dict(english=sentence.english, output=out, reference=sentence.portuguese))
        pronoun_right += after_porque(out) == after_porque(sentence.portuguese)
    n = len(kept)
    share = (lambda k: round(k / n, 3)) if n else (lambda k: None)
    return dict(
        sentences=n,
        exact=exact,
        adjective_only=adjective,
        wrong=wrong,
        adjective_right_share=share(exact + adjective),
        exact_share=share(exact),
        word_after_porque_as_reference=share(pronoun_right),
        outputs_writing_a_pronoun=share(
            sum(after_porque(o) in ("ele", "ela", "eles", "elas") for o in outputs)
        ),
        wrong_examples=examples,
    )


def measure(run_dir: pathlib.Path, corpus_dir: pathlib.Path | None, limit: int | None) -> dict:
    """Everything notebook 10 computes, for one run and the corpus it trained on."""
    translator = Translator.from_run(load_run(run_dir))
    families = {name: family_of(name, corpus_dir)[:limit] for name in PROBED}
    head_report, kept = heads(translator, families)
    reads = probes.adjective_reads(translator, kept["test"])
    return dict(
        run_dir=str(run_dir),
        pronoun_in_train_targets={
            case: dict(with_pronoun=w, sentences=n)
            for case, (w, n) in probes.pronoun_in_targets(family_of("train", corpus_dir)).items()
        },
        heads=head_report,
        agreement={name: agreement(translator, kept[name]) for name in ("test", "generalization")},
        decoder_reads_when_writing_the_adjective={
            k: round(float(v.mean()), 3) if v.size else None for k, v in reads.items()
        },
    )


# ------------------------------------------------------------------ training
def train_variant(family: str, out: pathlib.Path, fast: bool) -> dict:
    corpus_dir = write_variant(family, out / "it_corpora" / family, FAST_SIZES if fast else None)
    data_dir = out / "it_corpora" / "tfds"
    spec = variant_spec(corpus_dir)
    local.prepare_local(spec, str(data_dir))  # (first: the vocabularies go inside its folder)
    course_vocab = use_course_vocabularies(spec, data_dir)
    summary = prepare(spec, data_dir=str(data_dir), tokenizer="wordpiece")
    if summary["vocab_built"]:
        raise AssertionError("prepare learned new vocabularies: the course's were not found")
    if fast:  # the smoke recipe: a one-layer tiny model, a few steps
        settings = recipes.recipe(
            "smoke", max_steps=FAST_STEPS, steps_per_epoch=FAST_STEPS, warmup_steps=FAST_STEPS
        )
    else:
        settings = course.recipe("it_en_pt", fast=False)
    settings.update(dataset=spec, tokenizer="wordpiece", data_dir=str(data_dir), seed=0)
    run_dir = out / f"it_{family}"
    started = time.monotonic()
    result = train(run_dir=run_dir, **settings)
    seconds = time.monotonic() - started
    print(f"{family}: {result.steps} steps in {seconds / 60:.1f} min ({result.stopped}) -> {run_dir}")
    # The training's wall time, kept beside the corpus: a later call finds the run done.
    timing = corpus_dir / "training.json"
    if result.stopped == "already done" and timing.is_file():
        seconds = json.loads(timing.read_text())["train_seconds"]
    elif result.stopped != "already done":
        timing.write_text(json.dumps(dict(train_seconds=round(seconds, 1), machine=machine())) + "\n")
    recipe = {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in settings.items()}
    return dict(
        corpus=str(corpus_dir),
        run_dir=str(run_dir),
        train_seconds=round(seconds, 1),
        train_steps=int(result.steps),
        stopped=str(result.stopped),
        recipe=recipe,
        vocabularies={k: str(v) for k, v in course_vocab.items()},
        splits=summary["splits"],
    )


# ------------------------------------------------------------------ report
def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def marks(counts: dict) -> str:
    return f"{counts['exact']} / {counts['adjective_only']} / {counts['wrong']}"


def table(report: dict) -> str:
    rows = [
        "| family | pronoun in train targets (subject / object referent) | best head (val) | "
        "balanced acc. val / test / gen. | position-only | subject share (test) | "
        "adjective: exact / adj. only / wrong (test) | same (gen.) | word after porque as ref. (test) | "
        "training |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for family in (TODAY, *FAMILIES):
        row = report["families"].get(family)
        if not row:
            continue
        counts = row["pronoun_in_train_targets"]
        pronouns = " / ".join(
            f"{counts[c]['with_pronoun']:,} of {counts[c]['sentences']:,}" for c in ("subject", "object")
        )
        h, s = row["heads"], row["heads"]["splits"]
        accs = " / ".join(pct(s[n]["balanced"]) for n in PROBED)
        a, g = row["agreement"]["test"], row["agreement"]["generalization"]
        trained = row.get("training", {})
        minutes = (
            f"{trained['train_seconds'] / 60:.1f} min" if trained.get("train_seconds") else "(existing run)"
        )
        rows.append(
            f"| {family} | {pronouns} | layer {h['layer']}, head {h['head']} | {accs} | 50% | "
            f"{pct(s['test']['subject_meant_share'])} | {marks(a)} | {marks(g)} | "
            f"{pct(a['word_after_porque_as_reference'])} | {minutes} |"
        )
    m = report["machine"]
    lines = [
        '# Does the encoder\'s "it" resolve its referent? (issue 34, item 2)',
        "",
        f"`{report['command']}` on {describe_machine(m)}, {m['date']}"
        + (" (FAST: a smoke run, not a measurement)" if report["fast"] else "")
        + ".",
        "",
        "today: the course's `runs/it_en_pt` on the shipped corpus; always / never: the family "
        "regenerated with a balanced referent and the Portuguese pronoun always / never written, "
        "trained with the same recipe (seed 0, 1,000 steps, the course's vocabularies). The head is "
        'chosen on validation (balanced accuracy of "it"\'s attention favouring the meant noun over '
        "the other); any position-only rule scores 50% balanced. Adjective agreement counts greedy "
        "outputs over the sentences whose adjective shows gender.",
        "",
        *rows,
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="a tiny smoke version (< 1 minute)")
    parser.add_argument(
        "--out", type=pathlib.Path, default=ROOT / "runs", help="where the runs go (default runs/)"
    )
    parser.add_argument("--families", default=",".join(FAMILIES), help="which variants (always,never)")
    parser.add_argument(
        "--today-run",
        type=pathlib.Path,
        default=ROOT / "runs" / "it_en_pt",
        help="the course's run on today's corpus, measured too when it exists (not in --fast)",
    )
    parser.add_argument(
        "--results",
        type=pathlib.Path,
        default=HERE / "results" / "it_experiment.json",
        help="the JSON to write (rows of other families kept); the Markdown table goes beside it",
    )
    args = parser.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    if set(families) - set(FAMILIES):
        parser.error(f"--families takes {', '.join(FAMILIES)}")
    print(describe_machine())
    limit = FAST_SENTENCES if args.fast else None
    report = {}
    if args.results.is_file():
        old = json.loads(args.results.read_text(encoding="utf-8"))
        if old.get("fast") == args.fast:
            report = old
    report.setdefault("families", {})
    for family in families:
        training = train_variant(family, args.out, args.fast)
        row = measure(pathlib.Path(training["run_dir"]), pathlib.Path(training["corpus"]), limit)
        row["training"] = training
        report["families"][family] = row
    if not args.fast and (args.today_run / "run.json").is_file():
        report["families"][TODAY] = measure(args.today_run, None, limit)
    report.update(
        fast=args.fast,
        command=shlex.join(
            ["python", "benchmarks/it_experiment.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        machine=machine(),
    )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    # Paths inside the checkout are written relative to it: the file names no machine's folders.
    text = json.dumps(report, indent=2, ensure_ascii=False).replace(f"{HERE.parent}/", "")
    report = json.loads(text)  # what the file holds is what main returns
    args.results.write_text(text + "\n", encoding="utf-8")
    markdown = table(report)
    args.results.with_suffix(".md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return report


if __name__ == "__main__":
    main()
