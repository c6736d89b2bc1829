"""Ordered graph passes between the frontend and the backend.

Each pass takes and returns an ir.Graph and does one thing; `run_passes` is the order. The
kinds say what a layer can absorb (an activation, a scale-and-shift, a padding) and what its
weights decide (facts); the passes only apply those rules.
"""
from __future__ import annotations

import logging

import numpy as np

from . import activations, fpga_estimate
from .attributes import Settings
from .auto import choose_settings
from .config import AUTO, ProjectConfig
from .errors import IKRHLSError
from .hardware import COMPLETE_PARTITION_LIMIT, has_figures
from .ir import INPUT, Graph, Layer, StreamIO
from .kinds import FREE, KERAS_HANDLERS, hardware_kind, kind_of
from .kinds.base import pixel_lanes
from .layer_settings import LayerFacts, resolve
from .parts import RESOURCES, family_of, lookup
from .plan import plan_hardware, priced
from .precision_inference import ACT_RANGE, assign_types
from .wiring import Wiring

log = logging.getLogger(__name__)


def _sole_producer(graph: Graph, layer: Layer) -> Layer | None:
    """The layer that `layer` reads, when `layer` is its only reader (else None): only then
    may the two merge without changing what another reader sees."""
    if len(layer.inputs) != 1 or layer.inputs[0] == INPUT:
        return None
    producer = graph.layer(layer.inputs[0])
    return producer if graph.consumers(producer.name) == [layer] else None


def _merge_into(graph: Graph, layer: Layer, producer: Layer, why: str) -> None:
    graph.removed[layer.keras_name] = f"{why} {producer.keras_name}"
    producer.keras_output = layer.keras_output or layer.keras_name     # what `layer` computed, merged or not
    # a config's entry for the merged layer sets the producer's result (layer_settings.resolve)
    producer.merged = (*producer.merged, (layer.keras_name, graph.keras_classes.get(layer.keras_name),
                                          why.split()[0], layer.activation))
    graph.bypass(layer)


def fold_batchnorm(graph: Graph) -> Graph:
    """Fold a scale-and-shift (BatchNormalization, Rescaling, Normalization, x * c + d) into the
    layer it reads, when that layer's kind folds one (conv, dense) or is a scale-and-shift
    itself, has no activation of its own and no other reader; zeros of the kernel stay zeros,
    so pruning patterns survive the fold. (One before a conv does not fold into it: the conv's
    zero padding would then pad the unscaled values.) Not where either has trained types
    (ikr_hls/hgq/): a folded weight is no longer a value of its trained type."""
    for layer in list(graph.layers):
        prev = _sole_producer(graph, layer)
        if layer.kind != "scale_shift" or prev is None or prev.activation != "linear" \
                or layer.trained is not None or prev.trained is not None:
            continue
        kind = hardware_kind(prev)
        scale, shift = layer.weights["scale"], layer.weights["shift"]
        if kind is not None and kind.folds_scale_shift:
            kernel = prev.weights["kernel"]        # the frontend's own array: in place (a depthwise conv's is big)
            prev.weights["kernel"] = np.multiply(kernel, scale, out=kernel if kernel.flags.writeable else None)
            prev.weights["bias"] = prev.weights["bias"] * scale + shift
            _merge_into(graph, layer, prev, "folded into")
        elif prev.kind == "scale_shift":
            prev.weights["scale"] = prev.weights["scale"] * scale
            prev.weights["shift"] = prev.weights["shift"] * scale + shift
            _merge_into(graph, layer, prev, "folded into")
    return graph


def _constant(layer: Layer, role: str, value: float) -> bool:
    """Every channel's `role` weight is `value` (to float32's precision: Keras's constants)."""
    return bool(np.all(np.abs(layer.weights[role] - value) <= 1e-7 * max(1.0, abs(value))))


