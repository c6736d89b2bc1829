"""Building the report of a converted graph: per layer and in total, parameters, MACs, IKR
pattern libraries, weight storage in three schemes, multipliers and latency estimates.

It reads the graph as the passes leave it (folded BatchNorm, fused activations, per-layer
strategy, reuse factor, types and the facts derived from the weights); each kind supplies
its cost and its own fields. Every field is described in docs/report.md.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import cast

import numpy as np

from .. import fpga_estimate
from ..axis import axis_ports
from ..config import DEFAULT_PART
from ..errors import IKRHLSError
from ..hardware import has_figures, product_weight_bits
from ..kinds import kind_of
from ..parts import RESOURCES, family_of
from ..precision import weight_bits
from .fit import FIT_LIMIT, fit_check

REPORT_VERSION = 2                 # 2: one resource estimate (the products where the code binds them), fit
# a pattern conv with more than 10% more multipliers than unrolled at the same reuse factor gets a note
PATTERN_OVERHEAD_NOTED = 1.1
REPORT_FILE = "ikr_report.json"    # written into every project


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
    family = family_of(getattr(config, "part", "") or DEFAULT_PART)
    layers = [_layer_report(layer, config, family) for layer in graph.layers]
    clock = float(getattr(config, "clock_period", 0.0) or 0.0)
    host_check = not all(has_figures(layer) for layer in graph.layers)
    axis = axis_ports(graph) if getattr(config, "side_channels", False) else None
    flow = _dataflow(graph, layers, host_check, family, axis)
    report = {
        "report_version": REPORT_VERSION,
        "project": config.project_name,
        "source": str(graph.source),
        "part": getattr(config, "part", None),
        "clock_period_ns": clock,
        "precision": getattr(config, "precision_label", None) or config.precision.cpp,   # "auto (per layer)"
        "strategy": config.strategy,
        "reuse_factor": config.reuse_factor,
        "io_type": graph.io_type,
        "fifo_depth": graph.fifo_depth if graph.io_type == "io_stream" else None,   # "model" or "full"
        "axi_wrapper": {"top": f"{config.project_name}_axi", "input_data_bits": axis[0].data_bits,
                        "output_data_bits": axis[1].data_bits} if axis else None,
        "host_check_only": host_check,      # floating-point types: no hardware figures (docs/hardware.md)
        "layer_strategies": {l["name"]: l["strategy"] for l in layers
                             if l["strategy"] is not None and l["strategy"] != config.strategy},
        "input_shape": [int(d) for d in graph.input_shape],
        "output_shape": [int(d) for d in graph.output_shape],
        "removed": {str(k): str(v) for k, v in getattr(graph, "removed", {}).items()},
        "layers": layers,
        "totals": {**_totals(layers, clock, flow, host_check, family,
                             getattr(config, "part", "") or DEFAULT_PART, getattr(config, "fit_limit", FIT_LIMIT),
                             _by_binding(graph, flow.get("buffer_resources"), family, host_check)),
                   "bits_mean": _mean_bits(graph, layers)},
        "fifos": flow["fifos"],
        "synthesis": _plain(synthesis) if synthesis else None,
        "notes": [],
    }
    report["notes"] = _notes(report)
    return report


def _layer_report(layer, config, family: str) -> dict:
    kind = kind_of(layer)
    cost = layer.plan_cost
    entry = {
        "name": layer.name,
        "keras_name": layer.keras_name,
        "kind": layer.kind,
        "depthwise_multiplier": None,     # a DepthwiseConv2D's (its kind's report), else None
        "activation": layer.activation,
        "in_shape": [int(d) for d in layer.in_shape],
        "out_shape": [int(d) for d in layer.out_shape],
        # a kind with one form of auto's reports only a form asked for (da); a model-wide strategy
        # the kind lacks (pattern on a Dense) leaves it in its first form
        "strategy": (layer.settled.strategy if layer.settled.strategy in kind.forms else kind.strategies[0])
        if kind.reuses and (len(kind.strategies) > 1 or layer.settled.strategy in kind.asked_strategies) else None,
        "reuse_factor": int(layer.settled.reuse_factor) if kind.reuses else None,
        "weight_type": None, "weight_bits": None, "bias_type": None, "bias_bits": 0,
        "result_type": layer.precision["result"].cpp if "result" in layer.precision else None,
        "bits": _bits(layer, kind),
        "params_dense": 0, "params_nonzero": 0,
        "macs_dense": cost.macs_dense, "macs_pruned": cost.macs,
        "storage_bits": None,
        "multipliers": cost.multipliers,
        "latency_estimate_cycles": int(cost.latency),
        "ii": int(cost.ii),
        "iterations": int(cost.iterations),
        "gather_steps": int(cost.gather_steps),
        "sharing": cost.sharing,
        "registers_bits": int(cost.registers_bits),
        "ram_bits": int(cost.ram_bits),
        "rom_bits": int(cost.rom_bits),
        "memories": [asdict(m) for m in cost.memories],
        "muxes": [asdict(m) for m in cost.muxes],
        "operators": [asdict(o) for o in cost.operators],
        "binding": cost.binding,
        "constants": [[d, n] for d, n in cost.constants],
        "resources_estimate": _resources(layer, cost, family),
        "resources_by_part": _parts(layer, cost, family),
    }
    own = kind.report(layer)
    order = list(entry) + [k for k in own if k not in entry]
    entry.update(own)
    entry["pipeline_depth"] = cost.depth
    entry["chain"] = [{"op": op.what, "levels": op.levels, "cycles": op.cycles} for op in cost.chain]
    if not has_figures(layer):              # floating point: a host check, no hardware figure
        entry.update({k: None for k in _HARDWARE_FIGURES}, memories=[], muxes=[], chain=None, operators=[],
                     constants=[])
    return {k: _plain(entry[k]) for k in _report_order(order + ["pipeline_depth", "chain"])}


# The per-layer fields of the hardware model: None for a layer with floating-point types.
_HARDWARE_FIGURES = ("multipliers", "latency_estimate_cycles", "ii", "iterations", "gather_steps", "sharing",
                     "registers_bits", "ram_bits", "rom_bits", "pipeline_depth", "binding")


# Field order of a layer entry in the JSON (kept stable for readers of older reports).
_FIELDS = ("name", "keras_name", "kind", "depthwise_multiplier", "activation", "in_shape", "out_shape",
           "strategy", "reuse_factor", "weight_type", "weight_bits", "bias_type", "bias_bits", "result_type", "bits",
           "params_dense", "params_nonzero", "macs_dense", "macs_pruned", "storage_bits", "multipliers",
           "latency_estimate_cycles", "ii", "iterations", "gather_steps", "pipeline_depth", "chain", "sharing",
           "registers_bits", "ram_bits", "rom_bits",
           "memories", "muxes", "operators", "binding", "constants", "resources_estimate", "resources_by_part",
           "kernel_size", "kernels", "kernels_removed", "kernel_nonzero", "keep",
           "regular", "library_size", "index_bits", "weight_slots", "support_groups", "patterns")


def _report_order(keys: list) -> list:
    known = [k for k in _FIELDS if k in keys]
    return known + [k for k in keys if k not in _FIELDS]


def _bits(layer, kind) -> dict:
    """Mean bits per value as converted: per nonzero weight (a quantization-aware layer's own
    widths while it keeps its trained weight type: hardware.product_weight_bits), and per value
    of its result (a quantize step's element formats while it keeps its trained result type;
    its buffer carries the result type); None where it has none, or in floating point."""
    if any(t.is_float for t in layer.precision.values()):
        return {"weight": None, "result": None}
    values = kind.values(layer)
    weight = None
    if "weight" in values and "weight" in layer.precision:
        weight = product_weight_bits(layer, values["weight"])
    result = float(weight_bits(layer.precision["result"]))
    trained = layer.trained
    if trained is not None and "result" in trained.widths and trained.types.get("result") == layer.precision["result"]:
        result = round(float(np.mean(trained.widths["result"])), 3)
    return {"weight": weight, "result": result}


def _mean_bits(graph, layers: list) -> dict:
    """The model's mean bits: per nonzero weight, and per activation value (the values its
    quantize steps write when it has them, else every layer's result), or None in float."""
    if any(l["bits"]["result"] is None for l in layers):
        return {"weight": None, "activation": None}
    weights = [(l["bits"]["weight"], l["kernel_nonzero"] if "kernel_nonzero" in l else l["params_nonzero"])
               for l in layers if l["bits"]["weight"] is not None]
    quantized = [l for l in layers if "quantized" in l] or layers      # a quantize step's report field
    values = [(l["bits"]["result"], int(np.prod(l["out_shape"]))) for l in quantized]

    def mean(pairs):
        total = sum(n for _, n in pairs)
        return round(sum(b * n for b, n in pairs) / total, 3) if total else None

    return {"weight": mean(weights), "activation": mean(values)}


