"""Random small CNNs for the property tests (tests/test_properties.py).

`cnn_specs()` is a hypothesis strategy of `CNNSpec`: a plain, printable description of a
network (input shape, a list of layers as {"class": Keras class name, "config": kwargs,
"prune": how to zero it}, and a seed for the weights). `build_model(spec)` makes the
keras.Model with seeded random weights, BatchNormalization statistics and IKR masks, so a
spec printed by a failing test rebuilds exactly the same model:

    from random_cnn import CNNSpec, build_model
    model = build_model(CNNSpec(input_shape=(7, 5, 2), layers=[...], seed=3))

The architecture is drawn in stages; each stage picks among small *block* functions

    block(draw, shape) -> (layers, new_shape), or None when it does not fit `shape`

so a new layer kind is one block function plus one entry in FEATURE_BLOCKS, EXTRA_BLOCKS,
TO_VECTOR_BLOCKS or HEAD_BLOCKS. Only valid architectures are constructed: sizes are drawn
within what the current shape allows, never filtered afterwards. A layer entry whose class
is "Residual" ({"class": "Residual", "body": [layers]}) builds x + body(x) with
keras.layers.Add (a functional model).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from ikr_hls.ir import conv_output_size
from ikr_hls.patterns import kernel_mask

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid")
MAX_KERNEL = 5
MAX_FILTERS = 8
MAX_CONVS = 3
MAX_DENSE = 2
MAX_UNITS = 12
# Nonzero Dense products per layer: the C++ writes one line per nonzero weight, so this
# bounds the compile time of a wide Flatten (16x16x8 = 2048 inputs) followed by Dense.
DENSE_NONZERO_BUDGET = 600


@dataclass
class CNNSpec:
    """A random network: input (H, W, C), layers in order, and the seed of its weights."""
    input_shape: tuple
    layers: list = field(default_factory=list)
    seed: int = 0

    def describe(self) -> str:
        """One line per layer, with its output shape; then the eval-able repr."""
        lines = [f"input {self.input_shape}  (weights seed {self.seed})"]
        lines += _describe(self.layers, "  ")
        return "\n".join(lines) + f"\nspec = {self!r}"


def _describe(layers, indent):
    lines = []
    for layer in layers:
        if layer["class"] == "Residual":
            lines.append(f"{indent}Residual  -> {layer['shape']}")
            lines += _describe(layer["body"], indent + "  | ")
            continue
        args = ", ".join(f"{k}={v!r}" for k, v in layer["config"].items())
        prune = f"  prune {layer['prune']}" if layer.get("prune") else ""
        lines.append(f"{indent}{layer['class']}({args})  -> {layer['shape']}{prune}")
    return lines


def _layer(cls, shape, prune=None, **config) -> dict:
    entry = {"class": cls, "config": config, "shape": tuple(shape)}
    if prune:
        entry["prune"] = prune
    return entry


# ---------------------------------------------------------------------------------------------
# Blocks: (draw, shape) -> (list of layer entries, new shape), or None if it does not fit


def _conv_geometry(draw, shape):
    """Kernel 1..5 per axis (no larger than the input for valid padding), strides 1..2 per
    axis, padding, activation and an IKR mask (keep, library, dead kernels)."""
    h, w, c = shape
    padding = draw(st.sampled_from(["valid", "same"]))
    limit_h, limit_w = (min(MAX_KERNEL, h), min(MAX_KERNEL, w)) if padding == "valid" else (MAX_KERNEL,) * 2
    kh = draw(st.integers(1, limit_h))
    kw = draw(st.integers(1, limit_w)) if draw(st.booleans()) else min(kh, limit_w)
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    size = kh * kw
    prune = {"dead": draw(st.sampled_from([0.0, 0.0, 0.2, 0.5]))}
    if size > 1:
        keep = draw(st.integers(1, size))
        prune.update(keep=keep, library=draw(st.integers(1, min(8, math.comb(size, keep)))))
    config = dict(kernel_size=(kh, kw), strides=(sh, sw), padding=padding,
                  activation=draw(st.sampled_from(ACTIVATIONS)), use_bias=draw(st.integers(0, 4)) > 0)
    oh = conv_output_size(h, kh, sh, padding)[0]
    ow = conv_output_size(w, kw, sw, padding)[0]
    return config, prune, (oh, ow)


def conv_block(draw, shape):
    """Conv2D with 1..8 filters (see _conv_geometry)."""
    config, prune, (oh, ow) = _conv_geometry(draw, shape)
    filters = draw(st.integers(1, MAX_FILTERS))
    out = (oh, ow, filters)
    return [_layer("Conv2D", out, prune, filters=filters, **config)], out


def depthwise_block(draw, shape):
    """DepthwiseConv2D, depth multiplier 1..2 (at most MAX_FILTERS outputs), an IKR mask on
    its (KH, KW, C, M) kernels."""
    c = shape[2]
    config, prune, (oh, ow) = _conv_geometry(draw, shape)
    multiplier = draw(st.integers(1, max(1, min(2, MAX_FILTERS // c))))
    out = (oh, ow, c * multiplier)
    return [_layer("DepthwiseConv2D", out, prune, depth_multiplier=multiplier, **config)], out


def separable_block(draw, shape):
    """SeparableConv2D: an IKR-masked depthwise kernel (multiplier 1..2), a dense 1x1
    pointwise kernel to 1..8 filters."""
    c = shape[2]
    config, prune, (oh, ow) = _conv_geometry(draw, shape)
    if config["kernel_size"] == (1, 1):
        # No pattern to choose in a 1x1 separable conv, and TensorFlow's oneDNN kernel for it
        # failed inside Keras's predict ("could not create a primitive descriptor for the
        # reorder primitive") once many models had run in the process: not this converter's
        # bug, but it made the reference side of the slow run fail.
        return None
    multiplier = draw(st.integers(1, max(1, min(2, MAX_FILTERS // c))))
    filters = draw(st.integers(1, MAX_FILTERS))
    out = (oh, ow, filters)
    return [_layer("SeparableConv2D", out, prune, filters=filters, depth_multiplier=multiplier, **config)], out


def residual_block(draw, shape):
    """x + body(x): a stride-1 same-padded Conv2D (or DepthwiseConv2D) keeping the shape,
    optionally followed by BatchNormalization and an activation."""
    h, w, c = shape
    config, prune, _ = _conv_geometry(draw, shape)
    config.update(strides=(1, 1), padding="same")
    if draw(st.booleans()):
        body = [_layer("Conv2D", shape, prune, filters=c, **config)]
    else:
        body = [_layer("DepthwiseConv2D", shape, prune, depth_multiplier=1, **config)]
    for block in draw(st.lists(st.sampled_from([batchnorm_block, activation_block]), max_size=2)):
        body += block(draw, shape)[0]
    return [{"class": "Residual", "body": body, "shape": tuple(shape)}], shape


def pool_block(draw, shape):
    """MaxPooling2D or AveragePooling2D, pool 2..3 per axis, strides 1..pool (default: pool),
    valid padding only where the pool fits."""
    h, w, c = shape
    cls = draw(st.sampled_from(["MaxPooling2D", "AveragePooling2D"]))
    ph = draw(st.integers(2, 3))
    pw = draw(st.integers(2, 3)) if draw(st.booleans()) else ph
    fits = h >= ph and w >= pw
    padding = draw(st.sampled_from(["valid", "same"])) if fits else "same"
    strides = (ph, pw) if draw(st.booleans()) else (draw(st.integers(1, ph)), draw(st.integers(1, pw)))
    out = (conv_output_size(h, ph, strides[0], padding)[0], conv_output_size(w, pw, strides[1], padding)[0], c)
    return [_layer(cls, out, pool_size=(ph, pw), strides=strides, padding=padding)], out


def batchnorm_block(draw, shape):
    """BatchNormalization with random gamma, beta and moving statistics (set in build_model)."""
    return [_layer("BatchNormalization", shape)], shape


def activation_block(draw, shape):
    """A separate activation layer (after a BatchNormalization it is not merged into the conv):
    Activation, ReLU, ReLU6 or a leaky ReLU."""
    kind = draw(st.sampled_from(["Activation", "Activation", "ReLU6", "LeakyReLU"]))
    if kind == "Activation":
        return [_layer("Activation", shape, activation=draw(st.sampled_from(ACTIVATIONS)))], shape
    if kind == "ReLU6":
        return [_layer("ReLU", shape, max_value=6.0)], shape
    slope = draw(st.sampled_from([0.01, 0.1, 0.3, 0.5]))
    if draw(st.booleans()):
        return [_layer("LeakyReLU", shape, negative_slope=slope)], shape
    return [_layer("ReLU", shape, negative_slope=slope)], shape


def zero_pad_block(draw, shape):
    """ZeroPadding2D, 0..2 rows/columns on each side (not all zero)."""
    h, w, c = shape
    pads = [draw(st.integers(0, 2)) for _ in range(4)]
    if not any(pads):
        pads[draw(st.integers(0, 3))] = 1
    pt, pb, pl, pr = pads
    out = (h + pt + pb, w + pl + pr, c)
    return [_layer("ZeroPadding2D", out, padding=((pt, pb), (pl, pr)))], out


def flatten_block(draw, shape):
    out = (int(np.prod(shape)),)
    return [_layer("Flatten", out)], out


def reshape_block(draw, shape):
    """Reshape to a vector, with the size given or inferred (-1)."""
    out = (int(np.prod(shape)),)
    return [_layer("Reshape", out, target_shape=draw(st.sampled_from([out, (-1,)])))], out


def global_pool_block(draw, shape):
    """GlobalAveragePooling2D or GlobalMaxPooling2D down to a vector of channels."""
    cls = draw(st.sampled_from(["GlobalAveragePooling2D", "GlobalMaxPooling2D"]))
    out = (shape[2],)
    return [_layer(cls, out)], out


def dense_head(draw, shape):
    """0..2 Dense layers of 1..12 units with magnitude-free random sparsity (bounded by
    DENSE_NONZERO_BUDGET); the last may end in softmax, as an activation or a Softmax layer."""
    layers = []
    n = draw(st.integers(0, MAX_DENSE))
    for i in range(n):
        fan_in = shape[0]
        units = draw(st.integers(1, MAX_UNITS))
        sparsity = draw(st.sampled_from([0.0, 0.3, 0.7, 0.9]))
        sparsity = max(sparsity, 1.0 - DENSE_NONZERO_BUDGET / (fan_in * units))
        last = i == n - 1
        choices = ACTIVATIONS + ("softmax",) if last else ACTIVATIONS
        activation = draw(st.sampled_from(choices))
        shape = (units,)
        layers.append(_layer("Dense", shape, {"sparsity": round(sparsity, 4)}, units=units,
                             activation=activation, use_bias=draw(st.integers(0, 4)) > 0))
        if last and activation == "linear" and draw(st.integers(0, 3)) == 0:
            layers.append(_layer("Softmax", shape))
    return layers, shape


# The stages of a network, in order. Each list is what a stage may choose from; blocks that
# return None (do not fit the shape) are skipped.
# A block listed twice is drawn twice as often.
FEATURE_BLOCKS = [conv_block, conv_block, conv_block, depthwise_block, separable_block, residual_block]   # 1..MAX_CONVS
EXTRA_BLOCKS = [pool_block, pool_block, batchnorm_block, activation_block, zero_pad_block]  # 0..2 after each
TO_VECTOR_BLOCKS = [flatten_block, flatten_block, flatten_block, reshape_block, global_pool_block]
HEAD_BLOCKS = [dense_head]


def _one_of(draw, blocks, shape):
    """Draw a block among those that fit `shape` (tried in a drawn order)."""
    order = draw(st.permutations(range(len(blocks)))) if len(blocks) > 1 else [0]
    for i in order:
        made = blocks[i](draw, shape)
        if made is not None:
            return made
    return None


@st.composite
def cnn_specs(draw, min_hw=5, max_hw=16, max_channels=8):
    """Random valid CNN specs (see the module docstring)."""
    h = draw(st.integers(min_hw, max_hw))
    w = draw(st.integers(min_hw, max_hw)) if draw(st.booleans()) else h
    shape = (h, w, draw(st.integers(1, max_channels)))
    spec = CNNSpec(input_shape=shape, seed=draw(st.integers(0, 2**31 - 1)))
    for _ in range(draw(st.integers(1, MAX_CONVS))):
        made = _one_of(draw, FEATURE_BLOCKS, shape)
        if made is None:
            break
        spec.layers += made[0]
        shape = made[1]
        for _ in range(draw(st.integers(0, 2))):
            made = _one_of(draw, EXTRA_BLOCKS, shape)
            if made is not None:
                spec.layers += made[0]
                shape = made[1]
    for stage in (TO_VECTOR_BLOCKS, HEAD_BLOCKS):
        made = _one_of(draw, stage, shape)
        if made is not None:
            spec.layers += made[0]
            shape = made[1]
    return spec


# ---------------------------------------------------------------------------------------------
# Building the Keras model


def build_model(spec: CNNSpec):
    """The keras.Model of `spec`: layers named by kind and position (so the same spec gives
    the same generated C++, and the build cache hits), weights drawn from spec.seed."""
    import keras

    rng = np.random.default_rng(spec.seed)
    inp = keras.Input(spec.input_shape, name="input")
    made = []
    out = _apply(keras, spec.layers, inp, iter(named_entries(spec)), made)
    model = keras.Model(inp, out, name="random_cnn")
    for layer, entry in made:
        _set_weights(layer, entry, rng)
    return model


def named_entries(spec: CNNSpec) -> list:
    """(Keras layer name, entry) of every layer build_model makes, in order (a Residual's
    body, then its Add)."""
    counter: dict = {}
    out = []

    def walk(entries):
        for entry in entries:
            cls = "Add" if entry["class"] == "Residual" else entry["class"]
            if entry["class"] == "Residual":
                walk(entry["body"])
            counter[cls] = counter.get(cls, 0) + 1
            out.append((f"{cls.lower()}_{counter[cls]}", entry))
    walk(spec.layers)
    return out


def _apply(keras, entries, x, names, made):
    for entry in entries:
        if entry["class"] == "Residual":
            branch = _apply(keras, entry["body"], x, names, made)
            x = keras.layers.Add(name=next(names)[0])([x, branch])
            continue
        layer = getattr(keras.layers, entry["class"])(name=next(names)[0], **entry["config"])
        x = layer(x)
        made.append((layer, entry))
    return x


def _set_weights(layer, entry, rng):
    cls = entry["class"]
    prune = entry.get("prune") or {}
    if cls in ("Conv2D", "DepthwiseConv2D", "Dense"):
        kernel = layer.kernel.numpy()
        fan_in = int(np.prod(kernel.shape[:2 if cls == "DepthwiseConv2D" else -1]))
        kernel = rng.normal(0.0, 1.5 / math.sqrt(fan_in), kernel.shape)
        kernel *= dense_mask(kernel.shape, prune, rng) if cls == "Dense" else ikr_mask(kernel.shape, prune, rng)
        layer.kernel.assign(kernel.astype("float32"))
        if layer.use_bias:
            layer.bias.assign(rng.normal(0.0, 0.3, layer.bias.shape).astype("float32"))
    elif cls == "SeparableConv2D":
        depthwise = layer.depthwise_kernel.numpy()
        depthwise = rng.normal(0.0, 1.5 / math.sqrt(np.prod(depthwise.shape[:2])), depthwise.shape)
        layer.depthwise_kernel.assign((depthwise * ikr_mask(depthwise.shape, prune, rng)).astype("float32"))
        pointwise = layer.pointwise_kernel.numpy()
        layer.pointwise_kernel.assign(rng.normal(0.0, 1.5 / math.sqrt(pointwise.shape[2]), pointwise.shape)
                                      .astype("float32"))
        if layer.use_bias:
            layer.bias.assign(rng.normal(0.0, 0.3, layer.bias.shape).astype("float32"))
    elif cls == "BatchNormalization":
        n = layer.gamma.shape[0]
        layer.set_weights([rng.uniform(0.5, 1.5, n).astype("float32"),       # gamma
                           rng.normal(0.0, 0.3, n).astype("float32"),        # beta
                           rng.normal(0.0, 0.5, n).astype("float32"),        # moving mean
                           rng.uniform(0.3, 2.0, n).astype("float32")])      # moving variance


def ikr_mask(shape, prune, rng) -> np.ndarray:
    """An IKR mask for a (KH, KW, CI, CO) kernel (or depthwise (KH, KW, C, M)): a library of `library` random patterns of
    `keep` positions, a random pattern per kernel, and a `dead` fraction of whole kernels
    removed. Without `keep` (1x1 kernels) only whole kernels are removed."""
    kh, kw, ci, co = shape
    size = kh * kw
    keep = prune.get("keep", size)
    n_lib = prune.get("library", 1)
    library, seen = [], set()
    while len(library) < n_lib:                  # distinct patterns (n_lib <= C(size, keep))
        row = np.zeros(size, dtype=bool)
        row[rng.choice(size, size=keep, replace=False)] = True
        if row.tobytes() not in seen:
            seen.add(row.tobytes())
            library.append(row)
    assignment = rng.integers(0, n_lib, size=ci * co)
    assignment[rng.random(ci * co) < prune.get("dead", 0.0)] = -1
    return kernel_mask(np.array(library), assignment, shape)


def dense_mask(shape, prune, rng) -> np.ndarray:
    """Random unstructured sparsity: exactly round(sparsity * size) weights zeroed."""
    size = int(np.prod(shape))
    mask = np.ones(size, dtype=bool)
    mask[rng.choice(size, size=int(round(prune.get("sparsity", 0.0) * size)), replace=False)] = False
    return mask.reshape(shape)
