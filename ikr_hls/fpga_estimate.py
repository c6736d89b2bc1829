"""Estimated FPGA resources (LUT, FF, DSP, BRAM_18K) of a layer, from the hardware model of its
firmware (ikr_hls/hardware.py: every operator its code describes) priced with the operators that
yosys measured for the part's family (ikr_hls/rtl/operator_synthesis.json, written by
bench/operator_synthesis.py: `synth_xilinx -family xc7|xcup`). Estimates from open-source
synthesis of each operator alone, not Vitis results; docs/report.md says how far to trust them.

What is priced, and with which rows of the table (linear interpolation between the measured
widths, extended by the end segments):
- Products, where the layer's binding puts them (`Cost.binding`, the code's BIND_OP): products
  by a constant (R = 1) in fabric at the measured price of a constant of as many canonical
  signed digits (CSD) at that data width, none for 0 and the powers of two; on DSPs one DSP
  each (a power of two or 0 none). Generic products (R > 1: operands chosen among several) at
  the measured `mul` of their widths, in LUTs (-nodsp) or DSPs (with their glue LUTs).
- Adders, comparators, max, ReLU, ReLU6 clips, 2:1 selects (`select`: a 2-way mux), loop
  counters: the measured operator of the width (Cost.operators).
- Operand choices (Cost.muxes): the measured N:1 multiplexer per bit.
- Registers: one flip-flop a bit (Cost.registers_bits).
- Memories (Cost.memories), as Vitis binds them (`storage`):
  FIFOs (hls::stream): a shift register (SRL) when at most AUTO_SRL_MAX_DEPTH deep and at
  most AUTO_SRL_MAX_BITS bits (Vitis's config_storage defaults, UG1399), else a RAM and
  its pointers; RAMs and ROMs: distributed (LUTRAM; a ROM as LUT logic) when at most
  LUTRAM_MAX_DEPTH words deep or at most LUTRAM_MAX_BITS bits, block RAM otherwise (Vivado
  decides this for `auto` storage and does not document its rule: this one is a guess),
  in as many 18K blocks as the measured block shapes need.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from .errors import IKRHLSError
from .parts import DEFAULT_FAMILY, RESOURCES, family_of, lookup

TABLE_NAME = "operator_synthesis.json"
AUTO_SRL_MAX_DEPTH = 2                  # Vitis config_storage fifo -auto_srl_max_depth default
AUTO_SRL_MAX_BITS = 1024                # ... -auto_srl_max_bits default
LUTRAM_MAX_DEPTH = 64                   # a guess at Vivado's auto choice: a RAM64M's depth
LUTRAM_MAX_BITS = 1024                  # ... or a memory this small
# the comparisons of each priced operator (what the tests read in the code)
ZERO = {"lut": 0.0, "ff": 0.0, "dsp": 0.0, "bram_18k": 0.0}


def _table() -> dict:
    from .rtl.measured import TABLE as PE_TABLE
    from .rtl.measured import load_measured_table

    return load_measured_table(PE_TABLE.parent / TABLE_NAME)


def _interpolate(points: list, x: float) -> float:
    """Piecewise linear through sorted (x, y) points, extended by the end segments (never
    below 0); one point: that value."""
    if len(points) == 1:
        return max(0.0, points[0][1])
    (x0, y0), (x1, y1) = points[0], points[1]
    for left, right in zip(points, points[1:], strict=False):
        (x0, y0), (x1, y1) = left, right
        if x <= x1:
            break
    return max(0.0, y0 + (y1 - y0) * (x - x0) / (x1 - x0))


def _series(rows: list, key: str, value: str) -> list:
    """Sorted (key, mean value) points of rows (several rows at one key: their mean)."""
    by: dict = {}
    for r in rows:
        by.setdefault(r[key], []).append(r[value])
    return sorted((k, sum(v) / len(v)) for k, v in by.items())


@dataclass(frozen=True)
class Prices:
    """The measured operators of one family, as the estimate reads them."""
    family: str
    ops: dict                   # op -> {"lut": [(width, lut)], "ff": [(width, ff)]}
    mux: list                   # [(ways, LUT per bit)]
    mul_lut: dict               # (narrow, wide) -> LUTs without DSP
    mul_dsp: dict               # (narrow, wide) -> (DSPs, LUTs) with DSP mapping
    constmul: dict              # (constant bits, digits) -> [(data bits, mean LUTs)]
    ram_lut: list               # [(depth, LUTs per bit of width)] distributed RAM
    rom_lut: list               # [(depth, LUTs per bit of width)] ROM in LUTs
    bram_shapes: tuple          # (depth, width) of one 18K block, measured
    srl: dict                   # "lut"/"ff" -> [(width, value)]: the depth-2 FIFO
    source: dict


@functools.cache
def prices(family: str) -> Prices:
    table = _table()
    rows = [r for r in table["rows"] if r["family"] == family]
    if not rows:
        raise IKRHLSError(f"{TABLE_NAME}: no measured operators for family {family} "
                          f"(regenerate with: {table.get('regenerate', table.get('command'))})")
    ops = {}
    for op in ("add", "compare", "max", "relu", "clip", "counter", "register"):
        mine = [r for r in rows if r["op"] == op]
        ops[op] = {"lut": _series(mine, "width", "lut"), "ff": _series(mine, "width", "ff")}
    ops["select"] = {"lut": [(w, lut / 8 * w) for w, lut in _series([r for r in rows if r["op"] == "mux"
                                                                     and r["ways"] == 2 and r["width"] == 8],
                                                                    "width", "lut")], "ff": [(1, 0.0)]}
    mux = [(ways, lut / 8) for ways, lut in _series([r for r in rows if r["op"] == "mux" and r["width"] == 8],
                                                    "ways", "lut")]
    mul_lut = {(r["width"], r["other"]): r["lut"] for r in rows if r["op"] == "mul" and not r["dsp_mapping"]}
    mul_dsp = {(r["width"], r["other"]): (r["dsp"], r["lut"]) for r in rows if r["op"] == "mul" and r["dsp_mapping"]}
    constmul: dict = {}
    for r in rows:
        if r["op"] == "constmul":
            constmul.setdefault((r["other"], r["digits"]), []).append(r)
    constmul = {k: _series(v, "width", "lut") for k, v in constmul.items()}
    ram = [r for r in rows if r["op"] == "ram" and r["style"] == "distributed"]
    ram_lut = _series([dict(r, per_bit=r["lut"] / r["width"]) for r in ram if r["width"] >= 8], "depth", "per_bit")
    rom_lut = _series([dict(r, per_bit=r["lut"] / r["width"]) for r in rows if r["op"] == "rom"], "depth", "per_bit")
    shapes: dict = {}
    for r in rows:
        if r["op"] == "ram" and r["style"] == "block" and r["bram_18k"] == 1:
            shapes[r["width"]] = max(shapes.get(r["width"], 0), r["depth"])
    srl = [r for r in rows if r["op"] == "srl"]
    return Prices(family, ops, mux, mul_lut, mul_dsp, constmul, ram_lut, rom_lut,
                  tuple(sorted((d, w) for w, d in shapes.items())),
                  {"lut": _series(srl, "width", "lut"), "ff": _series(srl, "width", "ff")},
                  {"command": table.get("regenerate", table.get("command")), "yosys": table.get("yosys")})


# --- operators -------------------------------------------------------------------------------

def operator_price(op: str, width: int, family: str = DEFAULT_FAMILY) -> dict:
    """LUT and FF of one operator (hardware.OPERATOR_OPS) of `width` bits."""
    p = prices(family).ops[op]
    return {"lut": _interpolate(p["lut"], width), "ff": _interpolate(p["ff"], width)}


def mux_luts_per_bit(ways: int, family: str = DEFAULT_FAMILY) -> float:
    """LUTs per bit of a `ways`:1 choice (0 for a single way)."""
    if ways <= 1:
        return 0.0
    return _interpolate([(1, 0.0)] + prices(family).mux, ways)


def _grid_lookup(grid: dict, narrow: int, wide: int):
    """The measured point at the smallest grid widths that cover (narrow, wide)."""
    lows = sorted({k[0] for k in grid})
    highs = sorted({k[1] for k in grid})
    lo = next((w for w in lows if w >= narrow), lows[-1])
    hi = next((w for w in highs if w >= max(wide, lo)), highs[-1])
    key = (lo, hi) if (lo, hi) in grid else min(grid, key=lambda k: (abs(k[0] - lo) + abs(k[1] - hi)))
    return grid[key], key


def _bilinear(grid: dict, narrow: int, wide: int) -> float:
    """LUTs of a generic product in fabric: bilinear in the measured (narrow, wide) widths,
    linear in the product of the widths beyond them."""
    lows = sorted({k[0] for k in grid})
    highs = sorted({k[1] for k in grid})

    def bracket(values, x):
        below = [v for v in values if v <= x]
        above = [v for v in values if v >= x]
        return (below[-1] if below else values[0]), (above[0] if above else values[-1])

    a0, a1 = bracket(lows, narrow)
    b0, b1 = bracket(highs, max(wide, narrow))
    corners = [(a, b) for a in (a0, a1) for b in (b0, b1)]
    known = [(a, b, grid[(a, b)]) for a, b in corners if (a, b) in grid]
    if not known:                               # outside the measured triangle: by area
        (a, b), lut = max(((k, v) for k, v in grid.items()), key=lambda kv: kv[0][0] * kv[0][1])
        return lut * narrow * wide / (a * b)
    # scale each corner's price by the area ratio, then average by closeness
    weights = [1.0 / (1e-9 + abs(a - narrow) + abs(b - wide)) for a, b, _ in known]
    est = [lut * narrow * wide / (a * b) for a, b, lut in known]
    return sum(w * e for w, e in zip(weights, est, strict=True)) / sum(weights)


def generic_product(weight_bits: int, data_bits: int, binding: str, family: str = DEFAULT_FAMILY) -> dict:
    narrow, wide = sorted((int(weight_bits), int(data_bits)))
    p = prices(family)
    if binding == "dsp":
        (dsp, lut), (lo, hi) = _grid_lookup(p.mul_dsp, narrow, wide)
        if narrow > lo or wide > hi:            # wider than every measured point: more DSPs by area
            scale = math.ceil(narrow / lo) * math.ceil(wide / hi)
            dsp, lut = dsp * scale, lut * scale
        return {**ZERO, "dsp": float(dsp), "lut": float(lut)}
    return {**ZERO, "lut": _bilinear(p.mul_lut, narrow, wide)}


def constant_product(digits: int, weight_bits: int, data_bits: int, binding: str,
                     family: str = DEFAULT_FAMILY) -> dict:
    """A product of a `data_bits` value by a constant of `digits` canonical signed digits
    (its type `weight_bits` wide): none for 0 and the powers of two (wiring)."""
    if digits <= 1:
        return dict(ZERO)
    if binding == "dsp":
        return generic_product(weight_bits, data_bits, "dsp", family)
    table = prices(family).constmul
    widths = sorted({w for w, _ in table})
    w = min(widths, key=lambda v: (abs(v - weight_bits), -v))
    measured = sorted(d for ww, d in table if ww == w)
    if digits in measured:
        return {**ZERO, "lut": _interpolate(table[(w, digits)], data_bits)}
    d0, d1 = (measured[-2], measured[-1]) if digits > measured[-1] else (measured[0], measured[1])
    y0, y1 = _interpolate(table[(w, d0)], data_bits), _interpolate(table[(w, d1)], data_bits)
    return {**ZERO, "lut": max(0.0, y0 + (y1 - y0) * (digits - d0) / (d1 - d0))}


def products_price(cost, binding: str, family: str = DEFAULT_FAMILY) -> dict:
    """The layer's products where `binding` puts them: the constants (Cost.constants) priced
    by their digits, the others as generic products."""
    out = dict(ZERO)
    total = cost.multipliers or 0
    if not total:
        return out
    weight_bits, data_bits = cost.product_bits
    if not (weight_bits and data_bits):     # a kind forgot its widths: no silent zero cost
        raise IKRHLSError(f"resource estimate: {total} multipliers without operand widths {cost.product_bits}")
    constants = 0
    for digits, count in cost.constants:
        price = constant_product(digits, weight_bits, data_bits, binding, family)
        for k in out:
            out[k] += count * price[k]
        constants += count
    generic = generic_product(weight_bits, data_bits, binding, family)
    for k in out:
        out[k] += max(0, total - constants) * generic[k]
    return out


# --- memories --------------------------------------------------------------------------------

def storage(memory) -> str:
    """How Vitis binds the memory: "srl", "lutram" or "bram" (see the module docstring)."""
    bits = memory.depth * memory.width
    if memory.kind == "FIFO" and memory.depth <= AUTO_SRL_MAX_DEPTH and bits <= AUTO_SRL_MAX_BITS:
        return "srl"
    if memory.depth <= LUTRAM_MAX_DEPTH or bits <= LUTRAM_MAX_BITS:
        return "lutram"
    return "bram"


def bram_blocks(depth: int, width: int, family: str = DEFAULT_FAMILY) -> int:
    """18K blocks of a depth x width memory: the best of the measured one-block shapes."""
    shapes = prices(family).bram_shapes
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in shapes)


def memory_price(memory, family: str = DEFAULT_FAMILY) -> dict:
    """LUT, FF and BRAM_18K of `memory.count` memories of depth x width."""
    p = prices(family)
    how = storage(memory)
    one = dict(ZERO)
    if how == "srl":
        one["lut"] = _interpolate(p.srl["lut"], memory.width)
        one["ff"] = _interpolate(p.srl["ff"], memory.width)
    elif how == "lutram":
        table = p.rom_lut if memory.kind == "ROM" else p.ram_lut
        one["lut"] = _interpolate(table, memory.depth) * memory.width
    else:
        one["bram_18k"] = float(bram_blocks(memory.depth, memory.width, family))
    if memory.kind == "FIFO" and how != "srl":     # a RAM FIFO's read and write pointers and its flag
        bits = max(1, (memory.depth - 1).bit_length())
        counter = operator_price("counter", bits, family)
        compare = operator_price("compare", bits, family)
        one["lut"] += 2 * counter["lut"] + compare["lut"]
        one["ff"] += 2 * counter["ff"]
    return {k: memory.count * v for k, v in one.items()}


# --- a layer -------------------------------------------------------------------------------

PARTS = ("products", "adders", "comparators", "choices", "control", "registers", "memories")


def breakdown(cost, family: str = DEFAULT_FAMILY, binding: str | None = None) -> dict:
    """{part of the design: {lut, ff, dsp, bram_18k}} of a layer's Cost, its products where
    `binding` (default: the cost's own) puts them."""
    out = {k: dict(ZERO) for k in PARTS}

    def add(part, price, times=1):
        for k in ZERO:
            out[part][k] += times * price[k]

    add("products", products_price(cost, binding or cost.binding or "dsp", family))
    for op in cost.operators:
        part = ("control" if op.part == "control" else "adders" if op.op == "add"
                else "choices" if op.op == "select" else "comparators")
        add(part, {**ZERO, **operator_price(op.op, op.width, family)}, op.count)
    for mux in cost.muxes:
        add("choices", {**ZERO, "lut": mux.count * mux.width * mux_luts_per_bit(mux.ways, family)})
    add("registers", {**ZERO, "ff": float(cost.registers_bits)})
    for memory in cost.memories:
        add("memories", memory_price(memory, family))
    return out


def total(parts: dict) -> dict:
    """{lut, ff, dsp, bram_18k} as integers (rounded up: a partly used block is used)."""
    return {k: int(math.ceil(sum(p[k] for p in parts.values()) - 1e-9)) for k in ZERO}


def estimate(cost, family: str = DEFAULT_FAMILY, binding: str | None = None) -> dict:
    """{"lut", "ff", "dsp", "bram_18k"} of a layer's Cost."""
    return total(breakdown(cost, family, binding))


# --- where the products go -------------------------------------------------------------------

def binding(cost, part: str) -> str | None:
    """The layer's products in DSPs or in fabric: the one that takes the smaller share of the
    part (the fabric's LUTs against the part's LUTs, DSPs against its DSPs; an unknown part
    is weighed as the default one). None when the layer has no products."""
    if not cost.multipliers:
        return None
    from .config import DEFAULT_PART

    family = family_of(part)
    device = lookup(part) or lookup(DEFAULT_PART)
    assert device is not None, "parts.json lacks the default part"
    fabric = products_price(cost, "fabric", family)
    dsp = products_price(cost, "dsp", family)
    share_fabric = fabric["lut"] / device.lut
    share_dsp = dsp["dsp"] / device.dsp + dsp["lut"] / device.lut
    return "fabric" if share_fabric <= share_dsp else "dsp"


def provenance(family: str = DEFAULT_FAMILY) -> dict:
    """Where the prices come from (the table's regenerating command and the yosys version)."""
    p = prices(family)
    return {"command": p.source["command"], "yosys": p.source["yosys"], "family": family,
            "table": f"ikr_hls/rtl/{TABLE_NAME}",
            "storage": {"auto_srl_max_depth": AUTO_SRL_MAX_DEPTH, "auto_srl_max_bits": AUTO_SRL_MAX_BITS,
                        "lutram_max_depth": LUTRAM_MAX_DEPTH, "lutram_max_bits": LUTRAM_MAX_BITS}}


__all__ = ["RESOURCES", "binding", "breakdown", "estimate", "memory_price", "operator_price", "prices", "provenance",
           "storage"]


def dataflow_memories(wiring) -> tuple:
    """(register bits, RAM bits, memories) of the DATAFLOW region's buffers: io_stream FIFOs of
    depth x element bits; io_parallel ping-pong slots, registers when completely partitioned."""
    from .hardware import Memory, bits

    registers = ram = 0
    memories = []
    for buffer in wiring.buffers:
        width = bits(buffer.type.hls)
        if wiring.stream:
            ram += buffer.depth * buffer.width * width
            memories.append(Memory(buffer.name, "FIFO", 1, buffer.depth, buffer.width * width))
            continue
        size = buffer.depth * buffer.size * width              # ping-pong slots (more where it skips)
        if buffer.partition.scheme == "complete":
            registers += size
        else:
            ram += size
            banks = buffer.partition.factor
            memories.append(Memory(buffer.name, "RAM", buffer.depth * banks, -(-buffer.size // banks), width))
    return registers, ram, memories


def buffers_estimate(registers: int, memories: list, family: str = DEFAULT_FAMILY) -> dict:
    """The buffers' {lut, ff, dsp, bram_18k}: each memory priced for the family, the registers as FF."""
    priced = [memory_price(m, family) for m in memories]
    return {"lut": int(math.ceil(sum(p["lut"] for p in priced))),
            "ff": int(registers + math.ceil(sum(p["ff"] for p in priced))), "dsp": 0,
            "bram_18k": int(math.ceil(sum(p["bram_18k"] for p in priced)))}
