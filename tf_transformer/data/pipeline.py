"""``make_batches``: (pt, en) strings -> padded id batches ready for ``model.fit``.

Sentences are tokenized inside ``tf.data``, capped at ``max_length``, then
grouped into buckets of similar length. Each bucket's batch size is chosen
so that ``batch size * padded length <= batch_tokens``: short sentences come
in big batches, long ones in small batches, and little of any batch is
padding. (A fixed batch size padded to its longest sentence wastes far more;
``benchmarks/input_pipeline.py`` measures both.)

Example::

    tokenizers = load_tokenizers()
    batches = make_batches(load_dataset("embedded", "train"), tokenizers.pt, tokenizers.en)
    (pt, en_in), en_out = next(iter(batches))   # int64, 0-padded
"""

from __future__ import annotations

import tensorflow as tf

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


def make_batches(dataset: tf.data.Dataset, pt_tokenizer, en_tokenizer, *,
                 max_length: int = 128, batch_tokens: int = DEFAULT_BATCH_TOKENS,
                 shuffle: bool = True, seed: int | None = None, cache: bool = True,
                 shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
                 repeat: bool = False) -> tf.data.Dataset:
    """Tokenize, cap, bucket, shuffle, cache and prefetch translation pairs.

    Args:
        dataset: ``(pt, en)`` pairs of ``tf.string`` scalars (``load_dataset``).
        pt_tokenizer, en_tokenizer: :class:`~tf_transformer.data.Tokenizer`s
            (anything with ``tokenize(strings) -> RaggedTensor``).
        max_length: most tokens per sequence the model sees. The Portuguese
            side is cut to ``max_length`` tokens; the English side to
            ``max_length + 1`` so that its shifted halves ``en[:-1]`` and
            ``en[1:]`` have at most ``max_length``. A cut sentence loses its
            [END] token (the corpus has none that long).
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
        A dataset of ``((pt_ids, en_in_ids), en_out_ids)``: int64 ``[batch,
        length]``, 0-padded at the end; ``en_in`` starts with [START], ``en_out``
        is ``en_in`` moved one step left and ends with [END].

    Raises:
        ValueError: ``batch_tokens`` cannot hold one ``max_length`` sentence.
    """
    if max_length < 2:
        raise ValueError(f"max_length must be at least 2, got {max_length}")
    if batch_tokens < max_length:
        raise ValueError(
            f"batch_tokens={batch_tokens} cannot hold a single sentence of max_length="
            f"{max_length} tokens; raise batch_tokens to at least {max_length} "
            f"or lower max_length")

    def tokenize(pt, en):
        pt = pt_tokenizer.tokenize(pt)[:, :max_length]
        en = en_tokenizer.tokenize(en)[:, : max_length + 1]
        return pt, en

    ds = (dataset.batch(256)  # tokenize many sentences per call: much faster
          .map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
          .unbatch()
          .map(_dense_rows))
    if cache:
        ds = ds.cache()
    boundaries = bucket_boundaries(max_length)

    def one_pass(examples, pass_seed=None, reshuffle=True):
        if shuffle:
            examples = examples.shuffle(shuffle_buffer, seed=pass_seed,
                                        reshuffle_each_iteration=reshuffle)
        return examples.bucket_by_sequence_length(
            # the length that decides the padding: the longer of source and shifted target
            element_length_func=lambda pt, en: tf.maximum(tf.shape(pt)[0], tf.shape(en)[0] - 1),
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
        # Pass p's seed is seed * 2**31 + p: no two (seed, pass) pairs share one.
        ds = tf.data.Dataset.counter().flat_map(
            lambda p: one_pass(ds, seed * 2**31 + p, reshuffle=False))
    return ds.map(_split_target, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _dense_rows(pt, en):
    # One row of a RaggedTensor is a plain vector, but tf.data still types it
    # as ragged, which padded_batch refuses.
    return tuple(x if isinstance(x, tf.Tensor) else x.flat_values for x in (pt, en))


def _split_target(pt, en):
    # Teacher forcing: the decoder reads en[:-1] and predicts en[1:].
    return (pt, en[:, :-1]), en[:, 1:]
