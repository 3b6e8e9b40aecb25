# %% [markdown]
# # 8. Using the layers in your own models
#
# **What you will learn:** the course's layers are a library, not notebook
# code. We import `Encoder` into a brand-new model, a Portuguese sentence
# classifier, train it on the embedded corpus, and look inside it: how
# the pooled decision decomposes over the tokens, and which source token
# the decision rests on.
#
# The task: given a Portuguese sentence, is it negated? The label comes from
# the English side of each pair (does the translation say *not* or *n't*?),
# so the classifier must learn that *não* matters, wherever it sits. On
# this synthetic corpus that is an easy task, and we measure how easy
# before training.

# %% [markdown]
# ## 本节内容
#
# 这一节说明课程里的层是一个可以直接导入的库，而不只是笔记本里的代码。我们把
# `Encoder` 拿来搭一个全新的模型：判断一个葡萄牙语句子是不是否定句，标签取自对应的
# 英语译文里有没有 not。训练之前先量一量这个任务有多容易；训练之后确认填充掩码带来的
# 不变性在新模型里依然成立。最后看看模型内部：分类的 logit 可以精确地拆成每个词元
# 的贡献之和，而逐个删去词元、观察 logit 的变化，能看出模型的判断究竟依赖哪一个词。

# %%
# In Google Colab, or a Jupyter where the course is not installed, this cell installs it
# (README: "Opening the course elsewhere"). Where tf_transformer is installed, it does nothing.
import importlib.util

if importlib.util.find_spec("tf_transformer") is None:
    import glob
    import os
    import re
    import subprocess
    import sys

    # TF_TRANSFORMER_SOURCE: a wheel, a checkout folder or git+https://...; else the newest wheel
    # beside this notebook (by version, not by name: 0.10.0 is newer than 0.9.0)
    wheels = glob.glob("tf_transformer-*.whl")
    source = os.environ.get("TF_TRANSFORMER_SOURCE") or max(
        wheels, key=lambda w: [int(n) for n in re.findall(r"\d+", w.split("-")[1])], default=""
    )
    if not source:
        raise RuntimeError(
            "tf_transformer is not installed. Upload its wheel beside this notebook (Colab: the Files "
            "panel; a checkout builds it with `pip wheel --no-deps -w dist .`), or run "
            "`%env TF_TRANSFORMER_SOURCE=git+https://github.com/OWNER/REPO` with the course "
            "repository's address; then run this cell again."
        )
    command = [sys.executable, "-m", "pip", "install", "--quiet", source]
    pip = subprocess.run(command, capture_output=True, text=True)
    if pip.returncode:  # one line, not pip's traceback
        said = (pip.stderr.strip().splitlines() or ["(nothing)"])[-1]
        raise RuntimeError(f"pip could not install {source!r}: {said} (TF_TRANSFORMER_SOURCE or the wheel?)")
    importlib.invalidate_caches()

# %%
import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import re

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from tf_transformer import course
from tf_transformer.data import PAD_ID, load_dataset, load_tokenizers
from tf_transformer.layers import Encoder

FAST = course.fast_mode()
TRAIN_SIZE, EPOCHS = (2000, 1) if FAST else (20000, 3)
keras.utils.set_random_seed(0)

# %% [markdown]
# ## Data: Portuguese ids and a label from the English side

# %%
tokenizers = load_tokenizers()
NEGATION = re.compile(r"\bnot\b|n't\b")


def labelled(split, size=None):
    pairs = load_dataset("embedded", split)
    if size:
        pairs = pairs.take(size)
    pt, en = zip(*[(p.decode(), e.decode()) for p, e in pairs.as_numpy_iterator()])
    ids = tokenizers.pt.tokenize(tf.constant(pt)).to_tensor(default_value=PAD_ID)  # (N, S), 0-padded
    labels = np.array([bool(NEGATION.search(e)) for e in en], dtype="float32")
    return pt, ids, labels


train_pt, train_ids, train_labels = labelled("train", TRAIN_SIZE)
test_pt, test_ids, test_labels = labelled("test")
print("train ids", train_ids.shape, " negated share:", train_labels.mean().round(3))
for sentence, label in list(zip(train_pt, train_labels))[:4]:
    print(int(label), sentence)

