"""Cached decoding on token ids: greedy search and beam search, batched, in one ``tf.while_loop``.

The source is encoded once. Each step feeds only the newest target token; the
decoder's self-attention keys and values of earlier positions come from the
cache that ``Transformer.init_cache`` preallocates (fixed shapes, so the whole
cache can be a loop variable) and the cross-attention keys and values of the
source are computed once, in ``init_cache``.

Conventions shared by every function here (and by ``recompute.py``):

- ``context_ids``: int ``[batch, S]``, padded with 0, each row ``[START] ... [END]``.
  A row that is all padding has nothing to translate: it is finished before the
  first step and its output is empty.
- Outputs are the generated ids only (no ``[START]``), int32 ``[batch, T]``:
  each row stops at its own ``[END]`` (kept), padding follows it; the loop ends
  when every row has finished or after ``max_new_tokens`` steps.

References: Wu et al. (2016), "Google's Neural Machine Translation System",
section 7 (beam search with the length penalty ``((5 + |Y|) / 6) ** alpha``);
when a sentence is done follows the usual heuristic (as in Hugging Face's
``BeamSearchScorer``), which makes beam size 1 exactly greedy.
"""

import tensorflow as tf

from tf_transformer.constants import END_ID, PAD_ID, START_ID

NEG_INF = -1e9  # a finite "minus infinity": -inf - -inf would give NaN
FLOAT_BYTES = 4  # float32; a float16 cache (mixed precision) needs half, so the estimate errs safe
MEMORY_BUDGET_BYTES = 2 * 1024**3  # what one beam search call may hold in hypotheses (2 GiB)


def hypothesis_bytes(config, max_length) -> int:
    """Memory one beam-search hypothesis holds while it is decoded, in bytes (an upper estimate).

    Each hypothesis (one sentence times one beam) owns a row of every
    decoder cache and of every step's logits:

    - self-attention keys and values, preallocated for ``max_length`` target
      tokens: ``num_layers * 2 * max_length * d_model * 4`` bytes;
    - cross-attention keys and values over the source, which the translator
      truncates to ``max_length`` tokens (the worst case is counted, so that
      the limit is one number for every input): the same again;
    - the step's logits and their log-softmax: ``2 * target_vocab_size * 4``.

    For the tests' tiny model (2 layers, d_model 32, max_length 32, 806
    target tokens) that is 39,216 bytes; for ``base`` at max_length 128 with
    a 32,000-token vocabulary, 6,547,456 bytes (6.5 MB).
    """
    cache = config.num_layers * 2 * max_length * config.d_model  # keys and values of one attention
    return FLOAT_BYTES * (2 * cache + 2 * config.target_vocab_size)


