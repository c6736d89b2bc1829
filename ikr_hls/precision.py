"""HLS numeric types: parse and format type strings.

This version generates floating-point C++ (`float`, `double`), which reproduces Keras
on the host. Fixed-point strings are recognised so that the error is precise.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import IKRHLSError

FLOAT_TYPES = ("float", "double")
_FIXED = re.compile(r"^\s*(ap_u?fixed|ap_u?int)\s*<[^>]*>\s*$")


@dataclass(frozen=True)
class HLSType:
    cpp: str            # the C++ spelling used in generated code

    @property
    def is_float(self) -> bool:
        return self.cpp in FLOAT_TYPES

    @property
    def literal_format(self) -> str:
        # %.9g round-trips a float32, %.17g a float64
        return "{:.9g}f" if self.cpp == "float" else "{:.17g}"


def parse_type(text, where: str = "precision") -> HLSType:
    """Parse a type string such as 'float'; `where` names the config key for errors."""
    if not isinstance(text, str):
        raise IKRHLSError(f"{where}: expected a type string such as 'float', got {text!r}")
    spelled = text.strip()
    if spelled in FLOAT_TYPES:
        return HLSType(spelled)
    if _FIXED.match(spelled):
        raise IKRHLSError(f"{where}: '{spelled}' is a fixed-point type; this version of ikr-hls "
                          f"generates {' or '.join(FLOAT_TYPES)} only")
    raise IKRHLSError(f"{where}: unknown type '{spelled}' (valid: {', '.join(FLOAT_TYPES)})")


def format_literal(value: float, hls_type: HLSType) -> str:
    text = hls_type.literal_format.format(float(value))
    if hls_type.cpp == "float" and not any(ch in text for ch in ".en"):
        text = text[:-1] + ".0f"          # '3f' is not a C++ literal; '3.0f' is
    elif hls_type.cpp == "double" and not any(ch in text for ch in ".en"):
        text += ".0"
    return text
