"""``tf-transformer train``: the command-line face of ``tf_transformer.training.train``."""

from __future__ import annotations

import sys

from tf_transformer.config import PRESETS


def run_train(args) -> int:
    from tf_transformer.training.callbacks import TrainingDiverged
    from tf_transformer.training.train import train

    try:
        result = train(
            args.preset, args.run_dir, dataset=args.dataset, epochs=args.epochs,
            max_steps=args.max_steps, max_minutes=args.max_minutes, batch_tokens=args.batch_tokens,
            max_length=args.max_length, steps_per_epoch=args.steps_per_epoch,
            train_examples=args.train_examples, validation_examples=args.validation_examples,
            seed=args.seed, strategy=args.strategy, mixed_precision=args.mixed_precision,
            jit_compile=args.jit_compile, warmup_steps=args.warmup_steps, lr_scale=args.lr_scale,
            label_smoothing=args.label_smoothing, dropout_rate=args.dropout_rate,
            norm_first=args.norm_first,
            backup_every=args.backup_every, verbose=args.verbose)
    except TrainingDiverged as err:
        print(f"tf-transformer train: {err}", file=sys.stderr)
        return 1
    last = result.history[-1] if result.history else {}
    summary = ", ".join(f"{k} {last[k]:.4f}" for k in ("loss", "masked_accuracy", "val_loss",
                                                      "val_masked_accuracy") if k in last)
    print(f"{result.stopped}: {result.steps} steps in {result.run_dir}"
          + (f" ({summary})" if summary else ""))
    return 0


def add_commands(commands) -> None:
    parser = commands.add_parser(
        "train", help="train a Transformer into a run directory (rerun to resume)",
        description="Train a preset Transformer into --run-dir. Rerunning the same command "
                    "resumes an interrupted run where it stopped.")
    parser.add_argument("--preset", default="tutorial", help=f"model size: {', '.join(PRESETS)} "
                        "(default: tutorial)")
    parser.add_argument("--run-dir", required=True, help="where the run lives (created or resumed)")
    parser.add_argument("--dataset", default="embedded",
                        help="embedded (default) or ted_hrlr_translate/pt_to_en")
    parser.add_argument("--epochs", type=int, help="epochs (default 20 unless --max-steps)")
    parser.add_argument("--max-steps", type=int, help="stop after this many optimizer steps in all")
    parser.add_argument("--max-minutes", type=float, help="stop after this much wall time")
    parser.add_argument("--batch-tokens", type=int, default=4096,
                        help="tokens per (global) batch, padding included (default 4096)")
    parser.add_argument("--max-length", type=int, default=64,
                        help="longest sentence in tokens; longer ones are cut (default 64)")
    parser.add_argument("--steps-per-epoch", type=int,
                        help="batches per epoch (default: one pass over the training split)")
    parser.add_argument("--train-examples", type=int, help="use only the first N training pairs")
    parser.add_argument("--validation-examples", type=int,
                        help="use only the first N validation pairs (0: no validation)")
    parser.add_argument("--seed", type=int, help="seed everything and make ops deterministic")
    parser.add_argument("--strategy", default="auto", choices=["auto", "mirrored", "multiworker"],
                        help="tf.distribute strategy (multiworker reads TF_CONFIG)")
    parser.add_argument("--mixed-precision", default="none", choices=["none", "bf16", "fp16"],
                        help="compute dtype (logits and loss stay float32; fp16 scales the loss)")
    parser.add_argument("--jit-compile", action="store_true", help="compile the train step with XLA")
    parser.add_argument("--warmup-steps", type=int, default=4000, help="learning-rate warm-up steps")
    parser.add_argument("--lr-scale", type=float, default=1.0, help="factor on the learning rate")
    parser.add_argument("--label-smoothing", type=float, default=0.1, help="(default 0.1)")
    parser.add_argument("--dropout-rate", type=float, help="override the preset's dropout")
    parser.add_argument("--norm-first", action="store_true",
                        help="pre-norm layers (learn much faster with a short warm-up)")
    parser.add_argument("--backup-every", type=int, default=100,
                        help="save the resumable state every N steps (default 100)")
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                        help="0 silent, 1 progress bar, 2 one line per epoch")
    parser.set_defaults(run=run_train)
