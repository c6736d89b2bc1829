"""Integer-code arithmetic of the numpy reference (emulate.py and the kinds' references).

A buffer is an array of int64 codes of its ap_fixed type (value = code * 2**-fractional).
Each step rounds and overflows where the C++ assigns to a typed variable, in the same order.
"""
from __future__ import annotations

import numpy as np

from .errors import IKRHLSError
from .precision import FixedType, requantize

INT64_BITS = 62


def check_fits(bits: int, what: str) -> None:
    if bits > INT64_BITS:
        raise IKRHLSError(f"emulate: a {what} needs {bits} bits, more than the int64 reference holds")


def add(acc, acc_t, term, term_frac, mask=None):
    """acc_t(acc + term): the full-precision sum, then rounded and overflowed into acc_t."""
    frac = max(acc_t.fractional, term_frac)
    check_fits(acc_t.width + frac - acc_t.fractional, "accumulator")
    total = (acc << (frac - acc_t.fractional)) + (term << (frac - term_frac))
    new = requantize(total, frac, acc_t)
    return new if mask is None else np.where(mask, new, acc)


def ordered_terms(kernel_2d, orders):
    """Per output, its (input, weight) terms in the generated code's order, as step arrays
    (steps, outputs) plus a mask; kernel_2d is (inputs, outputs)."""
    steps = max((len(o) for o in orders), default=0)
    n_out = kernel_2d.shape[1]
    index = np.zeros((steps, n_out), dtype=np.int64)
    mask = np.zeros((steps, n_out), dtype=bool)
    for j, order in enumerate(orders):
        index[:len(order), j] = order
        mask[:len(order), j] = True
    return index, mask


def floor_index(codes, t, shift, size):
    """ikr::floor_index: min(floor(value * 2**shift), size - 1) for values >= 0."""
    drop = t.fractional - shift
    idx = codes >> drop if drop >= 0 else codes << -drop
    return np.minimum(idx, size - 1)


def fixed_types(layer) -> dict[str, FixedType]:
    """A layer's types, which the reference needs in fixed point (emulate refuses float)."""
    types = layer.precision
    if not all(isinstance(t, FixedType) for t in types.values()):
        raise IKRHLSError(f"emulate: layer {layer.keras_name} has floating-point types; the numpy "
                          "reference is for fixed point")
    return types
