"""Corpus BLEU and chrF with sacreBLEU, on detokenized output against raw references.

sacreBLEU tokenizes both sides itself (``13a``, mixed case), so the numbers
are comparable with published ones; its signature line says exactly how they
were computed. Results go to ``RUN_DIR/metrics.json`` under
``"<split>/greedy"`` or ``"<split>/beam<K>"``, beside earlier evaluations.
"""

from __future__ import annotations

import json
import pathlib
import time

from sacrebleu.metrics import BLEU, CHRF

METRICS_FILE = "metrics.json"


def corpus_scores(hypotheses, references) -> dict:
    """sacreBLEU corpus BLEU and chrF of ``hypotheses`` against one reference each.

    Returns a dict with ``bleu``, ``chrf`` (scores, 0-100), their signatures
    and the full lines sacreBLEU prints (``BLEU|nrefs:1|... = 84.1 ...``).

    Example:
        >>> corpus_scores(["The cat sat."], ["The cat sat."])["bleu"]
        100.0
    """
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references.")
    result = {"sentences": len(hypotheses)}
    for name, metric in (("bleu", BLEU()), ("chrf", CHRF())):
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


def evaluate_translator(translator, pairs, beam_size=1, batch_size=64) -> dict:
    """Translate the source side of ``pairs`` and score it against the target side.

    Args:
        translator: a ``Translator``.
        pairs: ``(source, target)`` string pairs (``str`` or UTF-8 ``bytes``),
            e.g. a split of ``tf_transformer.data.load_dataset``.

    Returns ``corpus_scores``'s dict plus ``beam_size``, ``seconds``,
    ``sentences_per_second`` and the ``examples`` (source, reference, output).
    """

    def text(s):
        return s.decode("utf-8") if isinstance(s, bytes) else str(s)

    pairs = [(text(source), text(target)) for source, target in pairs]
    if not pairs:
        raise ValueError("Nothing to evaluate: the split is empty.")
    sources, references = zip(*pairs)
    started = time.perf_counter()
    outputs = translator.translate(list(sources), beam_size=beam_size, batch_size=batch_size)
    seconds = time.perf_counter() - started
    result = corpus_scores(outputs, references)
    result.update(
        beam_size=beam_size,
        alpha=translator.alpha if beam_size > 1 else None,
        seconds=round(seconds, 2),
        sentences_per_second=round(len(pairs) / seconds, 1),
        examples=list(zip(sources, references, outputs)),
    )
    return result


def metrics_key(split: str, beam_size: int) -> str:
    return f"{split}/greedy" if beam_size == 1 else f"{split}/beam{beam_size}"


def write_metrics(run_dir, key: str, result: dict) -> pathlib.Path:
    """Merge ``result`` (without its examples) into ``run_dir/metrics.json`` under ``key``."""
    path = pathlib.Path(run_dir) / METRICS_FILE
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    metrics[key] = {k: v for k, v in result.items() if k != "examples"}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def evaluate_run(run_dir, split="test", beam_size=1, batch_size=64, limit=None, data_dir=None) -> dict:
    """Load a run directory, evaluate it on a split of its dataset, write ``metrics.json``.

    Args:
        run_dir: a directory written by ``tf-transformer train``.
        split: a split of the run's dataset (``test``, ``validation``...).
        beam_size: 1 for greedy search.
        batch_size: sentences translated at once.
        limit: only the first ``limit`` sentence pairs.
        data_dir: where the prepared data lives (default: where training found it).

    Example:
        >>> evaluate_run("runs/demo", "test", beam_size=4)["bleu"]  # doctest: +SKIP
    """
    from tf_transformer.data import DatasetSpec, load_dataset
    from tf_transformer.inference.translator import Translator
    from tf_transformer.run_dir import load_run

    run = load_run(run_dir)
    translator = Translator.from_run(run, jit_compile=True)
    spec = DatasetSpec.from_dict(run.info["data"])  # the language codes beside it are left out
    if data_dir is None:
        data_dir = run.info.get("train", {}).get("data_dir")
    pairs = load_dataset(spec, split, data_dir=data_dir).as_numpy_iterator()
    pairs = list(pairs)[:limit]
    result = evaluate_translator(translator, pairs, beam_size=beam_size, batch_size=batch_size)
    result["split"] = split
    write_metrics(run.path, metrics_key(split, beam_size), result)
    return result
