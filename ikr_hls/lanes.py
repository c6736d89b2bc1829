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

import functools
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
    outputs) weight matrix), each input in one lane only; outputs: those that multiply it."""
    inputs: tuple
    outputs: tuple


@dataclass(frozen=True)
class Lanes:
    """lane_inputs[m][r]: the input lane m reads in cycle r (-1 once its inputs are done), lanes
    in code order; mac_lane, mac_output: each multiply-accumulate's lane and output, output by
    output, each in lane order (the order the code adds them); read: the code's read of an input.
    Arrays, the Lane objects and the reads built for the view only: the search prices thousands
    of plans."""
    rf: int
    lane_inputs: np.ndarray
    mac_lane: np.ndarray
    mac_output: np.ndarray
    read: Callable[[int], Expr]

    @functools.cached_property
    def lane_length(self) -> np.ndarray:
        return np.count_nonzero(self.lane_inputs >= 0, axis=1)

    @functools.cached_property
    def lanes(self) -> list:
        outputs: list = [[] for _ in range(len(self.lane_inputs))]
        for lane, o in zip(self.mac_lane.tolist(), self.mac_output.tolist(), strict=True):
            outputs[lane].append(o)
        return [Lane(tuple(row[:n]), tuple(sorted(outs)))
                for row, n, outs in zip(self.lane_inputs.tolist(), self.lane_length.tolist(), outputs, strict=True)]

    @functools.cached_property
    def macs(self) -> list:
        """(lane, output) per multiply-accumulate, in code order."""
        return list(zip(self.mac_lane.tolist(), self.mac_output.tolist(), strict=True))

    @property
    def multipliers(self) -> int:
        return len(self.mac_lane)

    @property
    def lane_count(self) -> int:
        return len(self.lane_inputs)

    def mac_weights(self, weights: np.ndarray) -> tuple:
        """(values, valid), each (MACs, R): the weight each multiply-accumulate reads in each
        cycle, and whether its lane reads an input then."""
        at = self.lane_inputs[self.mac_lane]
        valid = at >= 0
        return np.where(valid, weights[np.where(valid, at, 0), self.mac_output[:, None]], 0), valid


def _batches(groups: Sequence):
    """Runs of consecutive groups of equal sizes, as (inputs, outputs) arrays of (groups, size)."""
    run: list = []
    for inputs, outputs in groups:
        if run and (len(inputs), len(outputs)) != (len(run[0][0]), len(run[0][1])):
            yield np.array([g[0] for g in run], dtype=np.int64), np.array([g[1] for g in run], dtype=np.int64)
            run = []
        run.append((list(inputs), list(outputs)))
    if run:
        yield np.array([g[0] for g in run], dtype=np.int64), np.array([g[1] for g in run], dtype=np.int64)


def plan(groups: Sequence, weights: np.ndarray, rf: int, read: Callable[[int], Expr]) -> Lanes:
    """groups: (inputs in lane order, outputs that read them), each output in one group;
    weights: (inputs, outputs). A lane holds R consecutive inputs of a group and is kept when
    one of them has a nonzero weight for one of the group's outputs."""
    rows, mac_lane, mac_output, lanes = [], [], [], 0
    for inputs, outputs in _batches(groups):
        count, n = inputs.shape
        chunks = -(-n // rf)
        padded = np.full((count, chunks * rf), -1, dtype=np.int64)
        padded[:, :n] = inputs
        nonzero = np.zeros((count, chunks * rf, outputs.shape[1]), dtype=bool)
        nonzero[:, :n] = weights[inputs[:, :, None], outputs[:, None, :]] != 0
        used = np.any(nonzero.reshape(count, chunks, rf, -1), axis=2)          # (group, chunk, output)
        kept = np.any(used, axis=2)
        number = np.full(kept.shape, -1, dtype=np.int64)
        number[kept] = lanes + np.arange(np.count_nonzero(kept))
        lanes += int(np.count_nonzero(kept))
        rows.append(padded.reshape(count, chunks, rf)[kept])
        g, k, j = np.nonzero(used)              # each output's lanes in lane order
        mac_output.append(outputs[g, j])
        mac_lane.append(number[g, k])
    empty = np.zeros(0, dtype=np.int64)
    outputs_all = np.concatenate(mac_output or [empty])
    order = np.argsort(outputs_all, kind="stable")                          # output by output
    return Lanes(rf, np.concatenate(rows) if rows else np.zeros((0, rf), dtype=np.int64),
                 np.concatenate(mac_lane or [empty])[order], outputs_all[order], read)


def lane_value(found: Lanes, lane: Lane) -> Expr:
    """The input read in cycle r, the last for every later cycle: `r == 0 ? a : r == 1 ? b : c`."""
    return choice([(r, found.read(i)) for r, i in enumerate(lane.inputs)], R)


def rom(found: Lanes, weights: np.ndarray) -> np.ndarray:
    """The ROMs' contents, (R, MACs): each multiply-accumulate's weight in each cycle (0 after
    its lane's last input)."""
    values, _ = found.mac_weights(weights)
    return np.ascontiguousarray(values.T.astype(weights.dtype))


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
    rf, n = found.rf, found.multipliers
    memories = (hardware.Memory("lane weights", "ROM", n, rf, w_bits),) if rf > 1 and n else ()
    lengths = found.lane_length
    chosen = lengths[lengths > 1] if rf > 1 else lengths[:0]          # lanes that choose among inputs
    ways, counts = np.unique(chosen, return_counts=True)
    muxes = tuple(hardware.Mux("lane inputs", int(c), int(w), in_bits) for w, c in zip(ways, counts, strict=True))
    per_output = np.bincount(found.mac_output) if n else np.zeros(1, dtype=np.int64)
    # the cycle's decodes: each lane's choice (lane_value: a comparison `r == k` per cycle but
    # the last, its inputs being distinct reads), the first and last cycles
    control = 2 + int(np.sum(lengths - 1)) if rf > 1 else 0
    chain = hardware.chain(("choose", hardware.tree_levels(int(chosen.max()) if len(chosen) else 1)),
                           ("table", 1 if rf > 1 else 0),
                           ("multiply", 1), hardware.add_tree(int(per_output.max()) + 1))
    return LanesCost(memories, muxes, control, int(lengths[found.mac_lane].sum()) if n else 0, chain)


def used_weights(found: Lanes, weights: np.ndarray) -> list:
    """Every weight a multiply-accumulate reads (R = 1: the products by constants)."""
    values, valid = found.mac_weights(weights)
    return values[valid].tolist()


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
                mac_lane=found.mac_lane.tolist(), mac_output=found.mac_output.tolist())


def macs_by_output(found: Lanes, weight: Callable[[int], Expr]) -> list:
    """[(output, [(lane, weight read)])] in code order, for the templates."""
    out: dict = {}
    for k, (lane, o) in enumerate(found.macs):
        out.setdefault(o, []).append(dict(lane=lane, weight=weight(k)))
    return sorted(out.items())


__all__ = ["Lane", "Lanes", "LanesCost", "R", "accumulate", "cost", "host_form", "lane_value",
           "macs_by_output", "plan", "rom", "rom_read", "used_weights"]
