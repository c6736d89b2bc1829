"""IKR pruning of Keras 3 models: the `IKRPruning` callback, one-shot `prune_once`, `summary`.

The model stays a plain keras.Model: the callback only computes masks and writes
``kernel * mask`` back into the kernel variables, so a saved model holds exact zeros and
the converter reads the patterns back from them (see ikr_hls.patterns and docs/pruning.md).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import keras
import numpy as np

from . import patterns as pat
from .errors import IKRHLSError
from .modelfile import load_keras_model

log = logging.getLogger(__name__)

__all__ = ["IKRPruning", "prune_once", "summary", "PolynomialDecay", "PruningSummary"]


# ---------------------------------------------------------------------------------------------
# Schedule


class PolynomialDecay:
    """tfmot's PolynomialDecay from sparsity 0 to a target, power 3 by default.

    sparsity(step) = final * (1 - (1 - p)**power),  p = (step - begin) / (end - begin) in [0, 1].
    Masks are recomputed at steps where (step - begin) % frequency == 0 inside [begin, end],
    and also at `end` itself, so the target is reached even when end - begin is not a multiple
    of the frequency (tfmot would stop short). After `end` the final value holds.
    `end_step=None` means end = begin: everything is pruned at `begin_step` at once.
    """

    def __init__(self, begin_step: int = 0, end_step: Optional[int] = None, frequency: int = 100,
                 power: int = 3):
        for key, value in (("begin_step", begin_step), ("frequency", frequency), ("power", power)):
            _check_int(key, value, minimum=1 if key != "begin_step" else 0)
        end_step = begin_step if end_step is None else end_step
        _check_int("end_step", end_step, minimum=0)
        if end_step < begin_step:
            raise IKRHLSError(f"end_step={end_step} is before begin_step={begin_step}")
        self.begin_step, self.end_step, self.frequency, self.power = begin_step, end_step, frequency, power

    def fraction(self, step: int) -> float:
        """How far the sparsity is from 0 (0.0) to its final value (1.0) at `step`."""
        if step < self.begin_step:
            return 0.0
        if step >= self.end_step:
            return 1.0
        p = (step - self.begin_step) / (self.end_step - self.begin_step)
        return 1.0 - (1.0 - p) ** self.power

    def sparsity(self, step: int, final: float) -> float:
        return final * self.fraction(step)

    def is_update_step(self, step: int) -> bool:
        inside = self.begin_step <= step <= self.end_step
        return inside and ((step - self.begin_step) % self.frequency == 0 or step == self.end_step)

    def last_update(self, step: int) -> Optional[int]:
        """The latest update step <= `step` (None before begin): lets the callback catch up when
        steps advance by more than one per call (steps_per_execution > 1)."""
        if step < self.begin_step:
            return None
        if step >= self.end_step:
            return self.end_step
        return self.begin_step + (step - self.begin_step) // self.frequency * self.frequency


def keep_at(fraction: float, target: int, size: int) -> int:
    """keep for a KH*KW = `size` kernel when the schedule is `fraction` of the way to `target`:
    round-half-up of size * (1 - sparsity), sparsity going to 1 - target/size; never below target."""
    sparsity = (1.0 - target / size) * fraction
    return max(target, min(size, math.floor(size * (1.0 - sparsity) + 0.5)))


def count_to_prune(sparsity: float, total: int) -> int:
    return min(total, math.floor(sparsity * total + 0.5))


# ---------------------------------------------------------------------------------------------
# Which layers, and with which settings


@dataclass
class LayerPlan:
    """What to do with one layer. Conv layers: keep (None: no intra-kernel pruning),
    kernel_sparsity, library, library_size, force_center. Dense layers: dense_sparsity."""
    layer: keras.layers.Layer
    kind: str                                   # "conv2d" or "dense"
    keep: Optional[int] = None
    kernel_sparsity: float = 0.0
    dense_sparsity: float = 0.0
    library: object = "refine"
    library_size: int = 8
    force_center: bool = False

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def variable(self):
        return kernel_variable(self.layer)

    @property
    def active(self) -> bool:
        if self.kind == "dense":
            return self.dense_sparsity > 0
        return self.keep is not None or self.kernel_sparsity > 0


@dataclass
class PruningOptions:
    """The user's settings, checked for type and range when created; checked against a model
    (layer names, kernel sizes) by `plans(model)`."""
    keep: object = None
    library_size: object = 8
    dense_sparsity: object = 0.0
    kernel_sparsity: object = 0.0
    layers: object = None
    library: object = "refine"
    force_center: object = False

    def __post_init__(self):
        _per_layer_values("keep", self.keep, _check_keep_type)
        _per_layer_values("library_size", self.library_size, _check_library_size)
        _per_layer_values("dense_sparsity", self.dense_sparsity, _check_fraction)
        _per_layer_values("kernel_sparsity", self.kernel_sparsity, _check_fraction)
        _per_layer_values("force_center", self.force_center, _check_bool)
        _per_layer_values("library", self.library, _check_library_type)
        if not (self.layers is None or callable(self.layers) or _is_name_list(self.layers)):
            raise IKRHLSError(f"layers={self.layers!r}: give a list of layer names or a "
                              "predicate callable(layer) -> bool")

    def plans(self, model: keras.Model) -> list:
        selected = _select_layers(model, self.layers)
        convs = {l.name: l for l in selected if _is_conv(l)}
        denses = {l.name: l for l in selected if isinstance(l, keras.layers.Dense)}
        keep = _resolve("keep", self.keep, convs, None)
        library = _resolve("library", self.library, convs, "refine")
        library_size = _resolve("library_size", self.library_size, convs, 8)
        kernel_sparsity = _resolve("kernel_sparsity", self.kernel_sparsity, convs, 0.0)
        force_center = _resolve("force_center", self.force_center, convs, False)
        dense_sparsity = _resolve("dense_sparsity", self.dense_sparsity, denses, 0.0)
        plans = []
        for layer in selected:
            name = layer.name
            if not layer.built:
                raise IKRHLSError(f"layer {name} has no weights yet: build the model (give it an "
                                  "Input shape or call it on data) before pruning")
            if name in convs:
                plan = LayerPlan(layer, "conv2d", keep[name], kernel_sparsity[name], 0.0,
                                 library[name], library_size[name], force_center[name])
                _check_conv_plan(plan)
            else:
                plan = LayerPlan(layer, "dense", dense_sparsity=dense_sparsity[name])
            if not isinstance(plan.variable, keras.Variable):
                raise IKRHLSError(f"layer {name}: its kernel is not a plain variable (LoRA or "
                                  "quantized layers are not supported)")
            plans.append(plan)
        if not any(p.active for p in plans):
            log.warning("IKR pruning: nothing to prune (no keep, dense_sparsity or "
                        "kernel_sparsity applies to the selected layers %s)", [p.name for p in plans])
        return [p for p in plans if p.active]


def _walk_layers(model) -> list:
    """Every leaf layer, nested models included, in order."""
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(_walk_layers(layer))
        else:
            out.append(layer)
    return out


def _is_conv(layer) -> bool:
    """Conv2D, or DepthwiseConv2D / SeparableConv2D: a (KH, KW, C, M) depthwise kernel is C*M
    kernels, pruned alike (a SeparableConv2D's 1x1 pointwise kernel is left as it is)."""
    return isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D))


