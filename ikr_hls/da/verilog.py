"""Gate-level evidence for a solved layer (issue 28 item 4): da4ml's own Verilog of the traced
adder graph (the same `DASolution.comb` the HLS code is written from), simulated with Icarus
Verilog bit-exactly against matrix @ x, and synthesized with yosys.

The Verilog is da4ml's `comb_logic_gen` (one `shift_adder` or `negative` instance per op)
with the two library modules it instantiates (da4ml's rtl/verilog/source). Its ports:

  model_inp  the inputs side by side, input 0 at the least significant bits; input r takes
             W_r = sum(minimal_kif(comb.inp_qint[r])) bits (k sign bit, i integer, f fractional
             bits of its traced interval). The inputs are codes of the layer's input type, so
             the interval's step is 1 (f = 0) and an input's bits are its code in two's
             complement; an input the graph never reads has W_r = 0 and no bits.
  model_out  the outputs side by side, output 0 at the least significant bits; output j takes
             W_j = sum(minimal_kif(comb.out_qint[j])) bits, a two's complement integer if k is 1
             (unsigned if 0), worth 2**-f each. out_qint is the interval of the op behind the
             output scaled by 2**out_shift and negated when out_neg, so these bits already hold
             the output's shift and sign: the product sum is (bits as an integer) * 2**-f, and
             the product sums being integers, f <= 0. An output of width 0 (a column da4ml
             made the constant 0) or with no op (index < 0) has no wires: its value is 0.

`check_rtl` writes the module, a testbench that applies each input vector, waits, and compares
the bits of every output that has wires (`!==`, so x or z is a mismatch too) with the expected
word packed the same way from matrix @ x (int64, evaluate.reference), and reads back both the
testbench's mismatch count and every output, decoded as above, for a second comparison in numpy.
`synthesize_solution` wraps the same module between an input and an output register (the
window's used positions and the product sums, as the layer's pipeline holds them) and runs
ikr_hls.rtl.synthesis's yosys flow (synth_xilinx, stat, ltp).
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IKRHLSError
from ..rtl.simulate import run_tool
from .evaluate import reference
from .graph import CONST
from .matrix import ConstantMatrix
from .solver import ADD, INPUT, SUB, DASolution

log = logging.getLogger(__name__)

_LIBRARY = ("shift_adder.v", "negative.v")   # the da4ml modules an adder graph instantiates
_TIMEOUT = 600                               # seconds for iverilog or vvp on one layer


@dataclass(frozen=True)
class Field:
    """One port's slice: its bits [low, low + width), signed (two's complement) or not, each
    unit worth 2**-fractional; width 0: no wires."""
    low: int
    width: int
    signed: bool
    fractional: int


@dataclass(frozen=True)
class Ports:
    inputs: tuple
    outputs: tuple
    present: tuple          # per output: whether da4ml wrote wires for it

    @property
    def in_bits(self) -> int:
        return sum(f.width for f in self.inputs)

    @property
    def out_bits(self) -> int:
        return sum(f.width for f in self.outputs)


@dataclass(frozen=True)
class RTLCheck:
    """vectors simulated; testbench_mismatches: vectors whose output bits the testbench found
    different from the expected word; mismatches: outputs, decoded from the simulation, that
    differ from the expected values in numpy (the authority: it also sees an expected value no
    output field can hold); outputs: every output decoded (int64, in units of matrix @ x)."""
    vectors: int
    testbench_mismatches: int
    mismatches: int
    outputs: np.ndarray

    @property
    def exact(self) -> bool:
        return self.testbench_mismatches == 0 and self.mismatches == 0


def _fields(qints) -> tuple:
    from da4ml.types import minimal_kif
    out, low = [], 0
    for q in qints:
        k, i, f = (int(v) for v in minimal_kif(q))
        out.append(Field(low, k + i + f, bool(k), f))
        low += k + i + f
    return tuple(out)


def ports(comb) -> Ports:
    """The port layout of da4ml's module for comb, as comb_logic_gen lays it out."""
    outputs = _fields(comb.out_qint)
    present = tuple(idx >= 0 and f.width > 0 for idx, f in zip(comb.out_idxs, outputs, strict=True))
    return Ports(_fields(comb.inp_qint), outputs, present)


def _check_ops(matrix: ConstantMatrix, comb) -> None:
    for op in comb.ops:
        if op.opcode not in (INPUT, ADD, SUB) and not (op.opcode == CONST and op.data == 0):
            raise IKRHLSError(f"layer {matrix.layer}: da4ml's graph holds an operation the gate-level check does "
                              f"not read (opcode {op.opcode})")


