"""Worked solutions to the exercises of notebook 2, "The data".

Run from the notebooks folder: ``python solutions/02_data.py``. Each cell works
one exercise out, prints what it found and asserts it. Nothing is written into
the repository (the vocabularies of exercise 3 go to a temporary folder) and
nothing is downloaded.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import pathlib
import string
import tempfile
import unicodedata

import tensorflow as tf

from tf_transformer import course
from tf_transformer.data import build_vocab, load_dataset, load_tokenizers, make_batches
from tf_transformer.data.tokenizer import Tokenizer, write_vocab

FAST = course.fast_mode()

tokenizers = load_tokenizers()


def read_vocab(tokenizer):
    """The tokenizer's vocabulary file, one token a line: a token's id is its line number - 1."""
    return pathlib.Path(tokenizer.get_vocab_path().numpy().decode()).read_text(encoding="utf-8").splitlines()


en_vocab = read_vocab(tokenizers.en)
assert len(en_vocab) == int(tokenizers.en.get_vocab_size()) == 806
en_id = {token: i for i, token in enumerate(en_vocab)}  # id = line number - 1

# %% Exercise 1
# (a) "The zebra didn't sleep."
#   Words (split at spaces and at punctuation, the apostrophe included):
#     The | zebra | didn | ' | t | sleep | .
#   "The", "didn", "'", "t", "sleep" and "." are lines of en.txt: one token each.
#   "zebra" is not. Longest prefix in the vocabulary: "zebra", "zebr", "zeb", "ze"
#   are absent, "z" is there. Then the rest, as continuations: "##ebra" ... "##e";
#   "##b"; "##r"; "##a". So zebra = z ##e ##b ##r ##a, five tokens for one word.
#   With [START] = 2 and [END] = 3 around them:
#     2  The=54  z=50 ##e=782 ##b=779 ##r=795 ##a=778  didn=61 '=4 t=44  sleep=397 .=6  3
# (b) "Kate didn't sleep at 3."
#   "Kate" starts with K, and en.txt has no "K" at all (its capitals are only those
#   that begin some sentence of the corpus). WordPiece cannot spell the word, and
#   it then gives up on the *whole word*: one [UNK] (id 1), not K=[UNK] plus "ate".
#   "3" is a word of its own (digits are not punctuation but are split from it),
#   and en.txt holds no digit: a second [UNK]. "zebra" was spelled letter by letter
#   because every lowercase letter and its ## form are in the vocabulary.
#     2  [UNK]=1  didn=61 '=4 t=44  sleep=397  at=63  [UNK]=1  .=6  3
#   Two [UNK]s.
# Teacher forcing for (a): en_in drops the last id ([END]), en_out drops the first
# ([START]); position t reads en_in[t] and is scored on en_out[t] = en_in[t + 1].
zebra = [2, 54, 50, 782, 779, 795, 778, 61, 4, 44, 397, 6, 3]
kate = [2, 1, 61, 4, 44, 397, 63, 1, 6, 3]
zebra_in, zebra_out = zebra[:-1], zebra[1:]
pieces = ["The", "z", "##e", "##b", "##r", "##a", "didn", "'", "t", "sleep", "."]
assert [en_id[p] for p in pieces] == zebra[1:-1]  # every id read off en.txt
assert [en_id[p] for p in ("[UNK]", "didn", "'", "t", "sleep", "at", "[UNK]", ".")] == kate[1:-1]
assert "K" not in en_id and "3" not in en_id

ids = tokenizers.en.tokenize(tf.constant(["The zebra didn't sleep.", "Kate didn't sleep at 3."]))
print("zebra:", ids[0].numpy().tolist())
print("Kate: ", ids[1].numpy().tolist(), "->", [t.decode() for t in tokenizers.en.lookup(ids[1]).numpy()])
assert ids[0].numpy().tolist() == zebra and ids[1].numpy().tolist() == kate
assert kate.count(1) == 2

# The pipeline builds en_in and en_out from the same ids (any Portuguese side will do).
pair = tf.data.Dataset.from_tensor_slices((["A zebra não dormiu."], ["The zebra didn't sleep."]))
(_, en_in), en_out = next(iter(make_batches(pair, tokenizers.pt, tokenizers.en, shuffle=False)))
print("en_in: ", en_in[0].numpy().tolist())
print("en_out:", en_out[0].numpy().tolist())
assert en_in[0].numpy().tolist() == zebra_in and en_out[0].numpy().tolist() == zebra_out

# %% Exercise 2
# WordPiece's greedy longest-match-first, in plain Python, from the vocabulary
# file alone. Two stages, as in Tokenizer.tokenize:
#   1. split the text into words: at whitespace, and around every punctuation
#      character (BERT counts as punctuation the ASCII symbols and every Unicode
#      category P*);
#   2. split each word: take the longest prefix the vocabulary has, then the
#      longest "##" continuation, and so on; if at some point no piece fits, the
#      whole word becomes [UNK].


def is_punctuation(char):
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def words(text):
    out = []
    for chunk in text.split():
        current = ""
        for char in chunk:
            if is_punctuation(char):
                out += [current, char] if current else [char]
                current = ""
            else:
                current += char
        if current:
            out.append(current)
    return out


def wordpiece(word, vocab):
    pieces, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):  # longest candidate first
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                pieces.append(piece)
                start = end
                break
        else:  # nothing fits: the whole word is unknown
            return ["[UNK]"]
    return pieces


def by_hand(text, vocab):
    return [piece for word in words(text) for piece in wordpiece(word, vocab)]


vocabs = {"pt": set(read_vocab(tokenizers.pt)), "en": set(en_vocab)}
test = list(load_dataset("embedded", "test").as_numpy_iterator())
unknown = {"pt": 0, "en": 0}
for side, column in (("pt", 0), ("en", 1)):
    texts = [pair[column].decode() for pair in test]
    tokenizer = tokenizers.pt if side == "pt" else tokenizers.en
    looked_up = tokenizer.lookup(tokenizer.tokenize(tf.constant(texts))).to_list()
    for text, tokens in zip(texts, looked_up):
        expected = [t.decode() for t in tokens[1:-1]]  # without [START] and [END]
        mine = by_hand(text, vocabs[side])
        assert mine == expected, (text, mine, expected)
        unknown[side] += mine.count("[UNK]")
print(f"greedy longest-match-first == the tokenizer on all {len(test)} test pairs, both sides")
print("[UNK] in the test split:", unknown)
assert unknown == {"pt": 0, "en": 0}
for text in ("The zebra didn't sleep.", "Kate didn't sleep at 3.", "O gato🙂 dorme.", "O gato 🙂 dorme."):
    print(f"{text!r:28} -> {by_hand(text, vocabs['pt' if text.startswith('O ') else 'en'])}")
# The emoji is a symbol, not punctuation: glued to "gato" it makes one word, and the
# whole word becomes [UNK]; with a space, only the emoji is lost.
assert by_hand("O gato🙂 dorme.", vocabs["pt"]) == ["O", "[UNK]", "dorme", "."]
assert by_hand("O gato 🙂 dorme.", vocabs["pt"]) == ["O", "gato", "[UNK]", "dorme", "."]
missing = sorted(set(string.ascii_uppercase) - vocabs["en"])
print("capital letters en.txt cannot spell (any word starting with one is [UNK]):", "".join(missing))
assert "K" in missing and "T" not in missing


# %% Exercise 3
# The vocabulary size sets the grain: with only the characters (about 150 tokens for
# Portuguese: reserved tokens, letters, punctuation and their ## forms) every word is
# spelled letter by letter; as the learner gets more room it adds frequent words and
# pieces, and the sentences shrink. We learn vocabularies of several sizes from the
# same sample of the training split, then count tokens on the test split.
# Two costs pull apart: attention's work grows with the square of the length, the
# embedding table (and the output projection) with the vocabulary size.
d_model = 128  # the tutorial preset
# A target is an upper bound: once every word of the sample is a token of its own the
# learner has nothing left to add (20,000 sentences hold about 1,500 distinct pieces).
sample_size, sizes = (1000, (150, 300, 600)) if FAST else (20000, (150, 300, 600, 1000, 4000))
sample = load_dataset("embedded", "train").take(sample_size).map(lambda pt, en: pt)
test_pt = [pt.decode() for pt, _ in test]
test_words = sum(len(words(text)) for text in test_pt)
results = []
with tempfile.TemporaryDirectory() as tmp:
    for size in sizes:
        vocab = build_vocab(sample, vocab_size=size)
        tokenizer = Tokenizer(write_vocab(vocab, pathlib.Path(tmp) / f"pt_{size}.txt"))
        ids = tokenizer.tokenize(tf.constant(test_pt))
        lengths = ids.row_lengths().numpy() - 2  # without [START] and [END]
        results.append((size, len(vocab), lengths.mean(), lengths.sum() / test_words))
committed = tokenizers.pt.tokenize(tf.constant(test_pt)).row_lengths().numpy() - 2
results.append(
    ("committed", int(tokenizers.pt.get_vocab_size()), committed.mean(), committed.sum() / test_words)
)
reference = results[-1][2]
per_sentence_words = test_words / len(test_pt)
print(f"{sample_size} training sentences; test split: {per_sentence_words:.1f} words and marks a sentence")
header = ("target", "tokens", "per sentence", "per word", "attention x", "embedding")
print(" ".join(f"{name:>{width}s}" for name, width in zip(header, (9, 6, 12, 8, 11, 9))))
for target, n, per_sentence, per_word in results:
    attention = (per_sentence / reference) ** 2
    print(f"{target!s:>9s} {n:6d} {per_sentence:12.1f} {per_word:8.2f} {attention:11.1f} {n * d_model:9,d}")
lengths = [per_sentence for _, _, per_sentence, _ in results[:-1]]
assert lengths[0] > lengths[1] > lengths[2], "a larger vocabulary should shorten the sentences"
assert all(a >= b for a, b in zip(lengths, lengths[1:]))  # (and never lengthen them)
assert results[0][3] > 2 * results[-1][3]  # the character-sized vocabulary: over twice the tokens
assert results[-1][3] < 1.1  # the committed vocabulary: about one token per word
