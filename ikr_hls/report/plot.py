"""The report as a PNG: a header with the totals, each non-trivial conv layer's pattern library
(KxK grids with the number of kernels using each), per layer, on log scales, MACs and parameters
dense vs IKR-pruned and weight storage in the three schemes, then the hardware the code
describes: per layer multipliers (with its strategy and reuse factor), cycles (II x steps,
and the design's interval), memory bits, and in io_stream every FIFO's depth.

It scales to models of a hundred layers (issue 26): the picture stays within MAX_WIDTH_PX x
MAX_HEIGHT_PX, a library with nothing to show (one pattern covering the whole kernel, as every
1x1 conv has) is counted in the header instead of drawn, a panel with more than MAX_BARS bars
shows the MAX_BARS - 1 largest in layer order and one "N others" bar for the rest, and label
sizes and rotation follow from the room each bar gets, so labels do not print over each other."""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IKRHLSError
from .text import MAX_DRAWN_PATTERNS, _n, _x
from .text import _compact_number as _compact

HEADROOM = 60      # a log axis ends this many times above its largest bar: labels, ratios, legend
DPI = 100
MAX_WIDTH_PX = 2400            # the largest picture drawn: a page a person opens and reads
MAX_HEIGHT_PX = 3000
MAX_BARS = 24                  # bar groups per panel, the "N others" bar included
COMPACT_BARS = 8               # up to this many bars a panel, three panels a row on a 15 in page
MIN_FONT_PT = 5.0              # below this a bar's value label is left out (the log axis gives it)
PX_PER_PT = DPI / 72
CHAR_EM = 0.62                 # DejaVu Sans: a character's mean advance, in em (digits 0.64)
LINE_EM = 1.25                 # a line's height, in em
HEADER_IN = 0.75               # the two header lines; each further note line adds NOTE_IN
NOTE_IN = 0.28
BAR_ROW_IN = 4.4
LIBRARY_TITLE_IN = 0.45
TILE_STEP = (1.35, 1.3)        # a pattern grid (1 x 1 data units) and its gap, title included

log = logging.getLogger("ikr_hls")


@dataclass(frozen=True)
class Layout:
    """The page: its width, bar panels a row, pattern libraries a row (side by side) and
    pattern grids a row in each."""
    width_in: float
    panels_per_row: int
    libraries_per_row: int
    grids_per_row: int = 8

    @property
    def grid_row_in(self) -> float:
        """A row of pattern grids in inches: the grids are square and span their library's share."""
        share = self.width_in / self.libraries_per_row
        return 0.97 * share / (self.grids_per_row * TILE_STEP[0]) * TILE_STEP[1]


COMPACT = Layout(width_in=15.0, panels_per_row=3, libraries_per_row=1)
WIDE = Layout(width_in=MAX_WIDTH_PX / DPI, panels_per_row=2, libraries_per_row=2)


@dataclass(frozen=True)
class Panel:
    """One bar chart: a bar group per label, one value per series in each; `combine` says how
    the bars beyond MAX_BARS add up into "N others" ("sum", or "max" where a sum means nothing,
    as for cycles of layers that run side by side); `ratio` prints series 0 / series 1 in bold."""
    title: str
    note: str
    bars: list                  # [(label, (value per series))]
    series: tuple               # ((legend name or None, color), ...)
    combine: str = "sum"
    ratio: bool = False
    ylabel: str | None = None


def trivial_library(layer: dict) -> bool:
    """A library with nothing to show: a single pattern keeping the whole kernel (every 1x1
    conv, and any conv left unpruned)."""
    patterns = layer.get("patterns") or []
    return len(patterns) == 1 and all(all(row) for row in patterns[0]["grid"])