def kernel_variable(layer):
    """The variable IKR pruning works on: the kernel, or a SeparableConv2D's depthwise kernel."""
    if isinstance(layer, keras.layers.SeparableConv2D):
        return layer.depthwise_kernel
    return layer.kernel


def _prunable(layer) -> bool:
    return _is_conv(layer) or isinstance(layer, keras.layers.Dense)


def _select_layers(model, layers) -> list:
    prunable = [l for l in _walk_layers(model) if _prunable(l)]
    names = [l.name for l in prunable]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise IKRHLSError(f"layer names must be unique to prune by name; repeated: {dup}")
    if layers is None:                          # default: every Dense, every conv bigger than 1x1
        return [l for l in prunable if not (_is_conv(l) and int(np.prod(l.kernel_size)) == 1)]
    if callable(layers):
        return [l for l in prunable if layers(l)]
    by_name = {l.name: l for l in prunable}
    unknown = [n for n in layers if n not in by_name]
    if unknown:
        raise IKRHLSError(f"layers: {unknown} are not Conv2D, DepthwiseConv2D or Dense layers of model "
                          f"{model.name!r}; valid names: {names}")
    wanted = set(layers)
    return [l for l in prunable if l.name in wanted]


def _resolve(key: str, value, targets: dict, default) -> dict:
    """Per-layer values: a non-dict applies to every target layer, a dict to the layers it
    names (the others get `default`). Names that are not target layers raise."""
    if not isinstance(value, dict):
        return {name: value for name in targets}
    unknown = [n for n in value if n not in targets]
    if unknown:
        kind = "Dense" if key == "dense_sparsity" else "conv"
        raise IKRHLSError(f"{key}: {unknown} are not selected {kind} layers; valid names: "
                          f"{list(targets)}")
    return {name: value.get(name, default) for name in targets}


