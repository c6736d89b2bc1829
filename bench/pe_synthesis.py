"""PE synthesis (issue 17): the IKR, unstructured sparse and dense conv PEs through yosys, and
the pe strategy's PE with its ROM of R kernels (form rom).

    python bench/pe_synthesis.py [--quick | --rom] [--jobs 2] [--json PATH] [--write docs/BENCHMARKS.md]
                                 [--markdown PATH]
    python bench/pe_synthesis.py --from-json ikr_hls/rtl/pe_synthesis.json --write docs/BENCHMARKS.md

Every PE comes from ikr_hls.rtl (templates/rtl/) and goes through `synth_xilinx -family xc7`
out of context, with DSP48E1 mapping and again with -nodsp (see ikr_hls/rtl/synthesis.py for
the flow and the logic-depth proxy). Points:
  IKR     K in {3, 5}, keep 1..floor(K*K/2), library sizes {4, 8, 16} where C(K*K, keep)
          allows that many patterns (random distinct patterns, fixed seed; the smaller
          libraries are the first patterns of the larger), widths {8, 16} (W = A);
  sparse  each (K, keep, width); dense each (K, width);
  LeNet-5 the real conv libraries of examples/models/lenet5_ikr.h5, at both widths;
  rom     K in {3, 5}, keep in ROM_KEEPS, library sizes {4, 8} (the grid's libraries), ROM
          depths R in {2, 4, 8} with random ROM words (random_rom), widths {8, 16}, and
          PE 0 of conv_pe.plan(conv2 kernel, 4) of the LeNet-5, with the IKR PE of the same
          library and widths beside each (the grid's own point in a full run).
--rom runs only the rom points and their IKR PEs (a few minutes), and its Markdown is the
section SECTION_ROM; a full run writes both sections.
The accumulator is the default one that cannot overflow (W + A + ceil(log2(products))).
Syntheses run in parallel (--jobs yosys processes). The regenerating command of the shipped
table is REGENERATE below; --from-json re-renders the Markdown of a saved run.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ikr_hls.fpga_estimate import memory_price  # noqa: E402
from ikr_hls.hardware import Memory  # noqa: E402
from ikr_hls.precision import FixedType, index_bits  # noqa: E402
from ikr_hls.rtl import (  # noqa: E402
    dense_pe,
    ikr_pe,
    load_measured_table,
    random_library,
    random_rom,
    rom_pe,
    rom_pe_of_plan,
    sparse_pe,
    synthesize_pe,
    yosys_version,
)
from ikr_hls.rtl.synthesis import DEPTH_COMMAND, SYNTH_COMMAND  # noqa: E402

SECTION = "## PE synthesis (issue 17)"
REGENERATE = "python bench/pe_synthesis.py --write docs/BENCHMARKS.md --json ikr_hls/rtl/pe_synthesis.json"
LENET = ROOT / "examples" / "models" / "lenet5_ikr.h5"
SEED = 17
KERNELS, WIDTHS, LIBRARY_SIZES = (3, 5), (8, 16), (4, 8, 16)
SECTION_ROM = "## PE synthesis: the pe strategy's PE with its ROM of R kernels (issue 17)"
ROM_KEEPS = {3: (2, 4), 5: (3, 6)}
ROM_SIZES, ROM_DEPTHS = (4, 8), (2, 4, 8)
LENET_ROM = dict(layer="conv2", depth=4, pe=0)


# --- the points ----------------------------------------------------------------------------

def point(form, spec, dsp, source="", library_size=None) -> dict:
    return dict(form=form, spec=spec, dsp_mapping=dsp, source=source, library_size=library_size)


def grid_points(kernels=KERNELS, keeps=None, sizes=LIBRARY_SIZES, widths=WIDTHS, dsps=(False, True)) -> list[dict]:
    points = []
    for k in kernels:
        for keep in keeps or range(1, k * k // 2 + 1):
            usable = [size for size in sizes if size <= math.comb(k * k, keep)]
            drawn = random_library(k, k, keep, max(usable), seed=SEED + 100 * k + keep) if usable else None
            for width in widths:
                for dsp in dsps:
                    for size in usable:
                        spec = ikr_pe(drawn[:size], weight_bits=width, act_bits=width)
                        points.append(point("ikr", spec, dsp, f"random, seed {SEED + 100 * k + keep}", size))
                    points.append(point("sparse", sparse_pe(k, k, keep, width, width), dsp))
        for width in widths:
            for dsp in dsps:
                points.append(point("dense", dense_pe(k, k, width, width), dsp))
    return points


def lenet_points(widths=WIDTHS, dsps=(False, True)) -> list[dict]:
    """IKR PEs of the shipped IKR LeNet-5's conv layers, from the zeros of their kernels."""
    from ikr_hls.modelfile import load_keras_model
    from ikr_hls.patterns import patterns_from_kernel

    points = []
    for layer in load_keras_model(LENET).layers:
        if type(layer).__name__ != "Conv2D":
            continue
        found = patterns_from_kernel(layer.get_weights()[0])
        if found.keep is None:
            print(f"{layer.name}: irregular patterns, no IKR PE", file=sys.stderr)
            continue
        for width in widths:
            for dsp in dsps:
                spec = ikr_pe(found.library, weight_bits=width, act_bits=width)
                points.append(point("ikr", spec, dsp, f"{LENET.name} {layer.name}", len(found.library)))
    return points


def rom_seed(k: int, keep: int, depth: int) -> int:
    return SEED + 100 * k + keep + 10_000 * depth


