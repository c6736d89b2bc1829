"""conv2d: Conv2D, DepthwiseConv2D (a conv whose kernel is zero between channels) and the two
halves of a SeparableConv2D, and the stride-1 conv of a Conv2DTranspose. Only nonzero weights
are multiplied, in one of four strategies, a module each, chosen from STRATEGIES:

    unrolled.py   every filter's taps written out with constant offsets
    pattern.py    one processing element per IKR pattern, serving the kernels that use it
    pe.py         one PE design for every kernel: `keep` multipliers behind pattern
                  multiplexers, a ROM of R kernels each
    resource.py   multiply-accumulate lanes over R cycles, weights in ROMs of depth R: the
                  multipliers, adders and code shrink with R (large layers)

or, asked for by name only (ASKED, never auto's choice), none is: da.py writes the per-pixel
constant matrix as da4ml's graph of shifts and adders (ikr_hls/da/).

frontend.py reads the Keras layers; common.py holds what the strategies share (facts, window,
the view, arrays, reference and cost around the products, the report)."""
from __future__ import annotations

import dataclasses

import numpy as np

from ... import activations, hardware
from ... import codes as C
from ...constants import array, literal
from ...ir import Layer
from ...patterns import patterns_from_kernel
from ...precision import requantize, to_codes
from ..base import SCALAR_ACTIVATIONS, Cost, LayerKind, View, Weights
from . import common, da, pattern, pe, resource, unrolled
from .common import ConvAttributes, ConvFacts, ConvStrategy, conv_attributes, layer_kernel, window
from .frontend import KERAS, SAMPLES, keras_tensor

ROLES = ("weight", "bias", "accum", "result")
STRATEGIES: dict[str, ConvStrategy] = {s.name: s for s in (unrolled.STRATEGY, pattern.STRATEGY, pe.STRATEGY,
                                                                resource.STRATEGY)}
ASKED: dict[str, ConvStrategy] = {da.STRATEGY.name: da.STRATEGY}
FORMS = {**STRATEGIES, **ASKED}


def strategy_of(layer: Layer) -> ConvStrategy:
    return FORMS[layer.settled.strategy]


def derive(layer: Layer) -> ConvFacts:
    """What the weights decide (passes.derive_facts): the common facts and the strategy's own."""
    kernel = layer.weights["kernel"]                         # (KH, KW, CI, CO)
    strategy = strategy_of(layer)
    groups = common.support_groups(kernel)
    facts = ConvFacts(int(np.count_nonzero(kernel)), groups, patterns_from_kernel(layer_kernel(layer)),
                      strategy.cycles(layer.settled.reuse_factor), None, kernel)
    return dataclasses.replace(facts, form=strategy.derive(layer, facts))


def derive_again(layer: Layer, earlier: ConvFacts) -> ConvFacts:
    """derive at the layer's settings, from its facts at other settings: the nonzeros, support
    groups, pattern libraries and filter taps depend only on the kernel, and are kept."""
    strategy = strategy_of(layer)
    facts = _keeping_cached(earlier, cycles=strategy.cycles(layer.settled.reuse_factor), form=None)
    return _keeping_cached(facts, form=strategy.derive(layer, facts))


def _keeping_cached(facts: ConvFacts, **changes) -> ConvFacts:
    """dataclasses.replace, with the cached properties already computed (they depend on the
    kernel only)."""
    out = dataclasses.replace(facts, **changes)
    fields = {f.name for f in dataclasses.fields(facts)}
    vars(out).update({k: v for k, v in vars(facts).items() if k not in fields})
    return out


def template(layer: Layer) -> str:
    return strategy_of(layer).template


def view(layer: Layer) -> View:
    return strategy_of(layer).view(layer)


def weights(layer: Layer) -> Weights:
    """The strategy's weight arrays, then the bias and the activation's tables."""
    description, arrays = strategy_of(layer).arrays(layer)
    bias = array(f"{layer.name}_b", f"{layer.name}_bias_t", layer.weights["bias"], "bias per filter",
                 literal(layer, "bias"))
    return Weights(description, arrays + [bias] + activations.arrays(layer, common.table_copies(layer)))


def reference(layer: Layer, ins: list) -> np.ndarray:
    """Every output pixel's window as a row of taps, the biases in the accumulators, then the
    products added in the order the strategy's code adds them, then the activation."""
    (codes, in_t), = ins
    a = conv_attributes(layer)
    p = C.fixed_types(layer)
    kernel = layer.weights["kernel"]
    kh, kw, c, f = kernel.shape
    n = codes.shape[0]
    padded = np.pad(codes, ((0, 0), (a.pad_top, a.pad_bottom), (a.pad_left, a.pad_right), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::a.sh, ::a.sw]
    oh, ow = layer.out_shape[:2]
    windows = windows[:, :oh, :ow].reshape(n, oh, ow, c * kh * kw)      # tap index = (ci*KH + kh)*KW + kw
    w_codes = to_codes(kernel, p["weight"]).transpose(2, 0, 1, 3).reshape(c * kh * kw, f)
    C.check_fits(in_t.width + p["weight"].width, "product")
    product_frac = in_t.fractional + p["weight"].fractional
    acc_t = p["accum"]
    acc = np.broadcast_to(requantize(to_codes(layer.weights["bias"], p["bias"]), p["bias"].fractional, acc_t),
                          (n, oh, ow, f)).copy()
    acc = strategy_of(layer).accumulate(layer, windows, w_codes, product_frac, acc, acc_t)
    return activations.activate(layer, acc, acc_t)


def cost(layer: Layer) -> Cost:
    in_bits = hardware.bits(layer.input_types[0]) if layer.input_types else 0
    own = strategy_of(layer).cost(layer, in_bits, hardware.bits(layer.precision["weight"]))
    return common.cost(layer, own)


KIND = LayerKind(
    name="conv2d", keras=KERAS, samples=SAMPLES, attributes=ConvAttributes,
    roles=ROLES, templates=tuple(t for s in FORMS.values() for t in (s.template, s.template + "_stream")),
    template=template, view=view,
    weights=weights, reference=reference, cost=cost, report=common.report, values=common.values,
    default_accum=common.default_accum, derive=derive, derive_again=derive_again, reuses=True,
    strategies=tuple(STRATEGIES), asked_strategies=tuple(ASKED),
    activations=SCALAR_ACTIVATIONS, folds_scale_shift=True, takes_padding=True,
    loop_nest=lambda layer: window(layer).nest(), keras_tensor=keras_tensor)