def max_hypotheses(config, max_length, budget=MEMORY_BUDGET_BYTES) -> int:
    """Most hypotheses (``beam_size * sentences``) one beam search may decode at once.

    ``budget // hypothesis_bytes(config, max_length)``, at least 1: with the
    2 GiB default, 54,760 for the tests' tiny model and 327 for ``base`` at
    ``max_length`` 128 (see ``hypothesis_bytes``): beam 4 for up to 81
    sentences at once. The budget leaves room for what the estimate leaves
    out (the encoder's activations, the copy of the caches each step's
    reordering makes).
    """
    return max(1, budget // hypothesis_bytes(config, max_length))


def beam_size_problem(beam_size: int, limit: int, budget=MEMORY_BUDGET_BYTES) -> str | None:
    """Why a Python ``beam_size`` cannot work on its own (below 1, or over ``limit``); None if it can."""
    if beam_size < 1:
        return f"beam_size must be at least 1, got {beam_size}."
    if beam_size > limit:
        return (
            f"beam_size {beam_size} is over the limit of {limit} hypotheses at once for this model (a "
            f"{budget / 1024**3:g} GiB memory budget divided by the memory of one hypothesis: its "
            f"decoder caches and logits); use a beam_size of at most {limit}."
        )
    return None


def beam_limit_message(beam_size, sentences, hypotheses, limit, budget=MEMORY_BUDGET_BYTES) -> str:
    """The error for too many hypotheses at once; Python and the graph (``"{}"`` placeholders) share it."""
    return (
        f"beam_size {beam_size} x {sentences} sentences = {hypotheses} hypotheses at once, over the "
        f"limit of {limit} for this model (a {budget / 1024**3:g} GiB memory budget divided by the "
        f"memory of one hypothesis: its decoder caches and logits); use a smaller beam_size or fewer "
        f"sentences at once"
    )


def check_beam_size(beam_size, sentences, limit):
    """``beam_size`` as an int32 tensor that exists only once it passed the checks, inside the graph.

    ``beam_size`` must be at least 1, and ``beam_size * sentences`` at most
    ``limit`` (``max_hypotheses``). The checks are ``tf.debugging.Assert`` ops
    that everything computed from the returned tensor waits for, so a bad
    value fails with a clear ``InvalidArgumentError`` before any memory is
    allocated for it: in eager code, in a ``tf.function`` and in an exported
    SavedModel alike (where no Python of this package runs).
    """
    beam_size = tf.convert_to_tensor(beam_size, tf.int32)
    hypotheses = tf.cast(beam_size, tf.int64) * tf.cast(sentences, tf.int64)  # int32 could overflow
    at_least_one = tf.debugging.Assert(
        beam_size >= 1, [tf.strings.format("beam_size must be at least 1, got {}", beam_size)]
    )
    template = beam_limit_message("{}", "{}", "{}", limit)
    within_limit = tf.debugging.Assert(
        hypotheses <= limit, [tf.strings.format(template, (beam_size, sentences, hypotheses))]
    )
    with tf.control_dependencies([at_least_one, within_limit]):
        return tf.identity(beam_size)


def _decode_step(model, jit_compile):
    """``model.decode_cached`` of one token per row, optionally as one XLA program.

    Every step has the same shapes (one token, a preallocated cache), so XLA
    compiles the step once and then runs it as a single fused program instead
    of a few hundred small TensorFlow ops: on a CPU at batch 1 that overhead,
    not arithmetic, is most of the time. Results agree with the plain step to
    float32 rounding (XLA fuses and orders operations differently).
    """

    def step(tokens, cache, t, context_mask):
        return model.decode_cached(tokens[:, None], context_mask, cache, t)

    return tf.function(step, jit_compile=True) if jit_compile else step


def _is_empty(context_ids):
    """True for rows with no real token at all (nothing to translate)."""
    return tf.reduce_all(tf.equal(context_ids, PAD_ID), axis=1)


def greedy_search(model, context_ids, max_new_tokens, jit_compile=False):
    """Translate a batch by always taking the most likely next token.

    Args:
        model: a ``Transformer``.
        context_ids: int ``[batch, S]`` source ids (see the module docstring).
        max_new_tokens: int, at most ``model.config.max_length``.
        jit_compile: compile each decoding step with XLA (see ``_decode_step``).

    Returns int32 ``[batch, T]`` generated ids, ``T <= max_new_tokens``.

    Example:
        >>> from tf_transformer import Transformer, TransformerConfig
        >>> model = Transformer(TransformerConfig.from_preset(
        ...     "tiny", input_vocab_size=40, target_vocab_size=40, max_length=32))
        >>> model.build()
        >>> ids = greedy_search(model, tf.constant([[2, 17, 9, 3]]), max_new_tokens=20)
        >>> ids.dtype, ids.shape[0], ids.shape[1] <= 20
        (tf.int32, 1, True)
    """
    context_ids = tf.cast(context_ids, tf.int32)
    batch = tf.shape(context_ids)[0]
    context, context_mask = model.encode(context_ids, training=False)
    cache = model.init_cache(context, max_new_tokens)
    decode = _decode_step(model, jit_compile)

    def keep_going(t, tokens, done, cache, outputs):
        return tf.logical_and(t < max_new_tokens, tf.logical_not(tf.reduce_all(done)))

    def step(t, tokens, done, cache, outputs):
        logits, cache = decode(tokens, cache, t, context_mask)  # (B, 1, V)
        tokens = tf.argmax(logits[:, -1], axis=-1, output_type=tf.int32)  # (B,)
        tokens = tf.where(done, PAD_ID, tokens)  # finished rows only pad
        done = tf.logical_or(done, tf.equal(tokens, END_ID))
        return t + 1, tokens, done, cache, outputs.write(t, tokens)

    _, _, _, _, outputs = tf.while_loop(
        keep_going,
        step,
        (
            tf.constant(0),
            tf.fill([batch], START_ID),
            _is_empty(context_ids),
            cache,
            tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[None]),
        ),
    )
    return _stacked(outputs, batch)


def _stacked(outputs, batch):
    """TensorArray of T ``[B]`` steps -> ``[B, T]`` (``[B, 0]`` when no step ran)."""
    return tf.cond(
        outputs.size() > 0, lambda: tf.transpose(outputs.stack()), lambda: tf.zeros([batch, 0], tf.int32)
    )


def length_penalty(length, alpha):
    """GNMT's ``lp(Y) = ((5 + |Y|) / 6) ** alpha``; a hypothesis scores ``log P(Y) / lp(Y)``."""
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, alpha)


