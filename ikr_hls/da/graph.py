"""The solved adder graph as the generated code writes it (templates/firmware/layers/da_graph.j2).

Every adder of the traced CombLogic (solver.py) that an output needs becomes one statement
`const T t<i> = a + ikr::da_shift<s>(b);` (or `-`): T is ap_fixed/ap_ufixed of exactly the width
of the adder's traced interval, so no statement rounds or overflows, and the shift is a wire
(cpp/ikr_da.h). The graph runs on input codes; the code runs on the input values, code x
2**-F (F: the input type's fractional bits), so every interval is read 2**-F smaller: the same
widths, the binary point F places to the left. An output j is (-1)**neg * 2**shift * t<idx>
in units of 2**-F: the product sum matrix[:, j] @ x in the layer's value units once shifted by
the weight type's fractional bits more (matrix.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import IKRHLSError
from .matrix import ConstantMatrix
from .solver import ADD, INPUT, SUB, DASolution

CONST = 5                  # da4ml's constant definition: the solver's 0 for an all-zero column


@dataclass(frozen=True)
class Adder:
    """One statement: name = left (+|-) da_shift<shift>(right), of type cpp (width bits)."""
    name: str
    cpp: str
    width: int
    left: str
    subtract: bool
    right: str
    shift: int


@dataclass(frozen=True)
class Output:
    """Column j's product sum: value (an adder's name, or an input's expression) shifted by
    `shift`, subtracted from the accumulator when `subtract`."""
    value: str
    shift: int
    subtract: bool


@dataclass(frozen=True)
class GraphView:
    """adders: in the graph's order (each after its operands); outputs: per column, None for a
    column that is all zero (its accumulator keeps the bias)."""
    adders: tuple
    outputs: tuple

    @property
    def adder_widths(self) -> tuple:
        return tuple(a.width for a in self.adders)


def _cpp_type(qint, input_fractional: int) -> tuple[str, int]:
    from da4ml.types import minimal_kif
    k, i, f = (int(v) for v in minimal_kif(qint))
    width = k + i + f
    return f"ap_{'' if k else 'u'}fixed<{width}, {k + i - input_fractional}>", width


def _live(comb) -> set:
    """The ops the outputs need (the solver may leave some unused)."""
    needed, stack = set(), [i for i in comb.out_idxs if i >= 0]
    while stack:
        i = stack.pop()
        if i in needed:
            continue
        needed.add(i)
        op = comb.ops[i]
        if op.opcode in (ADD, SUB):
            stack += [op.id0, op.id1]
    return needed


def graph_view(matrix: ConstantMatrix, solution: DASolution, inputs: list, prefix: str = "t") -> GraphView:
    """The statements of the solution; inputs[r]: the C++ expression of the matrix's row r (a
    window register, an input element)."""
    if solution.comb is None:
        return GraphView((), (None,) * matrix.shape[1])
    comb = solution.comb
    F = matrix.in_type.fractional
    live = _live(comb)
    names: dict = {}
    adders: list[Adder] = []
    for i, op in enumerate(comb.ops):
        if i not in live:
            continue
        if op.opcode == INPUT:
            shift = int(comb.inp_shifts[op.id0])
            names[i] = inputs[op.id0] if not shift else f"ikr::da_shift<{shift}>({inputs[op.id0]})"
        elif op.opcode in (ADD, SUB):
            cpp, width = _cpp_type(op.qint, F)
            names[i] = f"{prefix}{len(adders)}"
            adders.append(Adder(names[i], cpp, width, names[op.id0], op.opcode == SUB, names[op.id1], int(op.data)))
        elif op.opcode == CONST and op.data == 0:
            names[i] = None
        else:
            raise IKRHLSError(f"layer {matrix.layer}: da4ml's graph holds an operation ikr-hls does not write "
                              f"(opcode {op.opcode})")
    outputs: list[Output | None] = []
    for idx, shift, neg in zip(comb.out_idxs, comb.out_shifts, comb.out_negs, strict=True):
        value = names.get(idx) if idx >= 0 else None
        outputs.append(None if value is None else
                       Output(value, int(shift) - matrix.weight_type.fractional, bool(neg)))
    return GraphView(tuple(adders), tuple(outputs))
