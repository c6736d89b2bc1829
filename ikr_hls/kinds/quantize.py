"""quantize: a quantization-aware model's quantizer as a step of its own (an HGQ2 layer's input
or output quantizer, ikr_hls/hgq/). Every element e of the tensor is assigned to its own
fixed-point format ap_fixed<K+I+F, K+I, round, overflow> (K: a sign bit or not, I: integer bits
without the sign, F: fractional bits, per element as HGQ2 trains them by default; a width
K+I+F of 0 or less gives 0). The layer's result type holds every element's values exactly.

The code applies each element's format with constant tables indexed by the element (the loop
variable and the lane, never a running counter): a rounding constant, a mask of the bits the
element keeps, and an offset (WRAP) or bounds (SAT, SAT_SYM), all of the work type `accum`
(cpp/ikr_quantize.h). Tables that are the same at every step become per-lane constants (a
per-channel quantizer); a quantizer whose elements all share one format has no table: its
`accum` type is that format and one assignment applies it. The numpy reference rounds and
overflows each element into its own type (precision.requantize), independently of the tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .. import codes as C
from .. import hardware
from ..attributes import Attributes, attributes_of
from ..constants import array, literal
from ..errors import IKRHLSError
from ..ir import Layer
from ..precision import FixedType, parse_fixed, requantize, signed_integer
from .base import Cost, LayerKind, View, Weights, elementwise_stream, pixel_lanes

ROLES = ("accum", "result")
ROUND_MODES = {"TRN": "AP_TRN", "RND": "AP_RND", "RND_CONV": "AP_RND_CONV"}     # HGQ2's -> ap_fixed's
OVERFLOW_MODES = {"WRAP": "AP_WRAP", "SAT": "AP_SAT", "SAT_SYM": "AP_SAT_SYM"}


RoundMode = Literal["TRN", "RND", "RND_CONV"]
OverflowMode = Literal["WRAP", "SAT", "SAT_SYM"]


@dataclass(frozen=True)
class QuantizeAttributes(Attributes):
    """The quantizer's modes (the same for every element) and what it quantizes."""
    round: RoundMode
    overflow: OverflowMode
    what: str                                  # "input of conv1", for comments and reports
    source: str = ""                           # the Keras layer whose quantizer it is
    quantizer: str = ""                        # which: "iq", "iq0" (a merge's first input), "oq"

    keras_class = "Quantizer"                  # a config's LayerType entry for every quantize step


def _attributes(layer: Layer) -> QuantizeAttributes:
    return attributes_of(layer, QuantizeAttributes)


def quantize_layer(source: str, quantizer: str, shape: tuple, k, i, f, round_mode: RoundMode,
                   overflow: OverflowMode, what: str) -> Layer:
    """A quantize layer over a tensor of `shape` for quantizer `quantizer` of Keras layer
    `source` (named '<source>/<quantizer>'): k, i, f broadcast to the shape (HGQ2's
    keep_negative, integer and fractional bits of each element)."""
    k, i, f = (np.broadcast_to(np.asarray(a, dtype=np.float64), shape).copy() for a in (k, i, f))
    return Layer(name="", kind="quantize", keras_name=f"{source}/{quantizer}", in_shape=tuple(shape),
                 out_shape=tuple(shape), weights=dict(k=k, i=i, f=f),
                 attrs=QuantizeAttributes(round=round_mode, overflow=overflow, what=what, source=source,
                                          quantizer=quantizer))


@dataclass(frozen=True)
class Formats:
    """Each element's format, flattened in buffer order: k (0/1), i, f, and its width k+i+f
    (0 for an element that is always 0)."""
    k: np.ndarray
    i: np.ndarray
    f: np.ndarray

    @property
    def width(self) -> np.ndarray:
        return np.maximum(self.k + self.i + self.f, 0)

    @property
    def uniform(self) -> bool:
        """Every element has the same format: one type, no table."""
        return bool(all(np.all(a == a[0]) for a in (self.k, self.i, self.f)))

    def groups(self) -> list:
        """[(k, i, f), element indices] of each distinct format."""
        table = np.stack([self.k, self.i, self.f], axis=1)
        formats, inverse = np.unique(table, axis=0, return_inverse=True)
        return [(tuple(int(v) for v in fmt), np.flatnonzero(inverse.reshape(-1) == n))
                for n, fmt in enumerate(formats)]


def derive(layer: Layer) -> Formats:
    k, i, f = (np.rint(layer.weights[n]).astype(np.int64).reshape(-1) for n in ("k", "i", "f"))
    return Formats(k=k, i=i, f=f)


def element_type(k: int, i: int, f: int, round_mode: str, overflow: str) -> FixedType | None:
    """The ap_fixed type of one element's format, None when its width is 0 or less (always 0)."""
    if k + i + f <= 0:
        return None
    return FixedType(bool(k), k + i + f, k + i, ROUND_MODES[round_mode], OVERFLOW_MODES[overflow])


