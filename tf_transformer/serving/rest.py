"""TensorFlow Serving's REST protocol for ``:predict``: a JSON body to arrays, and arrays back to JSON.

A request's body names its signature (``"signature_name"``, by default
``serving_default``) and gives the inputs in one of two formats:

- row format, ``{"instances": [...]}``: one item per sentence, a plain value
  when the signature has one input, else an object of named inputs; answered
  ``{"predictions": [...]}``;
- columnar format, ``{"inputs": ...}``: one value (or list) per named input,
  which also carries per-request inputs such as ``beam_size``; answered
  ``{"outputs": ...}``.

Strings travel as JSON text, or as ``{"b64": "..."}`` for bytes; outputs whose
name ends in ``_bytes`` come back base64-encoded. ``parse_predict`` checks
every value against the signature and the server's limits and turns the body
into a ``PredictRequest``; ``format_predict`` writes the model's outputs back.
The error messages follow TensorFlow Serving's where it has one.
"""

from __future__ import annotations

import base64
import dataclasses
import json

import numpy as np
import tensorflow as tf

from .errors import ServingError
from .options import Options
from .servable import Servable, Signature, TensorSpec

DEFAULT_SIGNATURE = "serving_default"


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
