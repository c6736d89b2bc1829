"""plan_budget: per-layer keep, library size and sparsities that meet a compression or hardware
budget with the smallest predicted loss.

    plan = plan_budget(model, x_val, y_val, params_ratio=16, macs_ratio=10)
    IKRPruning(**plan, schedule=PolynomialDecay(...))

The prediction is the sensitivity table's (sensitivity.py): a layer's loss at a setting is its
accuracy drop when pruned alone, made monotone (pruning more never predicts less loss) and
summed over the layers. Parameters and MACs of a setting are counted by `summary`; LUT, FF, DSP
and BRAM are priced by converting the model with that layer pruned (ikr_hls.convert, then the
report's resources estimate), as a change from the unpruned model's. The choice itself is a
multiple-choice knapsack (knapsack.py); the chosen plan is then pruned whole and counted (and
priced) again, and the next best is taken when it misses a limit.
"""
from __future__ import annotations

import logging
import math
import numbers
import tempfile

import numpy as np

from ..errors import IKRHLSError
from .callback import prune_once
from .knapsack import Option, best_choices
from .masks import read
from .options import PruningOptions
from .sensitivity import SensitivityTable, for_layers, sensitivity
from .summary import summary

# where the priced products go: as the converter binds them, or all on DSPs, or all in fabric
MAPPINGS = ("auto", "dsp", "fabric")

log = logging.getLogger("ikr_hls.pruning")

_SENSITIVITY_DEFAULTS = (None, 8, None, 0.0, None, "accuracy")
CHECKED = 20                                    # plans tried, best first, before giving up


class BudgetPlan(dict):
    """The plan: a dict of IKRPruning keyword arguments (keep, library_size, dense_sparsity and,
    when used, kernel_sparsity, library, force_center, each by layer name), with the reasons:
    `layers` (per layer: setting, one-shot drop, nonzero params, MACs), `predicted` (the totals
    after pruning: params and MACs reductions, summed drop, resources when priced) and
    `targets`. `text()` (also str()) shows them per layer."""

    def __init__(self, settings: dict, layers: list, predicted: dict, targets: dict, model_name: str):
        super().__init__(settings)
        self.layers, self.predicted, self.targets, self.model_name = layers, predicted, targets, model_name

    def text(self) -> str:
        header = ("layer", "kind", "setting", "one-shot drop (pt)", "params nonzero/total", "MACs pruned/dense")
        rows = [(l["name"], l["kind"], l["describe"], f"{100 * l['drop']:.2f}", f"{l['nonzero']:,}/{l['params']:,}",
                 f"{l['macs']:,}/{l['macs_dense']:,}") for l in self.layers]
        p = self.predicted
        rows.append(("total", "", "", f"{100 * p['drop']:.2f}",
                     f"{p['nonzero']:,}/{p['params']:,} ({p['params_reduction']:.1f}x)",
                     f"{p['macs']:,}/{p['macs_dense']:,} ({p['macs_reduction']:.1f}x)"))
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

        def line(r) -> str:
            return "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        rule = line(["-" * w for w in widths])
        out = [f'IKR budget plan for "{self.model_name}": {_describe_targets(self.targets)}', line(header), rule]
        out += [line(r) for r in rows[:-1]] + [rule, line(rows[-1])]
        if p.get("resources") is not None:
            t = self.targets["resources"]
            out.append(f"resources estimate ({t['precision']}, {t['mapping']}): " + ", ".join(
                f"{k} {v:,.0f}" + (f" (limit {t['limits'][k]:,.0f})" if k in t["limits"] else "")
                for k, v in p["resources"].items()))
        out.append("One-shot drop: how far the validation score falls with that layer alone pruned at once (made "
                   "monotone); the sum ranks plans and is no forecast of the accuracy after fine-tuning.")
        return "\n".join(out)

    __str__ = text

    def __repr__(self) -> str:
        return f"BudgetPlan({dict(self)!r})"


