"""The solved adder graph run on integer input codes, compared exactly with matrix @ x.

Two evaluations of da4ml's own: CombLogic.predict (its C++ interpreter of the graph, in float64,
exact while every value stays below 2**53, which is checked) for batches, and CombLogic.__call__
(its Python walk of the ops, one sample at a time) for a few samples.
"""
from __future__ import annotations

import numpy as np

from ..errors import IKRHLSError
from .matrix import ConstantMatrix
from .solver import DASolution

_EXACT = 2.0 ** 53


def random_codes(matrix: ConstantMatrix, samples: int, seed: int = 0) -> np.ndarray:
    """(samples, inputs) codes drawn uniformly over the input type's whole code range."""
    t = matrix.in_type
    rng = np.random.default_rng(seed)
    return rng.integers(t.min_code, t.max_code, size=(samples, matrix.shape[0]), endpoint=True, dtype=np.int64)


def reference(matrix: ConstantMatrix, x: np.ndarray) -> np.ndarray:
    """matrix @ x in int64 (every sum of a 16-bit layer fits it by far)."""
    return np.asarray(x, dtype=np.int64) @ matrix.codes


def run_graph(solution: DASolution, x: np.ndarray) -> np.ndarray:
    """The graph's outputs for a batch of input codes, by da4ml's interpreter, as int64."""
    x = np.asarray(x, dtype=np.int64)
    if solution.comb is None:                # a matrix with no rows
        return np.zeros((len(x), solution.shape[1]), dtype=np.int64)
    y = solution.comb.predict(x.astype(np.float64), n_threads=1)
    if np.abs(y).max(initial=0) >= _EXACT or not np.all(y == np.round(y)):
        raise IKRHLSError("da4ml's interpreter left the exact range of float64")
    return y.astype(np.int64)


def run_graph_python(solution: DASolution, x: np.ndarray) -> np.ndarray:
    """The same by da4ml's Python walk of the ops, sample by sample (slow: a few samples)."""
    if solution.comb is None:
        return run_graph(solution, x)
    rows = [np.asarray(solution.comb([int(v) for v in row]), dtype=object) for row in np.asarray(x)]
    return np.array([[int(v) for v in row] for row in rows], dtype=np.int64).reshape(len(rows), -1)


def mismatches(matrix: ConstantMatrix, solution: DASolution, x: np.ndarray, python_samples: int = 4) -> int:
    """Outputs (over the batch and both evaluations) that differ from matrix @ x."""
    want = reference(matrix, x)
    bad = int(np.count_nonzero(run_graph(solution, x) != want))
    if python_samples:
        bad += int(np.count_nonzero(run_graph_python(solution, x[:python_samples]) != want[:python_samples]))
    return bad