def recognise_hard_sigmoid(graph: Graph) -> Graph:
    """x + 3, a ReLU6, then * (1/6) (or / 6): Keras's MobileNetV3 writes its hard sigmoid with
    keras.ops so; the three become one hard_sigmoid activation, which the hardware computes as
    a piecewise-linear function and which fuses into the layer before it."""
    for layer in list(graph.layers):
        relu6 = _sole_producer(graph, layer)
        plus3 = _sole_producer(graph, relu6) if relu6 is not None else None
        if (layer.kind != "scale_shift" or layer.activation != "linear" or relu6 is None
                or relu6.kind != "activation" or relu6.activation != "relu6" or plus3 is None
                or plus3.kind != "scale_shift" or plus3.activation != "linear"):
            continue
        if _constant(plus3, "scale", 1.0) and _constant(plus3, "shift", 3.0) \
                and _constant(layer, "scale", 1.0 / 6.0) and _constant(layer, "shift", 0.0):
            relu6.activation = "hard_sigmoid"
            for gone in (plus3, layer):
                graph.removed[gone.keras_name] = f"part of the hard_sigmoid of {relu6.keras_name}"
                graph.bypass(gone)
            relu6.merged = (*relu6.merged, *((gone.keras_name, graph.keras_classes.get(gone.keras_name), "fused",
                                              "linear") for gone in (plus3, layer)))
            relu6.keras_output = layer.keras_output or layer.keras_name
    return graph


def fuse_activations(graph: Graph) -> Graph:
    """Merge a standalone activation into the layer it reads when that layer's kind applies
    that activation itself and has none yet (and no other reader); drop identity activations.
    A softmax fuses only where the code applies it to the whole vector (a Dense)."""
    for layer in list(graph.layers):
        if layer.kind != "activation":
            continue
        prev = _sole_producer(graph, layer)
        kind = hardware_kind(prev) if prev is not None else None
        if prev is not None and kind is not None and prev.activation == "linear" \
                and layer.activation in kind.activations:
            prev.activation = layer.activation
            prev.alpha = layer.alpha
            _merge_into(graph, layer, prev, "fused into")
        elif layer.activation == "linear":
            graph.removed[layer.keras_name] = "an identity"
            graph.bypass(layer)
    return graph


def drop_free_layers(graph: Graph) -> Graph:
    """Flatten and Reshape are free: buffers are already flat in channels-last order."""
    for layer in list(graph.layers):
        if layer.kind in FREE:
            graph.removed[layer.keras_name] = FREE[layer.kind].why
            graph.bypass(layer)
    if not graph.layers:
        raise IKRHLSError(f"{graph.source}: nothing is left to compute once Flatten/Reshape are removed")
    return graph


def merge_zero_padding(graph: Graph) -> Graph:
    """A ZeroPadding2D read only by a layer whose kind pads its own window (a conv) becomes
    part of that layer's padding; elsewhere it stays a layer of its own."""
    for layer in list(graph.layers):
        readers = graph.consumers(layer.name)
        if layer.kind != "pad2d" or len(readers) != 1 or layer.attrs.dil_h > 1 \
                or layer.attrs.dil_w > 1:         # a Conv2DTranspose's zero insertion stays
            continue
        kind = hardware_kind(readers[0])
        if kind is None or not kind.takes_padding:
            continue
        conv = readers[0]
        conv.attrs = conv.attrs.replace(**{side: getattr(conv.attrs, side) + getattr(layer.attrs, side)
                                           for side in ("pad_top", "pad_bottom", "pad_left", "pad_right")})
        conv.in_shape = layer.in_shape
        graph.removed[layer.keras_name] = f"merged into the padding of {conv.keras_name}"
        graph.bypass(layer)
    return graph


def apply_settings(graph: Graph, config: ProjectConfig) -> Graph:
    """Per-layer strategy, reuse factor and table sizes, from the config's settings of each layer."""
    config = settings_of(graph, config)
    for layer in graph.layers:
        settings = config.settings_for(layer.keras_name, None)
        strategy = settings.strategy or config.strategy
        reuse = settings.reuse_factor or config.reuse_factor
        kind = kind_of(layer)
        # "auto": the first strategy and R = 1 until auto.choose_settings prices the candidates
        layer.settings = Settings(strategy=kind.strategies[0] if strategy == AUTO else strategy,
                                  reuse_factor=1 if reuse == AUTO else int(reuse),
                                  table_size=settings.table_size or config.table_size,
                                  exp_range=settings.exp_range or config.exp_range, act_range=ACT_RANGE,
                                  auto_strategy=strategy == AUTO and len(kind.strategies) > 1,
                                  auto_reuse=reuse == AUTO and kind.reuses)
    return graph


