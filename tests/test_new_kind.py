"""A new layer kind is one module and its templates (docs/adding_a_kind.md): the toy kind of
tests/toy_kind/ (Cropping2D), registered for these tests only, converts in both io forms,
equals Keras in float and the numpy reference in fixed point, and takes part in the FIFO
depths of a fork; nothing else in the package knows it."""
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import ikr_hls
from ikr_hls import kinds
from ikr_hls.tbdata import FLOAT_ATOL, FLOAT_RTOL
from zoo import randomize

TOY = Path(__file__).resolve().parent / "toy_kind"
sys.path.insert(0, str(TOY))
import cropping2d  # noqa: E402  (the toy kind's module)

L = keras.layers


@pytest.fixture
def toy_kind():
    with kinds.registered(cropping2d.KIND, templates=TOY / "templates"):
        yield cropping2d.KIND


def chain():
    inp = keras.Input((10, 9, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = L.Cropping2D(((1, 2), (0, 3)), name="crop")(x)
    x = L.Conv2D(3, 3)(x)
    return randomize(keras.Model(inp, L.Dense(5)(L.Flatten()(x))), 1)


def fork():
    """The crop writes nothing for its first rows: the other branch's copy must hold them."""
    inp = keras.Input((8, 8, 2))
    x = L.Conv2D(4, 3, padding="same", name="stem")(inp)
    y = L.ZeroPadding2D(((0, 2), (1, 1)))(L.Cropping2D(((2, 0), (1, 1)), name="crop")(x))
    x = L.Add()([x, y])
    return randomize(keras.Model(inp, L.Dense(3)(L.GlobalAveragePooling2D()(x))), 2)


def test_the_kind_is_known_only_while_registered(toy_kind, tmp_path):
    assert "Cropping2D" in kinds.KERAS_HANDLERS and "cropping2d" in kinds.HARDWARE
    hls = ikr_hls.convert(chain(), output_dir=tmp_path / "prj")
    assert hls.graph.layer("crop").kind == "cropping2d"


def test_without_it_the_class_is_refused(tmp_path):
    with pytest.raises(ikr_hls.IKRHLSError, match=r"layer 'crop' \(Cropping2D\) is not supported"):
        ikr_hls.convert(chain(), output_dir=tmp_path / "prj")


@pytest.mark.cpp
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
@pytest.mark.parametrize("make", [chain, fork], ids=["chain", "fork"])
def test_it_converts_and_equals_keras_and_the_reference(toy_kind, tmp_path, make, io_type):
    model = make()
    x = np.random.default_rng(0).normal(0, 1, (6, *model.input_shape[1:])).astype(np.float32)
    floating = ikr_hls.convert(model, output_dir=tmp_path / "float", io_type=io_type)
    np.testing.assert_allclose(floating.predict(x), np.asarray(model(x)), rtol=FLOAT_RTOL, atol=FLOAT_ATOL)
    fixed = ikr_hls.convert(model, output_dir=tmp_path / "fixed", precision="ap_fixed<16,6>", io_type=io_type)
    np.testing.assert_array_equal(fixed.predict(x), fixed.emulate(x))
    assert "crop" in {layer["name"] for layer in fixed.report()["layers"]}
    if io_type == "io_stream" and make is fork:    # the fork's copy to the Add waits for the crop
        assert any(f["why"] == "branch lag" for f in fixed.report()["fifos"])
