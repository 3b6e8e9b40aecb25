"""`tf-transformer serve`: a real server in a subprocess, its REST API, its limits, its shutdown, its page.

The server runs the way a user starts it (``python -m tf_transformer serve``,
which replaces itself with ``server.py``) on a free port of 127.0.0.1, over an
export of the tiny trained model of ``helpers.runs``. Every answer is
compared with the same SavedModel loaded in this process. The page is loaded in
a real headless Chromium (``_browser``).
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import base64
import concurrent.futures
import contextlib
import http.client
import json
import os
import pathlib
import random
import signal
import socket
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
from helpers.browser import Browser
from helpers.runs import BAD_INPUTS, corpus_pairs, exported, trained_translator
from helpers.server import ServerProcess

from tf_transformer import cli
from tf_transformer.serving.batcher import Batcher
from tf_transformer.serving.errors import ServingError
from tf_transformer.serving.http_server import Server
from tf_transformer.serving.metrics import Metrics
from tf_transformer.serving.options import Options
from tf_transformer.serving.rest import PredictRequest
from tf_transformer.serving.servable import (
    Signature,
    TensorSpec,
    _model_message,
    default_model_name,
    find_saved_model,
)
from tf_transformer.serving.server import serve

pytestmark = [pytest.mark.slow, pytest.mark.shared("inference_export")]  # servers and a browser

MODEL = "pt_en"
PREDICT = f"/v1/models/{MODEL}:predict"
SCREENSHOT = pathlib.Path("/tmp/serve_page.png")
MAX_CONNECTIONS = 250  # the module's server: more than the 200 concurrent requests below


def sentences(count=24):
    return [source for source, _ in corpus_pairs("test", count)]


# -- the server process -----------------------------------------------------------------------


class Servers:
    """The module's server, started on first use and again after a test stopped it."""

    def __init__(self, export, workdir):
        self.export, self.workdir, self.current = export, workdir, None

    def get(self) -> ServerProcess:
        if self.current is None or not self.current.running():
            self.current = ServerProcess(self.export, self.workdir, "--max-connections", str(MAX_CONNECTIONS))
        return self.current


@pytest.fixture(scope="module")
def export_base():
    """A TensorFlow Serving base folder: ``pt_en/1`` holds the SavedModel (``tf-transformer export``'s).

    The session's one export (``helpers.runs.exported``), read only here.
    """
    version = exported()
    assert version.parent.name == MODEL
    return version.parent


@pytest.fixture(scope="module")
def servers(export_base, tmp_path_factory):
    manager = Servers(export_base, tmp_path_factory.mktemp("server"))
    yield manager
    if manager.current is not None:
        manager.current.stop()


@pytest.fixture
def server(servers):
    return servers.get()


@pytest.fixture(scope="module")
def reference(export_base):
    """The same SavedModel in this process: what every answer must equal."""
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    loaded = tf.saved_model.load(str(export_base / "1"))

    def translate(texts, beam_size=None):
        text = tf.constant(texts, tf.string)
        if beam_size is None:
            out = loaded.signatures["serving_default"](text=text)
        else:
            out = loaded.signatures["beam_search"](text=text, beam_size=tf.constant(beam_size))
        return [t.decode("utf-8", "replace") for t in out["translation"].numpy()]

    translate.loaded = loaded
    return translate


# -- endpoints --------------------------------------------------------------------------------


