"""Simulate a PE's Verilog with Icarus Verilog on given input vectors, and make test vectors.

The testbench (templates/rtl/tb_pe.v.j2) reads the vectors with $readmemh, feeds one per
cycle and writes each result in decimal; `simulate_pe` returns those results as int64 codes,
to compare bit for bit with reference.pe_output.
"""
from __future__ import annotations

import logging
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import IKRHLSError
from .reference import operand_positions, rom_weights
from .spec import LATENCY, PESpec
from .tools import find_tool
from .verilog import environment, module_name, render_pe

log = logging.getLogger(__name__)
SELECT_PORT = {"ikr": "pattern", "sparse": "index", "dense": "", "rom": "cycle"}
_TIMEOUT = 120          # seconds for each tool run; a PE simulation takes well under one


def _pack(fields: list[tuple[np.ndarray, int]]) -> list[int]:
    """Concatenate per-vector fields, the first at the least significant end; each field is
    (codes (N, k), bits per code), code j of a field at bits [j*bits +: bits] of that field."""
    count = len(fields[0][0])
    words = [0] * count
    shift = 0
    for codes, bits in fields:
        mask = (1 << bits) - 1
        for n in range(count):
            word = 0
            for j, code in enumerate(codes[n]):
                word |= (int(code) & mask) << (j * bits)     # two's complement of negative codes
            words[n] |= word << shift
        shift += codes.shape[1] * bits
    return words


def vector_words(spec: PESpec, window, weights, select=None) -> tuple[list[int], int]:
    """The testbench's input words ({select, weights, window}; a rom PE's {cycle, window})
    and their width in bits."""
    window = np.asarray(window, np.int64)
    operand_positions(spec, select, len(window))            # same checks as the reference
    fields = [(window, spec.act_bits)]
    if spec.form == "rom":
        rom_weights(spec, weights, select, len(window))       # weights=None: the ROM holds them
    else:
        fields.append((np.asarray(weights, np.int64), spec.weight_bits))
    if spec.form in ("ikr", "rom"):
        fields.append((np.asarray(select, np.int64).reshape(-1, 1), spec.select_bits))
    elif spec.form == "sparse":
        fields.append((np.asarray(select, np.int64), spec.index_bits))
    width = sum(codes.shape[1] * bits for codes, bits in fields)
    return _pack(fields), width


def run_tool(cmd: list[str], cwd: Path, what: str, timeout: int = _TIMEOUT) -> str:
    """A tool's stdout (iverilog, vvp); its failure or timeout as one IKRHLSError line."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise IKRHLSError(f"{what} did not finish in {timeout} s ({' '.join(cmd)})") from None
    if proc.returncode != 0:
        reason = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise IKRHLSError(f"{what} failed (exit {proc.returncode}): {reason[0] if reason else 'no output'}")
    return proc.stdout


def simulate_pe(spec: PESpec, window, weights, select=None, workdir: Path | None = None) -> np.ndarray:
    """Run the PE's Verilog under iverilog (-g2005) and vvp; its `result` per vector, int64."""
    iverilog, vvp = find_tool("iverilog"), find_tool("vvp")
    words, width = vector_words(spec, window, weights, select)
    if not words:
        return np.zeros(0, dtype=np.int64)
    with tempfile.TemporaryDirectory(prefix="ikr_pe_sim_") as scratch:
        work = Path(workdir) if workdir is not None else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        module = module_name(spec)
        (work / "pe.v").write_text(render_pe(spec, module))
        digits = (width + 3) // 4
        (work / "vectors.hex").write_text("".join(f"{w:0{digits}x}\n" for w in words))
        (work / "tb.v").write_text(environment().get_template("rtl/tb_pe.v.j2").render(
            module=module, version=__version__, count=len(words), latency=LATENCY,
            vectors="vectors.hex", results="results.txt", vector_bits=width,
            window_bits=spec.positions * spec.act_bits,
            weight_bits=0 if spec.form == "rom" else spec.keep * spec.weight_bits,
            select_bits=spec.select_bits if spec.form != "dense" else 0,
            select_port=SELECT_PORT[spec.form], acc=spec.acc_bits))
        run_tool([iverilog, "-g2005", "-Wall", "-Wno-timescale", "-o", "sim.vvp", "-s", f"{module}_tb",
              "pe.v", "tb.v"], work, "iverilog")
        run_tool([vvp, "-n", "sim.vvp"], work, "vvp")
        lines = (work / "results.txt").read_text().split()
    try:
        results = np.array([int(text) for text in lines], dtype=np.int64)
    except ValueError:
        raise IKRHLSError(f"PE simulation gave a result that is not a number (x or z?): {lines[:4]}") from None
    if len(results) != len(words):
        raise IKRHLSError(f"PE simulation gave {len(results)} results for {len(words)} vectors")
    log.info("simulated %s on %d vectors", spec.describe(), len(results))
    return results


def random_vectors(spec: PESpec, count: int, seed: int):
    """(window, weights, select) of `count` vectors: the extreme corners first (every operand
    at its most negative or most positive code, which give the largest sums of either sign),
    then random codes with a fifth of them at the extremes. Select values are valid ones.
    A rom PE's weights are its ROM's (weights None) and its select is the cycle: every cycle
    0..R-1 with each extreme window first, then random cycles."""
    rng = np.random.default_rng(seed)
    a, w = spec.act_type, spec.weight_type

    def draw(t, shape):
        codes = rng.integers(t.min_code, t.max_code + 1, size=shape)
        edge = rng.random(shape) < 0.2
        return np.where(edge, rng.choice([t.min_code, t.max_code], size=shape), codes)

    window = draw(a, (count, spec.positions))
    weights = draw(w, (count, spec.keep))
    corners = [(a.min_code, w.min_code), (a.max_code, w.max_code), (a.min_code, w.max_code),
               (a.max_code, w.min_code)]
    for row, (act, weight) in enumerate(corners[:count]):
        window[row], weights[row] = act, weight
    if spec.form == "rom":
        return window.astype(np.int64), None, rom_cycles(spec, window, a, rng)
    if spec.form == "ikr":
        select = rng.integers(0, len(spec.library), size=count)
    elif spec.form == "sparse":
        select = rng.integers(0, spec.positions, size=(count, spec.keep))
    else:
        select = None
    return window.astype(np.int64), weights.astype(np.int64), select


def rom_cycles(spec: PESpec, window: np.ndarray, a, rng) -> np.ndarray:
    """A rom PE's cycles for `window` (changed in place): the first 2R vectors give every
    cycle the all-most-negative and the all-most-positive window (its weights are the ROM's:
    these are the largest sums of each sign where the weights are extreme), then random cycles."""
    count, depth = len(window), spec.depth
    cycles = rng.integers(0, depth, size=count)
    for row in range(min(count, 2 * depth)):
        cycles[row] = row % depth
        window[row] = a.min_code if row < depth else a.max_code
    return cycles
