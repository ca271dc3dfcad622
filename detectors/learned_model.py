"""The learned detector's weights file: derived numbers only, versioned, reproducible.

`hybridwatch train` writes it (services/learning/train.py) and the detector loads
it at start-up. It holds, per sub-model, an intercept and the non-zero weights of a
hashed feature space (feature index -> weight; no token, no training text), the
operating points chosen on the validation files, and provenance: the training
files' SHA-256 checksums, the seed, the library versions. The encoding is canonical
(sorted keys, little-endian arrays in base64, gzip with a zero mtime), so training
twice on the same files gives the same bytes.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MODEL_FILE = Path(__file__).resolve().parent / "data" / "learned-model.json.gz"
MODEL_FORMAT = 1


class ModelFileError(ValueError):
    """The weights file is missing, of another format, or inconsistent."""


@dataclass(frozen=True)
class LinearModel:
    """Logistic regression over a hashed feature space with binary, L2-normalised
    feature values: p = sigmoid(intercept + sum(w[present]) / sqrt(n_present))."""

    n_bits: int
    intercept: float
    index: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float32]
    dense: npt.NDArray[np.float32] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.index.shape != self.weight.shape:
            raise ModelFileError("index and weight arrays differ in length")
        if self.index.size and (self.index.min() < 0 or self.index.max() >= 1 << self.n_bits):
            raise ModelFileError("feature index outside the hashed space")
        dense = np.zeros(1 << self.n_bits, dtype=np.float32)
        dense[self.index] = self.weight
        object.__setattr__(self, "dense", dense)

    def logit(self, present: npt.NDArray[np.int64]) -> float:
        if present.size == 0:
            return self.intercept
        return self.intercept + float(self.dense[present].sum()) / float(np.sqrt(present.size))

    def contributions(self, present: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Each present feature's share of the logit (same order as `present`)."""
        if present.size == 0:
            return np.empty(0, dtype=np.float32)
        return (self.dense[present] / np.float32(np.sqrt(present.size))).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        return {
            "n_bits": self.n_bits,
            "intercept": round(float(self.intercept), 7),
            "index": _b64(self.index.astype("<i4")),
            "weight": _b64(self.weight.astype("<f4")),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearModel:
        try:
            index = np.frombuffer(base64.b64decode(data["index"]), dtype="<i4").astype(np.int64)
            weight = np.frombuffer(base64.b64decode(data["weight"]), dtype="<f4").astype(np.float32)
            return cls(int(data["n_bits"]), float(data["intercept"]), index, weight)
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFileError(f"bad linear model: {err}") from err


def sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


@dataclass(frozen=True)
class ModelFile:
    version: str
    models: dict[str, LinearModel]
    meta: dict[str, Any]

    def to_bytes(self) -> bytes:
        doc = {
            "format": MODEL_FORMAT,
            "version": self.version,
            "meta": self.meta,
            "models": {k: m.to_json() for k, m in sorted(self.models.items())},
        }
        raw = json.dumps(doc, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
            gz.write(raw)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelFile:
        try:
            doc = json.loads(gzip.decompress(data))
        except (OSError, ValueError) as err:
            raise ModelFileError(f"not a gzip JSON model file: {err}") from err
        if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
            got = doc.get("format") if isinstance(doc, dict) else None
            raise ModelFileError(f"model file format {got!r}, expected {MODEL_FORMAT}")
        models = {k: LinearModel.from_json(v) for k, v in dict(doc.get("models", {})).items()}
        return cls(str(doc.get("version", "")), models, dict(doc.get("meta", {})))


def load_model_file(path: Path = MODEL_FILE) -> ModelFile:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelFileError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        return ModelFile.from_bytes(data)
    except ModelFileError as err:
        raise ModelFileError(f"{path}: {err}") from err


def _b64(array: npt.NDArray[Any]) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")