# %% [markdown]
# How hard is this? In Portuguese the negation is the word *não* before the
# verb (*Não* at the start of a sentence). So a one-word rule, "negated if
# the sentence holds the token *não* or *Não*", may already match the
# labels. Let us count before training anything:

# %%
NAO = []
for word in ("não", "Não"):
    ids = tokenizers.pt.tokenize(tf.constant([word])).to_tensor().numpy()[0]  # [START] word [END]
    assert len(ids) == 3, f"{word!r} is not one token"
    NAO.append(int(ids[1]))


def one_word_rule(ids):
    """True where a row holds the token não or Não."""
    return np.isin(np.asarray(ids), NAO).any(axis=1)


rule_agreement = np.mean(one_word_rule(test_ids) == (test_labels == 1))
print(f"token ids of não / Não: {NAO}")
print(f"the one-word rule agrees with {rule_agreement:.2%} of the {len(test_labels)} test labels")
assert rule_agreement > 0.99

# %% [markdown]
# It agrees with over 99% of the labels. So this is not a hard task: it is
# a check that a model built from the library's parts can find one token
# wherever it sits in a sentence, and expect the accuracy to reach 1.0.

# %% [markdown]
# **要点**
#
# - 任务：给一个葡萄牙语句子，判断它是不是否定句。标签取自句对的英语一侧（译文里有没有 *not* 或 *n't*），
#   所以分类器必须学会 *não* 的作用，不管它在句中什么位置。训练用 20,000 句，其中 39.3% 是否定句。
# - 训练之前先量一量任务有多难：葡萄牙语的否定就是动词前的 *não*（句首写作 *Não*）。“句中有词元 *não* 或 *Não*
#   就是否定句”这条单词规则，与测试集 2000 个标签的吻合率是 100%。
# - 所以这不是一个难任务，而是一次检查：用库的部件搭出的模型，能不能在句子的任何位置找到一个词元；
#   准确率应当达到 1.0。

# %% [markdown]
# ## A new model from the library's `Encoder`
#
# The encoder turns ids into one vector per token. A classifier needs one
# vector per sentence: we average the token vectors, counting real tokens
# only (the same padding discipline as the translation model), then a
# single dense unit gives the logit.


# %%
class NegationClassifier(keras.Model):
    def __init__(self, vocab_size, **kwargs):
        super().__init__(**kwargs)
        self.encoder = Encoder(
            num_layers=2,
            d_model=64,
            num_heads=4,
            dff=128,
            vocab_size=vocab_size,
            max_length=128,
            dropout_rate=0.1,
        )
        self.head = keras.layers.Dense(1)

    def call(self, ids, training=None):
        mask = tf.not_equal(ids, PAD_ID)  # (B, S)
        vectors = self.encoder(ids, padding_mask=mask, training=training)  # (B, S, 64)
        weights = tf.cast(mask, vectors.dtype)[..., None]  # (B, S, 1)
        pooled = tf.reduce_sum(vectors * weights, 1) / tf.reduce_sum(weights, 1)  # (B, 64)
        return self.head(pooled)[:, 0]  # (B,) logits


classifier = NegationClassifier(int(tokenizers.pt.get_vocab_size()))
classifier.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
)


class HeldOutAccuracy(keras.callbacks.Callback):
    """Accuracy on a fixed set of held-out sentences, every ``every`` optimizer steps."""

    def __init__(self, ids, labels, every):
        super().__init__()
        self.ids, self.labels, self.every, self.points = ids, labels == 1, every, []

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step == 1 or step % self.every == 0:
            predicted = self.model(self.ids, training=False).numpy() > 0
            self.points.append((step, float(np.mean(predicted == self.labels))))


curve = HeldOutAccuracy(test_ids[:512], test_labels[:512], every=5 if FAST else 10)
history = classifier.fit(
    train_ids,
    train_labels,
    batch_size=64,
    epochs=EPOCHS,
    validation_split=0.1,
    verbose=2,
    callbacks=[curve],
)

# %% [markdown]
# The curve below is the accuracy on 512 held-out test sentences, measured
# every few optimizer steps while the model trains (each step is one batch
# of 64 sentences; the dotted lines mark the ends of epochs). The task being
# what the count above says, expect it to climb within the first epoch and
# then sit at 1.0: the later epochs add nothing the plot can show.