def rom_points(kernels=KERNELS, keeps=None, sizes=ROM_SIZES, depths=ROM_DEPTHS, widths=WIDTHS,
               dsps=(False, True)) -> list[dict]:
    """ROM PEs on the grid's libraries (random_library draws patterns one by one, so the first
    L patterns of a draw are the grid's L-pattern library), each beside its IKR PE."""
    points = []
    for k in kernels:
        for keep in (keeps or ROM_KEEPS)[k]:
            seed = SEED + 100 * k + keep
            drawn = random_library(k, k, keep, max(sizes), seed=seed)
            for width in widths:
                for size in sizes:
                    for dsp in dsps:
                        spec = ikr_pe(drawn[:size], weight_bits=width, act_bits=width)
                        points.append(point("ikr", spec, dsp, f"random, seed {seed}", size))
                        for depth in depths:
                            words = random_rom(size, keep, depth, width, seed=rom_seed(k, keep, depth))
                            spec = rom_pe(drawn[:size], words, weight_bits=width, act_bits=width)
                            points.append(point("rom", spec, dsp, f"random, seed {seed}, ROM seed "
                                                f"{rom_seed(k, keep, depth)}", size))
    return points


def lenet_weight_type(kernel, width: int) -> FixedType:
    """16 bits: ap_fixed<16,6>, the converter's default precision; otherwise the fewest integer
    bits (sign included) that hold the largest |weight|, the rest fractional."""
    if width == 16:
        return FixedType(True, 16, 6)
    largest = float(abs(kernel).max())
    return FixedType(True, width, max(1, math.ceil(math.log2(largest)) + 1) if largest else 1)


def lenet_rom_points(widths=WIDTHS, dsps=(False, True)) -> list[dict]:
    """PE LENET_ROM["pe"] of conv_pe.plan(kernel, R) of the shipped LeNet-5's conv2, its kernel
    quantised (lenet_weight_type), beside the IKR PE of the layer's library (lenet_points')."""
    from ikr_hls.kinds.conv2d import pe as conv_pe
    from ikr_hls.modelfile import load_keras_model
    from ikr_hls.patterns import patterns_from_kernel
    from ikr_hls.precision import to_codes

    name, depth, pe = LENET_ROM["layer"], LENET_ROM["depth"], LENET_ROM["pe"]
    kernel = next(layer for layer in load_keras_model(LENET).layers if layer.name == name).get_weights()[0]
    plan = conv_pe.plan(kernel, depth)
    library = patterns_from_kernel(kernel).library
    points = []
    for width in widths:
        t = lenet_weight_type(kernel, width)
        spec = rom_pe_of_plan(plan, pe, to_codes(kernel, t), weight_bits=width, act_bits=width)
        for dsp in dsps:
            points.append(point("ikr", ikr_pe(library, weight_bits=width, act_bits=width), dsp,
                                f"{LENET.name} {name}", len(library)))
            points.append(point("rom", spec, dsp, f"{LENET.name} {name}, R={depth} PE {pe}, weights "
                                f"ap_fixed<{t.width},{t.integer}>", len(library)))
    return points


def cost_guess(p: dict) -> float:
    """Rough relative run time, to start the longest syntheses first."""
    spec = p["spec"]
    return spec.keep * spec.weight_bits * spec.act_bits * (0.3 if p["dsp_mapping"] else 1.0)


# --- running -------------------------------------------------------------------------------

def row(p: dict, result) -> dict:
    spec = p["spec"]
    words = [None if w is None else [w[0], list(w[1])] for w in spec.rom]
    rom = dict(rom_depth=spec.depth, rom=words) if spec.rom else {}
    return dict(form=p["form"], kh=spec.kh, kw=spec.kw, keep=spec.keep,
                library_size=p["library_size"], library=[list(x) for x in spec.library] or None,
                source=p["source"] or None, weight_bits=spec.weight_bits, act_bits=spec.act_bits,
                acc_bits=spec.acc_bits, dsp_mapping=p["dsp_mapping"], **rom, **result.as_dict())


def unique(points: list[dict]) -> list[dict]:
    """Each (form, PE, DSP mapping) once: the rom sweep's IKR PEs are grid points of a full run."""
    seen: set = set()
    out = []
    for p in points:
        key = (p["form"], p["spec"], p["dsp_mapping"])
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def synthesize_all(points: list[dict], jobs: int) -> list[dict]:
    rows = [None] * len(points)
    order = sorted(range(len(points)), key=lambda i: -cost_guess(points[i]))
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=jobs) as pool:       # each task waits on one yosys process
        futures = {pool.submit(synthesize_pe, points[i]["spec"], points[i]["dsp_mapping"]): i for i in order}
        for done, future in enumerate(as_completed(futures), 1):
            i = futures[future]
            rows[i] = row(points[i], future.result())
            r = rows[i]
            print(f"[{done}/{len(points)} {time.monotonic() - start:6.0f} s] {points[i]['spec'].describe()}, "
                  f"{'DSP' if r['dsp_mapping'] else 'no DSP'}: {r['lut']} LUT {r['ff']} FF {r['carry']} CARRY4 "
                  f"{r['dsp']} DSP depth {r['depth']} ({r['seconds']:.1f} s)", flush=True)
    return rows


# --- the Markdown section ------------------------------------------------------------------

def cell(r: dict) -> str:
    return f"{r['lut']} / {r['ff']} / {r['carry']} / {r['dsp']} / {r['depth']}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def find(rows, **keys):
    hits = [r for r in rows if all(r.get(k) == v for k, v in keys.items())]
    return hits[0] if hits else None


def grid_rows(rows):
    return [r for r in rows if r["form"] != "rom" and (r["source"] is None or r["source"].startswith("random"))]


