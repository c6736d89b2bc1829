"""Small Keras models covering the converter's layers, with random weights.

`build(name, seed)` makes one; `zero_out(model, fraction, seed)` sets random kernel
positions (and a few whole kernels) to zero, as a pruned model would have.
"""
import keras
import numpy as np

L = keras.layers


def lenet5():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(6, 5, activation="relu", name="conv1"), L.MaxPooling2D(2, name="pool1"),
        L.Conv2D(16, 5, activation="relu", name="conv2"), L.MaxPooling2D(2, name="pool2"),
        L.Flatten(name="flatten"), L.Dense(120, activation="relu", name="fc1"),
        L.Dense(84, activation="relu", name="fc2"), L.Dense(10, activation="softmax", name="fc3"),
    ], name="lenet5")


def same_stride2():
    """Conv2D padding=same with stride 2, then a 1x1 conv."""
    return keras.Sequential([
        keras.Input((16, 16, 3)),
        L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        L.Conv2D(5, 1, padding="same"),
        L.Flatten(), L.Dense(6),
    ], name="same_stride2")


def nonsquare_bn():
    """20x12x3 input; BatchNormalization folded after a conv and kept after a pooling;
    Activation layers; tanh; max-pool with same padding; Dense without bias; sigmoid."""
    inp = keras.Input((20, 12, 3))
    x = L.Conv2D(8, 3, padding="same", use_bias=False)(inp)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.AveragePooling2D(2)(x)
    x = L.BatchNormalization()(x)
    x = L.Conv2D(6, 3, strides=(2, 1), activation="tanh")(x)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = L.Flatten()(x)
    x = L.Dropout(0.3)(x)
    x = L.Dense(10, use_bias=False)(x)
    out = L.Activation("sigmoid")(x)
    return keras.Model(inp, out, name="nonsquare_bn")


def avgpool_same():
    """AveragePooling2D with same padding (Keras averages only the valid inputs), a
    non-square kernel with unequal strides, ReLU and Softmax layers."""
    return keras.Sequential([
        keras.Input((15, 15, 2)),
        L.AveragePooling2D(3, strides=2, padding="same"),
        L.Conv2D(3, (2, 3), strides=(1, 2), padding="same"), L.ReLU(),
        L.Flatten(), L.Dense(5), L.Softmax(),
    ], name="avgpool_same")


def mlp():
    """Vector input, Dense with and without bias, BatchNormalization folded into Dense."""
    return keras.Sequential([
        keras.Input((12,)),
        L.Dense(16), L.BatchNormalization(), L.Activation("relu"), L.Dropout(0.5),
        L.Dense(4, use_bias=False, activation="linear"),
    ], name="mlp")


def activations():
    """Activations that stay layers of their own: after a pooling (tanh), after a
    BatchNormalization that could not be folded (leaky ReLU, softmax)."""
    return keras.Sequential([
        keras.Input((8, 8, 2)),
        L.Conv2D(3, 3), L.MaxPooling2D(2), L.Activation("tanh"),
        L.BatchNormalization(), L.LeakyReLU(negative_slope=0.2),
        L.Flatten(), L.Dense(4, activation="relu"), L.BatchNormalization(), L.Softmax(),
    ], name="activations")


MODELS = {f.__name__: f for f in (lenet5, same_stride2, nonsquare_bn, avgpool_same, mlp)}
EXTRA_MODELS = {f.__name__: f for f in (activations,)}


def randomize(model, seed):
    """Random weights everywhere, including BatchNormalization statistics (variance > 0)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        new = []
        for w in layer.weights:
            if "variance" in w.path:
                new.append(rng.uniform(0.5, 2.0, w.shape))
            else:
                new.append(rng.normal(0, 0.5, w.shape))
        if new:
            layer.set_weights([a.astype("float32") for a in new])
    return model


def zero_out(model, fraction=0.6, seed=0):
    """Zero random kernel positions of every Conv2D/Dense layer, and a few whole conv kernels."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, (L.Conv2D, L.Dense)):
            kernel = np.array(layer.kernel.numpy())
            kernel[rng.random(kernel.shape) < fraction] = 0.0
            if kernel.ndim == 4:
                dead = rng.random(kernel.shape[2:]) < 0.2
                kernel[:, :, dead] = 0.0
            layer.kernel.assign(kernel)
    return model


def build(name, seed=0, zeros=False):
    model = randomize({**MODELS, **EXTRA_MODELS}[name](), seed)
    return zero_out(model, seed=seed) if zeros else model