# %%
result = classifier.evaluate(test_ids, test_labels, verbose=0, return_dict=True)
majority = max(test_labels.mean(), 1 - test_labels.mean())
print(
    f"test accuracy: {result['binary_accuracy']:.3f} "
    f"(always answering the majority class would give {majority:.3f})"
)
points = np.array(curve.points)
steps_per_epoch = int(np.ceil(len(train_ids) * 0.9 / 64))
first_perfect = next((int(step) for step, accuracy in points if accuracy == 1.0), None)
print(f"held-out accuracy first reaches 1.0 at step {first_perfect} ({steps_per_epoch} steps an epoch)")

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(points[:, 0], points[:, 1], marker=".")
for epoch in range(1, EPOCHS + 1):
    ax.axvline(epoch * steps_per_epoch, color="gray", linestyle=":")
ax.set_xlabel("optimizer step (one batch of 64 sentences)")
ax.set_ylabel("held-out accuracy")
ax.set_title("negation classifier while it trains")
plt.show()
if not FAST:
    assert result["binary_accuracy"] > 0.99
    assert first_perfect is not None and first_perfect <= steps_per_epoch  # within the first epoch

# %% [markdown]
# **要点**
#
# - 编码器把 id 变成每个词元一个向量，分类器需要每句一个向量：对词元向量求平均，
#   只计真实词元（与翻译模型同样的填充规矩），再由一个全连接单元给出 logit。编码器：2 层，d_model 64，4 个头，
#   dff 128。
# - 训练 3 轮（每轮 282 步，每步一批 64 句），测试准确率 1.000，而总是回答多数类只能得到 0.607。
# - 训练时每隔几步在 512 句留出的测试句上测一次准确率：第 50 步就第一次达到 1.0，远在第一轮结束之前；
#   后面的轮次在图上看不出变化。

# %% [markdown]
# ## Padding invariance carries over
#
# Because the `Encoder` takes its padding mask explicitly and the pooling
# counts real tokens only, extra padding changes nothing in the new model
# either.

# %%
sample = test_ids[:8]
padded = tf.pad(sample, [[0, 0], [0, 17]])
diff = float(tf.reduce_max(tf.abs(classifier(sample) - classifier(padded))))
print(f"max change in logits after adding 17 padding tokens: {diff:.2e}")
assert diff < 1e-4

# %% [markdown]
# **要点**
#
# - `Encoder` 显式接收填充掩码，池化又只计真实词元，所以在新模型里多补填充同样什么也不改变。
# - 给 8 个测试句各补 17 个填充词元，logits 的最大变化只在浮点误差的量级（见上面的输出）。
# - 这正是第 4 节在翻译模型上验证过的性质，换了一个模型依然成立。

# %% [markdown]
# ## What did it learn?
#
# Ask the trained classifier about sentences with and without *não*.

# %%
probes = [
    "O animal atravessou a rua.",
    "O animal não atravessou a rua.",
    "Eu não como o pão.",
    "Eu como o pão.",
]
probe_ids = tokenizers.pt.tokenize(tf.constant(probes)).to_tensor()
for sentence, p in zip(probes, tf.sigmoid(classifier(probe_ids)).numpy()):
    print(f"P(negated) = {p:.3f}   {sentence}")

# %% [markdown]
# ## Looking inside
#
# **The pooling, term by term.** The head is linear, so the logit splits
# exactly over the tokens: with $v_i$ the encoder's vector of real token
# *i*, $n$ the number of real tokens and $w, b$ the dense unit's weights,
#
# $$\text{logit} = w \cdot \frac{1}{n}\sum_i v_i + b = \sum_i \frac{w \cdot v_i}{n} + b.$$
#
# Each term $w \cdot v_i / n$ is what position *i* adds to the decision.
# We compute them for the four probes and check that they add up to the
# logit.


# %%
def token_terms(ids):
    """``(B, S)``: each real token's term ``w . v_i / n`` of the logit (0 at padding)."""
    mask = tf.not_equal(ids, PAD_ID)
    vectors = classifier.encoder(ids, padding_mask=mask, training=False)  # (B, S, 64)
    per_token = (vectors @ classifier.head.kernel)[..., 0]  # (B, S): w . v_i
    count = tf.reduce_sum(tf.cast(mask, per_token.dtype), axis=1, keepdims=True)  # (B, 1)
    return tf.where(mask, per_token / count, 0.0).numpy()