def aggregate_bars(bars: list, limit: int = MAX_BARS, combine: str = "sum") -> list:
    """At most `limit` bars: the limit - 1 largest (summed over the series), in their order,
    and one "N others" bar with the rest summed (combine="sum") or their largest ("max")."""
    if combine not in ("sum", "max"):
        raise IKRHLSError(f"aggregate_bars: combine must be 'sum' or 'max', not {combine!r}")
    if len(bars) <= limit:
        return list(bars)
    size = [sum(values) for _, values in bars]
    kept = set(sorted(range(len(bars)), key=lambda i: -size[i])[:limit - 1])
    rest = [bars[i][1] for i in range(len(bars)) if i not in kept]
    merge = sum if combine == "sum" else max
    others = tuple(merge(column) for column in zip(*rest, strict=True))
    label = f"{len(rest)} others\n({'sum' if combine == 'sum' else 'largest'})"
    return [bars[i] for i in range(len(bars)) if i in kept] + [(label, others)]


def compression_panels(report: dict) -> list[Panel]:
    """The first bar row: MACs, parameters and weight storage per layer, dense against pruned."""
    counted = [l for l in report["layers"] if l["macs_dense"] is not None]
    stored = [l for l in report["layers"] if l["storage_bits"] is not None]
    grey, blue = ("dense", "0.65"), "tab:blue"
    return [
        Panel("MACs per inference", "bold: dense / IKR-pruned",
              [(l["name"], (l["macs_dense"], l["macs_pruned"])) for l in counted],
              (grey, ("IKR-pruned", blue)), ratio=True, ylabel="MACs per inference, log scale"),
        Panel("parameters (weights + biases)", "bold: dense / nonzero",
              [(l["name"], (l["params_dense"], l["params_nonzero"])) for l in counted],
              (grey, ("nonzero", blue)), ratio=True, ylabel="parameters (weights + biases), log scale"),
        Panel("weight storage (bits)", "bold: dense / IKR",
              [(l["name"], (l["storage_bits"]["dense"], l["storage_bits"]["ikr"], l["storage_bits"]["csr"]))
               for l in stored],
              (grey, ("IKR", blue), ("CSR", "tab:orange")), ratio=True, ylabel="weight storage (bits), log scale"),
    ]


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


def _hardware_as_panels(report: dict) -> list[Panel]:
    out = []
    for title, bars, note in hardware_panels(report):
        if bars and isinstance(bars[0][1], tuple):
            series: tuple = (("registers", "tab:green"), ("RAM", "tab:purple"), ("ROM", "tab:brown"))
            rows = bars
        else:
            series, rows = ((None, "tab:blue"),), [(name, (value,)) for name, value in bars]
        out.append(Panel(title, note, rows, series, combine="max" if title.startswith("cycles") else "sum"))
    return out


def _types(layer: dict) -> str:
    """A layer's weight and result types, short: w<8,3> r<16,6> (u: unsigned)."""
    def short(cpp):
        return cpp.replace("ap_ufixed", "u").replace("ap_fixed", "").replace(", ", ",") if cpp else "-"
    weight = f"w{short(layer['weight_type'])} " if layer.get("weight_type") else ""
    return f"{weight}r{short(layer.get('result_type'))}"


def fit_text(slot_px: float, texts: list[str], largest_pt: float) -> tuple[float, int]:
    """(font size in pt, rotation) for texts centred in slots slot_px wide, each in its own:
    level when the widest fits at 6.5 pt or more, else turned upright with its lines' height
    filling at most 90% of the slot (the size may fall below MIN_FONT_PT: the caller decides)."""
    lines = max((t.count("\n") + 1 for t in texts), default=1)
    chars = max((len(line) for t in texts for line in t.split("\n")), default=1)
    room = 0.9 * slot_px
    for pt in np.arange(largest_pt, 6.49, -0.5):
        if chars * CHAR_EM * pt * PX_PER_PT <= room:
            return float(pt), 0
    return float(min(largest_pt, room / (lines * LINE_EM * PX_PER_PT))), 90


