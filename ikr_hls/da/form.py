"""strategy="da" on a layer: its facts (DAForm), the pass that settles it (settle_layers), and
the parts of its cost and reference that conv and Dense share.

A layer's matrix needs its types, which are assigned after the facts are first derived; so the
form solves when first asked (after the types), and settle_layers, the pass before the plan,
asks: it refuses a reuse factor above 1, falls back to unrolled above the solve bound (bound.py)
and logs each layer's solve. A solve is cached on disk (cache.py) and in this process (by the
matrix's digest), so the deriving again that auto and the passes do costs nothing.
"""
from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import codes as C
from .. import hardware
from ..errors import IKRHLSError
from ..ir import Graph, Layer
from . import bound
from .graph import GraphView, graph_view
from .matrix import ConstantMatrix, layer_matrix
from .solver import DASolution, solve_matrix

log = logging.getLogger(__name__)

DA = "da"
INSTALL = "strategy 'da' needs da4ml: pip install 'ikr-hls[da]'"
_SOLVED: dict = {}                # digest -> DASolution solved (or loaded) in this process


def require_da4ml() -> None:
    """One line naming what to install, before anything is solved."""
    try:
        import da4ml  # noqa: F401
    except ImportError:
        raise IKRHLSError(INSTALL) from None


def solve(matrix: ConstantMatrix) -> DASolution:
    key = matrix.digest()
    if key not in _SOLVED:
        _SOLVED[key] = solve_matrix(matrix)
    return _SOLVED[key]


@dataclass(frozen=True, eq=False)
class DAForm:
    """The da facts of a layer: its matrix, the solved graph and the code's statements, each
    worked out when first asked (the types must be known by then). multipliers: none."""
    layer: Layer = field(repr=False)
    read: Callable[[tuple], str] = field(repr=False)   # a matrix row -> its C++ expression (the kind's)
    multipliers: int = 0

    @functools.cached_property
    def matrix(self) -> ConstantMatrix:
        return layer_matrix(self.layer)

    @functools.cached_property
    def solution(self) -> DASolution:
        require_da4ml()
        return solve(self.matrix)

    @functools.cached_property
    def graph(self) -> GraphView:
        return graph_view(self.matrix, self.solution, [self.read(row) for row in self.matrix.rows])

    @property
    def outputs(self) -> int:
        """Columns with a nonzero product sum: one accumulation of the bias each."""
        return sum(o is not None for o in self.graph.outputs)


def settle_layers(graph: Graph, kind_of) -> Graph:
    """Every da layer (of a kind that has the form) checked, solved or fallen back to unrolled,
    before the plan prices it; its facts derived again for the settings it ends with."""
    for layer in graph.layers:
        kind, settings = kind_of(layer), layer.settled
        if settings.strategy != DA or DA not in kind.forms:
            continue
        if settings.reuse_factor > 1:
            raise IKRHLSError(f"layer {layer.keras_name}: strategy 'da' works at reuse factor 1 only (its weights "
                              f"are wired into an adder graph), not {settings.reuse_factor}")
        if settings.auto_reuse:              # reuse "auto": nothing to share, the weights are wires
            layer.settings = settings = settings.replace(auto_reuse=False)
        require_da4ml()
        matrix = layer_matrix(layer)
        if bound.fall_back_reason(matrix, bound.MAX_DIGITS) is not None:   # logged there, naming layer and bound
            layer.settings = settings.replace(strategy="unrolled")
            layer.facts = kind.derive(layer)
            continue
        layer.facts = kind.derive(layer)
        s = solve(matrix)
        log.info("layer %s: da adder graph of %d adders, depth %d, for its %d x %d matrix: solved in %.2f s "
                 "(%.2f s CPU)%s", layer.keras_name, s.adders, s.depth, *matrix.shape, s.solve_seconds,
                 s.solve_cpu_seconds, ", taken from the cache" if s.cached else "")
    return graph


def accumulate(x: np.ndarray, codes: np.ndarray, in_bits: int, x_frac: int, w_bits: int, w_frac: int,
               acc: np.ndarray, acc_t) -> np.ndarray:
    """The reference of the code: the graph's exact product sums x @ codes, each added once to
    its accumulator (the bias in acc_t), rounded and overflowed into acc_t there, as the code's
    `acc += y` does; a column of zeros adds nothing."""
    C.check_fits(in_bits + w_bits + math.ceil(math.log2(max(codes.shape[0], 2))), "product sum")
    sums = np.asarray(x, dtype=np.int64) @ np.asarray(codes, dtype=np.int64)
    return C.add(acc, acc_t, sums, x_frac + w_frac, np.broadcast_to(np.any(codes != 0, axis=0), sums.shape))


def operators(form: DAForm, acc_bits: int) -> tuple:
    """The graph's adders at their widths, then the bias accumulations at the accumulator's."""
    widths = np.asarray(form.graph.adder_widths, dtype=int)
    out: tuple = ()
    for width, count in zip(*np.unique(widths, return_counts=True), strict=True):
        out += hardware.ops("adder graph", "add", int(width), int(count))
    return out + hardware.ops("bias accumulation", "add", acc_bits, form.outputs)


def chain(form: DAForm) -> tuple:
    """The graph's adder levels, then the bias accumulation."""
    return hardware.chain(("add", form.solution.depth + (1 if form.outputs else 0)))