def plan_budget(model, x_val, y_val, params_ratio=None, macs_ratio=None, resources=None,
                precision="ap_fixed<16,6>", mapping="auto", convert_options=None, table=None,
                keep=None, library_size=8, dense_sparsity=None, kernel_sparsity=0.0, layers=None,
                library="refine", force_center=False, metric="accuracy", print_fn=print) -> BudgetPlan:
    """Per-layer keep, library_size, dense_sparsity (and kernel_sparsity, when candidates are given)
    that meet every target with the smallest predicted loss; `IKRPruning(**plan, schedule=...)`.

    params_ratio:   at least this many times fewer nonzero parameters than the model has (biases count).
    macs_ratio:     at least this many times fewer MACs than the dense model.
    resources:      {"lut": n, "ff": n, "dsp": n, "bram_18k": n} (any of them): limits on the
                    estimate of the converted model at `precision`, its products where `mapping`
                    puts them: "auto" (each layer where the converter binds them, BIND_OP), "dsp"
                    or "fabric" (every layer's there: the report's resources_by_binding); other
                    `ikr_hls.convert` keywords in `convert_options` (strategy, reuse_factor, io_type...).
    table:          a SensitivityTable from `sensitivity` (else it is measured here, with keep,
                    library_size, dense_sparsity, kernel_sparsity as candidate lists, layers,
                    library, force_center and metric as `sensitivity` takes them).
    print_fn:       called with the plan's text (None: nothing printed).
    The model is left as it was. Raises IKRHLSError when no combination of the candidates meets
    the targets, naming the closest.
    """
    targets = _targets(params_ratio, macs_ratio, resources, precision, mapping, convert_options)
    if table is None:
        table = sensitivity(model, x_val, y_val, keep=keep, library_size=library_size,
                            dense_sparsity=dense_sparsity, kernel_sparsity=kernel_sparsity, layers=layers,
                            library=library, force_center=force_center, metric=metric)
    elif not isinstance(table, SensitivityTable):
        raise IKRHLSError(f"table: expected the SensitivityTable of sensitivity(), got {type(table).__name__}")
    elif (keep, library_size, dense_sparsity, kernel_sparsity, layers, metric) != _SENSITIVITY_DEFAULTS:
        raise IKRHLSError("plan_budget: the candidates (keep, library_size, dense_sparsity, kernel_sparsity, "
                          "layers, metric) are the table's when table= is given; pass them to sensitivity()")
    _check_table(model, table)
    pruning = {"library": library, "force_center": force_center}
    dims, limits, fixed = _dimensions(table, targets)
    pricer = _Pricer(model, targets, pruning) if targets["resources"] else None
    if pricer is not None:
        fixed = np.concatenate([fixed, [pricer.dense[k] for k in pricer.keys]])
    options = {name: _layer_options(table, name, dims, pricer) for name in table.layers}
    names = list(options)
    choices = best_choices([options[n] for n in names], limits, fixed, count=CHECKED)
    if not choices:
        raise IKRHLSError(f"plan_budget: no combination of the candidate settings meets {_describe_targets(targets)}; "
                          f"the most each layer can be pruned gives {_closest(table, options, dims, pricer, fixed)}: "
                          "add more aggressive candidates (keep, dense_sparsity, kernel_sparsity) or relax the target")
    missed = []
    for loss, _, picks in choices:
        chosen = {n: options[n][i] for n, i in zip(names, picks, strict=True)}
        plan = _build_plan(model, table, chosen, targets, pruning, pricer)
        miss = _misses(plan.predicted, targets)
        if not miss:
            if print_fn is not None:
                print_fn(plan.text())
            return plan
        missed.append(miss)
        log.info("plan_budget: the plan with predicted loss %.4f misses %s once pruned whole; trying the next",
                 loss, miss)
    raise IKRHLSError(f"plan_budget: the {len(choices)} best plans each miss a limit once pruned whole "
                      f"(the best: {missed[0]}); the resources are not additive enough over the layers here: "
                      "relax the limits or price with other convert_options")


# ----- targets and cost dimensions

def _targets(params_ratio, macs_ratio, resources, precision, mapping, convert_options) -> dict:
    for key, value in (("params_ratio", params_ratio), ("macs_ratio", macs_ratio)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not math.isfinite(value) or value < 1):
            raise IKRHLSError(f"{key}={value!r}: must be a number >= 1 (how many times fewer)")
    if resources is not None:
        if not isinstance(resources, dict) or not resources:
            raise IKRHLSError(f"resources={resources!r}: give a dict of limits, e.g. {{'dsp': 200, 'lut': 50000}}")
        for k, v in resources.items():
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not float(v) >= 0:
                raise IKRHLSError(f"resources[{k!r}]={v!r}: must be a number >= 0")
        if convert_options is not None and not isinstance(convert_options, dict):
            raise IKRHLSError(f"convert_options: expected a dict of ikr_hls.convert keywords, got "
                              f"{type(convert_options).__name__}")
        clash = sorted({"precision", "output_dir"} & set(convert_options or {}))
        if clash:
            raise IKRHLSError(f"convert_options: {clash} are plan_budget's own arguments (precision=...) or its own")
        if mapping not in MAPPINGS:
            raise IKRHLSError(f"mapping={mapping!r}: expected one of {', '.join(MAPPINGS)}")
    if params_ratio is None and macs_ratio is None and resources is None:
        raise IKRHLSError("plan_budget: give a target: params_ratio, macs_ratio or resources")
    return {"params_ratio": params_ratio, "macs_ratio": macs_ratio,
            "resources": None if resources is None else {"limits": dict(resources), "precision": precision,
                                                         "mapping": mapping, "convert": dict(convert_options or {})}}


