"""Estimated FPGA resources (LUT, FF, DSP, BRAM_18K) of a layer, from the hardware model of its
firmware (ikr_hls/hardware.py) priced with the PE table that yosys measured (ikr_hls/rtl/
pe_synthesis.json, written by bench/pe_synthesis.py). These are estimates from open-source
synthesis of the processing element for a 7-series part, not Vitis HLS results.

What is priced, and with which data:
- Products: a DSP48E1 each when products go to DSPs (more when an operand is wider than its
  25 x 18 multiplier); in LUTs otherwise, at the LUT and FF cost per tap of the measured dense
  PEs (multiply and accumulate), linear in the product of the operand widths between and
  beyond the measured 8x8 and 16x16 points.
- Operand choices (a multiplier shared over R cycles, a pattern PE's inputs chosen by cycle):
  the LUTs per bit of an N:1 choice measured on the one-tap IKR PEs with DSP mapping (whose
  only logic is that multiplexer), linear between the measured N and beyond.
- Registers: the model's register bits (windows, accumulators, partitioned buffers), one FF each.
- Memories: a RAM or ROM of at least BRAM_MIN_BITS bits in 18K block RAMs (the best of their
  aspect ratios), a smaller one in LUTs (64 x 1 per LUT; twice for a RAM, which needs a read
  and a write port). This split is a guess at what Vitis's default binding does.
"""
from __future__ import annotations

import functools
import math

from .errors import IKRHLSError
from .rtl.measured import load_measured_table

BRAM_MIN_BITS = 1024                    # smaller memories: LUTs (a guess at Vitis's default binding)
_BRAM18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))   # depth x width
_DSP_A, _DSP_B = 25, 18                 # a DSP48E1's multiplier operands


@functools.cache
def _prices() -> dict:
    """Coefficients derived from the measured table (cached: read once per process)."""
    table = load_measured_table()
    rows = table["rows"]
    per_tap: dict = {}                       # w*a -> (LUT, FF) per tap of the dense PEs without DSP
    for r in rows:
        if r["form"] == "dense" and not r["dsp_mapping"]:
            taps = r["kh"] * r["kw"]
            per_tap.setdefault(r["weight_bits"] * r["act_bits"], []).append((r["lut"] / taps, r["ff"] / taps))
    mux: dict = {}                           # N -> LUT per bit of an N:1 choice
    for r in rows:
        if r["form"] == "ikr" and r["dsp_mapping"] and r["keep"] == 1:
            ways = len({tuple(p) for p in r["library"]})
            mux.setdefault(ways, []).append(r["lut"] / r["act_bits"])
    if len(per_tap) < 2 or len(mux) < 2:
        raise IKRHLSError(f"{table.get('command', 'pe_synthesis.json')}: the measured PE table lacks the dense "
                          "and one-tap IKR rows that resource estimates are derived from")
    mean = {k: (sum(v[0] for v in vs) / len(vs), sum(v[1] for v in vs) / len(vs)) for k, vs in per_tap.items()}
    return {"product": sorted((k, lut, ff) for k, (lut, ff) in mean.items()),
            "mux": sorted((k, sum(v) / len(v)) for k, v in mux.items()),
            "source": table.get("regenerate", table.get("command")), "yosys": table.get("yosys")}


def _interpolate(points: list, x: float) -> float:
    """Piecewise linear through sorted (x, y) points, extended by the end segments."""
    (x0, y0), (x1, y1) = points[0], points[1]
    for left, right in zip(points, points[1:], strict=False):
        (x0, y0), (x1, y1) = left, right
        if x <= x1:
            break
    return max(0.0, y0 + (y1 - y0) * (x - x0) / (x1 - x0))


def product_luts(weight_bits: int, data_bits: int) -> tuple[float, float]:
    """(LUT, FF) of one multiply-accumulate in LUTs."""
    points = _prices()["product"]
    x = weight_bits * data_bits
    return (_interpolate([(k, lut) for k, lut, _ in points], x), _interpolate([(k, ff) for k, _, ff in points], x))


def mux_luts_per_bit(ways: int) -> float:
    """LUTs per bit of a `ways`:1 choice (0 for a single way)."""
    if ways <= 1:
        return 0.0
    return _interpolate([(1, 0.0)] + _prices()["mux"], ways)


def dsps_per_product(weight_bits: int, data_bits: int) -> int:
    wide, narrow = max(weight_bits, data_bits), min(weight_bits, data_bits)
    return math.ceil(wide / _DSP_A) * math.ceil(narrow / _DSP_B)


def memory_cost(memory) -> dict:
    """BRAM_18K or LUTs of `memory.count` memories of `depth` x `width`."""
    if memory.depth * memory.width >= BRAM_MIN_BITS:
        per = min(math.ceil(memory.depth / d) * math.ceil(memory.width / w) for d, w in _BRAM18_SHAPES)
        return {"bram_18k": memory.count * per, "lut": 0}
    ports = 2 if memory.kind == "RAM" else 1
    return {"bram_18k": 0, "lut": memory.count * ports * math.ceil(memory.depth / 64) * memory.width}


def estimate(cost, products_on_dsp: bool) -> dict:
    """{"lut", "ff", "dsp", "bram_18k"} of a layer's Cost."""
    lut = ff = 0.0
    dsp = 0
    products = cost.multipliers or 0
    weight_bits, data_bits = cost.product_bits
    if products and not (weight_bits and data_bits):     # a kind forgot its widths: no silent zero cost
        raise IKRHLSError(f"resource estimate: {products} multipliers without operand widths {cost.product_bits}")
    if products:
        if products_on_dsp:
            dsp = products * dsps_per_product(weight_bits, data_bits)
        else:
            per_lut, per_ff = product_luts(weight_bits, data_bits)
            lut += products * per_lut
            ff += products * per_ff
    for mux in cost.muxes:
        lut += mux.count * mux.width * mux_luts_per_bit(mux.ways)
    ff += cost.registers_bits
    bram = 0
    for memory in cost.memories:
        priced = memory_cost(memory)
        bram += priced["bram_18k"]
        lut += priced["lut"]
    return {"lut": int(round(lut)), "ff": int(round(ff)), "dsp": int(dsp), "bram_18k": int(bram)}


def provenance() -> dict:
    """Where the prices come from (the table's regenerating command and the yosys version)."""
    prices = _prices()
    return {"command": prices["source"], "yosys": prices["yosys"], "bram_min_bits": BRAM_MIN_BITS}
