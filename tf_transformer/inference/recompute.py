"""The plain greedy decoder: rerun the whole model on the whole prefix at every step.

This is how TensorFlow's Transformer tutorial translates: no cache, so step t
recomputes the encoder and all t earlier target positions, and a sentence of
T tokens costs O(T^2) position updates instead of O(T). It is kept on purpose,
as the reference the cached ``greedy_search`` must equal token for token
(tests) and as the baseline of ``benchmarks/decode_speed.py``.
"""

import tensorflow as tf

from tf_transformer.constants import END_ID, PAD_ID, START_ID
from tf_transformer.inference.search import _is_empty


def recompute_greedy_search(model, context_ids, max_new_tokens):
    """Same contract as ``search.greedy_search``, without any cache.

    Run it inside ``tf.function`` (AutoGraph turns the loop into a
    ``tf.while_loop``); eagerly it works too, just slower.
    """
    context_ids = tf.cast(context_ids, tf.int32)
    batch = tf.shape(context_ids)[0]
    output = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[None])
    output = output.write(0, tf.fill([batch], START_ID))
    done = _is_empty(context_ids)
    for t in tf.range(max_new_tokens):
        if tf.reduce_all(done):
            break
        prefix = tf.transpose(output.stack())  # (B, t + 1)
        logits = model((context_ids, prefix), training=False)  # (B, t + 1, V): all positions again
        tokens = tf.argmax(logits[:, -1], axis=-1, output_type=tf.int32)
        tokens = tf.where(done, PAD_ID, tokens)
        done = tf.logical_or(done, tf.equal(tokens, END_ID))
        output = output.write(t + 1, tokens)
    return tf.transpose(output.stack())[:, 1:]  # drop [START]