def module_verilog(matrix: ConstantMatrix, solution: DASolution, name: str) -> str:
    """da4ml's Verilog of the solution's graph, module `name`, with its library modules."""
    if solution.comb is None:
        raise IKRHLSError(f"layer {matrix.layer}: its matrix has no rows, there is no graph to write")
    from da4ml.codegen.rtl import verilog as da_verilog
    _check_ops(matrix, solution.comb)
    source = Path(da_verilog.__file__).parent / "source"
    library = "\n".join((source / f).read_text() for f in _LIBRARY)
    return da_verilog.comb_logic_gen(solution.comb, name, timescale="`timescale 1ns / 1ps") + "\n" + library


def _pack(values: np.ndarray, fields: tuple, scale: bool) -> list[int]:
    """Each row of values as one port word; scale: values are in units of 1 and each field
    holds them in units of 2**-fractional."""
    words = []
    for row in np.asarray(values, dtype=np.int64):
        word = 0
        for v, f in zip(row.tolist(), fields, strict=True):
            if not f.width:
                continue
            raw = v
            if scale and f.fractional:        # a value the field cannot hold keeps its upper bits here;
                raw = v << f.fractional if f.fractional > 0 else v >> -f.fractional   # numpy's check sees it
            word |= (raw & ((1 << f.width) - 1)) << f.low
        words.append(word)
    return words


def decode(word: int, p: Ports) -> list[int]:
    """The outputs held in one model_out word (see the module docstring)."""
    out = []
    for f, present in zip(p.outputs, p.present, strict=True):
        if not present:
            out.append(0)
            continue
        raw = word >> f.low & ((1 << f.width) - 1)
        if f.signed and raw >> (f.width - 1):
            raw -= 1 << f.width
        out.append(raw << -f.fractional if f.fractional <= 0 else raw >> f.fractional)
    return out


def _check_inputs(matrix: ConstantMatrix, p: Ports, x: np.ndarray) -> None:
    t = matrix.in_type
    if x.ndim != 2 or x.shape[1] != matrix.shape[0]:
        raise IKRHLSError(f"layer {matrix.layer}: input vectors of shape {x.shape}, expected (N, {matrix.shape[0]})")
    if x.size and (x.min() < t.min_code or x.max() > t.max_code):
        raise IKRHLSError(f"layer {matrix.layer}: input codes outside {t.cpp}'s range")
    if any(f.fractional for f in p.inputs if f.width):
        raise IKRHLSError(f"layer {matrix.layer}: da4ml's inputs are not integer codes")


_TESTBENCH = """`timescale 1ns / 1ps
module {name}_tb;
    reg  [{in_msb}:0] inp;
    wire [{out_msb}:0] out;
    reg  [{in_msb}:0] vectors [0:{last}];
    reg  [{out_msb}:0] expected [0:{last}];
    reg  [{out_msb}:0] mask;
    integer n, bad, fd;
    {name} dut (.model_inp(inp), .model_out(out));
    initial begin
        $readmemh("vectors.hex", vectors);
        $readmemh("expected.hex", expected);
        mask = {out_bits}'h{mask};
        fd = $fopen("outputs.hex", "w");
        bad = 0;
        for (n = 0; n <= {last}; n = n + 1) begin
            inp = vectors[n];
            #1;
            $fwrite(fd, "%h\\n", out);
            if ((out & mask) !== (expected[n] & mask)) begin
                bad = bad + 1;
                if (bad <= 5) $display("MISMATCH vector %0d: got %h expected %h", n, out & mask, expected[n]);
            end
        end
        $fclose(fd);
        $display("mismatches %0d", bad);
        $finish;
    end
endmodule
"""


def _hex(words: list, bits: int) -> str:
    digits = (bits + 3) // 4
    return "".join(f"{w:0{digits}x}\n" for w in words)


