"""Draw the README's figures into ``docs/``.

    python docs/make_figures.py            # writes docs/architecture.png
    python docs/make_figures.py --out DIR  # somewhere else (the tests do this)

``architecture.png`` is the model that the notebooks train: the ``tutorial``
preset as the ``course`` recipe builds it (pre-norm, ``max_length`` 64), with
the vocabulary sizes of the embedded corpus's shipped vocabularies
(``data/vocab/``, pt→en). (``make demo`` trains its widths with one layer of
each kind.)
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from tf_transformer import TransformerConfig  # the package quiets TensorFlow's start-up logs
from tf_transformer.constants import EMBEDDED_LANGUAGES
from tf_transformer.viz.diagram import architecture_figure

DOCS = pathlib.Path(__file__).resolve().parent
VOCAB_DIR = DOCS.parent / "data" / "vocab"


def vocab_size(language: str) -> int:
    """Tokens in a shipped vocabulary: one a line, as ``Tokenizer`` reads the file."""
    return len((VOCAB_DIR / f"{language}.txt").read_text(encoding="utf-8").splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=pathlib.Path, default=DOCS, help="folder to write into (default: docs/)"
    )
    args = parser.parse_args(argv)

    source, target = EMBEDDED_LANGUAGES
    config = TransformerConfig.from_preset(
        "tutorial",
        input_vocab_size=vocab_size(source),
        target_vocab_size=vocab_size(target),
        norm_first=True,  # the course recipe's (tf_transformer/recipes.py)
        max_length=64,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "architecture.png"
    # No "Software" entry: the file changes only when the picture does.
    architecture_figure(config).savefig(path, dpi=110, metadata={"Software": None})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
