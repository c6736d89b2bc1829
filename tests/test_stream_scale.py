"""io_stream at scale (issue 16 item 8): the CIFAR-size CNN of examples/cifar_stream.py converts in
io_stream and its fixed-point C++ equals the numpy reference bit for bit; a 128x128 conv does too;
and the generated code is the same whatever the image size: rendered at 16x16 ... 128x128, the
layer headers and the top differ only in their numbers, and the weights do not change."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ikr_hls
from ikr_hls.backend import render_project
from ikr_hls.config import STRATEGIES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from cifar_stream import cifar_cnn, line_buffer_bits, prune_at_once  # noqa: E402

FIXED = "ap_fixed<16,6>"
SIZES = (16, 32, 64, 128)                      # the CIFAR CNN pools twice: 4x4 maps at 16x16
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _numbers_blanked(text: str) -> str:
    return NUMBER.sub("#", text)


@pytest.fixture(scope="module")
def cifar():
    """The example's CNN at 32x32x3, pruned at once to the example's IKR targets (untrained)."""
    return prune_at_once(cifar_cnn(seed=0))


@pytest.fixture(scope="module")
def conv128():
    """One IKR-pruned 3x3 conv (3 -> 16 channels, same padding, ReLU) on a 128x128x3 image."""
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((128, 128, 3)),
                              keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv")],
                             name="conv128")
    return prune_at_once(model)


@pytest.fixture(scope="module")
def built(cifar, conv128, tmp_path_factory):
    """Both models converted in io_stream at ap_fixed<16,6> (pattern strategy) and compiled, one
    after the other (each build runs its translation units in parallel)."""
    out = {name: ikr_hls.convert(model, output_dir=tmp_path_factory.mktemp(name), precision=FIXED,
                                 strategy="pattern", io_type="io_stream")
           for name, model in (("cifar", cifar), ("conv128", conv128))}
    for hls in out.values():
        hls.compile()
    return out


def _images(shape, n, seed):
    return np.random.default_rng(seed).uniform(0, 1, (n, *shape)).astype("float32")


@pytest.mark.cpp
def test_cifar_size_cnn_streams_bit_exact(built, cifar):
    hls = built["cifar"]
    assert hls.config.io_type == "io_stream" and hls.input_shape == (32, 32, 3)
    convs = [layer for layer in hls.graph.layers if layer.kind == "conv2d"]
    assert len(convs) >= 3 and all(layer.out_shape[-1] in (32, 64) for layer in convs)
    x = _images(hls.input_shape, 4, seed=3)
    y = hls.predict(x)
    np.testing.assert_array_equal(y, hls.emulate(x))
    np.testing.assert_array_equal(hls.predict(x, threads=1), y)
    # quantisation only: the fixed-point model stays near Keras (a wrong layer would not); the
    # bound `ikr-hls convert --check` applies by default
    keras_y = cifar.predict(x, verbose=0)
    assert np.max(np.abs(y - keras_y)) < 0.1 * np.max(np.abs(keras_y))
    # every conv and pooling layer keeps rows of its input in line buffers, not its input
    report = hls.report()
    assert line_buffer_bits(report) > 0
    for layer in report["layers"]:
        if layer["kind"] in ("conv2d", "pool2d"):
            rows = sum(m["count"] * m["depth"] for m in layer["memories"] if m["what"] == "line buffers")
            h, w, c = layer["in_shape"]
            assert 0 < rows < h * w * c, layer["name"]


@pytest.mark.cpp
def test_128x128_conv_streams_bit_exact(built):
    hls = built["conv128"]
    assert hls.input_shape == (128, 128, 3) and hls.output_shape == (128, 128, 16)
    x = _images(hls.input_shape, 3, seed=4) * 4 - 2
    y = hls.predict(x)
    assert y.shape == (3, 128, 128, 16) and np.count_nonzero(y) > 0
    np.testing.assert_array_equal(y, hls.emulate(x))


def _render(strategy, size, filters):
    model = prune_at_once(cifar_cnn(input_size=size, filters=filters, seed=0))
    hls = ikr_hls.convert(model, output_dir="unused", precision=FIXED, strategy=strategy, io_type="io_stream")
    return model, hls, render_project(hls.graph, hls.config)


# every conv strategy on a narrow variant (rendering is quick), the example's widths in pattern
RENDERS = [(s, (8, 8, 16, 16)) for s in STRATEGIES] + [("pattern", (32, 32, 64, 64))]


@pytest.mark.parametrize("strategy, filters", RENDERS, ids=[f"{s}-{f[0]}" for s, f in RENDERS])
def test_generated_code_does_not_grow_with_the_image(strategy, filters):
    """The same network at 16x16 ... 128x128: the same files; the top and every layer header
    with the same lines, differing only in numbers (dimensions, loop bounds, latencies in the
    comments); the weights of the conv and Dense layers the same text, the other weights files
    (the global pooling's 1/(H*W)) differing only in numbers; the FIFOs between layers the same
    bits, and the line buffers growing no faster than the image width."""
    renders = {size: _render(strategy, size, filters) for size in SIZES}
    base_model, base_hls, base = renders[SIZES[0]]
    top = f"firmware/{base_hls.project_name}.cpp"
    layers = sorted(p for p in base if p.startswith("firmware/layers/"))
    weights = sorted(p for p in base if p.startswith("firmware/weights/"))
    assert top in base and layers and weights
    # the weights files of the layers that have Keras weights (the same at every size, same seed)
    weighted = {f"firmware/weights/{layer.name}.h" for layer in base_model.layers if layer.weights} & set(weights)
    assert weighted
    windowed = {f"firmware/layers/{layer.name}.h" for layer in base_hls.graph.layers if len(layer.in_shape) == 3}
    reports = {size: hls.report() for size, (_, hls, _) in renders.items()}
    line_bits = {size: line_buffer_bits(r) for size, r in reports.items()}
    fifo_bits = {size: r["totals"]["buffer_ram_bits"] + r["totals"]["buffer_registers_bits"]
                 for size, r in reports.items()}
    for size in SIZES[1:]:
        _, hls, files = renders[size]
        assert hls.input_shape == (size, size, 3)
        assert sorted(files) == sorted(base), size
        changed = {path for path in [top, *layers] if files[path] != base[path]}
        assert {top} | windowed <= changed, f"no dimension changed at {size}x{size}: {sorted(changed)}"
        for path in [top, *layers]:
            a, b = base[path], files[path]
            assert len(a.splitlines()) == len(b.splitlines()), f"{path}: line count changes at {size}x{size}"
            assert _numbers_blanked(a) == _numbers_blanked(b), f"{path}: differs in more than numbers at {size}x{size}"
        for path in weights:
            a, b = base[path], files[path]
            if path in weighted:
                assert a == b, f"{path}: the weights file changes with the image ({size}x{size})"
            else:
                assert _numbers_blanked(a) == _numbers_blanked(b), path
        assert fifo_bits[size] == fifo_bits[SIZES[0]], (size, fifo_bits)
        assert line_bits[SIZES[0]] < line_bits[size] <= line_bits[SIZES[0]] * size // SIZES[0], (size, line_bits)
    total_lines = {size: sum(len(t.splitlines()) for p, t in files.items()
                             if p.startswith("firmware/") and not p.startswith("firmware/ikr/"))
                   for size, (_, _, files) in renders.items()}
    assert len(set(total_lines.values())) == 1, total_lines


@pytest.mark.slow
@pytest.mark.cpp
@pytest.mark.process
def test_cifar_stream_example_runs(tmp_path):
    """examples/cifar_stream.py end to end (fit, prune, convert, two builds, checks): exit code 0,
    and it says what it checked. About 20 s on 2 cores; the session's build cache is inherited."""
    script = Path(__file__).resolve().parent.parent / "examples" / "cifar_stream.py"
    result = subprocess.run([sys.executable, str(script), "--output-dir", str(tmp_path / "cifar"), "--epochs", "1"],
                            env=dict(os.environ), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    assert "vs hls.emulate: bit-exact" in result.stdout and "(within rtol" in result.stdout
    for label in ("multipliers", "II", "latency", "interval", "line buffers"):
        assert re.search(rf"^  {label} +\d", result.stdout, re.M), label
    assert (tmp_path / "cifar" / "firmware" / "myproject.cpp").is_file()
