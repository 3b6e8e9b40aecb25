"""``tf-transformer train``: the command-line face of ``tf_transformer.training.train``.

Its flags are ``TrainConfig``'s fields (``TrainConfig.add_arguments``), so a
setting's default, range and help are written once, in ``training/config.py``.
"""

from __future__ import annotations


def run_train(args) -> int:
    from tf_transformer.training.config import TrainConfig
    from tf_transformer.training.loop import train

    # A bad setting raises ValueError before any work; what stops training early (a NaN, a
    # signal, a cluster that does not form) raises too: tf_transformer.cli.EXIT_CODES reports each.
    config = TrainConfig.from_args(args)
    result = train(config, args.run_dir)
    last = result.history[-1] if result.history else {}
    summary = ", ".join(
        f"{k} {last[k]:.4f}"
        for k in ("loss", "masked_accuracy", "val_loss", "val_masked_accuracy")
        if k in last
    )
    print(
        f"{result.stopped}: {result.steps} steps in {result.run_dir}" + (f" ({summary})" if summary else "")
    )
    return 0


def add_commands(commands) -> None:
    from tf_transformer.training.config import TrainConfig

    parser = commands.add_parser(
        "train",
        help="train a Transformer into a run directory (rerun to resume)",
        description="Train a preset Transformer into --run-dir. Rerunning the same command "
        "resumes an interrupted run where it stopped.",
    )
    parser.add_argument("--run-dir", required=True, help="where the run lives (created or resumed)")
    TrainConfig.add_arguments(parser)
    parser.set_defaults(run=run_train)
