"""The HTTP layer: routes each request, answers every failure as JSON, and guards the server's threads.

Routes: ``POST /v1/models/NAME[/versions/N]:predict``, ``GET
/v1/models/NAME[/versions/N]`` (status) and ``.../metadata``, ``GET
/monitoring/prometheus/metrics`` and ``GET /`` (the page).

Why the standard library's ``http.server.ThreadingHTTPServer``: the server is
for a laptop and for learning, so it should install nothing and hide nothing;
a thread per connection is plenty when the work is one model call per batch
on a single batcher thread (TensorFlow releases the GIL while it computes).
What a production stack would add is added here in a few lines each: a body
size limit, a deadline on each whole request (its headers and body must arrive
within ``--request-timeout``, and an idle keep-alive connection is closed after
it: a client that drips a byte at a time cannot hold a thread), a cap on open
connections, a deadline on each answer, JSON errors for everything
``http.server`` itself rejects, and a clean drain on shutdown (``Server.drain``).
An asyncio framework (aiohttp, Starlette) would earn its place for thousands of
idle connections or streaming; that is TensorFlow Serving's job, not this one.
"""

from __future__ import annotations

import contextlib
import http
import http.server
import json
import re
import socket
import sys
import threading
import time
import traceback
import urllib.parse

from .batcher import Batcher
from .errors import ServingError
from .metrics import Metrics
from .options import Options
from .rest import format_predict, parse_predict
from .servable import Servable

PREDICT_PATH = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?:(\w+)", re.IGNORECASE)
STATUS_PATH = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?", re.IGNORECASE)
METADATA_PATH = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?/metadata", re.IGNORECASE)
METRICS_PATH = "/monitoring/prometheus/metrics"
JSON_TYPE = "application/json"
# The page is one file with inline script and style: it may talk to this server and nothing else.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _json_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


