"""The integer constant matrix a layer multiplies per output pixel (per sample for Dense).

Conv2D (DepthwiseConv2D and a SeparableConv2D's halves alike: the converter holds them as a
conv kernel, a depthwise one with zeros between channels): the rows are the window's used
positions, every (row, column, channel) of the KH x KW x C window at which some filter has a
nonzero weight, in the window's raster order (row, column, then channel: Keras's HWIO order);
the columns are the filters. Dense: the weight matrix, every input a row. The entries are the
weights' integer codes in the layer's weight type (quantised as an assignment to it, the same
codes the reference multiplies); the inputs are codes of the layer's input type, so that
matrix @ input codes are the product sums in units of 2**-(input + weight fractional bits).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..errors import IKRHLSError
from ..ir import Layer
from ..precision import FixedType, to_codes


@dataclass(frozen=True)
class ConstantMatrix:
    """codes: (inputs, outputs) int64 weight codes; rows: what each input is, (kh, kw, channel)
    of a conv's window or (index,) of a Dense input; in_type, weight_type: the fixed-point types
    of the inputs and of the codes."""
    layer: str
    codes: np.ndarray
    rows: tuple
    in_type: FixedType
    weight_type: FixedType

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.codes.shape[0]), int(self.codes.shape[1])

    @property
    def nonzero(self) -> int:
        """Nonzero codes: the products the unrolled strategy would multiply at these types."""
        return int(np.count_nonzero(self.codes))

    @property
    def product_fractional(self) -> int:
        """Fractional bits of a product sum: matrix @ input codes is in units of 2**-this."""
        return self.in_type.fractional + self.weight_type.fractional

    def digest(self) -> str:
        """A hash of what decides the solution: the codes, their shape and both types."""
        h = hashlib.sha256()
        h.update(repr((self.codes.shape, self.in_type, self.weight_type)).encode())
        h.update(np.ascontiguousarray(self.codes, dtype=np.int64).tobytes())
        return h.hexdigest()[:24]


def _fixed(layer: Layer, t, role: str) -> FixedType:
    if not isinstance(t, FixedType):
        raise IKRHLSError(f"layer {layer.keras_name}: distributed arithmetic needs fixed-point types; its {role} "
                          f"type is {t.cpp} (set an ap_fixed precision)")
    return t


def conv_kernel_matrix(name: str, kernel: np.ndarray, in_type: FixedType, weight_type: FixedType) -> ConstantMatrix:
    """The (used window positions x in-channels) by filters matrix of a (KH, KW, C, F) kernel."""
    kh, kw, c, f = kernel.shape
    flat = to_codes(kernel, weight_type).reshape(kh * kw * c, f)
    used = np.flatnonzero((kernel != 0).reshape(kh * kw * c, f).any(axis=1))
    rows = tuple((int(i // (kw * c)), int(i // c % kw), int(i % c)) for i in used)
    return ConstantMatrix(name, flat[used], rows, in_type, weight_type)


def dense_kernel_matrix(name: str, kernel: np.ndarray, in_type: FixedType, weight_type: FixedType) -> ConstantMatrix:
    """The (inputs x units) matrix of a Dense kernel, every input a row."""
    return ConstantMatrix(name, to_codes(kernel, weight_type), tuple((i,) for i in range(kernel.shape[0])), in_type,
                          weight_type)


def conv_matrix(layer: Layer) -> ConstantMatrix:
    """A converted conv layer's matrix (a depthwise conv's kernel holds its zeros between channels)."""
    return conv_kernel_matrix(layer.name, np.asarray(layer.weights["kernel"]),
                              _fixed(layer, layer.input_types[0], "input"),
                              _fixed(layer, layer.precision["weight"], "weight"))


def dense_matrix(layer: Layer) -> ConstantMatrix:
    """A converted Dense layer's matrix."""
    return dense_kernel_matrix(layer.name, np.asarray(layer.weights["kernel"]),
                               _fixed(layer, layer.input_types[0], "input"),
                               _fixed(layer, layer.precision["weight"], "weight"))


def layer_matrix(layer: Layer) -> ConstantMatrix:
    """The constant matrix of a layer whose weights hold a kernel: a conv's (KH, KW, C, F), a
    Dense layer's (inputs, units). Any other layer raises. (By the kernel, not the kind's name:
    kinds dispatch through their registry, tests/test_structure.py.)"""
    kernel = layer.weights.get("kernel")
    build = {4: conv_matrix, 2: dense_matrix}.get(getattr(kernel, "ndim", 0))
    if build is None:
        raise IKRHLSError(f"layer {layer.keras_name}: distributed arithmetic applies to Conv2D and Dense layers, "
                          f"not to a {layer.kind} layer")
    return build(layer)