def beam_search(model, context_ids, beam_size, max_new_tokens, alpha=0.6, jit_compile=False):
    """Translate a batch keeping the ``beam_size`` most likely prefixes of each sentence.

    Each step extends every live prefix by every token and keeps the
    ``2 * beam_size`` best by log-probability: those ending in ``[END]`` and
    ranked within the first ``beam_size`` become finished hypotheses (scored
    ``log P / lp(length)``, the length counting ``[END]``; the ``beam_size``
    best are kept); the best ``beam_size`` that do not end stay alive. A
    sentence is done once it holds ``beam_size`` finished hypotheses and its
    best live prefix, scored at its current length, is no better than the
    worst of them; sentences still running after ``max_new_tokens`` steps let
    their live prefixes compete too. With ``beam_size=1`` this is exactly
    ``greedy_search``: the first ``[END]`` that ranks first ends the sentence.

    Args:
        model: a ``Transformer``.
        context_ids: int ``[batch, S]`` source ids.
        beam_size: int (Python or scalar tensor) >= 1; ``beam_size * batch`` at
            most ``max_hypotheses(model.config, max_new_tokens)``: a Python
            int that breaks a rule raises ``ValueError``, a tensor (or a batch
            too large) ``tf.errors.InvalidArgumentError``, before any decoding.
        max_new_tokens: int, at most ``model.config.max_length``.
        alpha: length-penalty exponent; 0 ranks by plain log-probability.
        jit_compile: compile each decoding step with XLA (see ``_decode_step``).

    Returns ``(ids, scores)``: int32 ``[batch, T]`` the best hypothesis of
    each sentence and float32 ``[batch]`` its length-penalised score
    (``NEG_INF`` for an empty source).
    """
    context_ids = tf.cast(context_ids, tf.int32)
    batch = tf.shape(context_ids)[0]
    length_now = tf.get_static_value(max_new_tokens)  # a tensor: count the model's longest
    limit = max_hypotheses(model.config, model.config.max_length if length_now is None else int(length_now))
    checked = check_beam_size(beam_size, batch, limit)  # the graph's checks (batch may be unknown)
    # A Python int keeps the beam axis static; a tensor (an exported signature's input) works too.
    k = tf.get_static_value(beam_size)
    if k is None:
        k = checked  # everything sized by k waits for the checks
    else:
        k = int(k)
        if problem := beam_size_problem(k, limit):
            raise ValueError(problem)
        with tf.control_dependencies([checked]):
            context_ids = tf.identity(context_ids)
    alpha = tf.cast(alpha, tf.float32)
    context, context_mask = model.encode(context_ids, training=False)
    # Every beam of a sentence shares its source: repeat it k times, beams of a sentence adjacent.
    context = tf.repeat(context, k, axis=0)  # (B*k, S, d)
    context_mask = tf.repeat(context_mask, k, axis=0)  # (B*k, S)
    cache = model.init_cache(context, max_new_tokens)
    decode = _decode_step(model, jit_compile)
    length = max_new_tokens
    beam_rank = tf.range(2 * k)[None, :]  # (1, 2k)

    def write(seqs, t, tokens):
        """Put ``tokens`` at position ``t`` of every ``[B, n, L]`` sequence."""
        return tf.where(tf.equal(tf.range(length), t), tokens[..., None], seqs)

    def gather_beams(x, beams):
        """``x[b, beams[b, j]]`` for ``x`` of shape ``[B, k, ...]`` and ``beams`` ``[B, n]``."""
        return tf.gather(x, beams, axis=1, batch_dims=1)

    def finished(t, alive_logp, fin_scores, fin_count):
        """``[B]``: k hypotheses have ended, and no live prefix scores better than the worst of them."""
        best_alive = alive_logp[:, 0] / length_penalty(t, alpha)
        full = (fin_count >= k) & (best_alive <= fin_scores[:, -1])
        return tf.logical_or(full, _is_empty(context_ids))

    def keep_going(t, alive_seqs, alive_logp, fin_seqs, fin_scores, fin_count, cache):
        done = finished(t, alive_logp, fin_scores, fin_count)
        return tf.logical_and(t < length, tf.logical_not(tf.reduce_all(done)))

    def step(t, alive_seqs, alive_logp, fin_seqs, fin_scores, fin_count, cache):
        done = finished(t, alive_logp, fin_scores, fin_count)  # (B,)
        last = tf.reshape(tf.where(t > 0, alive_seqs[:, :, tf.maximum(t - 1, 0)], START_ID), [-1])
        logits, cache = decode(last, cache, t, context_mask)  # (B*k, 1, V)
        vocab = tf.shape(logits)[-1]
        logp = tf.reshape(tf.nn.log_softmax(logits[:, -1]), [batch, k, vocab])
        candidates = tf.reshape(alive_logp[:, :, None] + logp, [batch, k * vocab])
        cand_logp, flat = tf.math.top_k(candidates, k=2 * k)  # (B, 2k), best first
        cand_beam, cand_token = flat // vocab, flat % vocab
        cand_seqs = write(gather_beams(alive_seqs, cand_beam), t, cand_token)  # (B, 2k, L)
        ends = tf.equal(cand_token, END_ID)

        # Hypotheses that end here and rank among the k best join the finished pool.
        new_fin = ends & (beam_rank < k) & tf.logical_not(done)[:, None]
        new_scores = tf.where(new_fin, cand_logp / length_penalty(t + 1, alpha), NEG_INF)
        pool_scores = tf.concat([fin_scores, new_scores], axis=1)  # (B, 3k)
        pool_seqs = tf.concat([fin_seqs, cand_seqs], axis=1)
        fin_scores, best = tf.math.top_k(pool_scores, k=k)
        fin_seqs = gather_beams(pool_seqs, best)
        fin_count += tf.reduce_sum(tf.cast(new_fin, tf.int32), axis=1)

        # The k best that did not end stay alive (2k candidates always leave k of them).
        alive_logp, keep = tf.math.top_k(tf.where(ends, NEG_INF, cand_logp), k=k)
        alive_seqs = gather_beams(cand_seqs, keep)
        # Reorder the self-attention caches to follow their beams; the source's are the same for all.
        rows = tf.reshape(tf.range(batch)[:, None] * k + gather_beams(cand_beam, keep), [-1])
        cache = [
            {
                "self": tuple(tf.ensure_shape(tf.gather(c, rows), c.shape) for c in layer["self"]),
                "cross": layer["cross"],
            }
            for layer in cache
        ]
        return t + 1, alive_seqs, alive_logp, fin_seqs, fin_scores, fin_count, cache

    # Only the first beam is live at first, so step 0 does not pick k copies of one token.
    first_beam = tf.where(tf.range(k) == 0, 0.0, NEG_INF)
    t, alive_seqs, alive_logp, fin_seqs, fin_scores, fin_count, _ = tf.while_loop(
        keep_going,
        step,
        (
            tf.constant(0),
            tf.zeros([batch, k, length], tf.int32),
            tf.tile(first_beam[None], [batch, 1]),
            tf.zeros([batch, k, length], tf.int32),
            tf.fill([batch, k], NEG_INF),
            tf.zeros([batch], tf.int32),
            cache,
        ),
    )

    # Sentences cut off at max_new_tokens: their live prefixes compete with what finished.
    running = tf.logical_not(finished(t, alive_logp, fin_scores, fin_count))
    alive_scores = tf.where(
        running[:, None] & (alive_logp > NEG_INF / 2), alive_logp / length_penalty(t, alpha), NEG_INF
    )
    pool_scores = tf.concat([fin_scores, alive_scores], axis=1)
    pool_seqs = tf.concat([fin_seqs, alive_seqs], axis=1)
    best = tf.argmax(pool_scores, axis=1, output_type=tf.int32)
    ids = tf.gather(pool_seqs, best, axis=1, batch_dims=1)[:, :t]  # (B, T)
    return ids, tf.gather(pool_scores, best, axis=1, batch_dims=1)


def sequence_log_probs(model, context_ids, output_ids):
    """Log-probability the model gives each generated sequence, by one teacher-forced pass.

    Args:
        context_ids: int ``[batch, S]``.
        output_ids: int ``[batch, T]`` as the searches return them (ending at
            ``[END]``, then padding).

    Returns ``(log_probs, lengths)``: float32 ``[batch]`` summed over the real
    tokens, and int32 ``[batch]`` their number (``[END]`` included).
    """
    output_ids = tf.cast(output_ids, tf.int32)
    batch = tf.shape(output_ids)[0]
    inputs = tf.concat([tf.fill([batch, 1], START_ID), output_ids[:, :-1]], axis=1)
    logits = model((tf.cast(context_ids, tf.int32), inputs), training=False)
    logp = tf.nn.log_softmax(logits)  # (B, T, V)
    token_logp = tf.gather(logp, output_ids, axis=2, batch_dims=2)  # (B, T)
    real = tf.not_equal(output_ids, PAD_ID)
    return (
        tf.reduce_sum(tf.where(real, token_logp, 0.0), axis=1),
        tf.reduce_sum(tf.cast(real, tf.int32), axis=1),
    )
