"""The buffers of the top function (the DATAFLOW region), who writes and reads each, and how
each is partitioned so that both sides have the ports they need.

Each layer writes its own buffer (the last one writes `output`). A buffer read by more than
one layer is copied once per reader (ikr::clone2/clone3), so that every buffer has one
producer and one consumer, as Vitis HLS requires.

Partitions (hardware.py): a layer reads and writes `lanes` elements per step (a pixel's
channels, or a whole vector). A buffer is partitioned cyclically into as many banks as the
larger side's lanes when one side's lanes divide the other's (each bank is then accessed once
a step by each side), otherwise completely; a complete partition of more than
COMPLETE_PARTITION_LIMIT elements is refused (io_stream refuses a gather of as many, passes.py).

io_stream: every buffer is an hls::stream of ikr::array elements, as wide as its producer's
StreamIO says (passes.plan_streams: a pixel, a whole vector, or the input's width for an
elementwise layer).
FIFO depths (stream_depths.py): 2 (Vitis's default) between a producer and its only reader;
the copies of a stream read by several layers (a fork that merges again, e.g. a residual Add)
as deep as the lag of the other branches needs, from a simulation of the processes' reads and
writes that then proves, with those depths, that every process finishes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import IKRHLSError
from .hardware import COMPLETE_PARTITION_LIMIT
from .ir import INPUT, Graph
from .kinds import kind_of
from .kinds.base import pixel_lanes
from .precision import HLSTypeLike
from .stream_depths import DEFAULT, STREAM_DEPTH, Process, plan_depths

CLONE_WAYS = 3                              # widest clone in cpp/ikr_clone.h


@dataclass(frozen=True)
class Partition:
    """How a buffer is split: "complete" (registers) or "cyclic" into `factor` banks."""
    scheme: str
    factor: int

    def pragma(self, variable: str, directive: str = "ARRAY_PARTITION") -> str:
        """The pragma that partitions (or reshapes) `variable` so, or "" for one bank."""
        if self.scheme == "cyclic" and self.factor == 1:
            return ""
        if self.scheme == "complete":
            return f"#pragma HLS {directive} variable={variable} complete dim=0"
        return f"#pragma HLS {directive} variable={variable} cyclic factor={self.factor} dim=1"


@dataclass(frozen=True)
class BufferType:
    """The type of a buffer's values: the typedef the code names it by, and what it is."""
    typedef: str
    hls: HLSTypeLike


@dataclass
class Buffer:
    name: str
    type: BufferType
    size: int
    shape: tuple
    writer: str | None = None               # layer or clone writing it (None: the caller, for `input`)
    reader: str | None = None               # layer or clone reading it (None: the caller, for `output`)
    read_position: int = 0                  # the reader layer's input it is
    write_lanes: int | None = None
    read_lanes: int | None = None
    partition: Partition = field(default_factory=lambda: Partition("complete", 0))   # set by Wiring
    what: str = ""                          # for messages: which layer's input or output it is
    width: int = 0                          # io_stream: values per stream element
    depth: int = STREAM_DEPTH               # io_stream: FIFO depth in elements; io_parallel: ping-pong slots
    why: str = DEFAULT                      # io_stream: "default", "branch lag" (a fork's copy), "whole tensor"
    bound: int = 0                          # io_stream, a fork's copy: the latency bound it was sized for