def _dimensions(table: SensitivityTable, targets: dict):
    """(names, limits, fixed cost outside the pruned layers) of the params and MACs dimensions
    asked for; resources are appended by the caller once priced."""
    t = table.totals
    dims, limits, fixed = [], [], []
    if targets["params_ratio"] is not None:
        dims.append("nonzero")
        limits.append(t["params"] / targets["params_ratio"])
        fixed.append(t["nonzero"] - sum(l["nonzero"] for l in table.layers.values()))
    if targets["macs_ratio"] is not None:
        dims.append("macs")
        limits.append(t["macs_dense"] / targets["macs_ratio"])
        fixed.append(t["macs_pruned"] - sum(l["macs"] for l in table.layers.values()))
    if targets["resources"]:
        limits += list(targets["resources"]["limits"].values())
    return dims, np.array(limits, dtype=float), np.array(fixed, dtype=float)


# ----- options per layer

def _layer_options(table: SensitivityTable, name: str, dims: list, pricer) -> list:
    """The layer left as it is, and every setting of the table, with its smoothed loss and costs."""
    layer = table.layers[name]
    rows = table.for_layer(name)
    drops = _monotone_drops(rows, layer["kind"])
    tie = _tie_weight(table)
    unpruned = {"keep": None, "library_size": None, "kernel_sparsity": 0.0, "dense_sparsity": 0.0,
                "score": table.baseline, "kept_energy": 1.0, "nonzero": layer["nonzero"], "macs": layer["macs"]}
    out = []
    for row, drop in [(unpruned, 0.0), *zip(rows, drops, strict=True)]:
        cost = [row[d] for d in dims]
        if pricer is not None:
            priced = pricer.layer_delta(name, row) if row is not unpruned else {k: 0.0 for k in pricer.keys}
            cost += [priced[k] for k in pricer.keys]
        setting = {**{k: row[k] for k in ("keep", "library_size", "kernel_sparsity", "dense_sparsity")},
                   "drop": drop, "measured_drop": table.baseline - row["score"], "kept_energy": row["kept_energy"],
                   "nonzero": row["nonzero"], "macs": row["macs"]}
        # the energy term only breaks ties between equal drops (see _tie_weight)
        out.append(Option(setting, drop + tie * (1.0 - row["kept_energy"]), np.array(cost, dtype=float)))
    return out


def _monotone_drops(rows: list, kind: str) -> list:
    """Each row's drop, made monotone in how much is pruned, never below 0. Dense: isotonic
    regression along the sparsity, from the unpruned model's 0. Conv: the same along keep for
    each library size and kernel sparsity; then a larger library never predicts more loss than a
    smaller one (it can hold the smaller one's patterns), and removing more kernels never less."""
    out = [0.0] * len(rows)
    if kind == "dense":
        _fit_along(rows, sorted(range(len(rows)), key=lambda i: rows[i]["dense_sparsity"]), out)
        return out
    series: dict = {}
    for i, r in enumerate(rows):
        series.setdefault((r["library_size"], r["kernel_sparsity"]), []).append(i)
    for order in series.values():
        _fit_along(rows, sorted(order, key=lambda i: -rows[i]["keep"]), out)
    cells: dict = {}
    for i, r in enumerate(rows):
        cells.setdefault((r["keep"], r["kernel_sparsity"]), []).append(i)
    for order in cells.values():                # running minimum up the library sizes
        best = math.inf
        for i in sorted(order, key=lambda i: rows[i]["library_size"]):
            best = out[i] = min(best, out[i])
    cells = {}
    for i, r in enumerate(rows):
        cells.setdefault((r["keep"], r["library_size"]), []).append(i)
    for order in cells.values():                # running maximum up the kernel sparsities
        worst = 0.0
        for i in sorted(order, key=lambda i: rows[i]["kernel_sparsity"]):
            worst = out[i] = max(worst, out[i])
    return out


