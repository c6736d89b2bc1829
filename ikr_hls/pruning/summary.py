"""summary: per-layer patterns, parameters and MACs of any model, read from its zeros."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from .. import hgq
from .. import patterns as pat
from ..errors import IKRHLSError
from ..modelfile import load_keras_model
from .masks import read
from .options import _prunable, _walk_layers, kernel_variable


@dataclass
class LayerSummary:
    name: str
    kind: str                                   # "conv2d", "dense", or the Keras class name
    params: int
    nonzero: int
    macs_dense: int | None = None            # None: not counted for this kind of layer
    macs_pruned: int | None = None
    kernel_size: tuple | None = None
    keep: int | None = None                  # conv: positions per pattern (None: irregular)
    library: np.ndarray | None = None        # conv: bool (L, KH, KW), most used first
    usage: list | None = None                # conv: kernels per pattern
    kernels_removed: int = 0                    # conv: all-zero kernels
    kept_energy: float | None = None         # vs the reference weights, if given

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "library"}
        out["kernel_size"] = list(self.kernel_size) if self.kernel_size else None
        out["library"] = None if self.library is None else self.library.astype(int).tolist()
        out["regular"] = self.keep is not None if self.kind == "conv2d" else None
        return out


@dataclass
class PruningSummary:
    model_name: str
    layers: list = field(default_factory=list)
    max_drawn: int = 16                         # patterns drawn per layer
    # (layer name, why) of the layers ikr_hls.convert refuses (the frontend's registry and checks)
    unsupported: list = field(default_factory=list)

    @property
    def converts(self) -> bool:
        """Whether every layer is one the converter takes (with the options it has)."""
        return not self.unsupported

    @property
    def totals(self) -> dict:
        params = sum(l.params for l in self.layers)
        nonzero = sum(l.nonzero for l in self.layers)
        counted = [l for l in self.layers if l.macs_dense is not None]
        macs_dense = sum(l.macs_dense for l in counted)
        macs_pruned = sum(l.macs_pruned for l in counted)
        return {"params": params, "nonzero": nonzero,
                "params_reduction": params / nonzero if nonzero else math.inf,
                "macs_dense": macs_dense, "macs_pruned": macs_pruned,
                "macs_reduction": macs_dense / macs_pruned if macs_pruned else math.inf}

    def to_dict(self) -> dict:
        return {"model": self.model_name, "layers": [l.to_dict() for l in self.layers],
                "totals": self.totals, "unsupported": [{"name": n, "why": why} for n, why in self.unsupported]}

    def text(self) -> str:
        header = ("layer", "kind", "keep", "patterns", "kept energy", "params nonzero/total",
                  "MACs pruned/dense")
        rows = [_summary_row(l) for l in self.layers]
        t = self.totals
        rows.append(("total", "", "", "", "",
                     f"{t['nonzero']:,}/{t['params']:,} ({t['params_reduction']:.1f}x)",
                     f"{t['macs_pruned']:,}/{t['macs_dense']:,} ({t['macs_reduction']:.1f}x)"))
        widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

        def line(r) -> str:
            return "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

        out = [f'IKR summary of "{self.model_name}"', line(header), line(["-" * w for w in widths])]
        out += [line(r) for r in rows[:-1]] + [line(["-" * w for w in widths]), line(rows[-1])]
        if any(l.macs_dense is None for l in self.layers):
            out.append("MACs are counted for conv and Dense layers only.")
        if self.unsupported:
            out += ["", f"Will not convert (ikr_hls.convert refuses {len(self.unsupported)} layer(s)):"]
            out += [f"  {name}: {why}" for name, why in self.unsupported]
        for l in self.layers:
            if l.library is not None and (l.keep is None or l.keep < np.prod(l.kernel_size)):
                out += [""] + _draw_library(l, self.max_drawn)
        return "\n".join(out)

    __str__ = text

    def __repr__(self) -> str:                  # short: summary() has printed the table already
        t = self.totals
        return (f"<PruningSummary {self.model_name!r}: {t['params_reduction']:.1f}x params, "
                f"{t['macs_reduction']:.1f}x MACs>")


def _summary_row(l: LayerSummary) -> tuple:
    keep = patterns = "-"
    if l.kind == "conv2d" and l.kernel_size is not None and l.library is not None:
        size = int(np.prod(l.kernel_size))
        keep = f"{l.keep}/{size}" if l.keep is not None else "irregular"
        patterns = str(len(l.library))
    energy = "-" if l.kept_energy is None else f"{100 * l.kept_energy:.1f}%"
    macs = "-" if l.macs_dense is None else f"{l.macs_pruned:,}/{l.macs_dense:,}"
    return (l.name, l.kind, keep, patterns, energy, f"{l.nonzero:,}/{l.params:,}", macs)


def _draw_library(l: LayerSummary, max_drawn: int) -> list:
    assert l.kernel_size is not None and l.library is not None and l.usage is not None   # a conv layer's
    kh, kw = l.kernel_size
    n_kernels = sum(l.usage) + l.kernels_removed
    title = (f"{l.name}: {len(l.library)} patterns of {l.keep}/{kh * kw}" if l.keep is not None
             else f"{l.name}: irregular, {len(l.library)} distinct supports")
    title += ", kernels using each ('#' kept, '.' pruned)"
    if l.kernels_removed:
        title += f"; {l.kernels_removed} of {n_kernels} kernels removed"
    return [title] + pat.draw_library(l.library, l.usage, max_drawn)


def summary(model, reference=None, print_fn=print) -> PruningSummary:
    """Per-layer patterns, parameters and MACs of any model, read from its zeros.

    model:     a keras.Model or the path of a .h5/.keras file.
    reference: optional dense model (or path, or {layer name: kernel array}); the kept energy
               of a layer is then the share of the reference kernel's w**2 at the positions
               that are nonzero in `model`.
    print_fn:  called with the text (like keras's model.summary); None prints nothing.
    The text ends with the layers ikr_hls.convert would refuse (`unsupported`, `converts`).
    MACs: output pixels x nonzero kernel weights for convs (both kernels of a SeparableConv2D);
    nonzero weights (per position of
    any leading axes) for Dense. Parameters count every weight, biases included.
    """
    model = _load(model, "model")
    ref = _reference_kernels(reference)
    layers = [_layer_summary(layer, ref) for layer in _walk_layers(model) if layer.weights]
    result = PruningSummary(model.name, layers, unsupported=_unsupported(model))
    if print_fn is not None:
        print_fn(result.text())
    return result


def _unsupported(model) -> list:
    """(layer name, why) of the model's layers that the converter refuses, asked the way the
    frontend asks: the layer kinds' registry (Keras class -> handler), then the handler itself,
    which refuses the options it does not convert (an UpSampling2D's bilinear interpolation)."""
    from ..kinds import KERAS_HANDLERS, MULTI_INPUT

    out = []
    for layer in model.layers:                  # as the frontend sees them: a nested model is one layer
        cls = type(layer).__name__
        if cls == "InputLayer":
            continue
        handler = KERAS_HANDLERS.get(cls)
        if handler is None:
            out.append((layer.name, f"{cls} is not a layer ikr-hls converts"))
            continue
        try:
            inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
            shapes = [tuple(int(d) for d in t.shape[1:]) for t in inputs]
        except (AttributeError, ValueError, TypeError):     # not built on a fixed shape: the class is known
            continue
        quantized = getattr(getattr(layer, "dtype_policy", None), "quantization_mode", None)
        if quantized:
            out.append((layer.name, f"{cls} is quantized by Keras ({layer.dtype_policy.name})"))
            continue
        try:
            handler(layer, shapes if cls in MULTI_INPUT else shapes[0], model.name)
        except IKRHLSError as err:
            message = str(err)
            out.append((layer.name, message.split(": ", 1)[1] if message.startswith(f"{model.name}: ") else message))
    return out


def _load(model, what):
    if isinstance(model, (str, Path)):
        try:
            return load_keras_model(model)     # the converter's checks and messages, for any file
        except IKRHLSError as err:
            raise IKRHLSError(f"{what}: {err}") from None
    if not isinstance(model, keras.Model):
        raise IKRHLSError(f"{what}: expected a keras.Model or a model file, got {type(model).__name__}")
    return model


def _reference_kernels(reference) -> dict:
    if reference is None:
        return {}
    if isinstance(reference, dict):
        return {k: np.asarray(v) for k, v in reference.items()}
    ref = _load(reference, "reference")
    return {l.name: read(kernel_variable(l)) for l in _walk_layers(ref) if _prunable(l)}


def _layer_summary(layer, ref: dict) -> LayerSummary:
    weights = [read(w) for w in hgq.parameters(layer)]     # an HGQ2 layer's bit widths are no parameters
    params = sum(w.size for w in weights)
    nonzero = sum(int(np.count_nonzero(w)) for w in weights)
    if not _prunable(layer):
        return LayerSummary(layer.name, type(layer).__name__, params, nonzero)
    kernel = read(kernel_variable(layer))
    positions = _output_positions(layer)
    macs_dense, macs_pruned = positions * kernel.size, positions * int(np.count_nonzero(kernel))
    if isinstance(layer, keras.layers.SeparableConv2D):     # plus its 1x1 pointwise products
        pointwise = read(layer.pointwise_kernel)
        macs_dense += positions * pointwise.size
        macs_pruned += positions * int(np.count_nonzero(pointwise))
    s = LayerSummary(layer.name, "dense" if isinstance(layer, keras.layers.Dense) else "conv2d",
                     params, nonzero, macs_dense=macs_dense, macs_pruned=macs_pruned)
    if s.kind == "conv2d":
        found = pat.patterns_from_kernel(kernel)
        s.kernel_size = tuple(kernel.shape[:2])
        s.keep, s.library, s.usage = found.keep, found.library, found.usage().tolist()
        s.kernels_removed = int(np.count_nonzero(found.assignment < 0))
    if layer.name in ref:
        r = ref[layer.name]
        if r.shape != kernel.shape:
            raise IKRHLSError(f"reference: layer {layer.name} has a kernel of shape {r.shape}, "
                              f"the model's is {kernel.shape}")
        total = float(np.sum(np.square(r, dtype=np.float64)))
        kept = float(np.sum(np.square(r, dtype=np.float64)[kernel != 0]))
        s.kept_energy = kept / total if total else 1.0
    return s


def _output_positions(layer) -> int:
    """Output positions each kernel weight is used at: OH*OW for a conv, 1 for a plain Dense."""
    try:
        shape = tuple(layer.output.shape)
    except (AttributeError, ValueError):
        try:
            shape = tuple(layer.compute_output_shape(layer.input.shape))
        except Exception:
            raise IKRHLSError(f"summary: the output shape of layer {layer.name} is unknown; build "
                              "the model on an input first") from None
    inner = shape[1:-1]
    if any(d is None for d in inner):
        raise IKRHLSError(f"summary: layer {layer.name} has a variable output shape {shape}; "
                          "MACs need fixed input sizes")
    return int(np.prod(inner)) if inner else 1
