"""io_stream FIFO depths: what each stream of the DATAFLOW region must hold so that the design
cannot deadlock where forked branches merge again (docs/io_stream.md, "FIFO depths").

A fork (ikr::clone_stream2/3) writes each element to every copy in the same step. When one
branch must read many elements before its first output (a conv filling its line buffers), the
merge (an Add) waits for it, and the copy of the other branch keeps everything the fork writes
meanwhile: if it is full, the fork stops, the slow branch starves, and nothing moves again.

The model. Every process (a layer function, a clone) is one pipelined loop, and each step of it
reads one element of each input stream (waiting while one is empty) and writes one element to
each output stream (waiting while one is full), where the template says so (`_steps`: window
layers read a pixel inside the image and write when the window is valid, from the conditions
the templates print; elementwise layers read and write every step; Dense and softmax gather
all their input, then write once). Vitis's default pipeline stalls as a whole (UG1448,
"Pipeline Styles": not flushable, an output already computed waits for the inputs of the next
iterations), so the element step k writes leaves together with the reads of step k + lag, lag =
ceil(bound / II) steps in flight, and the pipeline drains at the loop's end. A process's bound
is the depth of its own operator chain (Cost.depth: multiplies, adder-tree levels, table
reads, ...), never below MIN_LATENCY_BOUND cycles, since Vitis may build a deeper pipeline
than the chain. The bound works both ways: a deeper pipeline needs more input before its first
output, a shallower one holds fewer elements. So each copy's depth is computed in its own case:
the processes of its branch with no lag (they hold the least), every other process with its
bound (it needs the most); the report gives each grown copy the largest bound it assumed.

fifo_depth="full" (hls4ml's default) gives every stream its whole tensor, and so does a float
design to the copies of its forks: float cores' latencies are not modelled.

Only the order of events matters, not the cycles: each stream has one writer and one reader,
so a step that can run stays able to run until it does, and whether the network finishes does
not depend on which process moves first (it is persistent, like a Kahn process network). The
simulation moves stream elements: each process runs as far as it can, a run of identical steps
at a time.

Depths: every stream starts at STREAM_DEPTH. When the network stops with a fork waiting on
full copies whose merge waits for another branch, those copies grow by one and the run goes on
(after Parks' bounded scheduling of process networks, which grows the smallest full channel);
a copy's depth is the most it had to hold, and one less stops the network where it grew last
(tests/test_stream_depths.py checks that each is tight). The cases run in turn, each from the
depths the one before left; then every case runs again with the final depths, bounded, and
must finish. Where the network stops with no copy to grow, or a copy would need its whole
tensor, the conversion is refused with an IKRHLSError naming the streams.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import IKRHLSError
from .hardware import CLONE_DEPTH, MIN_LATENCY_BOUND
from .ir import Graph, Layer

STREAM_DEPTH = 2                 # a FIFO between a producer and its only reader (Vitis's default)
DEFAULT, BRANCH_LAG, WHOLE = "default", "branch lag", "whole tensor"
_PORT = 1 << 62                  # the top's input and output: the caller reads and writes them freely


@dataclass(frozen=True)
class Process:
    """A function of the DATAFLOW region: a layer, or a clone (layer None) that copies each
    element of reads[0] to every stream of `writes`, one element a step at II 1."""
    name: str
    reads: tuple
    writes: tuple
    layer: Layer | None = None


@dataclass(frozen=True)
class Fifo:
    depth: int
    why: str                     # BRANCH_LAG: grown for a fork's copy; DEFAULT: STREAM_DEPTH; WHOLE
    bound: int = 0               # BRANCH_LAG: the largest latency bound (cycles) of the processes it waited for


# --- what each process reads and writes, step by step -------------------------------------------

def _steps(layer: Layer) -> tuple:
    """(read, write, lag): per step of the layer's pipelined loop, whether it reads its inputs
    and writes its output; lag: the steps a write trails its step's reads (0 when the write
    follows a loop that only reads), from the layer's latency bound."""
    io = layer.stream
    if io is None:
        raise AssertionError(f"stream depths: layer {layer.name} has no stream plan")
    cost = layer.plan_cost
    if io.form == "vector":                 # io.j2 gather: every element, then one write
        gather = layer.in_size // io.in_widths[0]
        read = np.r_[np.ones(gather, dtype=bool), False]
        return read, ~read, 0
    if io.form in ("elementwise", "channels"):
        steps = layer.in_size // io.in_widths[0]
        return np.ones(steps, dtype=bool), np.ones(steps, dtype=bool), _lag(bound(cost.depth), cost.ii)
    if layer.nest is None:
        raise AssertionError(f"stream depths: layer kind {layer.kind} states no loop nest")
    read, write = layer.nest.stream_steps()
    if len(write) != cost.iterations:
        raise AssertionError(f"stream depths: {layer.name}: {len(write)} steps, the cost model says {cost.iterations}")
    return read, write, _lag(bound(cost.depth), cost.ii)