def _fit_along(rows: list, order: list, out: list) -> None:
    """Isotonic fit of the drops of rows[order] (least pruned first), the unpruned 0 before them."""
    fitted = _isotonic([0.0] + [rows[i]["drop"] for i in order])[1:]
    for i, v in zip(order, fitted, strict=True):
        out[i] = max(0.0, v)


def _isotonic(values: list) -> list:
    """The non-decreasing sequence closest to `values` in least squares (pool adjacent violators)."""
    blocks: list = []                           # [mean, count]
    for v in values:
        blocks.append([float(v), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, c2), (m1, c1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2])
    return [m for m, c in blocks for _ in range(c)]


def _tie_weight(table: SensitivityTable) -> float:
    """A weight small enough that the summed (1 - kept energy) of every layer stays below a
    thousandth of the finest difference between two measured scores: equal drops go to the plan
    that keeps more of the weights' energy, and nothing else changes."""
    scores = np.unique([table.baseline] + [r["score"] for r in table.rows])
    gaps = np.diff(scores)
    finest = float(gaps[gaps > 0].min()) if np.any(gaps > 0) else 1e-6
    return 1e-3 * finest / max(1, len(table.layers))


# ----- resources

class _Pricer:
    """The report's resources estimate of the model with some layers pruned (ikr_hls.convert in
    memory; the project directory is a temporary one that nothing is written to)."""

    def __init__(self, model, targets: dict, pruning: dict):
        self.model, self.pruning = model, pruning
        r = targets["resources"]
        self.precision, self.mapping, self.convert = r["precision"], r["mapping"], r["convert"]
        self.dense = self.price({})
        unknown = [k for k in r["limits"] if k not in self.dense]
        if unknown:
            raise IKRHLSError(f"resources: {unknown} are not in the report's estimate; valid keys: {list(self.dense)}")
        self.keys = list(r["limits"])

    def layer_delta(self, name: str, row: dict) -> dict:
        priced = self.price({name: row})
        return {k: priced[k] - self.dense[k] for k in self.keys}

    def price(self, settings: dict) -> dict:
        """{lut, ff, dsp, bram_18k} of the model with the layers in `settings` pruned ({} : as it is)."""
        from ..hls_model import convert

        with _pruned(self.model, settings, self.pruning):
            with tempfile.TemporaryDirectory(prefix="ikr_budget_") as tmp:
                try:
                    report = convert(self.model, output_dir=f"{tmp}/prj", precision=self.precision,
                                     **self.convert).report()
                except TypeError as err:
                    raise IKRHLSError(f"convert_options: {err}") from None
        estimate = report["totals"].get("resources_estimate")
        if estimate is None:
            raise IKRHLSError(f"resources: the report has no resources estimate at precision={self.precision!r} "
                              "(floating point is not priced); give an ap_fixed precision")
        if self.mapping != "auto":
            estimate = report["totals"]["resources_by_binding"][self.mapping]
        return {k: float(v) for k, v in estimate.items()}


class _pruned:
    """Context: the model with the given layers pruned to their settings; the weights come back after."""

    def __init__(self, model, settings: dict, pruning: dict):
        self.model, self.settings, self.pruning = model, settings, pruning
        self.saved: list = []

    def __enter__(self):
        active = [n for n, s in self.settings.items() if s["keep"] is not None or s["dense_sparsity"]]
        if not active:
            return self.model
        plans = PruningOptions(layers=active).selected_plans(self.model)
        self.saved = [(p.variable, read(p.variable)) for p in plans]
        try:
            prune_once(self.model, layers=active, **_as_options(self.settings), **for_layers(self.pruning, active))
        except BaseException:
            self.__exit__()
            raise
        return self.model

    def __exit__(self, *exc):
        for variable, value in self.saved:
            variable.assign(value)
        self.saved = []


def _as_options(settings: dict) -> dict:
    """prune_once / IKRPruning keyword dicts from {layer: setting}; layers left as they are are not named."""
    keep, library_size, kernel_sparsity, dense_sparsity = {}, {}, {}, {}
    for name, s in settings.items():
        if s["keep"] is not None:
            keep[name], library_size[name] = s["keep"], s["library_size"]
            if s["kernel_sparsity"]:
                kernel_sparsity[name] = s["kernel_sparsity"]
        elif s["dense_sparsity"]:
            dense_sparsity[name] = s["dense_sparsity"]
    out = {"keep": keep, "library_size": library_size, "dense_sparsity": dense_sparsity}
    if kernel_sparsity:
        out["kernel_sparsity"] = kernel_sparsity
    return out


# ----- the plan

