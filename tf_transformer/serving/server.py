"""Serve an exported translator with TensorFlow Serving's REST API, batching requests as they come.

Endpoints (the subset of TensorFlow Serving's REST API a client needs, so the
same client code works against TensorFlow Serving unchanged):

- ``POST /v1/models/NAME[/versions/N]:predict`` with ``{"instances": [...]}``
  (row format, answered ``{"predictions": [...]}``) or ``{"inputs": ...}``
  (columnar format, answered ``{"outputs": ...}``), and an optional
  ``"signature_name"`` (``serving_default``, ``beam_search``, ``attention``).
- ``GET /v1/models/NAME[/versions/N]``: the model's version status.
- ``GET /v1/models/NAME[/versions/N]/metadata``: its signature definitions.
- ``GET /monitoring/prometheus/metrics``: request, batch and queue counters.
- ``GET /``: a page to translate and look at the attention (``page.html``).

Errors are answered as TensorFlow Serving answers them, ``{"error": "..."}``,
with 400 for a bad request, 404 for an unknown model or path, 411/413 for a
missing or too large body, 503 while shutting down and 504 when the model did
not answer in time.

Requests are batched dynamically: the handler threads queue their sentences,
one batcher thread collects requests for the same signature (and beam size)
for at most ``--batch-timeout-ms`` and at most ``--max-batch-size`` sentences,
runs the model once on the batch and hands each request its rows. On two CPU
cores one batch of 32 greedy translations costs little more than one, so
throughput grows with concurrency. Signatures whose outputs have more than one
dimension (``attention``: its tokens and weights are padded to the batch's
longest sentence) run one request at a time, so that no answer depends on
which other requests shared its batch.

Why the standard library's ``http.server.ThreadingHTTPServer``: the server is
for a laptop and for learning, so it should install nothing and hide nothing;
a thread per connection is plenty when the work is one model call per batch
on a single batcher thread (TensorFlow releases the GIL while it computes).
What a production stack would add is added here in a few lines each: a body
size limit, a deadline on each whole request (its headers and body must arrive
within ``--request-timeout``, and an idle keep-alive connection is closed after
it: a client that drips a byte at a time cannot hold a thread), a cap on open
connections, a deadline on each answer, JSON errors for everything
``http.server`` itself rejects, and a clean drain on SIGTERM, SIGINT or SIGHUP. An asyncio
framework (aiohttp, Starlette) would earn its place for thousands of idle
connections or streaming; that is TensorFlow Serving's job, not this one.

This file runs as a fresh process (``tf-transformer serve`` replaces itself
with ``python server.py``) and imports TensorFlow and tensorflow-text only,
never the ``tf_transformer`` package: the SavedModel is served alone, as
TensorFlow Serving would serve it.

Run::

    python tf_transformer/serving/server.py --export exports/pt_en [--port 8501]
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import dataclasses
import faulthandler
import http
import http.server
import importlib.util
import json
import pathlib
import re
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse

import numpy as np


def _quiet_tensorflow_start_up():
    """Run the package's ``_quiet.py`` (TensorFlow's start-up noise off) from its file.

    Loaded by path so that this process never imports the ``tf_transformer``
    package; when this module is imported from the package, it already ran.
    """
    if "tensorflow" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "_quiet", pathlib.Path(__file__).resolve().parents[1] / "_quiet.py"
    )
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


_quiet_tensorflow_start_up()

import tensorflow as tf  # noqa: E402  (after the start-up hush)

PAGE_FILE = pathlib.Path(__file__).with_name("page.html")
DEFAULT_SIGNATURE = "serving_default"
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


@dataclasses.dataclass(frozen=True)
class Options:
    """Every setting of the server; the command line's flags are these fields (``add_arguments``)."""

    export: str = ""
    host: str = "127.0.0.1"
    port: int = 8501
    model_name: str | None = None
    batch_timeout_ms: float = 5.0
    max_batch_size: int = 64
    max_instances: int = 64
    max_beam_size: int = 8
    max_body_bytes: int = 1 << 20
    request_timeout: float = 30.0
    max_connections: int = 512


