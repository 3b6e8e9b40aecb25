"""Corpus BLEU and chrF with sacreBLEU, on detokenized output against raw references.

sacreBLEU tokenizes both sides itself (``13a``, mixed case), so the numbers
are comparable with published ones; its signature line says exactly how they
were computed. Results go to ``RUN_DIR/metrics.json``, beside earlier
evaluations, under a key that names the split, the search and, for part of a
split, the sentence count: ``"test/greedy"``, ``"test/beam4"``,
``"test/greedy/limit-20"``; a partial evaluation never replaces a whole split's.

Decoding runs in one of three ways (``decoding_mode``): eagerly, op by op
(nothing to trace: the quickest start, for a batch or so of sentences); as a
traced TensorFlow graph (seconds to trace, then fast); or as a graph whose
decoding steps XLA compiles (``--xla on``). ``--xla auto`` picks between the
first two by the number of sentences.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import sys
import time

from tf_transformer import files
from tf_transformer.runs import METRICS_FILE

XLA_CHOICES = ("auto", "on", "off")
# --xla auto decodes up to EAGER_UP_TO sentences eagerly (one batch op by op costs less than tracing
# the search) and more in the plain graph. It never picks XLA: on a 2-core CPU, batches of 64
# decoded slower with XLA-compiled steps than in the plain graph, at every count measured (up to
# 1,000 sentences, tiny and tutorial models), before even counting one compilation per batch shape.
EAGER_UP_TO = 64


def bleu_tokenizer(language: str | None) -> str:
    """sacreBLEU's tokenizer for a target ``language``: ``zh`` for Chinese, ``char`` for Japanese
    and Korean (written without spaces; sacreBLEU's own tokenizers for them need MeCab), else
    its default ``13a``.

    Example:
        >>> bleu_tokenizer("zh_CN"), bleu_tokenizer("ja"), bleu_tokenizer("pt_BR"), bleu_tokenizer(None)
        ('zh', 'char', '13a', '13a')
    """
    code = (language or "").lower().replace("-", "_").split("_")[0]
    return {"zh": "zh", "ja": "char", "ko": "char"}.get(code, "13a")


def corpus_scores(hypotheses, references, language: str | None = None) -> dict:
    """sacreBLEU corpus BLEU and chrF of ``hypotheses`` against one reference each.

    ``language`` is the target language's code (``"en"``, ``"zh_CN"``...): it picks
    BLEU's tokenizer (:func:`bleu_tokenizer`), which the signature names.

    Returns a dict with ``bleu``, ``chrf`` (scores, 0-100), their signatures,
    the full lines sacreBLEU prints (``BLEU|nrefs:1|... = 84.1 ...``) and
    ``exact``, the share of hypotheses equal to their reference (0-1).

    Example:
        >>> scores = corpus_scores(["The cat sat.", "A dog."], ["The cat sat.", "The dog."])
        >>> scores["exact"], corpus_scores(["猫坐着。"], ["猫坐着。"], "zh")["bleu_signature"].split("|")[3]
        (0.5, 'tok:zh')
    """
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references.")
    exact = sum(h == r for h, r in zip(hypotheses, references)) / max(1, len(references))
    result = {"sentences": len(hypotheses), "exact": round(exact, 4)}
    from sacrebleu.metrics import BLEU, CHRF  # (here: translate, which imports this module, needs neither)

    for name, metric in (("bleu", BLEU(tokenize=bleu_tokenizer(language))), ("chrf", CHRF())):
        score = metric.corpus_score(hypotheses, [references])
        signature = str(metric.get_signature())
        result.update(
            {
                name: round(float(score.score), 2),
                f"{name}_signature": signature,
                f"{name}_line": score.format(signature=signature),
            }
        )
    return result


def decoding_mode(xla: str, sentences: int) -> str:
    """How to decode ``sentences`` sentences: ``"eager"``, ``"graph"`` or ``"xla"``.

    ``xla`` is ``"on"`` (XLA-compiled steps), ``"off"`` (the plain graph, as
    the exported SavedModel runs) or ``"auto"``: eager up to ``EAGER_UP_TO``
    sentences, where tracing the search would take longer than decoding them
    op by op, the plain graph for more.

    Example:
        >>> decoding_mode("auto", 1), decoding_mode("auto", 10_000), decoding_mode("on", 1)
        ('eager', 'graph', 'xla')
    """
    if xla not in XLA_CHOICES:
        raise ValueError(f"xla must be one of {', '.join(XLA_CHOICES)}, got {xla!r}.")
    if xla != "auto":
        return "xla" if xla == "on" else "graph"
    return "eager" if sentences <= EAGER_UP_TO else "graph"


@contextlib.contextmanager
def decoding(mode: str):
    """Run ``Translator`` calls inside eagerly for ``mode == "eager"`` (``tf.function``s skip tracing)."""
    import tensorflow as tf

    if mode != "eager" or tf.config.functions_run_eagerly():
        yield
        return
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(False)


def decode_utf8(text) -> tuple[str, bool]:
    """``text`` (``str`` or UTF-8 ``bytes``) as ``str``, and whether invalid bytes were replaced (U+FFFD)."""
    if isinstance(text, str):
        return text, False
    try:
        return text.decode("utf-8"), False
    except UnicodeDecodeError:
        return text.decode("utf-8", errors="replace"), True


def evaluate_translator(translator, pairs, beam_size=1, batch_size=64, language=None) -> dict:
    """Translate the source side of ``pairs`` and score it against the target side.

    Args:
        translator: a ``Translator``.
        pairs: ``(source, target)`` string pairs (``str`` or UTF-8 ``bytes``),
            e.g. a split of ``tf_transformer.data.load_dataset``. Invalid UTF-8
            is replaced with U+FFFD, and the pairs it was in are listed.
        language: the target language's code, for BLEU's tokenizer (``corpus_scores``).

    Returns ``corpus_scores``'s dict plus ``beam_size``, ``seconds``,
    ``sentences_per_second``, ``invalid_utf8`` (the numbers, from 1, of the
    pairs that held invalid UTF-8) and the ``examples`` (source, reference, output).
    """
    decoded, invalid = [], []
    for number, (source, target) in enumerate(pairs, start=1):
        (source, bad_source), (target, bad_target) = decode_utf8(source), decode_utf8(target)
        decoded.append((source, target))
        if bad_source or bad_target:
            invalid.append(number)
    if not decoded:
        raise ValueError("Nothing to evaluate: the split is empty.")
    sources, references = zip(*decoded)
    started = time.perf_counter()
    outputs = translator.translate(list(sources), beam_size=beam_size, batch_size=batch_size)
    seconds = time.perf_counter() - started
    result = corpus_scores(outputs, references, language)
    result.update(
        beam_size=beam_size,
        alpha=translator.alpha if beam_size > 1 else None,
        seconds=round(seconds, 2),
        sentences_per_second=round(len(decoded) / seconds, 1),
        invalid_utf8=invalid,
        examples=list(zip(sources, references, outputs)),
    )
    return result


def metrics_key(split: str, beam_size: int, limit: int | None = None) -> str:
    """``metrics.json``'s key: ``"test/greedy"``, ``"test/beam4"``; ``limit``: ``"test/greedy/limit-20"``.

    ``limit`` is for an evaluation of only the first ``limit`` sentences of the split.
    """
    key = f"{split}/greedy" if beam_size == 1 else f"{split}/beam{beam_size}"
    return key if limit is None else f"{key}/limit-{limit}"


def read_metrics(run_dir) -> dict:
    """``run_dir/metrics.json`` (``{}`` if there is none), or a ``DamagedRunError`` naming it."""
    from tf_transformer.runs import DamagedRunError

    path = pathlib.Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return {}
    try:
        metrics = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, OSError) as err:  # (UnicodeDecodeError and JSONDecodeError are ValueErrors)
        metrics, why = None, str(err).splitlines()[0] if str(err) else type(err).__name__
    else:
        why = "it is not a JSON object"
    if not isinstance(metrics, dict):
        raise DamagedRunError(
            f"{path} is damaged ({why}); it holds only earlier evaluations' scores: "
            f"move it aside or delete it, then run the evaluation again."
        )
    return metrics


def write_metrics(run_dir, key: str, result: dict) -> pathlib.Path:
    """Merge ``result`` (without its examples) into ``run_dir/metrics.json`` under ``key``."""
    path = pathlib.Path(run_dir) / METRICS_FILE
    metrics = read_metrics(run_dir)
    metrics[key] = {k: v for k, v in result.items() if k != "examples"}
    files.write_text(path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return path


def _corpus_changed(info, data_dir, split: str) -> str | None:
    """What changed in the run's local corpus since it trained (None: nothing), said once here
    and recorded beside the scores: they are on today's split, not the one the run held out."""
    from tf_transformer.runs import corpus_change

    changed = corpus_change(info, data_dir)
    if changed:
        print(f"warning: {changed}; the scores below are on the current {split} split", file=sys.stderr)
    return changed


def evaluate_run(
    run_dir,
    split="test",
    beam_size=1,
    batch_size=64,
    limit=None,
    data_dir=None,
    weights=None,
    xla="auto",
    run=None,
    translator=None,
) -> dict:
    """Load a run directory, evaluate it on a split of its dataset, write ``metrics.json``.

    Args:
        run_dir: a directory written by ``tf-transformer train``.
        split: a split of the run's dataset (``test``, ``validation``...).
        beam_size: 1 for greedy search.
        batch_size: sentences translated at once.
        limit: only the first ``limit`` sentence pairs (scored under their own
            ``metrics.json`` key when that is less than the whole split).
        data_dir: where the prepared data lives (default: where training found it).
        weights: which weights to load (``load_run``'s ``weights``).
        xla: ``"auto"``, ``"on"`` or ``"off"`` (see ``decoding_mode``).
        run, translator: the run already loaded (``load_run(run_dir, weights=weights)``)
            and a ``Translator`` of its model, to evaluate several splits or
            searches without loading the run and tracing the searches again
            (a translator traces each search once). A translator that does not
            decode as ``xla`` asks is replaced by one that does.

    Returns ``evaluate_translator``'s dict plus ``split``, ``key`` (in
    ``metrics.json``) and ``decoding`` (``decoding_mode``'s choice).

    Example:
        >>> evaluate_run("runs/demo", "test", beam_size=4)["bleu"]  # doctest: +SKIP
    """
    from tf_transformer.data import load_dataset
    from tf_transformer.inference.translator import Translator
    from tf_transformer.runs import load_run

    decoding_mode(xla, 0)  # a bad choice fails before anything loads
    read_metrics(run_dir)  # so does a damaged metrics.json, rather than after the evaluation
    if run is None:
        run, translator = load_run(run_dir, weights=weights), None
    if data_dir is None:
        data_dir = run.info.data_dir
    changed = _corpus_changed(run.info, data_dir, split)
    pairs = list(load_dataset(run.info.spec, split, data_dir=data_dir).as_numpy_iterator())
    partial = limit is not None and limit < len(pairs)
    pairs = pairs[:limit]
    mode = decoding_mode(xla, len(pairs))
    if translator is None or translator.jit_compile != (mode == "xla"):
        translator = Translator.from_run(run, jit_compile=mode == "xla")
    with decoding(mode):
        result = evaluate_translator(
            translator, pairs, beam_size=beam_size, batch_size=batch_size, language=run.target_language
        )
    key = metrics_key(split, beam_size, len(pairs) if partial else None)
    result.update(split=split, key=key, decoding=mode)
    if changed:
        result["corpus_changed"] = changed
    write_metrics(run.path, key, result)
    return result
