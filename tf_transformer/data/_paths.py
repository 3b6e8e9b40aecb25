"""Where the data lives, and the split names: shared by the corpus generator
and the TFDS builder without importing each other."""

import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
CORPUS_DIR = DATA_DIR / "embedded_pt_en"
VOCAB_DIR = DATA_DIR / "vocab"
SPLITS = ("validation", "test", "generalization", "train")  # generation order
