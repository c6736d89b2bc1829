"""The HLSModel API as a Keras or hls4ml user meets it: repr and summary, messages that name the
method called, write(force=True), and one sample in, one output out."""
import numpy as np
import pytest

import ikr_hls
from zoo import build


@pytest.fixture(scope="module")
def hls(tmp_path_factory):
    return ikr_hls.convert(build("same_stride2", seed=1), output_dir=tmp_path_factory.mktemp("api") / "p",
                           precision="ap_fixed<16,6>", strategy="pattern", reuse_factor=2)


def test_repr_says_what_the_model_is(hls):
    text = repr(hls)
    for part in (repr(hls.graph.source), "ap_fixed<16, 6>", "strategy pattern", "reuse 2",
                 f"{len(hls.graph.layers)} layer(s)", str(tuple(hls.input_shape))):
        assert part in text, part


def test_summary_has_a_row_per_layer_with_the_report_figures(hls):
    lines = []
    hls.summary(print_fn=lines.append)
    report = {l["name"]: l for l in hls.report()["layers"]}
    assert lines[0] == repr(hls)
    for name, entry in report.items():
        row = next(line for line in lines if line.startswith(name + " "))
        assert f"{tuple(entry['in_shape'])} -> {tuple(entry['out_shape'])}" in row
        assert f"{entry['latency_estimate_cycles']:,}" in row.split()[-1]
    assert lines[-1].startswith(f"total: {hls.report()['totals']['multipliers']:,} multipliers")


@pytest.mark.parametrize("method", ["emulate", "trace", "count_ops"])
def test_a_wrong_shape_is_named_by_the_method_called(hls, method):
    with pytest.raises(ikr_hls.IKRHLSError, match=rf"^{method}: expected input of shape \(N, "):
        getattr(hls, method)(np.zeros((2, 3)))


def test_one_sample_gives_one_output(hls):
    x = np.random.default_rng(0).normal(size=hls.input_shape)
    y = hls.emulate(x)
    assert y.shape == tuple(hls.output_shape)
    np.testing.assert_array_equal(y, hls.emulate(x[None])[0])


def test_write_takes_force(tmp_path):
    out = tmp_path / "p"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    model = ikr_hls.convert(build("mlp", seed=0), output_dir=out)
    with pytest.raises(ikr_hls.IKRHLSError, match=r"not empty \(use --force, .* or write\(force=True\)"):
        model.write()
    model.write(force=True)
    assert (out / "notes.txt").read_text() == "mine" and (out / "firmware").is_dir()
