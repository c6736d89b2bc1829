"""Lookup tables of the fixed-point hardware, computed once here and used both by the
generated C++ (as literals) and by the numpy reference, so the two cannot drift apart.

Softmax, with the table size T and exp range R of the layer (both powers of two):
    d_i = max(x) - x_i >= 0
    e_i = exp_table[min(floor(d_i * T / R), T - 1)],  exp_table[k] = exp(-(k + 0.5) R / T)
    s   = sum(e_i) < 2**p                             (p = ceil(log2 n))
    y_i = e_i * inv_table[min(floor(s * T / 2**p), T - 1)],  inv_table[k] = 1 / ((k + 0.5) 2**p / T)
Each entry is the function at the middle of its bin, rounded to the table's type. The scale
of 1/s is common to every output, so the argmax depends on the exp table alone.
"""
from __future__ import annotations

import math

import numpy as np

from .precision import quantize


def softmax_shifts(layer):
    """A softmax layer's table addressing (set with its types, precision_inference)."""
    if layer.softmax is None:
        raise ValueError(f"layer {layer.name}: its softmax tables have no addressing yet (set with the types)")
    return layer.softmax


def exp_shift(layer) -> int:
    """log2(T / R): the index of d is floor(d * 2**exp_shift)."""
    return int(np.log2(layer.settled.table_size // layer.settled.exp_range))


def exp_table(layer) -> np.ndarray:
    size = layer.settled.table_size
    mid = (np.arange(size) + 0.5) / 2.0 ** exp_shift(layer)
    return quantize(np.exp(-mid), layer.precision["exp_table"])


def inv_table(layer) -> np.ndarray:
    size = layer.settled.table_size
    mid = (np.arange(size) + 0.5) / 2.0 ** softmax_shifts(layer).inv_shift
    return quantize(1.0 / mid, layer.precision["inv_table"])


def recip_table(layer, window: int) -> np.ndarray:
    """1/count for an average pool of a `window` of PH*PW values, count = 1 .. PH*PW (entry 0
    unused)."""
    counts = np.arange(window + 1, dtype=np.float64)
    values = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    t = layer.precision["recip"]
    return values.astype(np.float32).astype(np.float64) if t.is_float else quantize(values, t)


def act_shift(layer) -> int:
    """log2(T / 2R): a sigmoid/tanh table covers [-R, R) in T bins."""
    return int(np.log2(layer.settled.table_size // (2 * layer.settled.act_range)))


def act_table(layer) -> np.ndarray:
    """sigmoid or tanh at the middle of each bin of [-R, R); index = floor((x + R) * 2**shift).
    A silu's table holds sigmoid, a gelu's Phi (the normal distribution): their gates."""
    r = layer.settled.act_range
    mid = -r + (np.arange(layer.settled.table_size) + 0.5) / 2.0 ** act_shift(layer)
    if layer.activation in ("sigmoid", "silu"):
        values = 1.0 / (1.0 + np.exp(-mid))
    elif layer.activation == "gelu":
        values = 0.5 * (1.0 + np.array([math.erf(v / math.sqrt(2.0)) for v in mid.tolist()]))
    else:
        values = np.tanh(mid)
    return quantize(values, layer.precision["act_table"])
