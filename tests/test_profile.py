"""profile() and precision="auto": ranges measured on calibration data, types chosen from
them, and the result still bit-exact with the reference."""
from pathlib import Path

import keras
import numpy as np
import pytest

import ikr_hls
from ikr_hls.datasets import mnist_split
from ikr_hls.profile import integer_bits

SHIPPED_IKR = Path(__file__).resolve().parent.parent / "examples" / "models" / "lenet5_ikr.h5"


def test_integer_bits_hold_the_range():
    for value in (0.3, 0.5, 0.99, 1.0, 1.5, 3.99, 4.0, 100.0):
        bits = integer_bits(value)
        assert -(2.0 ** (bits - 1)) <= -value and value < 2.0 ** (bits - 1)     # fits
        assert value >= 2.0 ** (bits - 2)                                         # and is the narrowest


def test_profile_measures_keras_layer_outputs():
    x = mnist_split()[0][:200]
    report = ikr_hls.profile(SHIPPED_IKR, x)
    model = keras.models.load_model(SHIPPED_IKR, compile=False)
    conv2 = keras.Model(model.inputs, model.get_layer("conv2").output).predict(x, verbose=0)
    assert report["conv2"]["result"]["max"] == pytest.approx(float(conv2.max()))
    assert report["conv2"]["weight"]["min"] == pytest.approx(float(model.get_layer("conv2").kernel.numpy().min()))
    assert report["input_layer"]["result"]["max"] == pytest.approx(1.0)
    with pytest.raises(ikr_hls.IKRHLSError, match="calibration data: expected shape"):
        ikr_hls.profile(SHIPPED_IKR, x[:, :, :10])


@pytest.mark.cpp
def test_auto_precision_at_8_bits(tmp_path):
    x_train, _, x_test, y_test = mnist_split()
    hls = ikr_hls.convert(SHIPPED_IKR, output_dir=tmp_path / "auto", precision="auto",
                          calibration=x_train[:500], auto_width=8)
    types = {layer.keras_name: layer.precision for layer in hls.graph.layers}
    assert all(t["result"].width == 8 for t in types.values())
    measured = ikr_hls.profile(SHIPPED_IKR, x_train[:500])["fc1"]["result"]["max"]
    assert types["fc1"]["result"].integer >= integer_bits(measured)
    y = hls.compile().predict(x_test)
    np.testing.assert_array_equal(y, hls.emulate(x_test))
    keras_acc = np.mean(np.argmax(hls.keras_model.predict(x_test, verbose=0), 1) == y_test)
    assert np.mean(np.argmax(y, 1) == y_test) >= keras_acc - 0.01
    with pytest.raises(ikr_hls.IKRHLSError, match="needs calibration data"):
        ikr_hls.convert(SHIPPED_IKR, precision="auto")