def settings_of(graph: Graph, config: ProjectConfig, warn: bool = True) -> ProjectConfig:
    """The config with each layer's own settings, checked against this graph: what the kinds
    say each layer has (roles, reuse, strategies) and what was merged into it
    (layer_settings.resolve: errors at once, one warning for what means nothing)."""
    facts = []
    for layer in graph.layers:
        kind = kind_of(layer)
        used = kind.roles_of(layer) + activations.roles(layer)
        if layer.activation == "softmax" and kind.softmax_input == "input":
            used = tuple(r for r in used if r != "accum")       # it reads its input, not an accumulator
        facts.append(LayerFacts(
            name=layer.keras_name, keras_class=graph.keras_classes.get(layer.keras_name),
            roles=kind.roles + activations.roles(layer), used=used, activation=layer.activation,
            reuses=kind.reuses, strategies=kind.forms, merged=layer.merged,
            what=f"{layer.kind} layer"))
    return resolve(config, facts, graph.input_name, graph.removed, set(KERAS_HANDLERS), warn)


def derive_facts(graph: Graph) -> Graph:
    """What each layer's weights decide (tap order, pattern groups, kernel tables, multiplier
    counts), computed once by its kind for the backend, the reference and the report."""
    for layer in graph.layers:
        derive = kind_of(layer).derive
        layer.facts = derive(layer) if derive else None
    return graph


def plan_streams(graph: Graph, config: ProjectConfig) -> Graph:
    """io_stream: every layer's element widths (StreamIO). An element is a pixel (its channels)
    or a whole vector; a layer of the "elementwise" or "channels" form passes on its input's
    width. Readers that cannot take their input's elements are refused, naming the layer."""
    graph.io_type = config.io_type
    graph.fifo_depth = config.fifo_depth
    graph.part = config.part
    if config.io_type != "io_stream":
        return graph
    width = {INPUT: pixel_lanes(graph.input_shape)}
    for layer in graph.layers:
        form = kind_of(layer).stream_form(layer)
        widths = tuple(width[name] for name in layer.inputs)
        where = f"{graph.source}: layer '{layer.keras_name}'"
        if len(set(widths)) > 1 and form != "pixel":
            raise IKRHLSError(f"{where}: its inputs arrive as stream elements of different widths "
                              f"{sorted(set(widths))}; io_stream adds streams of one width (use io_parallel)")
        w = widths[0]
        for position, wk in enumerate(widths):       # a pixel-form layer reads each input's pixels
            shape = layer.input_shape(position)
            if form == "pixel" and (len(shape) != 3 or wk != shape[-1]):
                raise IKRHLSError(f"{where}: io_stream needs its input as pixels of {shape[-1]} channels, "
                                  f"its producer writes elements of {wk} values (a Reshape of a vector into an "
                                  "image is io_parallel only)")
        if form == "channels" and w % layer.in_shape[-1] != 0:
            raise IKRHLSError(f"{where}: io_stream scales whole channel groups, its input's elements hold "
                              f"{w} values for {layer.in_shape[-1]} channels (use io_parallel)")
        if form == "vector" and layer.in_size > COMPLETE_PARTITION_LIMIT:
            raise IKRHLSError(f"{where}: it gathers its input of {layer.in_size} values into as many registers, "
                              f"over the limit of {COMPLETE_PARTITION_LIMIT} (a Dense or softmax reads its input "
                              "whole, in io_stream as in io_parallel); reduce it first (pooling)")
        width[layer.name] = w if form in ("elementwise", "channels") else pixel_lanes(layer.out_shape)
        layer.stream = StreamIO(form, widths, width[layer.name])
    return graph


def structure(graph: Graph, config: ProjectConfig) -> Graph:
    """The passes that shape the graph: merges and removals, per-layer settings, facts. What
    they leave does not depend on types (precision="auto" profiles this graph)."""
    for step in (recognise_hard_sigmoid, fold_batchnorm, fuse_activations, drop_free_layers, merge_zero_padding):
        graph = step(graph)
    return derive_facts(apply_settings(graph, config))


