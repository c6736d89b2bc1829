// ikr-hls 2D pooling over a channels-last (H, W, C) buffer, Keras semantics:
// 'same' padding never contributes (max ignores it, an average multiplies the sum by the
// reciprocal of the valid count, from a table: no divider).
#ifndef IKR_POOL_H_
#define IKR_POOL_H_

namespace ikr {

template <typename in_t, typename out_t, int H, int W, int C, int OH, int OW,
          int PH, int PW, int SH, int SW, int PAD_TOP, int PAD_LEFT>
void max_pool2d(const in_t in[H * W * C], out_t out[OH * OW * C]) {
pool_rows:
    for (int oh = 0; oh < OH; oh++) {
    pool_cols:
        for (int ow = 0; ow < OW; ow++) {
#pragma HLS PIPELINE II=1
        pool_channels:
            for (int c = 0; c < C; c++) {
                bool first = true;
                in_t best = 0;
            pool_window:
                for (int i = 0; i < PH; i++) {
                    for (int j = 0; j < PW; j++) {
                        const int y = oh * SH + i - PAD_TOP;
                        const int x = ow * SW + j - PAD_LEFT;
                        if (y < 0 || y >= H || x < 0 || x >= W) continue;
                        const in_t v = in[(y * W + x) * C + c];
                        if (first || v > best) best = v;
                        first = false;
                    }
                }
                out[(oh * OW + ow) * C + c] = out_t(best);
            }
        }
    }
}

template <typename in_t, typename out_t, typename acc_t, typename recip_t, int H, int W, int C, int OH, int OW,
          int PH, int PW, int SH, int SW, int PAD_TOP, int PAD_LEFT>
void avg_pool2d(const in_t in[H * W * C], out_t out[OH * OW * C], const recip_t recip[PH * PW + 1]) {
pool_rows:
    for (int oh = 0; oh < OH; oh++) {
    pool_cols:
        for (int ow = 0; ow < OW; ow++) {
#pragma HLS PIPELINE II=1
        pool_channels:
            for (int c = 0; c < C; c++) {
                acc_t sum = 0;
                int count = 0;
            pool_window:
                for (int i = 0; i < PH; i++) {
                    for (int j = 0; j < PW; j++) {
                        const int y = oh * SH + i - PAD_TOP;
                        const int x = ow * SW + j - PAD_LEFT;
                        if (y < 0 || y >= H || x < 0 || x >= W) continue;
                        sum += in[(y * W + x) * C + c];
                        count++;
                    }
                }
                out[(oh * OW + ow) * C + c] = out_t(sum * recip[count]);
            }
        }
    }
}

// Global pooling: one pass over the pixels, all channels of a pixel per cycle; an average
// multiplies each channel's sum by the constant 1 / (H * W).
template <typename in_t, typename out_t, typename acc_t, typename recip_t, int H, int W, int C>
void global_avg_pool2d(const in_t in[H * W * C], out_t out[C], const recip_t recip) {
    acc_t sum[C];
#pragma HLS ARRAY_PARTITION variable=sum complete
global_init:
    for (int c = 0; c < C; c++) sum[c] = 0;
global_pixels:
    for (int p = 0; p < H * W; p++) {
#pragma HLS PIPELINE II=1
    global_channels:
        for (int c = 0; c < C; c++) sum[c] += in[p * C + c];
    }
global_result:
    for (int c = 0; c < C; c++) out[c] = out_t(sum[c] * recip);
}

template <typename in_t, typename out_t, int H, int W, int C>
void global_max_pool2d(const in_t in[H * W * C], out_t out[C]) {
    in_t best[C];
#pragma HLS ARRAY_PARTITION variable=best complete
global_init:
    for (int c = 0; c < C; c++) best[c] = in[c];
global_pixels:
    for (int p = 1; p < H * W; p++) {
#pragma HLS PIPELINE II=1
    global_channels:
        for (int c = 0; c < C; c++) {
            if (in[p * C + c] > best[c]) best[c] = in[p * C + c];
        }
    }
global_result:
    for (int c = 0; c < C; c++) out[c] = out_t(best[c]);
}

}  // namespace ikr

#endif
