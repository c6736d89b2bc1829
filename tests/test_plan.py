"""The plan is decided once and frozen (issue 29): a conversion wires the DATAFLOW region once
and prices each layer once, however often the files, summary() and report() are asked for;
precision="auto" runs the frontend, the passes and the profile once; `ikr-hls report` of a
model renders no file; nothing changes the graph after the plan."""
import numpy as np
import pytest

import ikr_hls
from ikr_hls import backend, cli, hls_model, pipeline
from ikr_hls.kinds.base import LayerKind
from ikr_hls.wiring import Wiring
from zoo import EVERY_KIND

FIXED = "ap_fixed<16,6>"


def _counting(monkeypatch, owner, name):
    """Count the calls of owner.name (a function or method), which still runs."""
    calls = []
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.fixture(scope="module")
def residual():
    return EVERY_KIND["residual"]()


def test_wiring_and_costs_are_computed_once_per_conversion(residual, tmp_path, monkeypatch):
    """io_stream (its FIFO depth model runs inside the wiring): one Wiring, one cost per layer,
    whatever is asked afterwards."""
    wirings = _counting(monkeypatch, Wiring, "__init__")
    costs = _counting(monkeypatch, LayerKind, "cost_of")
    hls = ikr_hls.convert(residual, output_dir=tmp_path / "prj", precision=FIXED, io_type="io_stream")
    lines: list = []
    hls.summary(print_fn=lines.append)
    first, second = hls.report(), hls.report()
    hls.write()
    assert len(wirings) == 1
    assert sorted(args[1].name for args in costs) == sorted(layer.name for layer in hls.graph.layers)
    assert first == second and first["fifos"]


def test_auto_precision_runs_the_frontend_the_passes_and_the_profile_once(residual, tmp_path, monkeypatch):
    frontends = _counting(monkeypatch, pipeline, "keras_to_graph")
    structures = _counting(monkeypatch, pipeline, "structure")
    finishes = _counting(monkeypatch, pipeline, "finish")
    profiles = _counting(monkeypatch, hls_model, "profile_graph")
    x = np.random.default_rng(0).normal(0, 1, (16, *residual.input_shape[1:]))
    hls = ikr_hls.convert(residual, output_dir=tmp_path / "prj", precision="auto", calibration=x)
    assert (len(frontends), len(structures), len(finishes), len(profiles)) == (1, 1, 1, 1)
    assert hls.graph.fixed_point and hls.graph.frozen


def test_auto_precision_is_what_two_runs_gave(residual, tmp_path):
    """One run of the passes gives the types the per-layer config of its profile gives."""
    x = np.random.default_rng(0).normal(0, 1, (16, *residual.input_shape[1:]))
    auto = ikr_hls.convert(residual, output_dir=tmp_path / "a", precision="auto", calibration=x)
    config = ikr_hls.profile(residual, x)
    from ikr_hls.profile import auto_config

    explicit = ikr_hls.convert(residual, output_dir=tmp_path / "b", config=auto_config(config))
    assert [dict(layer.precision) for layer in auto.graph.layers] == \
        [dict(layer.precision) for layer in explicit.graph.layers]
    assert auto.files["firmware/defines.h"] == explicit.files["firmware/defines.h"]


def test_report_of_a_model_renders_no_file(tmp_path, monkeypatch, capsys):
    model = tmp_path / "residual.keras"
    EVERY_KIND["residual"]().save(model)

    def no_render(*args, **kwargs):
        raise AssertionError("the report of a model rendered the project")

    monkeypatch.setattr(backend._Renderer, "render", no_render)
    assert cli.main(["report", str(model), "--io-type", "io_stream", "--json"]) == 0
    assert '"fifos"' in capsys.readouterr().out


def test_the_plan_is_read_only(residual, tmp_path):
    hls = ikr_hls.convert(residual, output_dir=tmp_path / "prj", precision=FIXED)
    layer = hls.graph.layers[0]
    with pytest.raises(AttributeError, match="frozen"):
        layer.activation = "relu"
    with pytest.raises(AttributeError):                     # frozen dataclasses
        layer.settings.reuse_factor = 4
    with pytest.raises(TypeError):
        layer.precision["result"] = layer.precision["result"]
    with pytest.raises(ValueError, match="read-only"):
        layer.weights["kernel"][0] = 1.0
    with pytest.raises(AttributeError, match="frozen"):
        hls.graph.io_type = "io_stream"
    with pytest.raises(AttributeError):
        hls.graph.layers.append(layer)