def _resources(layer, cost, family: str) -> dict | None:
    """{lut, ff, dsp, bram_18k}, the products where the code binds them; None for a layer with
    floating-point types: its cores are not priced."""
    if not has_figures(layer):
        return None
    return fpga_estimate.estimate(cost, family)


def _parts(layer, cost, family: str) -> dict | None:
    """The estimate by part of the layer (products, adders, comparators, choices, control,
    registers, memories), rounded: what dominates it."""
    if not has_figures(layer):
        return None
    return {part: {k: int(round(v)) for k, v in price.items()}
            for part, price in fpga_estimate.breakdown(cost, family).items() if any(price.values())}


def _ratio(a, b):
    return float(a) / float(b) if b else None


def _dataflow(graph, layers: list, host_check: bool, family: str, axis=None) -> dict:
    """The DATAFLOW region as a whole: its buffers (io_parallel: ping-pong channels of `depth`
    slots, two unless the buffer skips processes; io_stream: FIFOs of depth x element bits,
    each listed with its depth and why), the
    copies of buffers read twice, the latency of a frame along the longest path, and the
    interval (the slowest process). `axis`: the AXI wrapper's ports (axis.py), whose adapters
    and FIFOs run in a DATAFLOW region of their own around the network's."""
    from ..hardware import CLONE_DEPTH, Memory, bits
    from ..stream_depths import DEFAULT, STREAM_DEPTH, WHOLE

    wiring = graph.plan.wiring
    registers = ram = 0
    memories = []
    fifos: list | None = [] if wiring.stream else None
    for port in axis or ():                     # the wrapper's FIFOs between its adapters and the network
        whole = graph.fifo_depth == "full"
        depth = port.elements if whole else STREAM_DEPTH
        ram += depth * port.values * port.value_bits
        memories.append(Memory(port.stream, "FIFO", 1, depth, port.values * port.value_bits))
        cast(list, fifos).append({"name": port.stream, "depth": depth, "elements": port.elements,
                                  "width": port.values, "bits": depth * port.values * port.value_bits,
                                  "why": WHOLE if whole else DEFAULT, "bound_cycles": None})
    own_registers, own_ram, own_memories = fpga_estimate.dataflow_memories(wiring)
    registers, ram, memories = registers + own_registers, ram + own_ram, memories + own_memories
    for buffer in wiring.buffers if fifos is not None else ():   # a FIFO of `depth` elements of `width` values
        width = bits(buffer.type.hls)
        cast(list, fifos).append({"name": buffer.name, "depth": buffer.depth, "elements": buffer.size // buffer.width,
                                  "width": buffer.width, "bits": buffer.depth * buffer.width * width,
                                  "why": buffer.why, "bound_cycles": buffer.bound or None})
    if host_check:
        return {"buffer_registers_bits": int(registers), "buffer_ram_bits": int(ram), "buffer_resources": None,
                "latency": None, "interval": None, "fifos": fifos}
    latency = {entry["name"]: entry["latency_estimate_cycles"] for entry in layers}
    clone = {name: sum(size // max(1, lanes) + CLONE_DEPTH for size, lanes in chain)
             for name, chain in wiring.clone_steps().items()}
    adapters = [port.latency for port in axis or ()]      # the AXI wrapper's: before and after the network
    finish: dict = {"input": clone.get("input", 0) + (adapters[0] if adapters else 0)}
    for layer in graph.layers:
        start = max(finish[name] for name in layer.inputs)
        finish[layer.name] = start + latency[layer.name] + clone.get(layer.name, 0)
    processes = list(latency.values()) + [c for c in clone.values()] + adapters
    return {"buffer_registers_bits": int(registers), "buffer_ram_bits": int(ram),
            "buffer_resources": fpga_estimate.buffers_estimate(registers, memories, family),
            "latency": int(finish[graph.layers[-1].name] + (adapters[1] if adapters else 0)),
            "interval": int(max(processes)), "fifos": fifos}


def _by_binding(graph, buffers: dict | None, family: str, host_check: bool) -> dict | None:
    """The total estimate with every layer's products on DSPs, and with every one in fabric (the
    layers' own binding aside): what the choice weighs, and what a budget may be set against."""
    if host_check:
        return None
    out = {}
    for binding in ("dsp", "fabric"):
        total = dict.fromkeys(RESOURCES, 0)
        for layer in graph.layers:
            for k, v in fpga_estimate.estimate(layer.plan_cost, family, binding).items():
                total[k] += v
        for k, v in (buffers or {}).items():
            total[k] += v
        out[binding] = total
    return out


def _totals(layers: list, clock: float, flow: dict, host_check: bool, family: str, part: str, limit: float,
            by_binding: dict | None) -> dict:
    with_w = [l for l in layers if l["storage_bits"] is not None]
    counted = [l for l in layers if l["macs_dense"] is not None]
    storage = {k: int(sum(l["storage_bits"][k] for l in with_w)) for k in ("dense", "ikr", "csr")}
    params_dense = sum(l["params_dense"] for l in layers)
    params_nonzero = sum(l["params_nonzero"] for l in layers)
    macs_dense = sum(l["macs_dense"] for l in counted)
    macs_pruned = sum(l["macs_pruned"] for l in counted)
    latency, interval = flow["latency"], flow["interval"]
    hardware = {
        "multipliers": int(sum(l["multipliers"] or 0 for l in layers)),
        "latency_estimate_cycles": latency,
        "interval_estimate_cycles": interval,
        "latency_estimate_ns": latency * clock if clock and latency is not None else None,
        "registers_bits": int(sum(l["registers_bits"] for l in layers)) + flow.get("buffer_registers_bits", 0),
        "ram_bits": int(sum(l["ram_bits"] for l in layers)) + flow.get("buffer_ram_bits", 0),
        "rom_bits": int(sum(l["rom_bits"] for l in layers)),
    } if not host_check else dict.fromkeys(("multipliers", "latency_estimate_cycles", "interval_estimate_cycles",
                                            "latency_estimate_ns", "registers_bits", "ram_bits", "rom_bits"))
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
        **hardware,
        "buffer_registers_bits": flow.get("buffer_registers_bits", 0),
        "buffer_ram_bits": flow.get("buffer_ram_bits", 0),
        "resources_estimate": (resources := _total_resources(layers, flow.get("buffer_resources"))),
        "resources_by_binding": by_binding,
        "resources_estimate_source": fpga_estimate.provenance(family),
        "fit": fit_check(resources, part, limit),
    }


