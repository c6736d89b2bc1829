// ikr-hls sliding windows over a channels-last image that arrives one pixel per step in raster
// order (padding included: the caller feeds zeros there). Convolutions and poolings read
// their taps from the window's registers at constant positions, so no tap needs a multiplexer.
//
// Line buffers hold the last KH-1 rows, one RAM of depth PW per (row, channel) when the caller
// partitions dims 1 and 3 completely: each step reads and writes one element of each RAM,
// at the same column (2 ports: one read, one write). The window holds KH x KW x C registers.
#ifndef IKR_WINDOW_H_
#define IKR_WINDOW_H_

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

}  // namespace ikr

#endif
