"""Sparse feature matrices for training, built by the detector's own featurizers.

Training and run time share one feature function per sub-model (detectors/learned.py
`LearnedFeatures`), so a weight learned for index i is the weight the detector reads
for index i; this module only stacks those per-text index arrays into a CSR matrix
with the same binary, L2-normalised values the detector uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

IndexFn = Callable[[str], npt.NDArray[np.int64]]


def matrix(texts: Sequence[str], index_fn: IndexFn, n_bits: int) -> sp.csr_matrix:
    indptr = [0]
    cols: list[npt.NDArray[np.int64]] = []
    vals: list[npt.NDArray[np.float32]] = []
    for text in texts:
        idx = index_fn(text)
        cols.append(idx)
        value = np.float32(1.0 / np.sqrt(idx.size)) if idx.size else np.float32(0.0)
        vals.append(np.full(idx.size, value, dtype=np.float32))
        indptr.append(indptr[-1] + idx.size)
    col = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
    val = np.concatenate(vals) if vals else np.empty(0, dtype=np.float32)
    return sp.csr_matrix(
        (val, col, np.array(indptr, dtype=np.int64)), shape=(len(texts), 1 << n_bits)
    )
