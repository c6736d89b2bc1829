"""A numpy reference of the generated fixed-point hardware, bit for bit.

Every buffer is an array of int64 codes of its ap_fixed type (value = code * 2**-fractional).
Each step rounds and overflows where the C++ assigns to a typed variable, in the same order:
a conv or dense accumulator is updated one product at a time, in the order the generated code
writes them (so even a narrow, rounding accumulator matches). Lookup tables come from
tables.py, as in the generated code. Each kind's reference lives in its module (kinds/).
"""
from __future__ import annotations

import numpy as np

from .errors import IKRHLSError
from .ir import INPUT, Graph
from .kinds import kind_of
from .precision import FixedType, to_codes


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
    input_t = graph.input_precision
    if not isinstance(input_t, FixedType):
        raise IKRHLSError("emulate: the model uses floating-point types; the numpy reference is for "
                          "fixed point (compare float projects with Keras)")
    x = np.asarray(x, dtype=np.float64)
    buffers = {INPUT: (to_codes(x, input_t), input_t)}
    for layer in graph.layers:
        ins = [(codes.reshape(len(codes), *layer.input_shape(k)), t)
               for k, (codes, t) in enumerate(buffers[name] for name in layer.inputs)]
        codes = kind_of(layer).reference(layer, ins)
        t = layer.precision["result"]
        buffers[layer.name] = (codes, t)
        if trace is not None:
            trace[layer.name] = codes * 2.0 ** -t.fractional
    codes, t = buffers[graph.layers[-1].name]
    return codes.reshape(len(codes), *graph.output_shape), t
