"""sensitivity: how much each prunable layer tolerates, alone.

For every selected layer and every candidate setting (conv: keep x library_size x
kernel_sparsity; Dense: dense_sparsity) the layer is pruned at once with `prune_once`, the
others left dense, and the model is scored on validation data; the weights are restored after
each candidate. Each row also holds the layer's nonzero parameters and MACs as `summary`
counts them, which is what `plan_budget` needs to price a choice.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import keras
import numpy as np

from ..errors import IKRHLSError
from .callback import prune_once
from .masks import read
from .options import PruningOptions
from .summary import summary

log = logging.getLogger("ikr_hls.pruning")

# finer where Dense layers usually end (0.9 to 0.99): there each step is a large share of what is left
DEFAULT_DENSE_SPARSITIES = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.875, 0.9, 0.91, 0.92, 0.93, 0.94, 0.945, 0.95,
                            0.955, 0.96, 0.965, 0.97, 0.975, 0.98, 0.985, 0.99)
# the settings a row is keyed by, in the order the text shows them
SETTINGS = ("keep", "library_size", "kernel_sparsity", "dense_sparsity")


def default_keeps(size: int) -> list:
    """Candidate keeps for a kernel of `size` positions: every keep up to 8 (where each step is
    a large share of the cost), then a few towards size - 1."""
    fine = range(1, min(size, 9))
    coarse: list = np.unique(np.round(np.geomspace(8, max(size - 1, 8), 5))).astype(int).tolist() if size > 9 else []
    return sorted({*fine, *(k for k in coarse if k < size)})


@dataclass
class SensitivityTable:
    """The result of `sensitivity`: rows of (layer, setting, score, cost), the unpruned score, and
    each layer's dense counts. `to_dict()` is JSON-ready; `plot(path)` draws it."""
    model_name: str
    metric: str
    baseline: float                             # the score of the unpruned model
    rows: list = field(default_factory=list)    # dicts: layer, kind, settings, score, drop, counts
    layers: dict = field(default_factory=dict)  # name -> {kind, kernel_size, params, nonzero, macs}
    totals: dict = field(default_factory=dict)  # the unpruned model's summary totals

    def for_layer(self, name: str) -> list:
        return [r for r in self.rows if r["layer"] == name]

    def to_dict(self) -> dict:
        return {"model": self.model_name, "metric": self.metric, "baseline": self.baseline,
                "rows": [dict(r) for r in self.rows], "layers": dict(self.layers), "totals": dict(self.totals)}

    def text(self) -> str:
        out = [f'IKR sensitivity of "{self.model_name}": {self.metric} with one layer pruned at a '
               f"time (unpruned: {_pct(self.baseline)})"]
        for name, layer in self.layers.items():
            rows = self.for_layer(name)
            header: tuple
            cells: list
            if layer["kind"] == "conv2d":
                kh, kw = layer["kernel_size"]
                header = ("keep", "library", "kernels removed", self.metric, "drop (pt)", "kept energy",
                          "params", "MACs")
                cells = [(f"{r['keep']}/{kh * kw}", r["library_size"], f"{r['kernel_sparsity']:g}",
                          _pct(r["score"]), f"{100 * r['drop']:+.2f}", _pct(r["kept_energy"]),
                          f"{r['nonzero']:,}", f"{r['macs']:,}") for r in rows]
            else:
                header = ("sparsity", self.metric, "drop (pt)", "kept energy", "params", "MACs")
                cells = [(f"{r['dense_sparsity']:g}", _pct(r["score"]), f"{100 * r['drop']:+.2f}",
                          _pct(r["kept_energy"]), f"{r['nonzero']:,}", f"{r['macs']:,}") for r in rows]
            out += ["", f"{name} ({layer['kind']}; dense: {layer['nonzero']:,} nonzero params, "
                        f"{layer['macs']:,} MACs)"] + _columns(header, cells)
        return "\n".join(out)

    __str__ = text

    def __repr__(self) -> str:
        return f"<SensitivityTable {self.model_name!r}: {len(self.rows)} rows over {len(self.layers)} layers>"

    def plot(self, path) -> None:
        """A PNG: per layer, the score against the share of its weights kept (report/plot.py)."""
        from ..report.plot import plot_sensitivity
        plot_sensitivity(self.to_dict(), path)