def pieces(ids):
    return [t.decode() for t in tokenizers.pt.lookup(tf.constant([ids], tf.int64)).numpy()[0]]


terms = token_terms(probe_ids)
probe_logits = classifier(probe_ids).numpy()
bias = float(classifier.head.bias.numpy()[0])
sum_gap = float(np.max(np.abs(terms.sum(axis=1) + bias - probe_logits)))
spreads = []
for sentence, ids, row, logit in zip(probes, probe_ids.numpy(), terms, probe_logits):
    real = ids != PAD_ID
    spreads.append((row[real].max() - row[real].min()) / abs(row[real].mean()))
    print(f"logit {logit:+7.2f}  {sentence}")
    print("   " + "  ".join(f"{p} {t:+.2f}" for p, t in zip(pieces(ids[real]), row[real])))
print(f"\nsum of the terms + bias - logit: at most {sum_gap:.1e}")
print(f"largest spread of one sentence's terms, relative to their mean: {max(spreads):.3f}")
assert sum_gap < 1e-4
if not FAST:
    assert max(spreads) < 0.1

# %% [markdown]
# The terms add up to the logit, but they do not point at *não*: within a
# sentence they are all nearly the same (the spread printed above is a few
# percent of their size at most). Two layers of self-attention have already
# copied the verdict into every position before the pooling sees it, so the
# pooled vectors say *that* the sentence is negated, everywhere, and not
# *which* word made it so.
#
# **Which source token it rests on.** To ask which input token the
# decision depends on, take tokens away: delete one token at a time (keeping
# `[START]` and `[END]`), run the classifier on each shortened sentence, and
# see how far the logit falls. We do it for the negated probes and then
# for 200 negated test sentences.


# %%
def deletions(ids):
    """The logit of ``ids`` (one row) and of each copy with one real token deleted."""
    real = [int(t) for t in ids if t != PAD_ID]
    copies = [real[:i] + real[i + 1 :] for i in range(1, len(real) - 1)]  # keep [START] and [END]
    batch = tf.ragged.constant([real] + copies).to_tensor(default_value=PAD_ID)
    logits = classifier(batch).numpy()
    return real[1:-1], logits[0], logits[1:]


fig, axes = plt.subplots(1, 2, figsize=(11, 3))
for ax, sentence in zip(axes, [p for p in probes if "não" in p]):
    words, full, without = deletions(tokenizers.pt.tokenize(tf.constant([sentence])).to_tensor().numpy()[0])
    ax.bar(range(len(words)), full - without)
    ax.set_xticks(range(len(words)), pieces(words), rotation=45)
    ax.set_ylabel("fall of the logit")
    ax.set_title(f"deleting one token from: {sentence}", fontsize=9)
plt.tight_layout()
plt.show()

negated = test_ids.numpy()[test_labels == 1][:200]
decisive, single, single_flipped = 0, 0, 0
for ids in negated:
    words, full, without = deletions(ids)
    most = int(np.argmax(full - without))  # the deletion that lowers the logit most
    decisive += words[most] in NAO
    if sum(word in NAO for word in words) == 1:  # the sentence's only não / Não
        single += 1
        single_flipped += bool(without[most] < 0)
print(f"of {len(negated)} negated test sentences, deleting não / Não lowers the logit most in {decisive}")
print(
    f"{single} hold a single não / Não: deleting it turns the answer to 'not negated' in {single_flipped}; "
    f"the other {len(negated) - single} hold two, and deleting one leaves the other"
)
if not FAST:
    assert decisive / len(negated) > 0.95 and single_flipped / single > 0.95

# %% [markdown]
# Deleting *não* is what moves the logit most, in nearly every negated
# sentence; where it is the sentence's only *não*, deleting it turns the
# answer round, and deleting any other word barely moves the logit. So the
# classifier reads the sentence through the one token that the count at the
# start said was enough, which is what a sound model of this task should
# do, and the attention layers are what carry that token's news to every
# position before the pooling averages them.

