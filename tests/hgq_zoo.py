"""Small HGQ2 (quantization-aware) models for the tests: a LeNet-like, a residual and a
depthwise one, each trained a few steps from bit widths drawn at random per element, so that
every weight, bias and activation has its own format (and the WRAP quantizers' integer bits
follow the data as HGQ2 trains them). Modes: `modes` gives the activations' (round, overflow);
weights keep HGQ2's default (RND, SAT_SYM) unless `weight_modes` says otherwise.

Import only where hgq is installed (tests/test_hgq.py skips without it).
"""
import keras
import numpy as np
from hgq.config import QuantizerConfigScope

from hgq.layers import (
    QAdd,
    QAveragePooling2D,
    QBatchNormalization,
    QConv2D,
    QDense,
    QGlobalAveragePooling2D,
    QGlobalMaxPooling2D,
    QMaxPooling2D,
)

L = keras.layers


def _scope(seed: int, modes=("RND", "WRAP"), weight_modes=("RND", "SAT_SYM")):
    """Bit widths drawn per element: activations 1..7 fractional bits, weights 1..6 bits."""
    def uniform(lo, hi, k):
        return keras.initializers.RandomUniform(lo, hi, seed=seed * 10 + k)

    return (QuantizerConfigScope(place="datalane", q_type="kif", f0=uniform(0.5, 7.5, 1),
                                 round_mode=modes[0], overflow_mode=modes[1]),
            QuantizerConfigScope(place=("weight", "bias"), q_type="kbi", b0=uniform(1.5, 6.5, 3),
                                 round_mode=weight_modes[0], overflow_mode=weight_modes[1]))


def _train(model, seed: int, steps: int = 4):
    """A few steps of Adam on random data: HGQ2 moves the WRAP quantizers' integer bits to the
    data and the trainable widths a little."""
    rng = np.random.default_rng(seed)
    x = rng.random((steps * 16, *model.input_shape[1:])).astype("float32")
    y = rng.normal(size=(steps * 16, *model.output_shape[1:])).astype("float32")
    model.compile(keras.optimizers.Adam(1e-2), "mse", run_eagerly=True)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return model


def lenet_like(seed=0, modes=("RND", "WRAP"), weight_modes=("RND", "SAT_SYM")):
    """QConv2D + QMaxPooling2D twice, Flatten, two QDense."""
    a, b = _scope(seed, modes, weight_modes)
    with a, b:
        inp = keras.Input((14, 14, 1))
        x = QConv2D(4, 3, activation="relu", name="conv1")(inp)
        x = QMaxPooling2D(2, name="pool1")(x)
        x = QConv2D(6, 3, activation="relu", name="conv2")(x)
        x = QMaxPooling2D(2, name="pool2")(x)
        x = L.Flatten(name="flatten")(x)
        x = QDense(10, activation="relu", name="fc1")(x)
        out = QDense(5, name="fc2")(x)
        model = keras.Model(inp, out, name="hgq_lenet")
    return _train(model, seed)


def residual(seed=1, modes=("RND", "WRAP")):
    """A residual block (QAdd of a skip and two convs, a plain ReLU after it), QAveragePooling2D,
    QBatchNormalization, QGlobalAveragePooling2D and a QDense."""
    a, b = _scope(seed, modes)
    with a, b:
        inp = keras.Input((8, 8, 2))
        x = QConv2D(4, 3, padding="same", activation="relu", name="stem")(inp)
        y = QConv2D(4, 3, padding="same", activation="relu", name="branch1")(x)
        y = QConv2D(4, 1, name="branch2")(y)
        x = QAdd(name="add")([x, y])
        x = L.ReLU(name="relu")(x)
        x = QAveragePooling2D(2, name="avg")(x)
        x = QBatchNormalization(name="bn")(x)
        x = QGlobalAveragePooling2D(name="gap")(x)
        out = QDense(3, name="head")(x)
        model = keras.Model(inp, out, name="hgq_residual")
    return _train(model, seed)


def depthwise(seed=2, modes=("RND", "WRAP")):
    """A depthwise QConv2D (groups = channels), a grouped one, a 1x1 pointwise one, global max pooling."""
    a, b = _scope(seed, modes)
    with a, b:
        inp = keras.Input((9, 9, 4))
        x = QConv2D(4, 3, groups=4, activation="relu", name="dw")(inp)
        x = QConv2D(4, 3, groups=2, name="grouped")(x)
        x = QConv2D(6, 1, activation="relu", name="pw")(x)
        x = QGlobalMaxPooling2D(name="gmp")(x)
        out = QDense(3, name="head")(x)
        model = keras.Model(inp, out, name="hgq_depthwise")
    return _train(model, seed)


MODELS = {"lenet_like": lenet_like, "residual": residual, "depthwise": depthwise}
