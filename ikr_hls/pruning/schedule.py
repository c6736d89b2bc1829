"""Pruning schedules, with tfmot's names: when masks are recomputed, and how far (0 to 1) the
sparsity has gone towards the layer targets at a step.

    PolynomialDecay(begin_step, end_step, frequency, power)   gradual, like tfmot's
    ConstantSparsity(begin_step, end_step, frequency)         the targets at once, from begin_step

A schedule answers fraction(step), last_update(step) (the latest update step <= step) and
finished(last_update) (the targets are reached and no update is left).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import IKRHLSError


class PolynomialDecay:
    """tfmot's PolynomialDecay from sparsity 0 to a target, power 3 by default.

    sparsity(step) = final * (1 - (1 - p)**power),  p = (step - begin) / (end - begin) in [0, 1].
    Masks are recomputed at steps where (step - begin) % frequency == 0 inside [begin, end],
    and also at `end` itself, so the target is reached even when end - begin is not a multiple
    of the frequency (tfmot would stop short). After `end` the final value holds.
    `end_step=None` means end = begin: everything is pruned at `begin_step` at once.
    """

    def __init__(self, begin_step: int = 0, end_step: int | None = None, frequency: int = 100,
                 power: int = 3):
        for key, value in (("begin_step", begin_step), ("frequency", frequency), ("power", power)):
            _check_int(key, value, minimum=1 if key != "begin_step" else 0)
        end_step = begin_step if end_step is None else end_step
        _check_int("end_step", end_step, minimum=0)
        if end_step < begin_step:
            raise IKRHLSError(f"end_step={end_step} is before begin_step={begin_step}")
        self.begin_step, self.end_step, self.frequency, self.power = begin_step, end_step, frequency, power

    def fraction(self, step: int) -> float:
        """How far the sparsity is from 0 (0.0) to its final value (1.0) at `step`."""
        if step < self.begin_step:
            return 0.0
        if step >= self.end_step:
            return 1.0
        p = (step - self.begin_step) / (self.end_step - self.begin_step)
        return 1.0 - (1.0 - p) ** self.power

    def sparsity(self, step: int, final: float) -> float:
        return final * self.fraction(step)

    def is_update_step(self, step: int) -> bool:
        inside = self.begin_step <= step <= self.end_step
        return inside and ((step - self.begin_step) % self.frequency == 0 or step == self.end_step)

    def last_update(self, step: int) -> int | None:
        """The latest update step <= `step` (None before begin): lets the callback catch up when
        steps advance by more than one per call (steps_per_execution > 1)."""
        if step < self.begin_step:
            return None
        if step >= self.end_step:
            return self.end_step
        return self.begin_step + (step - self.begin_step) // self.frequency * self.frequency

    def finished(self, last_update: int | None) -> bool:
        """The targets are reached: the update at end_step has happened."""
        return last_update == self.end_step


def keep_at(fraction: float, target: int, size: int) -> int:
    """keep for a KH*KW = `size` kernel when the schedule is `fraction` of the way to `target`:
    round-half-up of size * (1 - sparsity), sparsity going to 1 - target/size; never below target."""
    sparsity = (1.0 - target / size) * fraction
    return max(target, min(size, math.floor(size * (1.0 - sparsity) + 0.5)))


def count_to_prune(sparsity: float, total: int) -> int:
    return min(total, math.floor(sparsity * total + 0.5))



class ConstantSparsity:
    """tfmot's ConstantSparsity: the targets from `begin_step` on, masks recomputed every
    `frequency` steps until `end_step` (-1: until training ends).

    fraction(step) = 0 before begin_step, 1 from it on."""

    def __init__(self, begin_step: int = 0, end_step: int = -1, frequency: int = 100):
        _check_int("begin_step", begin_step, minimum=0)
        _check_int("frequency", frequency, minimum=1)
        if isinstance(end_step, bool) or not isinstance(end_step, int) or (end_step != -1 and end_step < begin_step):
            raise IKRHLSError(f"end_step={end_step!r}: must be -1 (no end) or a step >= begin_step={begin_step}")
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency

    def fraction(self, step: int) -> float:
        return 0.0 if step < self.begin_step else 1.0

    def last_update(self, step: int) -> int | None:
        if step < self.begin_step:
            return None
        if self.end_step != -1 and step >= self.end_step:
            step = self.end_step
        return self.begin_step + (step - self.begin_step) // self.frequency * self.frequency

    def finished(self, last_update: int | None) -> bool:
        return last_update is not None


def _check_int(key, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise IKRHLSError(f"{key}={value!r}: must be an integer >= {minimum}")
