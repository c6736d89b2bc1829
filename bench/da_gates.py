"""Distributed arithmetic at the gate level (issue 28 item 4): da4ml's Verilog of whole layers,
simulated bit-exactly and synthesized, for dense, unstructured-sparse and IKR weights.

    python bench/da_gates.py [--layers conv1,conv2,fc1] [--bits 8,4] [--seeds 1] [--variants dense,sparse,ikr]
                             [--timeout 1800]
                             [--json PATH] [--write docs/BENCHMARKS.md]
    python bench/da_gates.py --from-json A.json [B.json ...] --write docs/BENCHMARKS.md

For LeNet-5's conv1, conv2 and fc1 and weight sets
  dense   the unpruned layer (examples/models/lenet5.h5, the dense LeNet-5 the IKR model was
          pruned from): every weight nonzero;
  sparse  the IKR model's nonzero values at random positions of the layer (seeds 0..S-1, --seeds): the same
          nonzero count and the same values as `ikr`, unstructured;
  ikr     the shipped IKR LeNet-5 (examples/models/lenet5_ikr.h5; its fc1 is magnitude-pruned
          by IKRPruning's dense_sparsity, not IKR),
each quantised as bench/da_ikr_vs_sparse.py does (weights ap_fixed<B,I,AP_RND,AP_SAT>, B in
--bits, I the fewest integer bits for the set's largest weight; inputs ap_fixed<16,6>), the
layer's per-pixel constant matrix (ikr_hls/da/matrix.py) is solved by da4ml (ikr_hls/da, the
solution cache), and da4ml's Verilog of the traced graph (ikr_hls/da/verilog.py):
  - is simulated with Icarus Verilog on the extreme input vectors and 1,000 random ones, every
    output compared with matrix @ x in int64 (a mismatch stops the bench);
  - is synthesized by yosys (synth_xilinx -family xc7 -flatten, -nodsp: there is no product)
    between an input register (the window's used positions) and an output register (the
    product sums): LUT, FF, CARRY4, and the logic depth between the registers (ltp).
A matrix above the solve bound (ikr_hls/da/bound.py: strategy "da" falls back to unrolled there)
is not solved, and a synthesis that runs past --timeout is recorded as such.

Beside them, the report's estimates for the same layer and weights (ikr_hls.convert(...).report(),
part xc7vx690t, so 7-series prices as the synthesis; precision ap_fixed<16,6>, the layer's weight
type as above, reuse factor 1) for strategies unrolled, pe (conv only) and da: the layer's
resources_estimate (LUT, DSP; the whole layer: its window, line buffers, bias, activation) and
its products + adders part (resources_by_part), the part comparable with the graph.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from compression import write_section  # noqa: E402
from da_ikr_vs_sparse import DENSE_MODEL, IKR_MODEL, IN_TYPE, kernels, shuffled, weight_type  # noqa: E402
from ikr_hls.da import MAX_DIGITS, csd_digits, solve_matrix  # noqa: E402
from ikr_hls.da.evaluate import random_codes  # noqa: E402
from ikr_hls.da.matrix import conv_kernel_matrix, dense_kernel_matrix  # noqa: E402
from ikr_hls.da.verilog import check_rtl, extreme_codes, synthesize_solution  # noqa: E402
from ikr_hls.errors import IKRHLSError  # noqa: E402
from ikr_hls.rtl import yosys_version  # noqa: E402

SECTION = "## Distributed arithmetic at the gate level: da4ml's Verilog synthesized (issue 28)"
PART = "xc7vx690t"
RANDOM_VECTORS = 1000
VARIANTS = ("dense", "sparse", "ikr")


def weight_sets(layer: str, seeds: int) -> list:
    """(variant, seed, kernel) of the layer's weight sets."""
    ikr, dense = kernels(IKR_MODEL), kernels(DENSE_MODEL)
    return ([("dense", None, dense[layer])] + [("sparse", s, shuffled(ikr[layer], s)) for s in range(seeds)]
            + [("ikr", None, ikr[layer])])


