"""A layer's pipelined loop nest as data: its loops, the counters it keeps, and the conditions
on which a step reads its input stream and writes its output.

The kinds build it from the same expressions their templates print (ikr_hls/expr.py); the FIFO
depth model (stream_depths.py) evaluates it with numpy, step by step in raster order.
Counters (a stride's row phase, ...) are registers the code increments; the nest states each
one's value at every step as an expression of the loop variables, its closed form.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .expr import TRUE, Expr, evaluate


@dataclass(frozen=True)
class LoopNest:
    loops: tuple                   # ((variable, trip count), ...), outermost first
    reads: Expr = TRUE             # a step reads one element of each input stream
    writes: Expr = TRUE            # a step writes one element of the output stream
    counters: tuple = ()           # ((name, value as an Expr of the loop variables), ...)
    # inputs read on conditions of their own (a Multiply's vector, read once): one Expr per
    # input, in the layer's input order, instead of `reads`
    input_reads: tuple = ()

    @property
    def steps(self) -> int:
        return int(np.prod([trips for _, trips in self.loops], dtype=np.int64))

    @property
    def shape(self) -> tuple:
        return tuple(trips for _, trips in self.loops)

    def env(self) -> dict:
        """Every loop variable and counter at every step, as arrays broadcast over the nest."""
        n = len(self.loops)
        env: dict = {}
        for axis, (var, trips) in enumerate(self.loops):
            shape = [1] * n
            shape[axis] = trips
            env[var] = np.arange(trips).reshape(shape)
        for name, value in self.counters:
            env[name] = evaluate(value, env)
        return env

    def mask(self, condition: Expr) -> np.ndarray:
        """Whether `condition` holds, per step in execution order (flat)."""
        return np.broadcast_to(evaluate(condition, self.env()), self.shape).ravel().astype(bool)

    def stream_steps(self) -> tuple:
        """(read, write): per step, whether it reads its input stream(s) and writes its output;
        with input_reads, read has a row per input."""
        if self.input_reads:
            return np.stack([self.mask(condition) for condition in self.input_reads]), self.mask(self.writes)
        return self.mask(self.reads), self.mask(self.writes)
