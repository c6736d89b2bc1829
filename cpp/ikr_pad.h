// ikr-hls zero padding of a channels-last (H, W, C) buffer, so that a 'same' convolution
// reads every tap at a constant offset without bounds checks.
#ifndef IKR_PAD_H_
#define IKR_PAD_H_

namespace ikr {

template <typename in_t, typename out_t, int H, int W, int C, int PT, int PB, int PL, int PR>
void zero_pad2d(const in_t in[H * W * C], out_t out[(H + PT + PB) * (W + PL + PR) * C]) {
    const int PW = W + PL + PR;
pad_rows:
    for (int y = 0; y < H + PT + PB; y++) {
    pad_cols:
        for (int x = 0; x < PW; x++) {
#pragma HLS PIPELINE II=1
        pad_channels:
            for (int c = 0; c < C; c++) {
                const bool inside = y >= PT && y < PT + H && x >= PL && x < PL + W;
                out[(y * PW + x) * C + c] = inside ? out_t(in[((y - PT) * W + (x - PL)) * C + c]) : out_t(0);
            }
        }
    }
}

}  // namespace ikr

#endif
