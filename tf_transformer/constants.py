"""Names and numbers that several parts of the package share, declared once.

Token ids are part of every vocabulary file, run directory and SavedModel
this package writes: they never move.
"""

# Reserved tokens come first in every vocabulary, so their ids are fixed.
RESERVED_TOKENS = ("[PAD]", "[UNK]", "[START]", "[END]")
PAD_ID, UNK_ID, START_ID, END_ID = range(len(RESERVED_TOKENS))

# The two sides of a translation corpus, as run directories and code name them.
SOURCE, TARGET = "source", "target"
SIDES = (SOURCE, TARGET)

# Dataset splits: what training reads, and what evaluation may score.
TRAIN_SPLIT = "train"
VALIDATION_SPLIT = "validation"
TEST_SPLIT = "test"
GENERALIZATION_SPLIT = "generalization"  # the embedded corpus only
EVALUATION_SPLITS = (TEST_SPLIT, VALIDATION_SPLIT, GENERALIZATION_SPLIT)

# The embedded corpus translates Portuguese into English unless reversed; its four splits.
EMBEDDED_LANGUAGES = ("pt", "en")
EMBEDDED_SPLITS = (TRAIN_SPLIT, VALIDATION_SPLIT, TEST_SPLIT, GENERALIZATION_SPLIT)

# The (pt, en) sentences whose "it" the course's attention maps look at: the adjective alone says
# whether it is the animal (tired) or the street (wide). The corpus generator puts them in the
# test split; the demo translates the first.
CLASSIC_SENTENCES = (
    (
        "O animal não atravessou a rua porque estava muito cansado.",
        "The animal didn't cross the street because it was too tired.",
    ),
    (
        "O animal não atravessou a rua porque ela era muito larga.",
        "The animal didn't cross the street because it was too wide.",
    ),
)

# Longest sentence, in tokens with [START] and [END], that training keeps by default,
# and the shortest limit that still holds one word: [START] word [END].
DEFAULT_MAX_LENGTH = 64
MIN_MAX_LENGTH = 3

# What a model adds to each token's embedding for its position (TransformerConfig.positions).
POSITIONS = ("sinusoidal", "learned", "none")