def sensitivity(model, x_val, y_val, keep=None, library_size=8, dense_sparsity=None, kernel_sparsity=0.0,
                layers=None, library="refine", force_center=False, metric="accuracy", batch_size=256,
                print_fn=None) -> SensitivityTable:
    """Score `model` on (x_val, y_val) with each prunable layer pruned alone at each candidate.

    keep:            candidate keeps of the conv layers: a list, or {layer: list}; None: every
                     keep up to 8 and a few above (default_keeps).
    library_size:    candidate library sizes (int or list, or {layer: ...}).
    kernel_sparsity: candidate fractions of whole kernels removed (float or list, or {layer: ...}).
    dense_sparsity:  candidate Dense sparsities (list, or {layer: list}); None: 0.5 ... 0.99
                     (DEFAULT_DENSE_SPARSITIES, finer from 0.9 on).
    layers, library, force_center: as for IKRPruning (which layers; how patterns are chosen).
    metric:          "accuracy" (arg-max of the output against integer or one-hot labels), or a
                     callable(y_true, y_pred) -> float, higher is better.
    print_fn:        called with the table's text (None: nothing printed).
    The model's weights are the same afterwards; it needs no compile.
    """
    if not isinstance(model, keras.Model):
        raise IKRHLSError(f"sensitivity: expected a keras.Model, got {type(model).__name__}")
    score = _scorer(metric, x_val, y_val, batch_size)
    plans = PruningOptions(layers=layers, library=library, force_center=force_center).selected_plans(model)
    base = summary(model, print_fn=None)
    by_name = {l.name: l for l in base.layers}
    table = SensitivityTable(model.name, metric if isinstance(metric, str) else getattr(metric, "__name__", "score"),
                             score(model), totals=base.totals)
    for plan in plans:
        s = by_name[plan.name]
        table.layers[plan.name] = {"kind": plan.kind, "kernel_size": list(plan.layer.kernel_size)
                                   if plan.kind == "conv2d" else None,
                                   "params": s.params, "nonzero": s.nonzero, "macs": s.macs_pruned}
        original = read(plan.variable)
        try:
            for setting in _candidates(plan, keep, library_size, kernel_sparsity, dense_sparsity):
                options = _one_layer_options(plan, setting)
                infos = prune_once(model, layers=[plan.name], **options,
                                   **for_layers({"library": library, "force_center": force_center}, [plan.name]))
                info = infos.get(plan.name, {})
                pruned = next(l for l in summary(model, print_fn=None).layers if l.name == plan.name)
                value = score(model)
                table.rows.append({"layer": plan.name, "kind": plan.kind, **setting, "score": value,
                                   "drop": table.baseline - value, "kept_energy": info.get("kept_energy", 1.0),
                                   "nonzero": pruned.nonzero, "macs": pruned.macs_pruned})
                plan.variable.assign(original)
        finally:
            plan.variable.assign(original)
        log.info("sensitivity of %s: %d settings", plan.name, len(table.for_layer(plan.name)))
    if print_fn is not None:
        print_fn(table.text())
    return table


def _candidates(plan, keep, library_size, kernel_sparsity, dense_sparsity) -> list:
    """The settings tried for one layer, each a dict of SETTINGS (the others' neutral values)."""
    name = plan.name
    if plan.kind == "dense":
        values = _values("dense_sparsity", dense_sparsity, name, DEFAULT_DENSE_SPARSITIES, _fraction)
        return [{"keep": None, "library_size": None, "kernel_sparsity": 0.0, "dense_sparsity": v} for v in values]
    kh, kw = plan.layer.kernel_size
    size = kh * kw
    keeps = _values("keep", keep, name, default_keeps(size), _int_at_least_1)
    bad = [k for k in keeps if k > size]
    if bad:
        raise IKRHLSError(f"keep candidates {bad} for layer {name} ({kh}x{kw} kernel): must be from 1 to {size}")
    sizes = _values("library_size", library_size, name, [8], _int_at_least_1)
    removed = _values("kernel_sparsity", kernel_sparsity, name, [0.0], _fraction)
    return [{"keep": k, "library_size": n, "kernel_sparsity": r, "dense_sparsity": 0.0}
            for k in keeps for n in sizes for r in removed]


def for_layers(options: dict, names: list) -> dict:
    """Options restricted to the layers `names`: a per-layer dict keeps only their entries (so
    that prune_once(layers=names) does not refuse the names of other layers)."""
    return {k: {n: v[n] for n in names if n in v} if isinstance(v, dict) else v for k, v in options.items()}


def _one_layer_options(plan, setting: dict) -> dict:
    if plan.kind == "dense":
        return {"dense_sparsity": setting["dense_sparsity"]}
    return {"keep": setting["keep"], "library_size": setting["library_size"],
            "kernel_sparsity": setting["kernel_sparsity"]}


def _values(key, value, name, default, check) -> list:
    """A layer's candidates from a scalar, a list, or a dict of these by layer name."""
    if isinstance(value, dict):
        value = value.get(name, default)
    if value is None:
        value = default
    values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    if not values:
        raise IKRHLSError(f"{key}: no candidates for layer {name}")
    for v in values:
        check(f"{key} candidate for layer {name}", v)
    return sorted(set(values))


def _int_at_least_1(key, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise IKRHLSError(f"{key}: {v!r} is not an integer >= 1")


def _fraction(key, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not 0 <= float(v) < 1:
        raise IKRHLSError(f"{key}: {v!r} is not a number in [0, 1)")


def _scorer(metric, x_val, y_val, batch_size):
    x_val = np.asarray(x_val)
    y_val = np.asarray(y_val)
    if len(x_val) == 0 or len(x_val) != len(y_val):
        raise IKRHLSError(f"sensitivity: x_val and y_val must be non-empty and of one length, got "
                          f"{len(x_val)} and {len(y_val)}")
    if metric == "accuracy":
        labels = y_val.argmax(-1) if y_val.ndim > 1 and y_val.shape[-1] > 1 else y_val.reshape(len(y_val))

        def accuracy(model) -> float:
            y = np.asarray(model.predict(x_val, batch_size=batch_size, verbose=0))
            if y.ndim != 2 or y.shape[-1] < 2:
                raise IKRHLSError(f"metric='accuracy' needs a classifier's (N, classes) output; model "
                                  f"{model.name!r} gives {y.shape}: pass metric=callable(y_true, y_pred)")
            return float(np.mean(y.argmax(-1) == labels))
        return accuracy
    if callable(metric):
        def custom(model) -> float:
            value = float(metric(y_val, np.asarray(model.predict(x_val, batch_size=batch_size, verbose=0))))
            if not math.isfinite(value):
                raise IKRHLSError(f"metric {getattr(metric, '__name__', metric)!r} returned {value}")
            return value
        return custom
    raise IKRHLSError(f"metric={metric!r}: use 'accuracy' or a callable(y_true, y_pred) -> float")


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def _columns(header, rows) -> list:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r) -> str:
        return "  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)).rstrip()
    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]
