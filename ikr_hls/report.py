"""The compression, storage and hardware-cost report of a converted model.

    report = build_report(graph, config, synthesis=None)   # a JSON-serialisable dict
    print(format_report(report))                           # fixed-width text
    plot_report(report, "report.png")                      # pattern grids and bar charts

`build_report` reads the graph as the converter leaves it (after the passes: folded
BatchNorm, fused activations, per-layer strategy, reuse factor and types). `format_report`
and `plot_report` read only the dict, so a report saved as JSON can be shown again later.
Every field and formula is described in docs/report.md; the latency figures are analytic
estimates, not synthesis results.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import IKRHLSError
from .ir import layer_kernel
from .patterns import draw, patterns_from_kernel
from .precision import parse_type

REPORT_VERSION = 1
REPORT_FILE = "ikr_report.json"    # written into every project

# Cycles added to every layer's estimate for its pipeline to fill and drain (read, multiply,
# add tree, write). A rough allowance for fixed-point types: floating-point adders and
# multipliers take several cycles each, so float designs have deeper pipelines.
PIPELINE_DEPTH = 8

MAX_DRAWN_PATTERNS = 16        # patterns drawn per conv layer, in the text and in the plot

_WEIGHT_KINDS = ("conv2d", "dense", "scale_shift")
_SYNTH_RESOURCES = ("DSP", "LUT", "FF", "BRAM_18K", "URAM")


# ---------------------------------------------------------------------------------------------
# Building the report


def build_report(graph, config, synthesis=None) -> dict:
    """The report of a converted graph as a JSON-serialisable dict (see docs/report.md).

    graph:     an ir.Graph after the passes (ikr_hls.hls_model.HLSModel.graph).
    config:    the ProjectConfig of the conversion (project name, default type, strategy,
               reuse factor, clock period).
    synthesis: optional figures read from a Vitis HLS csynth report (latency_best,
               latency_worst, interval_min, interval_max, estimated_clock_ns,
               target_clock_ns, resources, available); stored as given.
    """
    if not getattr(graph, "layers", None):
        raise IKRHLSError(f"report: {getattr(graph, 'source', 'graph')} has no layers")
    default_type = _type_text(config.precision)
    layers = [_layer_report(layer, config) for layer in graph.layers]
    clock = float(getattr(config, "clock_period", 0.0) or 0.0)
    report = {
        "report_version": REPORT_VERSION,
        "project": config.project_name,
        "source": str(graph.source),
        "part": getattr(config, "part", None),
        "clock_period_ns": clock,
        "precision": default_type,
        "strategy": config.strategy,
        "reuse_factor": config.reuse_factor,
        "input_shape": [int(d) for d in graph.input_shape],
        "output_shape": [int(d) for d in graph.output_shape],
        "removed": {str(k): str(v) for k, v in getattr(graph, "removed", {}).items()},
        "layers": layers,
        "totals": _totals(layers, clock),
        "synthesis": _plain(synthesis) if synthesis else None,
        "notes": [],
    }
    report["notes"] = _notes(report)
    return report


def weight_bits(hls_type) -> int:
    """Bits of one value of an HLS type: W of ap_fixed<W,...>/ap_int<W>, 32 for float,
    64 for double. Accepts a type string or a parsed type."""
    t = parse_type(hls_type) if isinstance(hls_type, str) else hls_type
    if t.is_float:
        return {"float": 32, "double": 64}[t.cpp]
    return int(t.width)


def index_bits(symbols: int) -> int:
    """ceil(log2(symbols)), and 0 when there are at most 1 symbols (nothing to tell apart)."""
    return max(int(symbols) - 1, 0).bit_length()


def _type_text(hls_type) -> str:
    return hls_type if isinstance(hls_type, str) else hls_type.cpp


def _layer_type(layer, role, config):
    t = layer.precision.get(role, config.precision) if layer.precision else config.precision
    return parse_type(t) if isinstance(t, str) else t


def _layer_report(layer, config) -> dict:
    a = layer.attrs
    has_weights = layer.kind in _WEIGHT_KINDS
    entry = {
        "name": layer.name,
        "keras_name": layer.keras_name,
        "kind": layer.kind,
        "depthwise_multiplier": a.get("depthwise"),     # a DepthwiseConv2D's, else None
        "activation": layer.activation,
        "in_shape": [int(d) for d in layer.in_shape],
        "out_shape": [int(d) for d in layer.out_shape],
        "strategy": a.get("strategy", config.strategy) if layer.kind in ("conv2d", "dense") else None,
        "reuse_factor": int(a.get("reuse_factor", config.reuse_factor)) if layer.kind in ("conv2d", "dense") else None,
        "weight_type": None, "weight_bits": None, "bias_type": None, "bias_bits": 0,
        "params_dense": 0, "params_nonzero": 0,
        "macs_dense": None, "macs_pruned": None,
        "storage_bits": None,
        "multipliers": None,
        "latency_estimate_cycles": _latency(layer, config),
    }
    if has_weights:
        w_t, b_t = _layer_type(layer, "weight", config), _layer_type(layer, "bias", config)
        entry.update(weight_type=w_t.cpp, weight_bits=weight_bits(w_t), bias_type=b_t.cpp)
        arrays = [layer_kernel(layer) if role == "kernel" and layer.kind == "conv2d" else w
                  for role, w in layer.weights.items()
                  if not (role == "bias" and a.get("separable") == "depthwise")]   # all zeros, not Keras's
        entry["params_dense"] = int(sum(np.size(w) for w in arrays))
        entry["params_nonzero"] = int(sum(np.count_nonzero(w) for w in arrays))
    if layer.kind == "conv2d":
        entry.update(_conv_report(layer, entry))
    elif layer.kind == "dense":
        entry.update(_dense_report(layer, entry))
    elif layer.kind == "scale_shift":
        scale, shift = layer.weights["scale"], layer.weights["shift"]
        bits = int(scale.size) * entry["weight_bits"]
        entry.update(storage_bits={"dense": bits, "ikr": bits, "csr": bits},
                     bias_bits=int(shift.size) * weight_bits(entry["bias_type"]),
                     multipliers=1)
    return entry


def _conv_report(layer, entry) -> dict:
    kernel = np.asarray(layer_kernel(layer))            # a depthwise conv's (KH, KW, C, M)
    kh, kw, ci, co = kernel.shape
    pixels = int(layer.out_shape[0] * layer.out_shape[1])
    nnz = int(np.count_nonzero(kernel))
    found = patterns_from_kernel(kernel)
    usage = found.usage()
    assignment = found.assignment.reshape(-1)
    live = assignment >= 0
    n_kernels = ci * co
    removed = int(n_kernels - np.count_nonzero(live))
    taps = found.library.reshape(len(found.library), kh * kw).sum(axis=1)   # (0, P): no kernel left
    slots = int(taps[assignment[live]].sum()) if live.any() else 0
    symbols = len(found.library) + (1 if removed else 0)
    idx = index_bits(symbols)
    wb = entry["weight_bits"]
    pos_bits = index_bits(kh * kw)
    ptr_bits = nnz.bit_length()                      # pointers hold 0 .. nnz
    groups = _support_groups(layer)
    rf = entry["reuse_factor"]
    if entry["strategy"] == "pattern":
        multipliers = sum(-(-len(g["kernels"]) // rf) * len(g["positions"]) for g in groups)
    else:
        multipliers = -(-nnz // rf)
    return {
        "macs_dense": pixels * int(kernel.size),
        "macs_pruned": pixels * nnz,
        "kernel_size": [int(kh), int(kw)],
        "kernels": int(n_kernels),
        "kernels_removed": removed,
        "kernel_nonzero": nnz,
        "keep": found.keep,
        "regular": found.regular,
        "library_size": int(len(found.library)),
        "index_bits": idx,
        "weight_slots": slots,
        "support_groups": len(groups),
        "patterns": [{"grid": found.library[i].astype(int).tolist(), "kernels": int(usage[i]),
                      "taps": int(taps[i])} for i in range(len(found.library))],
        "storage_bits": {
            "dense": int(kernel.size) * wb,
            "ikr": slots * wb + n_kernels * idx,
            "csr": nnz * (wb + pos_bits) + (n_kernels + 1) * ptr_bits,
        },
        "bias_bits": (0 if layer.attrs.get("separable") == "depthwise"
                      else int(layer.weights["bias"].size) * weight_bits(entry["bias_type"])),
        "multipliers": int(multipliers),
    }


def _support_groups(layer) -> list:
    """The exact-support groups the backend builds PEs from (passes.group_kernels_by_support);
    computed here when the graph did not go through that pass."""
    groups = layer.attrs.get("support_groups")
    if groups is not None:
        return groups
    kernel = np.asarray(layer_kernel(layer))
    kh, kw, ci, co = kernel.shape
    support = (kernel != 0).reshape(kh * kw, ci * co).T
    support = support[support.any(axis=1)]
    if not len(support):
        return []
    patterns, counts = np.unique(support, axis=0, return_counts=True)
    return [{"positions": np.flatnonzero(p).tolist(), "kernels": [None] * int(n)}
            for p, n in zip(patterns, counts)]


def _dense_report(layer, entry) -> dict:
    kernel = np.asarray(layer.weights["kernel"])
    n_in, n_out = kernel.shape
    nnz = int(np.count_nonzero(kernel))
    wb = entry["weight_bits"]
    csr = nnz * (wb + index_bits(n_in)) + (n_out + 1) * nnz.bit_length()
    rf = entry["reuse_factor"]
    return {
        "macs_dense": int(kernel.size),
        "macs_pruned": nnz,
        "kernel_nonzero": nnz,
        "storage_bits": {"dense": int(kernel.size) * wb, "ikr": csr, "csr": csr},
        "bias_bits": int(layer.weights["bias"].size) * weight_bits(entry["bias_type"]),
        "multipliers": max(1, -(-nnz // rf)),
    }


def _latency(layer, config) -> int:
    """Analytic cycles of one call of the layer function (docs/report.md)."""
    a = layer.attrs
    if layer.kind == "conv2d":
        rf = int(a.get("reuse_factor", config.reuse_factor))
        oh, ow = layer.out_shape[:2]
        pads = [a.get(k, 0) for k in ("pad_top", "pad_bottom", "pad_left", "pad_right")]
        pad = 0
        if any(pads):
            pad = (layer.in_shape[0] + pads[0] + pads[1]) * (layer.in_shape[1] + pads[2] + pads[3])
        return int(pad + oh * ow * rf + PIPELINE_DEPTH)
    if layer.kind == "dense":
        return int(a.get("reuse_factor", config.reuse_factor)) + PIPELINE_DEPTH
    if layer.kind == "pool2d":
        return int(layer.out_shape[0] * layer.out_shape[1]) + PIPELINE_DEPTH
    if layer.kind == "global_pool2d":                  # one pixel per cycle, then the channels
        return int(layer.in_shape[0] * layer.in_shape[1] + layer.in_shape[2]) + PIPELINE_DEPTH
    if layer.kind == "pad2d":
        return int(layer.out_shape[0] * layer.out_shape[1]) + PIPELINE_DEPTH
    if layer.kind == "activation":
        passes = 3 if layer.activation == "softmax" else 1
        return passes * layer.out_size + PIPELINE_DEPTH
    return layer.out_size + PIPELINE_DEPTH              # scale_shift, add (flatten never reaches here)


def _ratio(a, b):
    return float(a) / float(b) if b else None


def _totals(layers: list, clock: float) -> dict:
    with_w = [l for l in layers if l["storage_bits"] is not None]
    counted = [l for l in layers if l["macs_dense"] is not None]
    storage = {k: int(sum(l["storage_bits"][k] for l in with_w)) for k in ("dense", "ikr", "csr")}
    params_dense = sum(l["params_dense"] for l in layers)
    params_nonzero = sum(l["params_nonzero"] for l in layers)
    macs_dense = sum(l["macs_dense"] for l in counted)
    macs_pruned = sum(l["macs_pruned"] for l in counted)
    latency = sum(l["latency_estimate_cycles"] for l in layers)
    interval = max(l["latency_estimate_cycles"] for l in layers)
    return {
        "params_dense": int(params_dense),
        "params_nonzero": int(params_nonzero),
        "params_reduction": _ratio(params_dense, params_nonzero),
        "macs_dense": int(macs_dense),
        "macs_pruned": int(macs_pruned),
        "macs_reduction": _ratio(macs_dense, macs_pruned),
        "storage_bits": storage,
        "storage_reduction": {"ikr": _ratio(storage["dense"], storage["ikr"]),
                              "csr": _ratio(storage["dense"], storage["csr"])},
        "bias_bits": int(sum(l["bias_bits"] for l in layers)),
        "multipliers": int(sum(l["multipliers"] or 0 for l in layers)),
        "latency_estimate_cycles": int(latency),
        "interval_estimate_cycles": int(interval),
        "latency_estimate_ns": latency * clock if clock else None,
    }


def _notes(report: dict) -> list:
    notes = ["Latency and interval figures are analytic estimates (docs/report.md), not "
             "synthesis results: latency = sum of the layers' cycles (the top function is one "
             "chain); the DATAFLOW interval = the slowest layer's cycles."]
    notes.append("MACs are counted for conv2d and dense layers only (output pixels x nonzero "
                 "weights; nonzero weights), as in ikr_hls.pruning.summary.")
    notes.append("Storage bits cover kernel weights (and scale_shift scales); biases are "
                 "stored densely in every scheme and counted apart (bias_bits).")
    for l in report["layers"]:
        if l["kind"] != "conv2d":
            continue
        if not l["regular"]:
            notes.append(f"{l['name']}: not IKR-regular (its kernels' supports have different "
                         f"sizes); the library lists all {l['library_size']} distinct supports.")
        if l["kernels_removed"]:
            notes.append(f"{l['name']}: {l['kernels_removed']} of {l['kernels']} kernels have no "
                         "surviving weight; the IKR index has one more symbol for them.")
        if l["weight_slots"] != l["kernel_nonzero"]:
            notes.append(f"{l['name']}: {l['weight_slots'] - l['kernel_nonzero']} IKR weight slot(s) "
                         "hold exactly 0.0 (kernels with fewer nonzeros than their pattern); IKR "
                         "storage counts them.")
    if any(l["weight_type"] in ("float", "double") for l in report["layers"]):
        notes.append("Floating-point weights: storage counts 32 (float) or 64 (double) bits "
                     "per weight, and float pipelines are deeper than the estimate assumes.")
    if report["removed"]:
        notes.append("No hardware of their own: " + "; ".join(
            f"{k}: {v}" for k, v in report["removed"].items()) + ".")
    return notes


def _plain(value):
    """A copy made only of dict/list/str/int/float/bool/None (numpy scalars converted)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# ---------------------------------------------------------------------------------------------
