"""add: an Add of two or more inputs of the same shape, summed in order in an accumulator
that holds the exact sum, then the fused activation."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import activations, hardware
from .. import codes as C
from ..activations import ActivationCall
from ..ir import Layer
from ..precision import requantize, sum_type
from .base import SCALAR_ACTIVATIONS, Cost, LayerKind, Sample, View, Weights, elementwise_stream, pixel_lanes
from .keras_reading import unsupported

ROLES = ("accum", "result")


def _add(klayer, shapes, source):
    if any(tuple(s) != tuple(shapes[0]) for s in shapes):
        raise unsupported(klayer, source, f"inputs of shapes {', '.join(map(str, shapes))} "
                          "(broadcasting; all inputs must have the same shape)")
    return Layer(name="", kind="add", keras_name=klayer.name, in_shape=tuple(shapes[0]),
                 out_shape=tuple(shapes[0]))


def template(layer: Layer) -> str:
    return "add"


def table_copies(layer: Layer) -> int:
    return hardware.table_copies(pixel_lanes(layer.out_shape), 1)


@dataclass(frozen=True, kw_only=True)
class AddView(View):
    """add.h.j2: n values per input, lanes a step, summed over n_inputs inputs."""
    n: int
    n_inputs: int
    has_tables: bool
    lanes: int
    table_pragmas: list
    act: ActivationCall


def view(layer: Layer) -> AddView:
    return AddView(n=layer.out_size, n_inputs=len(layer.inputs), has_tables=bool(activations.arrays(layer)),
                lanes=pixel_lanes(layer.out_shape), table_pragmas=activations.partition_pragmas(layer),
                act=activations.call_view(layer), keras_class="Add",
                summary=f"Add of {len(layer.inputs)} inputs")


def weights(layer: Layer) -> Weights | None:
    arrays = activations.arrays(layer, table_copies(layer))
    return Weights("activation constants", arrays) if arrays else None


def reference(layer: Layer, ins: list) -> np.ndarray:
    """acc = accum_t(in0); acc += in1; ...: inputs summed in order, then the activation."""
    acc_t = C.fixed_types(layer)["accum"]
    (first, first_t), rest = ins[0], ins[1:]
    acc = requantize(first, first_t.fractional, acc_t)
    for codes, t in rest:
        acc = C.add(acc, acc_t, codes, t.fractional)
    return activations.activate(layer, acc, acc_t)


def cost(layer: Layer) -> Cost:
    """One step per pixel (a vector: one step), II 1."""
    lanes = pixel_lanes(layer.out_shape)
    steps = layer.out_size // lanes
    products = lanes * activations.products(layer)
    product_bits = activations.product_bits(layer)
    chain = hardware.chain(("read", 1), hardware.add_tree(len(layer.inputs)), activations.chain(layer), ("write", 1))
    acc_bits = hardware.bits(layer.precision["accum"])
    operators = (hardware.ops("sums", "add", acc_bits, (len(layer.inputs) - 1) * lanes)
                 + activations.operators(layer, lanes, acc_bits)
                 + hardware.conversion("result", layer.precision["result"], lanes))
    return Cost(ii=1, iterations=steps, chain=chain, multipliers=products or None,
                sharing="one per lane" if products else "none",
                memories=tuple(activations.table_memories(layer, table_copies(layer))), product_bits=product_bits,
                operators=operators, constants=activations.constant_products(layer, lanes))


def default_accum(layer: Layer, in_types: list, types: dict):
    """A type that holds the sum of the inputs exactly."""
    if any(t.is_float for t in in_types) or types["result"].is_float:
        return types["result"]
    return sum_type(in_types)


SAMPLES = {"Add": Sample(lambda L: L.Add(), [(6, 6, 2), (6, 6, 2)])}

KIND = LayerKind(
    samples=SAMPLES,
    stream_form=elementwise_stream,
    name="add", keras={"Add": _add}, multi_input=frozenset({"Add"}),
    roles=ROLES, templates=("add", "add_stream"), template=template, view=view, weights=weights,
    reference=reference, cost=cost, default_accum=default_accum, activations=SCALAR_ACTIVATIONS)
