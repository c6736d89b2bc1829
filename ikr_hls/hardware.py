"""The hardware model of the generated io_parallel firmware: what a layer's loops, arrays and
operators amount to, by the rules Vitis HLS follows (UG1399). The kinds compute their Cost
with these rules; tests/test_hardware.py checks every figure against the generated code.

- A layer is a function (INLINE off) around one pipelined loop of `iterations` steps at
  `ii` cycles each, at the bottom of a perfect loop nest (no statement between the loops, so
  Vitis flattens it): latency = iterations x II + the pipeline depth of a step.
- The pipeline depth of a step is its operator chain (Cost.chain): the operators in sequence
  on the longest path from its reads to its write (a buffer or line-buffer read, a multiply,
  the levels of the adder tree of its longest sum, table reads, compare levels, the write),
  each at the latency of OP_LATENCY, and one cycle for each extra cycle a shared operator
  takes (reuse). The latencies are a guess at Vitis's schedule for fixed-point operators at
  a 5 ns clock (docs/hardware.md), not a measurement; floating-point layers get no figure.
- PIPELINE unrolls every loop inside it. Reuse factor R gives II = R with an ALLOCATION
  pragma that limits the multipliers to ceil(products per step / R) (the scheduler shares
  each over the R cycles), or R steps of II 1 per pixel whose cycles share the operators
  by construction (the pattern conv's processing elements).
- An array that is not partitioned has 2 ports (a dual-port RAM or ROM): at most 2 x II
  accesses a step. A completely partitioned array is registers (or constants), any number.
  A cyclic partition of factor f gives f banks; a step over f aligned elements uses each bank
  once. Buffers between layers are ping-pong pairs in the DATAFLOW region (twice their bits).
  A buffer that would be completely partitioned into more than COMPLETE_PARTITION_LIMIT
  registers is refused (hls4ml's guidance for io_parallel, not a documented Vitis limit).
- io_stream (docs/io_stream.md): a stream gives one read and one write a cycle; a layer's
  output element (ikr::array, AGGREGATEd) is a register of its width; a layer of the "vector"
  form first gathers its input, one element a cycle, into registers (a pipelined loop of
  `gather_steps` at II 1 before the layer's own, whose latency adds up: in_stream_form), then
  computes into registers of its result that are packed into the element.
- A table read by several lanes a step is copied, ceil(lanes / (2 x II)) copies, so that no
  copy is read more than twice a cycle.
- Line buffers are RAMs, one per (row, channel), read and written once per step (their
  DEPENDENCE distance is the steps of one row); windows, accumulators and completely
  partitioned buffers are registers; weights of completely partitioned tables are constants
  (LUTs and wires, counted as storage by the report, not ROM); the pattern PEs' weights with
  R > 1 are ROMs of depth R.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .precision import weight_bits

COMPLETE_PARTITION_LIMIT = 4096     # elements: a buffer partitioned into more registers is refused

# Cycles of each operator of a step's chain (a guess at Vitis's fixed-point schedule at 5 ns:
# a DSP48 multiply with its input and output registers takes 3; an adder, a compare, an
# operand choice 1 per level; a ROM read with a registered output 2; a RAM read or write 1;
# an operator shared over R cycles holds the step R - 1 cycles more).
OP_LATENCY = {"read": 1, "write": 1, "multiply": 3, "add": 1, "compare": 1, "table": 2, "choose": 1,
              "share": 1}
# The FIFO depth model assumes no process answers sooner than this (issue 25: margin for the
# pipelines Vitis actually builds, which may be deeper than the chain).
MIN_LATENCY_BOUND = 32


@dataclass(frozen=True)
class Op:
    """`levels` operators of one kind in sequence on a step's longest path (an adder tree of
    `levels` levels, a multiply, a table read...)."""
    what: str
    levels: int = 1

    @property
    def cycles(self) -> int:
        return OP_LATENCY[self.what] * self.levels


def tree_levels(operands: int) -> int:
    """Levels of a balanced tree over `operands` values (Vitis balances a fixed-point sum)."""
    return math.ceil(math.log2(operands)) if operands > 1 else 0


def chain(*parts) -> tuple:
    """A step's chain from Ops, (what, levels) pairs and tuples of them, in order; parts of
    no level are left out."""
    out: list = []
    for part in parts:
        if isinstance(part, tuple) and part and not isinstance(part[0], str):
            out.extend(chain(*part))
        elif isinstance(part, tuple):
            if part and part[1] > 0:
                out.append(Op(part[0], part[1]))
        elif isinstance(part, Op) and part.levels > 0:
            out.append(part)
    return tuple(out)


def add_tree(operands: int) -> tuple:
    return chain(("add", tree_levels(operands)))


def compare_tree(operands: int) -> tuple:
    return chain(("compare", tree_levels(operands)))


def sharing_cycles(ii: int) -> tuple:
    """Operators shared over the II cycles of a step: the step ends II - 1 cycles later."""
    return chain(("share", ii - 1))


def has_figures(layer) -> bool:
    """Whether the model states hardware figures for the layer: not for floating-point types,
    whose Vitis cores (their latency, their loop-carried sums) it does not model; a float
    layer is a host check (C++ against Keras), not a design."""
    return not any(t.is_float for t in (*layer.precision.values(), *layer.input_types))


def table_copies(lookups_per_step: int, ii: int) -> int:
    """Copies of a ROM read `lookups_per_step` times per step of II cycles (2 ports each)."""
    return max(1, math.ceil(lookups_per_step / (2 * ii)))


def bits(hls_type) -> int:
    return weight_bits(hls_type)


def product_weight_bits(layer, weights) -> float:
    """Bits of the weight operand of the layer's products: a quantization-aware layer that keeps
    its trained weight type has constants of their own widths (ikr_hls/hgq/), priced at the
    mean width of its nonzero weights; any other layer's weights are of its weight type."""
    t = layer.precision["weight"]
    trained = layer.trained
    if trained is not None and trained.types.get("weight") == t and "weight" in trained.widths:
        nonzero = np.asarray(weights) != 0
        if nonzero.any():
            return round(float(np.asarray(trained.widths["weight"])[nonzero].mean()), 3)
    return bits(t)