def _build_plan(model, table: SensitivityTable, chosen: dict, targets: dict, pruning: dict, pricer) -> BudgetPlan:
    """Prune the model with the whole choice (then restore it): summary's counts, the price."""
    settings = {name: o.setting for name, o in chosen.items()}
    with _pruned(model, settings, pruning):
        counted = summary(model, print_fn=None)
    resources = pricer.price(settings) if pricer is not None else None
    by_name = {l.name: l for l in counted.layers}
    t = counted.totals
    layers = []
    for name, s in settings.items():
        layer, info = table.layers[name], by_name[name]
        layers.append({"name": name, "kind": layer["kind"], "describe": _describe_setting(s, layer),
                       **{k: s[k] for k in ("keep", "library_size", "kernel_sparsity", "dense_sparsity")},
                       "drop": s["drop"], "measured_drop": s["measured_drop"], "nonzero": info.nonzero,
                       "params": info.params, "macs": info.macs_pruned, "macs_dense": info.macs_dense})
    predicted = {"nonzero": t["nonzero"], "params": t["params"], "params_reduction": t["params_reduction"],
                 "macs": t["macs_pruned"], "macs_dense": t["macs_dense"], "macs_reduction": t["macs_reduction"],
                 "drop": sum(s["drop"] for s in settings.values()), "resources": resources}
    options = _as_options(settings)
    pruned_convs = list(options["keep"])        # a per-layer library or force_center names only these
    for key, default in (("library", "refine"), ("force_center", False)):
        value = for_layers({key: pruning[key]}, pruned_convs)[key]
        if isinstance(value, dict) or value != default:
            options[key] = value
    return BudgetPlan(options, layers, predicted, targets, table.model_name)


def _misses(predicted: dict, targets: dict) -> list:
    miss = []
    if targets["params_ratio"] is not None and predicted["params_reduction"] < targets["params_ratio"] - 1e-9:
        miss.append(f"params {predicted['params_reduction']:.2f}x < {targets['params_ratio']}x")
    if targets["macs_ratio"] is not None and predicted["macs_reduction"] < targets["macs_ratio"] - 1e-9:
        miss.append(f"MACs {predicted['macs_reduction']:.2f}x < {targets['macs_ratio']}x")
    if targets["resources"]:
        for k, limit in targets["resources"]["limits"].items():
            if predicted["resources"][k] > limit:
                miss.append(f"{k} {predicted['resources'][k]:,.0f} > {limit:,}")
    return miss


def _describe_setting(s: dict, layer: dict) -> str:
    if layer["kind"] == "dense":
        return f"sparsity {s['dense_sparsity']:g}" if s["dense_sparsity"] else "not pruned"
    if s["keep"] is None:
        return "not pruned"
    kh, kw = layer["kernel_size"]
    text = f"keep {s['keep']}/{kh * kw}, {s['library_size']} patterns"
    return text + (f", {s['kernel_sparsity']:g} of kernels removed" if s["kernel_sparsity"] else "")


def _describe_targets(targets: dict) -> str:
    parts = []
    if targets["params_ratio"] is not None:
        parts.append(f"params >= {targets['params_ratio']:g}x fewer")
    if targets["macs_ratio"] is not None:
        parts.append(f"MACs >= {targets['macs_ratio']:g}x fewer")
    if targets["resources"]:
        r = targets["resources"]
        parts.append(", ".join(f"{k} <= {v:,}" for k, v in r["limits"].items()) + f" at {r['precision']}")
    return ", ".join(parts)


def _closest(table: SensitivityTable, options: dict, dims: list, pricer, fixed: np.ndarray) -> str:
    """What the cheapest option of every layer adds up to, per dimension."""
    cheapest = fixed + sum(np.min([o.cost for o in opts], axis=0) for opts in options.values())
    parts = []
    for i, d in enumerate(dims):
        total = table.totals["params"] if d == "nonzero" else table.totals["macs_dense"]
        parts.append(f"{'params' if d == 'nonzero' else 'MACs'} {total / cheapest[i]:.1f}x fewer")
    if pricer is not None:
        parts += [f"{k} {v:,.0f} (estimate)" for k, v in zip(pricer.keys, cheapest[len(dims):], strict=True)]
    return ", ".join(parts)


def _check_table(model, table: SensitivityTable) -> None:
    names = {p.name for p in PruningOptions(layers=lambda l: True).selected_plans(model)}
    unknown = [n for n in table.layers if n not in names]
    if unknown or not table.layers:
        raise IKRHLSError(f"table: layers {unknown or '(none)'} are not prunable layers of model {model.name!r}; "
                          "measure the table on this model")