class Handler(http.server.BaseHTTPRequestHandler):
    """One connection: routes requests, turns every failure into ``{"error": ...}``."""

    protocol_version = "HTTP/1.1"  # keep-alive: a client's next request skips the TCP handshake
    server_version = "tf-transformer-serve"
    server: Server

    def setup(self):
        # A read that stalls this long closes the connection; the server's reaper bounds the
        # whole request (see Server.watch), which a byte every few seconds would not.
        self.timeout = self.server.options.request_timeout
        super().setup()

    def handle_one_request(self):
        # From the moment it waits for a request (idle included) until the request is read whole.
        self.server.watch(self.connection)
        try:
            super().handle_one_request()
        finally:
            self.server.unwatch(self.connection)

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if ok and self.command != "POST":  # (a POST is read whole once its body is: _read_body)
            self.server.unwatch(self.connection)
        return ok

    def do_GET(self):  # noqa: N802  (http.server's naming)
        self._respond(self._get)

    def do_POST(self):  # noqa: N802
        self._respond(self._post)

    def _respond(self, route) -> None:
        headers = {}
        with self.server.in_flight():
            try:
                status, body, content_type = route(urllib.parse.urlsplit(self.path).path)
                if content_type.startswith("text/html"):
                    headers = PAGE_HEADERS
            except ServingError as err:
                status, body, content_type = err.status, _json_bytes({"error": err.message}), JSON_TYPE
                self.close_connection |= err.close
            except Exception as err:  # a bug: answer, log it, keep serving
                traceback.print_exc()
                status, content_type = 500, JSON_TYPE
                body = _json_bytes({"error": f"internal error: {type(err).__name__}: {err}"[:1000]})
            self.close_connection |= self.server.draining
            self._send(status, body, content_type, headers)

    def _send(self, status: int, body: bytes, content_type: str, headers=None) -> None:
        self.server.metrics.count_response(status)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:  # the client left; nothing to answer
            self.close_connection = True

    def send_error(self, code, message=None, explain=None):
        """``http.server``'s own rejections (bad request line, unknown method, huge headers) as JSON."""
        self.close_connection = True
        self._send(code, _json_bytes({"error": message or http.HTTPStatus(code).phrase}), JSON_TYPE)

    def handle_expect_100(self):
        # Refuse an oversized body before the client sends it.
        if self._content_length(self.headers) > self.server.options.max_body_bytes:
            self.send_error(413, self._too_large())
            return False
        return super().handle_expect_100()

    def log_message(self, format, *args):  # noqa: A002
        pass  # no access log: errors that matter are printed where they happen

    # -- routes --

    def _get(self, path: str):
        servable = self.server.servable
        if path == "/":
            return 200, self.server.page, "text/html; charset=utf-8"
        if path == METRICS_PATH:
            return 200, self.server.metrics.text().encode(), "text/plain; version=0.0.4"
        if match := METADATA_PATH.fullmatch(path):
            self._check_model(*match.groups())
            return 200, _json_bytes(servable.metadata()), JSON_TYPE
        if match := STATUS_PATH.fullmatch(path):
            self._check_model(*match.groups())
            return 200, _json_bytes(servable.status()), JSON_TYPE
        if PREDICT_PATH.fullmatch(path):
            raise ServingError(405, f"{path} takes POST, not GET")
        raise ServingError(404, f"Malformed request: GET {path}")

    def _post(self, path: str):
        server = self.server
        with server.batcher.arriving():
            body = self._read_body()
            match = PREDICT_PATH.fullmatch(path)
            if not match:
                raise ServingError(
                    404 if not STATUS_PATH.fullmatch(path) else 405, f"Malformed request: POST {path}"
                )
            name, version, method = match.groups()
            self._check_model(name, version)
            if method.lower() != "predict":
                raise ServingError(400, f"this server implements :predict only, not :{method}")
            task = server.batcher.submit(parse_predict(body, server.servable, server.options))
        outputs = task.wait(server.options.request_timeout)
        return 200, _json_bytes(format_predict(outputs, task.request.row_format)), JSON_TYPE

    def _check_model(self, name: str, version: str | None) -> None:
        servable = self.server.servable
        name = urllib.parse.unquote(name)  # (the page and clients percent-encode it in the URL)
        if name != servable.name or (version is not None and int(version) != servable.version):
            spec = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            raise ServingError(
                404,
                f"Servable not found for request: {spec}; this server serves "
                f"'{servable.name}' version {servable.version}",
            )

    @staticmethod
    def _content_length(headers) -> int:
        try:
            return int(headers.get("Content-Length", ""))
        except ValueError:
            return -1

    def _too_large(self) -> str:
        return (
            f"the request body is larger than {self.server.options.max_body_bytes} bytes "
            f"(--max-body-bytes); send fewer sentences per request"
        )

    def _discard(self, length: int) -> None:
        """Read and drop a refused body (up to 64 MiB, 2 s), so that closing the connection does not
        reset it before the client has read our answer."""
        deadline, left = time.monotonic() + 2.0, min(length, 64 << 20)
        with contextlib.suppress(OSError):
            while (
                left > 0 and time.monotonic() < deadline and (chunk := self.rfile.read1(min(left, 1 << 16)))
            ):
                left -= len(chunk)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise ServingError(
                411,
                "send the body with a Content-Length header (chunked bodies are not supported)",
                close=True,
            )
        if "Content-Length" not in self.headers:
            raise ServingError(411, "a POST needs a Content-Length header", close=True)
        if len(set(self.headers.get_all("Content-Length"))) > 1:  # RFC 9112, 6.3: unrecoverable
            raise ServingError(400, "the request has several different Content-Length headers", close=True)
        length = self._content_length(self.headers)
        if length < 0:
            raise ServingError(400, "Content-Length is not a number", close=True)
        if length > self.server.options.max_body_bytes:
            self._discard(length)
            raise ServingError(413, self._too_large(), close=True)
        try:
            body = self.rfile.read(length)
        except OSError:  # a timeout or a reset while reading
            raise ServingError(408, "the request body did not arrive in time", close=True) from None
        if len(body) < length and self.server.was_late(self.connection):
            raise ServingError(408, "the request did not arrive whole within --request-timeout", close=True)
        if len(body) < length:
            raise ServingError(400, "the request body is shorter than its Content-Length", close=True)
        self.server.unwatch(self.connection)  # read whole: the answer has its own deadline
        return body