def report_figure(report: dict):
    """The report's matplotlib Figure (Agg canvas), built but not yet laid out or saved:
    plot_report saves it; tests read its texts and sizes."""
    # Figure + the Agg canvas directly: no pyplot, no display, the global backend untouched.
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise IKRHLSError("plotting the report needs matplotlib: pip install matplotlib") from None

    panels = compression_panels(report) + _hardware_as_panels(report)
    aggregated = [p.title.split(" (")[0].split(":")[0] for p in panels if len(p.bars) > MAX_BARS]
    panels = [Panel(p.title, p.note, aggregate_bars(p.bars, MAX_BARS, p.combine), p.series, p.combine, p.ratio,
                    p.ylabel) for p in panels]
    longest = max((len(p.bars) for p in panels), default=0)
    page = COMPACT if longest <= COMPACT_BARS else WIDE
    if page is COMPACT:          # the compression row, then the hardware row (3 or 4 panels)
        bar_rows = [panels[:3]] + ([panels[3:]] if len(panels) > 3 else [])
    else:
        bar_rows = [panels[i:i + page.panels_per_row] for i in range(0, len(panels), page.panels_per_row)]

    convs = [l for l in report["layers"] if l.get("patterns")]
    trivial = [l for l in convs if trivial_library(l)]
    budget = MAX_HEIGHT_PX / DPI - HEADER_IN - NOTE_IN * 3 - BAR_ROW_IN * len(bar_rows)   # 3 notes at most
    shown, not_drawn = _libraries_that_fit([l for l in convs if not trivial_library(l)], page, budget)
    notes = []
    if trivial:
        kinds = Counter("x".join(map(str, l["kernel_size"])) for l in trivial)
        notes.append(f"{len(trivial)} trivial pattern librar{'y' if len(trivial) == 1 else 'ies'} left out "
                     f"(one pattern keeping the whole kernel: {', '.join(f'{n} {k}' for k, n in kinds.items())})")
    if not_drawn:
        names = ", ".join(not_drawn[:6]) + (", ..." if len(not_drawn) > 6 else "")
        notes.append(f"{len(not_drawn)} more pattern librar{'y' if len(not_drawn) == 1 else 'ies'} not drawn "
                     f"for room ({names}): the text report lists them")
    if aggregated:
        notes.append(f"panels of more than {MAX_BARS} bars ({', '.join(aggregated)}) show the {MAX_BARS - 1} "
                     "largest in layer order and the rest as one 'N others' bar")
    log.info("plot: drawing %d pattern librar%s (%d trivial left out, %d not drawn for room) and %d bar charts "
             "of at most %d bars ...", len(shown), "y" if len(shown) == 1 else "ies", len(trivial), len(not_drawn),
             len(panels), longest)

    library_rows = [shown[i:i + page.libraries_per_row] for i in range(0, len(shown), page.libraries_per_row)]
    library_heights = [_library_row_in(row, page) for row in library_rows]
    heights = [HEADER_IN + NOTE_IN * len(notes)] + library_heights + [BAR_ROW_IN] * len(bar_rows)
    assert sum(heights) * DPI <= MAX_HEIGHT_PX and page.width_in * DPI <= MAX_WIDTH_PX   # the budget above
    fig = Figure(figsize=(page.width_in, sum(heights)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    subfigs = np.atleast_1d(fig.subfigures(len(heights), 1, height_ratios=heights))  # type: ignore[arg-type]
    _plot_header(subfigs[0], report, notes)
    for sub, row in zip(subfigs[1:1 + len(library_rows)], library_rows, strict=True):
        n_rows = max(rows for _, rows in row)
        side = np.atleast_1d(sub.subfigures(1, page.libraries_per_row)) if page.libraries_per_row > 1 else [sub]
        for part, (l, _) in zip(side, row, strict=False):
            _plot_library(part, l, n_rows, page.grids_per_row)
    for sub, row in zip(subfigs[1 + len(library_rows):], bar_rows, strict=True):
        columns = max(len(row), page.panels_per_row)
        axes = np.atleast_1d(sub.subplots(1, columns))
        for ax, panel in zip(axes, row, strict=False):
            _plot_panel(ax, panel, page.width_in * DPI / columns * 0.8)     # 0.8: the axes' share of its panel
        for ax in axes[len(row):]:
            ax.set_axis_off()
    return fig


def _library_row_in(row: list, page: Layout) -> float:
    """The height of a row of libraries side by side: its tallest library's grids and title."""
    return page.grid_row_in * max(rows for _, rows in row) + LIBRARY_TITLE_IN


def _libraries_that_fit(libraries: list, page: Layout, budget_in: float) -> tuple[list, list]:
    """([(layer, rows of grids)] drawn, [names not drawn]): the libraries in layer order,
    libraries_per_row side by side, while their rows fit in budget_in inches; the rest named."""
    shown: list = []
    for n, l in enumerate(libraries):
        rows = -(-min(len(l["patterns"]), MAX_DRAWN_PATTERNS) // page.grids_per_row)
        candidate = shown + [(l, rows)]
        rows_of = [candidate[i:i + page.libraries_per_row] for i in range(0, len(candidate), page.libraries_per_row)]
        if sum(_library_row_in(row, page) for row in rows_of) > budget_in:
            return shown, [m["name"] for m in libraries[n:]]
        shown = candidate
    return shown, []


def plot_report(report: dict, path) -> None:
    """A PNG: a header with the totals, each non-trivial conv layer's pattern library (KxK
    grids with the number of kernels using each), then per layer, on log scales, MACs and
    parameters dense vs IKR-pruned, weight storage in the three schemes, and the hardware row;
    at most MAX_WIDTH_PX x MAX_HEIGHT_PX, progress on the "ikr_hls" logger."""
    start = time.perf_counter()
    fig = report_figure(report)
    width, height = (fig.get_size_inches() * DPI).round().astype(int)
    log.info("plot: laying out and writing %d x %d px to %s ...", width, height, path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", facecolor="white")
    log.info("plot: done in %.1f s", time.perf_counter() - start)


def _plot_header(sub, report: dict, notes: list[str]) -> None:
    t = report["totals"]
    lines = [f"ikr-hls report: {report['project']}  ({report['source']}, {report['precision']}, "
             f"{report.get('io_type', 'io_parallel')}, strategy {report['strategy']}, reuse factor "
             f"{report['reuse_factor']})",
             f"parameters {_x(t['params_reduction'])} fewer, MACs {_x(t['macs_reduction'])} "
             f"fewer; weight storage dense/IKR {_x(t['storage_reduction']['ikr'])}, "
             f"dense/CSR {_x(t['storage_reduction']['csr'])}; " + (
                 "floating point: a host check, no hardware figures" if report.get("host_check_only") else
                 f"{_n(t['multipliers'])} multipliers; latency {_n(t['latency_estimate_cycles'])} "
                 "cycles (estimate)")] + notes
    step = 1.0 / (len(lines) + 0.2)
    for i, line in enumerate(lines):
        sub.text(0.5, 1.0 - step * (i + 0.6), line, ha="center", va="center",
                 fontsize=13 if i == 0 else 10.5 if i == 1 else 9.5, fontweight="bold" if i == 0 else "normal",
                 color="0.25" if i > 1 else "black")


def _plot_library(sub, l: dict, n_rows: int, cols: int) -> None:
    """The library in one axes, a unit square per pattern, its cells one collection: an axes
    (or an image) per grid made the layout of a 50-conv model take most of a minute."""
    from matplotlib import colormaps
    from matplotlib.collections import PolyCollection

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
    ax = sub.subplots()
    side = max(kh, kw)
    cw, ch = 1 / side, 1 / side                      # a cell; a non-square kernel keeps its shape
    pruned, kept = colormaps["Blues"](0.1 / 1.1), colormaps["Blues"](1.0)
    cells, colors, frames = [], [], []
    for i, p in enumerate(shown):
        x0, y0 = (i % cols) * TILE_STEP[0], -(i // cols) * TILE_STEP[1]
        for r, row in enumerate(p["grid"]):
            for c, on in enumerate(row):
                x, y = x0 + c * cw, y0 + (kh - 1 - r) * ch                 # row 0 on top
                cells.append([(x, y), (x + cw, y), (x + cw, y + ch), (x, y + ch)])
                colors.append(kept if on else pruned)
        frames.append([(x0, y0), (x0 + kw * cw, y0), (x0 + kw * cw, y0 + kh * ch), (x0, y0 + kh * ch)])
        ax.text(x0 + kw * cw / 2, y0 + 1.04, f"#{i}: {p['kernels']} kernel{'' if p['kernels'] == 1 else 's'}",
                ha="center", va="bottom", fontsize=9.5)
    ax.add_collection(PolyCollection(cells, facecolors=colors, edgecolors="0.6", linewidths=0.6))
    ax.add_collection(PolyCollection(frames, facecolors="none", edgecolors="black", linewidths=0.8))
    ax.set_xlim(-0.02, cols * TILE_STEP[0] - (TILE_STEP[0] - 1) + 0.02)
    ax.set_ylim(-(n_rows - 1) * TILE_STEP[1] - 0.02, TILE_STEP[1] - 0.02)
    ax.set_aspect("equal")
    ax.set_anchor("W")
    ax.set_axis_off()


def _plot_panel(ax, panel: Panel, axes_px: float) -> None:
    """One bar chart on a log axis: the bars, each labelled with its value where it fits, the
    bold ratios, tick labels sized and turned from the room a bar group gets."""
    from matplotlib.ticker import NullLocator

    x = np.arange(len(panel.bars))
    n_series = len(panel.series)
    width = 0.8 / n_series
    values = [np.array([b[1][k] for b in panel.bars], dtype=float) for k in range(n_series)]
    every = np.concatenate(values) if values else np.zeros(0)
    top = max(every.max(initial=1.0), 1.0)
    positive = every[every > 0]
    floor = 10.0 ** np.floor(np.log10(positive.min())) / 2 if len(positive) else 0.5
    slot_px = axes_px / max(len(panel.bars), 1)
    value_pt, value_turn = fit_text(slot_px * width, [_compact(v) for s in values for v in s], 7.5)
    for k, ((label, color), v) in enumerate(zip(panel.series, values, strict=True)):
        xs = x + (k - (n_series - 1) / 2) * width
        ax.bar(xs, np.maximum(v, floor), width, label=label, color=color)
        if value_pt >= MIN_FONT_PT:
            for xi, vi in zip(xs, v, strict=True):
                ax.text(xi, max(vi, floor) * 1.12, _compact(vi), ha="center", va="bottom", fontsize=value_pt,
                        color="0.2", rotation=value_turn)
    ax.set_yscale("log")
    if len(panel.bars) > COMPACT_BARS:      # minor log ticks: about a second of MobileNetV2's drawing
        ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylim(floor, top * HEADROOM)      # headroom: value labels, ratios, legend
    if panel.ratio:
        ratios = [f"{d / p:.1f}x" if p else "" for d, p in zip(values[0], values[1], strict=True)]
        ratio_pt, ratio_turn = fit_text(slot_px, ratios, 9)
        for xi, text in zip(x, ratios, strict=True):
            ax.text(xi, top * 6, text, ha="center", va="bottom", fontsize=ratio_pt, fontweight="bold",
                    rotation=ratio_turn)
    names = [b[0] for b in panel.bars]
    tick_pt, tick_turn = fit_text(slot_px, names, 9 if n_series > 1 and len(names) <= COMPACT_BARS else 8)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=tick_turn, fontsize=max(tick_pt, MIN_FONT_PT),
                       ha="center", va="top")
    ax.set_xlim(-0.6, len(panel.bars) - 0.4)
    if panel.ylabel:
        ax.set_ylabel(panel.ylabel)
    ax.set_title(f"{panel.title}\n({panel.note})", fontsize=10.5 if panel.ratio else 10)
    ax.grid(axis="y", which="major", alpha=0.3)
    if any(label for label, _ in panel.series):
        ax.legend(loc="upper center", ncol=n_series, fontsize=8.5, frameon=False)


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
