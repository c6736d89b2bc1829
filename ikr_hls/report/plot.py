"""The report as a PNG: a header with the totals, each conv layer's pattern library (KxK
grids with the number of kernels using each), per layer, on log scales, MACs and parameters
dense vs IKR-pruned and weight storage in the three schemes, then the hardware the code
describes: per layer multipliers (with its strategy and reuse factor), cycles (II x steps,
and the design's interval), memory bits, and in io_stream every FIFO's depth."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import IKRHLSError
from .text import MAX_DRAWN_PATTERNS, _n, _x
from .text import _compact_number as _compact

HEADROOM = 60      # a log axis ends this many times above its largest bar: labels, ratios, legend


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

    convs = [l for l in report["layers"] if l.get("patterns")]
    cols = 8                                   # grids per row: left-aligned, one size in every row
    pattern_rows = [-(-min(len(l["patterns"]), MAX_DRAWN_PATTERNS) // cols) for l in convs]
    hardware = bool(hardware_panels(report))   # a float project has no hardware row
    heights = [0.75] + [1.5 * r + 0.45 for r in pattern_rows] + [4.4] + ([4.4] if hardware else [])
    fig = Figure(figsize=(15.0, sum(heights)), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    subfigs = np.atleast_1d(fig.subfigures(len(heights), 1, height_ratios=heights))  # type: ignore[arg-type]
    _plot_header(subfigs[0], report)
    for sub, l, n_rows in zip(subfigs[1:1 + len(convs)], convs, pattern_rows, strict=True):
        _plot_library(sub, l, n_rows, cols)
    _plot_bars(subfigs[1 + len(convs)], report)
    if hardware:
        _plot_hardware(subfigs[-1], report)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", facecolor="white")


def _plot_header(sub, report: dict) -> None:
    t = report["totals"]
    sub.text(0.5, 0.68, f"ikr-hls report: {report['project']}  ({report['source']}, "
                        f"{report['precision']}, {report.get('io_type', 'io_parallel')}, strategy "
                        f"{report['strategy']}, reuse factor {report['reuse_factor']})",
             ha="center", va="center", fontsize=13, fontweight="bold")
    sub.text(0.5, 0.22, f"parameters {_x(t['params_reduction'])} fewer, MACs {_x(t['macs_reduction'])} "
                        f"fewer; weight storage dense/IKR {_x(t['storage_reduction']['ikr'])}, "
                        f"dense/CSR {_x(t['storage_reduction']['csr'])}; " + (
                            "floating point: a host check, no hardware figures" if report.get("host_check_only") else
                            f"{_n(t['multipliers'])} multipliers; latency {_n(t['latency_estimate_cycles'])} "
                            "cycles (estimate)"),
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


def _bar_labels(ax, xs, values, floor, vertical):
    for xi, v in zip(xs, values, strict=True):
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
        for k, ((label, _, color), v) in enumerate(zip(series, values, strict=True)):
            xs = x + (k - (len(series) - 1) / 2) * width
            ax.bar(xs, np.maximum(v, floor), width, label=label, color=color)
            _bar_labels(ax, xs, v, floor, vertical=len(series) > 2)
        ax.set_yscale("log")
        ax.set_ylim(floor, top * HEADROOM)      # headroom: value labels, ratios, legend
        for xi, d, p in zip(x, values[0], values[1], strict=True):          # reduction: dense / pruned
            if p:
                ax.text(xi, top * 6, f"{d / p:.1f}x", ha="center", va="bottom", fontsize=9,
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


def hardware_panels(report: dict) -> list:
    """What the hardware row draws, from the report alone: [(title, [(label, value)], note)]
    per panel; bars by layer (or by FIFO), the note under the title."""
    layers = report["layers"]

    def label(l):
        form = f"{l['strategy']} " if l.get("strategy") else ""
        return f"{l['name']}\n{form}R{l['reuse_factor']}" if l.get("reuse_factor") else l["name"]

    t = report["totals"]
    if report.get("host_check_only"):       # floating point: no hardware figures to draw
        return []
    panels = [
        ("multipliers", [(label(l), l["multipliers"] or 0) for l in layers],
         f"{_n(t['multipliers'])} in total"),
        ("cycles per frame (II x steps + pipeline)",
         [(f"{l['name']}\nII {l['ii']} x {_compact(l['iterations'])}", l["latency_estimate_cycles"]) for l in layers],
         f"interval {_n(t['interval_estimate_cycles'])}, frame latency {_n(t['latency_estimate_cycles'])}"),
        ("memory bits: registers / RAM (line buffers) / ROM",
         [(f"{l['name']}\n{_types(l)}", (l["registers_bits"], l["ram_bits"], l["rom_bits"])) for l in layers],
         "each layer's own; not the buffers between layers"),
    ]
    if report.get("fifos"):
        panels.append(("io_stream FIFO depths (elements)",
                       [(f["name"].replace("_to_", "\nto "), f["depth"]) for f in report["fifos"]],
                       f"{sum(f['why'] == 'branch lag' for f in report['fifos'])} sized by the branches' lag"))
    return panels


def _types(layer: dict) -> str:
    """A layer's weight and result types, short: w<8,3> r<16,6> (u: unsigned)."""
    def short(cpp):
        return cpp.replace("ap_ufixed", "u").replace("ap_fixed", "").replace(", ", ",") if cpp else "-"
    weight = f"w{short(layer['weight_type'])} " if layer.get("weight_type") else ""
    return f"{weight}r{short(layer.get('result_type'))}"


