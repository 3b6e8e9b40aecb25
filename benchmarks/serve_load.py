"""Load test of `tf-transformer serve`: throughput and latency as concurrency grows; nothing lost or wrong.

Starts the server on a free port of 127.0.0.1 (``python -m tf_transformer
serve --export DIR --port 0``, exactly as a user would), then for each
concurrency C sends ``--requests`` requests from C client threads, each
keeping its own connection open:

- 95% are good: one sentence each, greedy, alternately in the row
  (``instances``) and columnar (``inputs``) format; the sentences come from
  the embedded corpus's test split, one, two or three joined, so lengths mix
  from a few tokens to the model's limit;
- 5% are malformed, one kind in turn: bad JSON, a number for the text, no
  inputs at all, an unknown signature, an unknown model. Each must be refused
  with its own status (400, or 404 for the model) and TF Serving's
  ``{"error": ...}``.

Every good answer is compared with the same SavedModel run in this process.
The table gives requests/s, latency percentiles of the good requests, the
server's mean batch size (from its metrics endpoint: how much dynamic batching
happened), error counts by kind, and the server's resident memory before and
after. The exit status is 1 if any request was lost, answered wrongly, or
refused in the wrong way.

Run::

    tf-transformer export --run-dir runs/demo --out exports/pt_en      # writes exports/pt_en/1
    python benchmarks/serve_load.py --export exports/pt_en            # 1,000 requests at each of 1, 8, 32
    python benchmarks/serve_load.py --export exports/pt_en --fast     # 100 requests at each: a smoke test
    python benchmarks/serve_load.py --export exports/pt_en --requests 2000 --concurrency 1 8 32 64
"""

from __future__ import annotations  # noqa: I001  (tf_transformer is imported first, below)

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import argparse
import collections
import http.client
import json
import pathlib
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

import tensorflow as tf

from tf_transformer.data import load_dataset
from tf_transformer.training.precision import describe_machine

MALFORMED = {  # kind: (path suffix, body, expected status)
    "bad JSON": ("", '{"instances": ["O gato', 400),
    "wrong type": ("", '{"instances": [42]}', 400),
    "missing inputs": ("", '{"signature_name": "serving_default"}', 400),
    "unknown signature": ("", '{"signature_name": "sample", "instances": ["O gato dorme."]}', 400),
    "unknown model": ("unknown_model", '{"instances": ["O gato dorme."]}', 404),
}


def sentence_pool(count: int, seed: int = 0) -> list[str]:
    """Test sentences of mixed lengths: single sentences, and two or three joined."""
    corpus = [
        s.decode("utf-8") for s, _ in load_dataset("embedded", "test").take(4 * count).as_numpy_iterator()
    ]
    rng = random.Random(seed)
    pool = []
    for _ in range(count):
        joined = rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
        pool.append(" ".join(rng.sample(corpus, joined)))
    return pool


