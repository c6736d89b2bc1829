"""hls4ml's configs convert as they are (issue 19 item 4): the ones hls4ml 1.3 itself writes
for the shipped LeNet-5, at every granularity, and hls4ml's spellings (fixed<W,I>, Latency /
Resource, Precision: {default}, LayerType, a project file's HLSConfig); what has no meaning
here is listed in one warning, and anything else is still refused."""
import logging
from pathlib import Path

import pytest
import yaml

import ikr_hls
from cli_helpers import run_cli
from ikr_hls import IKRHLSError
from ikr_hls.modelfile import load_keras_model
from ikr_hls.precision import parse_type

LENET = Path(__file__).resolve().parent.parent / "examples" / "models" / "lenet5_ikr.h5"
WARNED = "hls4ml settings with no meaning in ikr-hls, ignored"


@pytest.fixture(scope="module")
def lenet():
    return load_keras_model(LENET)


@pytest.fixture(scope="module")
def hls4ml_configs(lenet):
    hls4ml = pytest.importorskip("hls4ml")
    return {g: hls4ml.utils.config_from_keras_model(lenet, granularity=g) for g in ("model", "type", "name")}


def _warnings(caplog) -> list:
    return [r.getMessage() for r in caplog.records if r.name == "ikr_hls.hls4ml_config"]


@pytest.mark.parametrize("granularity", ["model", "type", "name"])
def test_the_config_hls4ml_writes_for_lenet_converts_with_one_warning(lenet, hls4ml_configs, granularity, caplog):
    """Model: Precision {default: fixed<16,6>}, Strategy Latency, BramFactor, TraceOutput; per
    type or name: 'auto' types and Trace flags, entries for activations fused here. The result
    is the project ikr-hls writes for ap_fixed<16,6>, unrolled."""
    config = hls4ml_configs[granularity]
    assert config["Model"]["Precision"] == {"default": "fixed<16,6>"} and config["Model"]["Strategy"] == "Latency"
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        hls = ikr_hls.convert(lenet, output_dir="unused", config=config)
    plain = ikr_hls.convert(lenet, output_dir="unused", precision="ap_fixed<16,6>", strategy="unrolled")
    assert hls.files == plain.files
    (message,) = _warnings(caplog)
    for dropped in ("BramFactor", "TraceOutput"):
        assert dropped in message
    if granularity == "name":
        assert "auto types" in message and "conv1_relu" in message and "Trace " in message


def test_hls4ml_config_file_on_the_command_line(hls4ml_configs, tmp_path):
    path = tmp_path / "hls4ml.yml"
    path.write_text(yaml.safe_dump({"HLSConfig": hls4ml_configs["name"], "OutputDir": "my-hls-test",
                                    "Backend": "Vitis", "IOType": "io_parallel"}))
    result = run_cli("convert", LENET, "-o", tmp_path / "prj", "--config", path)
    assert result.returncode == 0, result.stderr
    assert f"{path}: {WARNED}" in result.stderr and "OutputDir" in result.stderr and "Backend" in result.stderr


@pytest.mark.parametrize("hls4ml_spelling, ours", [
    ("fixed<16,6>", "ap_fixed<16,6>"), ("ufixed<8,0>", "ap_ufixed<8,0>"), ("int<8>", "ap_int<8>"),
    ("uint<4>", "ap_uint<4>"), ("fixed<8,3,RND,SAT>", "ap_fixed<8,3,AP_RND,AP_SAT>"),
    ("fixed<10, 4, RND_CONV, SAT_SYM>", "ap_fixed<10,4,AP_RND_CONV,AP_SAT_SYM>"),
    ("fixed<8,3,AP_TRN,AP_WRAP>", "ap_fixed<8,3>")])
def test_hls4ml_type_spellings(hls4ml_spelling, ours):
    assert parse_type(hls4ml_spelling) == parse_type(ours)


def test_strategies_layer_types_and_what_is_still_refused(lenet, caplog):
    def convert(config):
        return ikr_hls.convert(lenet, output_dir="unused", config=config)

    for spelled, ours in (("Latency", "unrolled"), ("resource", "pe"), ("RESOURCE", "pe")):
        assert convert({"Model": {"Precision": "fixed<16,6>", "Strategy": spelled}}).config.strategy == ours
    # LayerType sets every layer of a Keras class; a layer's LayerName entry wins over it
    hls = convert({"Model": {"Precision": "fixed<16,6>"},
                   "LayerType": {"Dense": {"ReuseFactor": 4, "Precision": {"weight": "fixed<8,3>"}},
                                 "Conv2D": {"Strategy": "Resource", "ReuseFactor": 2}},
                   "LayerName": {"fc3": {"ReuseFactor": 2}}})
    by_name = {layer.keras_name: layer for layer in hls.graph.layers}
    assert [by_name[n].settings.reuse_factor for n in ("fc1", "fc2", "fc3")] == [4, 4, 2]
    assert all(by_name[n].precision["weight"].cpp == "ap_fixed<8, 3>" for n in ("fc1", "fc2", "fc3"))
    assert [by_name[n].settings.strategy for n in ("conv1", "conv2")] == ["pe", "pe"]
    assert by_name["conv1"].precision["weight"].cpp == "ap_fixed<16, 6>"
    # a class with no layer of its own here (the activations are fused): a warning, not an error
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        convert({"LayerType": {"Activation": {"ReuseFactor": 2}}})
    assert any("no layer of class Activation has hardware of its own" in r.getMessage() for r in caplog.records)
    # what is neither ikr-hls's nor hls4ml's is refused as before
    with pytest.raises(IKRHLSError, match=r"Model: unknown key\(s\) Bram \(valid"):
        convert({"Model": {"Bram": 1}})
    with pytest.raises(IKRHLSError, match="LayerType.Conv3D: 'Conv3D' is not a Keras layer class ikr-hls converts"):
        convert({"LayerType": {"Conv3D": {"ReuseFactor": 2}}})
    with pytest.raises(IKRHLSError, match="Model.Strategy: unknown value 'Distributed'"):
        convert({"Model": {"Strategy": "Distributed"}})


def test_a_sigmoid_table_set_the_hls4ml_way():
    """hls4ml names a sigmoid's lookup table `table`; here it is the layer's act_table."""
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="sigmoid", name="d")])
    hls = ikr_hls.convert(model, output_dir="unused", config={
        "Model": {"Precision": "fixed<16,6>"},
        "LayerName": {"d": {"Precision": {"table": "ufixed<10,0>", "result": "auto"}}}})
    assert hls.graph.layer("d").precision["act_table"].cpp == "ap_ufixed<10, 0>"
