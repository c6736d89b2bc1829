"""scale_shift: a BatchNormalization that could not be folded into the layer before it, as a
per-channel scale and shift (moving statistics, epsilon, gamma and beta folded together)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import activations, hardware
from .. import codes as C
from ..activations import ActivationCall
from ..constants import array, literal
from ..ir import Layer
from ..precision import requantize, to_codes, weight_bits, widen_for_sum
from .base import SCALAR_ACTIVATIONS, Cost, LayerKind, Sample, View, Weights
from .keras_reading import read_array, unsupported

ROLES = ("weight", "bias", "accum", "result")


def _batchnorm(klayer, shape, source):
    axis = klayer.axis if isinstance(klayer.axis, int) else list(klayer.axis)
    if axis not in (-1, len(shape), [-1], [len(shape)]):
        raise unsupported(klayer, source, f"axis={klayer.axis} (only the channel axis, -1)")
    channels = shape[-1]
    gamma = read_array(klayer.gamma) if klayer.scale else np.ones(channels)
    beta = read_array(klayer.beta) if klayer.center else np.zeros(channels)
    mean = read_array(klayer.moving_mean)
    var = read_array(klayer.moving_variance)
    scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + klayer.epsilon)
    shift = np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * scale
    return Layer(name="", kind="scale_shift", keras_name=klayer.name, in_shape=shape,
                 out_shape=shape, weights=dict(scale=scale, shift=shift))


def template(layer: Layer) -> str:
    return "scale_shift"


def table_copies(layer: Layer) -> int:
    return hardware.table_copies(layer.in_shape[-1], 1)


@dataclass(frozen=True, kw_only=True)
class ScaleShiftView(View):
    """scale_shift.h.j2: a scale and a shift per channel."""
    n: int
    c: int
    act: ActivationCall
    table_pragmas: list


def view(layer: Layer) -> ScaleShiftView:
    c = layer.in_shape[-1]
    return ScaleShiftView(n=layer.out_size, c=c, act=activations.call_view(layer), keras_class="BatchNormalization",
                table_pragmas=activations.partition_pragmas(layer),
                summary=f"scale and shift over {c} channels")


def weights(layer: Layer) -> Weights:
    return Weights("per-channel scale and shift", [
        array(f"{layer.name}_scale", f"{layer.name}_weight_t", layer.weights["scale"], "scale",
              literal(layer, "weight")),
        array(f"{layer.name}_shift", f"{layer.name}_bias_t", layer.weights["shift"], "shift",
              literal(layer, "bias")),
    ] + activations.arrays(layer, table_copies(layer)))


def reference(layer: Layer, ins: list) -> np.ndarray:
    (codes, in_t), = ins
    p = C.fixed_types(layer)
    scale = to_codes(layer.weights["scale"], p["weight"])
    shift = to_codes(layer.weights["shift"], p["bias"])
    frac = max(in_t.fractional + p["weight"].fractional, p["bias"].fractional)
    C.check_fits(in_t.width + p["weight"].width + frac - in_t.fractional - p["weight"].fractional, "product")
    total = (((codes * scale) << (frac - in_t.fractional - p["weight"].fractional))
             + (shift << (frac - p["bias"].fractional)))
    acc = requantize(total, frac, p["accum"])
    return activations.activate(layer, acc, p["accum"])


def cost(layer: Layer) -> Cost:
    """One step per pixel (all its channels), II 1: a multiplier per channel (and per channel
    for a leaky ReLU's slope)."""
    c = layer.in_shape[-1]
    steps = layer.out_size // c
    products = c * (2 if layer.activation == "leaky_relu" else 1)
    in_bits = hardware.bits(layer.input_types[0]) if layer.input_types else 0
    chain = hardware.chain(("read", 1), ("multiply", 1), ("add", 1), activations.chain(layer), ("write", 1))
    acc_bits = hardware.bits(layer.precision["accum"])
    operators = (hardware.ops("shifts", "add", acc_bits, c) + activations.operators(layer, c, acc_bits)
                 + hardware.conversion("result", layer.precision["result"], c))
    constants = hardware.merge_constants(hardware.constant_products(layer.weights["scale"], layer.precision["weight"]),
                                         activations.constant_products(layer, c))
    return Cost(ii=1, iterations=steps, chain=chain, multipliers=products,
                sharing="one per channel", memories=tuple(activations.table_memories(layer, table_copies(layer))),
                product_bits=(hardware.product_weight_bits(layer, layer.weights["scale"]), in_bits),
                operators=operators, constants=constants)


def values(layer: Layer) -> dict:
    return {"weight": layer.weights["scale"], "bias": layer.weights["shift"]}


def report(layer: Layer) -> dict:
    scale, shift = layer.weights["scale"], layer.weights["shift"]
    w_t, b_t = layer.precision["weight"], layer.precision["bias"]
    bits = int(scale.size) * weight_bits(w_t)
    return {"weight_type": w_t.cpp, "weight_bits": weight_bits(w_t), "bias_type": b_t.cpp,
            "params_dense": int(scale.size + shift.size),
            "params_nonzero": int(np.count_nonzero(scale) + np.count_nonzero(shift)),
            "storage_bits": {"dense": bits, "ikr": bits, "csr": bits},
            "bias_bits": int(shift.size) * weight_bits(b_t)}


def default_accum(layer: Layer, in_types: list, types: dict):
    if in_types[0].is_float or types["result"].is_float:
        return types["result"]
    return widen_for_sum(in_types[0], types["weight"], types["bias"], 1)


SAMPLES = {"BatchNormalization": Sample(lambda L: L.BatchNormalization(), (6, 6, 2))}

KIND = LayerKind(
    samples=SAMPLES,
    stream_form=lambda layer: "channels",
    name="scale_shift", keras={"BatchNormalization": _batchnorm},
    roles=ROLES, templates=("scale_shift", "scale_shift_stream"), template=template, view=view, weights=weights,
    reference=reference, cost=cost, report=report, values=values, default_accum=default_accum,
    activations=SCALAR_ACTIVATIONS)
