"""Synthesize Verilog with yosys for a Xilinx family (7-series `xc7`, UltraScale+ `xcup`) and
read back its resources and logic depth: the PEs of spec.py (`synthesize_pe`) and any module
(`synthesize_verilog`, the priced operators of operators.py).

Flow (out of context: a PE or an operator is a block inside a design, so no I/O or clock buffers):

    read_verilog pe.v
    synth_xilinx -family <xc7|xcup> -top <module> -noiopad -noclkbuf [-nodsp] [-flatten]
    stat -json                      -> LUT1..LUT6, FD* flip-flops, CARRY4/8, DSP48E1/E2, MUXF7/8/9,
                                       distributed RAM and SRL cells, RAMB18/36
    write_verilog -noattr           -> flip-flops by the register they hold (the net on their Q)
    delete t:FD*; ltp -noff         -> logic depth

LUT counts are LUT sites: LUT1..LUT6, plus the LUTs that distributed RAM and shift-register
cells occupy (LUT_SITES: a RAM64M is 4 LUTs of a SLICEM, an SRLC32E one; UG474, UG574).
BRAM_18K counts a RAMB18 as one and a RAMB36 as two.

Logic depth is yosys's longest topological path once the flip-flops are deleted: the most
cells (LUT, MUXF7/8, CARRY4, DSP48E1) on any path between registers or ports. It is a
timing proxy, not a timing analysis: a CARRY4 counts as one level for 4 bits of carry, and a
DSP48E1 as one level whatever pipeline registers yosys packed into it.
"""
from __future__ import annotations

import json
import logging
import re
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import IKRHLSError
from .spec import PESpec
from .tools import find_tool
from .verilog import module_name, render_pe

log = logging.getLogger(__name__)

