"""Dynamic batching: requests that arrive together share one model call.

The handler threads queue their sentences, one batcher thread collects
requests for the same signature (and beam size) for at most
``--batch-timeout-ms`` and at most ``--max-batch-size`` sentences, runs the
model once on the batch and hands each request its rows. On two CPU cores one
batch of 32 greedy translations costs little more than one, so throughput
grows with concurrency. Signatures whose outputs have more than one dimension
(``attention``: its tokens and weights are padded to the batch's longest
sentence) run one request at a time, so that no answer depends on which other
requests shared its batch.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
import traceback

import numpy as np

from .errors import ServingError
from .metrics import Metrics
from .rest import PredictRequest


class Task:
    """One request waiting for its rows of a batch."""

    def __init__(self, request: PredictRequest):
        self.request = request
        self.key = request.batch_key
        self.arrived = time.monotonic()
        self.done = threading.Event()
        self.outputs = None
        self.error = None
        self.abandoned = False  # its client stopped waiting: skip it if not yet run

    def wait(self, timeout: float) -> dict[str, np.ndarray]:
        if not self.done.wait(timeout):
            self.abandoned = True
            raise ServingError(
                504,
                f"no answer within {timeout:g} s (--request-timeout): the server is "
                f"overloaded, or the request is too large",
            )
        if self.error is not None:  # a fresh exception: several threads may raise the same batch's error
            raise ServingError(self.error.status, self.error.message)
        return self.outputs


class Batcher:
    """Collect queued requests into batches, run each batch once, hand out the rows.

    A batch is the oldest waiting request plus every later one with the same
    ``batch_key``, up to ``max_batch_size`` sentences. It waits for more
    requests while the oldest has waited less than ``batch_timeout`` and some
    other request is still being read and parsed (``arriving``): with nobody
    else on the way, waiting would only add latency. A batch of several
    requests that fails is run again one request at a time, so that a request
    fails only for its own reasons.

    Args:
        run: ``run(signature, inputs) -> outputs``, arrays in and out.
        max_batch_size: most sentences in one call.
        batch_timeout: seconds.
    """

    def __init__(self, run, max_batch_size: int, batch_timeout: float, metrics: Metrics):
        self._run, self.max_batch_size, self.batch_timeout = run, max_batch_size, batch_timeout
        self.metrics = metrics
        self._queue: collections.deque[Task] = collections.deque()
        self._cond = threading.Condition()
        self._arriving = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="batcher", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def arriving(self):
        """Around reading and parsing a request: the batcher may wait for it."""
        with self._cond:
            self._arriving += 1
        try:
            yield
        finally:
            with self._cond:
                self._arriving -= 1
                self._cond.notify()

    def submit(self, request: PredictRequest) -> Task:
        task = Task(request)
        with self._cond:
            if self._stopping:
                raise ServingError(503, "the server is shutting down")
            self._queue.append(task)
            self.metrics.queued += request.size
            self._cond.notify()
        return task

    def stop(self) -> None:
        """Finish what is queued, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join()

    def _group_size(self, key) -> int:
        return sum(t.request.size for t in self._queue if t.key == key)

    def _next_batch(self) -> list[Task] | None:
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                self._cond.wait()
            first = self._queue[0]
            while (
                not self._stopping
                and self._arriving > 0
                and self._group_size(first.key) < self.max_batch_size
            ):
                remaining = first.arrived + self.batch_timeout - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch, size = [], 0
            for task in list(self._queue):
                if task.key == first.key and (not batch or size + task.request.size <= self.max_batch_size):
                    batch.append(task)
                    size += task.request.size
                    self._queue.remove(task)
            self.metrics.queued -= size
            return batch

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            batch = [t for t in batch if not t.abandoned]
            if batch:
                self._answer(batch)

    def _answer(self, batch: list[Task]) -> None:
        signature = batch[0].request.signature
        inputs = {
            k: (
                np.concatenate([t.request.inputs[k] for t in batch])
                if k in signature.batch_inputs
                else batch[0].request.inputs[k]
            )
            for k in signature.inputs
        }
        try:
            outputs = self._run(signature, inputs)
        except Exception as err:
            if len(batch) > 1:
                # Together the requests may break a limit that each one keeps (the export's ceiling on
                # beam_size x sentences, memory): no answer may depend on who shared its batch.
                for task in batch:
                    self._answer([task])
                return
            if isinstance(err, ServingError):
                error = err
            else:  # a failed batch fails its requests, not the server
                traceback.print_exc()
                error = ServingError(500, f"the model failed: {type(err).__name__}: {err}"[:1000])
        else:
            error = None
            start = 0
            for task in batch:
                stop = start + task.request.size
                task.outputs = {k: (v[start:stop] if signature.batchable else v) for k, v in outputs.items()}
                start = stop
        self.metrics.count_batch(signature.name, sum(t.request.size for t in batch))
        for task in batch:
            task.error = error
            task.done.set()
