"""Worked solutions to the exercises of notebook 10, "What 'it' refers to".

Run from the notebooks folder: ``python solutions/10_what_it_refers_to.py``.
It uses the notebooks' own runs (``runs/it_en_pt`` and notebook 6's
``runs/tutorial``), trained first if they are missing. With
``TF_TRANSFORMER_FAST=1`` those are the course's fast runs (``runs/fast/...``),
tiny models trained for a few dozen steps, so the numbers are about a barely
trained model and only the checks that hold for any model are made.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import math

import numpy as np

from tf_transformer import course
from tf_transformer.course import probes
from tf_transformer.inference import Translator
from tf_transformer.runs import load_run
from tf_transformer.viz import attention_weights

FAST = course.fast_mode()


def trained(name):
    """The course's run ``name``, as the notebooks have it (trained now if it is missing)."""
    return Translator.from_run(load_run(course.ensure_run(name)))


# %% Exercise 1
# A head scores "it" against every token (q . k / sqrt(d_k)) and turns the scores into
# weights with a softmax. Say the scores are 2.0 on "animal", 0.5 on "street" and 0 on the
# 12 other tokens. The softmax's denominator is e^2 + e^0.5 + 12 e^0 = 7.389 + 1.649 + 12
# = 21.038, so "animal" gets 7.389 / 21.038 = 0.351 and "street" 1.649 / 21.038 = 0.078.
#
# The head favours "street" once its score passes 2.0 (the weights of two tokens compare
# as the exponentials of their scores: the other tokens scale both alike). At a score of
# 2.0 + ln 2 = 2.693 for "street", its weight is exactly twice the animal's.
scores = np.array([2.0, 0.5] + [0.0] * 12)
weights = np.exp(scores) / np.exp(scores).sum()
print(f"animal {weights[0]:.3f}, street {weights[1]:.3f}")
assert abs(weights[0] - 0.351) < 5e-4 and abs(weights[1] - 0.078) < 5e-4
scores[1] = 2.0 + math.log(2)
weights = np.exp(scores) / np.exp(scores).sum()
assert abs(weights[1] / weights[0] - 2.0) < 1e-12
print(f"at street's score {scores[1]:.3f}: street / animal = {weights[1] / weights[0]:.3f}")

# %% Exercise 2
# "Favours the meant noun over the other" compares two weights only. The stricter question:
# is the meant noun the token the head looks at *most*, of all tokens? A noun of several
# pieces counts as looked at most when one of its pieces holds the row's largest weight.
# The head is chosen on validation by balanced accuracy, as in the notebook.
en_pt = trained("it_en_pt")
SAMPLE = 20 if FAST else None  # fast mode: a sample of each family
meant, other, kept = probes.weights_on_nouns(en_pt, probes.it_family("validation")[:SAMPLE])
subject = np.array([sentence.subject_is_meant for sentence in kept])
right = meant > other
on_subject = right[subject].mean(axis=0) if subject.any() else np.zeros(right.shape[1:])
on_object = right[~subject].mean(axis=0) if (~subject).any() else np.zeros(right.shape[1:])
balanced = (on_subject + on_object) / 2  # the notebook's choice of head, on validation
layer, head = np.unravel_index(balanced.argmax(), balanced.shape)
hits = []
test_family = probes.it_family("test")[:SAMPLE]
for sentence in test_family:
    rows, pieces = probes.attention_from_it(en_pt, sentence.english)
    nouns = probes.noun_positions(pieces)
    if nouns is None:
        continue
    meant = nouns[0] if sentence.subject_is_meant else nouns[1]
    hits.append(int(rows[layer, head].argmax()) in meant)
strict = float(np.mean(hits))
meant, other, kept = probes.weights_on_nouns(en_pt, test_family)
loose = float((meant[:, layer, head] > other[:, layer, head]).mean())
print(f"layer {layer + 1} head {head + 1} on test: largest weight of all on the meant noun {strict:.0%}, ")
print(f"  more weight on the meant noun than on the other {loose:.0%} ({len(hits)} sentences)")
# Whenever the largest weight of all is on the meant noun, the meant noun also beats the
# other one: the strict rate can never exceed the loose one.
assert len(hits) == len(kept) and strict <= loose + 1e-12

# %% Exercise 3
# Portuguese to English (notebook 6's model): "it" is not in the source, but the adjective
# is, and its ending already agrees with the noun it describes: "cansado" with "o animal",
# "larga" with "a rua". So the encoder can link the adjective to its noun. We read the row
# of the adjective (the last word before the full stop) in every layer and head, and compare
# its weights on "animal" and on "rua".
pt_en = trained("tutorial")
pairs = {
    "cansado": "O animal não atravessou a rua porque estava muito cansado.",
    "larga": "O animal não atravessou a rua porque ela era muito larga.",
}
favour = {}
for adjective, sentence in pairs.items():
    ids, pieces = probes.source_pieces(pt_en, sentence)
    encoder = attention_weights(pt_en.model, ids, [2])["encoder"]
    grouped = dict(probes.words(pieces))
    row = encoder[:, :, grouped[adjective][0], :]  # the adjective's first piece
    on_animal, on_street = row[..., grouped["animal"]].sum(-1), row[..., grouped["rua"]].sum(-1)
    favour[adjective] = on_animal > on_street  # [layers, heads]
    print(
        f"{adjective:8s} heads favouring 'animal': {int(favour[adjective].sum())} of {favour[adjective].size}"
    )
# The heads that change their mind between the two sentences are the candidates for
# agreement: toward "animal" for "cansado" and toward "rua" for "larga".
switching = favour["cansado"] & ~favour["larga"]
print(
    "heads that follow the adjective:",
    [f"layer {i + 1} head {j + 1}" for i, j in zip(*np.nonzero(switching))],
)
assert favour["cansado"].shape == (pt_en.model.config.num_layers, pt_en.model.config.num_heads)
if not FAST:
    assert switching.any(), "no head of the trained model links the adjective to its noun"
