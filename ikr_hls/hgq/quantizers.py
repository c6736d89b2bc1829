"""HGQ2's quantizers, read: each element's keep_negative (K), integer (I, without the sign) and
fractional (F) bits, the rounding and the overflow mode, as HGQ2 applies them in inference
(`model(x, training=False)`): the element's value is x assigned to ap_fixed<K+I+F, K+I> with
those modes, and 0 when K+I+F <= 0 (checked bit for bit against HGQ2 in tests/test_hgq.py).

HGQ2's modes map one to one: TRN, RND (ties up, S_RND in inference), RND_CONV (ties to even,
S_RND_CONV); WRAP, SAT, SAT_SYM. Anything else (float quantizers, a scaler or an affine map,
WRAP_SM, the other rounding modes) is refused, naming the layer and the quantizer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from ..errors import IKRHLSError
from ..kinds.quantize import OverflowMode, RoundMode
from ..precision import FixedType, quantize

ROUNDS = {"TRN": "TRN", "RND": "RND", "RND_CONV": "RND_CONV", "S_RND": "RND", "S_RND_CONV": "RND_CONV"}
OVERFLOWS = ("WRAP", "SAT", "SAT_SYM")


@dataclass(frozen=True)
class Formats:
    """A quantizer's element formats over a tensor (arrays shaped like it, batch axis dropped)."""
    k: np.ndarray
    i: np.ndarray
    f: np.ndarray
    round: RoundMode
    overflow: OverflowMode

    @property
    def width(self) -> np.ndarray:
        return np.maximum(self.k + self.i + self.f, 0)

    def container(self) -> FixedType:
        """The narrowest type holding every element's values (kinds.quantize.container)."""
        from ..kinds.quantize import Formats as Flat
        from ..kinds.quantize import container

        flat = Flat(*(np.rint(a).astype(np.int64).reshape(-1) for a in (self.k, self.i, self.f)))
        return container(flat, self.round, self.overflow)


def _array(value) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


def read(quantizer, shape: tuple, where: str) -> Formats | None:
    """The formats of an HGQ2 Quantizer over a tensor of `shape` (no batch axis); None for a
    quantizer that passes values as they are (HGQ2's dummy). `where` names it in messages."""
    config = quantizer.config
    q_type = getattr(config, "q_type", None)
    if q_type == "dummy":
        return None
    if q_type not in ("kif", "kbi"):
        raise IKRHLSError(f"{where}: a {q_type!r} quantizer is not supported (fixed-point quantizers only: "
                          "q_type 'kif' or 'kbi')")
    for key in ("scaler", "affine"):
        if getattr(config, key, None) is not None:
            raise IKRHLSError(f"{where}: a quantizer with {key}={getattr(config, key)} is not supported")
    inner = quantizer.quantizer
    round_mode = str(inner.round_mode).upper()
    overflow = str(inner.overflow_mode).upper()
    if round_mode not in ROUNDS:
        raise IKRHLSError(f"{where}: rounding mode {round_mode} is not supported (supported: {', '.join(ROUNDS)})")
    if overflow not in OVERFLOWS:
        raise IKRHLSError(f"{where}: overflow mode {overflow} is not supported (supported: {', '.join(OVERFLOWS)})")
    k, i, f = (_array(v) for v in inner.kif)
    arrays = []
    for a in (k, i, f):
        if a.ndim == len(shape) + 1:               # a datalane quantizer's leading batch axis (always 1)
            a = a[0]
        arrays.append(np.broadcast_to(a, shape).astype(np.float64))
    k, i, f = arrays
    if not (np.all(np.isfinite(i)) and np.all(np.isfinite(f))):
        raise IKRHLSError(f"{where}: its bit widths are not finite (training diverged?)")
    return Formats(k=np.rint(k), i=np.rint(i), f=np.rint(f), round=cast(RoundMode, ROUNDS[round_mode]),
                   overflow=cast(OverflowMode, overflow))


def values_type(values: np.ndarray, formats: Formats, where: str) -> FixedType:
    """The type of a layer's quantized weights (or biases): the container of their formats,
    with more integer bits if a value needs them (a WRAP weight quantizer, whose range HGQ2
    tracks during training, may fall behind the last update); every value exactly."""
    t = formats.container()
    values = np.asarray(values, dtype=np.float64)
    for _ in range(64):
        if np.array_equal(quantize(values, t), values):
            return t
        t = FixedType(True, t.width + 1 + (0 if t.signed else 0), t.integer + 1)
    raise IKRHLSError(f"{where}: its quantized values do not fit a fixed-point type")
