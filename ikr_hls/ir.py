"""The graph the converter works on: a chain of layers with shapes, weights and types.

Shapes are channels-last without the batch axis: (H, W, C) for images, (N,) for vectors.
Buffers between layers are flat row-major arrays of these shapes, which is also the
memory order of Keras channels_last tensors, so Flatten costs nothing.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

import numpy as np

# What each kind of layer means; the frontend maps Keras classes onto these.
KINDS = ("conv2d", "dense", "pool2d", "flatten", "activation", "scale_shift")
ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")

_CPP_KEYWORDS = {
    "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char",
    "class", "const", "continue", "default", "delete", "do", "double", "else", "enum",
    "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if", "inline",
    "int", "long", "main", "namespace", "new", "not", "operator", "or", "private", "protected",
    "public", "register", "return", "short", "signed", "sizeof", "static", "struct", "switch",
    "template", "this", "throw", "true", "try", "typedef", "union", "unsigned", "using",
    "virtual", "void", "volatile", "while", "input", "output",
}


def c_identifier(name: str, taken: set[str]) -> str:
    """A C++ identifier made from a Keras layer name, unique within `taken`."""
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit():
        ident = "l_" + ident
    if ident in _CPP_KEYWORDS or keyword.iskeyword(ident) or ident.startswith("ikr_"):
        ident = ident + "_layer"
    base, n = ident, 1
    while ident in taken:
        n += 1
        ident = f"{base}_{n}"
    taken.add(ident)
    return ident


@dataclass
class Layer:
    name: str                      # C++ identifier, unique in the graph
    kind: str                      # one of KINDS
    keras_name: str                # the Keras layer this came from (for errors and traces)
    in_shape: tuple
    out_shape: tuple
    attrs: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)   # name -> np.ndarray (float64)
    activation: str = "linear"     # applied to the result (fused)
    precision: dict = field(default_factory=dict)  # role -> HLS type string, set by passes

    @property
    def in_size(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def out_size(self) -> int:
        return int(np.prod(self.out_shape))

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown layer kind {self.kind!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}")


@dataclass
class Graph:
    source: str                    # file name or model name, for messages
    input_shape: tuple
    layers: list = field(default_factory=list)
    input_name: str = "input"      # Keras name of the input layer (config key of the input type)
    input_precision: object = None  # type of the input buffer, set by passes
    removed: dict = field(default_factory=dict)   # Keras name -> why it has no hardware of its own

    @property
    def output_shape(self) -> tuple:
        return self.layers[-1].out_shape if self.layers else self.input_shape

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def output_size(self) -> int:
        return int(np.prod(self.output_shape))

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name or layer.keras_name == name:
                return layer
        raise KeyError(name)


def conv_output_size(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """Keras/TensorFlow output size and (pad_before, pad_after) along one axis."""
    if padding == "valid":
        return (size - kernel) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2
