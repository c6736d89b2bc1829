"""Reading Keras layers for the frontend handlers of the kinds: weights as float64 arrays,
activations by name, the checks every image layer makes, and the one-line message for an
option that does not convert."""
from __future__ import annotations

import numpy as np

from ..errors import IKRHLSError
from ..ir import ACTIVATIONS, Layer


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


# Parameters of activations given by name (activation="leaky_relu" uses Keras's default slope).
_ACTIVATION_DEFAULTS = {"leaky_relu": {"alpha": 0.2}}


def with_activation(layer: Layer, name: str, **params) -> Layer:
    """Set a layer's activation and its parameters (the slope of a leaky ReLU)."""
    layer.activation = name
    layer.attrs.update(_ACTIVATION_DEFAULTS.get(name, {}), **params)
    return layer


def check_channels_last(klayer, source) -> None:
    fmt = getattr(klayer, "data_format", "channels_last")
    if fmt != "channels_last":
        raise unsupported(klayer, source, f"data_format='{fmt}' (only channels_last)")


def image_shape(klayer, shape, source) -> tuple:
    if len(shape) != 3:
        raise unsupported(klayer, source, f"input shape {shape} (needs an (H, W, C) image)")
    return tuple(shape)