def _plot_hardware(sub, report: dict) -> None:
    panels = hardware_panels(report)
    axes = np.atleast_1d(sub.subplots(1, len(panels)))
    colors = ("tab:green", "tab:purple", "tab:brown")
    for ax, (title, bars, note) in zip(axes, panels, strict=True):
        x = np.arange(len(bars))
        stacked = bars and isinstance(bars[0][1], tuple)
        series = list(zip(*[b[1] for b in bars], strict=True)) if stacked else [[b[1] for b in bars]]
        every = np.array([v for s in series for v in s], dtype=float)
        positive = every[every > 0]
        floor = 10.0 ** np.floor(np.log10(positive.min())) / 2 if len(positive) else 0.5
        width = 0.8 / len(series)
        for k, values in enumerate(series):
            v = np.array(values, dtype=float)
            xs = x + (k - (len(series) - 1) / 2) * width
            name = ("registers", "RAM", "ROM")[k] if stacked else None
            ax.bar(xs, np.maximum(v, floor), width, color=colors[k % 3] if stacked else "tab:blue", label=name)
            _bar_labels(ax, xs, v, floor, vertical=stacked)
        ax.set_yscale("log")
        ax.set_ylim(floor, max(every.max(initial=1.0), 1.0) * HEADROOM)
        ax.set_xticks(x)
        ax.set_xticklabels([b[0] for b in bars], rotation=30 if len(bars) > 6 else 0,
                           ha="right" if len(bars) > 6 else "center", fontsize=8)
        ax.set_title(f"{title}\n({note})", fontsize=10)
        ax.grid(axis="y", which="major", alpha=0.3)
        if stacked:
            ax.legend(loc="upper center", ncol=3, fontsize=8.5, frameon=False)


def plot_sensitivity(table: dict, path) -> None:
    """A PNG of a pruning sensitivity table (ikr_hls.pruning.sensitivity(...).to_dict()): the
    score with one layer pruned at a time, conv layers against keep (a line per library size and
    kernel sparsity), Dense layers against sparsity; the dashed line is the unpruned score."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise IKRHLSError("plotting the sensitivity needs matplotlib: pip install matplotlib") from None

    kinds = [k for k in ("conv2d", "dense") if any(l["kind"] == k for l in table["layers"].values())]
    if not kinds:
        raise IKRHLSError("plot_sensitivity: the table has no layers")
    fig = Figure(figsize=(6.5 * len(kinds), 4.8), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, len(kinds)))
    for ax, kind in zip(axes, kinds, strict=True):
        for name, layer in table["layers"].items():
            if layer["kind"] != kind:
                continue
            rows = [r for r in table["rows"] if r["layer"] == name]
            key = "keep" if kind == "conv2d" else "dense_sparsity"
            series = sorted({(r["library_size"], r["kernel_sparsity"]) for r in rows}, key=str)
            for library_size, removed in series:
                line = sorted((r[key], 100 * r["score"]) for r in rows
                              if (r["library_size"], r["kernel_sparsity"]) == (library_size, removed))
                label = name
                if kind == "conv2d" and len(series) > 1:
                    label += f", {library_size} patterns" + (f", {removed:g} kernels removed" if removed else "")
                ax.plot([p[0] for p in line], [p[1] for p in line], marker="o", markersize=3.5, label=label)
        ax.axhline(100 * table["baseline"], color="0.4", linestyle="--", linewidth=1, label="unpruned")
        ax.set_xlabel("keep (positions per kernel)" if kind == "conv2d"
                      else "dense sparsity (share of weights removed)")
        ax.set_ylabel(f"{table['metric']} (%)")
        ax.set_title(f"{table['model']}: {'conv' if kind == 'conv2d' else 'Dense'} layers pruned one at a time",
                     fontsize=10.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", facecolor="white")
