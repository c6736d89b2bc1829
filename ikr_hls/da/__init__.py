"""Distributed arithmetic (issue 28): a layer's per-pixel constant matrix solved by da4ml into a
shift-and-add graph with no multiplier. One job per module:

matrix.py  the integer constant matrix of a converted Conv2D or Dense, with its types
solver.py  da4ml's solve, traced into one adder graph; its adders, widths, depth and times
cache.py   solutions on disk under the build cache, keyed by a hash of the matrix and types
bound.py   the documented solve bound, and the decision to fall back to unrolled
evaluate.py the solved graph run on integer inputs, exactly, against matrix @ x
verilog.py  da4ml's Verilog of the graph: simulated (iverilog) against matrix @ x, synthesized (yosys)

da4ml is an optional extra (`pip install ikr-hls[da]`); without it, solving raises a clear
IKRHLSError. The code generation of strategy="da" builds on these (docs/distributed_arithmetic.md).
"""
from .bound import MAX_DIGITS, csd_digits, fall_back_reason
from .matrix import ConstantMatrix, conv_matrix, dense_matrix, layer_matrix
from .solver import DASolution, solve_layer, solve_matrix

__all__ = ["MAX_DIGITS", "ConstantMatrix", "DASolution", "conv_matrix", "csd_digits", "dense_matrix",
           "fall_back_reason", "layer_matrix", "solve_layer", "solve_matrix"]
