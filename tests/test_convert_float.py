"""The C++ model reproduces Keras in float precision on every model of the zoo, dense and
with zeroed kernel positions, in both conv strategies."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ikr_hls
from zoo import MODELS, build

STRATEGIES = ("unrolled", "pattern")
CASES = [(name, zeros, strategy) for strategy in STRATEGIES for name in MODELS for zeros in (False, True)]
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """Every zoo model converted and compiled once per session, two compiles at a time."""
    models = {}
    for name, zeros, strategy in CASES:
        keras_model = build(name, seed=7, zeros=zeros)
        out = tmp_path_factory.mktemp(f"{name}_{'zeros' if zeros else 'dense'}_{strategy}")
        models[(name, zeros, strategy)] = (keras_model, ikr_hls.convert(keras_model, output_dir=out,
                                                                        strategy=strategy, force=True))
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda pair: pair[1].compile(), models.values()))
    return models


def _inputs(shape, n=16, seed=1):
    return np.random.default_rng(seed).normal(0, 1, (n, *shape)).astype(np.float32)


@pytest.mark.parametrize("name,zeros,strategy", CASES,
                         ids=[f"{n}-{'zeros' if z else 'dense'}-{s}" for n, z, s in CASES])
def test_cpp_matches_keras(converted, name, zeros, strategy):
    keras_model, hls = converted[(name, zeros, strategy)]
    x = _inputs(hls.input_shape)
    expected = keras_model.predict(x, verbose=0)
    got = hls.predict(x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_zeroed_model_emits_fewer_products(converted):
    """Zeroed positions are never multiplied: the generated conv code has one product line
    per nonzero weight."""
    for zeros in (False, True):
        keras_model, hls = converted[("lenet5", zeros, "unrolled")]
        code = hls.files["firmware/layers/conv2.h"]
        nonzero = int(np.count_nonzero(keras_model.get_layer("conv2").kernel.numpy()))
        assert code.count("* conv2_w[") == nonzero
    assert converted[("lenet5", True, "unrolled")][1].files["firmware/layers/conv2.h"].count("* conv2_w[") < 2400


def test_float64_and_float32_inputs_agree(converted):
    _, hls = converted[("same_stride2", False, "unrolled")]
    x = _inputs(hls.input_shape)
    np.testing.assert_array_equal(hls.predict(x), hls.predict(x.astype(np.float64)))


def test_single_sample_and_empty_batch(converted):
    _, hls = converted[("mlp", False, "unrolled")]
    x = _inputs(hls.input_shape, n=3)
    batch = hls.predict(x)
    np.testing.assert_array_equal(hls.predict(x[0]), batch[0])
    assert hls.predict(x[:0]).shape == (0, *hls.output_shape)


def test_wrong_shape_is_a_clear_error(converted):
    _, hls = converted[("lenet5", False, "unrolled")]
    with pytest.raises(ikr_hls.IKRHLSError, match=r"expected input of shape \(N, 28, 28, 1\), got \(2, 28, 28\)"):
        hls.predict(np.zeros((2, 28, 28)))
    with pytest.raises(ikr_hls.IKRHLSError, match="expected an array of real numbers"):
        hls.predict(np.array([["a"]]))