def _total_resources(layers: list, buffers: dict | None) -> dict | None:
    """The layers' estimates plus the DATAFLOW buffers' (None when a layer has none: floating
    point)."""
    if any(l["resources_estimate"] is None for l in layers):
        return None
    total = {k: sum(l["resources_estimate"][k] for l in layers) for k in RESOURCES}
    for k, v in (buffers or {}).items():
        total[k] += v
    return total


def _notes(report: dict) -> list:
    notes = ["Latency and interval figures are analytic estimates (docs/report.md), not synthesis results: a "
             "layer's latency = steps x II + its pipeline depth (its operator chain, docs/hardware.md); a frame's "
             "latency follows the longest path through the layers; the DATAFLOW interval = the slowest process."]
    if report["host_check_only"]:
        notes.insert(0, "Floating-point types: this project is a host check (C++ against Keras), not a design: no "
                        "II, latency, multiplier or resource figure is stated for Vitis's floating-point cores. "
                        "Convert with an ap_fixed precision for hardware (docs/fixed_point.md).")
    notes.append("MACs are counted for conv2d and dense layers only (output pixels x nonzero "
                 "weights; nonzero weights), as in ikr_hls.pruning.summary.")
    notes.append("Storage bits cover kernel weights (and scale_shift scales); biases are "
                 "stored densely in every scheme and counted apart (bias_bits).")
    for l in report["layers"]:
        if l.get("strategy") == "pattern" and l.get("kernel_nonzero"):
            unrolled = -(-l["kernel_nonzero"] // l["reuse_factor"])
            if l["multipliers"] is not None and l["multipliers"] > PATTERN_OVERHEAD_NOTED * unrolled:
                notes.append(f"{l['name']}: the pattern strategy needs {l['multipliers']} multipliers at reuse factor "
                             f"{l['reuse_factor']}, more than the unrolled strategy ({unrolled}): each of its "
                             f"{l['library_size']} pattern(s) gets ceil(kernels / {l['reuse_factor']}) PE instances, "
                             f"rounded up per pattern ({l['kernels'] - l['kernels_removed']} kernel(s) in all); a "
                             "smaller library (IKRPruning library_size), a reuse factor that divides each pattern's "
                             "kernels, or the unrolled strategy costs less here.")
        if l.get("strategy") == "pe" and l.get("reuse_factor") == 1 and l.get("kernel_nonzero"):
            notes.append(f"{l['name']}: at reuse factor 1 each PE of the pe strategy serves one kernel and is "
                         "inlined, so its constant pattern id folds the pattern multiplexers away: it is the "
                         "pattern strategy's hardware, the pe strategy pays off at R > 1 (docs/hardware.md).")
        if "regular" not in l:                           # layers without a pattern library
            continue
        live = l["kernels"] - l["kernels_removed"]
        if live >= 2 and l["library_size"] * 2 >= live:
            notes.append(f"{l['name']}: {l['library_size']} pattern(s) for {live} kernel(s), "
                         f"{live / l['library_size']:.1f} kernel(s) per pattern: patterns are hardly shared, so "
                         "the pattern strategy cannot share a PE among kernels and each pattern id buys little; "
                         "a smaller library (IKRPruning library_size) shares more.")
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
        notes.append("Floating-point weights: storage counts 32 (float) or 64 (double) bits per weight.")
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