def _check_conv_plan(plan: LayerPlan) -> None:
    kh, kw = plan.layer.kernel_size
    size = kh * kw
    where = f"layer {plan.name} ({kh}x{kw} kernel)"
    if plan.keep is not None and not 1 <= plan.keep <= size:
        raise IKRHLSError(f"keep={plan.keep} for {where}: must be from 1 to {size}")
    if plan.force_center and (kh % 2 == 0 or kw % 2 == 0):
        raise IKRHLSError(f"force_center for {where}: an even-sized kernel has no centre")
    if not isinstance(plan.library, str):
        if plan.keep is None:
            raise IKRHLSError(f"library for {where}: a list of patterns needs a keep for that layer")
        try:
            plan.library = pat.as_pattern_array(plan.library, (kh, kw), plan.keep, plan.force_center)
        except IKRHLSError as err:
            raise IKRHLSError(f"library for {where}: {err}") from None


# ----- argument checks (without a model)

def _per_layer_values(key, value, check):
    if not isinstance(value, dict):
        check(key, value)
        return
    for name, v in value.items():
        if not isinstance(name, str):
            raise IKRHLSError(f"{key}: per-layer keys must be layer names, got {name!r}")
        check(f"{key}[{name!r}]", v)


def _check_int(key, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise IKRHLSError(f"{key}={value!r}: must be an integer >= {minimum}")


def _check_keep_type(key, value):
    if value is not None:
        _check_int(key, value, minimum=1)


def _check_library_size(key, value):
    _check_int(key, value, minimum=1)


def _check_fraction(key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not 0.0 <= float(value) < 1.0:
        raise IKRHLSError(f"{key}={value!r}: must be a number in [0, 1)")


def _check_bool(key, value):
    if not isinstance(value, (bool, np.bool_)):
        raise IKRHLSError(f"{key}={value!r}: must be True or False")


def _check_library_type(key, value):
    if isinstance(value, str):
        if value not in pat.LIBRARY_METHODS:
            raise IKRHLSError(f"{key}={value!r} is not known; use one of {list(pat.LIBRARY_METHODS)}, "
                              "a list of patterns, or a dict of these by layer name")
    elif not isinstance(value, (list, tuple, np.ndarray)):
        raise IKRHLSError(f"{key}: expected 'refine', 'all' or a list of patterns, got {type(value).__name__}")


def _is_name_list(value) -> bool:
    return isinstance(value, (list, tuple, set)) and all(isinstance(v, str) for v in value)


# ---------------------------------------------------------------------------------------------
# Masks


def layer_mask(plan: LayerPlan, kernel: np.ndarray, fraction: float):
    """(mask bool like kernel, info dict) for one layer, `fraction` of the way to its targets."""
    if plan.kind == "dense":
        return _dense_mask(plan, kernel, plan.dense_sparsity * fraction)
    return _conv_mask(plan, kernel, fraction)


def _dense_mask(plan: LayerPlan, kernel: np.ndarray, sparsity: float):
    """Magnitude pruning: exactly round(sparsity * size) smallest |w| go (ties: first index)."""
    flat = np.abs(kernel).reshape(-1)
    n_prune = count_to_prune(sparsity, flat.size)
    mask = np.ones(flat.size, dtype=bool)
    mask[np.argsort(flat, kind="stable")[:n_prune]] = False
    energy = float(np.sum(flat ** 2))
    info = {"kind": "dense", "sparsity": n_prune / flat.size, "nonzero_kernel": int(flat.size - n_prune),
            "kernel_size": int(flat.size),
            "kept_energy": float(np.sum(flat[mask] ** 2)) / energy if energy > 0 else 1.0}
    return mask.reshape(kernel.shape), info


def _conv_mask(plan: LayerPlan, kernel: np.ndarray, fraction: float):
    kh, kw, ci, co = kernel.shape
    size = kh * kw
    energy = pat.kernel_energy(kernel)
    keep = size if plan.keep is None else keep_at(fraction, plan.keep, size)
    if keep < size:
        # a user's library holds patterns of the final keep only; on the way there, refine
        spec = plan.library if keep == plan.keep or isinstance(plan.library, str) else "refine"
        library, assignment = pat.choose_patterns(energy, keep, (kh, kw), plan.library_size, spec,
                                                  plan.force_center)
    else:
        library, assignment = np.ones((1, size), dtype=bool), np.zeros(len(energy), dtype=np.int64)
    n_drop = count_to_prune(plan.kernel_sparsity * fraction, len(energy))
    if n_drop:                                  # connectivity pruning: weakest kernels go whole
        kept = pat.kept_energy(energy, library, assignment)
        assignment = assignment.copy()
        assignment[np.argsort(kept, kind="stable")[:n_drop]] = -1
    mask = pat.kernel_mask(library, assignment, kernel.shape)
    total = float(energy.sum())
    info = {"kind": "conv2d", "keep": keep, "library": library.reshape(-1, kh, kw),
            "assignment": assignment.reshape(ci, co), "kernels_removed": n_drop,
            "nonzero_kernel": int(mask.sum()), "kernel_size": int(mask.size),
            "kept_energy": float(np.sum(energy * mask.reshape(size, -1).T)) / total if total > 0 else 1.0}
    info["sparsity"] = 1.0 - info["nonzero_kernel"] / info["kernel_size"]
    return mask, info


def _read(variable) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(variable))


# ---------------------------------------------------------------------------------------------
# The callback


class IKRPruning(keras.callbacks.Callback):
    """Gradual IKR pruning during `fit`; the model stays a plain Keras model.

    keep:            patterns keep this many of the KH*KW positions of every conv kernel
                     (int, or dict by layer name; None: no intra-kernel pruning).
    library_size:    at most this many patterns per layer (default 8: a 3-bit index per kernel).
    dense_sparsity:  fraction of each Dense kernel's weights removed by magnitude (float or dict).
    kernel_sparsity: fraction of whole conv kernels removed, weakest first (float or dict).
    begin_step, end_step, frequency: the PolynomialDecay schedule (power 3), in optimizer steps
                     (batches); end_step=None prunes everything at begin_step.
    layers:          list of names or predicate(layer); default every Dense and every Conv2D,
                     DepthwiseConv2D or SeparableConv2D (its depthwise kernel) larger than 1x1,
                     the output layer included.
    library:         "refine" (default), "all", a list of patterns, or a dict of these by layer.
    force_center:    every pattern keeps the kernel centre (odd kernel sizes only).

    Steps are counted by `model.optimizer.iterations`, like tfmot. Masks are recomputed at each
    schedule update (on_train_batch_begin) and re-applied after every batch and at the end of
    training, by `variable.assign(kernel * mask)`, which also works under tf.distribute.
    `history` lists (step, {layer: info}) for each update.
    """

    def __init__(self, keep=None, library_size=8, dense_sparsity=0.0, kernel_sparsity=0.0,
                 begin_step=0, end_step=None, frequency=100, layers=None, library="refine",
                 force_center=False):
        super().__init__()
        self.options = PruningOptions(keep, library_size, dense_sparsity, kernel_sparsity, layers,
                                      library, force_center)
        self.schedule = PolynomialDecay(begin_step, end_step, frequency)
        self.plans: list = []
        self.history: list = []
        self._masks: dict = {}                  # layer name -> mask tensor (None: keep all)
        self._last_update: Optional[int] = None
        self._planned_for = None

    # ----- Keras hooks

    def on_train_begin(self, logs=None):
        if self._planned_for is not self.model:  # a second fit() on the same model keeps its masks
            self.plans = self.options.plans(self.model)
            self._planned_for = self.model
            self._masks, self._last_update, self.history = {}, None, []
            log.info("IKR pruning %s: %s", self.model.name, ", ".join(_describe(p) for p in self.plans))

    def on_train_batch_begin(self, batch, logs=None):
        update = self.schedule.last_update(self._step())
        if update is not None and update != self._last_update:
            self.update_masks(update)

    def on_train_batch_end(self, batch, logs=None):
        self.apply_masks()

    def on_train_end(self, logs=None):
        self.apply_masks()
        if self._last_update != self.schedule.end_step:
            log.warning("IKR pruning stopped at step %s before end_step=%s: the targets are not "
                        "reached yet", self._step(), self.schedule.end_step)
        self._check_regular()

    # ----- the work

    def update_masks(self, step: int) -> dict:
        """Recompute every layer's mask for `step` of the schedule from the current weights,
        and apply them."""
        fraction = self.schedule.fraction(step)
        infos = {}
        for plan in self.plans:
            mask, info = layer_mask(plan, _read(plan.variable), fraction)
            self._masks[plan.name] = None if mask.all() else keras.ops.convert_to_tensor(
                mask, dtype=plan.variable.dtype)
            infos[plan.name] = info
        self._last_update = step
        self.apply_masks()
        self.history.append((step, infos))
        log.info("IKR pruning step %d: %s", step, ", ".join(
            f"{n}: {_short(i)}" for n, i in infos.items()))
        return infos

    def apply_masks(self) -> None:
        for plan in self.plans:
            mask = self._masks.get(plan.name)
            if mask is not None:
                plan.variable.assign(plan.variable * mask)

    def _step(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def _check_regular(self) -> None:
        for plan in self.plans:
            if plan.kind == "conv2d" and plan.keep is not None:
                kernel = _read(plan.variable)
                counts = (kernel != 0).sum(axis=(0, 1))
                short = int(np.count_nonzero((counts > 0) & (counts < counts.max())))
                if short:
                    log.warning("layer %s: %d kernels have fewer nonzeros than their pattern (a kept "
                                "weight is exactly 0.0, e.g. in a filter that gets no gradient)",
                                plan.name, short)


def _describe(plan: LayerPlan) -> str:
    if plan.kind == "dense":
        return f"{plan.name} dense_sparsity={plan.dense_sparsity}"
    kh, kw = plan.layer.kernel_size
    return (f"{plan.name} keep={plan.keep}/{kh * kw} library_size={plan.library_size}"
            f" kernel_sparsity={plan.kernel_sparsity}")


def _short(info: dict) -> str:
    if info["kind"] == "dense":
        return f"sparsity {info['sparsity']:.3f}"
    return f"keep {info['keep']}, {len(info['library'])} patterns, kept energy {info['kept_energy']:.3f}"


# ---------------------------------------------------------------------------------------------
# One shot


def prune_once(model: keras.Model, keep=None, library_size=8, dense_sparsity=0.0, kernel_sparsity=0.0,
               layers=None, library="refine", force_center=False) -> dict:
    """Prune `model` in place to the final targets at once (same options as IKRPruning).

    Returns {layer name: info}; conv info holds keep, library (bool (L, KH, KW)), assignment
    (int (CI, CO), -1 = kernel removed), kept_energy (fraction of the layer's w**2), sparsity;
    dense info holds sparsity and kept_energy.
    """
    options = PruningOptions(keep, library_size, dense_sparsity, kernel_sparsity, layers, library,
                             force_center)
    infos = {}
    for plan in options.plans(model):
        kernel = _read(plan.variable)
        mask, infos[plan.name] = layer_mask(plan, kernel, 1.0)
        plan.variable.assign((kernel * mask).astype(kernel.dtype))
    return infos


# ---------------------------------------------------------------------------------------------
# Summary (reads everything from the zeros, so it works on any model)


@dataclass
class LayerSummary:
    name: str
    kind: str                                   # "conv2d", "dense", or the Keras class name
    params: int
    nonzero: int
    macs_dense: Optional[int] = None            # None: not counted for this kind of layer
    macs_pruned: Optional[int] = None
    kernel_size: Optional[tuple] = None
    keep: Optional[int] = None                  # conv: positions per pattern (None: irregular)
    library: Optional[np.ndarray] = None        # conv: bool (L, KH, KW), most used first
    usage: Optional[list] = None                # conv: kernels per pattern
    kernels_removed: int = 0                    # conv: all-zero kernels
    kept_energy: Optional[float] = None         # vs the reference weights, if given

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "library"}
        out["kernel_size"] = list(self.kernel_size) if self.kernel_size else None
        out["library"] = None if self.library is None else self.library.astype(int).tolist()
        out["regular"] = self.keep is not None if self.kind == "conv2d" else None
        return out


@dataclass
class PruningSummary:
    model_name: str
    layers: list = field(default_factory=list)
    max_drawn: int = 16                         # patterns drawn per layer

    @property
    def totals(self) -> dict:
        params = sum(l.params for l in self.layers)
        nonzero = sum(l.nonzero for l in self.layers)
        counted = [l for l in self.layers if l.macs_dense is not None]
        macs_dense = sum(l.macs_dense for l in counted)
        macs_pruned = sum(l.macs_pruned for l in counted)
        return {"params": params, "nonzero": nonzero,
                "params_reduction": params / nonzero if nonzero else math.inf,
                "macs_dense": macs_dense, "macs_pruned": macs_pruned,
                "macs_reduction": macs_dense / macs_pruned if macs_pruned else math.inf}

    def to_dict(self) -> dict:
        return {"model": self.model_name, "layers": [l.to_dict() for l in self.layers],
                "totals": self.totals}

    def text(self) -> str:
        header = ("layer", "kind", "keep", "patterns", "kept energy", "params nonzero/total",
                  "MACs pruned/dense")
        rows = [_summary_row(l) for l in self.layers]
        t = self.totals
        rows.append(("total", "", "", "", "",
                     f"{t['nonzero']:,}/{t['params']:,} ({t['params_reduction']:.1f}x)",
                     f"{t['macs_pruned']:,}/{t['macs_dense']:,} ({t['macs_reduction']:.1f}x)"))
        widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
        line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
        out = [f'IKR summary of "{self.model_name}"', line(header), line(["-" * w for w in widths])]
        out += [line(r) for r in rows[:-1]] + [line(["-" * w for w in widths]), line(rows[-1])]
        if any(l.macs_dense is None for l in self.layers):
            out.append("MACs are counted for conv and Dense layers only.")
        for l in self.layers:
            if l.library is not None and (l.keep is None or l.keep < np.prod(l.kernel_size)):
                out += [""] + _draw_library(l, self.max_drawn)
        return "\n".join(out)

    __str__ = text

    def __repr__(self) -> str:                  # short: summary() has printed the table already
        t = self.totals
        return (f"<PruningSummary {self.model_name!r}: {t['params_reduction']:.1f}x params, "
                f"{t['macs_reduction']:.1f}x MACs>")


def _summary_row(l: LayerSummary) -> tuple:
    keep = patterns = "-"
    if l.kind == "conv2d":
        size = int(np.prod(l.kernel_size))
        keep = f"{l.keep}/{size}" if l.keep is not None else "irregular"
        patterns = str(len(l.library))
    energy = "-" if l.kept_energy is None else f"{100 * l.kept_energy:.1f}%"
    macs = "-" if l.macs_dense is None else f"{l.macs_pruned:,}/{l.macs_dense:,}"
    return (l.name, l.kind, keep, patterns, energy, f"{l.nonzero:,}/{l.params:,}", macs)


def _draw_library(l: LayerSummary, max_drawn: int) -> list:
    kh, kw = l.kernel_size
    n_kernels = sum(l.usage) + l.kernels_removed
    title = (f"{l.name}: {len(l.library)} patterns of {l.keep}/{kh * kw}" if l.keep is not None
             else f"{l.name}: irregular, {len(l.library)} distinct supports")
    title += ", kernels using each ('#' kept, '.' pruned)"
    if l.kernels_removed:
        title += f"; {l.kernels_removed} of {n_kernels} kernels removed"
    lines = [title]
    shown = list(range(min(len(l.library), max_drawn)))
    per_row = max(1, 72 // (kw + 3))
    for start in range(0, len(shown), per_row):
        chunk = shown[start:start + per_row]
        cell = max(kw, 5)
        lines.append("  " + "  ".join(f"#{i}".ljust(cell) for i in chunk).rstrip())
        grids = [pat.draw(l.library[i]) for i in chunk]
        for r in range(kh):
            lines.append("  " + "  ".join(g[r].ljust(cell) for g in grids).rstrip())
        lines.append("  " + "  ".join(f"x{l.usage[i]}".ljust(cell) for i in chunk).rstrip())
    if len(l.library) > max_drawn:
        lines.append(f"  ... and {len(l.library) - max_drawn} more")
    return lines


def summary(model, reference=None, print_fn=print) -> PruningSummary:
    """Per-layer patterns, parameters and MACs of any model, read from its zeros.

    model:     a keras.Model or the path of a .h5/.keras file.
    reference: optional dense model (or path, or {layer name: kernel array}); the kept energy
               of a layer is then the share of the reference kernel's w**2 at the positions
               that are nonzero in `model`.
    print_fn:  called with the text (like keras's model.summary); None prints nothing.
    MACs: output pixels x nonzero kernel weights for convs (both kernels of a SeparableConv2D);
    nonzero weights (per position of
    any leading axes) for Dense. Parameters count every weight, biases included.
    """
    model = _load(model, "model")
    ref = _reference_kernels(reference)
    layers = [_layer_summary(layer, ref) for layer in _walk_layers(model) if layer.weights]
    result = PruningSummary(model.name, layers)
    if print_fn is not None:
        print_fn(result.text())
    return result


def _load(model, what):
    if isinstance(model, (str, Path)):
        try:
            return load_keras_model(model)     # the converter's checks and messages, for any file
        except IKRHLSError as err:
            raise IKRHLSError(f"{what}: {err}") from None
    if not isinstance(model, keras.Model):
        raise IKRHLSError(f"{what}: expected a keras.Model or a model file, got {type(model).__name__}")
    return model


def _reference_kernels(reference) -> dict:
    if reference is None:
        return {}
    if isinstance(reference, dict):
        return {k: np.asarray(v) for k, v in reference.items()}
    ref = _load(reference, "reference")
    return {l.name: _read(kernel_variable(l)) for l in _walk_layers(ref) if _prunable(l)}


def _layer_summary(layer, ref: dict) -> LayerSummary:
    weights = [_read(w) for w in layer.weights]
    params = sum(w.size for w in weights)
    nonzero = sum(int(np.count_nonzero(w)) for w in weights)
    if not _prunable(layer):
        return LayerSummary(layer.name, type(layer).__name__, params, nonzero)
    kernel = _read(kernel_variable(layer))
    positions = _output_positions(layer)
    s = LayerSummary(layer.name, "dense" if isinstance(layer, keras.layers.Dense) else "conv2d",
                     params, nonzero, macs_dense=positions * kernel.size,
                     macs_pruned=positions * int(np.count_nonzero(kernel)))
    if isinstance(layer, keras.layers.SeparableConv2D):     # plus its 1x1 pointwise products
        pointwise = _read(layer.pointwise_kernel)
        s.macs_dense += positions * pointwise.size
        s.macs_pruned += positions * int(np.count_nonzero(pointwise))
    if s.kind == "conv2d":
        found = pat.patterns_from_kernel(kernel)
        s.kernel_size = tuple(kernel.shape[:2])
        s.keep, s.library, s.usage = found.keep, found.library, found.usage().tolist()
        s.kernels_removed = int(np.count_nonzero(found.assignment < 0))
    if layer.name in ref:
        r = ref[layer.name]
        if r.shape != kernel.shape:
            raise IKRHLSError(f"reference: layer {layer.name} has a kernel of shape {r.shape}, "
                              f"the model's is {kernel.shape}")
        total = float(np.sum(np.square(r, dtype=np.float64)))
        kept = float(np.sum(np.square(r, dtype=np.float64)[kernel != 0]))
        s.kept_energy = kept / total if total else 1.0
    return s


def _output_positions(layer) -> int:
    """Output positions each kernel weight is used at: OH*OW for a conv, 1 for a plain Dense."""
    try:
        shape = tuple(layer.output.shape)
    except (AttributeError, ValueError):
        try:
            shape = tuple(layer.compute_output_shape(layer.input.shape))
        except Exception:
            raise IKRHLSError(f"summary: the output shape of layer {layer.name} is unknown; build "
                              "the model on an input first") from None
    inner = shape[1:-1]
    if any(d is None for d in inner):
        raise IKRHLSError(f"summary: layer {layer.name} has a variable output shape {shape}; "
                          "MACs need fixed input sizes")
    return int(np.prod(inner)) if inner else 1
