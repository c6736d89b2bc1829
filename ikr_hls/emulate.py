"""A numpy reference of the generated fixed-point hardware, bit for bit.

Every buffer is an array of int64 codes of its ap_fixed type (value = code * 2**-fractional).
Each step rounds and overflows where the C++ assigns to a typed variable, in the same order:
a conv or dense accumulator is updated one product at a time, in the order the generated code
writes them (so even a narrow, rounding accumulator matches). Lookup tables come from
tables.py, as in the generated code.
"""
from __future__ import annotations

import numpy as np

from . import tables
from .errors import IKRHLSError
from .ir import INPUT, Graph, Layer
from .precision import requantize, to_codes

_INT64_BITS = 62


def emulate(graph: Graph, x) -> np.ndarray:
    """(N, *input_shape) floats -> (N, *output_shape) floats, as the fixed-point C++ computes."""
    codes, t = _run(graph, x, trace=None)
    return codes * 2.0 ** -t.fractional


def emulate_trace(graph: Graph, x) -> dict:
    """{layer name: output values} of every layer, as the fixed-point C++ computes them."""
    out: dict = {}
    _run(graph, x, trace=out)
    return out


def _run(graph: Graph, x, trace):
    if graph.input_precision.is_float:
        raise IKRHLSError("emulate: the model uses floating-point types; the numpy reference is for "
                          "fixed point (compare float projects with Keras)")
    x = np.asarray(x, dtype=np.float64)
    buffers = {INPUT: (to_codes(x, graph.input_precision), graph.input_precision)}
    for layer in graph.layers:
        ins = [(codes.reshape(len(codes), *layer.in_shape), t)
               for codes, t in (buffers[name] for name in layer.inputs)]
        if layer.kind == "add":
            codes = _add_layer(layer, ins)
        else:
            codes = _LAYERS[layer.kind](layer, *ins[0])
        t = layer.precision["result"]
        buffers[layer.name] = (codes, t)
        if trace is not None:
            trace[layer.name] = codes * 2.0 ** -t.fractional
    codes, t = buffers[graph.layers[-1].name]
    return codes.reshape(len(codes), *graph.output_shape), t


# --- arithmetic helpers --------------------------------------------------------------------

def _add(acc, acc_t, term, term_frac, mask=None):
    """acc_t(acc + term): the full-precision sum, then rounded and overflowed into acc_t."""
    frac = max(acc_t.fractional, term_frac)
    _check_fits(acc_t.width + frac - acc_t.fractional, "accumulator")
    total = (acc << (frac - acc_t.fractional)) + (term << (frac - term_frac))
    new = requantize(total, frac, acc_t)
    return new if mask is None else np.where(mask, new, acc)


def _check_fits(bits, what):
    if bits > _INT64_BITS:
        raise IKRHLSError(f"emulate: a {what} needs {bits} bits, more than the int64 reference holds")


def _activate(layer, acc, acc_t):
    """The fused scalar activation on the accumulator, then the result type."""
    if layer.activation == "relu":
        acc = np.maximum(acc, 0)
    elif layer.activation == "relu6":
        six = 6 << acc_t.fractional                   # a Python int: never overflows
        acc = np.maximum(acc, 0)
        if six <= np.iinfo(np.int64).max:
            acc = np.minimum(acc, six)
    elif layer.activation == "leaky_relu":
        return _leaky_relu(layer, acc, acc_t)
    elif layer.activation == "softmax":
        return _softmax(layer, acc, acc_t)
    elif layer.activation in ("sigmoid", "tanh"):
        return _table_activation(layer, acc, acc_t)
    elif layer.activation != "linear":
        raise IKRHLSError(f"emulate: activation '{layer.activation}' has no fixed-point version")
    return requantize(acc, acc_t.fractional, layer.precision["result"])


def _leaky_relu(layer, acc, acc_t):
    """ikr::leaky_relu: result_t(x) for x >= 0, else result_t(x * alpha) (exact product)."""
    result_t, alpha_t = layer.precision["result"], layer.precision["alpha"]
    alpha = to_codes(np.array(layer.attrs["alpha"]), alpha_t)
    _check_fits(acc_t.width + alpha_t.width, "product")
    negative = requantize(acc * alpha, acc_t.fractional + alpha_t.fractional, result_t)
    return np.where(acc >= 0, requantize(acc, acc_t.fractional, result_t), negative)


def _ordered_terms(kernel_2d, orders):
    """Per output, its (input, weight) terms in the generated code's order, as step arrays
    (steps, outputs) plus a mask; kernel_2d is (inputs, outputs)."""
    steps = max((len(o) for o in orders), default=0)
    n_out = kernel_2d.shape[1]
    index = np.zeros((steps, n_out), dtype=np.int64)
    mask = np.zeros((steps, n_out), dtype=bool)
    for j, order in enumerate(orders):
        index[:len(order), j] = order
        mask[:len(order), j] = True
    return index, mask


