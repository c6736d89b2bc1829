"""Distributed arithmetic on IKR and on unstructured sparse weights (issue 28, the solver half).

    python bench/da_ikr_vs_sparse.py [--layers conv2,fc1,fc2,fc3] [--bits 8,4] [--seeds 3]
                                     [--json PATH] [--write docs/BENCHMARKS.md]
    python bench/da_ikr_vs_sparse.py --from-json PATH --write docs/BENCHMARKS.md
    python bench/da_ikr_vs_sparse.py --bound     # the solve bound's measurement (below)

For LeNet-5's conv2 and fc layers, each layer's per-pixel constant matrix (ikr_hls/da/matrix.py:
a conv's used window positions x in-channels by filters; a Dense's weight matrix) is solved by
da4ml (ikr_hls/da/solver.py, no cache) for these weight sets, all of the same nonzero count:
  ikr        the shipped IKR model (examples/models/lenet5_ikr.h5; its Dense layers are
             magnitude-pruned by IKRPruning's dense_sparsity);
  shuffled   the same nonzero values at random positions of the layer (seeds 0..S-1): the
             IKR model's codes exactly, only the structure is gone;
  magnitude  the dense model (examples/models/lenet5.h5) pruned unstructured by magnitude;
  random     the dense model pruned at random positions (seeds 0..S-1).
Weights are quantised to ap_fixed<B, I, AP_RND, AP_SAT>, B in --bits, I the fewest integer bits
that hold the weight set's largest magnitude (so each set uses its whole code range); inputs
are ap_fixed<16,6>, the shipped precision of the layers' inputs. The unrolled strategy at
R = 1 asks one multiplier per nonzero weight (ConvFacts.multipliers); `products` counts the
nonzero codes left after quantisation (a code rounded to 0 needs no product). Every solution is
checked bit-exact against matrix @ x on 256 random input codes. Times are the wall and CPU
seconds of the solve and its trace on this machine (shared: wall varies with the load, CPU less).
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
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from ikr_hls.da import csd_digits, solve_matrix  # noqa: E402
from ikr_hls.da.evaluate import mismatches, random_codes  # noqa: E402
from ikr_hls.da.matrix import conv_kernel_matrix, dense_kernel_matrix  # noqa: E402
from ikr_hls.precision import parse_fixed  # noqa: E402

IKR_MODEL = ROOT / "examples" / "models" / "lenet5_ikr.h5"
DENSE_MODEL = ROOT / "examples" / "models" / "lenet5.h5"
IN_TYPE = parse_fixed("ap_fixed<16,6>")
SECTION = "## Distributed arithmetic: IKR vs unstructured sparse weights (issue 28)"
REGENERATE = "python bench/da_ikr_vs_sparse.py --from-json bench/da_ikr_vs_sparse.json --write docs/BENCHMARKS.md"


def kernels(path: Path) -> dict:
    import keras
    model = keras.models.load_model(path, compile=False)
    return {layer.name: np.asarray(layer.get_weights()[0], dtype=np.float64) for layer in model.layers
            if layer.get_weights()}


def keep_largest(kernel: np.ndarray, nnz: int) -> np.ndarray:
    order = np.argsort(-np.abs(kernel), axis=None, kind="stable")[:nnz]
    out = np.zeros_like(kernel)
    out.flat[order] = kernel.flat[order]
    return out


def keep_random(kernel: np.ndarray, nnz: int, seed: int) -> np.ndarray:
    chosen = np.random.default_rng(seed).choice(kernel.size, nnz, replace=False)
    out = np.zeros_like(kernel)
    out.flat[chosen] = kernel.flat[chosen]
    return out


def shuffled(kernel: np.ndarray, seed: int) -> np.ndarray:
    """The kernel's nonzero values at random positions of the layer."""
    values = kernel[kernel != 0]
    chosen = np.random.default_rng(seed).choice(kernel.size, len(values), replace=False)
    out = np.zeros_like(kernel)
    out.flat[chosen] = values
    return out


def weight_type(kernel: np.ndarray, bits: int):
    integer = max(math.ceil(math.log2(float(np.abs(kernel).max()))), -bits + 2) + 1
    return parse_fixed(f"ap_fixed<{bits},{integer},AP_RND,AP_SAT>")


