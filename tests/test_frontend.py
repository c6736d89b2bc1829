"""Keras -> IR: supported layers, passes, and one clear error for everything else."""
import keras
import numpy as np
import pytest

import ikr_hls
from ikr_hls.config import make_config
from ikr_hls.frontend import keras_to_graph
from ikr_hls.passes import fold_batchnorm, run_passes
from zoo import build

L = keras.layers


def _graph(model):
    graph, _ = keras_to_graph(model)
    return run_passes(graph, make_config())


def test_lenet_graph_shapes():
    graph = _graph(build("lenet5"))
    assert [layer.kind for layer in graph.layers] == ["conv2d", "pool2d", "conv2d", "pool2d",
                                                      "dense", "dense", "dense"]
    assert graph.layers[0].out_shape == (24, 24, 6)
    assert graph.layers[3].out_shape == (4, 4, 16)
    assert graph.output_shape == (10,)
    assert graph.layers[-1].activation == "softmax"


def test_batchnorm_folds_into_conv_and_stays_after_pool():
    graph = _graph(build("nonsquare_bn"))
    kinds = [layer.kind for layer in graph.layers]
    assert kinds == ["conv2d", "pool2d", "scale_shift", "conv2d", "pool2d", "dense"]
    assert graph.layers[0].activation == "relu"         # Activation fused after the fold
    assert graph.layers[-1].activation == "sigmoid"


def test_same_padding_is_split_like_tensorflow():
    graph = _graph(build("same_stride2"))
    conv = graph.layers[0]
    # 16 -> 8 with k=3, s=2: total padding 1, TensorFlow puts the extra one after
    assert conv.out_shape == (8, 8, 4)
    assert (conv.attrs.pad_top, conv.attrs.pad_bottom) == (0, 1)


def test_fold_keeps_zeros_exact():
    model = build("nonsquare_bn", zeros=True)
    zeros_before = model.layers[1].kernel.numpy() == 0
    graph = _graph(model)
    assert np.array_equal(graph.layers[0].weights["kernel"] == 0, zeros_before)


def _error(model, *patterns):
    with pytest.raises(ikr_hls.IKRHLSError) as info:
        keras_to_graph(model)
    for pattern in patterns:
        assert pattern in str(info.value)
    assert "\n" not in str(info.value)


def test_unsupported_layer_names_layer_class_and_the_supported_ones():
    model = keras.Sequential([keras.Input((5, 3)), L.LSTM(4, name="rnn"), L.Dense(2)])
    _error(model, "'rnn'", "LSTM", "Conv2D", "Dense")


def test_dilated_conv_is_refused():
    model = keras.Sequential([keras.Input((9, 9, 1)), L.Conv2D(2, 3, dilation_rate=2, name="dil")])
    _error(model, "'dil'", "dilation (2, 2)")


def test_residual_model_becomes_a_dag_reading_the_input_twice():
    inp = keras.Input((8, 8, 2))
    a = L.Conv2D(2, 1, name="a")(inp)
    d = L.Dropout(0.5, name="drop")(inp)
    out = L.Add(name="merge")([a, d])
    graph, _ = keras_to_graph(keras.Model(inp, out))
    assert [(layer.name, layer.inputs) for layer in graph.layers] == [("a", ["input"]), ("merge", ["a", "input"])]
    assert graph.removed == {"drop": "removed for inference"}


@pytest.mark.parametrize("order", ["first_use_first", "second_use_first"])
def test_shared_layer_is_refused(order):
    inp = keras.Input((8, 8, 2))
    shared = L.Conv2D(2, 1, name="shared")
    first = shared(inp)
    second = shared(L.Conv2D(2, 1)(first))
    out = L.Add()([first, second] if order == "first_use_first" else [second, first])
    _error(keras.Model(inp, out), "'shared'", "more than once")


def test_keras_ops_of_two_tensors_and_other_operations_are_refused():
    """x + y on Keras tensors is a keras.ops Add, never a layer Add: refused, pointing to the
    layer; an operation without a converter (exp) is refused as an operation."""
    inp = keras.Input((8, 8, 2))
    x = L.Conv2D(2, 1)(inp)
    _error(keras.Model(inp, x + inp), "operation", "keras.ops Add", "several tensors", "keras.layers.Add")
    _error(keras.Model(inp, keras.ops.exp(x)), "operation", "keras.ops Exp", "not supported")
    _error(keras.Model(inp, 1.0 / x), "keras.ops TrueDivide", "of a constant by a tensor")