def tables(rows: list[dict]) -> list[str]:
    out = []
    grid = grid_rows(rows)
    for k in sorted({r["kh"] for r in grid}):
        for width in sorted({r["weight_bits"] for r in grid}):
            for dsp in (False, True):
                dense = find(grid, form="dense", kh=k, weight_bits=width, dsp_mapping=dsp)
                keeps = sorted({r["keep"] for r in grid if r["form"] == "sparse" and r["kh"] == k
                                and r["weight_bits"] == width and r["dsp_mapping"] == dsp})
                if not keeps:
                    continue
                sizes = sorted({r["library_size"] for r in grid if r["form"] == "ikr" and r["kh"] == k})
                out += [f"**{k}x{k}, {width}-bit, {'with DSP48E1' if dsp else 'no DSP (-nodsp)'}.** "
                        + (f"Dense PE ({k * k} multipliers): {cell(dense)}." if dense else ""), "",
                        "| keep | sparse | " + " | ".join(f"IKR L={s}" for s in sizes) + " |",
                        "| ---: | ---: | " + " | ".join("---:" for _ in sizes) + " |"]
                for keep in keeps:
                    sparse = find(grid, form="sparse", kh=k, keep=keep, weight_bits=width, dsp_mapping=dsp)
                    cells = []
                    for size in sizes:
                        ikr = find(grid, form="ikr", kh=k, keep=keep, weight_bits=width, dsp_mapping=dsp,
                                   library_size=size)
                        cells.append(f"{cell(ikr)} ({ratio(ikr['lut'], sparse['lut'])})" if ikr else "-")
                    out.append(f"| {keep} | {cell(sparse)} | " + " | ".join(cells) + " |")
                out.append("")
    return out


