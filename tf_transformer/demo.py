"""The main job, end to end: ``tf-transformer demo`` (``make demo``).

1. prepare the corpus (by default the embedded one, with its shipped WordPiece
   vocabularies; ``--dataset`` and ``--reverse`` pick another corpus or direction);
2. train the ``demo`` recipe of :mod:`tf_transformer.recipes` (the ``tutorial`` preset's widths
   with one encoder and one decoder layer) until the validation accuracy reaches a target (or
   stops improving), within a wall-time budget, with Keras's live progress bar; on any other
   corpus (real text: ``--dataset gettext:pt_BR``...), the ``real-text`` recipe (2 layers each
   side, dropout, until the validation loss stops improving), within the same budget. Its flags
   (``--num-layers``, ``--minutes``...) change a setting of the recipe; ``TrainConfig`` declares
   them, with ``train``'s;
3. evaluate BLEU and chrF (sacreBLEU) on the test split, greedy and beam 4, and, for
   the embedded corpus, on its generalization split (sentence shapes never seen in training);
4. export the SavedModel, reload it as a server would, and translate the classic
   sentence (when the languages are Portuguese and English) and a few test
   sentences: source, reference and output side by side.

A second run resumes the run directory (see ``train``) rather than starting over.
"""

from __future__ import annotations

import pathlib
import shutil
import textwrap
import time

from tf_transformer import recipes
from tf_transformer.constants import (
    CLASSIC_SENTENCES,
    EMBEDDED_LANGUAGES,
    GENERALIZATION_SPLIT,
    TEST_SPLIT,
)

# The settings of its recipe that the demo lets a user change: each flag's default, None, is the
# recipe's. ``--minutes`` is the demo's name for ``--max-minutes``.
FLAGS = ("preset", "num_layers", "max_minutes", "stop_at_accuracy", "warmup_steps", "seed")
FLAG_ALIASES = {"max_minutes": ("--minutes",)}


def _rule(title):
    print(f"\n== {title} " + "=" * max(0, 74 - len(title)))


def run_demo(args) -> int:
    from tf_transformer.data import DatasetSpec

    started = time.monotonic()
    stages = {}  # stage: minutes

    def stage(name, work, *work_args):
        begun = time.monotonic()
        result = work(*work_args)
        stages[name] = (time.monotonic() - begun) / 60
        return result

    run_dir = pathlib.Path(args.run_dir)
    spec = DatasetSpec.from_args(args)
    config = train_config(spec, args)  # a bad setting fails here, before any work
    stage("data", prepare_data, spec, args.data_dir)
    stage("training", train_run, config, run_dir, args)
    splits = (TEST_SPLIT, GENERALIZATION_SPLIT) if spec.name == "embedded" else (TEST_SPLIT,)
    scores, translator = stage("evaluation", evaluate, run_dir, splits, args.limit)
    examples = scores[TEST_SPLIT, 1]["examples"][: args.examples]
    export_dir = stage("export", export_and_show, run_dir, translator, examples, spec.languages)

    _rule("written")
    print(
        f"run directory   {run_dir}/  (run.json, model.keras, model.weights.h5, checkpoints/, "
        f"history.json, logs/)"
    )
    print(f"metrics         {run_dir / 'metrics.json'}")
    print(f"SavedModel      {export_dir}/  (signatures serving_default and beam_search)")
    bleu = "; ".join(
        f"{split} BLEU greedy {scores[split, 1]['bleu']:.2f}, beam 4 {scores[split, 4]['bleu']:.2f}"
        for split in dict.fromkeys(split for split, _ in scores)
    )
    parts = ", ".join(f"{name} {minutes:.1f}" for name, minutes in stages.items())
    print(f"\n{bleu}; demo wall time {(time.monotonic() - started) / 60:.1f} minutes ({parts})")
    return 0


def prepare_data(spec, data_dir) -> None:
    from tf_transformer.data import prepare
    from tf_transformer.data.prepare import format_summary

    _rule("1. data")
    print(format_summary(prepare(spec, data_dir=data_dir)))


def recipe_for(dataset: str) -> dict:
    """The recipe the demo trains on the corpus named ``dataset``: ``demo`` on the embedded
    corpus, ``real-text`` on any other, in the demo's time budget and from its seed."""
    demo = recipes.recipe("demo")
    if dataset == "embedded":
        return demo
    return recipes.recipe("real-text", **{name: demo[name] for name in ("max_minutes", "seed", "verbose")})


def train_config(spec, args):
    """The ``TrainConfig`` the demo trains: :func:`recipe_for` the corpus, with the flags given."""
    from tf_transformer.training import TrainConfig

    given = {name: getattr(args, name) for name in FLAGS if getattr(args, name) is not None}
    return TrainConfig(**{**recipe_for(spec.name), **given}, dataset=spec, data_dir=args.data_dir)