def reference(export: pathlib.Path, pool: list[str]) -> dict[str, str]:
    """The same SavedModel in this process: what the server must answer."""
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    path = (
        export
        if (export / "saved_model.pb").is_file()
        else max((p for p in export.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    )
    greedy = tf.saved_model.load(str(path)).signatures["serving_default"]
    out = {}
    for i in range(0, len(pool), 64):
        batch = pool[i : i + 64]
        translations = greedy(text=tf.constant(batch))["translation"].numpy()
        out.update(zip(batch, (t.decode("utf-8", "replace") for t in translations)))
    return out


class Server:
    """``tf-transformer serve`` in a subprocess on a free port of 127.0.0.1."""

    def __init__(self, export: pathlib.Path, flags: list[str]):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tf_transformer",
                "serve",
                "--export",
                str(export),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()
        for line in self.process.stdout:
            if match := re.search(r"predict: POST http://127\.0\.0\.1:(\d+)(/v1/models/[^:]+):predict", line):
                self.port, self.model_path = int(match.group(1)), match.group(2)
                break
        else:
            raise SystemExit("the server did not start:\n" + "".join(self.stderr)[-3000:])
        threading.Thread(target=lambda: self.process.stdout.read(), daemon=True).start()

    def rss_mib(self) -> float:
        status = pathlib.Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def metrics(self) -> dict[str, float]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request("GET", "/monitoring/prometheus/metrics")
        text = connection.getresponse().read().decode()
        connection.close()
        return {
            k: float(v) for k, v in (line.rsplit(" ", 1) for line in text.splitlines() if line[:1] != "#")
        }

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(120)


def make_jobs(count: int, pool: list[str], model_path: str, seed: int) -> list[dict]:
    rng = random.Random(seed)
    kinds = list(MALFORMED)
    jobs = []
    for i in range(count):
        if i % 20 == 19:  # 5%
            kind = kinds[(i // 20) % len(kinds)]
            suffix, body, status = MALFORMED[kind]
            path = f"/v1/models/{suffix}:predict" if suffix else f"{model_path}:predict"
            jobs.append({"kind": kind, "path": path, "body": body, "status": status})
        else:
            text = rng.choice(pool)
            row = i % 2 == 0
            body = {"instances": [text]} if row else {"inputs": {"text": [text]}}
            jobs.append(
                {
                    "kind": "good",
                    "path": f"{model_path}:predict",
                    "body": json.dumps(body),
                    "text": text,
                    "row": row,
                }
            )
    rng.shuffle(jobs)
    return jobs


def run_level(server: Server, jobs: list[dict], concurrency: int, timeout: float) -> list[dict]:
    """Send every job from ``concurrency`` threads, one keep-alive connection each; one result per job."""
    todo = queue.SimpleQueue()
    for job in jobs:
        todo.put(job)
    results, lock = [], threading.Lock()

    def worker():
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                break
            start = time.perf_counter()
            try:
                connection.request(
                    "POST", job["path"], body=job["body"], headers={"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                result = {"status": response.status, "body": response.read()}
            except (OSError, http.client.HTTPException) as err:
                result = {"status": None, "body": repr(err).encode()}
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
            result.update(job=job, seconds=time.perf_counter() - start)
            with lock:
                results.append(result)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def judge(result: dict, expected: dict[str, str]) -> str:
    """``ok``, ``refused`` (a malformed request answered as it should be), or what went wrong."""
    job, status = result["job"], result["status"]
    if status is None:
        return "lost"
    try:
        body = json.loads(result["body"])
    except ValueError:
        return "not JSON"
    if job["kind"] != "good":
        return "refused" if status == job["status"] and list(body) == ["error"] else "refused wrongly"
    if status != 200:
        return f"HTTP {status}"
    want = expected[job["text"]]
    got = body.get("predictions" if job["row"] else "outputs")
    return "ok" if got == [want] else "wrong answer"


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--export",
        required=True,
        type=pathlib.Path,
        help="a SavedModel from `tf-transformer export`, or a folder of numbered versions",
    )
    parser.add_argument("--requests", type=int, default=1000, help="requests per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--fast", action="store_true", help="100 requests per level: a smoke test")
    parser.add_argument("--sentences", type=int, default=200, help="distinct sentences to draw from")
    parser.add_argument("--timeout", type=float, default=60.0, help="client timeout per request, seconds")
    parser.add_argument(
        "--server-flag",
        action="append",
        default=[],
        help="passed to `serve`, e.g. --server-flag=--batch-timeout-ms=2 (repeatable)",
    )
    args = parser.parse_args()
    print(f"machine: {describe_machine()}", flush=True)
    count = 100 if args.fast else args.requests

    pool = sentence_pool(args.sentences)
    expected = reference(args.export, pool)
    lengths = sorted(len(s.split()) for s in pool)
    print(
        f"{len(pool)} distinct sentences of {lengths[0]} to {lengths[-1]} words (median "
        f"{lengths[len(lengths) // 2]}); {count} requests per level, 5% malformed."
    )
    server = Server(args.export, args.server_flag)
    rss_start = server.rss_mib()

    header = (
        f"{'conc.':>5} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'batch':>6} {'ok':>6} {'refused':>7} {'wrong':>5} {'lost':>4} {'RSS MiB':>14}"
    )
    rows, problems, refused_by_kind = [], collections.Counter(), collections.Counter()
    for level, concurrency in enumerate(args.concurrency):
        jobs = make_jobs(count, pool, server.model_path, seed=level)
        before, rss_before = server.metrics(), server.rss_mib()
        start = time.perf_counter()
        results = run_level(server, jobs, concurrency, args.timeout)
        elapsed = time.perf_counter() - start
        after, rss_after = server.metrics(), server.rss_mib()
        assert len(results) == len(jobs)  # one result per request, by construction of run_level
        verdicts = collections.Counter(judge(r, expected) for r in results)
        for r in results:
            if r["job"]["kind"] != "good" and judge(r, expected) == "refused":
                refused_by_kind[r["job"]["kind"]] += 1
        problems.update({k: v for k, v in verdicts.items() if k not in ("ok", "refused")})
        latencies = [r["seconds"] * 1000 for r in results if r["job"]["kind"] == "good"]
        key = 'tf_transformer_batch_sentences_total{signature="serving_default"}'
        batches = 'tf_transformer_batches_total{signature="serving_default"}'
        mean_batch = (after[key] - before.get(key, 0)) / max(after[batches] - before.get(batches, 0), 1)
        rows.append(
            f"{concurrency:>5} {len(results):>8} {len(results) / elapsed:>7.1f} "
            f"{percentile(latencies, 50):>7.1f} {percentile(latencies, 95):>7.1f} "
            f"{percentile(latencies, 99):>7.1f} {mean_batch:>6.1f} {verdicts['ok']:>6} "
            f"{verdicts['refused']:>7} {verdicts['wrong answer']:>5} {verdicts['lost']:>4} "
            f"{rss_before:>6.0f} -> {rss_after:<5.0f}"
        )
        print(rows[-1] if level else header + "\n" + rows[-1], flush=True)

    status = server.stop()
    print(f"\nserver RSS: {rss_start:.0f} MiB after start-up, exit status {status} after SIGTERM")
    print(
        "malformed requests refused as expected: "
        + ", ".join(f"{kind} {refused_by_kind[kind]} ({MALFORMED[kind][2]})" for kind in MALFORMED)
    )
    if problems or status != 0:
        print(f"PROBLEMS: {dict(problems)}; server exit status {status}\n" + "".join(server.stderr)[-2000:])
        return 1
    print("every good request was answered, and answered exactly as the SavedModel in this process answers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
