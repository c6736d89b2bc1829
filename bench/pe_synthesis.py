"""PE synthesis (issue 17): the IKR, unstructured sparse and dense conv PEs through yosys.

    python bench/pe_synthesis.py [--quick] [--jobs 2] [--json PATH] [--write docs/BENCHMARKS.md]
    python bench/pe_synthesis.py --from-json ikr_hls/rtl/pe_synthesis.json --write docs/BENCHMARKS.md

Every PE comes from ikr_hls.rtl (templates/rtl/) and goes through `synth_xilinx -family xc7`
out of context, with DSP48E1 mapping and again with -nodsp (see ikr_hls/rtl/synthesis.py for
the flow and the logic-depth proxy). Points:
  IKR     K in {3, 5}, keep 1..floor(K*K/2), library sizes {4, 8, 16} where C(K*K, keep)
          allows that many patterns (random distinct patterns, fixed seed; the smaller
          libraries are the first patterns of the larger), widths {8, 16} (W = A);
  sparse  each (K, keep, width); dense each (K, width);
  LeNet-5 the real conv libraries of examples/models/lenet5_ikr.h5, at both widths.
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

from ikr_hls.rtl import dense_pe, ikr_pe, random_library, sparse_pe, synthesize_pe, yosys_version  # noqa: E402
from ikr_hls.rtl.synthesis import DEPTH_COMMAND, SYNTH_COMMAND  # noqa: E402

SECTION = "## PE synthesis (issue 17)"
REGENERATE = "python bench/pe_synthesis.py --write docs/BENCHMARKS.md --json ikr_hls/rtl/pe_synthesis.json"
LENET = ROOT / "examples" / "models" / "lenet5_ikr.h5"
SEED = 17
KERNELS, WIDTHS, LIBRARY_SIZES = (3, 5), (8, 16), (4, 8, 16)


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


def cost_guess(p: dict) -> float:
    """Rough relative run time, to start the longest syntheses first."""
    spec = p["spec"]
    return spec.keep * spec.weight_bits * spec.act_bits * (0.3 if p["dsp_mapping"] else 1.0)


# --- running -------------------------------------------------------------------------------

def row(p: dict, result) -> dict:
    spec = p["spec"]
    return dict(form=p["form"], kh=spec.kh, kw=spec.kw, keep=spec.keep,
                library_size=p["library_size"], library=[list(x) for x in spec.library] or None,
                source=p["source"] or None, weight_bits=spec.weight_bits, act_bits=spec.act_bits,
                acc_bits=spec.acc_bits, dsp_mapping=p["dsp_mapping"], **result.as_dict())


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
    return [r for r in rows if r["source"] is None or r["source"].startswith("random")]


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
    real = [r for r in rows if r["source"] and not r["source"].startswith("random")]
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
    real = [r for r in rows if r["source"] and not r["source"].startswith("random")]
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


# --- main ----------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a handful of points (3x3, 8-bit, LeNet conv2), a smoke run")
    p.add_argument("--jobs", type=int, default=2, help="yosys processes in parallel (default 2)")
    p.add_argument("--json", metavar="PATH", help="write the measured table as JSON")
    p.add_argument("--write", metavar="MD", help=f"write the section '{SECTION}' into this Markdown file")
    p.add_argument("--from-json", metavar="PATH", help="no synthesis: render the Markdown of a saved run")
    return p.parse_args(argv)


def measure(args, argv) -> dict:
    if args.quick:
        points = grid_points(kernels=(3,), keeps=(2, 4), sizes=(4, 8), widths=(8,))
        points += [p for p in lenet_points(widths=(8,), dsps=(False,)) if p["source"].endswith("conv2")]
    else:
        points = grid_points() + lenet_points()
    version = yosys_version()
    print(f"{len(points)} syntheses with {version}, {args.jobs} at a time", flush=True)
    start = time.monotonic()
    rows = synthesize_all(points, args.jobs)
    seconds = time.monotonic() - start
    print(f"done in {seconds / 60:.1f} min", flush=True)
    return dict(command="python bench/pe_synthesis.py " + shlex.join(argv), regenerate=REGENERATE,
                yosys=version, flow=f"{SYNTH_COMMAND} -top <module> [-nodsp]; stat; {DEPTH_COMMAND}",
                seed=SEED, jobs=args.jobs, cpu_count=os.cpu_count(), seconds=round(seconds, 1),
                cpu_seconds=round(sum(r["seconds"] for r in rows), 1),
                units=dict(lut="LUT1..LUT6", ff="FD* cells", carry="CARRY4", dsp="DSP48E1",
                           muxf="MUXF7 + MUXF8", depth="cells on the longest register-to-register path",
                           seconds="yosys wall time of that synthesis"),
                rows=rows)


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
    text = markdown(data)
    print(text)
    if args.write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from compression import write_section       # the other benchmarks' section writer
        write_section(Path(args.write), text, SECTION)
        print(f"wrote {SECTION!r} into {args.write}")


if __name__ == "__main__":
    main()
