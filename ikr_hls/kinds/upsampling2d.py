"""upsampling2d: UpSampling2D with interpolation "nearest" and integer factors (SH, SW):
each input pixel is written SH x SW times. io_parallel reads it from the input buffer each
time; io_stream reads it once from its stream, holds it in a register for the SW columns and
in a line buffer of one input row for the SH - 1 rows that repeat it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import codes as C
from .. import hardware
from ..attributes import Attributes, attributes_of, positive
from ..expr import Expr, Var, all_of
from ..ir import Layer
from ..loops import LoopNest
from ..precision import requantize
from .base import Cost, LayerKind, Sample, View, no_accumulator, pixel_steps_cost
from .keras_reading import check_channels_last, image_shape, unsupported

ROLES = ("result",)


@dataclass(frozen=True)
class UpSamplingAttributes(Attributes):
    """How many times each input pixel repeats: rows and columns."""
    sh: int
    sw: int

    def check(self) -> None:
        positive(self, "sh", "sw")


def _attributes(layer: Layer) -> UpSamplingAttributes:
    return attributes_of(layer, UpSamplingAttributes)


def _upsampling2d(klayer, shape, source):
    h, w, c = image_shape(klayer, shape, source)
    check_channels_last(klayer, source)
    if klayer.interpolation != "nearest":
        raise unsupported(klayer, source, f"interpolation='{klayer.interpolation}' (only nearest)")
    sh, sw = (int(s) for s in klayer.size)
    return Layer(name="", kind="upsampling2d", keras_name=klayer.name, in_shape=(h, w, c),
                 out_shape=(h * sh, w * sw, c), attrs=UpSamplingAttributes(sh=sh, sw=sw))


def template(layer: Layer) -> str:
    return "upsampling2d"


def _first(layer: Layer) -> Expr:
    """The step writes the first of an input pixel's SH x SW copies: it reads the pixel."""
    sh, sw = _attributes(layer).sh, _attributes(layer).sw
    return all_of(Var("ry").eq(0) if sh > 1 else None, Var("rx").eq(0) if sw > 1 else None)


@dataclass(frozen=True, kw_only=True)
class UpSamplingView(View):
    """upsampling2d.h.j2: each input pixel written sh x sw times."""
    h: int
    w: int
    c: int
    oh: int
    ow: int
    sh: int
    sw: int
    first: Expr


def view(layer: Layer) -> UpSamplingView:
    h, w, c = layer.in_shape
    oh, ow = layer.out_shape[:2]
    sh, sw = _attributes(layer).sh, _attributes(layer).sw
    return UpSamplingView(h=h, w=w, c=c, oh=oh, ow=ow, sh=sh, sw=sw,
                # io_stream: the steps that read a new input pixel (the first of its SH x SW copies)
                first=_first(layer), keras_class="UpSampling2D", summary=f"UpSampling2D {sh}x{sw}")


def loop_nest(layer: Layer) -> LoopNest:
    """One step per output pixel in raster order (loops: input row, its copy, input column, its
    copy); the first copy of each input pixel reads it, every step writes."""
    h, w, _ = layer.in_shape
    sh, sw = _attributes(layer).sh, _attributes(layer).sw
    loops = (("iy", h),) + ((("ry", sh),) if sh > 1 else ()) + (("ix", w),) + ((("rx", sw),) if sw > 1 else ())
    return LoopNest(loops, reads=_first(layer))


def reference(layer: Layer, ins: list) -> np.ndarray:
    (codes, in_t), = ins
    a = _attributes(layer)
    repeated = np.repeat(np.repeat(codes, a.sh, axis=1), a.sw, axis=2)
    return requantize(repeated, in_t.fractional, C.fixed_types(layer)["result"])


def cost(layer: Layer) -> Cost:
    """One output pixel per step at II 1, no multipliers. io_stream: a register of one input
    pixel (SW > 1) and a line buffer of one input row, one RAM per channel of W words (SH > 1),
    written by the first copy of each row and read by the others."""
    h, w, c = layer.in_shape
    registers, memories = 0, []
    if layer.stream is not None:
        in_bits = hardware.bits(layer.input_types[0]) if layer.input_types else 0
        registers = c * in_bits if _attributes(layer).sw > 1 else 0
        if _attributes(layer).sh > 1:
            memories.append(hardware.Memory("line buffer", "RAM", c, w, in_bits))
    # io_stream: the first copy of an input pixel reads it; each value chooses the held pixel
    # (rx != 0) or the line (ry != 0) by the copy it is
    a = _attributes(layer)
    decodes = c * ((a.sw > 1) + (a.sh > 1)) + hardware.comparisons(view(layer).first) if layer.stream is not None \
        else 0
    operators = hardware.control("copy decodes", decodes, hardware.counter_bits(max(a.sh, a.sw)))
    return pixel_steps_cost(layer, registers_bits=registers, memories=tuple(memories), operators=operators)



SAMPLES = {"UpSampling2D": Sample(lambda L: L.UpSampling2D(2), (6, 6, 2))}

KIND = LayerKind(
    samples=SAMPLES,
    name="upsampling2d", attributes=UpSamplingAttributes, keras={"UpSampling2D": _upsampling2d},
    roles=ROLES, templates=("upsampling2d", "upsampling2d_stream"), template=template, view=view,
    reference=reference, cost=cost, default_accum=no_accumulator, loop_nest=loop_nest)