def measure(layer: str, variant: str, seed, kernel: np.ndarray, bits: int) -> dict:
    build = conv_kernel_matrix if kernel.ndim == 4 else dense_kernel_matrix
    w_t = weight_type(kernel, bits)
    m = build(f"{layer}_{variant}", kernel, IN_TYPE, w_t)
    s = solve_matrix(m, use_cache=False)
    bad = mismatches(m, s, random_codes(m, 256, seed=7), python_samples=2)
    if bad:
        raise SystemExit(f"{layer} {variant} {bits} bits: {bad} outputs differ from matrix @ x")
    return dict(layer=layer, variant=variant, seed=seed, bits=bits, weight_type=w_t.cpp, shape=list(m.shape),
                weights=int(np.count_nonzero(kernel)), products=m.nonzero, digits=csd_digits(m),
                adders=s.adders, adder_bits=s.adder_bits, depth=s.depth, cost=s.cost,
                seconds=round(s.solve_seconds, 3), cpu_seconds=round(s.solve_cpu_seconds, 3))


def run(layers: list, bits_list: list, seeds: int) -> dict:
    ikr, dense = kernels(IKR_MODEL), kernels(DENSE_MODEL)
    rows = []
    for layer in layers:
        nnz = int(np.count_nonzero(ikr[layer]))
        sets = [("ikr", None, ikr[layer]), ("magnitude", None, keep_largest(dense[layer], nnz))]
        sets += [("shuffled", s, shuffled(ikr[layer], s)) for s in range(seeds)]
        sets += [("random", s, keep_random(dense[layer], nnz, s)) for s in range(seeds)]
        for bits in bits_list:
            for variant, seed, kernel in sets:
                row = measure(layer, variant, seed, kernel, bits)
                print(json.dumps(row), flush=True)
                rows.append(row)
    # the solver is deterministic: the first matrix solved again gives the same graph
    again = measure(layers[0], "ikr", None, ikr[layers[0]], bits_list[0])
    first = rows[0]
    deterministic = all(again[k] == first[k] for k in ("adders", "adder_bits", "depth"))
    return dict(rows=rows, deterministic=deterministic, command="python " + " ".join(map(shlex.quote, sys.argv)),
                date=time.strftime("%Y-%m-%d"), cpus=os.cpu_count())


def _spread(values: list) -> str:
    if len(values) == 1:
        return f"{values[0]:,}"
    return f"{statistics.mean(values):,.0f} ({min(values):,}-{max(values):,})"


def _seconds(values: list) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def markdown(result: dict) -> str:
    rows = result["rows"]
    seeds = sorted({r["seed"] for r in rows if r["seed"] is not None})
    out = [SECTION, "",
           "Each layer's per-pixel constant matrix solved by da4ml 0.6.0 into a shift-and-add graph "
           "(`ikr_hls/da`, docs/distributed_arithmetic.md), for weight sets of the same nonzero count: "
           "`ikr` the shipped IKR LeNet-5 (its Dense layers magnitude-pruned by IKRPruning), `shuffled` "
           "the same nonzero values at random positions, `magnitude` the dense LeNet-5 "
           "(examples/models/lenet5.h5) pruned by magnitude, `random` the dense LeNet-5 pruned at random "
           "positions. Weights ap_fixed<B,I,AP_RND,AP_SAT> (I: the fewest integer bits for the set's "
           "largest weight), inputs ap_fixed<16,6>. `mult.` is the unrolled strategy's multipliers at R = 1 "
           "(one per nonzero weight); `products` the nonzero codes after quantisation; `adders` and "
           "`adder bits` (the sum of their result widths) and `depth` (adder levels) are da4ml's, of the "
           "traced graph; `digits` the matrix's nonzero CSD digits (the solve bound's measure). Every "
           f"solution is bit-exact with matrix @ x on 256 random inputs. `shuffled` and `random`: mean "
           f"(min-max) over seeds {', '.join(map(str, seeds))}. Times: solve and trace, wall and CPU "
           f"seconds on a shared {result['cpus']}-core machine (wall depends on the load). The solver is "
           + ("deterministic (a second solve of the first matrix gave the same graph)."
              if result["deterministic"] else "NOT deterministic: a second solve differed."),
           "",
           f"Command ({result['date']}): `{result['command']}` (its rows: bench/da_ikr_vs_sparse.json); "
           f"re-render the tables with `{REGENERATE}`. What they say: docs/distributed_arithmetic.md.",
           "",
           "| layer, weights: matrix | bits | mult. | products | digits | adders | adder bits | depth | wall s "
           "| CPU s |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    keys = []
    for r in rows:
        key = (r["layer"], r["bits"], r["variant"])
        if key not in keys:
            keys.append(key)
    for layer, bits, variant in keys:
        group = [r for r in rows if (r["layer"], r["bits"], r["variant"]) == (layer, bits, variant)]
        shape = f"{_spread([r['shape'][0] for r in group])} x {group[0]['shape'][1]}"
        cells = [f"{layer}, {variant}: {shape}", str(bits), f"{group[0]['weights']:,}"]
        cells += [_spread([r[k] for r in group]) for k in ("products", "digits", "adders", "adder_bits", "depth")]
        cells += [_seconds([r["seconds"] for r in group]), _seconds([r["cpu_seconds"] for r in group])]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out + [""] + structure_table(rows)) + "\n"


