"""Which layers to prune and with which settings: the user's options, checked for type and
range when given, and against a model (layer names, kernel sizes) by `PruningOptions.plans`."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import keras
import numpy as np

from .. import hgq
from .. import patterns as pat
from ..errors import IKRHLSError
from .schedule import _check_int

log = logging.getLogger("ikr_hls.pruning")


@dataclass
class LayerPlan:
    """What to do with one layer. Conv layers: keep (None: no intra-kernel pruning),
    kernel_sparsity, library, library_size, force_center. Dense layers: dense_sparsity."""
    layer: keras.layers.Layer
    kind: str                                   # "conv2d" or "dense"
    keep: int | None = None
    kernel_sparsity: float = 0.0
    dense_sparsity: float = 0.0
    library: str | np.ndarray = "refine"
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
        """The plans of the selected layers that have something to prune (a warning if none has)."""
        plans = self.selected_plans(model)
        if not any(p.active for p in plans):
            log.warning("IKR pruning: nothing to prune (no keep, dense_sparsity or "
                        "kernel_sparsity applies to the selected layers %s)", [p.name for p in plans])
        return [p for p in plans if p.active]

    def selected_plans(self, model: keras.Model) -> list:
        """A plan for every selected layer, whether or not these options prune it."""
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
        return plans


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
    kernels, pruned alike (a SeparableConv2D's 1x1 pointwise kernel is left as it is); HGQ2's
    QConv2D like a Conv2D (its kernel quantizer keeps a pruned weight at exactly 0)."""
    return isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)) \
        or hgq.is_conv2d(layer)


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