def container(layer_or_formats, round_mode: str = "RND", overflow: str = "WRAP") -> FixedType:
    """The narrowest type that holds every element's values exactly: the layer's result type.
    A single format is its own container (with its modes, so that one assignment applies it)."""
    formats = layer_or_formats if isinstance(layer_or_formats, Formats) else layer_or_formats.facts
    live = formats.width > 0
    if not live.any():
        return parse_fixed("ap_ufixed<1,1>")
    if formats.uniform:
        found = element_type(int(formats.k[0]), int(formats.i[0]), int(formats.f[0]), round_mode, overflow)
        assert found is not None
        return found
    signed = bool(formats.k[live].any())
    frac = int(formats.f[live].max())
    integer = int((formats.i[live] + (1 if signed else 0)).max())       # the sign bit for every element
    width = max(integer + frac, 1)
    return FixedType(signed, width, integer)


def template(layer: Layer) -> str:
    return "quantize"


def _form(layer: Layer) -> str:
    """"zero" (every element is always 0), "plain" (one format: an assignment), "lanes"
    (per-lane constants) or "elements" (ROMs indexed by the element)."""
    if not (layer.facts.width > 0).any():
        return "zero"
    if layer.facts.uniform:
        return "plain"
    steps, lanes = _grid(layer)
    values = np.stack([layer.facts.k, layer.facts.i, layer.facts.f]).reshape(3, steps, lanes)
    return "lanes" if np.all(values == values[:, :1, :]) else "elements"


def _grid(layer: Layer) -> tuple:
    """(steps, lanes): the elements a step handles (a pixel, a vector, or a stream element)."""
    lanes = layer.stream.in_widths[0] if layer.stream is not None else pixel_lanes(layer.in_shape)
    return layer.in_size // lanes, lanes


# --- the tables -------------------------------------------------------------------------------

def _work(layer: Layer) -> FixedType:
    t = layer.precision["accum"]
    if not isinstance(t, FixedType):
        raise IKRHLSError(f"layer {layer.keras_name}: a quantize step needs fixed-point types, got {t.cpp} "
                          "(convert the quantization-aware model without precision=, or with ap_fixed types)")
    return t


def _tables(layer: Layer) -> dict:
    """{name: values per element} of the per-element constants (work type values)."""
    a, fm = _attributes(layer), layer.facts
    in_frac = layer.input_types[0].fractional
    live = fm.width > 0
    lsb = 2.0 ** -np.minimum(fm.f, in_frac)                 # the lowest bit an element keeps (in the work type)
    drops = live & (fm.f < in_frac)                          # elements whose value is rounded
    half = np.where(drops, 2.0 ** -(fm.f + 1.0), 0.0)
    step = 2.0 ** -in_frac
    rounding = {"TRN": np.zeros(len(fm.f)), "RND": half,
                "RND_CONV": np.where(drops, half - step, 0.0)}[a.round]
    out: dict = {}
    if a.overflow == "WRAP":
        offset = np.where(live, fm.k * 2.0 ** fm.i, 0.0)
        out["add"] = rounding + offset
        out["mask"] = np.where(live, 2.0 ** (fm.i + fm.k) - lsb, 0.0)
        out["offset"] = offset
    else:
        top = 2.0 ** fm.i - 2.0 ** -fm.f
        bottom = -fm.k * 2.0 ** fm.i if a.overflow == "SAT" else -fm.k * top
        out["add"] = rounding
        out["mask"] = np.where(live, -lsb, 0.0)
        out["lo"] = np.where(live, bottom, 0.0)
        out["hi"] = np.where(live, top, 0.0)
    if a.round == "RND_CONV":
        out["lsb"] = np.where(drops, 2.0 ** -fm.f, 0.0)
    return out


def _laid_out(layer: Layer, values: np.ndarray) -> np.ndarray:
    """A table as the code holds it: every element, or one value per lane ("lanes" form)."""
    steps, lanes = _grid(layer)
    return values.reshape(steps, lanes)[0] if _form(layer) == "lanes" else values


@dataclass(frozen=True, kw_only=True)
class QuantizeView(View):
    """quantize.h.j2: n values, `lanes` a step, each quantized by its element's constants."""
    n: int
    lanes: int
    form: str                 # plain, lanes or elements
    overflow: str
    tie: bool                 # RND_CONV: ties to even
    work_bits: int
    tie_step: str             # RND_CONV: one step of the input, a literal of the work type
    tables: list              # names of the constant tables (without the layer's prefix)
    partitions: list          # their ARRAY_PARTITION pragmas
    what: str


def view(layer: Layer) -> QuantizeView:
    a = _attributes(layer)
    form = _form(layer)
    steps, lanes = _grid(layer)
    names = list(_tables(layer)) if form in ("lanes", "elements") else []
    if form == "lanes":
        partitions = [f"#pragma HLS ARRAY_PARTITION variable={layer.name}_{t} complete" for t in names]
    elif form == "elements" and lanes > 1:
        partitions = [f"#pragma HLS ARRAY_PARTITION variable={layer.name}_{t} cyclic factor={lanes}" for t in names]
    else:
        partitions = []
    widths = layer.facts.width
    tie = a.round == "RND_CONV" and form in ("lanes", "elements")
    return QuantizeView(n=layer.in_size, lanes=lanes, form=form, overflow=a.overflow, tie=tie,
                        work_bits=hardware.bits(layer.precision["accum"]),
                        tie_step=literal(layer, "accum")(2.0 ** -layer.input_types[0].fractional) if tie else "",
                        tables=names, partitions=partitions,
                        what=a.what, keras_class="quantizer",
                        summary=f"quantizer of the {a.what}: {a.round}, {a.overflow}, {len(layer.facts.groups())} "
                                f"format(s), {float(widths.mean()):.2f} bits per value on average")


