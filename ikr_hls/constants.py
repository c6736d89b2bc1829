"""Constant arrays of the generated weights headers (firmware/weights/<layer>.h): their name,
C++ type, values and how each value is written."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .ir import Layer
from .precision import FixedType, HLSTypeLike, format_literal, quantize

_VALUES_PER_ROW = 8


@dataclass(frozen=True)
class Array:
    """A constant array of a layer's weights header."""
    name: str
    cpp_type: str
    values: tuple
    comment: str
    format: Callable[[Any], str] = str
    copies: int = 0                         # > 0: that many identical copies, as array[copies][size]
    integers: bool = False                  # integer values of an index type: written as they are

    @property
    def rows(self) -> list[str]:
        """The values as C++ text, 8 to a row."""
        many = getattr(self.format, "many", None)           # a whole array at once, when it can
        texts = (many(self.values) if many else [self.format(v) for v in self.values]) or ["0"]
        return [", ".join(texts[i:i + _VALUES_PER_ROW]) + ","
                for i in range(0, len(texts), _VALUES_PER_ROW)]

    @property
    def converted(self) -> bool:
        """Values of a layer type (not `int`): written once, as a ROM for synthesis and as
        doubles that the host converts at load time (cpp/ikr_table.h)."""
        return self.cpp_type != "int" and not self.integers

    @property
    def macro(self) -> str:
        """The name of the macro that holds the values' text."""
        return f"{self.name.upper()}_VALUES"

    @property
    def size(self) -> int:
        return max(len(self.values), 1)


def array(name: str, cpp_type: str, values, comment: str, fmt: Callable[[Any], str] = str,
          copies: int = 0, integers: bool = False) -> Array:
    return Array(name, cpp_type, tuple(values), comment, fmt, copies, integers)


class _Literal:
    """Writes values as C++ literals of one type; `many` quantises a whole array at once."""

    def __init__(self, hls_type: HLSTypeLike):
        self.hls_type = hls_type

    def __call__(self, value) -> str:
        return format_literal(value, self.hls_type)

    def many(self, values) -> list[str]:
        if not isinstance(self.hls_type, FixedType) or not len(values):
            return [format_literal(v, self.hls_type) for v in values]
        quantized = quantize(np.asarray(values, dtype=np.float64), self.hls_type)
        return [f"{v:.17g}" for v in quantized.tolist()]   # exactly format_literal's text


def literal(layer: Layer, role: str) -> Callable[[Any], str]:
    """The C++ literal of a value in the layer's type for `role`."""
    return _Literal(layer.precision[role])


