"""Worked solutions to the exercises of notebook 7, Inference and saving.

Run from the notebooks folder: ``python solutions/07_inference_and_saving.py``.
Every answer is worked out, printed and checked with an assert. None of them
needs a trained model.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import math
from types import SimpleNamespace

import numpy as np
import tensorflow as tf

from tf_transformer import TransformerConfig, course, data
from tf_transformer.data import END_ID, START_ID
from tf_transformer.inference import beam_search, greedy_search, length_penalty
from tf_transformer.inference.search import MEMORY_BUDGET_BYTES, hypothesis_bytes, max_hypotheses

FAST = course.fast_mode()

# %% Exercise 1
# A finished hypothesis scores log P / lp(|Y|), lp(n) = ((5 + n) / 6) ** alpha.
# lp(4) = 1.5 ** alpha and lp(8) = (13/6) ** alpha.
short_logp, short_len = -2.0, 4
long_logp, long_len = -2.6, 8


def score(logp, n, alpha):
    return logp / ((5 + n) / 6) ** alpha


winners = {}
for alpha in (0.0, 0.6, 1.0):
    s, lo = score(short_logp, short_len, alpha), score(long_logp, long_len, alpha)
    winners[alpha] = "4 tokens" if s > lo else "8 tokens"
    print(f"alpha {alpha}: 4 tokens {s:.4f}, 8 tokens {lo:.4f} -> {winners[alpha]} wins")
    # the library's penalty is the same function
    assert math.isclose(float(length_penalty(short_len, alpha)), 1.5**alpha, rel_tol=1e-6)
# alpha 0:   -2.0 against -2.6: the shorter, more probable one.
# alpha 0.6: -2.0 / 1.2754 = -1.568 against -2.6 / 1.5903 = -1.635: still the shorter.
# alpha 1:   -2.0 / 1.5 = -1.333 against -2.6 / 2.1667 = -1.200: now the longer.
assert winners == {0.0: "4 tokens", 0.6: "4 tokens", 1.0: "8 tokens"}
# They tie when 2.0 / 1.5**a = 2.6 / (13/6)**a, i.e. (13/9)**a = 1.3:
tie = math.log(1.3) / math.log(13 / 9)
print(f"they tie at alpha = ln 1.3 / ln(13/9) = {tie:.3f}")
assert math.isclose(score(short_logp, short_len, tie), score(long_logp, long_len, tie), rel_tol=1e-12)
assert round(tie, 2) == 0.71

# %% Exercise 2
# Per decoder layer, one attention's keys and values: 2 * max_length * d_model
# numbers; a layer has two attentions (self and cross), so per hypothesis
#   layers * 2 attentions * 2 (K and V) * max_length * d_model
# = 4 * 2 * 2 * 64 * 128 = 131,072 numbers, plus two rows of logits (the
# logits and their log-softmax): 2 * 806 = 1,612. In float32, 4 bytes each.
layers, d_model, max_length, vocab = 4, 128, 64, 806
numbers = layers * 2 * 2 * max_length * d_model + 2 * vocab
by_hand = 4 * numbers
print(f"\none hypothesis: {numbers:,} floats = {by_hand:,} bytes ({by_hand / 2**20:.2f} MiB)")
tokenizers = data.load_tokenizers()
config = TransformerConfig.from_preset(
    "tutorial",
    input_vocab_size=int(tokenizers.source.get_vocab_size()),
    target_vocab_size=int(tokenizers.target.get_vocab_size()),
    max_length=max_length,
)
assert (config.num_layers, config.d_model, config.target_vocab_size) == (layers, d_model, vocab)
assert hypothesis_bytes(config, max_length) == by_hand == 530_736
# The budget, 2 GiB = 2,147,483,648 bytes, holds 4,046 such hypotheses; beam 4
# uses four per sentence, so 1,011 sentences at once.
hypotheses = MEMORY_BUDGET_BYTES // by_hand
print(f"2 GiB holds {hypotheses:,} hypotheses: beam 4 for {hypotheses // 4:,} sentences at once")
assert hypotheses == max_hypotheses(config, max_length) == 4046 and hypotheses // 4 == 1011

# %% Exercise 3
# The notebook's stand-in model: the next token's distribution is table[last].
A, B, C = 4, 5, 6
VOCAB = 7


def toy_table(b_row):
    table = np.zeros((VOCAB, VOCAB))
    table[START_ID, [A, B, C]] = [0.5, 0.4, 0.1]
    table[A, [END_ID, A, C]] = [0.2, 0.1, 0.7]
    table[B, [END_ID, A]] = b_row
    table[C, [END_ID, B]] = [0.9, 0.1]
    table[[0, 1, END_ID], END_ID] = 1.0
    return table


class TableModel:
    config = SimpleNamespace(num_layers=1, d_model=1, target_vocab_size=VOCAB, max_length=8)

    def __init__(self, table):
        self.log_table = tf.constant(np.where(table > 0, np.log(np.maximum(table, 1e-30)), -1e9), tf.float32)

    def encode(self, context_ids, training=False):
        rows = tf.shape(context_ids)[0]
        return tf.zeros([rows, 1, 1]), tf.ones([rows, 1], tf.bool)

    def init_cache(self, context, length):
        return [{"self": (tf.zeros([tf.shape(context)[0], 1]),), "cross": context}]

    def decode_cached(self, tokens, context_mask, cache, t):
        return tf.gather(self.log_table, tokens[:, 0])[:, None, :], cache


# In the notebook "b [END]" (P = 0.4 * 0.8 = 0.32) lost to greedy's "a c [END]"
# (P = 0.315) once the length penalty was applied: -1.1394 / 1.0969 = -1.0388
# against -1.1552 / 1.1884 = -0.9720. Make "b [END]" more likely: after b, [END]
# 0.9 and a 0.1. Then P(b [END]) = 0.36 and its score log 0.36 / lp(2) =
# -1.0217 / 1.0969 = -0.9314, above -0.9720. Greedy still takes a (0.5 > 0.4)
# and never sees it.
# By hand, with two beams: step 0 keeps a (0.5) and b (0.4). Step 1's four best:
# b [END] 0.36, a c 0.35, a [END] 0.10, a a 0.05. b [END] ranks first: finished.
# Alive: a c, a a. Step 2: a c [END] 0.315 ranks first: finished. Two finished,
# and the best live prefix (P = 0.035) is far below both: stop. The winner is
# the better-scored of the two finished ones: b [END].
table = toy_table([0.9, 0.1])
toy = TableModel(table)
source = tf.constant([[START_ID, 9, END_ID]])
b_end = math.log(0.4 * 0.9) / ((5 + 2) / 6) ** 0.6
a_c_end = math.log(0.5 * 0.7 * 0.9) / ((5 + 3) / 6) ** 0.6
print(f"\nby hand: b [END] {b_end:.4f}, a c [END] {a_c_end:.4f}")
assert round(b_end, 4) == -0.9314 and round(a_c_end, 4) == -0.9720 and b_end > a_c_end

greedy = greedy_search(toy, source, 5).numpy()[0].tolist()
beam, beam_score = beam_search(toy, source, 2, 5, alpha=0.6)
print(f"greedy: {greedy}   beam 2: {beam.numpy()[0].tolist()} (score {float(beam_score[0]):.4f})")
assert greedy == [A, C, END_ID]
assert beam.numpy()[0].tolist() == [B, END_ID, 0]  # the [END], then padding
assert abs(float(beam_score[0]) - b_end) < 1e-5
