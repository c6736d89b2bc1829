"""da4ml's solve of a constant matrix, traced into one adder graph.

da4ml.cmvm.solve gives a Pipeline whose stages' op intervals are those of shifted inputs only
approximately (an input factored by a power of two keeps its unshifted interval), so the
solution is traced through da4ml's symbolic fixed-point variables (da4ml.trace, as its own
`x @ matrix` does): the traced CombLogic has exact intervals, and so exact widths, and is the
graph whose adders are counted here and evaluated by evaluate.py.

The solve runs on integer codes: inputs of the input type's code range at step 1, the weight
codes as the matrix, so the outputs are matrix @ input codes exactly (matrix.py).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import IKRHLSError
from ..ir import Layer
from .cache import load_solution, store_solution
from .matrix import ConstantMatrix, layer_matrix

log = logging.getLogger(__name__)

ADD, SUB, INPUT = 0, 1, -1          # da4ml Op opcodes the solver emits for a constant matrix
# da4ml's trace defaults: an adder costs one unit per bit (adder_size 1), no carry-chain
# latency model (carry_size -1): the depth is then the count of adder levels
HWCONF = (1, -1, -1)


@dataclass(frozen=True)
class DASolution:
    """adders: the adders and subtracters of the graph; adder_widths: each one's result width
    in bits (sign, integer and fractional bits of its exact interval, as da4ml gives them);
    depth: adder levels from an input to the latest output (da4ml's latency); cost: da4ml's cost
    (bits of adders); solve_seconds, solve_cpu_seconds: wall and CPU time of the solve and trace
    when it ran (a cached solution keeps them); cached: taken from the cache; comb: the traced
    da4ml CombLogic, None for a matrix with no rows (a conv whose kernels are all pruned away:
    every output is 0)."""
    digest: str
    shape: tuple[int, int]
    adders: int
    adder_widths: tuple[int, ...]
    depth: int
    cost: float
    solve_seconds: float
    solve_cpu_seconds: float
    cached: bool
    comb: Any

    @property
    def adder_bits(self) -> int:
        return int(sum(self.adder_widths))

    @property
    def multipliers(self) -> int:
        return 0


def _da4ml():
    try:
        from da4ml.cmvm import solve
        from da4ml.trace import FixedVariableArray, comb_trace
    except ImportError:
        raise IKRHLSError("distributed arithmetic needs da4ml: pip install 'ikr-hls[da]' (or pip install da4ml)") \
            from None
    return solve, FixedVariableArray, comb_trace


def _inputs(matrix: ConstantMatrix, FixedVariableArray) -> Any:
    """The input codes as da4ml variables: integers over the input type's code range."""
    t = matrix.in_type
    n = matrix.shape[0]
    keep_negative = np.full(n, int(t.signed))
    integers = np.full(n, t.width - int(t.signed))
    return FixedVariableArray.from_kif(keep_negative, integers, np.zeros(n, int), hwconf=HWCONF)


def _run(matrix: ConstantMatrix) -> tuple[Any, float, float]:
    solve, FixedVariableArray, comb_trace = _da4ml()
    inputs = _inputs(matrix, FixedVariableArray)
    qintervals = [(float(v.low), float(v.high), float(v.step)) for v in inputs._vars]
    start, cpu = time.perf_counter(), time.process_time()
    pipeline = solve(np.ascontiguousarray(matrix.codes, dtype=np.float32), qintervals=qintervals,
                     latencies=[0.0] * len(qintervals), adder_size=HWCONF[0], carry_size=HWCONF[1])
    comb = comb_trace(inputs, pipeline(inputs._vars))
    return comb, time.perf_counter() - start, time.process_time() - cpu


def _check_codes(matrix: ConstantMatrix) -> None:
    # float32 carries the solver's matrix: every code must be exact in it
    if np.abs(matrix.codes).max(initial=0) >= 1 << 24:
        raise IKRHLSError(f"layer {matrix.layer}: weight codes of {matrix.weight_type.cpp} are too wide for da4ml "
                          "(24 bits at most)")


def summarise(matrix: ConstantMatrix, comb, seconds: float, cpu: float, cached: bool) -> DASolution:
    from da4ml.types import minimal_kif
    adders = [op for op in comb.ops if op.opcode in (ADD, SUB)]
    widths = tuple(int(sum(minimal_kif(op.qint))) for op in adders)
    depth = int(max(comb.latency)) if matrix.shape[1] else 0
    return DASolution(matrix.digest(), matrix.shape, len(adders), widths, depth, float(comb.cost), seconds,
                      cpu, cached, comb)


def solve_matrix(matrix: ConstantMatrix, use_cache: bool = True) -> DASolution:
    """The adder graph of matrix, from the cache when it was solved before (cache.py)."""
    _check_codes(matrix)
    _da4ml()
    if matrix.shape[0] == 0:                 # nothing to add: da4ml takes no empty input vector
        return DASolution(matrix.digest(), matrix.shape, 0, (), 0, 0.0, 0.0, 0.0, False, None)
    if use_cache:
        found = load_solution(matrix.digest())
        if found is not None:
            comb, seconds, cpu = found
            log.info("%s: da4ml solution taken from the cache", matrix.layer)
            return summarise(matrix, comb, seconds, cpu, cached=True)
    comb, seconds, cpu = _run(matrix)
    log.info("%s: da4ml solved %d x %d in %.2f s (%.2f s CPU)", matrix.layer, *matrix.shape, seconds, cpu)
    if use_cache:
        store_solution(matrix.digest(), comb, seconds, cpu)
    return summarise(matrix, comb, seconds, cpu, cached=False)


def solve_layer(layer: Layer, use_cache: bool = True) -> DASolution:
    """The adder graph of a converted Conv2D or Dense layer's constant matrix."""
    return solve_matrix(layer_matrix(layer), use_cache)
