"""io_stream with AXI4-Stream side channels (side_channels=True): the top `<project>_axi` wraps
the network's DATAFLOW region between two processes that turn ap_axiu packets (TDATA, TKEEP,
TSTRB, TLAST) into stream elements and back (cpp/ikr_axis.h), so that an AXI DMA can feed the
accelerator. This module decides the packets' shape once, for the code, the testbench and the
report: one packet per element, the element's values side by side in TDATA, whole bytes."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import IKRHLSError
from .hardware import CLONE_DEPTH, bits
from .ir import Graph

AP_UINT_MAX_BITS = 1024          # ap_uint's widest type unless AP_INT_MAX_W is raised before every include


@dataclass(frozen=True)
class AxisPort:
    """One side of the wrapper: the top's packet stream and the network's element stream."""
    port: str                    # "input" or "output": the wrapper's argument
    stream: str                  # the element stream between the adapter and the network
    typedef: str                 # the packet type in defines.h
    values: int                  # values per element (and per packet)
    value_bits: int              # bits of one value
    elements: int                # packets per frame

    @property
    def data_bits(self) -> int:
        """TDATA width: the values side by side, padded to whole bytes (AXI4-Stream's rule)."""
        return -(-self.values * self.value_bits // 8) * 8

    @property
    def latency(self) -> int:
        """Cycles of the adapter's loop per frame: one packet a cycle, a read and a write deep."""
        return self.elements + CLONE_DEPTH


def axis_ports(graph: Graph) -> tuple[AxisPort, AxisPort]:
    """(input, output) of an io_stream graph's AXI wrapper; IKRHLSError when its ports cannot
    be packed: floating-point values (TDATA carries bits of fixed-point types here) or an
    element wider than ap_uint allows."""
    wiring = graph.plan.wiring
    ports = []
    for port, stream, typedef in (("input", "input_elements", "input_axis_t"),
                                  ("output", "output_elements", "result_axis_t")):
        buffer = wiring.all[port]
        if buffer.type.hls.is_float:
            raise IKRHLSError(f"{graph.source}: side_channels: the {port} is {buffer.type.hls.cpp}; AXI4-Stream "
                              "side channels pack fixed-point values (give an ap_fixed precision)")
        axis = AxisPort(port, stream, typedef, buffer.width, bits(buffer.type.hls), buffer.size // buffer.width)
        if axis.data_bits > AP_UINT_MAX_BITS:
            raise IKRHLSError(f"{graph.source}: side_channels: an {port} element of {axis.values} x "
                              f"{axis.value_bits} bits is wider than ap_uint's {AP_UINT_MAX_BITS} bits")
        ports.append(axis)
    return ports[0], ports[1]