def test_keras_ops_of_a_tensor_and_a_constant_are_a_scale_and_shift():
    """x + c, c - x, x * c, x / c (c a number or one per channel) convert as a scale and a shift,
    folded into the conv before them."""
    inp = keras.Input((8, 8, 2))
    x = L.Conv2D(2, 1, name="conv")(inp)
    y = L.ReLU(name="relu")((2.0 - x) / np.array([4.0, 2.0], np.float32))
    graph = keras_to_graph(keras.Model(inp, y * 3.0 + 1.0))[0]
    ops = [layer for layer in graph.layers if layer.kind == "scale_shift"]
    assert [graph.keras_classes[layer.keras_name] for layer in ops] == [
        "keras.ops.Subtract", "keras.ops.TrueDivide", "keras.ops.Multiply", "keras.ops.Add"]
    np.testing.assert_allclose([ops[0].weights["scale"], ops[0].weights["shift"]], [[-1, -1], [2, 2]])
    np.testing.assert_allclose(ops[1].weights["scale"], [0.25, 0.5])
    np.testing.assert_allclose([ops[3].weights["scale"], ops[3].weights["shift"]], [[1, 1], [1, 1]])


def test_broadcasting_add_is_refused():
    inp = keras.Input((8, 8, 2))
    a = L.Conv2D(1, 1)(inp)
    out = L.Add(name="merge")([a, inp])
    _error(keras.Model(inp, out), "'merge'", "same shape")


def test_multiply_broadcasting_other_than_a_channel_vector_is_refused():
    """A Multiply broadcasts an (H, W, C) image by a (1, 1, C) or (C,) vector only."""
    inp = keras.Input((8, 8, 2))
    row = L.Conv2D(2, 1)(L.AveragePooling2D((8, 1))(inp))               # (1, 8, 2): a row, not a vector
    _error(keras.Model(inp, L.Multiply(name="gate")([inp, row])), "'gate'", "(8, 8, 2)", "(1, 8, 2)",
           "(1, 1, C) or (C,) vector")


def test_rescaling_and_normalization_fold_into_one_scale_and_shift():
    inp = keras.Input((8, 8, 3))
    x = L.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inp)
    x = L.Normalization(mean=[0.1, -0.2, 0.3], variance=[1.2, 0.8, 1.5], name="norm")(x)
    graph = keras_to_graph(keras.Model(inp, L.Conv2D(2, 3, name="conv")(x)))[0]
    graph = fold_batchnorm(graph)
    assert graph.removed["norm"] == "folded into rescale"      # the scale-and-shift it reads
    (layer,) = [layer for layer in graph.layers if layer.kind == "scale_shift"]
    std = np.sqrt([1.2, 0.8, 1.5])
    np.testing.assert_allclose(layer.weights["scale"], 1 / 127.5 / std)
    np.testing.assert_allclose(layer.weights["shift"], (-1.0 - np.array([0.1, -0.2, 0.3])) / std)


def test_unsupported_activation_is_refused():
    model = keras.Sequential([keras.Input((4,)), L.Dense(3, activation="elu", name="d")])
    _error(model, "'d'", "elu", "relu")


def test_relu_with_other_max_value_or_threshold_is_refused():
    model = keras.Sequential([keras.Input((4,)), L.Dense(3), L.ReLU(max_value=4.0, name="r4")])
    _error(model, "'r4'", "max_value=4.0", "ReLU(max_value=6)")
    model = keras.Sequential([keras.Input((4,)), L.Dense(3), L.ReLU(threshold=0.5, name="rt")])
    _error(model, "'rt'", "threshold=0.5")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ikr_hls.IKRHLSError, match="no such file"):
        keras_to_graph(tmp_path / "nope.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(ikr_hls.IKRHLSError, match="cannot be read as a Keras model"):
        keras_to_graph(bad)
    txt = tmp_path / "model.txt"
    txt.write_text("x")
    with pytest.raises(ikr_hls.IKRHLSError, match="not a Keras model file"):
        keras_to_graph(txt)


def test_unknown_options_raise():
    model = build("mlp")
    with pytest.raises(ikr_hls.IKRHLSError, match="strategy: unknown value 'fast'"):
        ikr_hls.convert(model, strategy="fast")
    with pytest.raises(ikr_hls.IKRHLSError, match="unknown type 'float16'"):
        ikr_hls.convert(model, precision="float16")
    with pytest.raises(ikr_hls.IKRHLSError, match="project_name"):
        ikr_hls.convert(model, project_name="my-project")
