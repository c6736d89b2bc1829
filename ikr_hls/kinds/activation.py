"""activation: an activation layer that could not be fused into the layer before it
(Activation, ReLU, ReLU6, LeakyReLU, Softmax); a softmax works on the whole vector."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import activations, hardware
from .. import codes as C
from ..activations import ActivationCall, SoftmaxView
from ..ir import Layer
from ..precision import requantize
from .base import Cost, LayerKind, Sample, View, Weights, pixel_lanes
from .keras_reading import activation_name, unsupported, with_activation

ROLES = ("accum", "result")


def _layer(klayer, shape) -> Layer:
    return Layer(name="", kind="activation", keras_name=klayer.name, in_shape=shape, out_shape=shape)


def _activation(klayer, shape, source):
    return with_activation(_layer(klayer, shape), activation_name(klayer, source))


def _relu(klayer, shape, source):
    """ReLU, ReLU6 (max_value=6) and leaky ReLU (negative_slope, no max)."""
    max_value = None if klayer.max_value is None else float(np.asarray(klayer.max_value))
    slope = float(np.asarray(klayer.negative_slope))
    threshold = float(np.asarray(klayer.threshold))
    layer = _layer(klayer, shape)
    if threshold == 0.0 and slope == 0.0 and max_value in (None, 6.0):
        return with_activation(layer, "relu" if max_value is None else "relu6")
    if threshold == 0.0 and max_value is None:
        return with_activation(layer, "leaky_relu", alpha=slope)
    raise unsupported(klayer, source, f"max_value={klayer.max_value}, negative_slope={slope}, "
                      f"threshold={threshold} (supported: ReLU, ReLU(max_value=6), ReLU(negative_slope=a))")


def _leaky_relu(klayer, shape, source):
    return with_activation(_layer(klayer, shape), "leaky_relu", alpha=float(np.asarray(klayer.negative_slope)))


def _softmax(klayer, shape, source):
    axis = klayer.axis
    if axis not in (-1, len(shape)) or len(shape) != 1:
        raise unsupported(klayer, source, f"axis={axis} on shape {shape} (softmax over a vector)")
    return with_activation(_layer(klayer, shape), "softmax")


def template(layer: Layer) -> str:
    return "activation"


def _lanes(layer: Layer) -> int:
    """Values per step: a softmax takes its whole vector at once, others a pixel (or a vector)."""
    return layer.out_size if layer.activation == "softmax" else pixel_lanes(layer.out_shape)


def table_copies(layer: Layer) -> int:
    """A table is read once per lane a step; a copy serves two lanes (II 1)."""
    return hardware.table_copies(_lanes(layer), 1)


@dataclass(frozen=True, kw_only=True)
class ActivationView(View, SoftmaxView):
    """activation.h.j2: a standalone activation over n values, lanes a step (a softmax: all)."""
    has_tables: bool
    n: int
    lanes: int
    exp_copies: int
    table_pragmas: list
    act: ActivationCall


def view(layer: Layer) -> ActivationView:
    return ActivationView(**activations.softmax_view(layer), has_tables=bool(activations.arrays(layer)),
                          n=layer.out_size, lanes=_lanes(layer), exp_copies=table_copies(layer),
                          table_pragmas=activations.partition_pragmas(layer), act=activations.call_view(layer),
                          keras_class="Activation", summary=f"activation {layer.activation}")


def weights(layer: Layer) -> Weights | None:
    arrays = activations.arrays(layer, table_copies(layer))
    return Weights("lookup tables", arrays) if arrays else None


def reference(layer: Layer, ins: list) -> np.ndarray:
    (codes, in_t), = ins
    if layer.activation == "softmax":
        return activations.softmax(layer, codes, in_t)
    acc_t = C.fixed_types(layer)["accum"]
    return activations.activate(layer, requantize(codes, in_t.fractional, acc_t), acc_t)


def cost(layer: Layer) -> Cost:
    """One step per pixel (a softmax: one step for the vector), II 1; a leaky ReLU multiplies
    each lane by its slope, a softmax each value by the sum's reciprocal."""
    lanes = _lanes(layer)
    steps = layer.out_size // lanes
    products = lanes * (1 if layer.activation == "softmax" else activations.products(layer))
    product_bits = activations.product_bits(layer)
    if layer.activation == "softmax" and "inv_table" in layer.precision:    # the value times 1/sum
        product_bits = (hardware.bits(layer.precision["inv_table"]), hardware.bits(layer.precision["exp_table"]))
    chain = hardware.chain(("read", 1), activations.chain(layer, lanes), ("write", 1))
    width = hardware.bits(layer.input_types[0]) if layer.input_types else 0
    operators = activations.operators(layer, lanes, width) + hardware.conversion("result", layer.precision["result"],
                                                                                  lanes)
    return Cost(ii=1, iterations=steps, chain=chain, multipliers=products or None,
                sharing="one per lane" if products else "none",
                memories=tuple(activations.table_memories(layer, table_copies(layer))), product_bits=product_bits,
                operators=operators, constants=activations.constant_products(layer, lanes))


def default_accum(layer: Layer, in_types: list, types: dict):
    """Values pass as they are."""
    return types["result"] if in_types[0].is_float or types["result"].is_float else in_types[0]


SAMPLES = {"Activation": Sample(lambda L: L.Activation("relu"), (6, 6, 2)),
           "ReLU": Sample(lambda L: L.ReLU(), (6, 6, 2)),
           "LeakyReLU": Sample(lambda L: L.LeakyReLU(), (6, 6, 2)),
           "Softmax": Sample(lambda L: L.Softmax(), (4,))}

KIND = LayerKind(
    samples=SAMPLES,
    stream_form=lambda layer: "vector" if layer.activation == "softmax" else "elementwise",
    name="activation",
    keras={"Activation": _activation, "ReLU": _relu, "LeakyReLU": _leaky_relu, "Softmax": _softmax},
    roles=ROLES, templates=("activation", "activation_stream"), template=template, view=view, weights=weights,
    reference=reference, cost=cost, default_accum=default_accum, softmax_input="input")
