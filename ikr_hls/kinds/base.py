"""What a layer kind is made of: the parts that backend, emulate, report, passes and the
frontend look up instead of branching on the kind.

A hardware kind (`LayerKind`) has Keras classes and their frontend handlers, precision roles,
a template and its view, constant arrays, a numpy reference, a cost and report fields. A
free kind (`FreeKind`: Flatten, Reshape, Dropout) has only Keras classes: the passes remove
its layers.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .. import hardware
from ..attributes import NoAttributes
from ..hardware import Cost
from ..ir import Layer
from ..loops import LoopNest
from ..precision import HLSTypeLike

# The scalar activations (everything but softmax, which works on a vector).
SCALAR_ACTIVATIONS = ("linear", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "hard_sigmoid", "hard_silu",
                      "silu", "gelu")

# frontend handler: (Keras layer, input shape or [shapes], source name) -> layer(s) or None
Handler = Callable[[Any, Any, str], "Layer | list[Layer] | None"]
# numpy reference: (layer, [(int64 codes shaped like the input, type)]) -> output codes
Reference = Callable[[Layer, list], np.ndarray]

@dataclass(frozen=True, kw_only=True)
class View:
    """What a layer's template reads of it: every template family subclasses this with its own
    fields (kinds/<kind>). The backend reads the summary and Keras class (header comments, the
    top's call comments) and the index types (defines.h), and hands every field to the template."""
    keras_class: str                            # the Keras class the layer came from, for comments
    summary: str                                # one line: what the layer computes
    index_types: tuple = ()                     # ((role, precision.IndexType), ...) it declares

    def variables(self) -> dict:
        """Every field, by name: the template's variables."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Sample:
    """A Keras layer of a class the kind converts, and the input shape(s) to call it on: the
    option-coverage test reads the kind's Keras options from it."""
    make: Callable[[Any], Any]                  # keras.layers -> a layer
    shape: Any                                  # its input shape, or [shapes] of several inputs


@dataclass(frozen=True)
class Weights:
    """What a layer's firmware/weights/<layer>.h holds."""
    description: str
    arrays: list


def pixel_lanes(shape: tuple) -> int:
    """Elements of one step over a buffer: a pixel (the channels) of an image, all of a vector."""
    return int(shape[-1]) if len(shape) == 3 else int(np.prod(shape))


def pixel_stream(layer: Layer) -> str:
    """io_stream: the layer reads one pixel (its channels) per stream element (wiring.py)."""
    return "pixel"


def elementwise_stream(layer: Layer) -> str:
    """io_stream: any element width; the layer writes elements as wide as it reads."""
    return "elementwise"


def vector_stream(layer: Layer) -> str:
    """io_stream: the layer gathers its whole input vector from the stream first."""
    return "vector"


def pixel_steps_cost(layer: Layer, **figures) -> Cost:
    """A layer that writes one output pixel per step of its pipelined loop, at II 1 (padding,
    concatenation, upsampling): its loop, and whatever else it holds (`figures`)."""
    steps = int(layer.out_shape[0] * layer.out_shape[1])
    return Cost(ii=1, iterations=steps, chain=hardware.chain(("read", 1), ("write", 1)), **figures)


def no_accumulator(layer: Layer, in_types: list, types: dict):
    """default_accum of a kind that adds nothing: never asked (it declares no accum role)."""
    raise AssertionError(f"a {layer.kind} layer has no accumulator")


def no_weights(layer: Layer) -> Weights | None:
    return None


def no_report(layer: Layer) -> dict:
    return {}


def no_values(layer: Layer) -> dict:
    return {}


@dataclass(frozen=True)
class LayerKind:
    name: str                                   # Layer.kind
    keras: Mapping[str, Handler]                # Keras class name -> frontend handler
    roles: tuple                                # the precision roles it declares (activations add theirs)
    templates: tuple                            # its templates in templates/firmware/layers/ (no .h.j2): X, X_stream
    template: Callable[[Layer], str]            # the one a layer uses (template_of: in its io form)
    view: Callable[[Layer], View]               # the template's variables (pure)
    reference: Reference                        # the bit-exact numpy reference
    cost: Callable[[Layer], Cost]
    default_accum: Callable[[Layer, list, dict], HLSTypeLike]   # (layer, input types, types) -> accum type
    weights: Callable[[Layer], Weights | None] = no_weights     # its constant arrays (pure)
    report: Callable[[Layer], dict] = no_report                 # its own report fields
    values: Callable[[Layer], dict] = no_values                 # role -> float array (weight, bias)
    derive: Callable[[Layer], Any] | None = None                # facts from its weights (a pass)
    # (layer, its facts at other settings) -> derive(layer), reusing what only the weights
    # decide (the reuse_factor="auto" search derives a layer at many settings)
    derive_again: Callable[[Layer, Any], Any] | None = None
    declared_roles: Callable[[Layer], tuple] | None = None      # the roles a layer has (default: roles)
    multi_input: frozenset = frozenset()        # Keras classes whose handler gets every input shape
    # keras.ops operation classes (x + 3.0 on a Keras tensor) -> handler(operation, [input shapes], source)
    keras_ops: Mapping[str, Handler] = field(default_factory=dict)
    reuses: bool = False                        # has a strategy and a reuse factor
    strategies: tuple = ("unrolled",)           # the forms it has ("pattern": the IKR pattern PEs), auto's choices
    # forms a layer takes only when the config names them, never auto's choice ("da": an adder
    # graph solved per layer, ikr_hls/da/); the kind's template, view, weights, reference and
    # cost dispatch on layer.settled.strategy over strategies + these
    asked_strategies: tuple = ()
    activations: tuple = ()                     # activations it can apply itself (fused)
    folds_scale_shift: bool = False             # a per-channel scale and shift folds into its weights
    takes_padding: bool = False                 # a ZeroPadding2D before it becomes its own padding
    softmax_input: str = "accum"                # what its softmax reads: its accumulator, or its "input"
    lanes: Callable[[Layer], tuple] | None = None   # (input, output) elements per step; default: a pixel
    # io_stream: how it reads its input stream: "pixel", "elementwise", "channels" (elementwise,
    # whole channel groups per element) or "vector" (wiring.py)
    stream_form: Callable[[Layer], str] = pixel_stream
    # a pixel-form layer: its pipelined loop nest, with the conditions on which a step reads its
    # input stream and writes its output, as its template prints them (loops.py; stream_depths.py)
    loop_nest: Callable[[Layer], LoopNest] | None = None
    # (layer, Keras model, keras) -> Keras's tensor of the layer's output where Keras has no layer
    # whose output it is (a SeparableConv2D's depthwise half), else None (profile.py, trace)
    keras_tensor: Callable[[Layer, Any, Any], Any] | None = None
    attributes: type = NoAttributes             # its typed attributes (attributes.py), checked by the frontend
    samples: Mapping[str, Sample] = field(default_factory=dict)   # Keras class -> a sample layer of it


    @property
    def forms(self) -> tuple:
        """Every strategy a config may give its layers: auto's choices, then the asked-only ones."""
        return self.strategies + self.asked_strategies

    def lanes_of(self, layer: Layer) -> tuple:
        """Elements the layer reads and writes per step of its pipelined loop: a pixel's
        channels for an image, the whole vector for a vector (hardware.pixel_lanes)."""
        return self.lanes(layer) if self.lanes else (pixel_lanes(layer.in_shape), pixel_lanes(layer.out_shape))

    def read_lanes_of(self, layer: Layer, position: int) -> int:
        """Elements the layer reads per step from its input at `position` (inputs of different
        shapes, a Concatenate's, each give their own pixel)."""
        return self.lanes(layer)[0] if self.lanes else pixel_lanes(layer.input_shape(position))

    def cost_of(self, layer: Layer) -> Cost:
        """What the layer's code costs in its io form (io_parallel: the kind's cost; io_stream:
        hardware.in_stream_form of it)."""
        from dataclasses import replace

        cost = self.cost(layer)
        cost = hardware.in_stream_form(cost, layer) if layer.stream is not None else cost
        nest = self.loop_nest(layer) if self.loop_nest is not None else None
        return replace(cost, operators=cost.operators + hardware.loop_counters(cost, nest))

    def template_of(self, layer: Layer) -> str:
        """The layer's template in its io form: the kind's template (io_parallel), or its
        <template>_stream twin (io_stream), as hls4ml keeps nnet_X.h and nnet_X_stream.h."""
        return self.template(layer) + ("_stream" if layer.stream is not None else "")

    def roles_of(self, layer: Layer) -> tuple:
        """The precision roles `layer` declares (without its activation's)."""
        return self.declared_roles(layer) if self.declared_roles else self.roles


@dataclass(frozen=True)
class FreeKind:
    """A kind without hardware: its layers are removed by the passes (Flatten, Reshape) or by
    the frontend (Dropout, whose handler returns None)."""
    name: str
    keras: Mapping[str, Handler]
    why: str                                    # what the report says about its layers
    multi_input: frozenset = field(default_factory=frozenset)
    attributes: type = NoAttributes
    samples: Mapping[str, Sample] = field(default_factory=dict)
