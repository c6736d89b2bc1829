"""Reading Keras layers for the frontend handlers of the kinds: weights as float64 arrays,
activations by name, the checks every image layer makes, and the one-line message for an
option that does not convert."""
from __future__ import annotations

import numpy as np

from ..errors import IKRHLSError
from ..ir import ACTIVATIONS, Layer, conv_output_size


def read_array(variable) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float64)


def unsupported(klayer, source, what) -> IKRHLSError:
    return IKRHLSError(f"{source}: layer '{klayer.name}' ({type(klayer).__name__}) with {what} "
                       "is not supported")


def activation_name(klayer, source, fn=None) -> str:
    fn = fn if fn is not None else klayer.activation
    name = getattr(fn, "__name__", str(fn))
    if name not in ACTIVATIONS:
        raise unsupported(klayer, source, f"activation '{name}' (supported: {', '.join(ACTIVATIONS)})")
    return name


# The slope of a leaky ReLU given by name (activation="leaky_relu"): Keras's default.
_DEFAULT_SLOPE = 0.2


def with_activation(layer: Layer, name: str, alpha: float | None = None) -> Layer:
    """Set a layer's activation and its parameter (the slope of a leaky ReLU)."""
    layer.activation = name
    if name == "leaky_relu":
        layer.alpha = _DEFAULT_SLOPE if alpha is None else float(alpha)
    return layer


def check_channels_last(klayer, source) -> None:
    fmt = getattr(klayer, "data_format", "channels_last")
    if fmt != "channels_last":
        raise unsupported(klayer, source, f"data_format='{fmt}' (only channels_last)")


def image_shape(klayer, shape, source) -> tuple:
    if len(shape) != 3:
        raise unsupported(klayer, source, f"input shape {shape} (needs an (H, W, C) image)")
    return tuple(shape)


def window_geometry(klayer, shape, source, size: tuple, what: str) -> tuple:
    """(h, w, c) and the output geometry of a sliding window (a conv's kernel, a pool's window)
    of `size` with the layer's strides and padding: dict(sh, sw, padding, pad_*, oh, ow)."""
    h, w, c = image_shape(klayer, shape, source)
    check_channels_last(klayer, source)
    if klayer.padding not in ("valid", "same"):
        raise unsupported(klayer, source, f"padding='{klayer.padding}' (valid or same)")
    kh, kw = size
    sh, sw = klayer.strides
    oh, pt, pb = conv_output_size(h, kh, sh, klayer.padding)
    ow, pl, pr = conv_output_size(w, kw, sw, klayer.padding)
    if oh < 1 or ow < 1:
        raise unsupported(klayer, source, f"a {kh}x{kw} {what} on a {h}x{w} input (no output pixel)")
    return (h, w, c), dict(sh=sh, sw=sw, padding=klayer.padding, pad_top=pt, pad_bottom=pb, pad_left=pl,
                           pad_right=pr, oh=oh, ow=ow)
