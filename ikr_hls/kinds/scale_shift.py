"""scale_shift: a per-channel scale and shift: a BatchNormalization that could not be folded into
the layer before it (moving statistics, epsilon, gamma and beta folded together), a Rescaling, a
Normalization with its inference constants, or a keras.ops operation of a tensor and a constant
(x + 3, x * (1 / 6), x / 255, ...). passes.fold_batchnorm folds one into the conv or Dense before
it, or into the scale-and-shift before it, where it can."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .. import activations, hardware
from .. import codes as C
from ..activations import ActivationCall
from ..attributes import Attributes, attributes_of
from ..constants import array, literal
from ..errors import IKRHLSError
from ..ir import Layer
from ..precision import requantize, to_codes, weight_bits, widen_for_sum
from .base import SCALAR_ACTIVATIONS, Cost, LayerKind, Sample, View, Weights
from .keras_reading import check_channels_last, read_array, unsupported

ROLES = ("weight", "bias", "accum", "result")
# what a scale_shift layer came from: the Keras class, or "operation" (keras.ops)
Origin = Literal["BatchNormalization", "Rescaling", "Normalization", "operation"]
ORIGINS = ("BatchNormalization", "Rescaling", "Normalization", "operation")


@dataclass(frozen=True)
class ScaleShiftAttributes(Attributes):
    origin: Origin = "BatchNormalization"


def _scale_shift(klayer, shape, scale, shift, origin: Origin) -> Layer:
    channels = shape[-1]
    scale = np.broadcast_to(np.asarray(scale, np.float64), (channels,)).copy()
    shift = np.broadcast_to(np.asarray(shift, np.float64), (channels,)).copy()
    return Layer(name="", kind="scale_shift", keras_name=klayer.name, in_shape=shape, out_shape=shape,
                 weights=dict(scale=scale, shift=shift), attrs=ScaleShiftAttributes(origin=origin))


def per_channel(value, shape, klayer, source, what: str) -> np.ndarray:
    """A constant that broadcasts over the last axis of `shape` alone (a scalar, or C values,
    (1, 1, C)...), as a flat array of 1 or C values; else the layer is refused."""
    array = np.asarray(value, dtype=np.float64)
    if array.size not in (1, shape[-1]) or any(d != 1 for d in array.shape[:-1]):
        raise unsupported(klayer, source, f"{what} of shape {array.shape} (a scalar or one value per channel, "
                          f"{shape[-1]})")
    return array.reshape(-1)


def _rescaling(klayer, shape, source):
    """x * scale + offset (scalars, or one per channel)."""
    check_channels_last(klayer, source)
    scale = per_channel(klayer.scale, shape, klayer, source, "scale")
    offset = per_channel(klayer.offset, shape, klayer, source, "offset")
    return _scale_shift(klayer, shape, scale, offset, "Rescaling")


def _normalization(klayer, shape, source):
    """(x - mean) / max(sqrt(variance), epsilon), or with invert: mean + x * that, the mean and
    variance it holds for inference (adapted or given), per channel or one for all."""
    import keras

    axis = klayer.axis
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,) if axis is not None else ()
    if axis not in ((), (-1,), (len(shape),)):
        raise unsupported(klayer, source, f"axis={klayer.axis} (the channel axis, -1, or None)")
    mean = per_channel(read_array(klayer.mean), shape, klayer, source, "mean")
    std = np.maximum(np.sqrt(per_channel(read_array(klayer.variance), shape, klayer, source, "variance")),
                     keras.backend.epsilon())
    if klayer.invert:
        return _scale_shift(klayer, shape, std, mean, "Normalization")
    return _scale_shift(klayer, shape, 1.0 / std, -mean / std, "Normalization")


# keras.ops operations of a tensor and a constant c: x + c, c + x, x - c, c - x, x * c, c * x, x / c
_OPERATIONS = ("Add", "Subtract", "Multiply", "Divide", "TrueDivide")


def _operation(op, shapes, source):
    """A keras.ops operation of one tensor and a constant (Python number or array of one value
    per channel): a scale and a shift."""
    import keras

    cls = type(op).__name__

    def refuse(what: str) -> IKRHLSError:
        return IKRHLSError(f"{source}: operation '{op.name}' (keras.ops {cls}) {what} is not supported")

    node = op._inbound_nodes[0]
    args = list(node.arguments.args)
    tensors = [k for k, a in enumerate(args) if isinstance(a, keras.KerasTensor)]
    if len(shapes) != 1 or len(args) != 2 or len(tensors) != 1 or node.arguments.kwargs:
        layer = {"Add": "Add", "Subtract": "Subtract", "Multiply": "Multiply"}.get(cls)
        raise refuse("of several tensors" + (f" (use keras.layers.{layer})" if layer else ""))
    shape = tuple(shapes[0])
    tensor_first = tensors[0] == 0
    try:
        constant = per_channel(args[1 - tensors[0]], shape, op, source, "a constant")
    except (TypeError, ValueError) as exc:
        raise refuse(f"with a constant of type {type(args[1 - tensors[0]]).__name__}") from exc
    ones, zeros = np.ones_like(constant), np.zeros_like(constant)
    if cls == "Add":
        scale, shift = ones, constant
    elif cls == "Subtract":
        scale, shift = (ones, -constant) if tensor_first else (-ones, constant)
    elif cls == "Multiply":
        scale, shift = constant, zeros
    elif not tensor_first or np.any(constant == 0):
        raise refuse("of a constant by a tensor, or by zero")
    else:
        scale, shift = 1.0 / constant, zeros
    return _scale_shift(op, shape, scale, shift, "operation")


def _batchnorm(klayer, shape, source):
    axis = klayer.axis if isinstance(klayer.axis, int) else list(klayer.axis)
    if axis not in (-1, len(shape), [-1], [len(shape)]):
        raise unsupported(klayer, source, f"axis={klayer.axis} (only the channel axis, -1)")
    channels = shape[-1]
    gamma = read_array(klayer.gamma) if klayer.scale else np.ones(channels)
    beta = read_array(klayer.beta) if klayer.center else np.zeros(channels)
    mean = read_array(klayer.moving_mean)
    var = read_array(klayer.moving_variance)
    scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + klayer.epsilon)
    shift = np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * scale
    return _scale_shift(klayer, shape, scale, shift, "BatchNormalization")


def template(layer: Layer) -> str:
    return "scale_shift"


def shifts(layer: Layer) -> bool:
    """Whether it adds a shift: a scale alone (x * c, a BatchNormalization with beta = mean * scale)
    has no adder and no shift table in its code, and none in its cost."""
    return bool(np.any(layer.weights["shift"]))


def table_copies(layer: Layer) -> int:
    return hardware.table_copies(layer.in_shape[-1], 1)


@dataclass(frozen=True, kw_only=True)
class ScaleShiftView(View):
    """scale_shift.h.j2: a scale and a shift per channel."""
    n: int
    c: int
    origin: str                 # ScaleShiftAttributes.origin
    act: ActivationCall
    table_pragmas: list
    binding: str              # where the products go (BIND_OP impl): "dsp", "fabric", "" (no pragma)
    shifted: bool             # it adds a shift (shifts)


def view(layer: Layer) -> ScaleShiftView:
    c = layer.in_shape[-1]
    origin = attributes_of(layer, ScaleShiftAttributes).origin
    return ScaleShiftView(n=layer.out_size, c=c, act=activations.call_view(layer),
                          keras_class="keras.ops" if origin == "operation" else origin, origin=origin,
                          table_pragmas=activations.partition_pragmas(layer), binding=layer.plan_cost.binding or "",
                          shifted=shifts(layer), summary=f"scale and shift over {c} channels")


def weights(layer: Layer) -> Weights:
    shift = [array(f"{layer.name}_shift", f"{layer.name}_bias_t", layer.weights["shift"], "shift",
                   literal(layer, "bias"))] if shifts(layer) else []
    return Weights("per-channel scale and shift" if shift else "per-channel scale", [
        array(f"{layer.name}_scale", f"{layer.name}_weight_t", layer.weights["scale"], "scale",
              literal(layer, "weight"))] + shift + activations.arrays(layer, table_copies(layer)))


def reference(layer: Layer, ins: list) -> np.ndarray:
    (codes, in_t), = ins
    p = C.fixed_types(layer)
    scale = to_codes(layer.weights["scale"], p["weight"])
    shift = to_codes(layer.weights["shift"], p["bias"])
    frac = max(in_t.fractional + p["weight"].fractional, p["bias"].fractional)
    C.check_fits(in_t.width + p["weight"].width + frac - in_t.fractional - p["weight"].fractional, "product")
    total = (((codes * scale) << (frac - in_t.fractional - p["weight"].fractional))
             + (shift << (frac - p["bias"].fractional)))
    acc = requantize(total, frac, p["accum"])
    return activations.activate(layer, acc, p["accum"])


def cost(layer: Layer) -> Cost:
    """One step per pixel (all its channels), II 1: a multiplier per channel (and per channel
    for a leaky ReLU's slope)."""
    c = layer.in_shape[-1]
    steps = layer.out_size // c
    products = c * (1 + activations.products(layer))
    in_bits = hardware.bits(layer.input_types[0]) if layer.input_types else 0
    chain = hardware.chain(("read", 1), ("multiply", 1), ("add", 1 if shifts(layer) else 0), activations.chain(layer),
                           ("write", 1))
    acc_bits = hardware.bits(layer.precision["accum"])
    operators = (hardware.ops("shifts", "add", acc_bits, c if shifts(layer) else 0)
                 + activations.operators(layer, c, acc_bits)
                 + hardware.conversion("result", layer.precision["result"], c))
    constants = hardware.merge_constants(hardware.constant_products(layer.weights["scale"], layer.precision["weight"]),
                                         activations.constant_products(layer, c))
    return Cost(ii=1, iterations=steps, chain=chain, multipliers=products,
                sharing="one per channel", memories=tuple(activations.table_memories(layer, table_copies(layer))),
                product_bits=(hardware.product_weight_bits(layer, layer.weights["scale"]), in_bits),
                operators=operators, constants=constants)


def values(layer: Layer) -> dict:
    return {"weight": layer.weights["scale"], "bias": layer.weights["shift"]}


def report(layer: Layer) -> dict:
    scale, shift = layer.weights["scale"], layer.weights["shift"]
    w_t, b_t = layer.precision["weight"], layer.precision["bias"]
    bits = int(scale.size) * weight_bits(w_t)
    return {"weight_type": w_t.cpp, "weight_bits": weight_bits(w_t), "bias_type": b_t.cpp,
            "params_dense": int(scale.size + shift.size),
            "params_nonzero": int(np.count_nonzero(scale) + np.count_nonzero(shift)),
            "storage_bits": {"dense": bits, "ikr": bits, "csr": bits},
            "bias_bits": int(shift.size) * weight_bits(b_t)}


def default_accum(layer: Layer, in_types: list, types: dict):
    if in_types[0].is_float or types["result"].is_float:
        return types["result"]
    return widen_for_sum(in_types[0], types["weight"], types["bias"], 1)


SAMPLES = {"BatchNormalization": Sample(lambda L: L.BatchNormalization(), (6, 6, 2)),
           "Rescaling": Sample(lambda L: L.Rescaling(1 / 255, offset=-0.5), (6, 6, 2)),
           "Normalization": Sample(lambda L: L.Normalization(mean=[0.5, -1.0], variance=[2.0, 0.25]), (6, 6, 2))}

KIND = LayerKind(
    samples=SAMPLES,
    stream_form=lambda layer: "channels",
    name="scale_shift", attributes=ScaleShiftAttributes,
    keras={"BatchNormalization": _batchnorm, "Rescaling": _rescaling, "Normalization": _normalization},
    keras_ops={cls: _operation for cls in _OPERATIONS},
    roles=ROLES, templates=("scale_shift", "scale_shift_stream"), template=template, view=view, weights=weights,
    reference=reference, cost=cost, report=report, values=values, default_accum=default_accum,
    activations=SCALAR_ACTIVATIONS)