class Server(http.server.ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with the model, the batcher, a connection cap and a drain for shutdown."""

    daemon_threads = True  # a connection thread never keeps the process alive by itself
    request_queue_size = 256  # the listen backlog: bursts of new connections wait, not fail

    def __init__(self, options: Options, servable: Servable, batcher: Batcher, metrics: Metrics, page: str):
        self.options, self.servable, self.batcher, self.metrics = options, servable, batcher, metrics
        config = {"model": servable.name, "version": servable.version, "maxBeamSize": options.max_beam_size}
        # Inside <script>: "</script>", "<!--" and "<script" in a name could end it or change how the
        # browser reads it; as \u escapes they are the same JSON strings and no markup.
        escaped = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        self.page = page.replace("/*CONFIG*/{}", escaped).encode("utf-8")
        self.draining = False
        self._connections = set()  # the open client sockets, one thread each
        self._lock = threading.Condition()  # guards both, and tells waiters when they shrink
        self._deadlines = {}  # socket -> when its request must have arrived whole (Server.watch)
        self._late = set()  # the sockets closed for that
        super().__init__((options.host, options.port), Handler)
        threading.Thread(target=self._reap, name="deadlines", daemon=True).start()

    def watch(self, connection) -> None:
        """Start the clock on ``connection``'s next request: its headers and body must arrive
        within ``--request-timeout``, however slowly they trickle in."""
        with self._lock:
            self._deadlines[connection] = time.monotonic() + self.options.request_timeout

    def unwatch(self, connection) -> None:
        with self._lock:
            self._deadlines.pop(connection, None)

    def was_late(self, connection) -> bool:
        """Whether the reaper closed ``connection`` (its request did not arrive whole in time)."""
        with self._lock:
            return connection in self._late

    def _reap(self) -> None:
        """Close the connections whose request did not arrive whole in time (checked 4 times a
        second): their threads' reads end, and the slot is free for a real client."""
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self._lock:
                late = [c for c, deadline in self._deadlines.items() if deadline < now]
                for connection in late:
                    del self._deadlines[connection]
                    self._late.add(connection)
            for connection in late:
                self.metrics.count_late()
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    @contextlib.contextmanager
    def in_flight(self):
        with self._lock:
            self.metrics.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self.metrics.in_flight -= 1
                self._lock.notify_all()

    def drain(self, timeout: float) -> bool:
        """After ``shutdown()``: let the requests in flight finish, then close the idle connections.

        Returns False if ``timeout`` ran out first. Afterwards no connection
        thread is left running, so the process exits with only its own threads.
        """
        with self._lock:
            finished = self._lock.wait_for(lambda: self.metrics.in_flight == 0, timeout)
            for connection in self._connections:  # idle keep-alive connections, waiting for a request
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            return self._lock.wait_for(lambda: not self._connections, 5.0) and finished

    def process_request(self, request, client_address):
        with self._lock:
            accepted = len(self._connections) < self.options.max_connections
            if accepted:
                self._connections.add(request)
        if accepted:
            return super().process_request(request, client_address)  # starts the connection's thread
        with contextlib.suppress(OSError):
            message = (
                f"too many open connections (--max-connections {self.options.max_connections}); try again"
            )
            body = _json_bytes({"error": message})
            request.settimeout(1.0)
            request.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
        self.metrics.count_response(503)
        self.shutdown_request(request)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.discard(request)
                self._late.discard(request)
                self._lock.notify_all()

    def handle_error(self, request, client_address):
        # A connection that breaks mid-request is the client's business, not a server error.
        if not isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            super().handle_error(request, client_address)