def check_rtl(matrix: ConstantMatrix, solution: DASolution, x, expected=None,
              workdir: Path | None = None) -> RTLCheck:
    """Simulate da4ml's Verilog of the solution on the input codes x (N, rows) with iverilog and
    compare every output with expected (default: matrix @ x in int64)."""
    from ..rtl.tools import find_tool
    iverilog, vvp = find_tool("iverilog"), find_tool("vvp")
    x = np.asarray(x, dtype=np.int64)
    name = "da_" + "".join(c if c.isalnum() else "_" for c in matrix.layer)
    verilog = module_verilog(matrix, solution, name)
    p = ports(solution.comb)
    _check_inputs(matrix, p, x)
    want = reference(matrix, x) if expected is None else np.asarray(expected, dtype=np.int64)
    if want.shape != (len(x), matrix.shape[1]):
        raise IKRHLSError(f"layer {matrix.layer}: expected outputs of shape {want.shape}, not ({len(x)}, "
                          f"{matrix.shape[1]})")
    if not len(x) or not p.out_bits:
        raise IKRHLSError(f"layer {matrix.layer}: nothing to simulate (no vectors or no output bits)")
    in_bits = max(p.in_bits, 1)
    mask = sum(((1 << f.width) - 1) << f.low for f, present in zip(p.outputs, p.present, strict=True) if present)
    with tempfile.TemporaryDirectory(prefix="ikr_da_sim_") as scratch:
        work = Path(workdir) if workdir is not None else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        (work / "da.v").write_text(verilog)
        (work / "vectors.hex").write_text(_hex(_pack(x, p.inputs, scale=False), in_bits))
        (work / "expected.hex").write_text(_hex(_pack(want, p.outputs, scale=True), p.out_bits))
        (work / "tb.v").write_text(_TESTBENCH.format(name=name, in_msb=in_bits - 1, out_msb=p.out_bits - 1,
                                                     last=len(x) - 1, out_bits=p.out_bits, mask=f"{mask:x}"))
        run_tool([iverilog, "-g2005", "-Wno-timescale", "-o", "sim.vvp", "-s", f"{name}_tb", "da.v", "tb.v"], work,
                 "iverilog", _TIMEOUT)
        stdout = run_tool([vvp, "-n", "sim.vvp"], work, "vvp", _TIMEOUT)
        lines = (work / "outputs.hex").read_text().split()
    summary = [line for line in stdout.splitlines() if line.startswith("mismatches ")]
    if not summary or len(lines) != len(x):
        raise IKRHLSError(f"layer {matrix.layer}: the simulation gave {len(lines)} outputs for {len(x)} vectors")
    for line in stdout.splitlines():
        if line.startswith("MISMATCH"):
            log.warning("layer %s: %s", matrix.layer, line)
    try:
        outputs = np.array([decode(int(line, 16), p) for line in lines], dtype=np.int64)
    except ValueError:
        raise IKRHLSError(f"layer {matrix.layer}: an output holds x or z: {lines[0][:40]}") from None
    return RTLCheck(len(x), int(summary[-1].split()[1]), int(np.count_nonzero(outputs != want)), outputs)


def extreme_codes(matrix: ConstantMatrix) -> np.ndarray:
    """Input vectors at the corners: every input at its most negative or most positive code,
    and each column's largest sum of either sign (each input at the extreme its weight's sign
    asks)."""
    t = matrix.in_type
    n = matrix.shape[0]
    lo, hi = t.min_code, t.max_code
    rows = [np.full(n, lo), np.full(n, hi), np.zeros(n, np.int64)]
    for j in range(matrix.shape[1]):
        w = matrix.codes[:, j]
        rows.append(np.where(w > 0, hi, lo))
        rows.append(np.where(w > 0, lo, hi))
    return np.array(rows, dtype=np.int64)


_TOP = """
module {name}_top (input clk, input [{in_msb}:0] d, output reg [{out_msb}:0] q);
    reg [{in_msb}:0] inp_q;
    wire [{out_msb}:0] sums;
    {name} graph (.model_inp(inp_q), .model_out(sums));
    always @(posedge clk) begin
        inp_q <= d;
        q <= sums;
    end
endmodule
"""


def synthesize_solution(matrix: ConstantMatrix, solution: DASolution, family: str = "xc7",
                        timeout: float = 3600, workdir: Path | None = None):
    """yosys's synthesis (ikr_hls.rtl.synthesis) of the graph between an input and an output
    register: LUT, FF (the registers' bits that are read), carries and the logic depth between
    the registers. No DSP can appear: the graph has no multiplier."""
    from ..rtl.synthesis import synthesize_verilog
    name = "da_" + "".join(c if c.isalnum() else "_" for c in matrix.layer)
    p = ports(solution.comb)
    top = _TOP.format(name=name, in_msb=max(p.in_bits, 1) - 1, out_msb=max(p.out_bits, 1) - 1)
    return synthesize_verilog(module_verilog(matrix, solution, name) + top, f"{name}_top",
                              f"layer {matrix.layer}'s adder graph", dsp=False, family=family, workdir=workdir,
                              timeout=timeout, flatten=True)
