"""Operator synthesis (issue 26): every operator the resource estimate prices, through yosys for
7-series (`synth_xilinx -family xc7`) and UltraScale+ (`-family xcup`), into the table that
ships as ikr_hls/rtl/operator_synthesis.json and that ikr_hls/fpga_estimate.py prices with.

    python bench/operator_synthesis.py [--quick] [--jobs 2] [--json PATH] [--write docs/BENCHMARKS.md]
    python bench/operator_synthesis.py --from-json ikr_hls/rtl/operator_synthesis.json --write docs/BENCHMARKS.md

The operators are ikr_hls.rtl.operators (templates/rtl/op_*.v.j2), out of context. Points, per family:
  add, compare, max, relu, clip   at widths 2 .. 64 bits
  mux                             2 .. 64 ways of 8 bits, and 2 .. 16 ways of 16 bits
  counter                         loop counters of 2 .. 65536 values; register 1 .. 32 bits
  mul                             generic signed products, both widths in MUL_WIDTHS, with DSP
                                  mapping (DSP48E1/E2) and without (-nodsp: LUTs and carries)
  constmul                        a value of CONSTMUL_DATA bits times a constant, the shift-and-add
                                  of its canonical signed digits: the constants are the shipped
                                  LeNet-5's weights as codes of ap_fixed<8,3> and ap_fixed<16,6>
                                  (the most frequent ones for each count of digits), and where a
                                  count of digits has none, a synthetic constant of that many
  ram                             distributed RAM at depths 16 .. 512, block RAM at depths
                                  64 .. 16384 and widths 1 .. 72 (the block shapes)
  rom                             ROMs in LUTs of depth 16 .. 1024, random contents
  srl                             the shift-register FIFO Vitis writes for depth <= 2
Syntheses run in parallel (--jobs yosys processes).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ikr_hls.rtl.operators import OperatorSpec, csd, csd_digits, synthesize_operator  # noqa: E402
from ikr_hls.rtl.synthesis import DEPTH_COMMAND, FAMILIES, synth_command  # noqa: E402
from ikr_hls.rtl.tools import yosys_version  # noqa: E402

SECTION = "## Operator synthesis: the prices of the resource estimate (issue 26)"
REGENERATE = ("python bench/operator_synthesis.py --json ikr_hls/rtl/operator_synthesis.json "
              "--write docs/BENCHMARKS.md")
LENET = ROOT / "examples" / "models" / "lenet5_ikr.h5"
ARITH_WIDTHS = (2, 4, 8, 12, 16, 20, 24, 32, 40, 48, 56, 64)
COMPARE_WIDTHS = (2, 4, 8, 12, 16, 24, 32, 48)
MUX_WAYS = (2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 64)
COUNTER_DEPTHS = (2, 3, 4, 8, 16, 34, 64, 100, 256, 1024, 4096, 65536)
MUL_WIDTHS = (4, 8, 12, 16, 18, 24, 27, 32)
CONSTMUL_DATA = (4, 8, 16, 24)
CONSTMUL_TYPES = ((8, 3), (16, 6))          # ap_fixed<W, I> of the weights whose codes are measured
PER_DIGITS = 3                              # constants measured per count of digits
RAM_DISTRIBUTED = ((16, 32, 64, 128, 256, 512), (1, 8, 16))
RAM_BLOCK = ((512, 1024, 2048, 4096, 8192, 16384), (1, 2, 4, 9, 18, 36, 72))
ROM_DEPTHS, ROM_WIDTHS = (16, 32, 64, 128, 256, 512, 1024), (8, 16)
SRL_WIDTHS = (8, 16, 32, 64, 128, 256, 512)


def lenet_codes(width: int, integer: int) -> np.ndarray:
    """|codes| of the shipped LeNet-5's nonzero weights as ap_fixed<width, integer> (kernels of
    every Conv2D and Dense), rounded as the converter quantizes them."""
    from ikr_hls.modelfile import load_keras_model
    from ikr_hls.precision import FixedType, to_codes

    t = FixedType(True, width, integer)
    codes = []
    for layer in load_keras_model(LENET).layers:
        if type(layer).__name__ in ("Conv2D", "Dense"):
            kernel = layer.get_weights()[0]
            codes.append(np.abs(to_codes(kernel[kernel != 0], t)).reshape(-1))
    return np.concatenate(codes)


def synthetic_constant(digits: int, width: int) -> int:
    """A constant of `digits` canonical signed digits below 2^(width-1): +2^0 +2^2 +2^4 ..."""
    value = sum(1 << (2 * k) for k in range(digits))
    if value >= 1 << (width - 1):
        raise ValueError(f"{digits} digits do not fit {width} bits")
    return value


def chosen_constants(quick: bool = False) -> list[tuple[int, int, str]]:
    """(constant, its type's width, source) to measure: for each weight type and each count of
    CSD digits, the most frequent LeNet-5 codes with that many digits; synthetic ones for the
    counts no code has (up to the most a code of that width can have)."""
    out = []
    for width, integer in CONSTMUL_TYPES[-1:] if quick else CONSTMUL_TYPES:
        codes = lenet_codes(width, integer)
        counts = Counter(int(c) for c in codes if c)
        digits = {c: int(d) for c, d in zip(counts, csd_digits(np.array(list(counts))), strict=True)}
        most = (width + 1) // 2                       # the most digits a (width-1)-bit magnitude has
        for d in range(1, most + 1):
            mine = sorted((c for c in counts if digits[c] == d), key=lambda c: (-counts[c], c))
            if mine:
                out += [(c, width, f"LeNet-5 ap_fixed<{width},{integer}>, {counts[c]} weight(s)")
                        for c in mine[:1 if quick else PER_DIGITS]]
            else:
                try:
                    out.append((synthetic_constant(d, width), width, "synthetic"))
                except ValueError:
                    continue
    return out


def point(spec: OperatorSpec, family: str, dsp: bool = True, source: str = "") -> dict:
    return dict(spec=spec, family=family, dsp_mapping=dsp, source=source)


def family_points(family: str, quick: bool = False) -> list[dict]:
    S = OperatorSpec
    if quick:
        pts = [point(S("add", w), family) for w in (8, 16)]
        pts += [point(S("mux", 8, ways=n), family) for n in (2, 4)]
        pts += [point(S("mul", 8, other=8), family, dsp) for dsp in (True, False)]
        pts += [point(S("constmul", 8, other=w, constant=c), family, source=src)
                for c, w, src in chosen_constants(quick=True)[:3]]
        return pts
    pts = [point(S("add", w), family) for w in ARITH_WIDTHS]
    pts += [point(S(op, w), family) for op in ("compare", "max", "relu") for w in COMPARE_WIDTHS]
    pts += [point(S("clip", w), family) for w in COMPARE_WIDTHS if w >= 4]
    pts += [point(S("mux", 8, ways=n), family) for n in MUX_WAYS]
    pts += [point(S("mux", 16, ways=n), family) for n in (2, 4, 8, 16)]
    pts += [point(S("counter", max(1, (d - 1).bit_length()), depth=d), family) for d in COUNTER_DEPTHS]
    pts += [point(S("register", w), family) for w in (1, 8, 16, 32)]
    pts += [point(S("mul", a, other=b), family, dsp) for i, a in enumerate(MUL_WIDTHS) for b in MUL_WIDTHS[i:]
            for dsp in (True, False)]
    pts += [point(S("constmul", a, other=w, constant=c), family, source=src)
            for c, w, src in chosen_constants() for a in CONSTMUL_DATA]
    depths, widths = RAM_DISTRIBUTED
    pts += [point(S("ram", w, depth=d, style="distributed"), family) for d in depths for w in widths]
    depths, widths = RAM_BLOCK
    pts += [point(S("ram", w, depth=d, style="block"), family) for d in depths for w in widths]
    pts += [point(S("rom", w, depth=d, seed=1000 + d + w), family) for d in ROM_DEPTHS for w in ROM_WIDTHS]
    pts += [point(S("srl", w, depth=2), family) for w in SRL_WIDTHS]
    return pts


def cost_guess(p: dict) -> float:
    """Rough relative run time, to start the longest syntheses first."""
    s = p["spec"]
    if s.op == "mul":
        return s.width * s.other * (0.2 if p["dsp_mapping"] else 1.0)
    if s.op == "rom":
        return s.depth * s.width / 8
    return s.width


def row(p: dict, result) -> dict:
    return dict(family=p["family"], dsp_mapping=p["dsp_mapping"], source=p["source"] or None,
                digits=len(csd(p["spec"].constant)) if p["spec"].op == "constmul" else None,
                **p["spec"].as_dict(), lut=result.lut, ff=result.ff, carry=result.carry, dsp=result.dsp,
                bram_18k=result.bram_18k, lutram=result.lutram, muxf=result.muxf, depth_levels=result.depth,
                seconds=result.seconds, cells=result.cells)


def key(p: dict) -> str:
    return json.dumps([p["family"], p["dsp_mapping"], p["spec"].as_dict()], sort_keys=True)


def row_key(r: dict) -> str:
    spec = {k: r[k] for k in ("op", "width", "other", "ways", "depth", "constant", "style", "seed") if k in r}
    return json.dumps([r["family"], r["dsp_mapping"], spec], sort_keys=True)


def synthesize_all(points: list[dict], jobs: int, checkpoint: Path | None = None) -> list[dict]:
    """Every point's row; with a checkpoint (JSON lines, one row each), the rows found there
    are kept and each new row is appended as it comes: an interrupted run goes on from there.
    The cheap points go first, so that a partial table covers every operator early."""
    done_rows = {}
    if checkpoint is not None and checkpoint.is_file():
        for line in checkpoint.read_text().splitlines():
            r = json.loads(line)
            done_rows[row_key(r)] = r
    rows: list = [done_rows.get(key(p)) for p in points]
    todo = sorted((i for i, r in enumerate(rows) if r is None), key=lambda i: cost_guess(points[i]))
    print(f"{len(points) - len(todo)} rows from {checkpoint}, {len(todo)} to synthesize", flush=True)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=jobs) as pool:       # each task waits on one yosys process
        futures = {pool.submit(synthesize_operator, points[i]["spec"], points[i]["family"],
                               points[i]["dsp_mapping"]): i for i in todo}
        for done, future in enumerate(as_completed(futures), 1):
            i = futures[future]
            rows[i] = r = row(points[i], future.result())
            if checkpoint is not None:
                with checkpoint.open("a") as out:
                    out.write(json.dumps(r) + "\n")
            print(f"[{done}/{len(todo)} {time.monotonic() - start:6.0f} s] {points[i]['family']} "
                  f"{points[i]['spec'].describe()}{'' if r['dsp_mapping'] else ', no DSP'}: {r['lut']} LUT "
                  f"{r['ff']} FF {r['dsp']} DSP {r['bram_18k']} BRAM_18K ({r['seconds']:.1f} s)", flush=True)
    return rows


# --- the Markdown section ------------------------------------------------------------------

def pick(rows, **keys) -> list:
    return [r for r in rows if all(r.get(k) == v for k, v in keys.items())]


def markdown(data: dict) -> str:
    rows = data["rows"]
    fams = [f for f in FAMILIES if any(r["family"] == f for r in rows)]
    doc = [SECTION, "",
           "Every operator that `ikr_hls/fpga_estimate.py` prices, as Verilog of its own (templates/rtl/op_*.v.j2, "
           "`ikr_hls.rtl.operators`), synthesized out of context by yosys for 7-series (`xc7`) and UltraScale+ "
           "(`xcup`). The table ships as `ikr_hls/rtl/operator_synthesis.json`; the estimate interpolates in it "
           "(docs/report.md says how far to trust the result). LUT counts are LUT sites (distributed RAM and "
           "SRL cells counted by the LUTs they occupy); INV cells are left out, as in the PE tables.", "",
           f"Command ({data['seconds'] / 60:.0f} min wall on {data['jobs']} parallel yosys processes, "
           f"{len(rows)} syntheses), {data['yosys']}:", "", "```", data["command"], "```", "",
           f"Flow per point: `{data['flow']}`.", ""]
    doc += ["**Arithmetic and choices**: LUTs by width (bits).", ""]
    for op in ("add", "compare", "max", "relu", "clip"):
        widths = sorted({r["width"] for r in pick(rows, op=op)})
        if op == "add":
            doc += ["| operator | family | " + " | ".join(str(w) for w in widths) + " |",
                    "| --- | --- | " + " | ".join("---:" for _ in widths) + " |"]
        for fam in fams:
            by = {r["width"]: r["lut"] for r in pick(rows, op=op, family=fam)}
            doc.append(f"| {op} | {fam} | " + " | ".join(str(by.get(w, "-")) for w in
                                                         sorted({r['width'] for r in pick(rows, op='add')})) + " |")
    doc.append("")
    ways = sorted({r["ways"] for r in pick(rows, op="mux", width=8)})
    doc += ["**Multiplexers** (8 bits; LUTs per bit in brackets):", "",
            "| family | " + " | ".join(f"{n}:1" for n in ways) + " |",
            "| --- | " + " | ".join("---:" for _ in ways) + " |"]
    for fam in fams:
        by = {r["ways"]: r["lut"] for r in pick(rows, op="mux", width=8, family=fam)}
        doc.append(f"| {fam} | " + " | ".join(f"{by[n]} ({by[n] / 8:.2f})" if n in by else "-" for n in ways) + " |")
    doc.append("")
    depths = sorted({r["depth"] for r in pick(rows, op="counter")})
    doc += ["**Loop counters** (LUT / FF):", "", "| family | " + " | ".join(str(d) for d in depths) + " |",
            "| --- | " + " | ".join("---:" for _ in depths) + " |"]
    for fam in fams:
        by = {r["depth"]: r for r in pick(rows, op="counter", family=fam)}
        doc.append(f"| {fam} | " + " | ".join(f"{by[d]['lut']} / {by[d]['ff']}" if d in by else "-"
                                             for d in depths) + " |")
    doc.append("")
    widths = sorted({r["width"] for r in pick(rows, op="mul")})
    for fam in fams:
        doc += [f"**Generic products, {fam}**: LUTs without DSP (-nodsp) / DSPs with DSP mapping, by operand widths:",
                "", "| bits | " + " | ".join(str(w) for w in widths) + " |",
                "| ---: | " + " | ".join("---:" for _ in widths) + " |"]
        for a in widths:
            cells = []
            for b in widths:
                lo, hi = min(a, b), max(a, b)
                lut = pick(rows, op="mul", family=fam, width=lo, other=hi, dsp_mapping=False)
                dsp = pick(rows, op="mul", family=fam, width=lo, other=hi, dsp_mapping=True)
                cells.append(f"{lut[0]['lut']} / {dsp[0]['dsp']}" if lut and dsp else "-")
            doc.append(f"| {a} | " + " | ".join(cells) + " |")
        doc.append("")
    data_bits = sorted({r["width"] for r in pick(rows, op="constmul")})
    for fam in fams:
        doc += [f"**Constant products, {fam}**: mean LUTs by the constant's canonical signed digits (d) and the "
                "data width; the constants' sources in the JSON:", "",
                "| constant type | d | constants | " + " | ".join(f"{a}-bit data" for a in data_bits) + " |",
                "| --- | ---: | ---: | " + " | ".join("---:" for _ in data_bits) + " |"]
        for w in sorted({r["other"] for r in pick(rows, op="constmul")}):
            for d in sorted({r["digits"] for r in pick(rows, op="constmul", other=w)}):
                these = pick(rows, op="constmul", family=fam, other=w, digits=d)
                consts = sorted({r["constant"] for r in these})
                cells = [f"{np.mean([r['lut'] for r in these if r['width'] == a]):.0f}"
                         if any(r["width"] == a for r in these) else "-" for a in data_bits]
                doc.append(f"| {w}-bit | {d} | {', '.join(map(str, consts))} | " + " | ".join(cells) + " |")
        doc.append("")
    doc += ["**Memories**: distributed RAM (LUTs), block RAM (BRAM_18K) and ROMs in LUTs, by depth x width; the "
            "shift-register FIFO of depth 2 (LUT / FF):", ""]
    for fam in fams:
        dist = pick(rows, op="ram", style="distributed", family=fam)
        block = pick(rows, op="ram", style="block", family=fam)
        rom = pick(rows, op="rom", family=fam)
        srl = pick(rows, op="srl", family=fam)
        doc.append(f"- {fam}: distributed RAM " + ", ".join(f"{r['depth']}x{r['width']}: {r['lut']}" for r in dist)
                   + "; block RAM " + ", ".join(f"{r['depth']}x{r['width']}: {r['bram_18k']}" for r in block)
                   + "; ROM " + ", ".join(f"{r['depth']}x{r['width']}: {r['lut']}" for r in rom)
                   + "; FIFO " + ", ".join(f"2x{r['width']}: {r['lut']} / {r['ff']}" for r in srl) + ".")
    return "\n".join(doc).rstrip("\n") + "\n"


# --- main ----------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a handful of points per family, a smoke run")
    p.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    p.add_argument("--jobs", type=int, default=2, help="yosys processes in parallel (default 2)")
    p.add_argument("--json", metavar="PATH", help="write the measured table as JSON")
    p.add_argument("--write", metavar="MD", help=f"write the section '{SECTION}' into this Markdown file")
    p.add_argument("--from-json", metavar="PATH", help="no synthesis: render the Markdown of a saved run")
    p.add_argument("--checkpoint", metavar="JSONL", help="keep each row here as it comes; a run given the same file "
                   "synthesizes only the points it lacks")
    return p.parse_args(argv)


def measure(args, argv) -> dict:
    points = [p for family in args.families for p in family_points(family, args.quick)]
    version = yosys_version()
    print(f"{len(points)} syntheses with {version}, {args.jobs} at a time", flush=True)
    start = time.monotonic()
    rows = synthesize_all(points, args.jobs, Path(args.checkpoint) if args.checkpoint else None)
    seconds = time.monotonic() - start
    print(f"done in {seconds / 60:.1f} min", flush=True)
    argv = [a for i, a in enumerate(argv) if a != "--checkpoint" and (i == 0 or argv[i - 1] != "--checkpoint")]
    flow = f"{synth_command('xc7').replace('xc7', '<xc7|xcup>')} -top <module> [-nodsp]; stat; {DEPTH_COMMAND}"
    return dict(command="python bench/operator_synthesis.py " + shlex.join(argv), regenerate=REGENERATE,
                yosys=version, flow=flow,
                families=list(args.families), jobs=args.jobs, cpu_count=os.cpu_count(), seconds=round(seconds, 1),
                cpu_seconds=round(sum(r["seconds"] for r in rows), 1),
                note="seconds: the wall time of the last run; a run resumed from a checkpoint adds earlier runs' rows",
                units=dict(lut="LUT1..LUT6 + LUT sites of distributed RAM and SRL cells (INV left out)",
                           ff="FD* cells", carry="CARRY4/CARRY8", dsp="DSP48E1 (xc7) / DSP48E2 (xcup)",
                           bram_18k="RAMB18 + 2 x RAMB36", lutram="of lut: distributed RAM and SRL LUT sites",
                           depth_levels="cells on the longest register-to-register path",
                           seconds="yosys wall time of that synthesis"),
                rows=rows)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    data = json.loads(Path(args.from_json).read_text()) if args.from_json else measure(args, argv)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {args.json}")
    text = markdown(data)
    print(text)
    if args.write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from compression import write_section  # the other benchmarks' section writer
        write_section(Path(args.write), text, SECTION)
        print(f"wrote {SECTION!r} into {args.write}")


if __name__ == "__main__":
    main()
