"""The bit-exact numpy model of a PE (spec.py): the sum of integer products, wrapped to the
accumulator width by the package's own fixed-point arithmetic (precision.requantize)."""
from __future__ import annotations

import numpy as np

from ..errors import IKRHLSError
from ..precision import FixedType, requantize
from .spec import PESpec


def _codes(values, t: FixedType, shape: tuple, name: str) -> np.ndarray:
    codes = np.asarray(values)
    if codes.shape != shape:
        raise IKRHLSError(f"PE {name}: expected shape {shape}, got {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        raise IKRHLSError(f"PE {name}: expected integer codes, got dtype {codes.dtype}")
    codes = codes.astype(np.int64)
    if codes.size and (codes.min() < t.min_code or codes.max() > t.max_code):
        raise IKRHLSError(f"PE {name}: codes must lie in {t.min_code}..{t.max_code} ({t.width}-bit signed)")
    return codes


def rom_addresses(spec: PESpec, select, count: int) -> np.ndarray:
    """A rom PE's select input: (count,) cycles r in 0..R-1, the ROM addresses."""
    sel = np.asarray(select)
    if (not np.issubdtype(sel.dtype, np.integer) or sel.shape != (count,) or sel.min(initial=0) < 0
            or sel.max(initial=0) >= spec.depth):
        raise IKRHLSError(f"ROM PE cycles: expected integers of shape ({count},) in 0..{spec.depth - 1}")
    return sel.astype(np.int64)


def rom_weights(spec: PESpec, weights, select, count: int) -> np.ndarray:
    """(count, keep) weights a rom PE multiplies by: its ROM's, read at each vector's cycle."""
    if weights is not None:
        raise IKRHLSError("a ROM PE reads its weights from its ROM; pass weights=None")
    return spec.rom_arrays()[1][rom_addresses(spec, select, count)]


def operand_positions(spec: PESpec, select: np.ndarray | None, count: int) -> np.ndarray:
    """(count, terms) window position read by each multiplier, for each input vector."""
    if spec.form == "rom":
        return spec.library_array()[spec.rom_arrays()[0][rom_addresses(spec, select, count)]]
    if spec.form == "dense":
        if select is not None:
            raise IKRHLSError("a dense PE has no select input; pass select=None")
        return np.broadcast_to(np.arange(spec.positions), (count, spec.positions))
    sel = np.asarray(select)
    if not np.issubdtype(sel.dtype, np.integer):
        raise IKRHLSError(f"PE select: expected integer codes, got dtype {sel.dtype}")
    if spec.form == "ikr":
        if sel.shape != (count,) or sel.min(initial=0) < 0 or sel.max(initial=0) >= len(spec.library):
            raise IKRHLSError(f"PE pattern ids: expected shape ({count},) with ids in "
                              f"0..{len(spec.library) - 1}")
        return spec.library_array()[sel]
    if sel.shape != (count, spec.keep) or sel.min(initial=0) < 0 or sel.max(initial=0) >= spec.positions:
        raise IKRHLSError(f"PE position indices: expected shape ({count}, {spec.keep}) with indices in "
                          f"0..{spec.positions - 1}")
    return sel.astype(np.int64)


def pe_output(spec: PESpec, window, weights, select=None) -> np.ndarray:
    """What the PE's `result` port shows for each input vector, as int64 codes.

    window:  (N, KH*KW) activation codes, position row*KW + col
    weights: (N, terms) weight codes (terms = keep, or KH*KW for the dense form); rom: None
             (the ROM holds them)
    select:  ikr: (N,) pattern ids; sparse: (N, keep) position indices; dense: None;
             rom: (N,) cycles r, the ROM addresses
    """
    window = np.asarray(window)
    count = window.shape[0] if window.ndim == 2 else -1
    window = _codes(window, spec.act_type, (count, spec.positions), "window")
    if spec.form == "rom":
        weights = rom_weights(spec, weights, select, count)
    weights = _codes(weights, spec.weight_type, (count, spec.keep), "weights")
    operands = np.take_along_axis(window, operand_positions(spec, select, count), axis=1)
    total = (weights * operands).sum(axis=1)          # exact in int64 (spec.py bounds the widths)
    return requantize(total, 0, spec.acc_type)        # integer codes in, wrapped like ap_fixed
