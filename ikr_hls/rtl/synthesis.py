"""Synthesize a PE with yosys for Xilinx 7-series and read back its resources and logic depth.

Flow (out of context: a PE is a block inside a design, so no I/O or clock buffers):

    read_verilog pe.v
    synth_xilinx -family xc7 -top <module> -noiopad -noclkbuf [-nodsp]
    stat -json                      -> LUT1..LUT6, FD* flip-flops, CARRY4, DSP48E1, MUXF7/8
    write_verilog -noattr           -> flip-flops by the register they hold (the net on their Q)
    delete t:FD*; ltp -noff         -> logic depth

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

SYNTH_COMMAND = "synth_xilinx -family xc7 -noiopad -noclkbuf"
DEPTH_COMMAND = "delete t:FD*; ltp -noff"
_LTP = re.compile(r"Longest topological path in \S+ \(length=(-?\d+)\)")
_LUTS = tuple(f"LUT{n}" for n in range(1, 7))


@dataclass(frozen=True)
class SynthesisResult:
    lut: int                # LUT1..LUT6
    ff: int                 # FD* (FDRE, FDSE, ...)
    carry: int              # CARRY4
    dsp: int                # DSP48E1
    muxf: int               # MUXF7 + MUXF8: wide-function muxes beside the LUTs they combine
    depth: int              # see the module docstring
    ff_by_register: dict    # flip-flops by the Verilog register on their Q (window_q, result, ...)
    seconds: float
    cells: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def yosys_script(module: str, dsp: bool) -> str:
    return "\n".join([
        "read_verilog pe.v",
        f"{SYNTH_COMMAND} -top {module}" + ("" if dsp else " -nodsp"),
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
    return SynthesisResult(
        lut=sum(cells.get(name, 0) for name in _LUTS),
        ff=sum(count for name, count in cells.items() if name.startswith("FD")),
        carry=cells.get("CARRY4", 0), dsp=cells.get("DSP48E1", 0),
        muxf=cells.get("MUXF7", 0) + cells.get("MUXF8", 0),
        depth=depth, ff_by_register=ff_by_register or {}, seconds=round(seconds, 2),
        cells=dict(sorted(cells.items())))


def synthesize_pe(spec: PESpec, dsp: bool = True, workdir: Path | None = None,
                  timeout: float = 3600) -> SynthesisResult:
    """Synthesize the PE's Verilog with yosys; dsp=False maps multipliers to LUTs and carries."""
    yosys = find_tool("yosys")
    module = module_name(spec)
    with tempfile.TemporaryDirectory(prefix="ikr_pe_synth_") as scratch:
        work = Path(workdir) if workdir is not None else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        (work / "pe.v").write_text(render_pe(spec, module))
        (work / "synth.ys").write_text(yosys_script(module, dsp))
        start = time.monotonic()
        try:
            proc = subprocess.run([yosys, "-q", "-l", "yosys.log", "-s", "synth.ys"], cwd=work,
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise IKRHLSError(f"yosys did not finish in {timeout:g} s on {spec.describe()}") from None
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            raise IKRHLSError(f"yosys failed (exit {proc.returncode}) on {spec.describe()}: "
                              f"{lines[-1] if lines else 'no output'}")
        cells = cell_counts((work / "stat.json").read_text(), module)
        depth = longest_path((work / "ltp.txt").read_text())
        registers = flip_flops_by_register((work / "netlist.v").read_text())
    result = summarize(cells, depth, seconds, registers)
    log.info("synthesized %s (%s): %d LUT, %d FF, %d CARRY4, %d DSP, depth %d, %.1f s", spec.describe(),
             "DSP" if dsp else "no DSP", result.lut, result.ff, result.carry, result.dsp, depth, seconds)
    return result
