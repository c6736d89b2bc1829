"""`hls.trace(x)`: every layer's C++ output beside Keras's, as a table and a plot (issue 19
item 7), in the spirit of hls4ml's profiling.

A `Trace` is the dict `{layer: {"cpp": (N, *shape), "keras": (N, *shape) or None}}` that
trace() always returned, with:

- `rows()`: per layer its kind, result type, max |C++ - Keras|, that error relative to Keras's
  largest magnitude, both value ranges, and for a fixed-point type the share of C++ values at
  the type's bounds (saturated or wrapped into range: the usual sign of too few integer bits);
- `table()` (also its repr): those rows as text;
- `plot(path)`: a PNG with the error per layer (log scale), and each layer's Keras values
  (|x|, box plots on a log axis) over the range its C++ type represents (shaded: from its
  smallest step to its largest value), like hls4ml's profiling plots.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import IKRHLSError


class Trace(dict):
    """{layer: {"cpp": array, "keras": array or None}}, with rows(), table() and plot()."""

    def __init__(self, pairs: dict, graph):
        super().__init__(pairs)
        self._graph = graph

    def rows(self) -> list:
        return [_row(layer, self[layer.name]) for layer in self._graph.layers if layer.name in self]

    def table(self) -> str:
        head = ("layer", "kind", "result type", "max |C++ - Keras|", "relative", "Keras range", "C++ range",
                "at bounds")
        body = [(r["layer"], r["kind"], r["type"], _num(r["max_abs_error"]), _pct(r["relative_error"]),
                 _range(r["keras_range"]), _range(r["cpp_range"]), _pct(r["at_bounds"])) for r in self.rows()]
        widths = [max(len(str(row[i])) for row in (head, *body)) for i in range(len(head))]
        lines = ["  ".join(str(v).rjust(w) if i >= 3 else str(v).ljust(w) for i, (v, w) in enumerate(zip(row, widths,
                                                                                                       strict=True)))
                 for row in (head, tuple("-" * w for w in widths), *body)]
        return "\n".join(line.rstrip() for line in lines)

    def __repr__(self) -> str:
        return self.table()

    def plot(self, path) -> None:
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            raise IKRHLSError("plotting the trace needs matplotlib: pip install matplotlib") from None
        rows = self.rows()
        fig = Figure(figsize=(13.0, 4.0 + 0.32 * len(rows)), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        errors, ranges = fig.subplots(1, 2, width_ratios=(1, 2))
        names = [r["layer"] for r in rows][::-1]               # top to bottom in model order
        y = np.arange(len(rows))
        err = np.array([r["max_abs_error"] if r["max_abs_error"] is not None else np.nan for r in rows][::-1])
        floor = np.nanmin(err[err > 0]) / 10 if np.any(err > 0) else 1e-12
        errors.barh(y, np.where(err > 0, err, floor), color="tab:red")
        errors.set_xscale("log")
        errors.set_yticks(y, names)
        errors.set_title("max |C++ - Keras| per layer", fontsize=10.5)
        errors.grid(axis="x", alpha=0.3)
        data = []
        for r in rows[::-1]:
            keras = self[r["layer"]]["keras"]
            values = np.abs(np.asarray(keras if keras is not None else self[r["layer"]]["cpp"], dtype=float)).ravel()
            data.append(values[values > 0] if np.any(values > 0) else np.array([floor]))
        for k, r in enumerate(rows[::-1]):                     # the type's range, shaded behind
            if r["representable"] is not None:
                low, high = r["representable"]
                ranges.fill_betweenx([k - 0.4, k + 0.4], low, high, color="0.85", zorder=0)
        import matplotlib

        version = tuple(int(v) for v in matplotlib.__version__.split(".")[:2])
        across = {"orientation": "horizontal"} if version >= (3, 10) else {"vert": False}   # renamed in 3.10
        ranges.boxplot(data, positions=y, widths=0.6, showfliers=True, flierprops=dict(markersize=2, alpha=0.4),
                       **across)
        ranges.set_xscale("log")
        ranges.set_yticks(y, [f"{r['layer']} ({r['type']})" for r in rows[::-1]])
        ranges.set_title("|Keras values| per layer over its C++ type's range (grey: smallest step to largest)",
                         fontsize=10.5)
        ranges.grid(axis="x", alpha=0.3)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", facecolor="white")


def _row(layer, pair: dict) -> dict:
    cpp = np.asarray(pair["cpp"], dtype=float)
    keras = None if pair.get("keras") is None else np.asarray(pair["keras"], dtype=float)
    t = layer.precision.get("result")
    error = float(np.max(np.abs(cpp - keras))) if keras is not None and keras.shape == cpp.shape and cpp.size else None
    scale = float(np.max(np.abs(keras))) if keras is not None and keras.size else 0.0
    representable = at_bounds = None
    if t is not None and not t.is_float:
        step = 2.0 ** -t.fractional
        top = (2.0 ** (t.width - (1 if t.signed else 0)) - 1) * step
        bottom = -(top + step) if t.signed else 0.0
        representable = (step, top)
        pinned = (cpp >= top) | ((cpp <= bottom) if t.signed else False)   # 0 is no bound of an unsigned type
        at_bounds = float(np.mean(pinned)) if cpp.size else 0.0
    return {"layer": layer.name, "kind": layer.kind, "type": t.cpp if t is not None else "-",
            "max_abs_error": error, "relative_error": error / scale if error is not None and scale else None,
            "keras_range": None if keras is None or not keras.size else (float(keras.min()), float(keras.max())),
            "cpp_range": (float(cpp.min()), float(cpp.max())) if cpp.size else None,
            "at_bounds": at_bounds, "representable": representable}


def _num(v) -> str:
    return "-" if v is None else f"{v:.3g}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def _range(r) -> str:
    return "-" if r is None else f"[{r[0]:.3g}, {r[1]:.3g}]"
