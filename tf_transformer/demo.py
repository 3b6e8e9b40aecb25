"""The main job, end to end on the embedded default data: ``tf-transformer demo``."""

from __future__ import annotations

from tf_transformer import Transformer, TransformerConfig


def run_demo(args) -> int:
    # Until the data and training pieces land, the demo builds the tutorial model
    # at the embedded corpus's vocabulary scale and shows what it is made of.
    config = TransformerConfig.from_preset(args.preset, input_vocab_size=8000, target_vocab_size=8000)
    model = Transformer(config)
    model.build()
    model.summary()
    print(f"\n{args.preset} preset: {model.count_params():,} parameters")
    return 0


def add_commands(commands) -> None:
    parser = commands.add_parser("demo", help="the whole main job on the embedded default data")
    parser.add_argument("--preset", default="tutorial", help="model size (default: tutorial)")
    parser.set_defaults(run=run_demo)
