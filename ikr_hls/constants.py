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


@dataclass(frozen=True, eq=False)
class Array:
    """A constant array of a layer's weights header."""
    name: str
    cpp_type: str
    values: np.ndarray                      # read-only
    comment: str
    format: Callable[[Any], str] = str
    copies: int = 0                         # > 0: that many identical copies, as array[copies][size]
    integers: bool = False                  # integer values of an index type: written as they are

    def texts(self) -> list[str]:
        """The values as C++ text, one string each."""
        many = getattr(self.format, "many", None)           # a whole array at once, when it can
        if many:
            return many(self.values)
        if self.format is str and self.values.dtype.kind in "iu":
            return _integer_texts(self.values)
        return [self.format(v) for v in self.values.tolist()]

    def text(self, line_end: str = "") -> str:
        """The values, 8 to a row, each row indented by four spaces and ended by a comma, rows
        joined by `line_end` and a newline (the weights template writes them at once, and
        values that one printf format writes are formatted in one call)."""
        spec = getattr(self.format, "spec", lambda values: None)(self.values)
        texts: Any = self.values.tolist() if spec else (self.texts() or ["0"])
        spec = spec or "%s"
        full = len(texts) - len(texts) % _VALUES_PER_ROW
        row = "    " + ", ".join([spec] * _VALUES_PER_ROW) + "," + line_end + "\n"
        out = (row * (full // _VALUES_PER_ROW)) % tuple(texts[:full])
        if full < len(texts):
            out += ("    " + ", ".join([spec] * (len(texts) - full)) + "," + line_end + "\n") % tuple(texts[full:])
        return out[:-len(line_end) - 1]

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
    values = np.array(values)                               # a copy: the layer's weights may change later
    values.flags.writeable = False
    return Array(name, cpp_type, values.reshape(-1), comment, fmt, copies, integers)


class _Literal:
    """Writes values as C++ literals of one type; `many` writes a whole array at once, with the
    same text as format_literal gives each value."""

    def __init__(self, hls_type: HLSTypeLike):
        self.hls_type = hls_type

    def __call__(self, value) -> str:
        return format_literal(value, self.hls_type)

    def spec(self, values: np.ndarray) -> str | None:
        """The printf format that writes every value of `values` as format_literal does, when one
        does: a float or double type, and no value written without a point or an exponent
        (those get '.0', see many)."""
        if self.hls_type.cpp not in ("float", "double") or not len(values) or values.dtype.kind != "f":
            return None
        float32 = self.hls_type.cpp == "float"
        if np.any((values == np.floor(values)) & (np.abs(values) < (1e9 if float32 else 1e17))):
            return None
        return "%.9gf" if float32 else "%.17g"

    def many(self, values) -> list[str]:
        if not len(values):
            return []
        values = np.asarray(values, dtype=np.float64)
        if isinstance(self.hls_type, FixedType):              # exactly format_literal's text
            quantized = quantize(values, self.hls_type)
            codes = quantized * 2.0 ** self.hls_type.fractional            # integers (exact)
            low, high = (float(codes.min()), float(codes.max()))
            if high - low > 1 << 16:
                return ((("%.17g\n") * len(values)) % tuple(quantized.tolist())).split("\n")[:-1]
            table = np.array([f"{v:.17g}" for v in (np.arange(low, high + 1) * self.hls_type.lsb).tolist()],
                             dtype=object)
            return table[(codes - low).astype(np.int64)].tolist()
        if self.hls_type.cpp not in ("float", "double"):
            return [format_literal(v, self.hls_type) for v in values]
        spec = "%.9gf" if self.hls_type.cpp == "float" else "%.17g"
        texts = ((spec + "\n") * len(values) % tuple(values.tolist())).split("\n")[:-1]
        # '3f' is not a C++ literal, '3.0f' is: the values written without a point or an exponent
        # (integers below 1e9, or 1e17 in double) get '.0'
        for i in np.flatnonzero((values == np.floor(values)) & (np.abs(values) < (1e9 if "f" in spec else 1e17))):
            texts[i] = format_literal(values[i], self.hls_type)
        return texts


def _integer_texts(values: np.ndarray) -> list[str]:
    """Integers as text: through a table of the strings of their range when it is short."""
    if not len(values):
        return []
    low, high = int(values.min()), int(values.max())
    if high - low > 1 << 16:
        return [str(v) for v in values.tolist()]
    table = np.array([str(v) for v in range(low, high + 1)], dtype=object)
    return table[values - low].tolist()


def literal(layer: Layer, role: str) -> Callable[[Any], str]:
    """The C++ literal of a value in the layer's type for `role`."""
    return _Literal(layer.precision[role])


