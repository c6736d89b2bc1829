"""The sliding window that convolutions and poolings share (templates: window.j2, cpp/ikr_window.h):
the input arrives one pixel per step in raster order over the zero-padded grid, line buffers
and a register window hold the last KH rows, and an output pixel is computed where the window
is complete and on the stride grid.

`Window` is the data both the template and the FIFO depth model read: the grid, the condition
on which a step reads a pixel (`inside`: not padding) and the one on which it writes an output
pixel (`valid`), as expressions (ikr_hls/expr.py), and the loop nest they make.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..expr import Expr, Var, all_of, select
from ..loops import LoopNest

Y, X, R = Var("y"), Var("x"), Var("r")
ROW_PHASE, COL_PHASE = Var("row_phase"), Var("col_phase")


@dataclass(frozen=True)
class Window:
    name: str                      # the layer's C++ name (loop labels)
    c: int                         # channels
    kh: int                        # window rows and columns
    kw: int
    sh: int                        # strides
    sw: int
    h: int                         # the image, unpadded
    w: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    cycles: int = 1                # pipelined steps per pixel (a PE strategy's R cycles)
    out_c: int = 0                 # values of an output pixel (0: as many as the input's channels)

    @property
    def gh(self) -> int:
        """Rows of the zero-padded grid the loops walk."""
        return self.h + self.pad_top + self.pad_bottom

    @property
    def gw(self) -> int:
        return self.w + self.pad_left + self.pad_right

    @property
    def padded(self) -> bool:
        return bool(self.pad_top or self.pad_bottom or self.pad_left or self.pad_right)

    @property
    def oh(self) -> int:
        return (self.gh - self.kh) // self.sh + 1

    @property
    def ow(self) -> int:
        return (self.gw - self.kw) // self.sw + 1

    @property
    def in_pixel(self) -> Expr:
        """The input pixel the grid step (y, x) reads, where it is inside the image: an index
        made of the loop variables and constants, so that every access's bank is known when
        the code is compiled (no running counter)."""
        return (Y - self.pad_top) * self.w + (X - self.pad_left)

    @property
    def out_pixel(self) -> Expr:
        """The output pixel the grid step (y, x) writes, where the window is valid."""
        return (Y - (self.kh - 1)) // self.sh * self.ow + (X - (self.kw - 1)) // self.sw

    def in_element(self, channel: str = "ci") -> Expr:
        """Channel `channel` (a loop variable of the step) of the step's input pixel, in the
        flat input buffer of C values a pixel."""
        return self.in_pixel * self.c + Var(channel)

    def out_element(self, value) -> Expr:
        """Value `value` (a constant, or the name of a loop variable of the step) of the step's
        output pixel, in the flat output buffer."""
        return self.out_pixel * (self.out_c or self.c) + (Var(value) if isinstance(value, str) else value)

    @property
    def inside(self) -> Expr:
        """The grid step (y, x) is an image pixel, not padding: the step reads the input."""
        return all_of(Y >= self.pad_top if self.pad_top else None,
                      Y < self.pad_top + self.h if self.pad_bottom else None,
                      X >= self.pad_left if self.pad_left else None,
                      X < self.pad_left + self.w if self.pad_right else None)

    @property
    def valid(self) -> Expr:
        """The window is complete and on the stride grid: the step writes an output pixel."""
        return all_of(Y >= self.kh - 1 if self.kh > 1 else None,
                      X >= self.kw - 1 if self.kw > 1 else None,
                      ROW_PHASE.eq(0) if self.sh > 1 else None,
                      COL_PHASE.eq(0) if self.sw > 1 else None)

    def counters(self) -> tuple:
        """The stride phase counters (window.j2's phase_updates) as closed forms: each counts
        modulo its stride from the window's first complete row (column), the column phase
        restarting with every row."""
        out = []
        if self.sh > 1:
            out.append(("row_phase", select(Y >= self.kh - 1, (Y - (self.kh - 1)) % self.sh, 0)))
        if self.sw > 1:
            out.append(("col_phase", select(X >= self.kw - 1, (X - (self.kw - 1)) % self.sw, 0)))
        return tuple(out)

    def control_compares(self, stream: bool = False) -> int:
        """Comparisons of the loop variables and counters that window.j2 writes: the `inside`
        condition of a padded grid, the `valid` one, the phase updates (three each), and with
        several cycles a pixel the cycle decodes (the read's `r == 0`, the updates' and the
        io_stream write's `r == R-1`)."""
        from ..hardware import comparisons

        many = self.cycles > 1
        phases = (self.sw > 1) + (self.sh > 1)
        return (comparisons(self.inside) if self.padded else 0) + comparisons(self.valid) + phases * (3 + many) \
            + many + (many and stream)

    def nest(self) -> LoopNest:
        """The grid in raster order, `cycles` steps a pixel: the pixel's first cycle reads it
        when inside the image, its last writes the output when the window is valid."""
        loops: tuple = (("y", self.gh), ("x", self.gw))
        reads, writes = self.inside, self.valid
        if self.cycles > 1:
            loops += (("r", self.cycles),)
            reads, writes = all_of(reads, R.eq(0)), all_of(writes, R.eq(self.cycles - 1))
        return LoopNest(loops, reads, writes, self.counters())
