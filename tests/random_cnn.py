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
keras.layers.Add, one whose class is "Concat" ({"class": "Concat", "body": [layers],
"config": {"axis": ...}}) the channels of x and body(x) side by side with
keras.layers.Concatenate, one whose class is "Product" x * body(x) with keras.layers.Multiply
(body(x) an image like x, or a squeeze-and-excitation vector of its channels) (functional
models). A network may start with an input preprocessing (Rescaling, Normalization).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from ikr_hls.hardware import COMPLETE_PARTITION_LIMIT
from ikr_hls.ir import conv_output_size
from ikr_hls.patterns import kernel_mask

# TensorFlow's graph remapper is off for the whole test session (tests/conftest.py): its fused
# kernels fail on some drawn networks and change how a NaN passes a ReLU.

# Every scalar activation the converter supports, by the names Keras layers take.
ACTIVATIONS = ("linear", "relu", "relu6", "leaky_relu", "tanh", "sigmoid", "hard_sigmoid", "hard_silu", "silu", "gelu")
LEAKY_SLOPES = (0.01, 0.1, 0.3, 0.5)
BN_EPSILONS = (1e-3, 1e-5, 0.1)
MAX_KERNEL = 5
MAX_FILTERS = 8
MAX_CONVS = 3
MAX_DENSE = 2
MAX_UNITS = 12
MAX_UPSAMPLED = 24          # UpSampling2D keeps images within MAX_UPSAMPLED x MAX_UPSAMPLED
# Entries that merge x with body(x): their Keras class
MERGES = {"Residual": "Add", "Concat": "Concatenate", "Product": "Multiply"}
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
        if layer["class"] in MERGES:
            args = ", ".join(f"{k}={v!r}" for k, v in layer.get("config", {}).items())
            lines.append(f"{indent}{layer['class']}({args})  -> {layer['shape']}")
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


def concat_block(draw, shape):
    """Concatenate([x, body(x)]) along the channels (axis -1 or 3): body is a stride-1
    same-padded Conv2D of 1..8 filters, optionally followed by an activation."""
    h, w, c = shape
    config, prune, _ = _conv_geometry(draw, shape)
    config.update(strides=(1, 1), padding="same")
    filters = draw(st.integers(1, MAX_FILTERS))
    body = [_layer("Conv2D", (h, w, filters), prune, filters=filters, **config)]
    if draw(st.booleans()):
        body += activation_block(draw, (h, w, filters))[0]
    out = (h, w, c + filters)
    return [{"class": "Concat", "body": body, "shape": out, "config": {"axis": draw(st.sampled_from([-1, 3]))}}], out


def product_block(draw, shape):
    """Multiply([x, body(x)]): body is a stride-1 same-padded Conv2D keeping the shape, or a
    squeeze-and-excitation (GlobalAveragePooling2D keepdims, a 1x1 Conv2D to the channels)
    whose (1, 1, C) vector scales every pixel."""
    h, w, c = shape
    config, prune, _ = _conv_geometry(draw, shape)
    if draw(st.booleans()):
        config.update(strides=(1, 1), padding="same")
        body = [_layer("Conv2D", shape, prune, filters=c, **config)]
    else:
        config.update(kernel_size=(1, 1), strides=(1, 1), padding="valid")
        body = [_layer("GlobalAveragePooling2D", (1, 1, c), keepdims=True),
                _layer("Conv2D", (1, 1, c), {"dead": prune["dead"]}, filters=c, **config)]
    return [{"class": "Product", "body": body, "shape": tuple(shape)}], shape


def preprocessing_block(draw, shape):
    """What keras.applications models start with: Rescaling (a scale and an offset, one or one
    per channel), a Normalization (mean and variance per channel or one for all, maybe
    inverted), or both."""
    c = shape[2]

    def constant(low, high):
        if draw(st.booleans()):
            return round(draw(st.floats(low, high)), 3)
        return tuple(round(draw(st.floats(low, high)), 3) for _ in range(c))
    layers = []
    if draw(st.integers(0, 2)):
        layers.append(_layer("Rescaling", shape, scale=constant(0.2, 2.0), offset=constant(-1.0, 1.0)))
    if not layers or draw(st.booleans()):
        per_channel = draw(st.booleans())         # axis -1: a mean per channel; None: one for all

        def values(low, high):
            drawn = tuple(round(draw(st.floats(low, high)), 3) for _ in range(c if per_channel else 1))
            return drawn if per_channel else drawn[0]
        layers.append(_layer("Normalization", shape, axis=-1 if per_channel else None, mean=values(-1.0, 1.0),
                             variance=values(0.25, 4.0), invert=draw(st.integers(0, 3)) == 0))
    return layers, shape