# Text


def _n(value) -> str:
    return "-" if value is None else f"{value:,}"


def _x(value) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape)


def _table(header, rows, total=None) -> list:
    all_rows = [header] + rows + ([total] if total else [])
    widths = [max(len(str(r[i])) for r in all_rows) for i in range(len(header))]

    def line(r):
        cells = [str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        return "  ".join(cells).rstrip()

    rule = line(["-" * w for w in widths])
    out = [line(header), rule] + [line(r) for r in rows]
    if total:
        out += [rule, line(total)]
    return out


def format_report(report: dict) -> str:
    """The report as fixed-width text: layer tables, totals, synthesis figures beside the
    estimates when present, conv pattern libraries as grids, notes."""
    layers, t = report["layers"], report["totals"]
    out = [f"ikr-hls report: {report['project']} (from {report['source']})",
           f"default type {report['precision']}, strategy {report['strategy']}, reuse factor "
           f"{report['reuse_factor']}, clock {report['clock_period_ns']:g} ns"
           + (f", part {report['part']}" if report.get("part") else ""), ""]

    out.append("Compression (params include biases; MACs per inference)")
    rows = []
    for l in layers:
        keep = pats = idx = "-"
        if l["kind"] == "conv2d":
            size = l["kernel_size"][0] * l["kernel_size"][1]
            keep = f"{l['keep']}/{size}" if l["regular"] else "irregular"
            pats, idx = str(l["library_size"]), str(l["index_bits"])
        rows.append((l["name"], "depthwise" if l.get("depthwise_multiplier") else l["kind"], f"{_shape(l['in_shape'])} -> {_shape(l['out_shape'])}",
                     f"{_n(l['params_nonzero'])}/{_n(l['params_dense'])}",
                     "-" if l["macs_dense"] is None else f"{_n(l['macs_pruned'])}/{_n(l['macs_dense'])}",
                     keep, pats, idx))
    total = ("total", "", "",
             f"{_n(t['params_nonzero'])}/{_n(t['params_dense'])} ({_x(t['params_reduction'])})",
             f"{_n(t['macs_pruned'])}/{_n(t['macs_dense'])} ({_x(t['macs_reduction'])})", "", "", "")
    out += _table(("layer", "kind", "shape", "params nonzero/dense", "MACs pruned/dense",
                   "keep", "patterns", "index bits"), rows, total)

    out += ["", "Storage (weight bits) and hardware cost (latency: estimate, cycles)"]
    rows = []
    for l in layers:
        s = l["storage_bits"] or {}
        rows.append((l["name"], l["weight_type"] or "-", _n(s.get("dense")), _n(s.get("ikr")),
                     _n(s.get("csr")), l["strategy"] or "-", _n(l["reuse_factor"]),
                     _n(l["multipliers"]), _n(l["latency_estimate_cycles"])))
    s, r = t["storage_bits"], t["storage_reduction"]
    total = ("total", "", _n(s["dense"]), f"{_n(s['ikr'])} ({_x(r['ikr'])})",
             f"{_n(s['csr'])} ({_x(r['csr'])})", "", "", _n(t["multipliers"]),
             _n(t["latency_estimate_cycles"]))
    out += _table(("layer", "weight type", "dense bits", "IKR bits", "CSR bits", "strategy",
                   "reuse", "multipliers", "latency est."), rows, total)

    out += ["", "Totals"]
    kib = lambda bits: f"{bits / 8192:,.1f} KiB" if bits >= 8192 else f"{-(-bits // 8):,} bytes"
    items = [
        ("parameters", f"{_n(t['params_nonzero'])} nonzero of {_n(t['params_dense'])} "
                       f"(dense / nonzero = {_x(t['params_reduction'])})"),
        ("MACs", f"{_n(t['macs_pruned'])} of {_n(t['macs_dense'])} "
                 f"(dense / pruned = {_x(t['macs_reduction'])})"),
        ("storage dense", f"{_n(s['dense'])} bits ({kib(s['dense'])})"),
        ("storage IKR", f"{_n(s['ikr'])} bits ({kib(s['ikr'])}; dense / IKR = {_x(r['ikr'])})"),
        ("storage CSR", f"{_n(s['csr'])} bits ({kib(s['csr'])}; dense / CSR = {_x(r['csr'])})"),
        ("bias storage", f"{_n(t['bias_bits'])} bits (dense in every scheme)"),
        ("multipliers", _n(t["multipliers"])),
        ("latency (estimate)", f"{_n(t['latency_estimate_cycles'])} cycles"
         + (f" = {t['latency_estimate_ns'] / 1000:,.2f} us at {report['clock_period_ns']:g} ns"
            if t.get("latency_estimate_ns") else "")),
        ("interval (estimate)", f"{_n(t['interval_estimate_cycles'])} cycles (DATAFLOW: the slowest layer)"),
    ]
    width = max(len(k) for k, _ in items)
    out += [f"  {k.ljust(width)}  {v}" for k, v in items]

    if report.get("synthesis"):
        out += [""] + _format_synthesis(report["synthesis"], t)

    for l in layers:
        if l["kind"] == "conv2d" and l["patterns"]:
            out += [""] + _draw_patterns(l)

    if report.get("notes"):
        out += ["", "Notes"] + [f"  - {n}" for n in report["notes"]]
    return "\n".join(out) + "\n"


def _format_synthesis(syn: dict, t: dict) -> list:
    def span(lo, hi):
        if lo is None and hi is None:
            return "-"
        if lo == hi or hi is None or lo is None:
            return _n(lo if lo is not None else hi)
        return f"{_n(lo)} .. {_n(hi)}"

    def num(v, fmt="{:g}"):
        return "-" if v is None else fmt.format(v)

    rows = [("latency (cycles)", span(syn.get("latency_best"), syn.get("latency_worst")),
             _n(t["latency_estimate_cycles"])),
            ("interval (cycles)", span(syn.get("interval_min"), syn.get("interval_max")),
             _n(t["interval_estimate_cycles"])),
            ("clock (ns)", f"{num(syn.get('estimated_clock_ns'))} (target {num(syn.get('target_clock_ns'))})", "-"),
            ("DSP", _n((syn.get("resources") or {}).get("DSP")), f"{_n(t['multipliers'])} multipliers")]
    out = ["Vitis HLS synthesis (csynth) beside the estimate"]
    out += _table(("", "synthesis", "estimate"), rows)
    resources, available = syn.get("resources") or {}, syn.get("available") or {}
    names = [k for k in _SYNTH_RESOURCES if k in resources or k in available]
    names += [k for k in resources if k not in names]
    if names:
        res_rows = []
        for k in names:
            used, avail = resources.get(k), available.get(k)
            pct = f"{100.0 * used / avail:.1f}%" if used is not None and avail else "-"
            res_rows.append((k, _n(used), _n(avail), pct))
        out += [""] + _table(("resource", "used", "available", "use"), res_rows)
    return out


def _draw_patterns(l: dict) -> list:
    kh, kw = l["kernel_size"]
    head = (f"{l['name']}: {l['library_size']} pattern(s) of {l['keep']}/{kh * kw}" if l["regular"]
            else f"{l['name']}: irregular, {l['library_size']} distinct supports")
    head += f", index {l['index_bits']} bit(s); kernels using each ('#' kept, '.' pruned)"
    if l["kernels_removed"]:
        head += f"; {l['kernels_removed']} of {l['kernels']} kernels removed"
    lines = [head]
    shown = l["patterns"][:MAX_DRAWN_PATTERNS]
    cell = max(kw, 5)
    per_row = max(1, 76 // (cell + 2))
    for start in range(0, len(shown), per_row):
        chunk = shown[start:start + per_row]
        lines.append("  " + "  ".join(f"#{start + i}".ljust(cell) for i in range(len(chunk))).rstrip())
        grids = [draw(np.array(p["grid"], dtype=bool)) for p in chunk]
        for row in range(kh):
            lines.append("  " + "  ".join(g[row].ljust(cell) for g in grids).rstrip())
        lines.append("  " + "  ".join(f"x{p['kernels']}".ljust(cell) for p in chunk).rstrip())
    if len(l["patterns"]) > len(shown):
        lines.append(f"  ... and {len(l['patterns']) - len(shown)} more")
    return lines


# ---------------------------------------------------------------------------------------------
# Plot


def plot_report(report: dict, path) -> None:
    """A PNG: a header with the totals, each conv layer's pattern library (KxK grids with
    the number of kernels using each), then per layer, on log scales, MACs and parameters
    dense vs IKR-pruned, and weight storage in the three schemes."""
    # Figure + the Agg canvas directly: no pyplot, no display, the global backend untouched.
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise IKRHLSError("plotting the report needs matplotlib: pip install matplotlib") from None

    convs = [l for l in report["layers"] if l["kind"] == "conv2d" and l["patterns"]]
    cols = 8                                   # grids per row: left-aligned, one size in every row
    pattern_rows = [-(-min(len(l["patterns"]), MAX_DRAWN_PATTERNS) // cols) for l in convs]
    heights = [0.75] + [1.5 * r + 0.45 for r in pattern_rows] + [4.4]
    fig = Figure(figsize=(15.0, sum(heights)), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    subfigs = np.atleast_1d(fig.subfigures(len(heights), 1, height_ratios=heights))
    _plot_header(subfigs[0], report)
    for sub, l, n_rows in zip(subfigs[1:], convs, pattern_rows):
        _plot_library(sub, l, n_rows, cols)
    _plot_bars(subfigs[-1], report)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", facecolor="white")


def _plot_header(sub, report: dict) -> None:
    t = report["totals"]
    sub.text(0.5, 0.68, f"ikr-hls report: {report['project']}  ({report['source']}, "
                        f"{report['precision']}, strategy {report['strategy']})",
             ha="center", va="center", fontsize=13, fontweight="bold")
    sub.text(0.5, 0.22, f"parameters {_x(t['params_reduction'])} fewer, MACs {_x(t['macs_reduction'])} "
                        f"fewer; weight storage dense/IKR {_x(t['storage_reduction']['ikr'])}, "
                        f"dense/CSR {_x(t['storage_reduction']['csr'])}; {_n(t['multipliers'])} "
                        f"multipliers; latency {_n(t['latency_estimate_cycles'])} cycles (estimate)",
             ha="center", va="center", fontsize=10.5)


def _plot_library(sub, l: dict, n_rows: int, cols: int) -> None:
    kh, kw = l["kernel_size"]
    shown = l["patterns"][:MAX_DRAWN_PATTERNS]
    title = (f"{l['name']}: pattern library, {l['library_size']} pattern(s) keeping {l['keep']} of "
             f"{kh}x{kw}" if l["regular"] else
             f"{l['name']}: irregular, {l['library_size']} distinct supports")
    title += (f"; {l['kernels']} kernels, {l['index_bits']}-bit index per kernel; "
              "dark squares: kept weights")
    if l["kernels_removed"]:
        title += f"; {l['kernels_removed']} kernels removed"
    if len(l["patterns"]) > len(shown):
        title += f" (first {len(shown)} of {len(l['patterns'])} shown)"
    sub.suptitle(title, fontsize=10.5, x=0.01, ha="left")
    axes = sub.subplots(n_rows, cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i >= len(shown):
            ax.set_axis_off()
            continue
        p = shown[i]
        ax.imshow(np.array(p["grid"], dtype=float), cmap="Blues", vmin=-0.1, vmax=1.0,
                  interpolation="nearest")
        ax.set_xticks(np.arange(-0.5, kw, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, kh, 1), minor=True)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(which="minor", color="0.6", linewidth=0.6)
        ax.tick_params(which="both", length=0)
        ax.set_title(f"#{i}: {p['kernels']} kernel{'' if p['kernels'] == 1 else 's'}", fontsize=9.5)


def _compact(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:.3g}M"
    if v >= 1e4:
        return f"{v / 1e3:.3g}k"
    return f"{int(v):,}"


def _bar_labels(ax, xs, values, floor, vertical):
    for xi, v in zip(xs, values):
        ax.text(xi, max(v, floor) * 1.12, _compact(v), ha="center", va="bottom", fontsize=7.5,
                color="0.2", rotation=90 if vertical else 0)


def _plot_bars(sub, report: dict) -> None:
    counted = [l for l in report["layers"] if l["macs_dense"] is not None]
    stored = [l for l in report["layers"] if l["storage_bits"] is not None]
    axes = sub.subplots(1, 3)
    panels = (
        (axes[0], counted, "MACs per inference", (("dense", "macs_dense", "0.65"),
                                                  ("IKR-pruned", "macs_pruned", "tab:blue"))),
        (axes[1], counted, "parameters (weights + biases)", (("dense", "params_dense", "0.65"),
                                                             ("nonzero", "params_nonzero", "tab:blue"))),
        (axes[2], stored, "weight storage (bits)", (("dense", ("storage_bits", "dense"), "0.65"),
                                                    ("IKR", ("storage_bits", "ikr"), "tab:blue"),
                                                    ("CSR", ("storage_bits", "csr"), "tab:orange"))),
    )
    for ax, rows, what, series in panels:
        x = np.arange(len(rows))
        width = 0.8 / len(series)
        values = [np.array([l[key[0]][key[1]] if isinstance(key, tuple) else l[key] for l in rows],
                           dtype=float) for _, key, _ in series]
        every = np.concatenate(values) if values else np.zeros(0)
        top = max(every.max(initial=1.0), 1.0)
        positive = every[every > 0]
        floor = 10.0 ** np.floor(np.log10(positive.min())) / 2 if len(positive) else 0.5
        for k, ((label, _, color), v) in enumerate(zip(series, values)):
            xs = x + (k - (len(series) - 1) / 2) * width
            ax.bar(xs, np.maximum(v, floor), width, label=label, color=color)
            _bar_labels(ax, xs, v, floor, vertical=len(series) > 2)
        ax.set_yscale("log")
        ax.set_ylim(floor, top * 2000)          # headroom: value labels, ratios, legend
        for xi, d, p in zip(x, values[0], values[1]):          # reduction: dense / pruned
            if p:
                ax.text(xi, top * 25, f"{d / p:.1f}x", ha="center", va="bottom", fontsize=9,
                        fontweight="bold")
        ax.set_xticks(x)
        rotate = len(rows) > 6
        ax.set_xticklabels([l["name"] for l in rows], rotation=30 if rotate else 0,
                           ha="right" if rotate else "center")
        ax.set_xlabel("layer")
        ax.set_ylabel(f"{what}, log scale")
        ax.set_title(f"{what}\n(bold: dense / {series[1][0]})", fontsize=10.5)
        ax.legend(loc="upper center", ncol=len(series), fontsize=8.5, frameon=False)
        ax.grid(axis="y", which="major", alpha=0.3)