def test_status_and_metadata(server, export_base):
    # Given the base folder, it serves the highest version and says which.
    said = f"Serving '{MODEL}' version 1, the highest in {export_base} ("
    assert any(said in line for line in server.banner)
    status = {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    assert server.request("GET", f"/v1/models/{MODEL}") == (200, status)
    assert server.request("GET", f"/v1/models/{MODEL}/versions/1") == (200, status)

    code, metadata = server.request("GET", f"/v1/models/{MODEL}/metadata")
    assert code == 200
    assert metadata["model_spec"] == {"name": MODEL, "signature_name": "", "version": "1"}
    defs = metadata["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "beam_search", "attention"} <= set(defs)
    text = defs["serving_default"]["inputs"]["text"]
    assert text["dtype"] == "DT_STRING" and text["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert defs["serving_default"]["outputs"]["translation"]["dtype"] == "DT_STRING"
    assert defs["beam_search"]["inputs"]["beam_size"]["dtype"] == "DT_INT32"
    assert defs["beam_search"]["inputs"]["beam_size"]["tensor_shape"]["dim"] == []
    assert set(defs["attention"]["outputs"]) == {"source_tokens", "target_tokens", "weights", "translation"}
    assert defs["serving_default"]["method_name"] == "tensorflow/serving/predict"


def test_predict_row_and_columnar_formats(server, reference):
    texts = sentences(6) + list(BAD_INPUTS.values())
    expected = reference(texts)
    assert all(expected[:6])
    assert server.predict({"instances": texts}) == (200, {"predictions": expected})
    assert server.predict({"instances": [{"text": t} for t in texts]}) == (200, {"predictions": expected})
    assert server.predict({"inputs": {"text": texts}}) == (200, {"outputs": expected})
    assert server.predict({"inputs": texts}) == (200, {"outputs": expected})
    assert server.predict({"signature_name": "serving_default", "inputs": texts}) == (
        200,
        {"outputs": expected},
    )
    # Binary strings as {"b64": ...}, and the versioned path.
    raw = [b"O gato \xff dorme.", "O cão come.".encode()]
    b64 = [{"b64": base64.b64encode(t).decode()} for t in raw]
    assert server.predict({"instances": b64}, f"/v1/models/{MODEL}/versions/1:predict") == (
        200,
        {"predictions": reference(raw)},
    )


def test_beam_search_signature(server, reference):
    texts = sentences(5)
    for beam_size in (1, 4):
        body = {"signature_name": "beam_search", "inputs": {"text": texts, "beam_size": beam_size}}
        assert server.predict(body) == (200, {"outputs": reference(texts, beam_size)})
    assert reference(texts, 1) == reference(texts)  # beam 1 is greedy


def test_attention_signature_matches_translator_attention(server, reference):
    sentence = sentences(1)[0]
    code, reply = server.predict({"signature_name": "attention", "instances": [sentence]})
    assert code == 200 and len(reply["predictions"]) == 1
    got = reply["predictions"][0]
    want = trained_translator().attention(sentence)  # the Python API the export mirrors
    assert got["source_tokens"] == want.source_tokens
    assert got["target_tokens"] == want.target_tokens
    assert got["translation"] == want.translation == reference([sentence])[0]
    weights = np.array(got["weights"], np.float32)  # (layers, heads, T, S)
    np.testing.assert_allclose(weights, want.weights, atol=1e-5)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)

    # Columnar, two sentences: the shorter one is padded with "" and zero weights, and is
    # otherwise what it is alone.
    short, long = "O gato dorme.", sentences(3)[2]
    code, reply = server.predict({"signature_name": "attention", "inputs": {"text": [long, short]}})
    assert code == 200
    out = reply["outputs"]
    alone = server.predict({"signature_name": "attention", "instances": [short]})[1]["predictions"][0]
    source, target = out["source_tokens"][1], out["target_tokens"][1]
    s, t = len(alone["source_tokens"]), len(alone["target_tokens"])
    assert source[:s] == alone["source_tokens"] and set(source[s:]) <= {""}
    assert target[:t] == alone["target_tokens"] and set(target[t:]) <= {""}
    weights = np.array(out["weights"][1], np.float32)
    np.testing.assert_allclose(weights[:, :, :t, :s], np.array(alone["weights"]), atol=1e-5)
    assert not weights[:, :, t:, :].any() and not weights[:, :, :, s:].any()


# -- bad requests -----------------------------------------------------------------------------

BEAM = {"signature_name": "beam_search"}
MALFORMED = [
    # (name, method, path, body, headers, status, words in the error)
    ("empty body", "POST", PREDICT, "", {}, 400, "empty"),
    ("not JSON", "POST", PREDICT, "{instances: [", {}, 400, "JSON Parse error"),
    ("invalid UTF-8", "POST", PREDICT, b'{"instances": ["\xff"]}', {}, 400, "JSON Parse error"),
    ("deep nesting", "POST", PREDICT, "[" * 100_000 + "]" * 100_000, {}, 400, "JSON Parse error"),
    ("not an object", "POST", PREDICT, [1, 2], {}, 400, "JSON object"),
    (
        "no instances or inputs",
        "POST",
        PREDICT,
        {"instance": ["a"]},
        {},
        400,
        "Missing 'inputs' or 'instances'",
    ),
    ("both formats", "POST", PREDICT, {"instances": ["a"], "inputs": ["a"]}, {}, 400, "only one of"),
    ("instances not a list", "POST", PREDICT, {"instances": "a"}, {}, 400, "must be a list"),
    ("no instances", "POST", PREDICT, {"instances": []}, {}, 400, "No values"),
    ("number for text", "POST", PREDICT, {"instances": [1]}, {}, 400, "takes strings"),
    ("null for text", "POST", PREDICT, {"inputs": {"text": [None]}}, {}, 400, "takes strings"),
    ("ragged lists", "POST", PREDICT, {"instances": [["a", "b"], ["c"]]}, {}, 400, "not rectangular"),
    ("text not a list", "POST", PREDICT, {"inputs": {"text": "a"}}, {}, 400, "must have shape"),
    ("no sentences", "POST", PREDICT, {"inputs": {"text": []}}, {}, 400, "at least one"),
    ("bad base64", "POST", PREDICT, {"instances": [{"b64": "%%%"}]}, {}, 400, "base64"),
    ("missing input", "POST", PREDICT, {"inputs": {"txt": ["a"]}}, {}, 400, "Missing named input: text"),
    (
        "unknown input",
        "POST",
        PREDICT,
        {"inputs": {"text": ["a"], "beam": 2}},
        {},
        400,
        "Unknown named input",
    ),
    ("mixed instances", "POST", PREDICT, {"instances": [{"text": "a"}, "b"]}, {}, 400, "instance 1"),
    ("wrong instance keys", "POST", PREDICT, {"instances": [{"txt": "a"}]}, {}, 400, "takes exactly"),
    (
        "signature not a string",
        "POST",
        PREDICT,
        {"signature_name": 1, "instances": ["a"]},
        {},
        400,
        "must be a string",
    ),
    (
        "unknown signature",
        "POST",
        PREDICT,
        {"signature_name": "sample", "instances": ["a"]},
        {},
        400,
        "not found in signature def",
    ),
    (
        "beam: row format",
        "POST",
        PREDICT,
        {**BEAM, "instances": [{"text": "a", "beam_size": 2}]},
        {},
        400,
        "columnar format",
    ),
    ("beam: plain inputs", "POST", PREDICT, {**BEAM, "inputs": ["a"]}, {}, 400, "several named inputs"),
    (
        "beam: missing size",
        "POST",
        PREDICT,
        {**BEAM, "inputs": {"text": ["a"]}},
        {},
        400,
        "Missing named input: beam_size",
    ),
    (
        "beam: string size",
        "POST",
        PREDICT,
        {**BEAM, "inputs": {"text": ["a"], "beam_size": "4"}},
        {},
        400,
        "int32",
    ),
    (
        "beam: float size",
        "POST",
        PREDICT,
        {**BEAM, "inputs": {"text": ["a"], "beam_size": 2.5}},
        {},
        400,
        "int32",
    ),
    (
        "beam: list size",
        "POST",
        PREDICT,
        {**BEAM, "inputs": {"text": ["a"], "beam_size": [4]}},
        {},
        400,
        "must have shape",
    ),
    (
        "beam: size 0",
        "POST",
        PREDICT,
        {**BEAM, "inputs": {"text": ["a"], "beam_size": 0}},
        {},
        400,
        "between 1 and 8",
    ),
    (
        "beam: size too large",
        "POST",
        PREDICT,
        {**BEAM, "inputs": {"text": ["a"], "beam_size": 9}},
        {},
        400,
        "--max-beam-size",
    ),
    (
        "beam: size overflows",
        "POST",
        PREDICT,
        {**BEAM, "inputs": {"text": ["a"], "beam_size": 2**40}},
        {},
        400,
        "does not fit",
    ),
    ("too many sentences", "POST", PREDICT, {"instances": ["a"] * 65}, {}, 400, "--max-instances"),
    (
        "body too large",
        "POST",
        PREDICT,
        json.dumps({"instances": ["a" * (1 << 20)]}),
        {},
        413,
        "--max-body-bytes",
    ),
    ("no Content-Length", "POST", PREDICT, None, {}, 411, "Content-Length"),
    (
        "chunked body",
        "POST",
        PREDICT,
        iter([b'{"instances": ["a"]}']),
        {"Transfer-Encoding": "chunked"},
        411,
        "Content-Length",
    ),
    (
        "unknown model",
        "POST",
        "/v1/models/en_pt:predict",
        {"instances": ["a"]},
        {},
        404,
        "Servable not found for request: Latest(en_pt)",
    ),
    (
        "unknown version",
        "POST",
        f"/v1/models/{MODEL}/versions/7:predict",
        {"instances": ["a"]},
        {},
        404,
        f"Specific({MODEL}, 7)",
    ),
    ("unknown model status", "GET", "/v1/models/en_pt", None, {}, 404, "Servable not found"),
    ("unknown model metadata", "GET", "/v1/models/en_pt/metadata", None, {}, 404, "Servable not found"),
    ("classify", "POST", f"/v1/models/{MODEL}:classify", {"examples": [{}]}, {}, 400, ":predict only"),
    ("unknown POST path", "POST", "/v2/translate", {"instances": ["a"]}, {}, 404, "Malformed request"),
    ("unknown GET path", "GET", "/favicon.ico", None, {}, 404, "Malformed request"),
    ("GET on predict", "GET", PREDICT, None, {}, 405, "takes POST"),
    ("PUT", "PUT", f"/v1/models/{MODEL}", "{}", {}, 501, "Unsupported method"),
]


def _send(server, method, path, body, headers):
    """``server.request``, plus what it cannot send: no body at all, and a chunked body."""
    if body is not None and not hasattr(body, "__next__"):
        return server.request(method, path, body, headers)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        if body is None:  # no Content-Length header either
            connection.putrequest(method, path)
            connection.endheaders()
        else:
            connection.request(method, path, body=body, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_every_malformed_request_gets_its_error(server):
    before = server.metrics()
    for name, method, path, body, headers, status, words in MALFORMED:
        code, reply = _send(server, method, path, body, headers)
        assert code == status, (name, code, reply)
        assert isinstance(reply, dict) and list(reply) == ["error"], (name, reply)  # TF Serving's shape
        assert isinstance(reply["error"], str) and words in reply["error"], (name, reply)
    # Nothing hung, nothing crashed: a good request still works and no request is left in flight.
    assert server.predict({"instances": ["O gato dorme."]})[0] == 200
    after = server.metrics()
    assert after["tf_transformer_requests_in_flight"] == 1  # this metrics request
    assert after["tf_transformer_queued_sentences"] == 0
    errors = sum(v for k, v in after.items() if 'code="4' in k or 'code="5' in k) - sum(
        v for k, v in before.items() if 'code="4' in k or 'code="5' in k
    )
    assert errors == len(MALFORMED)


def test_a_slow_client_holds_only_its_own_connection(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{".encode())
        time.sleep(0.2)  # its body never comes; the others are served meanwhile
        assert server.predict({"instances": ["O gato dorme."]})[0] == 200
        assert server.metrics()["tf_transformer_requests_in_flight"] == 2  # the slow one and this one
    # It hung up: its worker is freed (a client that stays silent is cut off after --request-timeout).
    deadline = time.monotonic() + 30
    while server.metrics()["tf_transformer_requests_in_flight"] > 1:
        assert time.monotonic() < deadline, "the slow request's worker was never freed"
        time.sleep(0.05)


def test_connections_beyond_the_cap_get_503(server):
    sockets = [
        socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(MAX_CONNECTIONS)
    ]
    try:
        deadline = time.monotonic() + 60  # until the server has taken every one of them
        while True:
            code, reply = server.request("GET", f"/v1/models/{MODEL}")
            if code == 503:
                break
            assert time.monotonic() < deadline, "the connection cap never applied"
            time.sleep(0.1)
        assert "--max-connections" in reply["error"]
    finally:
        for sock in sockets:
            sock.close()
    deadline = time.monotonic() + 60
    while server.request("GET", f"/v1/models/{MODEL}")[0] != 200:  # the idle ones are let go
        assert time.monotonic() < deadline
        time.sleep(0.1)


# -- load ---------------------------------------------------------------------------------------


def test_200_concurrent_requests_are_all_answered_correctly(server, reference):
    pool = sentences(24) + list(BAD_INPUTS.values())
    greedy = dict(zip(pool, reference(pool)))
    beam = dict(zip(pool[:8], reference(pool[:8], 3)))
    rng = random.Random(0)
    jobs = []
    for i in range(200):
        texts = rng.sample(pool, rng.randint(1, 3))
        if i % 10 == 0:
            picked = rng.sample(pool[:8], 2)
            jobs.append(
                ({**BEAM, "inputs": {"text": picked, "beam_size": 3}}, {"outputs": [beam[t] for t in picked]})
            )
        elif i % 2:
            jobs.append(({"instances": texts}, {"predictions": [greedy[t] for t in texts]}))
        else:
            jobs.append(({"inputs": {"text": texts}}, {"outputs": [greedy[t] for t in texts]}))
    before = server.metrics()
    with concurrent.futures.ThreadPoolExecutor(max_workers=200) as executor:
        replies = list(executor.map(lambda job: server.predict(job[0]), jobs))
    for (body, expected), reply in zip(jobs, replies):
        assert reply == (200, expected), (body, reply)
    after = server.metrics()
    key = 'tf_transformer_batches_total{signature="serving_default"}'
    greedy_batches = after[key] - before.get(key, 0)
    assert greedy_batches < 180, "requests were not batched"  # 180 greedy requests


def test_sigterm_finishes_the_requests_in_flight_and_exits_0(servers, reference):
    server = servers.get()
    long = [" ".join([t.rstrip(".")] * 4) + "." for t in sentences(64)]  # long inputs, slow beams
    expected = reference(long, 8)
    body = {**BEAM, "inputs": {"text": long, "beam_size": 8}}
    idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)  # keep-alive, then silent
    idle.request("GET", f"/v1/models/{MODEL}")
    assert idle.getresponse().read()
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as executor:
        futures = [executor.submit(server.predict, body) for _ in range(6)]
        deadline = time.monotonic() + 60
        while server.metrics()["tf_transformer_requests_in_flight"] < 7:  # 6 and this metrics request
            assert time.monotonic() < deadline, "the requests never were in flight together"
            time.sleep(0.02)
        server.process.send_signal(signal.SIGTERM)
        replies = [f.result(timeout=300) for f in futures]
    assert all(reply == (200, {"outputs": expected}) for reply in replies)
    assert server.process.wait(120) == 0, "".join(server.stderr)[-3000:]
    assert "Stopping" in "".join(server.stderr)
    with pytest.raises(OSError):  # nothing listens any more
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    with contextlib.suppress(ConnectionResetError):  # closed, not left open until it times out
        assert idle.sock.recv(1) == b""
    idle.close()

    # The server held TensorFlow and tensorflow-text, and none of tf_transformer's code.
    modules = server.modules_file.read_text().split()
    assert "tensorflow_text" in modules
    ours = [m for m in modules if m.split(".")[0] == "tf_transformer"]
    assert not ours, f"the server imported {ours}"


# -- slow clients, names, headers --------------------------------------------------------------


def raw_request(port, data: bytes, timeout=30) -> tuple[int, dict]:
    """Send ``data`` as it is on a fresh connection -> (status, JSON body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_names_headers_and_signature_types_are_strict(server):
    # A percent-encoded model name is the model's (the page encodes it).
    encoded = "/v1/models/" + "".join(f"%{b:02X}" for b in MODEL.encode()) + ":predict"
    assert server.predict({"instances": ["O gato dorme."]}, path=encoded)[0] == 200
    # Two different Content-Length headers: refused, as RFC 9112 asks (a proxy and we could disagree).
    body = json.dumps({"instances": ["O gato dorme."]}).encode()
    head = f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nContent-Length: 5\r\n"
    code, reply = raw_request(server.port, head.encode() + b"Connection: close\r\n\r\n" + body)
    assert code == 400 and "several different Content-Length" in reply["error"]
    # signature_name must be a string (TensorFlow Serving's rule): false, 0 and null are not the default.
    for value in (False, 0, None):
        code, reply = server.predict({"signature_name": value, "instances": ["a"]})
        assert (code, reply) == (400, {"error": "'signature_name' key must be a string value"}), value
    assert server.predict({"signature_name": "", "instances": ["a"]})[0] == 200  # "" is the default


def test_the_page_escapes_the_model_name():
    """A model name with markup in it stays a JavaScript string inside the page's script."""
    options = Options(export="unused", port=0, model_name="<!--<script>&</script>")
    servable = type("Servable", (), {"name": options.model_name, "version": 1})()
    page = "<script>const CONFIG = /*CONFIG*/{};</script>"
    server = Server(options, servable, None, Metrics(), page)
    try:
        html = server.page.decode()
    finally:
        server.server_close()
    inside = html[len("<script>") : -len("</script>")]
    assert "<" not in inside and ">" not in inside and "&" not in inside
    config = json.loads(inside.removeprefix("const CONFIG = ").removesuffix(";"))
    assert config["model"] == "<!--<script>&</script>"


def test_slow_drip_clients_are_cut_off_and_real_requests_get_through(export_base, tmp_path):
    """Clients that send a byte every half second hold every connection slot: each is closed once its
    request has not arrived whole within --request-timeout, and real requests are served then, while
    the others still drip. SIGHUP then stops the server like SIGTERM."""
    timeout, slots = 2.0, 3
    server = ServerProcess(
        export_base, tmp_path / "drip", "--request-timeout", str(timeout), "--max-connections", str(slots)
    )
    try:
        held = []  # (seconds from the start, seconds until the server closed it), per drip connection
        start = time.monotonic()

        def drip():
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                opened = time.monotonic()
                sock.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode())
                with contextlib.suppress(OSError):
                    while time.monotonic() - opened < 4 * timeout:  # (bounded: 8 s at most)
                        sock.sendall(b"{")
                        time.sleep(0.5)
                held.append((opened - start, time.monotonic() - opened))

        def drippers(count):
            threads = [threading.Thread(target=drip) for _ in range(count)]
            for thread in threads:
                thread.start()
            return threads

        def status():  # a refused connection may close before the request is sent: no answer
            try:
                return server.predict({"instances": ["O gato dorme."]})[0]
            except OSError:
                return None

        threads = drippers(1)
        time.sleep(1.0)
        threads += drippers(slots - 1)  # a second after the first: still dripping when it is cut
        time.sleep(0.3)  # every slot taken
        assert status() in (503, None)
        served = None
        while time.monotonic() - start < 4 * timeout and served is None:
            if status() == 200:
                served = time.monotonic() - start
            time.sleep(0.1)
        for thread in threads:
            thread.join(30)
        assert len(held) == slots and all(seconds < timeout + 2.5 for _, seconds in held), held
        assert served is not None and served < timeout + 2.0, served  # once the first was cut ...
        assert served < max(opened + seconds for opened, seconds in held), (served, held)  # ... not the last
        assert server.metrics()["tf_transformer_late_requests_closed_total"] >= slots
        server.process.send_signal(signal.SIGHUP)
        assert server.process.wait(60) == 0, "".join(server.stderr)[-3000:]
        assert "Stopping" in "".join(server.stderr)
    finally:
        if server.running():
            server.process.kill()


# -- the page, in a real browser ---------------------------------------------------------------


def test_page_translates_and_shows_attention(server, reference):
    sentence = "O gato dorme."
    with Browser(width=1000, height=1000) as browser:
        browser.open(server.url + "/", ready="document.body.dataset.ready === 'true'")
        assert browser.evaluate("document.title").startswith("Translate")
        assert browser.evaluate("document.getElementById('attention-view').hidden") is True

        # Type, and submit with the keyboard.
        browser.type_text("#source", sentence)
        browser.press("Enter", 13)
        translation = browser.wait_for(
            "document.querySelector('#attention-view .token') && "
            "document.getElementById('translation').textContent"
        )
        assert translation == reference([sentence])[0]
        assert browser.evaluate("document.getElementById('result').getAttribute('aria-live')") == "polite"
        assert browser.evaluate("document.getElementById('error').hidden") is True
        # The view is tf_transformer.viz's viewer (attention_viewer.js), which the server inlined.
        assert browser.evaluate("typeof AttentionViewer.mount") == "function"
        view = "document.getElementById('attention-view')"
        source = browser.evaluate(
            "[...document.querySelectorAll('#attention-view .keys .token .text')].map(e => e.textContent)"
        )
        assert source[0] == "[START]" and "gato" in source and source[-1] == "[END]"
        written = browser.evaluate(
            "[...document.querySelectorAll('#attention-view .queries .token .text')].map(e => e.textContent)"
        )
        assert len(written) >= 2 and written[-1] == "[END]"  # each token the decoder wrote

        # Click a source token: the written tokens show how much each looked at it, the status says so.
        assert browser.evaluate(f"{view}.dataset.focus") == ""
        gato = source.index("gato")
        browser.click(f"#attention-view .keys .token[data-index='{gato}']")
        browser.move_mouse(1, 1)  # the hover preview ends; the click stays
        assert browser.evaluate(f"{view}.dataset.focus") == f"key:{gato}"
        assert (
            browser.evaluate(
                f"document.querySelector(\"#attention-view .keys .token[data-index='{gato}']\")"
                ".getAttribute('aria-pressed')"
            )
            == "true"
        )
        weights = browser.evaluate(
            "[...document.querySelectorAll('#attention-view .queries .weight')].map(e => e.textContent)"
        )
        assert len(weights) == len(written) and all(weights)
        status = browser.evaluate("document.querySelector('#attention-view .status').textContent")
        assert f"source token {gato + 1} “gato” is looked at most by target token" in status

        # Another layer and head repaint the heat map.
        cells = (
            "[...document.querySelectorAll('#attention-view .cell')].map(c => c.style.backgroundColor).join()"
        )
        painted = browser.evaluate(cells)
        browser.evaluate(
            "const l = document.querySelector('#attention-view select.layer'); l.value = '1';"
            "l.dispatchEvent(new Event('change'));"
            "const h = document.querySelector('#attention-view select.head'); h.value = '1';"
            "h.dispatchEvent(new Event('change'))"
        )
        assert browser.evaluate(cells) != painted
        # Keyboard focus on a written token previews its row.
        browser.evaluate(
            "document.querySelector(\"#attention-view .queries .token[data-index='1']\").focus()"
        )
        assert browser.evaluate(f"{view}.dataset.focus") == "query:1"
        browser.evaluate(
            "const h2 = document.querySelector('#attention-view select.head'); h2.value = '-1';"
            "h2.dispatchEvent(new Event('change')); document.activeElement.blur()"
        )
        browser.screenshot(SCREENSHOT)  # for the README

        # Beam search through the form.
        browser.evaluate("document.getElementById('mode-beam').click()")
        assert browser.evaluate("document.getElementById('beam-size').disabled") is False
        browser.evaluate("document.getElementById('translate').click()")
        browser.wait_for("document.getElementById('status').textContent.startsWith('Beam search')")
        assert (
            browser.evaluate("document.getElementById('translation').textContent")
            == reference([sentence], 4)[0]
        )

        # Usable at phone width: nothing wider than the screen (the heatmap scrolls in its box).
        browser.viewport(375, 800, mobile=True)
        assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert browser.errors == []


def test_page_explains_a_missing_attention_signature_and_server_errors(server):
    _, metadata = server.request("GET", f"/v1/models/{MODEL}/metadata")
    del metadata["metadata"]["signature_def"]["signature_def"]["attention"]  # an older export

    def respond(url):
        if url.endswith("/metadata"):
            return 200, json.dumps(metadata).encode()
        return 503, json.dumps({"error": "the server is shutting down"}).encode()

    with Browser() as browser:
        browser.intercept("*/v1/models/*", respond)
        browser.open(server.url + "/", ready="document.body.dataset.ready === 'true'")
        note = browser.evaluate("document.getElementById('attention-note').textContent")
        assert "no “attention” signature" in note and "tf-transformer export" in note
        browser.evaluate("document.getElementById('translate').click()")  # nothing typed
        assert browser.evaluate("document.getElementById('error').textContent") == "Type a sentence first."
        browser.type_text("#source", "O gato dorme.")
        browser.press("Enter", 13)
        error = browser.wait_for(
            "document.getElementById('error').textContent.includes('busy') && "
            "document.getElementById('error').textContent"
        )
        assert error == "The server is busy or stopping: the server is shutting down"
        assert browser.evaluate("document.getElementById('error').getAttribute('role')") == "alert"
        assert browser.evaluate("document.getElementById('attention-view').hidden") is True
        # The browser logs the 503 itself; the page raised nothing.
        assert [e for e in browser.errors if not e.startswith("log (network)")] == []


# -- the command line -------------------------------------------------------------------------


def test_export_folders_and_names(tmp_path):
    for version in ("1", "3", "10"):
        (tmp_path / "pt_en" / version).mkdir(parents=True)
        (tmp_path / "pt_en" / version / "saved_model.pb").write_bytes(b"")
    (tmp_path / "pt_en" / "20").mkdir()  # no SavedModel inside: not a version
    assert find_saved_model(tmp_path / "pt_en") == (tmp_path / "pt_en" / "10", 10)
    assert find_saved_model(tmp_path / "pt_en" / "3") == (tmp_path / "pt_en" / "3", 3)
    assert default_model_name(tmp_path / "pt_en") == "pt_en"
    assert default_model_name(tmp_path / "pt_en" / "3") == "pt_en"
    with pytest.raises(FileNotFoundError, match="numbered"):
        find_saved_model(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"--out {tmp_path / 'missing'}`"):
        find_saved_model(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=f"--out {tmp_path / 'pt_en'} --version 4`"):
        find_saved_model(tmp_path / "pt_en" / "4")


def test_a_failed_batch_is_answered_request_by_request():
    """Requests that break a limit only together (the export's hypotheses ceiling) each get an answer."""
    spec = TensorSpec(tf.string, (None,))
    signature = Signature("serving_default", {"text": spec}, {"translation": spec}, None)
    calls = []

    def run(signature, inputs):
        calls.append(len(inputs["text"]))
        if len(inputs["text"]) > 2:
            raise ServingError(400, "more than 2 sentences at once")
        return {"translation": np.char.upper(inputs["text"].astype(bytes)).astype(object)}

    batcher = Batcher(run, max_batch_size=64, batch_timeout=5.0, metrics=Metrics())
    try:
        requests = [[b"a", b"b"], [b"c"], [b"d", b"e", b"f"]]
        with batcher.arriving():  # the batcher waits for it: all three requests share one batch
            tasks = [
                batcher.submit(PredictRequest(signature, {"text": np.array(r, object)}, False))
                for r in requests
            ]
        assert list(tasks[0].wait(60)["translation"]) == [b"A", b"B"]
        assert list(tasks[1].wait(60)["translation"]) == [b"C"]
        with pytest.raises(ServingError, match="more than 2 sentences at once"):
            tasks[2].wait(60)
        assert calls == [6, 2, 1, 3]
    finally:
        batcher.stop()
    # What a request sees of the graph's own checks: their words, not TensorFlow's wrapping.
    message = "{{function_node __inference_x_12}} assertion failed: [beam_size must be at least 1, got 0]"
    assert _model_message(message + "\n\t [[{{node Assert/Assert}}]]") == (
        "beam_size must be at least 1, got 0"
    )


def test_serve_reports_a_missing_export(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "execv", lambda *a: pytest.fail("serve would have replaced this process"))
    assert cli.main(["serve", "--export", str(tmp_path / "missing")]) == 2
    assert "tf-transformer export" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["serve", "--export", str(tmp_path), "--max-beam-size", "0"])
    assert "must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["serve", "--export", str(tmp_path), "--port", "99999"])
    assert "must be at most 65535" in capsys.readouterr().err
    damaged = tmp_path / "pt_en" / "1"  # a SavedModel cut short: one line that says to export again
    damaged.mkdir(parents=True)
    (damaged / "saved_model.pb").write_bytes(b"\x08\x01garbage")
    assert serve(Options(export=str(damaged.parent))) == 2
    err = capsys.readouterr().err
    assert f"{damaged} is not a SavedModel that loads" in err and "export it again" in err
    assert err.count("\n") == 1
