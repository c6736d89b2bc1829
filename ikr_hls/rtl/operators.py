"""The operators the resource estimate prices, as synthesizable Verilog (templates/rtl/op_*.v.j2):
one module per operator at given widths, which bench/operator_synthesis.py runs through yosys
for each device family; the measured table (operator_synthesis.json beside this file) is what
ikr_hls/fpga_estimate.py prices a design with.

    add       a + b, `width` bits (an adder of a sum or an accumulation)
    compare   a > b of two `width`-bit values (a 1-bit result)
    max       a > b ? a : b (pooling, a softmax's maximum)
    relu      x > 0 ? x : 0
    clip      ReLU6: min(max(x, 0), 6), 6 at the binary point of a `width`-bit fixed-point value
    mux       one of `ways` values of `width` bits, chosen by a select input
    counter   a loop counter 0 .. depth-1 with enable, wrap and a `last` flag (its register included)
    register  `width` flip-flops with an enable
    mul       a generic signed product of `width` x `other` bits
    constmul  a `width`-bit value times a constant (`constant`, positive: a negative one is the same
              product subtracted), written as the shift-and-add of its canonical signed digits
    ram       a simple dual-port RAM (one write, one registered read) of depth x width, in
              distributed RAM or block RAM (`style`, the ram_style attribute)
    rom       a ROM of depth x width with a registered read, random contents (`seed`), in LUTs
    srl       an hls::stream FIFO as Vitis writes a shift-register one: depth x width and its control

Every operator is a combinational block between ports, or the registers it is made of; the
estimate adds the registers of a design apart (one flip-flop a bit).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import IKRHLSError
from ..hardware import csd_digits  # noqa: F401 (the estimate's digit count, here for the bench)

OPS = ("add", "compare", "max", "relu", "clip", "mux", "counter", "register", "mul", "constmul", "ram", "rom",
       "srl")
STYLES = ("distributed", "block")


def csd(value: int) -> list[tuple[int, int]]:
    """The canonical signed digits (non-adjacent form) of a positive integer: [(shift, +1 | -1)],
    least significant first; value = sum(sign << shift)."""
    if value < 0:
        raise ValueError(f"csd: expected a value >= 0, got {value}")
    digits, shift = [], 0
    while value:
        if value & 1:
            sign = 2 - (value & 3)                 # 1 when value % 4 == 1, -1 when 3
            digits.append((shift, sign))
            value -= sign
        value >>= 1
        shift += 1
    return digits


@dataclass(frozen=True)
class OperatorSpec:
    op: str
    width: int                  # data bits (mul: the first operand's; constmul: the variable operand's)
    other: int = 0              # mul: the second operand's bits; constmul: the constant's bits (its type)
    ways: int = 0               # mux: inputs
    depth: int = 0              # ram, rom, srl: words; counter: values counted (0 .. depth-1)
    constant: int = 0           # constmul: the constant (>= 0)
    style: str = ""             # ram: distributed | block
    seed: int = 0               # rom: its contents

    def __post_init__(self):
        if self.op not in OPS:
            raise IKRHLSError(f"operator {self.op!r}: expected one of {', '.join(OPS)}")
        if self.width < 1:
            raise IKRHLSError(f"operator {self.op}: width {self.width} < 1")
        if self.op == "mux" and self.ways < 2:
            raise IKRHLSError("operator mux: at least 2 ways")
        if self.op in ("ram", "rom", "srl", "counter") and self.depth < 2:
            raise IKRHLSError(f"operator {self.op}: depth {self.depth} < 2")
        if self.op == "ram" and self.style not in STYLES:
            raise IKRHLSError(f"operator ram: style {self.style!r}, expected one of {', '.join(STYLES)}")
        if self.op == "mul" and self.other < 1:
            raise IKRHLSError("operator mul: the second operand needs a width")
        if self.op == "constmul" and self.constant < 0:
            raise IKRHLSError("operator constmul: the constant is >= 0 (a negative one is subtracted)")
        if self.op == "clip" and self.width < 4:
            raise IKRHLSError("operator clip: 6 needs at least 4 bits")

    @property
    def module(self) -> str:
        return f"op_{self.op}"

    @property
    def frac(self) -> int:
        """clip: fractional bits of the value (6 sits at bit `frac`): half the width, leaving
        the integer bits 6 needs."""
        return max(0, min(self.width - 4, self.width // 2))

    def describe(self) -> str:
        if self.op == "mul":
            return f"mul {self.width}x{self.other}"
        if self.op == "constmul":
            return f"constmul {self.width}-bit x {self.constant} ({len(csd(self.constant))} CSD digit(s))"
        if self.op == "mux":
            return f"mux {self.ways}:1 x {self.width} bits"
        if self.op in ("ram", "rom", "srl"):
            return f"{self.op} {self.depth}x{self.width}" + (f" {self.style}" if self.style else "")
        if self.op == "counter":
            return f"counter 0..{self.depth - 1}"
        return f"{self.op} {self.width} bits"

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v or k in ("op", "width")}


def _counter_width(depth: int) -> int:
    return max(1, (depth - 1).bit_length())


def _rom_words(spec: OperatorSpec) -> list[str]:
    rng = np.random.default_rng(spec.seed)
    return [f"{int(v):0{(spec.width + 3) // 4}x}" for v in rng.integers(0, 2 ** spec.width, size=spec.depth,
                                                                      dtype=np.uint64)]


def render_operator(spec: OperatorSpec) -> str:
    """The operator's Verilog-2005 text, one module named spec.module."""
    from .._version import __version__
    from .verilog import environment

    view = dict(module=spec.module, description=spec.describe(), version=__version__, op=spec.op, w=spec.width,
                other=spec.other, ways=spec.ways, depth=spec.depth, style=spec.style)
    if spec.op == "mux":
        view["sel_bits"] = _counter_width(spec.ways)
    if spec.op in ("ram", "rom", "srl"):
        view["addr_bits"] = _counter_width(spec.depth)
    if spec.op == "counter":
        view["cw"] = _counter_width(spec.depth)
    if spec.op == "clip":
        view["six"] = 6 << spec.frac
    if spec.op == "rom":
        view["words"] = _rom_words(spec)
    if spec.op == "constmul":
        view["terms"] = csd(spec.constant)
        view["out"] = spec.width + max(spec.other, spec.constant.bit_length() + 1)
    template = {"add": "arith", "compare": "arith", "max": "arith", "relu": "arith", "clip": "arith",
                "mux": "mux", "counter": "counter", "register": "counter", "mul": "mul", "constmul": "mul",
                "ram": "memory", "rom": "memory", "srl": "memory"}[spec.op]
    return environment().get_template(f"rtl/op_{template}.v.j2").render(**view)


def synthesize_operator(spec: OperatorSpec, family: str = "xc7", dsp: bool = True, timeout: float = 3600):
    """yosys resources of the operator for `family` (synthesis.synthesize_verilog)."""
    from .synthesis import synthesize_verilog

    return synthesize_verilog(render_operator(spec), spec.module, spec.describe(), dsp, family, timeout=timeout)
