"""``prepare``: make everything training needs exist, and say what it did.

For the embedded corpus: prepare the TFDS dataset ``embedded_pt_en`` (from
the files in ``data/``) and check the committed vocabularies, building them
only if they are missing. For TED: load it (see :func:`load_dataset` for the
offline rules) and build its vocabularies from its training split.
"""

from __future__ import annotations

import pathlib
import time

from tf_transformer.data.datasets import DATASETS, EMBEDDED, _tfds_name, load_dataset
from tf_transformer.data.tokenizer import LANGUAGES, VOCAB_DIR, build_vocab_files, load_tokenizers

TED_VOCAB_DIR = VOCAB_DIR / "ted_hrlr_translate_pt_to_en"


def default_vocab_dir(dataset: str = EMBEDDED) -> pathlib.Path:
    return VOCAB_DIR if _tfds_name(dataset) == _tfds_name(EMBEDDED) else TED_VOCAB_DIR


def prepare(dataset: str = EMBEDDED, data_dir: str | pathlib.Path | None = None,
            vocab_dir: str | pathlib.Path | None = None, rebuild_vocab: bool = False) -> dict:
    """Prepare ``dataset`` and its vocabularies; return a summary.

    Args:
        dataset: ``"embedded"`` or ``"ted_hrlr_translate/pt_to_en"``.
        data_dir: TFDS data dir (``None``: TFDS's default).
        vocab_dir: where ``pt.txt`` / ``en.txt`` live (default: ``data/vocab``
            for the embedded corpus, ``data/vocab/ted_hrlr_translate_pt_to_en``
            for TED).
        rebuild_vocab: learn the vocabularies again even if they exist.

    Returns:
        ``{"dataset", "tfds_name", "data_dir", "splits": {split: pairs},
        "vocab_dir", "vocab_sizes": {"pt", "en"}, "vocab_built", "seconds"}``.
    """
    start = time.perf_counter()
    vocab_dir = pathlib.Path(vocab_dir) if vocab_dir else default_vocab_dir(dataset)
    splits = {}
    import tensorflow_datasets as tfds

    train = load_dataset(dataset, "train", data_dir)  # prepares on first use
    builder = tfds.builder(_tfds_name(dataset), data_dir=data_dir and str(data_dir))
    for split, info in builder.info.splits.items():
        splits[split] = info.num_examples
    missing = [lang for lang in LANGUAGES if not (vocab_dir / f"{lang}.txt").exists()]
    built = bool(missing) or rebuild_vocab
    if built:
        build_vocab_files(train, vocab_dir)
    tokenizers = load_tokenizers(vocab_dir)
    return {
        "dataset": dataset,
        "tfds_name": _tfds_name(dataset),
        "data_dir": str(builder.data_dir),
        "splits": splits,
        "vocab_dir": str(vocab_dir),
        "vocab_sizes": {"pt": int(tokenizers.pt.get_vocab_size()),
                        "en": int(tokenizers.en.get_vocab_size())},
        "vocab_built": built,
        "seconds": round(time.perf_counter() - start, 1),
    }


def run_prepare(args) -> int:
    summary = prepare(args.dataset, data_dir=args.data_dir, rebuild_vocab=args.rebuild_vocab)
    print(f"dataset     {summary['dataset']} (TFDS: {summary['tfds_name']})")
    print(f"prepared in {summary['data_dir']}")
    for split, pairs in summary["splits"].items():
        print(f"  {split:15s} {pairs:7,d} pairs")
    action = "built" if summary["vocab_built"] else "found"
    sizes = summary["vocab_sizes"]
    print(f"vocabulary  {action} in {summary['vocab_dir']}: pt {sizes['pt']:,} tokens, en {sizes['en']:,} tokens")
    print(f"done in {summary['seconds']} s")
    return 0


def add_commands(commands) -> None:
    parser = commands.add_parser("prepare", help="build the dataset and vocabularies that training needs")
    parser.add_argument("--dataset", default=EMBEDDED, choices=sorted(DATASETS),
                        help="embedded (default, ships in data/) or ted_hrlr_translate/pt_to_en")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory (default: TFDS's own)")
    parser.add_argument("--rebuild-vocab", action="store_true",
                        help="learn the vocabularies again even if they exist")
    parser.set_defaults(run=run_prepare)