FAMILIES = ("xc7", "xcup")          # yosys synth_xilinx families: 7-series, UltraScale+
SYNTH_COMMAND = "synth_xilinx -family xc7 -noiopad -noclkbuf"
DEPTH_COMMAND = "delete t:FD*; ltp -noff"
_LTP = re.compile(r"Longest topological path in \S+ \(length=(-?\d+)\)")
_LUTS = tuple(f"LUT{n}" for n in range(1, 7))
# LUTs of a SLICEM that a distributed RAM or shift-register cell occupies (7-series UG474,
# UltraScale UG574); a cell of these families not listed here raises rather than count as 0
LUT_SITES = {"RAM32X1S": 1, "RAM32X1D": 2, "RAM32M": 4, "RAM64X1S": 1, "RAM64X1D": 2, "RAM64M": 4,
             "RAM128X1S": 2, "RAM128X1D": 4, "RAM256X1S": 4, "RAM256X1D": 8, "RAM512X1S": 8, "RAM32M16": 8,
             "RAM64M8": 8, "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1}
BRAM_18K = {"RAMB18E1": 1, "RAMB18E2": 1, "RAMB36E1": 2, "RAMB36E2": 2}
_DSPS = ("DSP48E1", "DSP48E2")
_CARRIES = ("CARRY4", "CARRY8")


@dataclass(frozen=True)
class SynthesisResult:
    lut: int                # LUT1..LUT6, and the LUT sites of distributed RAM and SRL cells
    ff: int                 # FD* (FDRE, FDSE, ...)
    carry: int              # CARRY4 (xc7) or CARRY8 (xcup)
    dsp: int                # DSP48E1 (xc7) or DSP48E2 (xcup)
    muxf: int               # MUXF7 + MUXF8 (+ MUXF9): wide-function muxes beside the LUTs they combine
    depth: int              # see the module docstring
    ff_by_register: dict    # flip-flops by the Verilog register on their Q (window_q, result, ...)
    seconds: float
    cells: dict = field(default_factory=dict)
    bram_18k: int = 0       # RAMB18 + 2 x RAMB36
    lutram: int = 0         # of `lut`: the LUT sites of distributed RAM and SRL cells

    def as_dict(self) -> dict:
        return asdict(self)


def synth_command(family: str = "xc7") -> str:
    if family not in FAMILIES:
        raise IKRHLSError(f"yosys family {family!r}: expected one of {', '.join(FAMILIES)}")
    return f"synth_xilinx -family {family} -noiopad -noclkbuf"


def yosys_script(module: str, dsp: bool, family: str = "xc7", flatten: bool = False) -> str:
    # flatten: a design of many small modules (da4ml's adder graphs) is synthesized as one, and
    # yosys 0.23's `stat -json` of a hierarchy is not valid JSON
    return "\n".join([
        "read_verilog pe.v",
        f"{synth_command(family)} -top {module}" + ("" if dsp else " -nodsp") + (" -flatten" if flatten else ""),
        "tee -q -o stat.json stat -json",
        "write_verilog -noattr netlist.v",
        "delete t:FD*",
        "tee -q -o ltp.txt ltp -noff",
        "",
    ])


def cell_counts(stat_json: str, module: str) -> dict:
    """{cell type: count} of `module` from yosys's `stat -json`."""
    modules = json.loads(stat_json).get("modules", {})
    stats = modules.get(f"\\{module}") or modules.get(module)
    if stats is None:
        raise IKRHLSError(f"yosys stat has no module {module} (found {sorted(modules)})")
    return {str(k): int(v) for k, v in stats.get("num_cells_by_type", {}).items()}


def longest_path(ltp_text: str) -> int:
    match = _LTP.search(ltp_text)
    if match is None:
        raise IKRHLSError("yosys ltp printed no 'Longest topological path' line")
    return max(0, int(match.group(1)))


_FF_CELL = re.compile(r"^\s*FD\w*\s.*?\);", re.MULTILINE | re.DOTALL)
_Q_NET = re.compile(r"\.Q\(\s*\\?([^\s\[)]+)")


def flip_flops_by_register(netlist: str) -> dict:
    """{register: flip-flops} of a mapped netlist from write_verilog: each FD* cell counted
    under the net on its Q pin without its bit index (window_q[3] -> window_q)."""
    counts: dict = {}
    for cell in _FF_CELL.finditer(netlist):
        match = _Q_NET.search(cell.group(0))
        name = match.group(1) if match else "?"
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def summarize(cells: dict, depth: int, seconds: float, ff_by_register: dict | None = None) -> SynthesisResult:
    unknown = sorted(name for name in cells if (name.startswith(("RAM", "SRL")) and name not in LUT_SITES
                                                and name not in BRAM_18K))
    if unknown:
        raise IKRHLSError(f"yosys mapped memory cells this package does not count: {', '.join(unknown)}")
    lutram = sum(count * LUT_SITES[name] for name, count in cells.items() if name in LUT_SITES)
    return SynthesisResult(
        lut=sum(cells.get(name, 0) for name in _LUTS) + lutram,
        ff=sum(count for name, count in cells.items() if name.startswith("FD")),
        carry=sum(cells.get(name, 0) for name in _CARRIES), dsp=sum(cells.get(name, 0) for name in _DSPS),
        muxf=cells.get("MUXF7", 0) + cells.get("MUXF8", 0) + cells.get("MUXF9", 0),
        depth=depth, ff_by_register=ff_by_register or {}, seconds=round(seconds, 2),
        cells=dict(sorted(cells.items())),
        bram_18k=sum(count * BRAM_18K[name] for name, count in cells.items() if name in BRAM_18K), lutram=lutram)


def synthesize_verilog(verilog: str, module: str, what: str, dsp: bool = True, family: str = "xc7",
                       workdir: Path | None = None, timeout: float = 3600, flatten: bool = False) -> SynthesisResult:
    """Synthesize one module of Verilog text with yosys for `family`; dsp=False maps multipliers
    to LUTs and carries; flatten: synthesize the module's hierarchy as one. `what` names it in
    messages."""
    yosys = find_tool("yosys")
    with tempfile.TemporaryDirectory(prefix="ikr_synth_") as scratch:
        work = Path(workdir) if workdir is not None else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        (work / "pe.v").write_text(verilog)
        (work / "synth.ys").write_text(yosys_script(module, dsp, family, flatten))
        start = time.monotonic()
        try:
            proc = subprocess.run([yosys, "-q", "-l", "yosys.log", "-s", "synth.ys"], cwd=work,
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise IKRHLSError(f"yosys did not finish in {timeout:g} s on {what}") from None
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            raise IKRHLSError(f"yosys failed (exit {proc.returncode}) on {what}: "
                              f"{lines[-1] if lines else 'no output'}")
        cells = cell_counts((work / "stat.json").read_text(), module)
        depth = longest_path((work / "ltp.txt").read_text())
        registers = flip_flops_by_register((work / "netlist.v").read_text())
    result = summarize(cells, depth, seconds, registers)
    log.info("synthesized %s (%s, %s): %d LUT, %d FF, %d carry, %d DSP, %d BRAM_18K, depth %d, %.1f s", what,
             family, "DSP" if dsp else "no DSP", result.lut, result.ff, result.carry, result.dsp, result.bram_18k,
             depth, seconds)
    return result


def synthesize_pe(spec: PESpec, dsp: bool = True, workdir: Path | None = None,
                  timeout: float = 3600, family: str = "xc7") -> SynthesisResult:
    """Synthesize the PE's Verilog with yosys; dsp=False maps multipliers to LUTs and carries."""
    module = module_name(spec)
    return synthesize_verilog(render_pe(spec, module), module, spec.describe(), dsp, family, workdir, timeout)