def shared(products: int, ii: int) -> int:
    """Multipliers for `products` per step at II: ceil(products / II)."""
    return math.ceil(products / ii) if products else 0


def shared_operand_muxes(products: int, multipliers: int, data_bits: int, weight_bits: int) -> list:
    """A multiplier that serves several products of a step picks both operands among them:
    ceil(products / multipliers) ways (none when each product has its own)."""
    ways = math.ceil(products / multipliers) if multipliers else 1
    if ways <= 1:
        return []
    return [Mux("shared multiplier data", multipliers, ways, data_bits),
            Mux("shared multiplier weight", multipliers, ways, weight_bits)]


@dataclass(frozen=True)
class Memory:
    """`count` memories of `depth` words of `width` bits: RAMs (line buffers, buffers between
    layers) or ROMs (tables read at run time, the pattern PEs' weights with R > 1)."""
    what: str
    kind: str                 # "RAM" or "ROM"
    count: int
    depth: int
    width: int

    @property
    def bits(self) -> int:
        return self.count * self.depth * self.width


@dataclass(frozen=True)
class Mux:
    """`count` choices of one value among `ways`, `width` bits each: the inputs of an operator
    shared over R cycles."""
    what: str
    count: int
    ways: int
    width: int


# The operators a layer's code describes besides its products, each priced from the measured
# operator table (ikr_hls/rtl/operators.py): `op` one of
OPERATOR_OPS = ("add", "compare", "max", "relu", "clip", "select", "counter")
# and `part`: the datapath (what the code computes on data), control (loop counters, the
# comparisons of conditions and cycle decodes), or a type conversion's rounding or saturation
# (ap_fixed semantics: not written as operators in the code)
OPERATOR_PARTS = ("datapath", "control", "conversion")


@dataclass(frozen=True)
class Operator:
    """`count` operators `op` on `width` bits: an adder of a sum or an accumulation, a comparator
    (a ReLU, a max, a clamp), a 2:1 select, a loop counter (`width`: its bits)..."""
    what: str
    op: str
    width: int
    count: int
    part: str = "datapath"

    def __post_init__(self):
        if self.op not in OPERATOR_OPS or self.part not in OPERATOR_PARTS:
            raise ValueError(f"operator {self.what}: op {self.op!r}, part {self.part!r}")


@dataclass(frozen=True)
class Cost:
    """What one call of the layer costs in the hardware its code describes (ikr_hls/hardware.py
    says how each figure follows from the code): its pipelined loop's II and iterations, the
    operator chain of a step (its pipeline depth), multipliers (None for kinds without one)
    and how reuse shares them, the bits of its registers, RAMs and ROMs; MACs (dense and as
    generated; None for kinds without them)."""
    ii: int = 1
    iterations: int = 1
    chain: tuple = ()              # Op: a step's operators in sequence, reads to write
    multipliers: int | None = None
    sharing: str = "none"
    registers_bits: int = 0
    memories: tuple = ()           # hardware.Memory: RAMs and ROMs
    muxes: tuple = ()              # hardware.Mux: the operand choices of shared operators
    product_bits: tuple = (0, 0)   # widths of a product's two operands (weight or constant, data)
    macs_dense: int | None = None
    macs: int | None = None
    gather_steps: int = 0          # io_stream, a vector layer: the elements it gathers first (hardware.py)
    operators: tuple = ()          # Operator: adders, comparators, selects, counters
    constants: tuple = ()          # ((CSD digits, count), ...): the products by a constant, of `multipliers`
    binding: str | None = None     # where the products go: "dsp" or "fabric" (the plan decides, BIND_OP)

    @property
    def depth(self) -> int:
        """Cycles from a step's reads to its write."""
        return sum(op.cycles for op in self.chain)

    @property
    def latency(self) -> int:
        """Cycles of a call: the gather loop (io_stream vector layers), then every step at II,
        the last one's result `depth` cycles after it started."""
        gather = self.gather_steps + GATHER_DEPTH if self.gather_steps else 0
        return gather + self.iterations * self.ii + self.depth

    @property
    def ram_bits(self) -> int:
        return sum(m.bits for m in self.memories if m.kind == "RAM")

    @property
    def rom_bits(self) -> int:
        return sum(m.bits for m in self.memories if m.kind == "ROM")