# --- layers ----------------------------------------------------------------------------------

def _conv2d(layer: Layer, codes, in_t):
    a = layer.attrs
    p = layer.precision
    kernel = layer.weights["kernel"]
    kh, kw, c, f = kernel.shape
    n = codes.shape[0]
    padded = np.pad(codes, ((0, 0), (a["pad_top"], a["pad_bottom"]), (a["pad_left"], a["pad_right"]), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::a["sh"], ::a["sw"]]
    oh, ow = layer.out_shape[:2]
    windows = windows[:, :oh, :ow].reshape(n, oh, ow, c * kh * kw)      # tap index = (ci*KH + kh)*KW + kw
    w_codes = to_codes(kernel, p["weight"]).transpose(2, 0, 1, 3).reshape(c * kh * kw, f)
    index, mask = _ordered_terms(w_codes, _conv_orders(layer))
    _check_fits(in_t.width + p["weight"].width, "product")
    acc_t = p["accum"]
    acc = np.broadcast_to(requantize(to_codes(layer.weights["bias"], p["bias"]), p["bias"].fractional, acc_t),
                          (n, oh, ow, f)).copy()
    cols = np.arange(f)
    for step in range(index.shape[0]):
        taps = index[step]
        product = windows[..., taps] * w_codes[taps, cols]
        acc = _add(acc, acc_t, product, in_t.fractional + p["weight"].fractional, mask[step])
    return _activate(layer, acc, acc_t)


def _conv_orders(layer: Layer) -> list:
    """For each filter, its nonzero taps (as (ci*KH + kh)*KW + kw) in the generated order."""
    kernel = layer.weights["kernel"]
    kh, kw, c, f = kernel.shape
    orders = [[] for _ in range(f)]
    if layer.attrs["strategy"] == "pattern":        # PE by PE, kernel by kernel, tap by tap
        for group in layer.attrs["support_groups"]:
            for ci, co in group["kernels"]:
                orders[co].extend(ci * kh * kw + pos for pos in group["positions"])
    else:                                           # filter by filter: input channel, row, column
        for co in range(f):
            orders[co] = [(ci * kh + i) * kw + j for ci in range(c) for i in range(kh) for j in range(kw)
                          if kernel[i, j, ci, co] != 0]
    return orders


def _dense(layer: Layer, codes, in_t):
    p = layer.precision
    kernel = layer.weights["kernel"]
    w_codes = to_codes(kernel, p["weight"])
    orders = [np.flatnonzero(kernel[:, j]) for j in range(kernel.shape[1])]   # inputs ascending
    index, mask = _ordered_terms(w_codes, orders)
    _check_fits(in_t.width + p["weight"].width, "product")
    acc_t = p["accum"]
    n_out = kernel.shape[1]
    acc = np.broadcast_to(requantize(to_codes(layer.weights["bias"], p["bias"]), p["bias"].fractional, acc_t),
                          (codes.shape[0], n_out)).copy()
    cols = np.arange(n_out)
    for step in range(index.shape[0]):
        rows = index[step]
        product = codes[:, rows] * w_codes[rows, cols]
        acc = _add(acc, acc_t, product, in_t.fractional + p["weight"].fractional, mask[step])
    return _activate(layer, acc, acc_t)


def _scale_shift(layer: Layer, codes, in_t):
    p = layer.precision
    scale = to_codes(layer.weights["scale"], p["weight"])
    shift = to_codes(layer.weights["shift"], p["bias"])
    frac = max(in_t.fractional + p["weight"].fractional, p["bias"].fractional)
    _check_fits(in_t.width + p["weight"].width + frac - in_t.fractional - p["weight"].fractional, "product")
    total = ((codes * scale) << (frac - in_t.fractional - p["weight"].fractional)) + (shift << (frac - p["bias"].fractional))
    acc = requantize(total, frac, p["accum"])
    return _activate(layer, acc, p["accum"])


def _pool2d(layer: Layer, codes, in_t):
    a = layer.attrs
    p = layer.precision
    n, h, w, c = codes.shape
    oh, ow = layer.out_shape[:2]
    ys = np.arange(oh)[:, None] * a["sh"] - a["pad_top"]
    xs = np.arange(ow)[None, :] * a["sw"] - a["pad_left"]
    if a["op"] == "max":
        best = None
        for i in range(a["ph"]):
            for j in range(a["pw"]):
                y, x = ys + i, xs + j
                valid = ((y >= 0) & (y < h) & (x >= 0) & (x < w))[None, :, :, None]
                v = codes[:, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]
                v = np.where(valid, v, np.iinfo(np.int64).min)
                best = v if best is None else np.maximum(best, v)
        return requantize(best, in_t.fractional, p["result"])
    acc_t = p["accum"]
    total = np.zeros((n, oh, ow, c), dtype=np.int64)
    count = np.zeros((oh, ow), dtype=np.int64)
    for i in range(a["ph"]):
        for j in range(a["pw"]):
            y, x = ys + i, xs + j
            valid = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            v = codes[:, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]
            total = _add(total, acc_t, v, in_t.fractional, valid[None, :, :, None])
            count += valid
    recip_t = p["recip"]
    recip = to_codes(tables.recip_table(layer), recip_t)[count][None, :, :, None]
    _check_fits(acc_t.width + recip_t.width, "product")
    return requantize(total * recip, acc_t.fractional + recip_t.fractional, p["result"])


def _global_pool2d(layer: Layer, codes, in_t):
    """ikr::global_*_pool2d: pixel by pixel per channel; an average multiplies the sum by 1/(H*W)."""
    p = layer.precision
    n, h, w, c = codes.shape
    pixels = codes.reshape(n, h * w, c)
    if layer.attrs["op"] == "max":
        return requantize(pixels.max(axis=1), in_t.fractional, p["result"])
    acc_t, recip_t = p["accum"], p["recip"]
    total = np.zeros((n, c), dtype=np.int64)
    for i in range(h * w):
        total = _add(total, acc_t, pixels[:, i], in_t.fractional)
    recip = to_codes(np.array(1.0 / (h * w)), recip_t)
    _check_fits(acc_t.width + recip_t.width, "product")
    return requantize(total * recip, acc_t.fractional + recip_t.fractional, p["result"])


def _pad2d(layer: Layer, codes, in_t):
    a = layer.attrs
    padded = np.pad(codes, ((0, 0), (a["pad_top"], a["pad_bottom"]), (a["pad_left"], a["pad_right"]), (0, 0)))
    return requantize(padded, in_t.fractional, layer.precision["result"])


def _add_layer(layer: Layer, ins):
    """acc = accum_t(in0); acc += in1; ...: inputs summed in order, then the activation."""
    acc_t = layer.precision["accum"]
    (first, first_t), rest = ins[0], ins[1:]
    acc = requantize(first, first_t.fractional, acc_t)
    for codes, t in rest:
        acc = _add(acc, acc_t, codes, t.fractional)
    return _activate(layer, acc, acc_t)


def _activation(layer: Layer, codes, in_t):
    if layer.activation == "softmax":
        return _softmax(layer, codes, in_t)
    acc_t = layer.precision["accum"]
    return _activate(layer, requantize(codes, in_t.fractional, acc_t), acc_t)


def _softmax(layer: Layer, codes, in_t):
    p = layer.precision
    size = layer.attrs["table_size"]
    diff_t, sum_t = p["diff"], p["exp_sum"]
    d = requantize(codes.max(axis=-1, keepdims=True) - codes, in_t.fractional, diff_t)
    e = to_codes(tables.exp_table(layer), p["exp_table"])[_floor_index(d, diff_t, tables.exp_shift(layer), size)]
    total = np.zeros(codes.shape[:-1], dtype=np.int64)
    for i in range(codes.shape[-1]):
        total = _add(total, sum_t, e[..., i], p["exp_table"].fractional)
    inv_index = _floor_index(total, sum_t, layer.attrs["softmax"]["inv_shift"], size)
    inv = to_codes(tables.inv_table(layer), p["inv_table"])[inv_index][..., None]
    return requantize(e * inv, p["exp_table"].fractional + p["inv_table"].fractional, p["result"])


def _table_activation(layer: Layer, codes, in_t):
    """ikr::lut_lookup: table[min(floor((x + R) * 2**shift), T - 1)], table[0] below -R."""
    p = layer.precision
    shifted_t = p["act_in"]
    r = layer.attrs["act_range"]
    s = requantize(codes + (np.int64(r) << in_t.fractional), in_t.fractional, shifted_t)
    idx = np.where(s < 0, 0, _floor_index(np.maximum(s, 0), shifted_t, tables.act_shift(layer),
                                          layer.attrs["table_size"]))
    values = to_codes(tables.act_table(layer), p["act_table"])[idx]
    return requantize(values, p["act_table"].fractional, p["result"])


def _floor_index(codes, t, shift, size):
    """ikr::floor_index: min(floor(value * 2**shift), size - 1) for values >= 0."""
    drop = t.fractional - shift
    idx = codes >> drop if drop >= 0 else codes << -drop
    return np.minimum(idx, size - 1)


_LAYERS = {"conv2d": _conv2d, "dense": _dense, "scale_shift": _scale_shift, "pool2d": _pool2d,
           "global_pool2d": _global_pool2d, "pad2d": _pad2d, "activation": _activation}