def weights(layer: Layer) -> Weights | None:
    form = _form(layer)
    if form not in ("lanes", "elements"):
        return None
    _work(layer)
    how = "one per lane (the same at every step)" if form == "lanes" else "one per element, in buffer order"
    return Weights(f"the per-element formats of the {_attributes(layer).what}", [
        array(f"{layer.name}_{name}", f"{layer.name}_accum_t", _laid_out(layer, values), f"{name}: {how}",
              literal(layer, "accum"))
        for name, values in _tables(layer).items()])


def reference(layer: Layer, ins: list) -> np.ndarray:
    """Each element rounded and overflowed into its own type, then into the result type."""
    (codes, in_t), = ins
    a = _attributes(layer)
    out_t = C.fixed_types(layer)["result"]
    flat = codes.reshape(len(codes), -1)
    out = np.zeros_like(flat)
    for (k, i, f), index in layer.facts.groups():
        t = element_type(k, i, f, a.round, a.overflow)
        if t is not None:
            out[:, index] = requantize(requantize(flat[:, index], in_t.fractional, t), t.fractional, out_t)
    return out.reshape(codes.shape)


def cost(layer: Layer) -> Cost:
    """One step per pixel (or stream element) at II 1: per lane an adder (rounding), the kept
    bits, an offset subtraction (WRAP) or two comparisons (SAT); per-element constants are
    ROMs, one per lane, read once a step per table."""
    form = _form(layer)
    steps, lanes = _grid(layer)
    a = _attributes(layer)
    memories = []
    if form == "elements":
        bits = hardware.bits(layer.precision["accum"])
        memories = [hardware.Memory(f"{layer.name}_{name}", "ROM", lanes, steps, bits) for name in _tables(layer)]
    if form in ("zero", "plain"):
        chain = hardware.chain(("read", 1), ("add", 1 if form == "plain" else 0), ("write", 1))
    else:
        tie = ("add", 1) if a.round == "RND_CONV" else ("add", 0)
        last = ("add", 1) if a.overflow == "WRAP" else ("compare", 2)
        chain = hardware.chain(("read", 1), ("table", 1 if form == "elements" else 0), tie, ("add", 1), last,
                               ("write", 1))
    operators: tuple = ()
    if form not in ("zero", "plain"):                # ikr_quantize.h, per lane
        bits = hardware.bits(layer.precision["accum"])
        adds = 1 + (a.round == "RND_CONV") + (a.overflow == "WRAP")    # (the tie,) the rounding, the offset
        operators = hardware.ops("rounding and offset", "add", bits, lanes * adds) + (
            hardware.ops("saturation bounds", "compare", bits, lanes * 2) if a.overflow != "WRAP" else ())
    return Cost(ii=1, iterations=steps, chain=chain, memories=tuple(memories), operators=operators)


def default_accum(layer: Layer, in_types: list, types: dict):
    """The work type: the one format (plain), or the input's fractional bits and room for the
    input plus any constant (two's complement)."""
    a = _attributes(layer)
    fm: Formats = layer.facts
    if fm.uniform:
        return container(fm, a.round, a.overflow)
    in_t = in_types[0]
    if not isinstance(in_t, FixedType):
        return types["result"]
    live = fm.width > 0
    integer = max(signed_integer(in_t), int((fm.i[live] + fm.k[live]).max(initial=0)) + 1) + 2
    frac = in_t.fractional
    return FixedType(True, integer + frac, integer)


def report(layer: Layer) -> dict:
    return {"formats": len(layer.facts.groups()), "quantized": _attributes(layer).what}


def keras_tensor(layer: Layer, keras_model, keras):
    """Keras's tensor of the quantizer's output: the HGQ2 layer's quantizer applied to that
    layer's input (or, for its output quantizer, to what the layer computes before it)."""
    a = _attributes(layer)
    klayer = keras_model.get_layer(a.source)
    if a.quantizer == "oq":                    # HGQ2 applies it inside the layer: the layer's output
        return klayer.output
    if a.quantizer == "iq":
        return klayer.iq(klayer.input, training=False)
    position = int(a.quantizer[2:])
    return klayer.iq[position](klayer.input[position], training=False)


KIND = LayerKind(
    name="quantize", keras={}, attributes=QuantizeAttributes, stream_form=elementwise_stream,
    roles=ROLES, templates=("quantize", "quantize_stream"), template=template, view=view, weights=weights,
    reference=reference, cost=cost, default_accum=default_accum, derive=derive, report=report,
    keras_tensor=keras_tensor)
