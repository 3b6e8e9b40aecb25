"""The server's counters, for ``GET /monitoring/prometheus/metrics`` in Prometheus's text format.

Responses by status, batches and their sentences by signature, requests in
flight, sentences queued, and connections closed because their request did
not arrive whole in time.
"""

from __future__ import annotations

import collections
import threading


class Metrics:
    """Counters for ``/monitoring/prometheus/metrics`` (Prometheus's text format)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.responses = collections.Counter()
        self.batches = collections.Counter()
        self.batch_sentences = collections.Counter()
        self.in_flight = 0
        self.queued = 0
        self.late = 0  # connections closed because their request did not arrive whole in time

    def count_late(self) -> None:
        with self._lock:
            self.late += 1

    def count_response(self, status: int) -> None:
        with self._lock:
            self.responses[status] += 1

    def count_batch(self, signature: str, size: int) -> None:
        with self._lock:
            self.batches[signature] += 1
            self.batch_sentences[signature] += size

    def text(self) -> str:
        with self._lock:
            lines = ["# TYPE tf_transformer_responses_total counter"]
            lines += [
                f'tf_transformer_responses_total{{code="{c}"}} {n}' for c, n in sorted(self.responses.items())
            ]
            lines += ["# TYPE tf_transformer_batches_total counter"]
            lines += [
                f'tf_transformer_batches_total{{signature="{s}"}} {n}'
                for s, n in sorted(self.batches.items())
            ]
            lines += ["# TYPE tf_transformer_batch_sentences_total counter"]
            lines += [
                f'tf_transformer_batch_sentences_total{{signature="{s}"}} {n}'
                for s, n in sorted(self.batch_sentences.items())
            ]
            lines += [
                "# TYPE tf_transformer_requests_in_flight gauge",
                f"tf_transformer_requests_in_flight {self.in_flight}",
                "# TYPE tf_transformer_queued_sentences gauge",
                f"tf_transformer_queued_sentences {self.queued}",
                "# TYPE tf_transformer_late_requests_closed_total counter",
                f"tf_transformer_late_requests_closed_total {self.late}",
            ]
        return "\n".join(lines) + "\n"