def bound(depth: int) -> int:
    """A process's latency bound: its chain's depth, never below MIN_LATENCY_BOUND cycles."""
    return max(MIN_LATENCY_BOUND, depth)


def _lag(cycles: int, ii: int) -> int:
    """Steps in flight in a stalling pipeline of `cycles` cycles at II."""
    return math.ceil(cycles / ii)


def _per_input(read: np.ndarray, inputs: int) -> np.ndarray:
    """A step's reads as a row per input stream (one row: every input reads alike)."""
    return np.broadcast_to(np.atleast_2d(read), (inputs, np.shape(read)[-1]))


def _runs(read: np.ndarray, write: np.ndarray, lag: int, reads: tuple, writes: tuple) -> list:
    """The pipeline's advances as runs of identical ones: [(streams read, streams written,
    count)]. Advance k reads for step k and writes for step k - lag; advances that do neither
    are left out (only the order of stream events matters). `read`: per step, or a row per
    input stream."""
    rows = _per_input(read, len(reads)) if reads else np.zeros((0, len(write)), dtype=bool)
    pad = np.zeros(lag, dtype=bool)
    code = sum((np.r_[row, pad].astype(np.int64) << k for k, row in enumerate(rows)),
               np.zeros(len(write) + lag, dtype=np.int64)) + (np.r_[pad, write].astype(np.int64) << len(reads))
    starts = np.r_[0, np.flatnonzero(np.diff(code)) + 1]
    counts = np.diff(np.r_[starts, len(code)])
    return [(tuple(s for k, s in enumerate(reads) if c >> k & 1), writes if c >> len(reads) & 1 else (), int(n))
            for c, n in zip(code[starts].tolist(), counts, strict=True) if c]


# --- the network of processes --------------------------------------------------------------------

@dataclass
class _Stuck:
    process: str
    stream: str
    full: bool                          # waiting to write a full stream (else to read an empty one)
    depth: int


