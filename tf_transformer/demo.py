"""The main job, end to end on the embedded default data: ``tf-transformer demo`` (``make demo``).

1. prepare the embedded corpus (TFDS) and its committed WordPiece vocabularies;
2. train the ``tutorial`` preset within a wall-time budget, with Keras's live progress bar;
3. evaluate BLEU and chrF (sacreBLEU) on the test split, greedy and beam 4, and on
   the generalization split (sentence shapes never seen in training);
4. export the SavedModel, reload it as a server would, and translate the classic
   sentence and a few test sentences: source, reference and output side by side.

A second run resumes the run directory (see ``train``) rather than starting over.
"""

from __future__ import annotations

import pathlib
import textwrap
import time

CLASSIC = "O animal não atravessou a rua porque estava muito cansado."


def _rule(title):
    print(f"\n== {title} " + "=" * max(0, 74 - len(title)))


def run_demo(args) -> int:
    started = time.monotonic()
    run_dir = pathlib.Path(args.run_dir)

    _rule("1. data")
    from tf_transformer.data import prepare
    summary = prepare()
    print(f"embedded corpus: {summary['splits']} sentence pairs; vocabularies {summary['vocab_sizes']} "
          f"in {summary['vocab_dir']}")

    _rule(f"2. training the {args.preset} preset for at most {args.minutes:g} minutes")
    from tf_transformer.training import train
    # Short epochs, so validation, checkpoints and the history come every few minutes.
    # Pre-norm: with a 10-minute budget the paper's post-norm stalls near 50% accuracy.
    result = train(args.preset, run_dir, epochs=1000, steps_per_epoch=200, max_minutes=args.minutes,
                   seed=args.seed, warmup_steps=args.warmup_steps, batch_tokens=2048, norm_first=True,
                   verbose=1)
    last = result.history[-1] if result.history else {}
    print(f"{result.steps} optimizer steps, stopped: {result.stopped}; last epoch: "
          + ", ".join(f"{k} {v:.3f}" for k, v in last.items() if k in ("loss", "val_loss", "val_masked_accuracy")))

    _rule("3. evaluation (sacreBLEU)")
    from tf_transformer.inference.evaluate import METRICS_FILE, evaluate_run
    scores = {}
    for split, beam in [("test", 1), ("test", 4), ("generalization", 1), ("generalization", 4)]:
        r = evaluate_run(run_dir, split, beam_size=beam)
        scores[split, beam] = r
        print(f"{split:>14}, {'greedy' if beam == 1 else f'beam {beam}':>7}: BLEU {r['bleu']:6.2f}  "
              f"chrF {r['chrf']:6.2f}  ({r['sentences']} sentences, {r['sentences_per_second']}/s)")
    print(scores["test", 4]["bleu_line"])
    print(scores["test", 4]["chrf_line"])

    _rule("4. export, reload, translate")
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel uses)

    from tf_transformer.inference import Translator, export_translator
    from tf_transformer.training import load_run
    export_dir = export_translator(Translator.from_run(load_run(run_dir)), run_dir / "export")
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    examples = scores["test", 1]["examples"][:args.examples]
    sources = [CLASSIC] + [source for source, _, _ in examples]
    references = ["The animal didn't cross the street because it was too tired."] + \
        [reference for _, reference, _ in examples]
    outputs = serve(text=tf.constant(sources))["translation"].numpy()
    for source, reference, output in zip(sources, references, outputs):
        output = output.decode("utf-8")
        mark = "=" if output == reference else "~"
        print(textwrap.dedent(f"""
            source     {source}
            reference  {reference}
            output {mark}  {output}""").rstrip())

    _rule("written")
    print(f"run directory   {run_dir}/  (run.json, model.keras, model.weights.h5, checkpoints/, "
          f"history.json, logs/)")
    print(f"metrics         {run_dir / METRICS_FILE}")
    print(f"SavedModel      {export_dir}/  (signatures serving_default and beam_search)")
    print(f"\ntest BLEU greedy {scores['test', 1]['bleu']:.2f}, beam 4 {scores['test', 4]['bleu']:.2f}; "
          f"generalization greedy {scores['generalization', 1]['bleu']:.2f}, "
          f"beam 4 {scores['generalization', 4]['bleu']:.2f}; "
          f"demo wall time {(time.monotonic() - started) / 60:.1f} minutes")
    return 0


def add_commands(commands) -> None:
    parser = commands.add_parser("demo", help="the whole main job on the embedded default data")
    parser.add_argument("--preset", default="tutorial", help="model size (default: tutorial)")
    parser.add_argument("--run-dir", default="runs/demo", help="(default: runs/demo)")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="training wall-time budget (default: 10)")
    parser.add_argument("--warmup-steps", type=int, default=400,
                        help="learning-rate warm-up, short for a short budget (default: 400)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=5, help="test sentences to show (default: 5)")
    parser.set_defaults(run=run_demo)