class Wiring:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.stream = graph.io_type == "io_stream"
        last = graph.layers[-1].name
        self._types = {INPUT: BufferType("input_t", graph.input_type),
                       **{l.name: BufferType(f"{l.name}_result_t", l.precision["result"]) for l in graph.layers}}
        self._sizes = {INPUT: graph.input_size, **{l.name: l.out_size for l in graph.layers}}
        self._shapes = {INPUT: tuple(graph.input_shape), **{l.name: tuple(l.out_shape) for l in graph.layers}}
        self._own = {INPUT: "input", **{l.name: "output" if l.name == last else f"{l.name}_out"
                                        for l in graph.layers}}
        reads: dict = {}                    # producer -> [(reader, position)]
        for layer in graph.layers:
            for position, name in enumerate(layer.inputs):
                reads.setdefault(name, []).append((layer.name, position))
        self._read_buffer: dict = {}        # (reader, position) -> buffer name
        self.clones: dict = {}              # producer -> [copy buffer names]
        for producer, readers in reads.items():
            if len(readers) == 1:
                self._read_buffer[readers[0]] = self._own[producer]
                continue
            copies = []
            for reader, position in readers:
                twice = sum(r == reader for r, _ in readers) > 1
                copy = f"{self._own[producer]}_to_{reader}" + (f"_{position}" if twice else "")
                self._read_buffer[(reader, position)] = copy
                copies.append(copy)
            self.clones[producer] = copies
        self.has_clones = bool(self.clones)
        self.all: dict[str, Buffer] = {}    # every buffer, top-level ports included
        for name in [INPUT] + [l.name for l in graph.layers]:
            self._add(self._own[name], name, writer=None if name == INPUT else name)
        self._extra: dict = {}              # producer -> its spare and copy buffers, in order
        self._clone_calls = {p: self._clone_chain(p, copies) for p, copies in self.clones.items()}
        for layer in graph.layers:
            for position in range(len(layer.inputs)):
                self.all[self._read_buffer[(layer.name, position)]].reader = layer.name
                self.all[self._read_buffer[(layer.name, position)]].read_position = position
        self.buffers = []                   # declared next to their producer, in graph order
        for name in [INPUT] + [l.name for l in graph.layers]:
            if name not in (INPUT, last):
                self.buffers.append(self.all[self._own[name]])
            self.buffers.extend(self._extra.get(name, []))
        if self.stream:
            self._stream_widths()
        else:
            for buffer in self.all.values():
                self._partition(buffer)
            self._pingpong_depths()

    def _pingpong_depths(self) -> None:
        """io_parallel: a buffer between processes is a ping-pong channel of two slots, enough
        when its reader runs right after its writer. A buffer that skips processes (a residual's
        skip copy, read by the Add after the other branch's layers) holds a frame for every
        process on the longest path from its writer to its reader, and one more for the frame
        being written: depth = that path's length in channels + 1, so that frames keep entering
        at the DATAFLOW interval."""
        processes = self.processes()
        writer = {s: p.name for p in processes for s in p.writes}
        readers: dict = {}
        for p in processes:
            for s in p.reads:
                readers.setdefault(writer.get(s), []).append((p.name, s))
        longest: dict = {}                  # (from, to) -> channels on the longest path between them

        def reach(start: str) -> dict:
            if start not in longest:
                out: dict = {}
                for name, _ in readers.get(start, []):
                    out[name] = max(out.get(name, 0), 1)
                    for far, length in reach(name).items():
                        out[far] = max(out.get(far, 0), length + 1)
                longest[start] = out
            return longest[start]

        for buffer in self.buffers:
            if buffer.writer is not None and buffer.reader is not None:
                buffer.depth = max(2, reach(buffer.writer).get(buffer.reader, 1) + 1)

    def _add(self, name: str, producer: str, writer: str | None) -> Buffer:
        buffer = Buffer(name, self._types[producer], self._sizes[producer], self._shapes[producer], writer=writer)
        self.all[name] = buffer
        return buffer

    def type_of(self, name: str) -> BufferType:
        return self._types[name]

    def output_of(self, name: str) -> str:
        return self._own[name]

    def _clone_chain(self, producer: str, copies: list) -> list:
        """Calls that copy the producer's buffer into every copy (chained past three readers)."""
        t, n = self._types[producer], self._sizes[producer]
        lanes = pixel_lanes(self._shapes[producer])
        extra = self._extra.setdefault(producer, [])
        copy_buffers = [self._add(copy, producer, writer=None) for copy in copies]
        source, pending = self._own[producer], list(copies)
        calls: list[dict] = []
        while len(pending) > CLONE_WAYS:    # two copies now, the others from a spare copy
            clone = f"clone{len(calls)}_of_{source}"
            spare = f"{self._own[producer]}_spare{len(calls) + 1}"
            extra.append(self._add(spare, producer, writer=clone))
            outs, pending = pending[:CLONE_WAYS - 1], pending[CLONE_WAYS - 1:]
            calls.append(_call(f"ikr::clone{CLONE_WAYS}", [source, *outs, spare], [t.typedef, n, lanes]))
            self._clone_io(clone, source, [*outs, spare], lanes)
            source = spare
        clone = f"clone{len(calls)}_of_{source}"
        calls.append(_call(f"ikr::clone{len(pending)}", [source, *pending], [t.typedef, n, lanes]))
        extra.extend(copy_buffers)                  # declared after the spares, in reader order
        self._clone_io(clone, source, pending, lanes)
        return calls

    def _clone_io(self, clone: str, source: str, outs: list, lanes: int) -> None:
        self.all[source].reader = clone
        self.all[source].read_lanes = lanes
        for out in outs:
            self.all[out].writer = clone
            self.all[out].write_lanes = lanes

    def _partition(self, buffer: Buffer) -> None:
        layers = {layer.name: layer for layer in self.graph.layers}
        if buffer.writer in layers and buffer.write_lanes is None:
            buffer.write_lanes = kind_of(layers[buffer.writer]).lanes_of(layers[buffer.writer])[1]
        if buffer.reader in layers and buffer.read_lanes is None:
            reader = layers[buffer.reader]
            buffer.read_lanes = kind_of(reader).read_lanes_of(reader, buffer.read_position)
        lanes = [n for n in (buffer.write_lanes, buffer.read_lanes) if n is not None]
        big, small = max(lanes), min(lanes)
        factor = big if big % small == 0 else buffer.size
        buffer.partition = (Partition("complete", buffer.size) if factor >= buffer.size
                            else Partition("cyclic", factor))
        self._describe(buffer)
        if buffer.partition.scheme == "complete" and buffer.size > COMPLETE_PARTITION_LIMIT:
            raise IKRHLSError(f"{self.graph.source}: {buffer.what}: its buffer {buffer.name} of {buffer.size} values "
                              f"would be as many registers, over io_parallel's limit of {COMPLETE_PARTITION_LIMIT} "
                              "(a layer that reads or writes a buffer whole needs it completely partitioned); "
                              "reduce it before that layer (pooling)")

    def _stream_widths(self) -> None:
        """io_stream: each stream's element width (the layers' StreamIO, from the passes) and
        FIFO depth."""
        graph = self.graph
        self.widths = {INPUT: pixel_lanes(graph.input_shape),
                       **{layer.name: layer.stream.out_width for layer in graph.layers}}
        for producer in [INPUT] + [l.name for l in graph.layers]:
            for name in [self._own[producer]] + [b.name for b in self._extra.get(producer, [])]:
                self.all[name].width = self.widths[producer]
        fifos = plan_depths(graph, self.processes(), self.stream_elements(), "input", self._own[graph.layers[-1].name],
                            graph.fifo_depth)
        for name, fifo in fifos.items():
            self.all[name].depth, self.all[name].why, self.all[name].bound = fifo.depth, fifo.why, fifo.bound
        for buffer in self.all.values():
            self._describe(buffer)

    def stream_elements(self) -> dict:
        """io_stream: {stream: elements per inference} of every stream, the top's ports included."""
        return {name: buffer.size // buffer.width for name, buffer in self.all.items()}

    def processes(self) -> list:
        """The processes of the DATAFLOW region in call order (stream_depths.Process): every
        layer, and every clone with the buffer it copies and its copies."""
        out = []
        for layer in [None, *self.graph.layers]:
            producer = INPUT if layer is None else layer.name
            if layer is not None:
                reads = tuple(self._read_buffer[(producer, i)] for i in range(len(layer.inputs)))
                out.append(Process(producer, reads, (self._own[producer],), layer))
            for call in self._clone_calls.get(producer, []):
                source, *copies = call["args"]
                out.append(Process(str(self.all[copies[0]].writer), (source,), tuple(copies)))
        return out

    def _describe(self, buffer: Buffer) -> None:
        """buffer.what, for messages: the layer that reads it (or writes it)."""
        layers = {layer.name: layer for layer in self.graph.layers}
        reader = layers.get(buffer.reader or "") or layers.get(buffer.writer or "")
        buffer.what = f"layer '{reader.keras_name}'" if reader is not None else buffer.name

    def width_of(self, name: str) -> int:
        """io_stream: the element width of the stream `name` (a producer) writes."""
        return self.widths[name]

    def read_width(self, layer, position: int) -> int:
        """io_stream: the element width of the stream a layer reads at input `position`."""
        return self.all[self._read_buffer[(layer.name, position)]].width

    def clone_steps(self) -> dict:
        """{producer: [(elements, lanes) of each copy process]} of the buffers read twice."""
        return {p: [(self._sizes[p], self.widths[p] if self.stream else pixel_lanes(self._shapes[p]))] * len(calls)
                for p, calls in self._clone_calls.items()}

    def calls(self, views: list) -> list:
        """The statements of the top function, in order, each with a comment (views: the
        layers' render views, in graph order)."""
        out = [dict(self._clone_form(c), comment=f"the input is read {len(self.clones[INPUT])} times")
               for c in self._clone_calls.get(INPUT, [])]
        for layer, view in zip(self.graph.layers, views, strict=True):
            args = [self._read_buffer[(layer.name, i)] for i in range(len(layer.inputs))]
            out.append(dict(_call(layer.name, [*args, self._own[layer.name]]), comment=view["summary"]))
            out.extend(dict(self._clone_form(c), comment=f"{layer.name}'s output is read "
                            f"{len(self.clones[layer.name])} times") for c in self._clone_calls.get(layer.name, []))
        return out

    def _clone_form(self, call: dict) -> dict:
        """io_stream copies elements of a stream (cpp/ikr_clone_stream.h): <type, width, elements>."""
        if not self.stream:
            return call
        source = self.all[call["args"][0]]
        return _call(call["function"].replace("ikr::clone", "ikr::clone_stream"), call["args"],
                     [source.type.typedef, source.width, source.size // source.width])


def _call(function: str, args: list, template_args=()) -> dict:
    """A call of the top function: `function<template_args>(args);` (rendered by top.cpp.j2)."""
    return dict(function=function, template_args=[str(a) for a in template_args], args=args)