def gates(layer: str, variant: str, seed, kernel: np.ndarray, bits: int, timeout: float) -> dict:
    build = conv_kernel_matrix if kernel.ndim == 4 else dense_kernel_matrix
    w_t = weight_type(kernel, bits)
    m = build(f"{layer}_{variant}{'' if seed is None else seed}_{bits}", kernel, IN_TYPE, w_t)
    row = dict(layer=layer, variant=variant, seed=seed, bits=bits, weight_type=w_t.cpp, shape=list(m.shape),
               weights=int(np.count_nonzero(kernel)), products=m.nonzero, digits=csd_digits(m))
    if row["digits"] > MAX_DIGITS:
        row["skipped"] = (f"{row['digits']:,} CSD digits, above the solve bound of {MAX_DIGITS:,} "
                          "(strategy da falls back to unrolled)")
        return row
    s = solve_matrix(m)
    row.update(adders=s.adders, adder_bits=s.adder_bits, depth=s.depth, solve_cpu_seconds=round(s.solve_cpu_seconds, 2))
    x = np.concatenate([extreme_codes(m), random_codes(m, RANDOM_VECTORS, seed=11)])
    start = time.monotonic()
    check = check_rtl(m, s, x)
    if not check.exact:
        raise SystemExit(f"{layer} {variant} {bits} bits: the Verilog differs from matrix @ x "
                         f"({check.mismatches} outputs, {check.testbench_mismatches} vectors)")
    row.update(vectors=check.vectors, simulate_seconds=round(time.monotonic() - start, 1))
    try:
        synth = synthesize_solution(m, s, timeout=timeout)
    except IKRHLSError as e:
        if "did not finish" not in str(e):
            raise
        row["synthesis"] = f"yosys did not finish in {timeout:g} s"
        return row
    row.update(lut=synth.lut, ff=synth.ff, carry=synth.carry, dsp=synth.dsp, logic_depth=synth.depth,
               synth_seconds=synth.seconds)
    return row


def report_config(layer: str, w_t: str, strategy: str) -> dict:
    return {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 1, "Strategy": "unrolled"},
            "LayerName": {layer: {"Precision": {"weight": w_t}, "Strategy": strategy}}}


def model_with(layer: str, variant: str, kernel: np.ndarray):
    """The IKR LeNet-5 with this layer's kernel (dense: the dense LeNet-5 as it is)."""
    import keras
    if variant == "dense":
        return keras.models.load_model(DENSE_MODEL, compile=False)
    model = keras.models.load_model(IKR_MODEL, compile=False)
    target = model.get_layer(layer)
    target.set_weights([kernel.astype(np.float32)] + target.get_weights()[1:])
    return model


def estimates(layer: str, variant: str, kernel: np.ndarray, w_t: str) -> dict:
    import ikr_hls
    out = {}
    model = model_with(layer, variant, kernel)
    for strategy in ("unrolled", "pe", "da"):
        if strategy == "pe" and kernel.ndim != 4:
            continue
        try:
            hls = ikr_hls.convert(model, output_dir=tempfile.mkdtemp(), part=PART,
                                  config=report_config(layer, w_t, strategy))
        except IKRHLSError as e:
            out[strategy] = {"error": str(e)}
            continue
        entry = next(r for r in hls.report()["layers"] if r["name"] == layer)
        est, parts = entry["resources_estimate"], entry.get("resources_by_part", {})
        datapath = sum(int(parts.get(k, {}).get("lut", 0)) for k in ("products", "adders"))
        out[strategy] = dict(strategy=entry.get("strategy", strategy), lut=est["lut"], ff=est["ff"], dsp=est["dsp"],
                             datapath_lut=datapath, by_part=parts)
    return out


def run(layers: list, bits_list: list, seeds: int, timeout: float, json_path: Path | None,
        variants: tuple = VARIANTS) -> dict:
    rows: list = []
    result = dict(rows=rows, command="python " + " ".join(map(shlex.quote, sys.argv)), date=time.strftime("%Y-%m-%d"),
                  yosys=yosys_version())
    for layer in layers:
        sets = weight_sets(layer, seeds)
        for bits in bits_list:
            for variant, seed, kernel in sets:
                if variant not in variants:
                    continue
                row = gates(layer, variant, seed, kernel, bits, timeout)
                row["estimates"] = estimates(layer, variant, kernel, row["weight_type"])
                print(json.dumps(row), flush=True)
                rows.append(row)
                if json_path:                    # after every row: a long run keeps what it measured
                    json_path.write_text(json.dumps(result, indent=1) + "\n")
    return result


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _estimate(r: dict, strategy: str) -> str:
    e = r.get("estimates", {}).get(strategy)
    if e is None:
        return "-"
    if "error" in e:
        return "refused"
    fell = "" if e["strategy"] == strategy else f" ({e['strategy']})"
    return f"{e['lut']:,} / {e['datapath_lut']:,} / {e['dsp']}{fell}"


