"""keras.applications edge models (issue 32): MobileNetV3Small and EfficientNetB0 at 32x32x3 with
random weights (nothing is downloaded), IKR-pruned once, converted for io_stream with the pattern
strategy (hard_silu, hard_sigmoid, silu, Rescaling, Normalization, squeeze-and-excitation
Multiply); the compiled C++ must equal Keras in float and the numpy reference bit for bit in fixed
point. Slow: each model compiles for one to three minutes. tests/test_dag_layers.py checks the same
layers on a small model (zoo.squeeze_excite) in the fast suite."""
import numpy as np
import pytest

import ikr_hls
from zoo import application, application_images

MODELS = ("MobileNetV3Small", "EfficientNetB0")
PRECISIONS = ("float", "ap_fixed<16,6>")
RTOL, ATOL = 1e-4, 1e-4


@pytest.fixture(scope="module")
def models():
    return {name: application(name) for name in MODELS}


def _config(model, precision):
    """Fixed point: the input holds 8-bit images exactly (0 to 255)."""
    if precision == "float":
        return None
    return {"LayerName": {model.layers[0].name: {"Precision": {"result": "ap_ufixed<8,8>"}}}}


@pytest.mark.slow
@pytest.mark.cpp
@pytest.mark.parametrize("precision", PRECISIONS, ids=("float", "fixed"))
@pytest.mark.parametrize("name", MODELS)
def test_application_converts_and_matches(models, tmp_path, name, precision):
    model = models[name]
    hls = ikr_hls.convert(model, output_dir=tmp_path / "prj", precision=precision, config=_config(model, precision),
                          strategy="pattern", io_type="io_stream")
    kinds = {layer.kind for layer in hls.graph.layers}
    assert "multiply" in kinds                                  # the squeeze-and-excitation blocks
    x = application_images((4, 32, 32, 3), seed=7)
    got = hls.compile().predict(x)
    expected = model.predict(x, verbose=0)
    assert got.shape == expected.shape
    if precision == "float":
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL * max(1.0, np.max(np.abs(expected))))
    else:
        np.testing.assert_array_equal(got, hls.emulate(x))
