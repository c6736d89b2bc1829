"""The graph the converter works on: layers with shapes, weights and types, wired as a DAG.

Shapes are channels-last without the batch axis: (H, W, C) for images, (N,) for vectors.
Buffers between layers are flat row-major arrays of these shapes, which is also the
memory order of Keras channels_last tensors, so Flatten and Reshape cost nothing.

`Graph.layers` is in topological order and its last layer computes the model output; each
layer names the layers it reads (`inputs`, INPUT for the model input).
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .attributes import Attributes, NoAttributes, Settings, SoftmaxShifts
from .hardware import Cost
from .loops import LoopNest
from .precision import HLSTypeLike

ACTIVATIONS = ("linear", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "hard_sigmoid", "hard_silu", "silu",
               "gelu", "softmax")
INPUT = "input"                    # the name layers use to read the model input

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


@dataclass(frozen=True)
class StreamIO:
    """io_stream: how a layer reads and writes its hls::stream elements (passes.plan_streams)."""
    form: str                      # its kind's stream_form: pixel, elementwise, channels or vector
    in_widths: tuple               # values per element of each stream it reads
    out_width: int                 # values per element it writes


@dataclass(frozen=True)
class Trained:
    """What a quantization-aware layer's quantizers decided (ikr_hls/hgq/): a type per role its
    quantizers give (the container of every element's format: weight, bias, or a quantize
    step's result), and each element's own width in bits (role -> array shaped like the
    values, 0 for an element that is always 0)."""
    types: dict
    widths: dict = field(default_factory=dict)


@dataclass
class Layer:
    name: str                      # C++ identifier, unique in the graph
    kind: str                      # a kind of the registry (kinds.HARDWARE or kinds.FREE)
    keras_name: str                # the Keras layer this came from (for errors and traces)
    in_shape: tuple
    out_shape: tuple
    attrs: Attributes = field(default_factory=NoAttributes)   # its kind's typed attributes
    weights: dict = field(default_factory=dict)   # name -> np.ndarray (float64)
    activation: str = "linear"     # applied to the result (fused)
    alpha: float | None = None     # a leaky ReLU's slope
    precision: dict[str, HLSTypeLike] = field(default_factory=dict)  # role -> parsed type, set by the passes
    inputs: list = field(default_factory=list)     # names of the layers read (INPUT: the model input)
    facts: Any = None              # what the weights decide (kinds.<kind>.derive), set by the passes
    input_types: list = field(default_factory=list)   # the types of the buffers it reads, set by the passes
    stream: StreamIO | None = None  # io_stream: how it meets its streams, set by the passes
    input_shapes: list = field(default_factory=list)  # each input's shape when they differ (a Concatenate)
    settings: Settings | None = None   # strategy, reuse factor, table sizes: set by the passes from the config
    keras_output: str | None = None    # the Keras layer whose output it computes, when a merge moved it
    merged: tuple = ()                 # (Keras name, class, "fused"|"folded", activation) of each layer merged into it
    softmax: SoftmaxShifts | None = None   # a softmax's table addressing, set with the types
    cost: Cost | None = None       # what its code costs in its io form, set by the plan pass
    nest: LoopNest | None = None   # its pipelined loop nest (a pixel-form kind's), set by the plan pass
    trained: Trained | None = None   # a quantization-aware layer's trained types and widths (ikr_hls/hgq/)
    frozen: bool = field(default=False, init=False, repr=False, compare=False)

    def __setattr__(self, key, value):
        if getattr(self, "frozen", False):
            raise AttributeError(f"layer {self.name}: the plan is frozen, '{key}' cannot change "
                                 "(passes.plan_hardware decided it; convert again to change it)")
        super().__setattr__(key, value)

    @property
    def settled(self) -> Settings:
        """Its settings (the settings pass gives every layer its own)."""
        if self.settings is None:
            raise ValueError(f"layer {self.name}: no settings yet (passes.apply_settings sets them)")
        return self.settings

    @property
    def plan_cost(self) -> Cost:
        """Its cost as the plan states it (the plan pass prices every layer)."""
        if self.cost is None:
            raise ValueError(f"layer {self.name}: not priced yet (passes.plan_hardware prices every layer)")
        return self.cost

    def freeze(self) -> None:
        """Read-only from now on: its fields, attributes, types and weights."""
        for array in self.weights.values():
            array.flags.writeable = False
        for name in ("weights", "precision"):
            super().__setattr__(name, MappingProxyType(dict(getattr(self, name))))
        for name in ("inputs", "input_types", "input_shapes"):
            super().__setattr__(name, tuple(getattr(self, name)))
        super().__setattr__("frozen", True)

    def input_shape(self, position: int) -> tuple:
        """The shape of the input at `position` (in_shape unless the inputs differ)."""
        return tuple(self.input_shapes[position]) if self.input_shapes else tuple(self.in_shape)

    @property
    def in_size(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def out_size(self) -> int:
        return int(np.prod(self.out_shape))

    def __post_init__(self):
        if not isinstance(self.attrs, Attributes):
            raise TypeError(f"layer {self.keras_name}: attrs must be its kind's Attributes, got {self.attrs!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}")


@dataclass
class Graph:
    source: str                    # file name or model name, for messages
    input_shape: tuple
    layers: list = field(default_factory=list)
    input_name: str = "input"      # Keras name of the input layer (config key of the input type)
    input_precision: HLSTypeLike | None = None  # type of the input buffer (parsed), set by the passes
    removed: dict = field(default_factory=dict)   # Keras name -> why it has no hardware of its own
    output_reshape: tuple | None = None   # the model's output shape when a free Reshape/Flatten ends it
    io_type: str = "io_parallel"   # set by the passes from the config
    fifo_depth: str = "model"      # io_stream FIFO depths: "model" or "full", set by the passes
    part: str = ""                 # the FPGA part (its family prices the operators), set by the passes
    keras_classes: dict = field(default_factory=dict)   # Keras name of a layer -> its Keras class name
    plan: Any = None               # the frozen plan (plan.Plan), set by the last pass
    trained: bool = False          # a quantization-aware model (HGQ2): its quantizers can give every type
    frozen: bool = field(default=False, init=False, repr=False, compare=False)

    def __setattr__(self, key, value):
        if getattr(self, "frozen", False):
            raise AttributeError(f"graph {self.source}: the plan is frozen, '{key}' cannot change")
        super().__setattr__(key, value)

    def freeze(self, plan) -> None:
        """Store the plan; the graph and its layers are read-only from now on."""
        self.plan = plan
        for layer in self.layers:
            layer.freeze()
        super().__setattr__("layers", tuple(self.layers))
        super().__setattr__("removed", MappingProxyType(dict(self.removed)))
        super().__setattr__("frozen", True)

    @property
    def output_shape(self) -> tuple:
        if self.output_reshape is not None:
            return self.output_reshape
        return self.layers[-1].out_shape if self.layers else self.input_shape

    @property
    def input_type(self) -> HLSTypeLike:
        """The input buffer's type (the passes set it)."""
        if self.input_precision is None:
            raise ValueError(f"{self.source}: the graph has no types yet (run the passes)")
        return self.input_precision

    @property
    def fixed_point(self) -> bool:
        return not self.input_type.is_float

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def output_size(self) -> int:
        return int(np.prod(self.output_shape))

    def consumers(self, name: str) -> list:
        """The layers that read the output of layer `name` (or INPUT), in graph order."""
        return [layer for layer in self.layers if name in layer.inputs]

    def bypass(self, layer: Layer) -> None:
        """Remove a single-input layer, wiring its readers to its input instead."""
        source = layer.inputs[0]
        if layer is self.layers[-1] and self.output_reshape is None:
            self.output_reshape = layer.out_shape
        for reader in self.consumers(layer.name):
            reader.inputs = [source if name == layer.name else name for name in reader.inputs]
        self.layers.remove(layer)

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
