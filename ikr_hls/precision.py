"""HLS numeric types: parse and format type strings; numpy quantisation that does what
ap_fixed does, on float values (`quantize`) and on integer codes (`requantize`).

A fixed-point value of type t is an integer code times 2**-t.fractional. The bit-exact
reference of the hardware (emulate.py) computes on int64 codes with `requantize`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

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


def parse_type(text, where: str = "precision"):
    """Parse 'float', 'double' or an ap_fixed-family string; `where` names the config key."""
    if not isinstance(text, str):
        raise IKRHLSError(f"{where}: expected a type string such as 'ap_fixed<16,6>', got {text!r}")
    spelled = _any_case(_from_hls4ml(text.strip()))
    if spelled in FLOAT_TYPES:
        return HLSType(spelled)
    if _FIXED.match(spelled):
        return parse_fixed(spelled, where)
    raise IKRHLSError(f"{where}: unknown type '{spelled}' (valid: {', '.join(FLOAT_TYPES)}, "
                      "ap_fixed<W,I[,Q[,O]]>, ap_ufixed<...>, ap_int<W>, ap_uint<W>)")


_HLS4ML_TYPE = re.compile(r"^(u?fixed|u?int)\s*<(.*)>$", re.IGNORECASE)
_NAME = re.compile(r"^\s*([A-Za-z_]+)\s*(<.*)?$", re.S)


def _any_case(spelled: str) -> str:
    """Type names in any case (Float, AP_FIXED<8,3,ap_rnd>): names lower case, modes upper case,
    as C++ spells them."""
    match = _NAME.match(spelled)
    if not match or match.group(1).lower() not in (*FLOAT_TYPES, "ap_fixed", "ap_ufixed", "ap_int", "ap_uint"):
        return spelled
    if match.group(2) is None:
        return match.group(1).lower()
    args = match.group(2)[1:].rsplit(">", 1)
    parts = [a.strip() for a in args[0].split(",")]
    parts = parts[:2] + [p.upper() for p in parts[2:]]
    return f"{match.group(1).lower()}<{','.join(parts)}>" + (args[1] if len(args) > 1 else "")


def _from_hls4ml(spelled: str) -> str:
    """hls4ml's spellings of the same types: fixed<16,6> is ap_fixed<16,6>, ufixed, int and
    uint likewise, and its modes may leave out the AP_ prefix (fixed<8,3,RND,SAT>)."""
    match = _HLS4ML_TYPE.match(spelled)
    if not match:
        return spelled
    args = [a.strip() for a in match.group(2).split(",")]
    modes = [a if a.upper().startswith("AP_") or not a.isidentifier() else "AP_" + a.upper() for a in args[2:]]
    args = args[:2] + modes
    return f"ap_{match.group(1).lower()}<{','.join(args)}>"


def format_literal(value: float, hls_type) -> str:
    """A C++ literal of value in hls_type; fixed-point values are quantised first, and their
    %.17g text is exact (a code of at most 52 bits times a power of two)."""
    if not hls_type.is_float:
        return f"{float(quantize(value, hls_type)):.17g}"
    text = hls_type.literal_format.format(float(value))
    if hls_type.cpp == "float" and not any(ch in text for ch in ".en"):
        text = text[:-1] + ".0f"          # '3f' is not a C++ literal; '3.0f' is
    elif hls_type.cpp == "double" and not any(ch in text for ch in ".en"):
        text += ".0"
    return text


# --- fixed point -------------------------------------------------------------------------

QUANTIZATION_MODES = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF",
                      "AP_RND_INF", "AP_RND_CONV")
OVERFLOW_MODES = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")
_FIXED_ARGS = re.compile(r"^\s*(ap_u?fixed|ap_u?int)\s*<([^>]*)>\s*$")
_MAX_EXACT_WIDTH = 52      # float64 holds every value of narrower types exactly


@dataclass(frozen=True)
class FixedType:
    """ap_fixed<width, integer, quantization, overflow> (ap_int<W> is ap_fixed<W, W>)."""
    signed: bool
    width: int
    integer: int
    quantization: str = "AP_TRN"
    overflow: str = "AP_WRAP"

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.fractional

    @property
    def min_code(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    is_float = False

    @property
    def cpp(self) -> str:
        base = "ap_fixed" if self.signed else "ap_ufixed"
        extra = ""
        if (self.quantization, self.overflow) != ("AP_TRN", "AP_WRAP"):
            extra = f", {self.quantization}" + (f", {self.overflow}" if self.overflow != "AP_WRAP" else "")
        return f"{base}<{self.width}, {self.integer}{extra}>"


def parse_fixed(text: str, where: str = "precision") -> FixedType:
    """Parse ap_fixed<W,I[,Q[,O]]>, ap_ufixed<...>, ap_int<W>, ap_uint<W>."""
    match = _FIXED_ARGS.match(text) if isinstance(text, str) else None
    if not match:
        raise IKRHLSError(f"{where}: '{text}' is not an ap_fixed/ap_ufixed/ap_int/ap_uint type")
    kind, args = match.group(1), [a.strip() for a in match.group(2).split(",")]
    signed = not kind.startswith("ap_u")
    try:
        if kind.endswith("int"):
            if len(args) != 1:
                raise ValueError
            width = integer = int(args[0])
            rest = []
        else:
            if len(args) < 2 or len(args) > 5:
                raise ValueError
            width, integer, rest = int(args[0]), int(args[1]), args[2:]
    except ValueError:
        raise IKRHLSError(f"{where}: '{text}' needs {kind}<width, integer[, quantization[, overflow]]>"
                          if not kind.endswith("int") else f"{where}: '{text}' needs {kind}<width>") from None
    if not 1 <= width <= _MAX_EXACT_WIDTH:
        raise IKRHLSError(f"{where}: '{text}': width must be 1..{_MAX_EXACT_WIDTH}")
    quant = rest[0] if len(rest) > 0 else "AP_TRN"
    overflow = rest[1] if len(rest) > 1 else "AP_WRAP"
    if quant not in QUANTIZATION_MODES:
        raise IKRHLSError(f"{where}: '{text}': unknown quantization mode '{quant}' "
                          f"(valid: {', '.join(QUANTIZATION_MODES)})")
    if overflow not in OVERFLOW_MODES:
        raise IKRHLSError(f"{where}: '{text}': unknown overflow mode '{overflow}' "
                          f"(valid: {', '.join(OVERFLOW_MODES)})")
    if len(rest) > 2 and rest[2] not in ("0",):
        raise IKRHLSError(f"{where}: '{text}': saturation bits other than 0 are not supported")
    return FixedType(signed, width, integer, quant, overflow)


HLSTypeLike = HLSType | FixedType      # what a parsed type string is


@dataclass(frozen=True)
class IndexType:
    """An unsigned index of `bits` bits (a pattern id): ap_uint in synthesis (cpp/ikr_index.h)."""
    bits: int

    @property
    def cpp(self) -> str:
        return f"ikr::uint_t<{self.bits}>"


def weight_bits(hls_type) -> int:
    """Bits of one value of an HLS type: W of ap_fixed<W,...>/ap_int<W>, 32 for float,
    64 for double. Accepts a type string or a parsed type."""
    t = parse_type(hls_type) if isinstance(hls_type, str) else hls_type
    if t.is_float:
        return {"float": 32, "double": 64}[t.cpp]
    return int(t.width)


def index_bits(symbols: int) -> int:
    """ceil(log2(symbols)), and 0 when there are at most 1 symbols (nothing to tell apart)."""
    return max(int(symbols) - 1, 0).bit_length()


def signed_width(t: FixedType) -> int:
    """Bits of the narrowest signed type that holds every value of t."""
    return t.width + (0 if t.signed else 1)


def signed_integer(t: FixedType) -> int:
    """Integer bits (sign included) of the narrowest signed type that holds every value of t."""
    return t.integer + (0 if t.signed else 1)


def widen_for_sum(in_type: FixedType, weight_type: FixedType | None, bias_type: FixedType | None,
                  terms: int) -> FixedType:
    """An ap_fixed type that holds a sum of `terms` products in_type x weight_type plus a bias
    exactly (in_type alone when weight_type is None)."""
    frac = in_type.fractional + (weight_type.fractional if weight_type else 0)
    integer = signed_integer(in_type) + (signed_integer(weight_type) if weight_type else 0)
    if bias_type is not None:
        frac = max(frac, bias_type.fractional)
        integer = max(integer, signed_integer(bias_type))
    integer += int(np.ceil(np.log2(terms + 1)))
    return parse_fixed(f"ap_fixed<{integer + frac},{integer}>")


def sum_type(in_types: list) -> FixedType:
    """A type that holds the sum of values of the given fixed-point types exactly."""
    frac = max(t.fractional for t in in_types)
    integer = max(signed_integer(t) for t in in_types) + int(np.ceil(np.log2(len(in_types))))
    return parse_fixed(f"ap_fixed<{integer + frac},{integer}>")


def quantize(x, t: FixedType) -> np.ndarray:
    """Round and overflow float values exactly as assigning them to an ap_fixed/ap_ufixed of
    type t does (every mode checked against the ap_types headers that hls4ml 1.3 ships).
    ap_int<W> is treated as ap_fixed<W, W>, the arithmetic of fixed-point code; a double with
    a fraction assigned straight to an ap_int truncates differently in the headers."""
    with np.errstate(over="ignore", invalid="ignore"):   # beyond float64's range: inf, see _overflow
        scaled = np.asarray(x, dtype=np.float64) * (2.0 ** t.fractional)   # exact: power of two
        code = _round(scaled, t.quantization)
        return _overflow(code, t) * t.lsb


def _round(v: np.ndarray, mode: str) -> np.ndarray:
    floor = np.floor(v)
    frac = v - floor                       # in [0, 1), exact
    if mode == "AP_TRN":
        return floor
    if mode == "AP_TRN_ZERO":
        return np.trunc(v)
    up = floor + 1.0
    tie = frac == 0.5
    nearest = np.where(frac > 0.5, up, floor)
    tie_choice = {
        "AP_RND": up,                                          # towards plus infinity
        "AP_RND_ZERO": np.where(v > 0, floor, up),             # towards zero
        "AP_RND_MIN_INF": floor,                               # towards minus infinity
        "AP_RND_INF": np.where(v > 0, up, floor),              # away from zero
        "AP_RND_CONV": np.where(np.fmod(floor, 2.0) == 0, floor, up),   # to even
    }[mode]
    return np.where(tie, tie_choice, nearest)


def _overflow(code: np.ndarray, t: FixedType) -> np.ndarray:
    lo, hi = float(t.min_code), float(t.max_code)
    if t.overflow == "AP_WRAP":
        span = float(1 << t.width)
        # the low bits of the code itself first: np.mod is exact at any size, code - lo is not
        # beyond 2**53; a code beyond float64's range (inf) is a multiple of 2**64, low bits 0
        low = np.mod(np.where(np.isinf(code), 0.0, code), span)
        return np.mod(low - lo, span) + lo
    if t.overflow == "AP_SAT":
        return np.clip(code, lo, hi)
    if t.overflow == "AP_SAT_SYM":
        return np.clip(code, -hi if t.signed else lo, hi)
    return np.where((code < lo) | (code > hi), 0.0, code)   # AP_SAT_ZERO


def requantize(code, frac_from: int, t: FixedType) -> np.ndarray:
    """Integer codes with `frac_from` fractional bits -> codes of type t, rounding and
    overflowing exactly like an assignment to ap_fixed (int64 arithmetic)."""
    code = np.asarray(code, dtype=np.int64)
    shift = frac_from - t.fractional
    if shift <= 0:
        out = code << -shift
    else:
        floor = code >> shift                       # arithmetic shift: floor
        rest = code - (floor << shift)              # 0 <= rest < 2**shift
        half = np.int64(1) << (shift - 1)
        mode = t.quantization
        if mode == "AP_TRN":
            up = np.zeros(code.shape, bool)
        elif mode == "AP_TRN_ZERO":
            up = (rest != 0) & (code < 0)
        else:
            tie = rest == half
            tie_up = {"AP_RND": tie, "AP_RND_ZERO": tie & (code < 0), "AP_RND_MIN_INF": tie & False,
                      "AP_RND_INF": tie & (code > 0), "AP_RND_CONV": tie & (floor % 2 == 1)}[mode]
            up = (rest > half) | tie_up
        out = floor + up
    return _overflow_codes(out, t)


def to_codes(x, t: FixedType) -> np.ndarray:
    """Float values -> int64 codes of type t (quantised like an assignment)."""
    return np.round(quantize(x, t) * (2.0 ** t.fractional)).astype(np.int64)


def _overflow_codes(code: np.ndarray, t: FixedType) -> np.ndarray:
    lo, hi = np.int64(t.min_code), np.int64(t.max_code)
    if t.overflow == "AP_WRAP":
        return ((code - lo) & np.int64((1 << t.width) - 1)) + lo
    if t.overflow == "AP_SAT":
        return np.clip(code, lo, hi)
    if t.overflow == "AP_SAT_SYM":
        return np.clip(code, -hi if t.signed else lo, hi)
    return np.where((code < lo) | (code > hi), np.int64(0), code)