def settle_da(graph: Graph) -> Graph:
    """strategy "da": each such layer solved once its types are known, or refused (a reuse
    factor above 1), or fallen back to unrolled above the solve bound (ikr_hls/da/form.py)."""
    from .da.form import settle_layers

    return settle_layers(graph, kind_of)


def finish(graph: Graph, config: ProjectConfig) -> Graph:
    """The passes after the structure: types, io_stream element widths, then the plan, frozen.
    `config`: the one structure() was given, or the same model's config with other types
    (precision="auto"), whose settings were warned about there."""
    config = settings_of(graph, config, warn=False)
    graph = plan_streams(assign_types(graph, config), config)
    graph = settle_da(graph)
    memo: dict = {}                       # the candidates one search priced, for the next (auto.streams)
    # a fit check that passes keeps its costs and its wiring for the plan (each decided once)
    graph, wiring = fit_by_default(choose_settings(graph, config.part, config.fit_limit, memo=memo), config, memo)
    graph = plan_hardware(*fit_with_buffers(graph, config, memo, wiring))
    warn_code_size(graph)
    return graph


# Taps the unrolled strategy may write out in a model before conversion warns: the code has
# about a line of C++ per tap, and g++ (host builds) and Vitis slow down with it (a
# MobileNetV2-0.35 written out unrolled is ~450k lines; g++ had not finished after 9 minutes)
UNROLLED_TAPS_WARNING = 50_000


def warn_code_size(graph: Graph) -> None:
    """One warning when the unrolled conv layers write out more than UNROLLED_TAPS_WARNING taps,
    naming the largest and the strategies whose code does not grow with them."""
    unrolled = [(layer.facts.nnz, layer.name) for layer in graph.layers
                if layer.kind == "conv2d" and layer.settled.strategy == "unrolled" and layer.facts is not None]
    taps = sum(n for n, _ in unrolled)
    if taps <= UNROLLED_TAPS_WARNING:
        return
    largest = ", ".join(f"{name} {n:,}" for n, name in sorted(unrolled, reverse=True)[:3])
    log.warning("strategy unrolled writes out %s taps (about a line of C++ each; %s): the code compiles slowly; "
                "strategy='pattern' (--strategy pattern), or 'auto' with reuse_factor='auto', writes a processing "
                "element per pattern instead", f"{taps:,}", largest)


def fit_by_default(graph: Graph, config: ProjectConfig, memo: dict | None = None) -> tuple[Graph, Wiring | None]:
    """The default form (strategy unrolled, reuse factor 1; config.fit_default) where it fits
    `fit_limit` of the part and writes out at most UNROLLED_TAPS_WARNING taps; else every layer
    the config does not set takes reuse_factor="auto" and strategy="auto" (auto.py), with one
    warning saying why and how to keep the default form. With the graph, the wiring its check
    built when the graph keeps it (its costs kept too), else None."""
    device = lookup(config.part)
    if not config.fit_default or device is None or not graph.fixed_point:
        return graph, None
    available = device.available()
    total, _, wiring = _design_estimate(graph)    # the layers and the DATAFLOW buffers, as the report
    over = {k: total[k] / available[k] for k in RESOURCES
            if available[k] and total[k] > config.fit_limit * available[k]}
    taps = sum(layer.facts.nnz for layer in graph.layers
               if layer.kind == "conv2d" and layer.settled.strategy == "unrolled" and layer.facts is not None)
    if not over and taps <= UNROLLED_TAPS_WARNING:
        return graph, wiring              # the plan keeps these costs (a layer is priced once)
    _forget_costs(graph)
    chosen = []
    for layer in graph.layers:
        kind = kind_of(layer)
        own = config.settings_for(layer.keras_name, None)
        if kind.reuses and has_figures(layer) and own.strategy is None and own.reuse_factor is None:
            layer.settings = layer.settled.replace(auto_strategy=len(kind.strategies) > 1, auto_reuse=True)
            chosen.append(layer.name)
    why = (", ".join(f"{100 * share:.0f}% of its {k.upper()}" for k, share in over.items()) + f" of {device.device}"
           if over else f"{taps:,} unrolled taps written out (about a line of C++ each)")
    log.warning("the default form (strategy unrolled, reuse factor 1) would take %s: reuse factor and strategy "
                "chosen per layer for %d layer(s), as reuse_factor='auto', strategy='auto' do (pass "
                "strategy='unrolled', reuse_factor=1, or --strategy unrolled --reuse-factor 1, to keep the default "
                "form)", why, len(chosen))
    return choose_settings(graph, config.part, config.fit_limit, memo=memo), None