# %% [markdown]
# **要点**
#
# - 试问训练好的分类器：含 *não* 的两句 P(否定) 为 1.000，不含的两句为 0.000。
# - 把池化逐项拆开：输出头是线性的，logit 恰好等于每个真实词元的贡献 w·vᵢ/n 之和加上偏置（误差至多 9.5e-07）。
#   但这些项并不指向 *não*：同一句里它们几乎一样（相对差至多 0.012）。
#   两层自注意力在池化之前已经把“是否定句”的结论复制到每个位置，所以池化后的向量说明句子是否定的，
#   却不说明是哪个词造成的。
# - 要问判断依赖哪个输入词元，就把词元拿掉：逐个删去词元（保留 `[START]` 和 `[END]`），看 logit 降了多少。在
#   200 个否定测试句中，删去 *não* / *Não* 让 logit 降得最多的有 200 句；其中 186 句只有一个 *não* / *Não*，
#   删去它，这 186 句的答案全部变成“不是否定句”；另外 14 句有两个，删去一个还剩另一个。
# - 所以分类器正是通过开头统计表明足够的那个词元来读句子，这是这个任务上合理的模型应有的做法；
#   把这个词元的信息传到每个位置、再由池化求平均的，是注意力层。

# %% [markdown]
# ## What we built
#
# A model the course never defined, assembled from the library's `Encoder`
# with a few lines of our own: masked mean pooling and a dense head. It
# trains on the embedded corpus to the accuracy that a one-word rule
# predicts, inherits the padding invariance of the layers, and we looked
# inside it: the logit as a sum over tokens, and the token it rests on.
# This is how you use `tf_transformer.layers` in your own notebooks:
#
# ```python
# import tf_transformer
# from tf_transformer.layers import Encoder, Decoder, MultiHeadAttention, PositionalEmbedding
# ```

# %% [markdown]
# **要点：本节小结**
#
# - 一个课程从未定义过的模型：用库里的 `Encoder` 加上几行自己的代码（带掩码的平均池化和一个全连接输出头）
#   搭成。
# - 它在内置语料上训练到单词规则预言的准确率，继承了这些层的填充不变性；我们还看了它的内部：logit
#   是各词元贡献之和，以及判断所依赖的那个词元。
# - 在你自己的笔记本里，就这样使用 `tf_transformer.layers`：
#   `from tf_transformer.layers import Encoder, Decoder, MultiHeadAttention, PositionalEmbedding`。
#
# **练习**（英文原题在下一格；参考解答见
# [solutions/08_using_the_layers_elsewhere.py](solutions/08_using_the_layers_elsewhere.py)）
#
# 1. **动手算。** 数出分类器的参数：词元嵌入（葡萄牙语有多少个词元？）、两个编码器层各自的参数（注意力投影、
#    前馈网络、两个层规范化）、编码器的最终规范化（如果有的话）以及输出头。用 `count_params()` 核对。
# 2. **写代码。** 把带掩码的平均换成对所有位置（包括填充）的普通 `tf.reduce_mean`。证明补上 17 个填充词元之后
#    logits 会变，并解释池化向量移动了多少。
# 3. **做实验。** 从训练句和测试句中删去所有 *não* 和 *Não*（标签不变），重新训练分类器。
#    它还能胜过多数类基线吗？它还可能在读什么？

# %% [markdown]
# ## Exercises
#
# Three exercises on the classifier: its size, its padding discipline, and
# what it learns when its one clue is taken away.
#
# 1. **By hand.** Count the classifier's parameters: the token embedding
#    (how many Portuguese tokens?), each of the two encoder layers
#    (attention projections, feed-forward network, two layer norms), the
#    encoder's final norm if it has one, and the head. Check your count
#    against `count_params()`.
# 2. **By code.** Replace the masked mean by a plain `tf.reduce_mean` over
#    all positions, padding included. Show that adding 17 padding tokens now
#    changes the logits, and explain by how much the pooled vector moves.
# 3. **By experiment.** Delete every *não* and *Não* from the training and
#    test sentences (keep the labels) and train the classifier again. Does
#    it still beat the majority baseline? What could it still be reading?
#
# Worked solutions, to run from this folder with `python solutions/08_using_the_layers_elsewhere.py`:
# [solutions/08_using_the_layers_elsewhere.py](solutions/08_using_the_layers_elsewhere.py).
