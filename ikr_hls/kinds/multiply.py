"""multiply: a Multiply of two or more inputs of the same shape, value by value, or of an image by
a vector of its channels (a squeeze-and-excitation block's (1, 1, C) or (C,) scale), broadcast
over height and width. The inputs are multiplied in order in an accumulator that holds the exact
product, then the fused activation.

io_stream: same-shape inputs flow element by element, as an Add's. A broadcast reads the vector's
one element in its first step, keeps it in a register, and then reads a pixel of the image each
step: the image's stream must hold every pixel that arrives before the vector does, which in a
squeeze-and-excitation block is the whole image (its squeeze reads all of it first). The FIFO
depth model (stream_depths.py) sizes that copy from the loop nest, as every other fork's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import activations, hardware
from .. import codes as C
from ..activations import ActivationCall
from ..attributes import Attributes, attributes_of
from ..expr import TRUE, Var
from ..ir import Layer
from ..loops import LoopNest
from ..precision import parse_fixed, requantize, signed_integer, signed_width
from .base import SCALAR_ACTIVATIONS, Cost, LayerKind, Sample, View, Weights, pixel_lanes
from .keras_reading import unsupported

ROLES = ("accum", "result")
P = Var("p")


@dataclass(frozen=True)
class MultiplyAttributes(Attributes):
    """vector: the input that is a (1, 1, C) vector broadcast over the image, or None when every
    input has the layer's shape."""
    vector: int | None = None


def _attributes(layer: Layer) -> MultiplyAttributes:
    return attributes_of(layer, MultiplyAttributes)


def _multiply(klayer, shapes, source):
    shapes = [tuple(s) for s in shapes]
    if all(s == shapes[0] for s in shapes):
        return Layer(name="", kind="multiply", keras_name=klayer.name, in_shape=shapes[0], out_shape=shapes[0],
                     attrs=MultiplyAttributes())
    if len(shapes) == 2:
        for vector in (0, 1):
            image, scale = shapes[1 - vector], shapes[vector]
            if len(image) == 3 and scale in ((1, 1, image[2]), (image[2],)):
                input_shapes = [image, image]
                input_shapes[vector] = (1, 1, image[2])
                return Layer(name="", kind="multiply", keras_name=klayer.name, in_shape=image, out_shape=image,
                             input_shapes=input_shapes, attrs=MultiplyAttributes(vector=vector))
    raise unsupported(klayer, source, f"inputs of shapes {', '.join(map(str, shapes))} (supported: inputs of one "
                      "shape, or an (H, W, C) image and a (1, 1, C) or (C,) vector of its channels)")


def broadcast(layer: Layer) -> bool:
    return _attributes(layer).vector is not None


def template(layer: Layer) -> str:
    return "multiply"


def lanes(layer: Layer) -> int:
    """Values a step: a pixel (a broadcast, or same-shape images), or a whole vector."""
    return pixel_lanes(layer.out_shape)


def table_copies(layer: Layer) -> int:
    return hardware.table_copies(lanes(layer), 1)


@dataclass(frozen=True, kw_only=True)
class MultiplyView(View):
    """multiply.h.j2 and multiply_stream.h.j2: n values, lanes a step; `vector` the input that is
    broadcast (or None), its values indexed by the lane (channel)."""
    n: int
    n_inputs: int
    lanes: int
    pixels: int
    vector: int | None
    has_tables: bool
    table_pragmas: list
    act: ActivationCall
    binding: str              # where the products go (BIND_OP impl): "dsp", "fabric", "" (no pragma)


def view(layer: Layer) -> MultiplyView:
    vector = _attributes(layer).vector
    what = (f"an image by a vector of its {layer.out_shape[-1]} channels" if vector is not None
            else f"{len(layer.inputs)} inputs")
    return MultiplyView(n=layer.out_size, n_inputs=len(layer.inputs), lanes=lanes(layer),
                        pixels=layer.out_size // lanes(layer), vector=vector,
                        has_tables=bool(activations.arrays(layer)), table_pragmas=activations.partition_pragmas(layer),
                        act=activations.call_view(layer), binding=layer.plan_cost.binding or "",
                        keras_class="Multiply", summary=f"Multiply of {what}")


