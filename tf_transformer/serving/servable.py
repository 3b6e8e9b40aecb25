"""The SavedModel being served: which version, its signatures, how to call them, how TF Serving shows them.

``find_saved_model`` picks the SavedModel in an export (the highest numbered
version of a TensorFlow Serving base folder); ``Servable`` loads it with
TensorFlow and tensorflow-text alone, reads each signature's inputs and
outputs (``Signature``, ``TensorSpec``) from ``saved_model.pb``, runs a
signature on NumPy arrays, and answers the model's status and metadata as
TensorFlow Serving does.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

import numpy as np
import tensorflow as tf

from .errors import ServingError


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
