"""Issue 26 item 6: with no strategy or reuse factor given, a design whose default form
(strategy unrolled, reuse factor 1) does not fit the part, or writes out too many taps, is
chosen per layer as reuse_factor="auto" and strategy="auto" do, with one warning; a design
that fits, an explicit setting and a float model keep the default form."""
import logging
from pathlib import Path

import pytest

import ikr_hls

LENET = Path(__file__).resolve().parent.parent / "examples" / "models" / "lenet5_ikr.h5"
SMALL_PART = "xc7z045ffg900-2"          # LeNet-5 at ap_fixed<16,6>, R = 1: 142% of its LUT
PRECISION = "ap_fixed<16,6>"


def _warnings(caplog) -> list:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "default form" in r.getMessage()]


def _settings(hls) -> dict:
    return {layer.name: (layer.settled.strategy, layer.settled.reuse_factor) for layer in hls.graph.layers
            if layer.kind in ("conv2d", "dense")}


def test_a_default_that_does_not_fit_is_chosen_per_layer_and_fits(caplog):
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        hls = ikr_hls.convert(LENET, output_dir="unused", precision=PRECISION, part=SMALL_PART)
    (message,) = _warnings(caplog)
    assert "xc7z045" in message and "% of its LUT" in message and "--reuse-factor 1" in message
    fit = hls.report()["totals"]["fit"]
    assert fit["fits"], fit
    assert any(reuse > 1 for _, reuse in _settings(hls).values())
    # the same choice as asking for auto explicitly
    auto = ikr_hls.convert(LENET, output_dir="unused", precision=PRECISION, part=SMALL_PART,
                           strategy="auto", reuse_factor="auto")
    assert _settings(auto) == _settings(hls)


@pytest.mark.parametrize("explicit", [dict(strategy="unrolled", reuse_factor=1), dict(reuse_factor=1),
                                      dict(strategy="unrolled"), dict(config={"Model": {"ReuseFactor": 1}})])
def test_an_explicit_setting_keeps_its_form(caplog, explicit):
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        hls = ikr_hls.convert(LENET, output_dir="unused", precision=PRECISION, part=SMALL_PART, **explicit)
    assert not _warnings(caplog)
    assert set(_settings(hls).values()) == {("unrolled", 1)}
    assert not hls.report()["totals"]["fit"]["fits"]


def test_a_layer_set_in_the_config_keeps_its_setting(caplog):
    config = {"LayerName": {"fc1": {"ReuseFactor": 1, "Strategy": "unrolled"}}}
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        hls = ikr_hls.convert(LENET, output_dir="unused", precision=PRECISION, part=SMALL_PART, config=config)
    assert _warnings(caplog)
    assert _settings(hls)["fc1"] == ("unrolled", 1)


def test_a_design_that_fits_and_a_float_model_keep_the_default_form(caplog):
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        fits = ikr_hls.convert(LENET, output_dir="unused", precision=PRECISION)       # the default part
        host_only = ikr_hls.convert(LENET, output_dir="unused", part=SMALL_PART)      # float: no estimate
    assert not _warnings(caplog)
    assert set(_settings(fits).values()) == set(_settings(host_only).values()) == {("unrolled", 1)}


def test_the_default_form_is_checked_with_its_buffers_as_the_report_checks_it(caplog, monkeypatch):
    """The warning's share is the report's share of the default form (layers and DATAFLOW
    buffers); buffers that take a design whose layers fit over the limit leave the default."""
    from ikr_hls import fpga_estimate
    from ikr_hls.parts import lookup

    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        ikr_hls.convert(LENET, output_dir="unused", precision=PRECISION, part=SMALL_PART)
    (message,) = _warnings(caplog)
    default = ikr_hls.convert(LENET, output_dir="unused", precision=PRECISION, part=SMALL_PART,
                              strategy="unrolled", reuse_factor=1).report()["totals"]["fit"]
    assert f"{100 * default['use']['lut']:.0f}% of its LUT" in message
    caplog.clear()
    lut = lookup("xcvu13p").available()["lut"]          # the default part, where LeNet-5 takes 21%
    held = {"lut": int(0.7 * lut), "ff": 0, "dsp": 0, "bram_18k": 0}
    monkeypatch.setattr(fpga_estimate, "buffers_estimate", lambda registers, memories, family=None: dict(held))
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        hls = ikr_hls.convert(LENET, output_dir="unused", precision=PRECISION)
    assert _warnings(caplog) and any(reuse > 1 for _, reuse in _settings(hls).values())


def test_the_search_holds_back_the_dataflow_buffers(monkeypatch):
    """reuse_factor='auto' prices the buffers of its choice (a wiring before the plan's) and,
    when they take the design over the limit, chooses again with them held back: the layers
    then leave them room."""
    from ikr_hls import fpga_estimate
    from ikr_hls.parts import lookup

    lut = lookup(SMALL_PART).available()["lut"]

    def layers_lut(hls) -> int:
        return sum(layer["resources_estimate"]["lut"] for layer in hls.report()["layers"])

    options = dict(output_dir="unused", precision=PRECISION, part=SMALL_PART, strategy="auto", reuse_factor="auto")
    plain = layers_lut(ikr_hls.convert(LENET, **options))
    held = {"lut": int(0.5 * lut), "ff": 0, "dsp": 0, "bram_18k": 0}         # buffers as large as half the LUTs
    monkeypatch.setattr(fpga_estimate, "buffers_estimate", lambda registers, memories, family=None: dict(held))
    assert plain + held["lut"] > 0.8 * lut                 # the first choice leaves them no room
    squeezed = layers_lut(ikr_hls.convert(LENET, **options))
    assert squeezed + held["lut"] <= 0.8 * lut < plain + held["lut"]
