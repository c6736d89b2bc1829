"""The solve bound: which matrices strategy="da" solves, and which fall back to unrolled.

da4ml's greedy solver grows with the nonzero digits of the matrix in canonical signed-digit
form (CSD: each weight code written with digits -1, 0, 1 and no two adjacent nonzeros, the
fewest there are): every step searches the pairs of digits for the most common one. The bound
is on that count, decided from the matrix alone before any solve, so that a model's code does
not depend on the machine's speed or on what the cache holds. MAX_DIGITS comes from
a measurement (`python bench/da_ikr_vs_sparse.py --bound`, docs/distributed_arithmetic.md):
LeNet-5's fc1 at ap_fixed<16,6> weights (6,573 digits) solves in about 19 s of CPU, fc2 (2,203)
in 2.5 s, conv2 (936) in 0.2 s: the time grows about as the square of the digits, so 10,000
digits is about 45 s of CPU.
"""
from __future__ import annotations

import logging

import numpy as np

from .matrix import ConstantMatrix

log = logging.getLogger(__name__)

MAX_DIGITS = 10_000


def csd_weight(code: int) -> int:
    """Nonzero digits of an integer in canonical signed-digit (non-adjacent) form."""
    n, digits = abs(int(code)), 0
    while n:
        if n & 1:
            n -= 2 - (n & 3)           # the digit +1 (n = 1 mod 4) or -1 (n = 3 mod 4)
            digits += 1
        n >>= 1
    return digits


def csd_digits(matrix: ConstantMatrix) -> int:
    """Nonzero CSD digits over the whole matrix: the solver's work."""
    values, counts = np.unique(matrix.codes, return_counts=True)
    return int(sum(csd_weight(v) * int(c) for v, c in zip(values, counts, strict=True)))


def fall_back_reason(matrix: ConstantMatrix, max_digits: int = MAX_DIGITS) -> str | None:
    """None when the matrix is solved; otherwise why the layer falls back to the unrolled
    strategy, which is also logged as a warning (the strategy calls this before solving)."""
    digits = csd_digits(matrix)
    if digits <= max_digits:
        return None
    reason = (f"layer {matrix.layer}: its {matrix.shape[0]} x {matrix.shape[1]} constant matrix has {digits} "
              f"nonzero CSD digits, above the da solve bound of {max_digits}; it falls back to strategy "
              "'unrolled'")
    log.warning(reason)
    return reason