HELP = {
    "export": "a SavedModel written by `tf-transformer export`, or a TensorFlow Serving base folder "
    "of numbered versions (the highest is served)",
    "host": "address to bind; anything but 127.0.0.1 exposes the model to the network (default: %(default)s)",
    "port": "0 picks a free port (default: %(default)s)",
    "model_name": "NAME in /v1/models/NAME (default: the export folder's name, without the version)",
    "batch_timeout_ms": "how long a batch waits for more requests (default: %(default)s)",
    "max_batch_size": "most sentences in one model call (default: %(default)s)",
    "max_instances": "most sentences in one request (default: %(default)s)",
    "max_beam_size": "largest beam_size a request may ask for (default: %(default)s)",
    "max_body_bytes": "largest request body (default: %(default)s)",
    "request_timeout": "seconds a request may wait for its answer, and an idle connection stays open "
    "(default: %(default)s)",
    "max_connections": "open connections at most; more are answered 503 (default: %(default)s)",
}


METAVAR = {
    "export": "DIR",
    "model_name": "NAME",
    "batch_timeout_ms": "MS",
    "max_body_bytes": "BYTES",
    "request_timeout": "SECONDS",
}


def _number(kind, minimum, maximum=None):
    def parse(text):
        value = kind(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its errors
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's flags, one per ``Options`` field (``tf-transformer serve`` uses them too)."""
    for field in dataclasses.fields(Options):
        flag = "--" + field.name.replace("_", "-")
        whole = _number(int, 0, 65535) if field.name == "port" else _number(int, 1)  # (TCP's ports)
        kind = {"int": whole, "float": _number(float, 0)}.get(field.type)
        parser.add_argument(
            flag,
            type=kind,
            default=field.default,
            required=field.name == "export",
            metavar=METAVAR.get(field.name, "N" if kind else None),
            help=HELP[field.name],
        )


def forward_arguments(args: argparse.Namespace) -> list[str]:
    """Parsed flags -> the command line that gives the same ``Options`` again."""
    out = []
    for field in dataclasses.fields(Options):
        value = getattr(args, field.name)
        if value is not None:
            out.append(f"--{field.name.replace('_', '-')}={value}")
    return out


class ServingError(Exception):
    """A request's failure, answered as ``{"error": message}`` with an HTTP status."""

    def __init__(self, status: int, message: str, close: bool = False):
        super().__init__(message)
        self.status, self.message, self.close = status, message, close


# -- the SavedModel ------------------------------------------------------------------------------


def find_saved_model(export) -> tuple[pathlib.Path, int]:
    """``(SavedModel folder, version)`` for a SavedModel folder or a base folder of numbered versions."""
    path = pathlib.Path(export)
    if not path.is_dir():
        out = f"{path.parent} --version {path.name}" if path.name.isdigit() else str(path)
        raise FileNotFoundError(
            f"{path} is not a folder: write an export first, "
            f"`tf-transformer export --run-dir RUN --out {out}`"
        )
    if (path / "saved_model.pb").is_file():
        return path, int(path.name) if path.name.isdigit() else 1
    versions = [p for p in path.iterdir() if p.name.isdigit() and (p / "saved_model.pb").is_file()]
    if not versions:
        raise FileNotFoundError(
            f"no SavedModel in {path}: expected saved_model.pb there, or in numbered "
            f"version folders (1/, 2/, ...) as TensorFlow Serving lays them out"
        )
    latest = max(versions, key=lambda p: int(p.name))
    return latest, int(latest.name)


def default_model_name(export) -> str:
    """``exports/pt_en`` and ``exports/pt_en/1`` are both served as ``pt_en``."""
    path = pathlib.Path(export).resolve()
    return path.parent.name if path.name.isdigit() else path.name


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """A signature's input or output: dtype, and shape (``None``: an unknown size, or as shape any rank)."""

    dtype: tf.DType
    shape: tuple | None

    @classmethod
    def from_proto(cls, info):
        shape = (
            None
            if info.tensor_shape.unknown_rank
            else tuple(None if d.size < 0 else d.size for d in info.tensor_shape.dim)
        )
        return cls(tf.dtypes.as_dtype(info.dtype), shape)

    def describe(self) -> str:
        dims = (
            "?"
            if self.shape is None
            else "[" + ", ".join("None" if d is None else str(d) for d in self.shape) + "]"
        )
        return f"{self.dtype.name} {dims}"


@dataclasses.dataclass
class Signature:
    name: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    function: object

    @property
    def batch_inputs(self) -> list[str]:
        """Inputs with a leading batch dimension; the others (``beam_size``) are per request."""
        return [k for k, s in self.inputs.items() if s.shape and s.shape[0] is None]

    @property
    def batchable(self) -> bool:
        """Requests can share a model call when every output is one value per sentence."""
        return bool(self.batch_inputs) and all(s.shape == (None,) for s in self.outputs.values())


class Servable:
    """One loaded SavedModel: its signatures, callable on NumPy inputs, and TF Serving's descriptions.

    Args:
        export: a SavedModel folder or a base folder of numbered versions.
        name: the model's name in URLs (default: ``default_model_name``).

    Example:
        >>> model = Servable("exports/pt_en")  # doctest: +SKIP
        >>> text = np.array([b"O gato dorme."], object)
        >>> model.run(model.signatures["serving_default"], {"text": text})  # doctest: +SKIP
        {'translation': array([b'The cat sleeps.'], dtype=object)}
    """

    def __init__(self, export, name: str | None = None):
        import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel calls)
        from tensorflow.core.protobuf import saved_model_pb2

        self.path, self.version = find_saved_model(export)
        self.name = name or default_model_name(export)
        try:
            self._loaded = tf.saved_model.load(str(self.path))
            proto = saved_model_pb2.SavedModel.FromString((self.path / "saved_model.pb").read_bytes())
        except Exception as err:  # noqa: BLE001 (TensorFlow's errors, protobuf's DecodeError...)
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
            raise ValueError(
                f"{self.path} is not a SavedModel that loads ({type(err).__name__}: {first}); it is "
                f"damaged or incomplete: export it again with `tf-transformer export --run-dir RUN "
                f"--out {self.path.parent}`"
            ) from None
        meta_graph = next(g for g in proto.meta_graphs if "serve" in g.meta_info_def.tags)
        self.signature_defs = meta_graph.signature_def
        self.signatures = {
            key: Signature(
                key,
                {k: TensorSpec.from_proto(v) for k, v in sig.inputs.items()},
                {k: TensorSpec.from_proto(v) for k, v in sig.outputs.items()},
                self._loaded.signatures[key],
            )
            for key, sig in sorted(meta_graph.signature_def.items())
            if key in self._loaded.signatures
        }

    def run(self, signature: Signature, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tensors = {k: tf.constant(v, signature.inputs[k].dtype) for k, v in inputs.items()}
        try:
            outputs = signature.function(**tensors)
        except tf.errors.InvalidArgumentError as err:  # e.g. the graph's own checks on its inputs
            raise ServingError(400, _model_message(err.message)) from None
        return {k: v.numpy() for k, v in outputs.items()}

    def warm_up(self) -> None:
        """Call every signature once, so that the first request does not pay for graph set-up."""
        for signature in self.signatures.values():
            inputs = {}
            for key, spec in signature.inputs.items():
                if spec.dtype != tf.string and spec.shape == ():
                    inputs[key] = np.array(2, spec.dtype.as_numpy_dtype)
                elif spec.dtype == tf.string and spec.shape == (None,):
                    inputs[key] = np.array([b"warm up"], object)
            if len(inputs) == len(signature.inputs):  # a signature we can feed
                self.run(signature, inputs)

    def status(self) -> dict:
        """``GET /v1/models/NAME``, as TensorFlow Serving answers it."""
        return {
            "model_version_status": [
                {
                    "version": str(self.version),
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        }

    def metadata(self) -> dict:
        """``GET /v1/models/NAME/metadata``, as TensorFlow Serving answers it."""
        from google.protobuf import json_format

        defs = {
            key: json_format.MessageToDict(
                sig, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
            )
            for key, sig in sorted(self.signature_defs.items())
        }
        return {
            "model_spec": {"name": self.name, "signature_name": "", "version": str(self.version)},
            "metadata": {"signature_def": {"signature_def": defs}},
        }


def _model_message(message: str) -> str:
    """The first line of a model's error; of a failed ``tf.debugging.Assert``, only its own words.

    ``{{function_node ...}} assertion failed: [beam_size must be at least 1, got 0]`` gives
    ``beam_size must be at least 1, got 0``.
    """
    line = message.strip().splitlines()[0] if message.strip() else "the model rejected the input"
    found = re.search(r"assertion failed: \[(.*?)\](?:\s|$)", line)
    return found.group(1) if found else line


# -- the REST protocol: JSON <-> arrays ----------------------------------------------------------


@dataclasses.dataclass
class PredictRequest:
    signature: Signature
    inputs: dict[str, np.ndarray]
    row_format: bool

    @property
    def size(self) -> int:
        return len(self.inputs[self.signature.batch_inputs[0]]) if self.signature.batch_inputs else 1

    @property
    def batch_key(self):
        """Requests with equal keys may share a model call: same signature, same per-request inputs."""
        if not self.signature.batchable:
            return object()  # equal to nothing: runs alone
        scalars = tuple(
            (k, self.inputs[k].tobytes()) for k in sorted(self.inputs) if k not in self.signature.batch_inputs
        )
        return self.signature.name, scalars


def _json_type(value) -> str:
    return {
        dict: "object",
        list: "list",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _is_b64(value) -> bool:
    return isinstance(value, dict) and list(value) == ["b64"]


def _is_object(value) -> bool:
    return isinstance(value, dict) and not _is_b64(value)


def _shape_and_leaves(value, name: str, depth: int = 0):
    """Nested JSON lists -> ``(shape, flat list of leaves)``; the lists must be rectangular."""
    if not isinstance(value, list):
        return (), [value]
    if depth > 32:
        raise ServingError(400, f"input '{name}' is nested more than 32 lists deep")
    parts = [_shape_and_leaves(v, name, depth + 1) for v in value]
    shapes = {shape for shape, _ in parts}
    if len(shapes) > 1:
        found = " and ".join(str(list(s)) for s in sorted(shapes)[:2])
        raise ServingError(
            400, f"input '{name}' is not rectangular: its items have different shapes ({found})"
        )
    inner = shapes.pop() if shapes else ()
    return (len(value), *inner), [leaf for _, leaves in parts for leaf in leaves]


def _leaf(value, dtype: tf.DType, name: str):
    if dtype == tf.string:
        if isinstance(value, str):
            return value.encode("utf-8", "surrogatepass")  # lone surrogates: the tokenizer replaces them
        if _is_b64(value) and isinstance(value["b64"], str):
            try:
                return base64.b64decode(value["b64"], validate=True)
            except ValueError:
                raise ServingError(400, f"input '{name}': 'b64' is not valid base64") from None
    elif dtype.is_integer:
        if isinstance(value, int) and not isinstance(value, bool):
            if not dtype.min <= value <= dtype.max:
                raise ServingError(400, f"input '{name}': {value} does not fit in {dtype.name}")
            return value
    elif dtype.is_floating:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    elif dtype == tf.bool and isinstance(value, bool):
        return value
    kind = "strings" if dtype == tf.string else f"{dtype.name} values"
    raise ServingError(400, f"input '{name}' takes {kind}, got a JSON {_json_type(value)}")


def _to_array(value, spec: TensorSpec, name: str, row_format: bool) -> np.ndarray:
    shape, leaves = _shape_and_leaves(value, name)
    leaves = [_leaf(v, spec.dtype, name) for v in leaves]
    array = (
        np.array(leaves, object) if spec.dtype == tf.string else np.array(leaves, spec.dtype.as_numpy_dtype)
    ).reshape(shape)
    fits = spec.shape is None or (
        len(shape) == len(spec.shape) and all(w is None or w == d for d, w in zip(shape, spec.shape))
    )
    if not fits:
        hint = ""
        if row_format and spec.shape == ():
            hint = (
                f"; '{name}' is one value per request, which the row format ('instances') cannot "
                f"express: send this signature in the columnar format, "
                f'{{"inputs": {{..., "{name}": ...}}}}'
            )
        raise ServingError(
            400,
            f"input '{name}' must have shape {TensorSpec(spec.dtype, spec.shape).describe()}"
            f", got {list(shape)}{hint}",
        )
    return array


def _columns_from_instances(instances, signature: Signature) -> dict[str, list]:
    """Row format: one list per input, TensorFlow Serving's rules for plain values and objects."""
    names = sorted(signature.inputs)
    if not isinstance(instances, list):
        raise ServingError(400, f"'instances' must be a list, got a JSON {_json_type(instances)}")
    if not instances:
        raise ServingError(400, "No values in 'instances' array")
    objects = _is_object(instances[0])
    if not objects and len(names) > 1:
        raise ServingError(
            400,
            f"'instances' is a plain list, but signature '{signature.name}' takes "
            f"several named inputs ({', '.join(names)}): send a list of objects",
        )
    columns = {name: [] for name in names}
    for i, item in enumerate(instances):
        if objects != _is_object(item):
            want = "an object" if objects else "a value or list"
            raise ServingError(
                400,
                f"instance {i} of 'instances' is a JSON {_json_type(item)}, expected {want} like instance 0",
            )
        if objects:
            if set(item) != set(names):
                raise ServingError(
                    400,
                    f"instance {i} of 'instances' has keys {sorted(item)}; "
                    f"signature '{signature.name}' takes exactly {names}",
                )
            for name in names:
                columns[name].append(item[name])
        else:
            columns[names[0]].append(item)
    return columns


def _columns_from_inputs(inputs, signature: Signature) -> dict:
    """Columnar format: an object of named inputs, or a bare value when there is only one input."""
    names = sorted(signature.inputs)
    if not _is_object(inputs):
        if len(names) > 1:
            raise ServingError(
                400,
                f"'inputs' is a plain value or list, but signature '{signature.name}' "
                f"takes several named inputs ({', '.join(names)}): send an object",
            )
        return {names[0]: inputs}
    missing = [n for n in names if n not in inputs]
    if missing:
        raise ServingError(400, f"Missing named input: {missing[0]} in 'inputs' object")
    unknown = sorted(set(inputs) - set(names))
    if unknown:
        raise ServingError(
            400,
            f"Unknown named input: {unknown[0]} in 'inputs' object; signature "
            f"'{signature.name}' takes {names}",
        )
    return inputs


def parse_predict(body: bytes, servable: Servable, options: Options) -> PredictRequest:
    """A ``:predict`` body -> arrays checked against the signature and the server's limits."""
    if not body.strip():
        raise ServingError(400, "JSON Parse error: The document is empty")
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise ServingError(400, f"JSON Parse error: {err}") from None
    if not isinstance(doc, dict):
        raise ServingError(400, f"the request must be a JSON object, got a JSON {_json_type(doc)}")
    name = doc.get("signature_name", "")
    if not isinstance(name, str):  # (as TensorFlow Serving: false, 0 or null do not mean the default)
        raise ServingError(400, "'signature_name' key must be a string value")
    name = name or DEFAULT_SIGNATURE
    signature = servable.signatures.get(name)
    if signature is None:
        raise ServingError(
            400,
            f'Serving signature name: "{name}" not found in signature def; '
            f"this model has {sorted(servable.signatures)}",
        )
    if ("instances" in doc) == ("inputs" in doc):
        raise ServingError(
            400,
            "Missing 'inputs' or 'instances' key"
            if "inputs" not in doc
            else "expecting only one of 'inputs' or 'instances' keys, got both",
        )
    row_format = "instances" in doc
    columns = (
        _columns_from_instances(doc["instances"], signature)
        if row_format
        else _columns_from_inputs(doc["inputs"], signature)
    )
    inputs = {k: _to_array(v, signature.inputs[k], k, row_format) for k, v in columns.items()}
    sizes = {len(inputs[k]) for k in signature.batch_inputs}
    if len(sizes) > 1:
        raise ServingError(400, f"inputs {signature.batch_inputs} have different batch sizes {sorted(sizes)}")
    request = PredictRequest(signature, inputs, row_format)
    if request.size == 0:
        raise ServingError(400, "no sentences: send at least one")
    if request.size > options.max_instances:
        raise ServingError(
            400,
            f"{request.size} sentences in one request; this server takes at most "
            f"{options.max_instances} (--max-instances)",
        )
    if "beam_size" in inputs and not 1 <= int(inputs["beam_size"]) <= options.max_beam_size:
        raise ServingError(
            400,
            f"beam_size must be between 1 and {options.max_beam_size} "
            f"(--max-beam-size), got {int(inputs['beam_size'])}",
        )
    return request


def _json_values(name: str, array: np.ndarray):
    """An output array -> nested lists; strings as text, or ``{"b64": ...}`` for ``*_bytes`` outputs."""
    if array.dtype == object:
        if name.endswith("_bytes"):  # TensorFlow Serving's convention for binary outputs
            convert = lambda b: {"b64": base64.b64encode(b).decode("ascii")}  # noqa: E731
        else:
            convert = lambda b: b.decode("utf-8", "replace")  # noqa: E731
        array = np.vectorize(convert, otypes=[object])(array) if array.size else array
    return array.tolist()


def format_predict(outputs: dict[str, np.ndarray], row_format: bool) -> dict:
    """Output arrays -> ``{"predictions": ...}`` (row) or ``{"outputs": ...}`` (columnar), as TF Serving does.

    One output: its values directly; several: an object per instance (row
    format) or one object of named outputs (columnar format).
    """
    values = {k: _json_values(k, v) for k, v in sorted(outputs.items())}
    if not row_format:
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    if any(np.ndim(v) == 0 for v in outputs.values()):
        raise ServingError(400, "an output has no batch dimension; use the columnar format ('inputs')")
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    count = len(next(iter(values.values())))
    return {"predictions": [{k: v[i] for k, v in values.items()} for i in range(count)]}


# -- dynamic batching ---------------------------------------------------------------------------


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


# -- HTTP -----------------------------------------------------------------------------------------


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


# -- the process ----------------------------------------------------------------------------------


def serve(options: Options, ready=print) -> int:
    """Load, warm up, serve until SIGINT, SIGTERM or SIGHUP, drain, return the exit status."""
    try:
        page = PAGE_FILE.read_text("utf-8")
        servable = Servable(options.export, options.model_name)
    except (OSError, ValueError) as err:
        print(f"tf-transformer serve: error: {err}", file=sys.stderr)
        return 2
    servable.warm_up()
    metrics = Metrics()
    batcher = Batcher(servable.run, options.max_batch_size, options.batch_timeout_ms / 1000, metrics)
    try:
        server = Server(options, servable, batcher, metrics, page)
    except OSError as err:
        print(
            f"tf-transformer serve: error: cannot listen on {options.host}:{options.port}: {err}",
            file=sys.stderr,
        )
        return 2

    # The handler only records the signal: taking a lock there could deadlock the main thread.
    received = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # (SIGHUP: the terminal closed)
        signal.signal(signum, lambda signum, frame: received.append(signum))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="http")
    thread.start()
    host, port = server.server_address[:2]
    quoted = urllib.parse.quote(servable.name, safe="")  # (a name with spaces or 翻译 in a URL)
    chosen = "" if servable.path == pathlib.Path(options.export) else f", the highest in {options.export}"
    ready(
        f"Serving '{servable.name}' version {servable.version}{chosen} ({', '.join(servable.signatures)}) "
        f"from {servable.path}\n"
        f"  page:    http://{host}:{port}/\n"
        f"  predict: POST http://{host}:{port}/v1/models/{quoted}:predict\n"
        f"Ctrl-C (SIGINT), SIGTERM or SIGHUP stops it after the requests in flight.",
        flush=True,
    )
    while not received:
        time.sleep(0.2)

    print(
        f"Stopping: no new connections; {metrics.in_flight} requests in flight.", file=sys.stderr, flush=True
    )
    server.draining = True
    server.shutdown()  # serve_forever returns: nothing new is accepted
    server.server_close()  # the port is free again
    thread.join()
    if not server.drain(options.request_timeout + 5):
        print("Some requests or connections did not finish in time.", file=sys.stderr)
    batcher.stop()
    answered = sum(metrics.responses.values())
    print(
        f"Stopped after {answered} responses in {sum(metrics.batches.values())} batches.",
        file=sys.stderr,
        flush=True,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    faulthandler.enable()  # a crash in TensorFlow's C++ still prints every thread's Python stack
    parser = argparse.ArgumentParser(prog="tf-transformer serve", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return serve(Options(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Options)}))


if __name__ == "__main__":
    sys.exit(main())