def transpose_block(draw, shape):
    """Conv2DTranspose (as _conv_geometry, strides 2 only where the output stays within
    MAX_UPSAMPLED), output_padding below the stride with valid padding (TensorFlow cannot run
    some same-padded ones), 1..8 filters; its (KH, KW, F, C) kernel gets an IKR mask."""
    h, w, c = shape
    config, prune, _ = _conv_geometry(draw, shape)
    (kh, kw), (sh, sw) = config["kernel_size"], config["strides"]
    sh, sw = (s if size * s + k <= MAX_UPSAMPLED else 1 for size, k, s in ((h, kh, sh), (w, kw, sw)))
    config["strides"] = (sh, sw)
    output_padding = None
    if config["padding"] == "valid" and max(sh, sw) > 1 and draw(st.booleans()):
        output_padding = (draw(st.integers(0, sh - 1)), draw(st.integers(0, sw - 1)))
    out = [size * s + max(k - s, 0) if config["padding"] == "valid" else size * s
           for size, k, s in ((h, kh, sh), (w, kw, sw))]
    if output_padding is not None:
        out = [(size - 1) * s + k + op
               for size, k, s, op in ((h, kh, sh, output_padding[0]), (w, kw, sw, output_padding[1]))]
    filters = draw(st.integers(1, MAX_FILTERS))
    out_shape = (out[0], out[1], filters)
    layer = _layer("Conv2DTranspose", out_shape, prune, filters=filters, output_padding=output_padding, **config)
    return [layer], out_shape