def ikr_prune(model, keep, library_size=8, seed=0):
    """Random IKR pruning: each conv kernel keeps `keep` positions, taken from a library of
    `library_size` random patterns per layer (what the pruning callback produces, minus the
    choice by energy)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, (L.Conv2D, L.DepthwiseConv2D, L.SeparableConv2D, L.Conv2DTranspose)) \
                and np.prod(layer.kernel_size) > keep:
            variable = layer.depthwise_kernel if isinstance(layer, L.SeparableConv2D) else layer.kernel
            kernel = np.array(variable.numpy())                 # (1x1 kernels: nothing to prune)
            kh, kw, ci, co = kernel.shape
            library = np.zeros((library_size, kh * kw), dtype=bool)
            for row in library:
                row[rng.choice(kh * kw, size=keep, replace=False)] = True
            choice = rng.integers(0, library_size, size=(ci, co))
            mask = library[choice].reshape(ci, co, kh, kw).transpose(2, 3, 0, 1)
            variable.assign(kernel * mask)
    return model


# --- graphs beyond a chain: residual Add, depthwise, global pooling, padding, reshape ------------

def residual():
    """A small ResNet block pair: ZeroPadding2D merged into a conv, Add with a fused ReLU, the
    input and a block output each read by several layers, LeakyReLU and ReLU6 layers, a
    ZeroPadding2D before a pooling (a layer of its own), GlobalAveragePooling2D, Reshape."""
    inp = keras.Input((12, 10, 3))
    x = L.ZeroPadding2D(((1, 1), (2, 0)), name="pad_in")(inp)
    x = L.Conv2D(8, 3, padding="valid", name="stem")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(max_value=6.0, name="stem_relu6")(x)
    y = L.Conv2D(8, 3, padding="same", name="block1_a")(x)
    y = L.LeakyReLU(negative_slope=0.1, name="block1_leaky")(y)
    y = L.Conv2D(8, 3, padding="same", name="block1_b")(y)
    x = L.Add(name="block1_add")([x, y])
    x = L.Activation("relu", name="block1_relu")(x)
    z = L.Conv2D(8, 1, activation="leaky_relu", name="block2_a")(x)
    x = L.Add(name="block2_add")([x, z, x])          # the same tensor twice: three reads of x
    x = L.ZeroPadding2D(1, name="pad_pool")(x)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Reshape((2, 4), name="reshape")(x)
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(5, activation="softmax", name="head")(x)
    return keras.Model(inp, out, name="residual")


def depthwise_separable():
    """MobileNet-like: DepthwiseConv2D (multipliers 1 and 2, stride 2, same and valid) each
    followed by a 1x1 Conv2D, BatchNormalization, relu6 by name, a SeparableConv2D,
    GlobalMaxPooling2D with keepdims, and a skip connection from the input through a 1x1 conv."""
    inp = keras.Input((14, 14, 4))
    x = L.DepthwiseConv2D(3, padding="same", name="dw1")(inp)
    x = L.BatchNormalization(name="dw1_bn")(x)
    x = L.Activation("relu6", name="dw1_relu6")(x)
    x = L.Conv2D(6, 1, name="pw1")(x)
    skip = L.Conv2D(6, 1, name="skip")(inp)
    x = L.Add(name="join")([x, skip])
    x = L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, activation="relu", name="dw2")(x)
    x = L.Conv2D(8, 1, activation="relu6", name="pw2")(x)
    x = L.SeparableConv2D(5, 3, padding="same", depth_multiplier=2, activation="relu", name="sep")(x)
    x = L.GlobalMaxPooling2D(keepdims=True, name="gmp")(x)
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(4, name="head")(x)
    return keras.Model(inp, out, name="depthwise_separable")


def unet():
    """A U-Net fragment: an encoder conv read by a pooling and by a skip Concatenate of three
    inputs (the model input among them, so two forked streams merge there), UpSampling2D 2x2,
    1x2 and 2x1, a Conv2DTranspose of stride 2x1 (zero insertion, then a conv of its flipped
    kernel), and a Concatenate of one tensor with itself."""
    inp = keras.Input((12, 12, 3))
    enc = L.Conv2D(4, 3, padding="same", activation="relu", name="enc")(inp)
    x = L.MaxPooling2D(2, name="down")(enc)
    x = L.Conv2D(6, 3, padding="same", activation="relu", name="mid")(x)
    x = L.UpSampling2D(2, name="up")(x)
    x = L.Concatenate(name="skip_cat")([enc, x, inp])
    x = L.Conv2D(5, 3, padding="same", activation="tanh", name="dec")(x)
    x = L.UpSampling2D((1, 2), name="up_cols")(x)
    x = L.MaxPooling2D(2, name="down2")(x)
    x = L.UpSampling2D((2, 1), name="up_rows")(x)
    x = L.Conv2DTranspose(3, (3, 2), strides=(2, 1), activation="relu", name="tconv")(x)
    x = L.Concatenate(axis=3, name="self_cat")([x, x])
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(4, name="head")(x)
    return keras.Model(inp, out, name="unet")


def squeeze_excite():
    """MobileNetV3 / EfficientNet-like: Rescaling and Normalization (one scale-and-shift at the
    input), a conv with hard_silu, a depthwise conv with silu, a squeeze-and-excitation whose
    hard sigmoid is written with keras.ops (x + 3, ReLU6, * 1/6) and whose (1, 1, C) vector
    scales the image (Multiply: the image's copy waits for the squeeze), a second excitation by
    a (C,) vector from a Dense with sigmoid (the vector first), a Multiply of three same-shape
    tensors, gelu and hard_sigmoid layers (the latter fused into a BatchNormalization of its
    own), a Dense with gelu."""
    inp = keras.Input((10, 9, 3))
    x = L.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inp)
    x = L.Normalization(mean=[0.1, -0.2, 0.3], variance=[1.2, 0.8, 1.5], name="norm")(x)
    x = L.Conv2D(8, 3, padding="same", activation="hard_silu", name="stem")(x)
    y = L.DepthwiseConv2D(3, padding="same", activation="silu", name="dw")(x)
    s = L.GlobalAveragePooling2D(keepdims=True, name="squeeze")(y)
    s = L.Conv2D(4, 1, activation="relu", name="reduce")(s)
    s = L.Conv2D(8, 1, name="expand")(s)
    s = L.ReLU(6.0, name="gate_relu6")(s + 3.0) * (1.0 / 6.0)
    y = L.Multiply(name="excite")([y, s])
    v = L.GlobalAveragePooling2D(name="squeeze2")(y)
    v = L.Dense(8, activation="sigmoid", name="gate2")(v)
    z = L.Multiply(name="excite2")([v, y])
    z = L.Multiply(name="triple")([z, x, y])
    z = L.Activation("gelu", name="act_gelu")(L.MaxPooling2D(2, name="pool")(z))
    z = L.Activation("hard_sigmoid", name="act_hard_sigmoid")(L.BatchNormalization(name="bn")(z))
    out = L.Dense(5, activation="gelu", name="head")(L.Flatten(name="flatten")(z))
    return keras.Model(inp, out, name="squeeze_excite")


DAG_MODELS = {f.__name__: f for f in (residual, depthwise_separable, unet, squeeze_excite)}


def build_dag(name, seed=0, keep=None):
    """A DAG_MODELS model with random weights; keep: IKR-prune every conv kernel bigger than
    1x1 (depthwise ones included) to `keep` positions from a random 4-pattern library."""
    model = randomize(DAG_MODELS[name](), seed)
    return model if keep is None else ikr_prune(model, keep, library_size=4, seed=seed)


# One model per geometry, together every hardware kind: the hardware checks
# (test_hardware.py) and the io_stream equivalence tests (test_io_stream.py) run on these.
EVERY_KIND = {
    "lenet_ikr": lambda: ikr_prune(build("lenet5", seed=3), keep=5, library_size=6, seed=3),
    "same_stride2": lambda: build("same_stride2", seed=3, zeros=True),
    "nonsquare_bn": lambda: build("nonsquare_bn", seed=3, zeros=True),
    "avgpool_same": lambda: build("avgpool_same", seed=3),
    "mlp": lambda: build("mlp", seed=3, zeros=True),
    "residual": lambda: build_dag("residual", seed=3, keep=4),
    "depthwise_separable": lambda: build_dag("depthwise_separable", seed=3, keep=4),
    "activations": lambda: build("activations", seed=3),
    "unet": lambda: build_dag("unet", seed=3, keep=4),
    "squeeze_excite": lambda: build_dag("squeeze_excite", seed=3, keep=4),
}


# keras.applications edge models at 32x32x3 (weights=None: nothing is downloaded), by name:
# (constructor, keyword arguments)
APPLICATIONS = {
    "MobileNetV3Small": ("MobileNetV3Small", {}),
    "MobileNetV3Small-minimalistic": ("MobileNetV3Small", {"minimalistic": True}),
    "EfficientNetB0": ("EfficientNetB0", {}),
}


def application(name, seed=0, keep=4, n_calibration=16):
    """A keras.applications model at 32x32x3 with 10 classes and logits out (no softmax: random
    EfficientNetB0 logits are large enough to saturate one and hide an error), IKR-pruned once (every kernel bigger
    than 1x1 keeps `keep` positions from an 8-pattern library), then given random
    BatchNormalization scales and shifts and, as statistics, those its inputs have on random
    images (one pass in training mode, momentum 0): with Keras's initial statistics the signal of
    these deep models fades to 1e-11 by the logits, and a comparison would check nothing."""
    from ikr_hls.pruning import prune_once

    constructor, options = APPLICATIONS[name]
    keras.utils.set_random_seed(seed)
    model = getattr(keras.applications, constructor)(input_shape=(32, 32, 3), weights=None, classes=10,
                                                        classifier_activation=None, **options)
    prune_once(model, keep=keep, library_size=8)
    rng = np.random.default_rng(seed)
    saved = {}
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.3, layer.beta.shape).astype("float32"))
            saved[layer.name], layer.momentum = layer.momentum, 0.0
        elif isinstance(layer, L.Dropout):
            saved[layer.name], layer.rate = layer.rate, 0.0
    model(application_images((n_calibration, 32, 32, 3), seed + 1), training=True)
    for layer in model.layers:
        if layer.name in saved:
            setattr(layer, "momentum" if isinstance(layer, L.BatchNormalization) else "rate", saved[layer.name])
    return model


def application_images(shape, seed=0):
    """Random 8-bit images, as the applications' Rescaling expects (0 to 255, integers)."""
    return np.random.default_rng(seed).integers(0, 256, shape).astype("float32")
