// ikr-hls sliding windows over a channels-last image that arrives one pixel per step in raster
// order (padding included: the caller feeds zeros there). Convolutions and poolings read
// their taps from the window's registers at constant positions, so no tap needs a multiplexer.
//
// Line buffers hold the last KH-1 rows, one RAM of depth PW per (row, channel) when the caller
// partitions dims 1 and 3 completely: each step reads and writes one element of each RAM,
// at the same column (2 ports: one read, one write). The window holds KH x KW x C registers.
#ifndef IKR_WINDOW_H_
#define IKR_WINDOW_H_

// On the host a shifting window costs a copy per register and per pixel, more than the
// products of a pruned layer (docs/BENCHMARKS.md, issue 15). The Python host model's build
// (-DIKR_HOST_WINDOWS, given by ikr_hls/hostbuild.py and by nothing else) therefore reads the
// window's values from a zero-padded copy of the input instead: HostWindow below gives
// window[i][j][c] the value the registers hold at the same step, with no copy per step, and
// skips the pixel read and the line buffers (window.j2). Every other build (Vitis csim, cosim,
// synthesis, `ikr-hls csim`) compiles the line buffers and registers that Vitis synthesizes;
// tests/test_host_windows.py checks that both give the same outputs.
#if !defined(__SYNTHESIS__) && defined(IKR_HOST_WINDOWS)
#include <vector>
#endif

namespace ikr {

// The column entering the window at image column x: rows 0..KH-2 from the line buffers, the
// bottom row is the new pixel; the line buffers move up one row at column x.
template <typename T, int KH, int PW, int C>
void line_buffer_step(T lines[KH - 1][PW][C], int x, const T pixel[C], T column[KH][C]) {
#pragma HLS INLINE
line_read:
    for (int r = 0; r < KH - 1; r++) {
        for (int c = 0; c < C; c++) column[r][c] = lines[r][x][c];
    }
line_pixel:
    for (int c = 0; c < C; c++) column[KH - 1][c] = pixel[c];
line_write:
    for (int r = 0; r < KH - 1; r++) {
        for (int c = 0; c < C; c++) lines[r][x][c] = column[r + 1][c];
    }
}

// Shift the window one column left and put `column` in its last column.
template <typename T, int KH, int KW, int C>
void window_shift(T window[KH][KW][C], const T column[KH][C]) {
#pragma HLS INLINE
window_rows:
    for (int r = 0; r < KH; r++) {
        for (int j = 0; j < KW - 1; j++) {
            for (int c = 0; c < C; c++) window[r][j][c] = window[r][j + 1][c];
        }
        for (int c = 0; c < C; c++) window[r][KW - 1][c] = column[r][c];
    }
}

#ifdef IKR_HOST_WINDOWS
// The window over a (GH x GW) grid of C channels, read from a zero-padded copy of the
// (H x W) input made once per call. After the pixel at grid (y, x) has entered (its shift),
// window[i][j] is grid pixel (y - KH + 1 + i, x - KW + 1 + j), as the registers hold it.
template <typename T, int KH, int KW, int C, int GH, int GW>
struct HostWindow {
    std::vector<T> grid;
    long origin = -((KH - 1) * GW + KW) * C;  // element offset of window[0][0] (read only once complete)

    HostWindow(const T *in, int h, int w, int pad_top, int pad_left) : grid(GH * GW * C, T(0)) {
        for (int r = 0; r < h; r++)
            for (int k = 0; k < w * C; k++) grid[((r + pad_top) * GW + pad_left) * C + k] = in[r * w * C + k];
    }
    // row i of the window: its KW pixels of C values
    const T (*operator[](int i) const)[C] {
        return reinterpret_cast<const T (*)[C]>(grid.data() + origin + i * GW * C);
    }
    // the next grid pixel enters: the window moves one pixel on (the grid's rows are
    // contiguous, so from a row's last pixel to the next row's first is one pixel too)
    void next() { origin += C; }
};
#endif  // IKR_HOST_WINDOWS

}  // namespace ikr

#endif
