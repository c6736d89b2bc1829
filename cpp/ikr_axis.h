// ikr-hls io_stream with AXI4-Stream side channels (side_channels=True): the top's ports carry
// ap_axiu packets, so that an AXI DMA can feed the accelerator and know where a frame ends.
// One packet is one stream element (a pixel's channels, or a whole vector): value i of the
// element in TDATA bits [i * W, (i + 1) * W) for a W-bit type, the rest up to a whole byte
// zero; TKEEP and TSTRB all ones; TLAST on the last packet of a frame. The input's TLAST is
// not read: a frame is a fixed number of packets.
//
// Vitis HLS (synthesis, and csim with -DIKR_VITIS_HLS_STREAM) uses its own ap_axi_sdata.h.
// Elsewhere (the host model, `ikr-hls csim` under g++), the small ap_axiu below holds the
// members the code uses (data, keep, strb, last), as UG1399 describes them.
#ifndef IKR_AXIS_H_
#define IKR_AXIS_H_

#include "ap_int.h"
#include "ikr_stream.h"

#if defined(__SYNTHESIS__) || defined(IKR_VITIS_HLS_STREAM)
#include "ap_axi_sdata.h"
#else
template <int D, int U, int TI, int TD>
struct ap_axiu {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<1> last;
};
#endif

namespace ikr {

// An element's values into a packet's TDATA (and back): bit slices, no arithmetic.
template <typename P, typename T, int N>
void axis_pack(const array<T, N> &element, P &packet) {
#pragma HLS INLINE
    packet.data = 0;
    pack_values: for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        const ap_uint<T::width> bits = element[i].range(T::width - 1, 0);
        packet.data.range((i + 1) * T::width - 1, i * T::width) = bits;
    }
    packet.keep = -1;
    packet.strb = -1;
}

template <typename P, typename T, int N>
void axis_unpack(const P &packet, array<T, N> &element) {
#pragma HLS INLINE
    unpack_values: for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        const ap_uint<T::width> bits = packet.data.range((i + 1) * T::width - 1, i * T::width);
        element[i].range(T::width - 1, 0) = bits;
    }
}

// The wrapper's first process: a frame of ELEMENTS packets into the network's element stream.
template <int ELEMENTS, typename P, typename T, int N>
void axis_to_stream(hls::stream<P> &in, hls::stream<array<T, N> > &out) {
#pragma HLS INLINE off
    frame_in: for (int e = 0; e < ELEMENTS; e++) {
#pragma HLS PIPELINE II=1
        const P packet = in.read();
        array<T, N> element;
#pragma HLS AGGREGATE variable=element
        axis_unpack(packet, element);
        out.write(element);
    }
}

// The wrapper's last process: the network's elements into packets, TLAST on the frame's last.
template <int ELEMENTS, typename P, typename T, int N>
void stream_to_axis(hls::stream<array<T, N> > &in, hls::stream<P> &out) {
#pragma HLS INLINE off
    frame_out: for (int e = 0; e < ELEMENTS; e++) {
#pragma HLS PIPELINE II=1
        P packet;
        axis_pack(in.read(), packet);
        packet.last = e == ELEMENTS - 1;
        out.write(packet);
    }
}

}  // namespace ikr

#endif
