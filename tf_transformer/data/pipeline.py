"""``make_batches``: (source, target) strings -> padded id batches ready for ``model.fit``.

Sentences are tokenized inside ``tf.data``, capped at ``max_length``, then
grouped into buckets of similar length. Each bucket's batch size is chosen
so that ``batch size * padded length <= batch_tokens``: short sentences come
in big batches, long ones in small batches, and little of any batch is
padding. (A fixed batch size padded to its longest sentence wastes far more;
``benchmarks/input_pipeline.py`` measures both.)

Example::

    tokenizers = load_tokenizers()
    batches = make_batches(load_dataset("embedded", "train"), tokenizers.source, tokenizers.target)
    (source, target_in), target_out = next(iter(batches))   # int64, 0-padded
"""

from __future__ import annotations

import tensorflow as tf

from tf_transformer.constants import DEFAULT_MAX_LENGTH, MIN_MAX_LENGTH

DEFAULT_BATCH_TOKENS = 4096
DEFAULT_SHUFFLE_BUFFER = 20_000


def bucket_boundaries(max_length: int) -> list[int]:
    """Upper bounds (exclusive) of the length buckets: narrow where sentences
    are many (short), wider as they get longer."""
    bounds, b = [], 6
    while b <= max_length:
        bounds.append(b)
        b += max(2, b // 8)
    return bounds


def bucket_batch_sizes(boundaries: list[int], max_length: int, batch_tokens: int) -> list[int]:
    """Batch size per bucket so that size * longest length <= ``batch_tokens``."""
    longest = [b - 1 for b in boundaries] + [max_length]
    return [max(1, batch_tokens // n) for n in longest]


def make_batches(
    dataset: tf.data.Dataset,
    source_tokenizer,
    target_tokenizer,
    *,
    max_length: int = DEFAULT_MAX_LENGTH,
    batch_tokens: int = DEFAULT_BATCH_TOKENS,
    shuffle: bool = True,
    seed: int | None = None,
    cache: bool = True,
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Tokenize, cap, bucket, shuffle, cache and prefetch translation pairs.

    Args:
        dataset: ``(source, target)`` pairs of ``tf.string`` scalars (``load_dataset``).
        source_tokenizer, target_tokenizer: :class:`~tf_transformer.data.Tokenizer`s
            (anything with ``tokenize(strings) -> RaggedTensor``).
        max_length: most tokens per sequence the model sees. The source side
            is cut to ``max_length`` tokens; the target side to
            ``max_length + 1`` so that its shifted halves ``target[:-1]`` and
            ``target[1:]`` have at most ``max_length``. A cut sentence loses its
            [END] token (the embedded corpus has none that long).
        batch_tokens: token budget per batch: ``batch size * padded length``
            stays within it for both sides.
        shuffle: shuffle examples (each epoch anew) before bucketing.
        seed: shuffle seed, for reproducible order.
        cache: keep tokenized examples in memory after the first epoch.
        shuffle_buffer: examples held by the shuffle buffer.
        repeat: an endless stream of passes, each shuffled anew. With a
            ``seed``, pass ``p`` is shuffled with its own seed derived from
            ``(seed, p)``, so the order is a function of the seed alone: the
            same under any ``tf.distribute`` strategy (a reshuffling seed
            generator is not: distributing the dataset advances it).

    Returns:
        A dataset of ``((source_ids, target_in_ids), target_out_ids)``: int64
        ``[batch, length]``, 0-padded at the end; ``target_in`` starts with
        [START], ``target_out`` is ``target_in`` moved one step left and ends
        with [END].

    Raises:
        ValueError: ``max_length`` below 3 (it must hold [START] word [END]), or
            ``batch_tokens`` cannot hold one ``max_length`` sentence.
    """
    if max_length < MIN_MAX_LENGTH:
        raise ValueError(
            f"max_length must be at least {MIN_MAX_LENGTH} ([START] word [END]), got {max_length}"
        )
    if batch_tokens < max_length:
        raise ValueError(
            f"batch_tokens={batch_tokens} cannot hold a single sentence of max_length="
            f"{max_length} tokens; raise batch_tokens to at least {max_length} "
            f"or lower max_length"
        )

    def tokenize(source, target):
        source = source_tokenizer.tokenize(source)[:, :max_length]
        target = target_tokenizer.tokenize(target)[:, : max_length + 1]
        return source, target

    ds = (
        dataset.batch(256)  # tokenize many sentences per call: much faster
        .map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .map(_dense_rows)
    )
    if cache:
        ds = ds.cache()
    boundaries = bucket_boundaries(max_length)

    def one_pass(examples, pass_seed=None, reshuffle=True):
        if shuffle:
            examples = examples.shuffle(shuffle_buffer, seed=pass_seed, reshuffle_each_iteration=reshuffle)
        return examples.bucket_by_sequence_length(
            # the length that decides the padding: the longer of source and shifted target
            element_length_func=lambda source, target: tf.maximum(
                tf.shape(source)[0], tf.shape(target)[0] - 1
            ),
            bucket_boundaries=boundaries,
            bucket_batch_sizes=bucket_batch_sizes(boundaries, max_length, batch_tokens),
            padded_shapes=([None], [None]),
            padding_values=(tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
        )

    if not repeat:
        ds = one_pass(ds, seed)
    elif seed is None:
        ds = one_pass(ds).repeat()
    else:
        ds = tf.data.Dataset.counter().flat_map(lambda p: _seeded_pass(one_pass, ds, seed, p))
    return ds.map(_split_target, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _seeded_pass(one_pass, examples, seed, index):
    """Pass ``index`` of a seeded stream, shuffled by seeds that depend on ``seed`` and ``index`` alone.

    A shuffle's order comes from two seeds, the graph's and the op's. Both are fixed
    here: the op seed ``seed * 2**31 + index`` (no two (seed, pass) pairs share one),
    and the graph seed 1 in place of the global seed, so the order is the same whatever
    ``tf.random.set_seed`` said (TensorFlow's seed check also cannot read a tensor op
    seed when the global seed is 0).
    """
    graph = tf.compat.v1.get_default_graph()  # the flat_map function being traced
    global_seed, graph.seed = graph.seed, 1
    try:
        return one_pass(examples, seed * 2**31 + index, reshuffle=False)
    finally:
        graph.seed = global_seed


def _dense_rows(source, target):
    # One row of a RaggedTensor is a plain vector, but tf.data still types it
    # as ragged, which padded_batch refuses.
    return tuple(x if isinstance(x, tf.Tensor) else x.flat_values for x in (source, target))


def _split_target(source, target):
    # Teacher forcing: the decoder reads target[:-1] and predicts target[1:].
    return (source, target[:, :-1]), target[:, 1:]