def _recipe_default(name: str) -> str:
    """What the demo's recipes set ``name`` to, in words, for its flag's help."""
    embedded, other = recipe_for("embedded").get(name), recipe_for("real text").get(name)
    if embedded == other:
        return str(embedded)
    return (
        f"{'none' if embedded is None else embedded} on the embedded corpus (recipe demo), "
        f"{'none' if other is None else other} on any other (recipe real-text)"
    )


def train_run(config, run_dir, args) -> None:
    from tf_transformer.config import PRESETS
    from tf_transformer.training import train

    layers = config.num_layers or PRESETS[config.preset]["num_layers"]
    until = (
        f"to validation accuracy {config.stop_at_accuracy:g}"
        if config.stop_at_accuracy
        else f"until the validation loss stops improving ({config.patience} epochs)"
    )
    _rule(
        f"2. training the {config.preset} preset with {layers} layer{'s' if layers != 1 else ''} "
        f"{until}, for at most {config.max_minutes:g} minutes"
    )
    result = train(config, run_dir)
    last = result.history[-1] if result.history else {}
    print(
        f"{result.steps} optimizer steps, stopped: {result.stopped}; last epoch: "
        + ", ".join(
            f"{k} {v:.3f}" for k, v in last.items() if k in ("loss", "val_loss", "val_masked_accuracy")
        )
    )


def evaluate(run_dir, splits, limit=None) -> tuple:
    """sacreBLEU on each split, greedy and beam 4 (on its first ``limit`` sentences, if given).

    Returns ``({(split, beam): evaluate_run's result}, translator)``: the
    translator, its searches traced, exports the run next.
    """
    from tf_transformer.inference import Translator
    from tf_transformer.inference.evaluate import evaluate_run
    from tf_transformer.runs import load_run

    _rule("3. evaluation (sacreBLEU)")
    run = load_run(run_dir)
    translator = Translator.from_run(run)  # one for all, the export too: each search is traced once
    scores = {}
    for split in splits:
        for beam in (1, 4):
            r = scores[split, beam] = evaluate_run(
                run_dir, split, beam_size=beam, limit=limit, run=run, translator=translator
            )
            print(
                f"{split:>14}, {'greedy' if beam == 1 else f'beam {beam}':>7}: BLEU {r['bleu']:6.2f}  "
                f"chrF {r['chrf']:6.2f}  exact {100 * r['exact']:5.1f}%  "
                f"({r['sentences']} sentences, {r['sentences_per_second']}/s)"
            )
    print(scores[TEST_SPLIT, 4]["bleu_line"])
    print(scores[TEST_SPLIT, 4]["chrf_line"])
    return scores, translator


def export_and_show(run_dir, translator, examples, languages) -> pathlib.Path:
    """Export ``translator``'s SavedModel, reload it as a server would, translate ``examples``.

    ``languages`` (source, target): when they are Portuguese and English, the
    classic sentence is translated first.
    """
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel uses)

    from tf_transformer.inference.export import SAVED_MODEL_FILE, export_version

    _rule("4. export, reload, translate")
    base = run_dir / "export"
    if (base / SAVED_MODEL_FILE).exists():  # an export from before versions, in export/ itself
        shutil.rmtree(base)
    # TensorFlow Serving's layout, version 1, replaced whole when the demo runs again.
    export_dir = export_version(translator, base, version=1, overwrite=True)
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    pairs = [(source, reference) for source, reference, _ in examples]
    source_language, target_language = languages
    classic = dict(zip(EMBEDDED_LANGUAGES, CLASSIC_SENTENCES[0]))  # the "it" of the attention maps
    if {source_language, target_language} <= set(classic):
        pairs.insert(0, (classic[source_language], classic[target_language]))
    outputs = serve(text=tf.constant([source for source, _ in pairs]))["translation"].numpy()
    for (source, reference), output in zip(pairs, outputs):
        output = output.decode("utf-8")
        mark = "=" if output == reference else "~"
        print(
            textwrap.dedent(f"""
            source     {source}
            reference  {reference}
            output {mark}  {output}""").rstrip()
        )
    return export_dir


def add_commands(commands) -> None:
    from tf_transformer.training.config import TrainConfig

    parser = commands.add_parser("demo", help="the whole main job, by default on the embedded corpus")
    parser.add_argument("--run-dir", default="runs/demo", help="(default: runs/demo)")
    parser.add_argument("--examples", type=int, default=5, help="test sentences to show (default: 5)")
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="score only the first N sentences of each split, for a quick look (default: all; "
        "metrics.json keeps such scores apart, as `evaluate --limit` does)",
    )
    TrainConfig.add_arguments(
        parser, recipe_defaults={name: _recipe_default(name) for name in FLAGS}, aliases=FLAG_ALIASES
    )
    parser.set_defaults(run=run_demo)