def structure_table(rows: list) -> list:
    """IKR's adders against the same codes shuffled (only the structure differs): the change
    from the seeds' mean, and whether IKR is below every seed."""
    out = ["IKR against the same values shuffled (the structure alone): adders and adder bits of `ikr` "
           "relative to the mean of `shuffled`, and how many seeds `ikr` is below. In the fc rows the structure is "
           "that of the IKR model's Dense layers, magnitude-pruned while it trained, not IKR's.", "",
           "| layer | bits | matrix rows ikr / shuffled | adders | below seeds | adder bits | below seeds |",
           "|---|---|---|---|---|---|---|"]
    for layer, bits in dict.fromkeys((r["layer"], r["bits"]) for r in rows):
        ikr = next(r for r in rows if (r["layer"], r["bits"], r["variant"]) == (layer, bits, "ikr"))
        shuf = [r for r in rows if (r["layer"], r["bits"], r["variant"]) == (layer, bits, "shuffled")]
        if not shuf:
            continue
        cells = [layer, str(bits), f"{ikr['shape'][0]} / {statistics.mean(r['shape'][0] for r in shuf):.0f}"]
        for key in ("adders", "adder_bits"):
            mean = statistics.mean(r[key] for r in shuf)
            cells += [f"{100 * (ikr[key] / mean - 1):+.1f}%", f"{sum(ikr[key] < r[key] for r in shuf)}/{len(shuf)}"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def write_section(path: Path, text: str) -> None:
    """Replace the section (up to the next `## ` heading) or append it."""
    doc = path.read_text()
    start = doc.find(SECTION)
    if start < 0:
        path.write_text(doc.rstrip("\n") + "\n\n" + text)
        return
    end = doc.find("\n## ", start + len(SECTION))
    path.write_text(doc[:start] + text + (doc[end:] if end >= 0 else ""))


def bound_table() -> str:
    ikr = kernels(IKR_MODEL)
    w_t = parse_fixed("ap_fixed<16,6>")
    out = [f"Command: `python bench/da_ikr_vs_sparse.py --bound` ({time.strftime('%Y-%m-%d')}, "
           f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", "",
           "| layer | matrix | CSD digits | solve + trace, CPU s | wall s |", "|---|---|---|---|---|"]
    for name, kernel in ikr.items():
        build = conv_kernel_matrix if kernel.ndim == 4 else dense_kernel_matrix
        m = build(name, kernel, IN_TYPE, w_t)
        s = solve_matrix(m, use_cache=False)
        out.append(f"| {name} | {m.shape[0]} x {m.shape[1]} | {csd_digits(m):,} | {s.solve_cpu_seconds:.2f} | "
                   f"{s.solve_seconds:.2f} |")
        print(out[-1], flush=True)
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", default="conv2,fc1,fc2,fc3")
    ap.add_argument("--bits", default="8,4")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--from-json", type=Path)
    ap.add_argument("--write", type=Path)
    ap.add_argument("--bound", action="store_true", help="measure the solve bound's table instead")
    args = ap.parse_args()
    if args.bound:
        print(bound_table())
        return
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        result = run(args.layers.split(","), [int(b) for b in args.bits.split(",")], args.seeds)
        if args.json:
            args.json.write_text(json.dumps(result, indent=1) + "\n")
    text = markdown(result)
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
