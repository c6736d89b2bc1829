"""The C++ model reproduces Keras in float precision on every model of the zoo, dense and
with zeroed kernel positions, in both conv strategies."""
import numpy as np
import pytest

import ikr_hls
from builds import run_two_at_a_time, selected_params
from zoo import MODELS, build

pytestmark = pytest.mark.cpp                  # every test here builds C++

STRATEGIES = ("unrolled", "pattern")
CASES = [(name, zeros, strategy) for strategy in STRATEGIES for name in MODELS for zeros in (False, True)]
RTOL, ATOL = 1e-4, 1e-5


class Converted(dict):
    """(Keras model, HLSModel) by case, converted on first use."""

    def __init__(self, tmp_path_factory):
        super().__init__()
        self._tmp = tmp_path_factory

    def convert(self, case):
        if case not in self:
            name, zeros, strategy = case
            keras_model = build(name, seed=7, zeros=zeros)
            out = self._tmp.mktemp(f"{name}_{'zeros' if zeros else 'dense'}_{strategy}")
            self[case] = (keras_model, ikr_hls.convert(keras_model, output_dir=out, strategy=strategy, force=True))
        return self[case]

    def __missing__(self, case):            # predict() compiles when it is first called
        return self.convert(case)


@pytest.fixture(scope="module")
def converted(tmp_path_factory, request):
    """The zoo models the selected tests use, converted and compiled once, two at a time."""
    models = Converted(tmp_path_factory)
    run_two_at_a_time([lambda case=case: models.convert(case)[1].compile()
                       for case in selected_params(request, "name", "zeros", "strategy")])
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
    with pytest.raises(ikr_hls.IKRHLSError,
                       match=r"^predict: expected input of shape \(N, 28, 28, 1\) or one sample \(28, 28, 1\), "
                             r"got \(2, 28, 28\)"):
        hls.predict(np.zeros((2, 28, 28)))
    with pytest.raises(ikr_hls.IKRHLSError, match="expected an array of real numbers"):
        hls.predict(np.array([["a"]]))