def ops(what: str, op: str, width: int, count: int, part: str = "datapath") -> tuple:
    """(Operator,) or () when there are none."""
    return (Operator(what, op, int(width), int(count), part),) if count > 0 and width > 0 else ()


_COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


def comparisons(*exprs) -> int:
    """Comparisons (<, <=, >, >=, ==, !=) in expression trees (ikr_hls/expr.py) as the code
    prints them: the conditions of a step and its decodes of a cycle or a pattern id."""
    from .expr import Bin, Index, Not, Select

    total, stack = 0, [e for e in exprs if e is not None]     # a stack: a choice among R is R deep
    while stack:
        e = stack.pop()
        if isinstance(e, Bin):
            total += e.op in _COMPARISONS
            stack += (e.left, e.right)
        elif isinstance(e, Not):
            stack.append(e.operand)
        elif isinstance(e, Select):
            stack += (e.condition, e.then, e.otherwise)
        elif isinstance(e, Index):
            stack += e.indices
    return total


def csd_digits(codes) -> np.ndarray:
    """Nonzero canonical signed digits (non-adjacent form) of each |code|: popcount(n ^ 3n). A
    product by a constant of d digits is d - 1 adders of shifted values (none for 0 and the
    powers of two)."""
    n = np.abs(np.asarray(codes, dtype=np.int64))
    x = n ^ (3 * n)
    count = np.zeros(x.shape, dtype=np.int64)
    while np.any(x):
        count += x & 1
        x = x >> 1
    return count


def constant_products(values, hls_type) -> tuple:
    """((CSD digits, count), ...) of products by the constants `values` in `hls_type` (their
    codes: a weight that rounds to 0 is a product by 0)."""
    from .precision import to_codes

    values = np.asarray(values, dtype=float).reshape(-1)
    if not values.size or getattr(hls_type, "is_float", True):
        return ()
    digits, counts = np.unique(csd_digits(to_codes(values, hls_type)), return_counts=True)
    return tuple((int(d), int(c)) for d, c in zip(digits, counts, strict=True))


def merge_constants(*histograms) -> tuple:
    out: dict = {}
    for histogram in histograms:
        for digits, count in histogram:
            out[digits] = out.get(digits, 0) + count
    return tuple(sorted(out.items()))


def counter_bits(trips: int) -> int:
    """Bits of a counter of `trips` values (0 .. trips-1)."""
    return max(1, (int(trips) - 1).bit_length())


def control(what: str, compares: int, width: int) -> tuple:
    """`compares` comparisons of loop variables or counters of `width` bits."""
    return ops(what, "compare", width, compares, "control")


def conversion(what: str, hls_type, values: int) -> tuple:
    """A conversion of `values` values to `hls_type` a step: its rounding (an adder) when it
    rounds, its saturation (a clamp) when it saturates; nothing for truncation and wrapping."""
    if getattr(hls_type, "is_float", True):
        return ()
    width = bits(hls_type)
    out = ops(f"{what}: rounding", "add", width, values if hls_type.quantization != "AP_TRN" else 0, "conversion")
    return out + ops(f"{what}: saturation", "clip", width, values if hls_type.overflow != "AP_WRAP" else 0,
                     "conversion")


def loop_counters(cost, nest) -> tuple:
    """The counters of a layer's pipelined loops: one per loop of its nest and per counter it
    keeps (a stride's phase), or one for a loop of several steps (a kind without a nest), and
    the io_stream gather loop's."""
    out: tuple = ()
    if nest is not None:
        for var, trips in nest.loops:
            out += ops(f"loop {var}", "counter", counter_bits(trips), 1 if trips > 1 else 0, "control")
        for name, _ in nest.counters:
            out += ops(name, "counter", 2, 1, "control")
    elif cost.iterations > 1:
        out += ops("loop", "counter", counter_bits(cost.iterations), 1, "control")
    if cost.gather_steps:
        out += ops("gather loop", "counter", counter_bits(cost.gather_steps), 1, "control")
    return out


# the gather loop's step: a stream read, then the register write
GATHER_DEPTH = OP_LATENCY["read"] + OP_LATENCY["write"]
# a clone's step: a read, then a write to every copy
CLONE_DEPTH = OP_LATENCY["read"] + OP_LATENCY["write"]


def in_stream_form(cost, layer):
    """The cost of a layer's io_stream form (layer.stream, from the passes): its output element
    register, and for a vector layer the gather loop and the registers it fills."""
    from dataclasses import replace

    io = layer.stream
    registers = cost.registers_bits + io.out_width * bits(layer.precision["result"])
    if io.form != "vector":
        return replace(cost, registers_bits=registers)
    steps = layer.in_size // io.in_widths[0]
    gathered = layer.in_size * bits(layer.input_types[0])             # the input's registers
    computed = layer.out_size * bits(layer.precision["result"])       # the result's, packed into the element
    return replace(cost, gather_steps=steps, registers_bits=registers + gathered + computed)