def markdown(results: list) -> str:
    order = {name: i for i, name in enumerate(("conv1", "conv2", "fc1"))}
    rows = sorted((r for res in results for r in res["rows"]),
                  key=lambda r: (order.get(r["layer"], 9), r["layer"], -r["bits"], VARIANTS.index(r["variant"]),
                                 r.get("seed") or 0))
    first = results[0]
    commands = "; ".join(f"`{res['command']}`" for res in results)
    out = [SECTION, "",
           "da4ml's Verilog of each layer's solved adder graph (`ikr_hls/da/verilog.py`), simulated with Icarus "
           "Verilog on the extreme input vectors and 1,000 random ones: every output equal to matrix @ x (int64) "
           "in every row below. Synthesized by yosys (`synth_xilinx -family xc7 -flatten -nodsp`) between an "
           "input register (the used window positions, 16 bits each) and an output register (the product "
           "sums): `LUT`, `FF` (those two registers' bits that are read), `CARRY4`, `logic depth` (yosys ltp: "
           "cells on the longest path between the registers, a CARRY4 one level per 4 bits of carry). "
           "`adders` and `adder levels` are da4ml's, of the same graph. Weights ap_fixed<B,I,AP_RND,AP_SAT> "
           "(I: the fewest integer bits for the set's largest weight), inputs ap_fixed<16,6>. `dense`: the "
           "unpruned layer of examples/models/lenet5.h5; `sparse`: the IKR layer's nonzero values at random "
           "positions (a row per seed), the same count and values as `ikr`; `ikr`: the shipped "
           "lenet5_ikr.h5 (its fc1 magnitude-pruned, not IKR). The three estimate columns are the report's for "
           f"the same layer and weights (part {PART}, ap_fixed<16,6>, reuse factor 1): the layer's LUT / "
           "its products + adders LUT (the part the graph replaces) / DSP; `(unrolled)` where da fell back.",
           "",
           f"Commands ({first['date']}, {first['yosys']}): {commands}; the rows: bench/da_gates.json; "
           "re-render with `python bench/da_gates.py --from-json bench/da_gates.json --write docs/BENCHMARKS.md`. "
           "What they say: docs/distributed_arithmetic.md#gate-level-evidence-ikr_hlsdaverilogpy.", "",
           "| layer | bits | weights | matrix | nonzero codes | adders | adder levels | LUT | FF | CARRY4 | "
           "logic depth | unrolled est. LUT / datapath / DSP | pe est. | da est. |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        variant = r["variant"] if r.get("seed") is None else f"{r['variant']} (seed {r['seed']})"
        cells = [r["layer"], str(r["bits"]), variant, f"{r['shape'][0]} x {r['shape'][1]}", f"{r['products']:,}"]
        if "skipped" in r:
            cells += [f"not solved: {r['skipped']}"] + [""] * 5
        else:
            cells += [_n(r["adders"]), _n(r["depth"])]
            if "synthesis" in r:
                cells += [r["synthesis"], "", "", ""]
            else:
                cells += [_n(r["lut"]), _n(r["ff"]), _n(r["carry"]), _n(r["logic_depth"])]
        cells += [_estimate(r, s) for s in ("unrolled", "pe", "da")]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out + [""] + summary(rows)) + "\n"


def _against(ikr: dict, others: list, key: str) -> str:
    """ikr's figure over the others' mean, and how many of them it is below."""
    if not others:
        return "-"
    mean = statistics.mean(o[key] for o in others)
    below = f", below {sum(ikr[key] < o[key] for o in others)}/{len(others)}" if len(others) > 1 else ""
    return f"{ikr[key] / mean:.2f}{below}"


def summary(rows: list) -> list:
    """IKR against sparse (the same values, the structure only; the seeds' mean) and against
    dense, per layer and bits, in synthesized LUT, FF and logic depth and da4ml's adders."""
    out = ["`ikr` relative to `sparse` (the same values scattered: the mean over its seeds, and how many seeds "
           "`ikr` is below) and to `dense`, synthesized:", "",
           "| layer | bits | LUT ikr / sparse | FF ikr / sparse | adders ikr / sparse | logic depth ikr / sparse "
           "| LUT ikr / dense |", "|---|---|---|---|---|---|---|"]
    for layer, bits in dict.fromkeys((r["layer"], r["bits"]) for r in rows):
        group = [r for r in rows if (r["layer"], r["bits"]) == (layer, bits) and "lut" in r]
        ikr = next((r for r in group if r["variant"] == "ikr"), None)
        if ikr is None:
            continue
        sparse = [r for r in group if r["variant"] == "sparse"]
        dense = [r for r in group if r["variant"] == "dense"]
        cells = [_against(ikr, sparse, k) for k in ("lut", "ff", "adders", "logic_depth")]
        cells.append(_against(ikr, dense, "lut"))
        out.append(f"| {layer} | {bits} | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", default="conv1,conv2,fc1")
    ap.add_argument("--bits", default="8,4")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="weight sets to measure")
    ap.add_argument("--seeds", type=int, default=1, help="sparse weight sets (seeds 0..S-1)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds for each yosys run")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--from-json", type=Path, nargs="+")
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    if args.from_json:
        loaded = [json.loads(p.read_text()) for p in args.from_json]
        results = [r for item in loaded for r in (item if isinstance(item, list) else [item])]
        if args.json:                            # several runs' rows in one file
            args.json.write_text(json.dumps(results, indent=1) + "\n")
    else:
        bits = [int(b) for b in args.bits.split(",")]
        variants = tuple(args.variants.split(","))
        unknown = sorted(set(variants) - set(VARIANTS))
        if unknown:
            raise SystemExit(f"--variants: unknown {', '.join(unknown)} (expected some of {', '.join(VARIANTS)})")
        results = [run(args.layers.split(","), bits, args.seeds, args.timeout, args.json, variants)]
    text = markdown(results)
    print(text)
    if args.write:
        write_section(args.write, text, SECTION)


if __name__ == "__main__":
    main()
