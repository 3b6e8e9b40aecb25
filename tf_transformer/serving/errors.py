"""How a request fails: ``ServingError``, answered as TensorFlow Serving answers, ``{"error": "..."}``.

The statuses are TensorFlow Serving's: 400 for a bad request, 404 for an
unknown model or path, 411/413 for a missing or too large body, 503 while
shutting down and 504 when the model did not answer in time. Any part of the
server may raise one (the model's own checks in ``servable``, the body's in
``rest``, the queue's in ``batcher``); ``http_server`` turns it into the answer.
"""

from __future__ import annotations


class ServingError(Exception):
    """A request's failure, answered as ``{"error": message}`` with an HTTP status."""

    def __init__(self, status: int, message: str, close: bool = False):
        super().__init__(message)
        self.status, self.message, self.close = status, message, close