# searches fit_with_buffers runs at most (each with the buffers of the last choice held back)
BUFFER_ROUNDS = 3


def fit_with_buffers(graph: Graph, config: ProjectConfig, memo: dict | None = None,
                     wiring: Wiring | None = None) -> tuple[Graph, Wiring | None]:
    """The auto layers' choice priced with the DATAFLOW buffers it leads to (a wiring of the
    chosen design, before the plan's): when they take it over `fit_limit` of the part, the
    search runs again with their estimate held back (the largest seen so far), at most
    BUFFER_ROUNDS times (the buffers' depths follow the latencies the choice sets), and not
    again once they are held back in full (then even the cheapest candidates do not fit, and the
    report's fit check says so). `wiring`: that of the graph as given, if known; returned with
    the graph when it is still the graph's (else None: the plan wires it)."""
    auto = [l for l in graph.layers if (l.settled.auto_reuse or l.settled.auto_strategy) and has_figures(l)]
    device = lookup(graph.part)
    if not auto or device is None:
        return graph, wiring
    reserve = dict.fromkeys(RESOURCES, 0)
    for _ in range(BUFFER_ROUNDS):
        buffers, wiring = _priced_with_buffers(graph, config.fit_limit, device.available())
        if buffers is None:
            return graph, wiring          # it fits: the plan keeps these costs and this wiring
        grown = {k: max(reserve[k], buffers[k]) for k in RESOURCES}
        if grown == reserve:              # held back already: no design of the search fits with them
            return graph, None
        reserve = grown
        graph = choose_settings(graph, graph.part, config.fit_limit, reserve=reserve, memo=memo)
    return graph, None


def _design_estimate(graph: Graph) -> tuple[dict, dict, Wiring]:
    """({resource: estimate} of the layers and the DATAFLOW buffers, that of the buffers alone,
    the wiring): each layer priced (its cost and loop nest, kept for the plan) and the design wired."""
    family = family_of(graph.part)
    total = dict.fromkeys(RESOURCES, 0.0)
    for layer in graph.layers:
        kind = kind_of(layer)
        layer.cost = priced(layer, kind.cost_of(layer), graph.part)
        layer.nest = kind.loop_nest(layer) if kind.loop_nest is not None else None
        if has_figures(layer):
            for k, v in fpga_estimate.estimate(layer.cost, family).items():
                total[k] += v
    wiring = Wiring(graph)
    registers, _, memories = fpga_estimate.dataflow_memories(wiring)
    buffers = fpga_estimate.buffers_estimate(registers, memories, family)
    return {k: total[k] + buffers[k] for k in RESOURCES}, buffers, wiring


def _forget_costs(graph: Graph) -> None:
    """Clear the layers' costs and loop nests: the settings change, and the plan prices them again."""
    for layer in graph.layers:
        layer.cost = layer.nest = None


def _priced_with_buffers(graph: Graph, limit: float, available: dict) -> tuple[dict | None, Wiring | None]:
    """(None, the wiring) when the design (_design_estimate) fits `limit` of `available`, its
    costs kept for the plan; else (the buffers' estimate, None), the costs cleared for the next
    choice."""
    total, buffers, wiring = _design_estimate(graph)
    if all(total[k] <= limit * available[k] for k in RESOURCES):
        return None, wiring
    _forget_costs(graph)
    return buffers, None


def run_passes(graph: Graph, config: ProjectConfig) -> Graph:
    return finish(structure(graph, config), config)
