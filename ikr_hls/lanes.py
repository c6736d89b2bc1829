"""Multiply-accumulate lanes over R cycles: the `resource` strategy of conv2d and dense.

The inputs of a group (a conv's window taps of a channel group, a Dense's input vector) are
cut into lanes of R consecutive inputs. In cycle r lane m reads its r-th input, a choice by r
written out (`r == 0 ? a : ...`, each bank a constant), and every output of the group with a
nonzero weight in the lane multiplies it by the weight its ROM of depth R holds at address r
and adds the product to the output's accumulator. A lane shorter than R reads its last input
again after it, where its ROMs hold 0. So the multipliers, the adders and the choices all
shrink as R grows, and the code has a line per lane and per multiply-accumulate whatever R is.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import codes as C
from . import hardware
from .expr import Expr, Var, choice, index

R = Var("r")                       # the cycle, the pipelined loop's variable


@dataclass(frozen=True)
class Lane:
    """inputs: per cycle r < len(inputs), the input it reads (a row of the layer's (inputs,
    outputs) weight matrix); reads: the code's read of each; outputs: those that multiply it."""
    inputs: tuple
    reads: tuple
    outputs: tuple


@dataclass(frozen=True)
class Lanes:
    """lanes in code order; macs: (lane, output) per multiply-accumulate, output by output,
    each in lane order (the order the code adds them)."""
    rf: int
    lanes: list
    macs: list

    @property
    def multipliers(self) -> int:
        return len(self.macs)


def plan(groups: Sequence, weights: np.ndarray, rf: int, read: Callable[[int], Expr]) -> Lanes:
    """groups: (inputs in lane order, outputs that read them); weights: (inputs, outputs)."""
    lanes: list = []
    by_output: dict = {}
    for inputs, outputs in groups:
        outputs = np.asarray(outputs)
        for start in range(0, len(inputs), rf):
            chunk = list(inputs[start:start + rf])
            used = tuple(int(o) for o in outputs[(weights[np.ix_(chunk, outputs)] != 0).any(axis=0)])
            if not used:
                continue
            for o in used:
                by_output.setdefault(o, []).append(len(lanes))
            lanes.append(Lane(tuple(chunk), tuple(read(i) for i in chunk), used))
    return Lanes(rf, lanes, [(lane, o) for o in sorted(by_output) for lane in by_output[o]])


def lane_value(lane: Lane) -> Expr:
    """reads[r] in cycle r, the last for every later cycle: `r == 0 ? a : r == 1 ? b : c`."""
    return choice(list(enumerate(lane.reads)), R)


def rom(found: Lanes, weights: np.ndarray) -> np.ndarray:
    """The ROMs' contents, (R, MACs): each multiply-accumulate's weight in each cycle (0 after
    its lane's last input)."""
    out = np.zeros((found.rf, len(found.macs)), dtype=weights.dtype)
    for k, (lane, o) in enumerate(found.macs):
        inputs = found.lanes[lane].inputs
        out[:len(inputs), k] = weights[list(inputs), o]
    return out


def rom_read(name: str, found: Lanes, k: int) -> Expr:
    """MAC k's weight this cycle: [r * MACs + k], a cyclic partition by MACs gives each its own
    ROM (R = 1: a constant)."""
    return index(name, R * len(found.macs) + k) if found.rf > 1 else index(name, k)


def accumulate(found: Lanes, inputs: np.ndarray, w_codes: np.ndarray, product_frac: int, acc, acc_t) -> np.ndarray:
    """The reference: cycle by cycle, each output adds its lanes' products in lane order
    (outputs are independent, so all of a lane's outputs add at once). inputs: (..., inputs)."""
    for r in range(found.rf):
        for lane in found.lanes:
            if r >= len(lane.inputs):
                continue
            i, cols = lane.inputs[r], list(lane.outputs)
            product = inputs[..., i, None] * w_codes[i, cols]
            acc[..., cols] = C.add(acc[..., cols], acc_t, product, product_frac)
    return acc


@dataclass(frozen=True)
class LanesCost:
    """What the lanes add to a layer's cost: the ROMs, the lanes' choices, their decodes of r,
    multiply-accumulates per output pixel or call, and the widest output's adder chain."""
    memories: tuple
    muxes: tuple
    control: int
    macs: int
    chain: tuple


def cost(found: Lanes, in_bits: int, w_bits: int) -> LanesCost:
    rf = found.rf
    memories = (hardware.Memory("lane weights", "ROM", len(found.macs), rf, w_bits),) if rf > 1 and found.macs else ()
    by_ways: dict = {}
    for lane in found.lanes if rf > 1 else []:
        if len(lane.inputs) > 1:
            by_ways[len(lane.inputs)] = by_ways.get(len(lane.inputs), 0) + 1
    muxes = tuple(hardware.Mux("lane inputs", count, ways, in_bits) for ways, count in sorted(by_ways.items()))
    per_output: dict = {}
    for _, o in found.macs:
        per_output[o] = per_output.get(o, 0) + 1
    # the cycle's decodes: each lane's choice (comparisons of r), the first and last cycles
    control = (2 + hardware.comparisons(*(lane_value(lane) for lane in found.lanes))) if rf > 1 else 0
    chain = hardware.chain(("choose", hardware.tree_levels(max(by_ways, default=1))), ("table", 1 if rf > 1 else 0),
                           ("multiply", 1), hardware.add_tree(max(per_output.values(), default=0) + 1))
    return LanesCost(memories, muxes, control, sum(len(found.lanes[lane].inputs) for lane, _ in found.macs), chain)


def used_weights(found: Lanes, weights: np.ndarray) -> list:
    """Every weight a multiply-accumulate reads (R = 1: the products by constants)."""
    return [weights[i, o] for lane, o in found.macs for i in found.lanes[lane].inputs]


def host_form(found: Lanes, position: Callable[[int], tuple]) -> dict:
    """The lanes as tables, for their host-only form (IKR_HOST_CYCLES, lanes_host.j2): loops over
    them run the same multiply-accumulates in the same order and types as the code Vitis gets,
    which has a line per lane and per multiply-accumulate and takes g++ -O2 minutes in a large
    layer. reads[d][m][r]: dimension d of the position lane m reads in cycle r (its last again
    once done, as its choice does; `position` maps an input to its indices in the read array);
    mac_lane[k], mac_output[k]: multiply-accumulate k's lane and output, output by output."""
    cycles = [[position(lane.inputs[min(r, len(lane.inputs) - 1)]) for r in range(found.rf)] for lane in found.lanes]
    dims = len(cycles[0][0]) if cycles else 0
    return dict(reads=[[[at[d] for at in lane] for lane in cycles] for d in range(dims)],
                mac_lane=[lane for lane, _ in found.macs], mac_output=[o for _, o in found.macs])


def macs_by_output(found: Lanes, weight: Callable[[int], Expr]) -> list:
    """[(output, [(lane, weight read)])] in code order, for the templates."""
    out: dict = {}
    for k, (lane, o) in enumerate(found.macs):
        out.setdefault(o, []).append(dict(lane=lane, weight=weight(k)))
    return sorted(out.items())


__all__ = ["Lane", "Lanes", "LanesCost", "R", "accumulate", "cost", "host_form", "lane_value",
           "macs_by_output", "plan", "rom", "rom_read", "used_weights"]