def lenet_table(rows: list[dict]) -> list[str]:
    real = [r for r in rows if r["form"] != "rom" and r["source"] and not r["source"].startswith("random")]
    if not real:
        return []
    out = ["**The shipped IKR LeNet-5's conv libraries** (examples/models/lenet5_ikr.h5, patterns read "
           "back from the kernels' zeros), against the sparse and dense PEs of the same kernel and keep:", "",
           "| layer | keep | L | width | DSP | IKR | sparse | dense | IKR/sparse LUT | IKR/dense LUT |",
           "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in real:
        keys = dict(kh=r["kh"], weight_bits=r["weight_bits"], dsp_mapping=r["dsp_mapping"])
        sparse = find(rows, form="sparse", keep=r["keep"], **keys)
        dense = find(rows, form="dense", **keys)
        out.append(f"| {r['source'].split()[-1]} | {r['keep']}/{r['kh'] * r['kw']} | {r['library_size']} | "
                   f"{r['weight_bits']} | {'yes' if r['dsp_mapping'] else 'no'} | {cell(r)} | "
                   f"{cell(sparse) if sparse else '-'} | {cell(dense) if dense else '-'} | "
                   f"{ratio(r['lut'], sparse['lut']) if sparse else '-'} | "
                   f"{ratio(r['lut'], dense['lut']) if dense else '-'} |")
    return out + [""]


def pairs(rows, dsp, versus, metric="lut"):
    """(IKR value / the other form's value, IKR row) at the same K, width, DSP mode and, against
    sparse, keep; only where the other value is not zero."""
    out = []
    for r in grid_rows(rows):
        if r["form"] != "ikr" or r["dsp_mapping"] != dsp:
            continue
        match = dict(kh=r["kh"], weight_bits=r["weight_bits"], dsp_mapping=dsp)
        if versus == "sparse":
            match["keep"] = r["keep"]
        other = find(rows, form=versus, **match)
        if other and other[metric]:
            out.append((r[metric] / other[metric], r))
    return out


def spread(ratios) -> str:
    values = sorted(v for v, _ in ratios)
    return f"{values[0]:.2f}x to {values[-1]:.2f}x (median {statistics.median(values):.2f}x)"


def per_library(ratios, what: str) -> list[str]:
    out = []
    for k in sorted({r["kh"] for _, r in ratios}):
        for size in sorted({r["library_size"] for _, r in ratios}):
            subset = [p for p in ratios if p[1]["library_size"] == size and p[1]["kh"] == k]
            if subset:
                lost = sorted({p[1]["keep"] for p in subset if p[0] >= 1})
                out.append(f"  - {k}x{k}, L={size}: {what} {spread(subset)}"
                           + (f"; not smaller at keep {', '.join(map(str, lost))}" if lost else "") + ".")
    return out


def mux_inputs(r: dict) -> float:
    """Mean multiplexer inputs per IKR multiplier: distinct positions the library puts at a slot."""
    return statistics.mean(len({pattern[slot] for pattern in r["library"]}) for slot in range(r["keep"]))


def subset_shrinks(rows) -> tuple[int, int, float]:
    """Points where the L=4 library (the first 4 patterns of L=8, so no wider a multiplexer
    anywhere) needs more LUTs than L=8: (count, out of, worst excess)."""
    count = total = 0
    worst = 0.0
    for r in grid_rows(rows):
        if r["form"] != "ikr" or r["library_size"] != 4 or r["dsp_mapping"]:
            continue
        bigger = find(grid_rows(rows), form="ikr", library_size=8, kh=r["kh"], keep=r["keep"],
                      weight_bits=r["weight_bits"], dsp_mapping=False)
        if bigger:
            total += 1
            if r["lut"] > bigger["lut"]:
                count += 1
                worst = max(worst, r["lut"] / bigger["lut"] - 1)
    return count, total, worst


def findings(rows: list[dict]) -> list[str]:
    """Sentences counted from the table (so a rerun cannot leave them stale)."""
    out = []
    grid = grid_rows(rows)
    first_try = [find(grid, form=form, kh=3, weight_bits=8, dsp_mapping=False, **extra) for form, extra in
                 (("ikr", dict(keep=4, library_size=8)), ("sparse", dict(keep=4)), ("dense", {}))]
    if all(first_try):
        out.append("- The issue's first try by hand (3x3, 8-bit, no DSP: about 1,000 LUTs for IKR keep 4 with 8 "
                   "patterns, 1,140 for unstructured keep 4, 2,000 for dense) is reproduced by the generated PEs: "
                   + " / ".join(str(r["lut"]) for r in first_try) + " LUTs.")
    mapped = [r for r in grid if r["dsp_mapping"]]
    dsp_lut = pairs(rows, True, "sparse")
    if dsp_lut:
        one_each = all(r["dsp"] == r["keep"] for r in mapped)
        wins = sum(v < 1 for v, _ in dsp_lut)
        out += [("- With DSP48E1 mapping every PE uses one DSP48E1 per multiplier (keep for IKR and sparse, "
                 "K*K for dense), so the LUTs left are essentially the operand multiplexers, the part IKR "
                 "changes. " if one_each else "- With DSP48E1 mapping (DSP counts are not always one per "
                 "multiplier: see the tables), ")
                + f"IKR needs fewer LUTs than sparse at {wins} of {len(dsp_lut)} grid points; IKR/sparse LUTs "
                f"{spread(dsp_lut)}. By K and library:"]
        out += per_library(dsp_lut, "IKR/sparse LUTs")
    lut = pairs(rows, False, "sparse")
    if lut:
        wins, clear = sum(v < 1 for v, _ in lut), sum(v < 0.95 for v, _ in lut)
        out += [f"- Without DSP the multipliers are built from LUTs and dominate, so the same multiplexer "
                f"saving is a smaller share: IKR needs fewer LUTs than sparse at {wins} of {len(lut)} grid "
                f"points ({clear} by 5% or more); IKR/sparse LUTs {spread(lut)}. By K and library:"]
        out += per_library(lut, "IKR/sparse LUTs")
        shrinks, total, worst = subset_shrinks(rows)
        if shrinks:
            out.append(f"- Read no-DSP differences under about {max(10, round(100 * worst, -1)):.0f}% as noise of "
                       f"ABC's LUT mapping: the L=4 library, whose multiplexers are never wider than those "
                       f"of L=8 (it is L=8's first four patterns), still needs more LUTs than L=8 at "
                       f"{shrinks} of {total} no-DSP points, by up to {100 * worst:.0f}%.")
        per_multiply = [f"{r['kh']}x{r['kh']} {r['weight_bits']}-bit {r['lut'] / (r['kh'] * r['kw']):.0f}"
                        for r in grid if r["form"] == "dense" and not r["dsp_mapping"]]
        out.append("- Yosys 0.23 has no Booth multiplier pass, so its LUT multipliers are large (dense PE LUTs per "
                   f"multiply-add: {', '.join(per_multiply)}); with smaller multipliers the multiplexers, which IKR "
                   "shrinks, would be a larger share of the no-DSP PE (not measured here).")
        ff = pairs(rows, False, "sparse", "ff")
        deeper = sum(r["depth"] > find(rows, form="sparse", kh=r["kh"], keep=r["keep"],
                                       weight_bits=r["weight_bits"], dsp_mapping=False)["depth"] for _, r in lut)
        out.append(f"- Flip-flops (no DSP) IKR/sparse {spread(ff)}: one pattern id instead of an index per "
                   f"weight. Logic depth (no DSP): IKR deeper than sparse at {deeper} of {len(lut)} points.")
    ikr = [r for r in grid_rows(rows) if r["form"] == "ikr" and not r["dsp_mapping"] and r["weight_bits"] == 8]
    if ikr:
        widths = []
        for k in sorted({r["kh"] for r in ikr}):
            for size in sorted({r["library_size"] for r in ikr}):
                means = [mux_inputs(r) for r in ikr if r["kh"] == k and r["library_size"] == size]
                if means:
                    widths.append(f"{k}x{k} L={size}: {min(means):.1f} to {max(means):.1f} of {k * k}")
        out.append("- Why large libraries lose their edge: the mean multiplexer inputs per IKR multiplier "
                   f"(distinct positions at its slot; sparse: all K*K) are {'; '.join(widths)}. A 16-pattern "
                   "library on a 3x3 kernel reaches most positions at every slot and decodes a 4-bit pattern id, "
                   "as wide as a position index: in LUTs that PE is no cheaper than the sparse one (it still "
                   "needs one id per kernel instead of keep indices, in registers and in memory).")
    dense_nodsp = pairs(rows, False, "dense")
    if dense_nodsp:
        out.append(f"- Against the dense PE without DSP: IKR/dense LUTs {spread(dense_nodsp)} (keep of K*K "
                   "multipliers, plus multiplexers).")
    dense = [r for r in mapped if r["form"] == "dense"]
    ikr_mapped = [r for r in mapped if r["form"] == "ikr"]
    if dense and ikr_mapped:
        cascade = " (its adder tree goes into the DSP48E1 cascade)" if all(r["lut"] == 0 for r in dense) else ""
        most = max(r["lut"] for r in dense)
        out.append(f"- With DSP mapping the dense PE needs {f'up to {most}' if most else 'no'} LUTs{cascade}, "
                   f"while IKR needs {min(r['lut'] for r in ikr_mapped)} to {max(r['lut'] for r in ikr_mapped)} "
                   "LUTs of multiplexers beside its DSPs: there IKR saves DSP48E1s (keep instead of K*K), and "
                   "costs LUTs and flip-flops that the dense PE does not have.")
    real = [r for r in rows if r["form"] != "rom" and r["source"] and not r["source"].startswith("random")]
    for source in dict.fromkeys(r["source"] for r in real):
        pair = {dsp: find(real, source=source, weight_bits=8, dsp_mapping=dsp) for dsp in (False, True)}
        if not all(pair.values()):
            continue
        r = pair[False]
        sparse = {dsp: find(rows, form="sparse", kh=r["kh"], keep=r["keep"], weight_bits=8, dsp_mapping=dsp)
                  for dsp in (False, True)}
        if not all(sparse.values()):
            continue
        out.append(f"- LeNet-5 {source.split()[-1]} (keep {r['keep']}/{r['kh'] * r['kw']}, {r['library_size']} "
                   f"patterns, {mux_inputs(r):.1f} multiplexer inputs per multiplier), 8-bit: "
                   + ", ".join(f"{pair[dsp]['lut']} LUTs against sparse {sparse[dsp]['lut']} "
                               f"{'with' if dsp else 'without'} DSP ({ratio(pair[dsp]['lut'], sparse[dsp]['lut'])})"
                               for dsp in (False, True)) + ".")
    return out


def markdown(data: dict) -> str:
    rows = data["rows"]
    n_forms = {f: sum(r["form"] == f for r in rows) for f in ("ikr", "sparse", "dense")}
    doc = [SECTION, "",
           "One conv processing element (PE) in three forms, generated by `ikr_hls.rtl` from "
           "templates/rtl/ and simulated bit for bit against the numpy reference in tests/test_rtl.py: "
           "**IKR** (`keep` multipliers, each fed by a multiplexer over the distinct positions the layer's "
           "pattern library puts at its slot, selected by a pattern id), **sparse** (`keep` multipliers, "
           "each with a free KH*KW-to-1 position index) and **dense** (KH*KW multipliers, no index). "
           "Inputs registered, output registered (latency 2 cycles); signed W-bit weights and A-bit "
           "activations (W = A = width); accumulator W + A + ceil(log2(products)) bits, which cannot "
           "overflow.", "",
           f"Synthesis: yosys `{SYNTH_COMMAND}` (out of context: no I/O or clock buffers), with DSP48E1 "
           "mapping and with `-nodsp`, then `stat`. Each cell reads **LUT / FF / CARRY4 / DSP48E1 / depth**: "
           "LUT = LUT1..LUT6 (MUXF7/MUXF8 are counted apart, in the JSON), FF = FD* cells, depth = the most "
           f"cells on a register-to-register path (`{DEPTH_COMMAND}` on the mapped netlist: LUT, MUXF, "
           "CARRY4 and DSP48E1 each count one level; a timing proxy, not a timing analysis, and with DSP "
           "mapping not comparable with -nodsp, since a DSP48E1 counts as one level with yosys's packed "
           "registers inside). IKR cells end with (IKR LUTs / sparse LUTs at the same keep). Libraries: "
           f"random distinct patterns (seed {data['seed']} + 100 K + keep), L=4 and 8 being the first "
           "patterns of L=16; L only where C(K*K, keep) allows that many patterns.", "",
           f"Command (run from the repository root, {data['seconds'] / 60:.0f} min wall on {data['jobs']} "
           f"parallel yosys processes, {data['cpu_seconds'] / 60:.0f} min of yosys time in total, "
           f"{n_forms['ikr']} IKR, {n_forms['sparse']} sparse and {n_forms['dense']} dense syntheses), "
           f"{data['yosys']}:", "", "```", data["command"], "```", "",
           "The table also ships as package data, `ikr_hls/rtl/pe_synthesis.json`, with the command and "
           "the yosys version.", ""]
    doc += tables(rows) + lenet_table(rows)
    doc += ["What the numbers say:", ""] + findings(rows)
    return "\n".join(doc).rstrip("\n") + "\n"


# --- the rom section ---------------------------------------------------------------------

def ikr_twin(rows, r: dict):
    """The IKR PE row with a rom row's library, widths and DSP mapping (weights and id as inputs)."""
    return find(rows, form="ikr", library=r["library"], weight_bits=r["weight_bits"], act_bits=r["act_bits"],
                dsp_mapping=r["dsp_mapping"])


def rom_pairs(rows) -> list[tuple[dict, dict]]:
    """(rom row, its IKR twin) for every rom row that has one."""
    pairs_ = [(r, ikr_twin(rows, r)) for r in rows if r["form"] == "rom"]
    return [(r, twin) for r, twin in pairs_ if twin]


def rom_ids(r: dict) -> list[int]:
    return [word[0] if word else 0 for word in r["rom"]]       # an idle cycle holds pattern 0


def priced_rom(r: dict) -> int:
    """LUTs ikr_hls.fpga_estimate prices this PE's ROMs at for 7-series (conv_pe.cost's: `keep`
    weight ROMs and a pattern-id ROM, each of depth R)."""
    luts = memory_price(Memory("PE weights", "ROM", r["keep"], r["rom_depth"], r["weight_bits"]), "xc7")["lut"]
    if index_bits(r["library_size"]):
        luts += memory_price(Memory("PE pattern ids", "ROM", 1, r["rom_depth"], index_bits(r["library_size"])),
                             "xc7")["lut"]
    return round(luts)


def word_bits(r: dict) -> int:
    """Bits of a ROM word: keep weights and a pattern id (at least one bit, as the Verilog has)."""
    return r["keep"] * r["weight_bits"] + max(1, index_bits(r["library_size"]))


def word_ffs(r: dict) -> int:
    """Flip-flops yosys kept of the registered ROM word (weights_q and pattern_q)."""
    return r["ff_by_register"].get("weights_q", 0) + r["ff_by_register"].get("pattern_q", 0)


def window_positions(r: dict) -> float:
    """Window positions whose registers yosys kept (window_q flip-flops / A)."""
    return r["ff_by_register"].get("window_q", 0) / r["act_bits"]


def library_positions(r: dict) -> int:
    """Window positions some pattern of the library reads (all feed the IKR PE's multiplexers)."""
    return len({p for pattern in r["library"] for p in pattern})


ROM_COLUMNS = ("ROM PE", "IKR PE", "ROM/IKR LUT", "ROM/IKR FF", "IKR + priced ROM, LUT", "ROM PE LUT per kernel",
               "ROM word FFs / bits", "window positions kept / library's", "patterns in ROM")


def rom_cells(r: dict, t: dict) -> str:
    """The ROM_COLUMNS of a rom row r and its IKR twin t."""
    with_rom = t["lut"] + priced_rom(r)
    return (f"{cell(r)} | {cell(t)} | {ratio(r['lut'], t['lut'])} | {ratio(r['ff'], t['ff'])} | "
            f"{with_rom} ({ratio(r['lut'], with_rom)}) | {r['lut'] / r['rom_depth']:.0f} | "
            f"{word_ffs(r)} / {word_bits(r)} | {window_positions(r):g} / {library_positions(r)} | "
            f"{len(set(rom_ids(r)))}")


def header(first: list[str], numeric: int) -> list[str]:
    names = first + list(ROM_COLUMNS)
    return ["| " + " | ".join(names) + " |",
            "| " + " | ".join(["---:"] * numeric + ["---"] * (len(first) - numeric) + ["---:"] * len(ROM_COLUMNS))
            + " |"]


def rom_table(pairs_: list) -> list[str]:
    out = []
    for width in sorted({r["weight_bits"] for r, _ in pairs_}):
        for dsp in (False, True):
            subset = [(r, t) for r, t in pairs_ if r["weight_bits"] == width and r["dsp_mapping"] == dsp]
            if not subset:
                continue
            out += [f"**{width}-bit, {'with DSP48E1' if dsp else 'no DSP (-nodsp)'}.**", ""]
            out += header(["K", "keep", "L", "R"], 4)
            for r, t in sorted(subset, key=lambda p: (p[0]["kh"], p[0]["keep"], p[0]["library_size"],
                                                      p[0]["rom_depth"])):
                out.append(f"| {r['kh']} | {r['keep']} | {r['library_size']} | {r['rom_depth']} | {rom_cells(r, t)} |")
            out.append("")
    return out


def by_depth(pairs_, dsp: bool, value) -> list[str]:
    """Per R: the spread of value(rom row, IKR row) over the rows of that R and DSP mode."""
    out = []
    for depth in sorted({r["rom_depth"] for r, _ in pairs_}):
        values = [(value(r, t), r) for r, t in pairs_ if r["rom_depth"] == depth and r["dsp_mapping"] == dsp]
        if values:
            out.append(f"R={depth}: {spread(values)}")
    return out


def rom_findings(pairs_: list) -> list[str]:
    """Sentences counted from the rom rows (so a rerun cannot leave them stale)."""
    grid = [(r, t) for r, t in pairs_ if r["source"].startswith("random")]
    if not grid:
        return []
    out = []
    for dsp in (False, True):
        rows_ = [(r, t) for r, t in grid if r["dsp_mapping"] == dsp]
        if rows_:
            smaller = sum(r["lut"] < t["lut"] for r, t in rows_)
            out.append(f"- {'With' if dsp else 'Without'} DSP, ROM PE / IKR PE LUTs by ROM depth: "
                       + "; ".join(by_depth(grid, dsp, lambda r, t: r["lut"] / t["lut"]))
                       + f". The ROM PE, its weight storage included, needs fewer LUTs than the IKR PE at {smaller} "
                       f"of {len(rows_)} points. Flip-flops ROM / IKR: "
                       + "; ".join(by_depth(grid, dsp, lambda r, t: r["ff"] / t["ff"])) + ".")
    nodsp = [(r, t) for r, t in grid if not r["dsp_mapping"]]
    if nodsp:
        kept = "; ".join(by_depth(nodsp, False, lambda r, t: word_ffs(r) / word_bits(r)))
        window = "; ".join(by_depth(nodsp, False, lambda r, t: window_positions(r) / library_positions(r)))
        out.append("- Why a shallow ROM is cheap (no DSP, counted on the netlists): the ROM's words are "
                   "constants, so each bit of the registered word is a function of the cycle alone; yosys "
                   "drops the constant bits and merges equal ones (at R=2 every bit is 0, 1, r or not r). "
                   f"ROM-word flip-flops kept / word bits: {kept}. Where the pattern-id bits fold too, the "
                   "multipliers multiply by one of R constants and the multiplexers lose the positions no held "
                   f"pattern reads; window positions kept / the library's: {window}. From 8 words up yosys "
                   "holds the ROM as a memory (its proc_rom pass) and keeps its registered word, constant bits "
                   "aside: the PE is then the IKR PE with a ROM in front.")
    for dsp in (False, True):
        deep = [(r, t) for r, t in grid if r["rom_depth"] == max(ROM_DEPTHS) and r["dsp_mapping"] == dsp]
        if deep:
            extra = [r["lut"] - t["lut"] for r, t in deep]
            priced = [priced_rom(r) for r, _ in deep]
            out.append(f"- What the ROM costs at R={max(ROM_DEPTHS)}, {'with' if dsp else 'without'} DSP: ROM PE - "
                       f"IKR PE {min(extra)} to {max(extra)} LUTs (median {statistics.median(extra):.0f}), against "
                       f"{min(priced)} to {max(priced)} LUTs that ikr_hls.fpga_estimate prices the same ROMs at (one "
                       "LUT per word bit up to depth 64; differences of a few percent of a PE are within the noise "
                       "of ABC's LUT mapping that the section above shows). "
                       + f"Flip-flops ROM / IKR {spread([(r['ff'] / t['ff'], r) for r, t in deep])}; ROM-word "
                       f"flip-flops kept {sum(map(word_ffs, (r for r, _ in deep)))} of "
                       f"{sum(map(word_bits, (r for r, _ in deep)))} bits over these PEs"
                       + ("." if not dsp else ": the IKR PE's weight register goes into the DSP48E1s' input "
                          "registers (seen on the 3x3 keep 4 L=4 8-bit netlist), while yosys maps DSPs before "
                          "memories, so the ROM memory's registered word stays in the fabric."))
    for dsp in (False, True):
        rows_ = [(r, t) for r, t in grid if r["dsp_mapping"] == dsp]
        if rows_:
            wins = sum(r["lut"] <= t["lut"] + priced_rom(r) for r, t in rows_)
            out.append(f"- Per kernel served, {'with' if dsp else 'without'} DSP: one ROM PE serves R kernels from "
                       "its own ROM; the alternative is an IKR PE fed from a separate ROM of the same words (its "
                       "LUTs measured, the ROM priced by the estimator). ROM PE / (IKR PE + priced ROM) LUTs: "
                       + "; ".join(by_depth(grid, dsp, lambda r, t: r["lut"] / (t["lut"] + priced_rom(r))))
                       + f"; the ROM PE is no larger at {wins} of {len(rows_)} points.")
    empty = [r for r, _ in grid if r["lut"] == 0 and r["ff"] == 0]
    if empty:
        out.append(f"- {len(empty)} ROM PE(s) need no LUT and no flip-flop at all ("
                   + ", ".join(f"{r['kh']}x{r['kh']} keep {r['keep']} L={r['library_size']} R={r['rom_depth']} "
                               f"{r['weight_bits']}-bit" for r in empty)
                   + ", with DSP): their ROM holds " + " / ".join(str(len(set(rom_ids(r)))) for r in empty)
                   + " pattern(s), so no multiplexer is left, and the cycle bit, the window and the sum go into "
                   "the DSP48E1s' own registers and ports (" + ", ".join(
                       f"{r['cells'].get('INV', 0)} INV" for r in empty) + ").")
    most = max((r for r, _ in pairs_ if r["lut"]), key=lambda r: r["cells"].get("INV", 0))
    out.append(f"- INV cells (not in the LUT counts, as above): at most {most['cells'].get('INV', 0)} in a ROM PE "
               f"({100 * most['cells'].get('INV', 0) / most['lut']:.1f}% of its {most['lut']} LUTs); at most "
               f"{max(100 * r['cells'].get('INV', 0) / r['lut'] for r, _ in pairs_ if r['lut']):.0f}% of any ROM "
               "PE's LUTs.")
    real = [(r, t) for r, t in pairs_ if not r["source"].startswith("random")]
    if real:
        out.append(f"- The LeNet-5 conv2 PE (R={real[0][0]['rom_depth']}, "
                   f"{len(set(rom_ids(real[0][0])))} of {real[0][0]['library_size']} patterns in its ROM): ROM / IKR "
                   + ", ".join(f"{ratio(r['lut'], t['lut'])} LUTs and {ratio(r['ff'], t['ff'])} FFs at "
                               f"{r['weight_bits']} bits {'with' if r['dsp_mapping'] else 'without'} DSP"
                               for r, t in real) + ".")
    out.append("- The ROM PE's multiplexers are never wider than the IKR PE's: they are the same multiplexers over "
               "the library's positions, narrowed by synthesis where the ROM's pattern ids fold. What the pe "
               "strategy adds beyond this PE is not measured here: the shared PEs' choice of input channel by "
               "cycle, and the adders that route each cycle's sums to their output channels.")
    return out


def depth_levels(pairs_) -> str:
    """Logic depth (cells on the longest path) of the ROM PE against the IKR PE."""
    diffs = [r["depth"] - t["depth"] for r, t in pairs_]
    return (f"logic depth ROM PE - IKR PE {min(diffs)} to {max(diffs)} levels "
            f"(deeper at {sum(d > 0 for d in diffs)} of {len(diffs)} points)")


def rom_markdown(data: dict) -> str:
    rows = data["rows"]
    pairs_ = rom_pairs(rows)
    twins = {id(t) for _, t in pairs_}
    doc = [SECTION_ROM, "",
           "The PE of the conv strategy `pe` (ikr_hls/kinds/conv2d/pe.py) as the package writes it, form `rom` of "
           "`ikr_hls.rtl` (templates/rtl/pe_rom.v.j2), simulated bit for bit against the numpy reference and "
           "against the pe strategy's own reference (conv_pe.accumulate, on the shipped LeNet-5's conv2) in "
           "tests/test_rtl.py: the IKR PE's datapath (keep multipliers behind the pattern multiplexers, the "
           "adder, the output register; latency 2) whose weights and pattern id come from its own ROM of "
           "depth R, read at the pixel's cycle r (an input) into the stage-1 registers, like an HLS ROM read "
           "in a pipeline. Its window is its one input channel's: the PEs that take the remainders of several "
           "channels and choose their channel by cycle are not modelled (they add an R:1 choice per window "
           "position and bit, which the estimator prices as `PE inputs` multiplexers).", "",
           "Each ROM PE stands beside the **IKR PE** of the same library and widths, whose weights and "
           "pattern id are inputs (the rows of the section above): the same datapath, its stage-1 registers "
           "loaded from ports instead of the ROM, and no weight storage. **IKR + priced ROM** adds what "
           "ikr_hls.fpga_estimate prices that PE's ROMs at (`keep` weight ROMs and one pattern-id ROM of depth "
           "R: one LUT per bit up to depth 64). **Per kernel**: the ROM PE's LUTs / R, since it serves R "
           "kernels. **ROM word FFs**: the flip-flops yosys kept of the registered ROM word (keep x W + "
           "pattern-id bits; the rest are constants or copies), **window positions kept**: the window "
           "registers it kept (flip-flops / A) against the positions the library reads, **patterns in ROM**: "
           "distinct pattern ids the ROM holds (FFs and window positions counted on the netlist; with DSP48E1 "
           "mapping some registers sit inside the DSPs). Cells read LUT / FF / CARRY4 / DSP48E1 / depth as above (INV "
           "cells counted apart, as there).", "",
           f"Points: K x K kernels with keep {', '.join(f'{k}x{k}: {set_(v)}' for k, v in ROM_KEEPS.items())}, "
           f"the section above's random libraries of L = {set_(ROM_SIZES)} patterns, R = {set_(ROM_DEPTHS)}, "
           "widths 8 and 16 (W = A), with and without DSP48E1 mapping; ROM words from `random_rom` (seed "
           f"{data['seed']} + 100 K + keep + 10000 R): uniform pattern ids, uniform weight codes with a fifth at "
           "the extremes. The shipped LeNet-5's conv2: PE "
           f"{LENET_ROM['pe']} of `conv_pe.plan(kernel, {LENET_ROM['depth']})`, its kernel quantised to "
           "ap_fixed<16,6> (the converter's default) or, at 8 bits, to the fewest integer bits that hold its "
           "largest weight.", "",
           f"Command (run from the repository root, {data['seconds'] / 60:.0f} min wall on {data['jobs']} parallel "
           f"yosys processes; {len(pairs_)} ROM PEs and {len(twins)} IKR PEs"
           + (f", {data['reused']} of these IKR PEs taken from the shipped table ikr_hls/rtl/pe_synthesis.json, "
              "measured with the same yosys" if data.get("reused") else "") + f"), {data['yosys']}:", "",
           "```", data["command"], "```", ""]
    doc += rom_table([(r, t) for r, t in pairs_ if r["source"].startswith("random")])
    real = [(r, t) for r, t in pairs_ if not r["source"].startswith("random")]
    if real:
        doc += ["**The shipped LeNet-5's conv2**, one PE of the pe strategy:", ""]
        doc += header(["width", "PE", "DSP"], 1)
        for r, t in sorted(real, key=lambda p: (p[0]["weight_bits"], p[0]["dsp_mapping"])):
            doc.append(f"| {r['weight_bits']} | {r['source'].split(', ', 1)[1]} | "
                       f"{'yes' if r['dsp_mapping'] else 'no'} | {rom_cells(r, t)} |")
        doc.append("")
    doc += ["What the numbers say:", ""] + rom_findings(pairs_)
    if pairs_:
        doc.append(f"- Timing proxy: {depth_levels(pairs_)}.")
    return "\n".join(doc).rstrip("\n") + "\n"


def set_(values) -> str:
    return "{" + ", ".join(map(str, values)) + "}"


# --- main ----------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a handful of points (3x3, 8-bit, LeNet conv2), a smoke run")
    p.add_argument("--rom", action="store_true", help="only the rom sweep: the pe strategy's ROM PEs and their IKR PEs")
    p.add_argument("--jobs", type=int, default=2, help="yosys processes in parallel (default 2)")
    p.add_argument("--json", metavar="PATH", help="write the measured table as JSON")
    p.add_argument("--write", metavar="MD", help=f"write the section '{SECTION}' into this Markdown file")
    p.add_argument("--markdown", metavar="PATH", help="write the Markdown section(s) alone to PATH")
    p.add_argument("--from-json", metavar="PATH", help="no synthesis: render the Markdown of a saved run")
    return p.parse_args(argv)


def chosen_points(args) -> list[dict]:
    if args.quick:
        points = grid_points(kernels=(3,), keeps=(2, 4), sizes=(4, 8), widths=(8,))
        points += [p for p in lenet_points(widths=(8,), dsps=(False,)) if p["source"].endswith("conv2")]
        points += rom_points(kernels=(3,), keeps={3: (4,)}, sizes=(8,), depths=(2, 8), widths=(8,), dsps=(False,))
        points += lenet_rom_points(widths=(8,), dsps=(False,))
    elif args.rom:
        points = rom_points() + lenet_rom_points()
    else:
        points = grid_points() + lenet_points() + rom_points() + lenet_rom_points()
    return unique(points)


def shipped_rows(points: list[dict], version: str) -> tuple[list[dict], list[dict]]:
    """(rows, points left): the IKR points that the shipped table measured with this same yosys
    version (same library, widths, accumulator and DSP mapping), as its rows, marked "reused"."""
    table = load_measured_table()
    if table.get("yosys") != version:
        return [], points
    reused, left = [], []
    for p in points:
        spec = p["spec"]
        hit = find(table["rows"], form="ikr", library=[list(x) for x in spec.library], weight_bits=spec.weight_bits,
                   act_bits=spec.act_bits, acc_bits=spec.acc_bits, dsp_mapping=p["dsp_mapping"]) \
            if p["form"] == "ikr" else None
        if hit:
            reused.append(dict(hit, reused="ikr_hls/rtl/pe_synthesis.json"))
        else:
            left.append(p)
    return reused, left


def measure(args, argv) -> dict:
    points = chosen_points(args)
    version = yosys_version()
    reused, points = shipped_rows(points, version) if args.rom else ([], points)
    print(f"{len(points)} syntheses with {version}, {args.jobs} at a time"
          + (f"; {len(reused)} IKR PEs from the shipped table" if reused else ""), flush=True)
    start = time.monotonic()
    rows = synthesize_all(points, args.jobs)
    seconds = time.monotonic() - start
    print(f"done in {seconds / 60:.1f} min", flush=True)
    return dict(command="python bench/pe_synthesis.py " + shlex.join(argv), regenerate=REGENERATE,
                yosys=version, flow=f"{SYNTH_COMMAND} -top <module> [-nodsp]; stat; {DEPTH_COMMAND}",
                seed=SEED, jobs=args.jobs, cpu_count=os.cpu_count(), seconds=round(seconds, 1),
                cpu_seconds=round(sum(r["seconds"] for r in rows), 1), reused=len(reused),
                units=dict(lut="LUT1..LUT6", ff="FD* cells", carry="CARRY4", dsp="DSP48E1",
                           muxf="MUXF7 + MUXF8", depth="cells on the longest register-to-register path",
                           seconds="yosys wall time of that synthesis"),
                rows=rows + reused)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.from_json:
        data = json.loads(Path(args.from_json).read_text())
    else:
        data = measure(args, argv)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {args.json}")
    forms = {r["form"] for r in data["rows"]}
    sections = ([(SECTION, markdown(data))] if "sparse" in forms else []) + \
               ([(SECTION_ROM, rom_markdown(data))] if "rom" in forms else [])
    text = "\n".join(body for _, body in sections)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
        print(f"wrote {args.markdown}")
    if args.write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from compression import write_section  # the other benchmarks' section writer
        for section, body in sections:
            write_section(Path(args.write), body, section)
            print(f"wrote {section!r} into {args.write}")


if __name__ == "__main__":
    main()