class StreamModel:
    """The processes of an io_stream top and the streams between them (wiring.Wiring gives
    them): `plan()` computes every stream's depth, `finishes(depths)` says whether the network
    finishes with those depths in every case."""

    def __init__(self, graph: Graph, processes: list, elements: dict, port_in: str, port_out: str):
        self.graph = graph
        self.processes = processes
        self.streams = list(elements)
        self.elements = elements
        self._index = index = {name: i for i, name in enumerate(self.streams)}
        self._clones = {process.name for process in processes if process.layer is None}
        self.ports = {index[port_in], index[port_out]}
        self._initial = [elements[port_in] if name == port_in else 0 for name in self.streams]
        self._writer = [-1] * len(self.streams)
        self._reader = [-1] * len(self.streams)
        self._io: list = []
        self._runs: list = []                # per process: (runs with its lag, runs without)
        self._bound: list = []               # per process: its latency bound in cycles
        for p, process in enumerate(processes):
            reads, writes = tuple(index[s] for s in process.reads), tuple(index[s] for s in process.writes)
            for s in reads:
                self._reader[s] = p
            for s in writes:
                self._writer[s] = p
            self._io.append((reads, writes))
            if process.layer is None:        # a clone: one element in, one to every copy, a step
                steps = elements[process.reads[0]]
                read = write = np.ones(steps, dtype=bool)
                lag = _lag(bound(CLONE_DEPTH), 1)
                self._bound.append(bound(CLONE_DEPTH))
            else:
                read, write, lag = _steps(process.layer)
                self._bound.append(bound(process.layer.plan_cost.depth))
            self._check_counts(process, read, write)
            self._runs.append((_runs(read, write, lag, reads, writes), _runs(read, write, 0, reads, writes)))
        self._neighbours = [[(s, self._writer[s]) for s in reads if self._writer[s] >= 0]
                            + [(s, self._reader[s]) for s in writes if self._reader[s] >= 0]
                            for reads, writes in self._io]
        clones = {p for p, process in enumerate(processes) if process.layer is None}
        self._forks = {p for p in clones if self._writer[self._io[p][0][0]] not in clones}   # not behind a spare
        self.cases = self._cases()

    def _check_counts(self, process: Process, read: np.ndarray, write: np.ndarray) -> None:
        """A process reads every element its producers write, and writes every element of its
        output (else the schedule is not the template's)."""
        for stream, row in zip(process.reads, _per_input(read, len(process.reads)), strict=True):
            if int(row.sum()) != self.elements[stream]:
                raise AssertionError(f"stream depths: {process.name} reads {int(row.sum())} elements of {stream}, "
                                     f"which holds {self.elements[stream]}")
        for stream in process.writes:
            if int(write.sum()) != self.elements[stream]:
                raise AssertionError(f"stream depths: {process.name} writes {int(write.sum())} elements to "
                                     f"{stream}, which holds {self.elements[stream]}")

    def _reach(self, stream: int) -> frozenset:
        """The processes downstream of a stream (its reader included)."""
        seen: set = set()
        pending = [self._reader[stream]]
        while pending:
            p = pending.pop()
            if p < 0 or p in seen:
                continue
            seen.add(p)
            pending.extend(self._reader[s] for s in self._io[p][1])
        return frozenset(seen)

    def _cases(self) -> list:
        """The lag-free process sets to simulate: for each copy of a fork, the processes of its
        own branch (down from the copy, not down from every copy of the fork) and the chained
        clones that write it behind a spare copy (their pipelines would buffer for it). A copy
        whose sibling copies go straight to the merge never waits for them: its case is left
        out."""
        clones = [p for p, process in enumerate(self.processes) if process.layer is None]
        forks: dict = {}                     # the forked stream -> the copies layers read
        chained: dict = {}                   # a copy -> the clones between the fork and it
        for p in clones:
            root, chain = self._io[p][0][0], [p]
            while self._writer[root] in clones:            # through a chain's spare copies
                chain.append(self._writer[root])
                root = self._io[self._writer[root]][0][0]
            copies = [s for s in self._io[p][1] if self._reader[s] not in clones]
            forks.setdefault(root, []).extend(copies)
            chained.update({copy: frozenset(chain) for copy in copies})
        cases: list = []
        for copies in forks.values():
            reach = {copy: self._reach(copy) for copy in copies}
            everywhere = frozenset.intersection(*reach.values())
            branches = {copy: (reach[copy] - everywhere) | chained[copy] for copy in copies}
            for copy in copies:
                needed = any(branches[other] for other in copies if other != copy)
                if needed and branches[copy] not in cases:
                    cases.append(branches[copy])
        return cases

    def _simulate(self, case: frozenset, caps: list, grow: bool) -> list:
        """Runs the network to its end or until it stops; grow: then a fork's copy grows by one
        (caps changes in place) and the run goes on. Returns what the stopped processes wait
        for ([] when all finished)."""
        runs = [self._runs[p][1 if p in case else 0] for p in range(len(self.processes))]
        occ = list(self._initial)
        pos = [0] * len(runs)
        left = [r[0][2] if r else 0 for r in runs]
        pending = list(range(len(runs)))
        waiting = [-1] * len(runs)          # the stream a stopped process waits on (-1: queued)
        neighbours = self._neighbours
        while True:
            while pending:
                p = pending.pop()
                mine, i, n_left, moved = runs[p], pos[p], left[p], False
                while i < len(mine):
                    reads, writes, _ = mine[i]
                    n, limit = n_left, -1
                    for s in reads:
                        if occ[s] < n:
                            n, limit = occ[s], s
                    for s in writes:
                        if caps[s] - occ[s] < n:
                            n, limit = caps[s] - occ[s], s
                    if n > 0:
                        for s in reads:
                            occ[s] -= n
                        for s in writes:
                            occ[s] += n
                        moved = True
                        n_left -= n
                    if n_left:              # `limit` is now empty (a read) or full (a write)
                        waiting[p] = limit
                        break
                    i += 1
                    n_left = mine[i][2] if i < len(mine) else 0
                pos[p], left[p] = i, n_left
                if moved:                   # wake the neighbours that wait on a stream it used
                    for s, q in neighbours[p]:
                        if waiting[q] == s:
                            waiting[q] = -1
                            pending.append(q)
            stuck = self._stuck(runs, pos, occ, caps)
            grown = self._grow(stuck, caps) if stuck and grow else []
            if not grown:
                return [s for waits in stuck.values() for s in waits]
            for writer in {self._writer[s] for s in grown}:
                waiting[writer] = -1
                pending.append(writer)

    def _stuck(self, runs: list, pos: list, occ: list, caps: list) -> dict:
        """{process: what it waits for} of the processes that have not finished."""
        out = {}
        for p, mine in enumerate(runs):
            if pos[p] < len(mine):
                reads, writes, _ = mine[pos[p]]
                out[p] = ([_Stuck(self.processes[p].name, self.streams[s], False, caps[s]) for s in reads if not occ[s]]
                          + [_Stuck(self.processes[p].name, self.streams[s], True, caps[s])
                             for s in writes if occ[s] >= caps[s]])
        return out

    def _grow(self, stuck: dict, caps: list) -> list:
        """When the network stops: the copies that must grow by one for a fork to take its next
        step (grown in `caps`), [] when there are none. A fork that has its input and waits on
        full copies needs each of them to grow, and through a full spare copy, what the chained
        clone needs; each copy must lead, through processes waiting to write, to one that waits
        for data (the merge, waiting for a slower branch) without passing another fork (else
        that fork must grow first). Of several forks, the one with the smallest copy."""
        def reading(p: int) -> bool:
            return any(not wait.full for wait in stuck.get(p, []))

        def full(p: int) -> list:
            return [self._index[wait.stream] for wait in stuck.get(p, []) if wait.full]

        def needs(p: int) -> list | None:
            out: list = []
            for s in full(p):
                r = self._reader[s]
                if self.processes[r].layer is None:             # a spare copy: the chained clone must move
                    more = None if reading(r) else needs(r)
                    if more is None:
                        return None
                    out += more
                    continue
                while r in stuck and not reading(r) and self.processes[r].layer is not None:
                    r = self._reader[full(r)[0]]
                if r not in stuck or not reading(r) or caps[s] >= self.elements[self.streams[s]]:
                    return None
                out.append(s)
            return out

        choices = []
        for p in stuck:
            if p in self._forks and not reading(p):
                grow = needs(p)
                if grow:
                    choices.append((min(caps[s] for s in grow), grow))
        if not choices:
            return []
        grow = min(choices)[1]
        for s in grow:
            caps[s] += 1
        return grow

    def _caps(self, depths: dict) -> list:
        return [_PORT if s in self.ports else depths.get(name, STREAM_DEPTH) for s, name in enumerate(self.streams)]

    def stops(self, depths: dict) -> list:
        """What the processes wait for when the network stops in some case with these depths
        ({stream: depth}, STREAM_DEPTH where absent); [] when it finishes in every case."""
        for case in self.cases:
            stuck = self._simulate(case, self._caps(depths), grow=False)
            if stuck:
                return stuck
        return []

    def finishes(self, depths: dict) -> bool:
        return not self.stops(depths)

    def plan(self) -> dict:
        """{stream: Fifo} for every stream between processes (the top's ports excluded): each
        case grows the copies from the depths the cases before it left, then every case must
        finish with the final depths."""
        depths = {name: STREAM_DEPTH for s, name in enumerate(self.streams) if s not in self.ports}
        for case in self.cases:
            caps = self._caps(depths)
            stuck = self._simulate(case, caps, grow=True)
            if stuck:
                raise self._refusal(stuck)
            depths = {name: caps[self._index[name]] for name in depths}
        stuck = self.stops(depths)
        if stuck:
            raise self._refusal(stuck)
        return {name: Fifo(depth, BRANCH_LAG, self._bound_of(name)) if depth > STREAM_DEPTH else Fifo(depth, DEFAULT)
                for name, depth in depths.items()}

    def _bound_of(self, copy: str) -> int:
        """The largest latency bound among the processes that lag in the case that sizes a
        fork's copy: those off its own branch."""
        s = self._index[copy]
        own: frozenset = next((case for case in self.cases if self._reader[s] in case), frozenset())
        return max((self._bound[p] for p in range(len(self.processes)) if p not in own), default=0)

    def _refusal(self, stuck: list) -> IKRHLSError:
        waits = "; ".join(f"{s.process} waits to {'write' if s.full else 'read'} stream '{s.stream}' "
                          f"({'full' if s.full else 'empty'}, depth {s.depth})" for s in stuck)
        return IKRHLSError(f"{self.graph.source}: io_stream: no FIFO depths could be proven free of deadlock "
                           f"(the model of docs/io_stream.md stops: {waits}); use io_parallel")


def plan_depths(graph: Graph, processes: list, elements: dict, port_in: str, port_out: str,
                mode: str = "model") -> dict:
    """{stream: Fifo}: every stream's depth in an io_stream top (`elements`: every stream,
    ports included, with its elements per inference). mode "full": every stream its whole
    tensor. A graph without a fork is a chain, which cannot deadlock: STREAM_DEPTH everywhere,
    no simulation; a float graph gives its fork copies their whole tensor."""
    streams = [name for name in elements if name not in (port_in, port_out)]
    if mode == "full":
        return {name: Fifo(elements[name], WHOLE) for name in streams}
    copies = {stream for process in processes if process.layer is None for stream in process.writes}
    if not copies:
        return {name: Fifo(STREAM_DEPTH, DEFAULT) for name in streams}
    if not graph.fixed_point or any(t.is_float for layer in graph.layers for t in layer.precision.values()):
        return {name: Fifo(elements[name], WHOLE) if name in copies else Fifo(STREAM_DEPTH, DEFAULT)
                for name in streams}
    return StreamModel(graph, processes, elements, port_in, port_out).plan()