def weights(layer: Layer) -> Weights | None:
    arrays = activations.arrays(layer, table_copies(layer))
    return Weights("activation constants", arrays) if arrays else None


def reference(layer: Layer, ins: list) -> np.ndarray:
    """acc = accum_t(in0); acc = acc * in1; ...: the inputs multiplied in order (a vector
    broadcast over the image), then the activation."""
    acc_t = C.fixed_types(layer)["accum"]
    (first, first_t), rest = ins[0], ins[1:]
    shape = (len(first), *layer.out_shape)
    acc = np.broadcast_to(requantize(first, first_t.fractional, acc_t), shape)
    # bits the accumulator's codes take (at most): the first input's integer bits at the
    # accumulator's fraction (+1: rounding up), then each product's growth; the int64 check needs
    # only these, not the whole accumulator's width plus each input's
    held = min(acc_t.width, signed_integer(first_t) + acc_t.fractional + 1)
    for codes, t in rest:
        C.check_fits(held + signed_width(t), "product")
        acc = requantize(acc * codes, acc_t.fractional + t.fractional, acc_t)
        held = min(acc_t.width, held + signed_width(t) - t.fractional + 1)   # back at acc_t's fraction
    return activations.activate(layer, np.ascontiguousarray(acc), acc_t)


def loop_nest(layer: Layer) -> LoopNest:
    """A broadcast (io_stream): a step per pixel, each reading a pixel of the image; the first
    also reads the vector."""
    vector = _attributes(layer).vector
    reads = tuple(P.eq(0) if k == vector else TRUE for k in range(len(layer.inputs)))
    return LoopNest((("p", layer.out_shape[0] * layer.out_shape[1]),), input_reads=reads)


def stream_form(layer: Layer) -> str:
    """Same shapes: element by element, as an Add; a broadcast: pixel by pixel (loop_nest)."""
    return "pixel" if broadcast(layer) else "elementwise"


def cost(layer: Layer) -> Cost:
    """One step per pixel (a vector: one step), II 1: n - 1 products per value in sequence, and
    the activation's; io_stream, a broadcast: the vector kept in a register."""
    n = lanes(layer)
    steps = layer.out_size // n
    products = n * (len(layer.inputs) - 1 + activations.products(layer))
    registers = 0
    vector = _attributes(layer).vector
    if vector is not None and layer.stream is not None and layer.input_types:
        registers = layer.out_shape[-1] * hardware.bits(layer.input_types[vector])
    bits = (hardware.bits(layer.input_types[1]), hardware.bits(layer.input_types[0])) if layer.input_types else (0, 0)
    chain = hardware.chain(("read", 1), ("multiply", len(layer.inputs) - 1), activations.chain(layer), ("write", 1))
    operators: tuple = ()
    if "accum" in layer.precision:
        acc_bits = hardware.bits(layer.precision["accum"])
        operators = (activations.operators(layer, n, acc_bits)
                     + hardware.conversion("result", layer.precision["result"], n))
    if registers:                                    # the vector is read in the first step only
        operators += hardware.control("vector read condition", 1, hardware.counter_bits(steps))
    return Cost(ii=1, iterations=steps, chain=chain, multipliers=products, sharing="one per product",
                registers_bits=registers, memories=tuple(activations.table_memories(layer, table_copies(layer))),
                product_bits=bits, operators=operators)


def default_accum(layer: Layer, in_types: list, types: dict):
    """A type that holds the product of the inputs exactly."""
    if any(t.is_float for t in in_types) or types["result"].is_float:
        return types["result"]
    width = sum(signed_width(t) for t in in_types)
    integer = sum(signed_integer(t) for t in in_types)
    return parse_fixed(f"ap_fixed<{width},{integer}>")


SAMPLES = {"Multiply": Sample(lambda L: L.Multiply(), [(6, 6, 2), (6, 6, 2)])}

KIND = LayerKind(
    name="multiply", keras={"Multiply": _multiply}, multi_input=frozenset({"Multiply"}),
    attributes=MultiplyAttributes, samples=SAMPLES, stream_form=stream_form, loop_nest=loop_nest,
    roles=ROLES, templates=("multiply", "multiply_stream"), template=template, view=view, weights=weights,
    reference=reference, cost=cost, default_accum=default_accum, activations=SCALAR_ACTIVATIONS)