def upsample_block(draw, shape):
    """UpSampling2D (nearest), 1..3 per axis (not both 1), within MAX_UPSAMPLED."""
    h, w, c = shape
    max_h, max_w = min(3, MAX_UPSAMPLED // h), min(3, MAX_UPSAMPLED // w)
    if min(max_h, max_w) < 1 or max(max_h, max_w) < 2:
        return None
    sh = draw(st.integers(1, max_h))
    sw = draw(st.integers(1, max_w)) if draw(st.booleans()) else min(sh, max_w)
    if sh == sw == 1:
        sh, sw = (2, 1) if max_h >= 2 else (1, 2)
    out = (h * sh, w * sw, c)
    return [_layer("UpSampling2D", out, size=(sh, sw))], out


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
    """BatchNormalization with or without its scale (gamma) and center (beta), any epsilon;
    random gamma, beta and moving statistics (set in build_model)."""
    return [_layer("BatchNormalization", shape, scale=draw(st.integers(0, 3)) > 0,
                   center=draw(st.integers(0, 3)) > 0, epsilon=draw(st.sampled_from(BN_EPSILONS)))], shape


def activation_block(draw, shape):
    """A separate activation layer (after a BatchNormalization it is not merged into the conv):
    Activation by name, ReLU (plain, max_value=6 or a negative_slope) or LeakyReLU."""
    kind = draw(st.sampled_from(["Activation", "Activation", "ReLU", "LeakyReLU"]))
    if kind == "Activation":
        return [_layer("Activation", shape, activation=draw(st.sampled_from(ACTIVATIONS)))], shape
    if kind == "LeakyReLU":
        return [_layer("LeakyReLU", shape, negative_slope=draw(st.sampled_from(LEAKY_SLOPES)))], shape
    relu = draw(st.sampled_from(["plain", "max_value", "negative_slope"]))
    if relu == "plain":
        return [_layer("ReLU", shape)], shape
    if relu == "max_value":
        return [_layer("ReLU", shape, max_value=6.0)], shape
    return [_layer("ReLU", shape, negative_slope=draw(st.sampled_from(LEAKY_SLOPES)))], shape


def dropout_block(draw, shape):
    """Dropout: the identity at inference."""
    return [_layer("Dropout", shape, rate=draw(st.sampled_from([0.1, 0.5])))], shape


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
    """GlobalAveragePooling2D or GlobalMaxPooling2D down to a vector of channels (with
    keepdims, to a 1x1 image, then flattened)."""
    cls = draw(st.sampled_from(["GlobalAveragePooling2D", "GlobalMaxPooling2D"]))
    out = (shape[2],)
    if draw(st.integers(0, 2)) == 0:
        return [_layer(cls, (1, 1, shape[2]), keepdims=True), _layer("Flatten", out)], out
    return [_layer(cls, out)], out


def dense_head(draw, shape):
    """0..2 Dense layers (none on a vector over COMPLETE_PARTITION_LIMIT) of 1..12 units with
    magnitude-free random sparsity (bounded by DENSE_NONZERO_BUDGET), each maybe followed by
    BatchNormalization; the last may end in softmax, as its activation, an Activation layer or
    a Softmax layer."""
    layers = []
    # io_stream refuses a Dense whose input vector is wider than the registers it may partition
    n = draw(st.integers(0, MAX_DENSE)) if shape[0] <= COMPLETE_PARTITION_LIMIT else 0
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
        if activation != "softmax" and draw(st.integers(0, 3)) == 0:
            layers += batchnorm_block(draw, shape)[0]
        if last and activation != "softmax" and draw(st.integers(0, 2)) == 0:
            softmax = draw(st.sampled_from([("Softmax", {}), ("Softmax", {"axis": 1}),
                                            ("Activation", {"activation": "softmax"})]))
            layers.append(_layer(softmax[0], shape, **softmax[1]))
    return layers, shape


# The stages of a network, in order. Each list is what a stage may choose from; blocks that
# return None (do not fit the shape) are skipped.
# A block listed twice is drawn twice as often.
FEATURE_BLOCKS = [conv_block, conv_block, depthwise_block, separable_block, residual_block,  # 1..MAX_CONVS
                  concat_block, transpose_block, product_block]
EXTRA_BLOCKS = [pool_block, pool_block, batchnorm_block, activation_block, zero_pad_block,  # 0..2 after each
                dropout_block, upsample_block, upsample_block]
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
    if draw(st.integers(0, 3)) == 0:
        spec.layers += preprocessing_block(draw, shape)[0]
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
            cls = keras_class(entry)
            if entry["class"] in MERGES:
                walk(entry["body"])
            counter[cls] = counter.get(cls, 0) + 1
            out.append((f"{cls.lower()}_{counter[cls]}", entry))
    walk(spec.layers)
    return out


def keras_class(entry) -> str:
    """The Keras class an entry builds (a merge entry: its Add or Concatenate)."""
    return MERGES.get(entry["class"], entry["class"])


def _apply(keras, entries, x, names, made):
    for entry in entries:
        if entry["class"] in MERGES:
            branch = _apply(keras, entry["body"], x, names, made)
            merge = getattr(keras.layers, MERGES[entry["class"]])
            x = merge(name=next(names)[0], **entry.get("config", {}))([x, branch])
            continue
        layer = getattr(keras.layers, entry["class"])(name=next(names)[0], **entry["config"])
        x = layer(x)
        made.append((layer, entry))
    return x


def _set_weights(layer, entry, rng):
    cls = entry["class"]
    prune = entry.get("prune") or {}
    if cls in ("Conv2D", "DepthwiseConv2D", "Dense", "Conv2DTranspose"):
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
        n = layer.moving_mean.shape[0]
        if layer.scale:
            layer.gamma.assign(rng.uniform(0.5, 1.5, n).astype("float32"))
        if layer.center:
            layer.beta.assign(rng.normal(0.0, 0.3, n).astype("float32"))
        layer.moving_mean.assign(rng.normal(0.0, 0.5, n).astype("float32"))
        layer.moving_variance.assign(rng.uniform(0.3, 2.0, n).astype("float32"))


def ikr_mask(shape, prune, rng) -> np.ndarray:
    """An IKR mask for a (KH, KW, CI, CO) kernel (or depthwise (KH, KW, C, M)): a library of
    `library` random patterns of `keep` positions, a random pattern per kernel, and a `dead` fraction of whole kernels
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


# ---------------------------------------------------------------------------------------------
# Option coverage: what the generator must draw (tests/test_option_coverage.py)
#
# Every constructor option of a supported Keras layer that changes its inference math is a
# key of OPTIONS[class]; its `cases` name the values the generator must draw (each a
# predicate on the value as the layer's get_config() gives it), and `refused` lists values
# the converter must refuse (for options it supports in one form only). The test checks
# this table against Keras (every math option of the class is here), against the frontend
# (every option it reads is here) and against a few hundred drawn specs (every case is
# drawn); a set of drawn specs covering every case is then converted and compared with
# Keras in float and with the reference in fixed point, in both strategies.


@dataclass(frozen=True)
class Option:
    cases: dict                 # case name -> predicate on the option's value
    refused: tuple = ()         # values the converter must refuse with a clear error


def _is(value):
    return lambda v: v == value


def _values(*values) -> Option:
    return Option({repr(v): _is(v) for v in values})


def _only(value, *refused) -> Option:
    return Option({repr(value): _is(value)}, refused)


def _pair_cases(name) -> dict:
    return {f"{name} 1": _is((1, 1)), f"{name} > 1": lambda v: v[0] == v[1] > 1,
            f"{name} non-square": lambda v: v[0] != v[1]}


_KERNEL = Option(_pair_cases("kernel"))
# 1x1 separable convs are not drawn (see separable_block)
_SEPARABLE_KERNEL = Option({k: v for k, v in _pair_cases("kernel").items() if k != "kernel 1"})
_STRIDES = Option(_pair_cases("stride"))
_PADDING = _values("valid", "same")
_USE_BIAS = _values(True, False)
_CHANNELS_LAST = _only("channels_last", "channels_first")
_FLOAT32 = _only("float32", "int8_from_float32")      # a quantized layer stores int8 codes
_CONV_ACTIVATION = Option({repr(a): _is(a) for a in ACTIVATIONS}, ("softmax", "elu"))
# Every conv class applies its fused activation through the same code (the conv2d kind's
# activation call): the activations edge models brought (hard_sigmoid, hard_silu, silu, gelu)
# are required of Conv2D (and Dense, Activation), the others of every conv class; all of them
# are drawn everywhere. (Requiring all ten of each class made the cover 32 models.)
_CLASSIC_ACTIVATIONS = ("linear", "relu", "relu6", "leaky_relu", "tanh", "sigmoid")
_CLASSIC_CONV_ACTIVATION = Option({repr(a): _is(a) for a in _CLASSIC_ACTIVATIONS}, ("softmax", "elu"))
_COUNT = Option({"1": _is(1), "> 1": lambda v: v > 1})
_CONV_COMMON = dict(kernel_size=_KERNEL, strides=_STRIDES, padding=_PADDING, use_bias=_USE_BIAS,
                    activation=_CLASSIC_CONV_ACTIVATION, data_format=_CHANNELS_LAST,
                    dilation_rate=_only((1, 1), (2, 2)), dtype=_FLOAT32)
_POOL = dict(pool_size=Option({"2": _is((2, 2)), "3": _is((3, 3)), "non-square": lambda v: v[0] != v[1]}),
             strides=Option({"= pool": lambda v: v in ((2, 2), (3, 3)), "1": lambda v: 1 in v,
                             "non-square": lambda v: v[0] != v[1]}),
             padding=_PADDING, data_format=_CHANNELS_LAST, dtype=_FLOAT32)
_ONE_OR_PER_CHANNEL = Option({"one": lambda v: not isinstance(v, tuple), "per channel": lambda v: isinstance(v, tuple)})
_GLOBAL_POOL = dict(keepdims=_values(False, True), data_format=_CHANNELS_LAST, dtype=_FLOAT32)

OPTIONS = {
    "Conv2D": dict(_CONV_COMMON, filters=_COUNT, groups=_only(1, 2), activation=_CONV_ACTIVATION),
    "DepthwiseConv2D": dict(_CONV_COMMON, depth_multiplier=_COUNT),
    "Conv2DTranspose": dict(_CONV_COMMON, filters=_COUNT,
                            output_padding=Option({"None": _is(None), "given": lambda v: v is not None})),
    "SeparableConv2D": dict(_CONV_COMMON, kernel_size=_SEPARABLE_KERNEL, filters=_COUNT, depth_multiplier=_COUNT),
    "Dense": dict(units=_COUNT, use_bias=_USE_BIAS, dtype=_FLOAT32,
                  activation=Option({repr(a): _is(a) for a in ACTIVATIONS + ("softmax",)}, ("elu",)),
                  quantization_config=_only(None)),
    "BatchNormalization": dict(scale=_values(True, False), center=_values(True, False),
                               epsilon=Option({repr(e): _is(e) for e in BN_EPSILONS}),
                               axis=_only(-1, 1), dtype=_FLOAT32),
    "MaxPooling2D": _POOL,
    "AveragePooling2D": _POOL,
    "GlobalAveragePooling2D": _GLOBAL_POOL,
    "GlobalMaxPooling2D": _GLOBAL_POOL,
    "ZeroPadding2D": dict(padding=Option({"symmetric": lambda v: v[0][0] == v[0][1] == v[1][0] == v[1][1],
                                          "asymmetric": lambda v: len({*v[0], *v[1]}) > 1}),
                          data_format=_CHANNELS_LAST, dtype=_FLOAT32),
    "Flatten": dict(data_format=_CHANNELS_LAST, dtype=_FLOAT32),
    "Reshape": dict(target_shape=Option({"given": lambda v: -1 not in v, "inferred": lambda v: -1 in v}),
                    dtype=_FLOAT32),
    "Add": dict(dtype=_FLOAT32),
    "Multiply": dict(dtype=_FLOAT32),
    "Rescaling": dict(scale=_ONE_OR_PER_CHANNEL, offset=_ONE_OR_PER_CHANNEL, dtype=_FLOAT32),
    "Normalization": dict(axis=Option({"-1": _is((-1,)), "None": _is(())}),
                          mean=_ONE_OR_PER_CHANNEL,
                          variance=Option({"given": lambda v: v is not None}), invert=_values(False, True),
                          dtype=_FLOAT32),
    "Concatenate": dict(axis=Option({"-1": _is(-1), "3": _is(3)}, (1, 2)), dtype=_FLOAT32),
    "UpSampling2D": dict(size=Option({"2": _is((2, 2)), "3": lambda v: 3 in v, "non-square": lambda v: v[0] != v[1]}),
                         interpolation=_only("nearest", "bilinear"), data_format=_CHANNELS_LAST, dtype=_FLOAT32),
    "Dropout": dict(dtype=_FLOAT32),
    "Activation": dict(activation=Option({repr(a): _is(a) for a in ACTIVATIONS + ("softmax",)}, ("elu",)),
                       dtype=_FLOAT32),
    "ReLU": dict(max_value=Option({"None": _is(None), "6": _is(6.0)}, (3.0,)),
                 negative_slope=Option({"0": _is(0.0), "> 0": lambda v: v > 0}),
                 threshold=_only(0.0, 0.5), dtype=_FLOAT32),
    "LeakyReLU": dict(negative_slope=Option({repr(s): _is(s) for s in LEAKY_SLOPES}), dtype=_FLOAT32),
    "Softmax": dict(axis=Option({"-1": _is(-1), "1": _is(1)}, (0,)), dtype=_FLOAT32),
}

# Where a layer lands in the converted graph also changes the code that computes it.
CONTEXTS = ("BatchNormalization folded into a conv", "BatchNormalization folded into a Dense",
            "BatchNormalization on its own", "a scale-and-shift folded into the one before it",
            "activation fused into an Add",
            "an activation layer after a layer with its own activation",
            "ZeroPadding2D merged into a conv", "ZeroPadding2D on its own",
            "AveragePooling2D padded unevenly (top != left)", "MaxPooling2D padded unevenly (top != left)")
_CONVS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")
_SCALE_SHIFTS = ("BatchNormalization", "Rescaling", "Normalization")
_ACTIVATION_LAYERS = ("Activation", "ReLU", "LeakyReLU", "Softmax")


def option_value(layer, option):
    """An option's value as the coverage table sees it: get_config()'s, the dtype policy by
    name, sequences as tuples."""
    if option == "dtype":
        return layer.dtype_policy.name
    value = layer.get_config()[option]

    def plain(v):
        return tuple(plain(x) for x in v) if isinstance(v, (list, tuple)) else v
    return plain(value)


def covered_cases(spec: CNNSpec) -> set:
    """{(class, option, case)} and {("context", name)} that building `spec` exercises (the
    Keras layers are constructed, not built: cheap)."""
    import keras

    found = set()
    for _, entry in named_entries(spec):
        if entry["class"] in MERGES:                      # its Add or Concatenate
            entry = {"class": keras_class(entry), "config": entry.get("config", {})}
        layer = getattr(keras.layers, entry["class"])(**entry["config"])
        for option, spec_option in OPTIONS[entry["class"]].items():
            value = option_value(layer, option)
            found |= {(entry["class"], option, case) for case, test in spec_option.cases.items() if test(value)}
    return found | {("context", c) for c in _contexts(spec.layers, previous=None, in_shape=spec.input_shape)}


def _activation_of(entry) -> str:
    """The activation an entry applies ("linear" for none; activation layers by class)."""
    if entry is None:
        return "linear"
    if entry["class"] in ("ReLU", "LeakyReLU", "Softmax"):
        return entry["class"]
    return entry.get("config", {}).get("activation", "linear")


def _contexts(entries, previous, in_shape) -> set:
    """The CONTEXTS the layer sequence puts layers in (Dropout and a linear Activation are
    transparent: they are removed);
    in_shape is the shape the first entry reads."""
    found = set()
    shapes = [in_shape] + [e["shape"] for e in entries]          # shapes[i]: what entry i reads
    kept = [(e, shapes[i]) for i, e in enumerate(entries) if e["class"] != "Dropout" and not (   # both removed
        e["class"] == "Activation" and e["config"].get("activation") == "linear")]
    folded: dict = {}                       # a scale-and-shift folded into an entry before it -> that entry
    for i, (entry, shape) in enumerate(kept):
        cls = entry["class"]
        prev = kept[i - 1][0] if i else previous
        prev_activation = _activation_of(prev)
        if cls in MERGES:
            found |= _contexts(entry["body"], previous=None, in_shape=shape)
        elif cls in _SCALE_SHIFTS:
            target = folded.get(id(prev), prev)     # what the one before it folded into, if it did
            target_cls = None if target is None else target["class"]
            if target_cls in _CONVS + ("Conv2DTranspose", "Dense") and _activation_of(target) == "linear":
                found.add("BatchNormalization folded into a Dense" if target_cls == "Dense"
                          else "BatchNormalization folded into a conv")
                folded[id(entry)] = target
            elif target_cls in _SCALE_SHIFTS:
                found.add("a scale-and-shift folded into the one before it")
                folded[id(entry)] = target
            elif cls == "BatchNormalization":
                found.add("BatchNormalization on its own")
        elif cls in _ACTIVATION_LAYERS and prev is not None and prev["class"] == "Residual":
            found.add("activation fused into an Add")
        elif cls in _ACTIVATION_LAYERS and prev is not None and prev_activation != "linear":
            found.add("an activation layer after a layer with its own activation")
        elif cls == "ZeroPadding2D":
            following = kept[i + 1][0] if i + 1 < len(kept) else {"class": None}
            merged = following["class"] in _CONVS or (        # a strided transpose's zero insertion reads it
                following["class"] == "Conv2DTranspose" and tuple(following["config"]["strides"]) == (1, 1))
            found.add("ZeroPadding2D merged into a conv" if merged else "ZeroPadding2D on its own")
        elif cls in ("AveragePooling2D", "MaxPooling2D") and entry["config"]["padding"] == "same":
            (ph, pw), (sh, sw) = entry["config"]["pool_size"], entry["config"]["strides"]
            top = conv_output_size(shape[0], ph, sh, "same")[1]
            left = conv_output_size(shape[1], pw, sw, "same")[1]
            if top != left:
                found.add(f"{cls} padded unevenly (top != left)")
    return found


def required_cases() -> set:
    return ({(cls, option, case) for cls, options in OPTIONS.items()
             for option, spec_option in options.items() for case in spec_option.cases}
            | {("context", c) for c in CONTEXTS})


def covering_specs(draws: int = 1000) -> tuple[list, set]:
    """A few specs, drawn by cnn_specs(), that together exercise every required case: chosen
    greedily from `draws` derandomized draws, then for each case still missing, the first
    draw of a search for one that has it. Returns (specs, cases no search found).

    Hypothesis seeds its generation with constants it finds in the loaded modules, so which
    test modules a session imports changes the draws: the search makes the cover complete
    whatever they are (a failing spec prints as a CNNSpec that rebuilds it)."""
    from hypothesis import HealthCheck, Phase, find, given, settings
    from hypothesis.errors import NoSuchExample

    options = dict(database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck),
                   deadline=None)
    drawn = []

    @settings(max_examples=draws, derandomize=True, **options)
    @given(cnn_specs())
    def collect(spec):
        drawn.append((spec, covered_cases(spec)))

    collect()
    missing = set(required_cases())
    chosen = []
    while missing:
        spec, cases = max(drawn, key=lambda item: len(item[1] & missing))
        if not cases & missing:
            break
        chosen.append(spec)
        missing -= cases
    for case in sorted(missing):
        if case not in missing:
            continue
        try:
            spec = find(cnn_specs(), lambda s, case=case: case in covered_cases(s),
                        settings=settings(max_examples=4000, derandomize=True, **options))
        except NoSuchExample:
            continue
        chosen.append(spec)
        missing -= covered_cases(spec)
    return chosen, missing
