"""The Keras callback IKRPruning (gradual pruning during fit) and prune_once (one shot)."""
from __future__ import annotations

import logging

import keras
import numpy as np

from ..errors import IKRHLSError
from .masks import layer_mask, read
from .options import LayerPlan, PruningOptions
from .schedule import PolynomialDecay
from .workers import agreed_kernels

log = logging.getLogger("ikr_hls.pruning")


class IKRPruning(keras.callbacks.Callback):
    """Gradual IKR pruning during `fit`; the model stays a plain Keras model.

    keep:            patterns keep this many of the KH*KW positions of every conv kernel
                     (int, or dict by layer name; None: no intra-kernel pruning).
    library_size:    at most this many patterns per layer (default 8: a 3-bit index per kernel).
    dense_sparsity:  fraction of each Dense kernel's weights removed by magnitude (float or dict).
    kernel_sparsity: fraction of whole conv kernels removed, weakest first (float or dict).
    schedule:        when to prune: PolynomialDecay(begin_step, end_step, frequency, power) or
                     ConstantSparsity(begin_step, end_step, frequency), in optimizer steps (batches).
    begin_step, end_step, frequency: the keyword form of PolynomialDecay (power 3), when no
                     schedule is given; end_step=None prunes everything at begin_step.
    layers:          list of names or predicate(layer); default every Dense and every Conv2D,
                     DepthwiseConv2D or SeparableConv2D (its depthwise kernel) larger than 1x1,
                     the output layer included.
    library:         "refine" (default), "all", a list of patterns, or a dict of these by layer.
    force_center:    every pattern keeps the kernel centre (odd kernel sizes only).
    relative_steps:  False (default, like tfmot): steps are the optimizer's; True: steps count
                     from the optimizer's step when this callback's first fit begins.

    Steps are counted by `model.optimizer.iterations`, like tfmot (unless relative_steps): a
    reloaded or already trained model starts past 0, and on_train_begin warns when that is
    past the schedule's begin_step (its updates up to there would happen at once). Masks are recomputed at each
    schedule update (on_train_batch_begin) and re-applied after every batch and at the end of
    training, by `variable.assign(kernel * mask)`, which also works under tf.distribute; under a
    multi-worker strategy the masks come from the kernels averaged over the workers, so that every
    worker prunes the same weights (workers.py).
    `history` lists (step, {layer: info}) for each update.
    """

    def __init__(self, keep=None, library_size=8, dense_sparsity=0.0, kernel_sparsity=0.0,
                 begin_step=None, end_step=None, frequency=None, layers=None, library="refine",
                 force_center=False, schedule=None, relative_steps=False):
        super().__init__()
        if not isinstance(relative_steps, bool):
            raise IKRHLSError(f"relative_steps: expected True or False, got {relative_steps!r}")
        self.relative_steps = relative_steps
        self._origin = 0                        # the optimizer's step that is step 0 of the schedule
        self.options = PruningOptions(keep, library_size, dense_sparsity, kernel_sparsity, layers,
                                      library, force_center)
        if schedule is None:
            schedule = PolynomialDecay(0 if begin_step is None else begin_step, end_step,
                                       100 if frequency is None else frequency)
        elif begin_step is not None or end_step is not None or frequency is not None:
            raise IKRHLSError("IKRPruning: give either schedule=... or begin_step/end_step/frequency, not both")
        elif not all(hasattr(schedule, m) for m in ("fraction", "last_update", "finished")):
            raise IKRHLSError(f"schedule: expected PolynomialDecay or ConstantSparsity, got {type(schedule).__name__}")
        self.schedule = schedule
        self.plans: list = []
        self.history: list = []
        self._masks: dict = {}                  # layer name -> mask tensor (None: keep all)
        self._last_update: int | None = None
        self._planned_for = None

    # ----- Keras hooks

    def on_train_begin(self, logs=None):
        if self._planned_for is not self.model:  # a second fit() on the same model keeps its masks
            self.plans = self.options.plans(self.model)
            self._planned_for = self.model
            self._masks, self._last_update, self.history = {}, None, []
            log.info("IKR pruning %s: %s", self.model.name, ", ".join(_describe(p) for p in self.plans))
            self._origin = self._optimizer_step() if self.relative_steps else 0
            self._warn_if_started()

    def on_train_batch_begin(self, batch, logs=None):
        update = self.schedule.last_update(self._step())
        if update is not None and update != self._last_update:
            self.update_masks(update)

    def on_train_batch_end(self, batch, logs=None):
        self.apply_masks()

    def on_train_end(self, logs=None):
        self.apply_masks()
        if not self.schedule.finished(self._last_update):
            log.warning("IKR pruning stopped at step %s before end_step=%s: the targets are not "
                        "reached yet", self._step(), self.schedule.end_step)
        self._check_regular()

    # ----- the work

    def update_masks(self, step: int) -> dict:
        """Recompute every layer's mask for `step` of the schedule from the current weights,
        and apply them."""
        fraction = self.schedule.fraction(step)
        kernels = agreed_kernels(self.model, {plan.name: read(plan.variable) for plan in self.plans})
        infos = {}
        for plan in self.plans:
            mask, info = layer_mask(plan, kernels[plan.name], fraction)
            self._masks[plan.name] = None if mask.all() else keras.ops.convert_to_tensor(
                mask, dtype=plan.variable.dtype)
            infos[plan.name] = info
        self._last_update = step
        self.apply_masks()
        self.history.append((step, infos))
        log.info("IKR pruning step %d: %s", step, ", ".join(
            f"{n}: {_short(i)}" for n, i in infos.items()))
        return infos

    def apply_masks(self) -> None:
        for plan in self.plans:
            mask = self._masks.get(plan.name)
            if mask is not None:
                plan.variable.assign(plan.variable * mask)

    def _optimizer_step(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def _step(self) -> int:
        return self._optimizer_step() - self._origin

    def _warn_if_started(self) -> None:
        """A model whose optimizer already took steps (reloaded, or trained before) starts the
        schedule late: every update up to its step happens at once, at the first batch."""
        step, begin, end = self._step(), self.schedule.begin_step, self.schedule.end_step
        if step > begin:
            past = f"begin_step={begin}" + (f" and end_step={end}" if end is not None and 0 <= end < step else "")
            log.warning("IKRPruning: the optimizer is already at step %d, past %s: steps are the optimizer's "
                        "(model.optimizer.iterations, as in tfmot), so the schedule's updates up to step %d "
                        "happen at once at the first batch; pass steps from %d on, or relative_steps=True "
                        "to count from the start of this fit", step, past, step, step)

    def _check_regular(self) -> None:
        for plan in self.plans:
            if plan.kind == "conv2d" and plan.keep is not None:
                kernel = read(plan.variable)
                counts = (kernel != 0).sum(axis=(0, 1))
                short = int(np.count_nonzero((counts > 0) & (counts < counts.max())))
                if short:
                    log.warning("layer %s: %d kernels have fewer nonzeros than their pattern (a kept "
                                "weight is exactly 0.0, e.g. in a filter that gets no gradient)",
                                plan.name, short)


def _describe(plan: LayerPlan) -> str:
    if plan.kind == "dense":
        return f"{plan.name} dense_sparsity={plan.dense_sparsity}"
    kh, kw = plan.layer.kernel_size
    return (f"{plan.name} keep={plan.keep}/{kh * kw} library_size={plan.library_size}"
            f" kernel_sparsity={plan.kernel_sparsity}")


def _short(info: dict) -> str:
    if info["kind"] == "dense":
        return f"sparsity {info['sparsity']:.3f}"
    return f"keep {info['keep']}, {len(info['library'])} patterns, kept energy {info['kept_energy']:.3f}"


def prune_once(model: keras.Model, keep=None, library_size=8, dense_sparsity=0.0, kernel_sparsity=0.0,
               layers=None, library="refine", force_center=False) -> dict:
    """Prune `model` in place to the final targets at once (same options as IKRPruning).

    Returns {layer name: info}; conv info holds keep, library (bool (L, KH, KW)), assignment
    (int (CI, CO), -1 = kernel removed), kept_energy (fraction of the layer's w**2), sparsity;
    dense info holds sparsity and kept_energy.
    """
    options = PruningOptions(keep, library_size, dense_sparsity, kernel_sparsity, layers, library,
                             force_center)
    infos = {}
    for plan in options.plans(model):
        kernel = read(plan.variable)
        mask, infos[plan.name] = layer_mask(plan, kernel, 1.0)
        plan.variable.assign((kernel * mask).astype(kernel.dtype))
    return infos
