"""The hls4ml-like configuration: accepted forms, files, and an error for every unknown key."""
import json

import keras
import pytest

import ikr_hls
from ikr_hls import IKRHLSError
from zoo import build


def _graph_types(model, **kwargs):
    hls = ikr_hls.convert(model, **kwargs)
    return {layer.keras_name: {r: t.cpp for r, t in layer.precision.items()} for layer in hls.graph.layers}, hls


def test_model_precision_and_automatic_accumulators():
    types, hls = _graph_types(build("mlp"), precision="ap_fixed<16,6>")
    assert hls.graph.input_precision.cpp == "ap_fixed<16, 6>"
    first = next(iter(types.values()))
    assert first["weight"] == first["result"] == "ap_fixed<16, 6>"
    # 12 inputs x weights of <16,6> plus a bias: 6+6 integer bits + ceil(log2(13)) = 16, 20 fractional
    assert first["accum"] == "ap_fixed<36, 16>"


def test_per_layer_config_overrides_the_model():
    model = build("mlp")
    dense = [layer.name for layer in model.layers if "dense" in layer.name]
    cfg = {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 2, "Strategy": "unrolled"},
           "LayerName": {dense[0]: {"Precision": {"weight": "ap_fixed<8,3>", "accum": "ap_fixed<24,10,AP_RND,AP_SAT>"},
                                    "ReuseFactor": 4}}}
    types, hls = _graph_types(model, config=cfg)
    assert types[dense[0]]["weight"] == "ap_fixed<8, 3>"
    assert types[dense[0]]["accum"] == "ap_fixed<24, 10, AP_RND, AP_SAT>"
    assert types[dense[1]]["weight"] == "ap_fixed<16, 6>"
    assert hls.graph.layer(dense[0]).settings.reuse_factor == 4
    assert hls.graph.layer(dense[1]).settings.reuse_factor == 2


@pytest.mark.parametrize("cfg,fragment", [
    ({"Modle": {}}, "unknown key(s) Modle (valid: Model, LayerName, LayerType, IOType, FIFODepth, SideChannels, "
                    "Part, ClockPeriod, ClockUncertainty)"),
    ({"FIFODepth": "deep"}, "FIFODepth: unknown value 'deep'"),
    ({"ClockPeriod": "fast"}, "ClockPeriod: expected a number of ns"),
    ({"ClockPeriod": -1}, "ClockPeriod: must be a positive number of ns"),
    ({"ClockUncertainty": "lots"}, "ClockUncertainty: expected a percentage such as '12.5%' or a number of ns"),
    ({"ClockUncertainty": 6}, "ClockUncertainty: 6 is not less than the clock period of 5 ns"),
    ({"ClockUncertainty": "100%"}, "ClockUncertainty: 100% is not less than the clock period"),
    ({"Part": ""}, "Part: expected a device name"),
    ({"Model": {"Precison": "float"}}, "Model: unknown key(s) Precison"),
    ({"Model": {"Strategy": "fast"}}, "Model.Strategy: unknown value 'fast'"),
    ({"Model": {"ReuseFactor": 0}}, "Model.ReuseFactor: expected a positive integer"),
    ({"Model": {"Precision": "ap_fixed<16,6,AP_ROUND>"}}, "unknown quantization mode 'AP_ROUND'"),
    ({"LayerName": {"nope": {"ReuseFactor": 2}}}, "LayerName.nope (ReuseFactor): the model has no layer 'nope'"),
    # near hls4ml's name for a Dense's own activation (d2_relu): the key set is named, and where it belongs
    ({"LayerName": {"d2_act": {"Precision": "ap_fixed<8,3>"}}},
     "LayerName.d2_act (Precision): the model has no layer 'd2_act'; ikr-hls fuses the relu of 'd2' into it"),
    ({"LayerName": {"d1": {"Precision": {"wieght": "ap_fixed<8,3>"}}}}, "unknown key(s) wieght"),
    ({"LayerName": {"d1": {"Precision": {"recip": "ap_fixed<8,3>"}}}}, "has no recip type"),
    ({"LayerName": {"d1": {"ReuseFactor": "two"}}}, "LayerName.d1.ReuseFactor: expected a positive integer"),
    ({"LayerName": {"d1": {"ReuseFactor": True}}}, "LayerName.d1.ReuseFactor: expected a positive integer"),
    ({"LayerName": {"d1": "ap_fixed<8,3>"}}, "LayerName.d1: expected a mapping"),
    ({"Model": {"TableSize": 1000}}, "TableSize: expected a power of two"),
    ({"Model": {"Precision": "float"}, "LayerName": {"d1": {"Precision": "ap_fixed<8,3>"}}}, "mixes floating-point"),
])
def test_bad_configs_raise_naming_the_key(cfg, fragment):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d1"), keras.layers.ReLU(name="relu"),
                              keras.layers.Dense(2, activation="relu", name="d2")])
    with pytest.raises(IKRHLSError) as info:
        ikr_hls.convert(model, config=cfg)
    assert fragment in str(info.value)


def test_yaml_and_json_files(tmp_path):
    model = build("same_stride2")
    cfg = ikr_hls.config_from_keras_model(model, granularity="name", default_precision="ap_fixed<12,4>")
    hls = ikr_hls.convert(model)
    graph = hls.graph
    flatten = next(layer.name for layer in model.layers if isinstance(layer, keras.layers.Flatten))
    assert flatten in graph.removed                  # free: no entry of its own in the config
    assert set(cfg["LayerName"]) == {graph.input_name} | {layer.keras_name for layer in graph.layers}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    import yaml

    (tmp_path / "c.yml").write_text(yaml.safe_dump(cfg))
    a, _ = _graph_types(model, config=tmp_path / "c.json")
    b, _ = _graph_types(model, config=tmp_path / "c.yml")
    assert a == b and next(iter(a.values()))["weight"] == "ap_fixed<12, 4>"
    (tmp_path / "bad.yml").write_text("Model: [unclosed")
    with pytest.raises(IKRHLSError, match="bad.yml: cannot be parsed"):
        ikr_hls.convert(model, config=tmp_path / "bad.yml")
    with pytest.raises(IKRHLSError, match="no such config file"):
        ikr_hls.convert(model, config=tmp_path / "missing.yml")
    with pytest.raises(IKRHLSError, match="granularity: unknown value 'layer'"):
        ikr_hls.config_from_keras_model(model, granularity="layer")


def test_missing_ap_headers_is_one_clear_line(tmp_path, monkeypatch):
    from ikr_hls import hostbuild

    hls = ikr_hls.convert(build("mlp", seed=9), output_dir=tmp_path / "p", precision="ap_fixed<16,6>")
    monkeypatch.setattr(hostbuild, "ap_types_dir", lambda: None)
    monkeypatch.delenv("XILINX_HLS", raising=False)
    with pytest.raises(IKRHLSError) as info:
        hls.compile()
    message = str(info.value)
    assert "\n" not in message and "XILINX_HLS" in message and "hls4ml" in message


def test_ap_headers_are_found(tmp_path, monkeypatch):
    from ikr_hls import hostbuild

    monkeypatch.delenv("XILINX_HLS", raising=False)
    found = hostbuild.ap_types_dir()
    assert found is not None and "hls4ml" in str(found) and (found / "ap_fixed.h").is_file()
    vitis = tmp_path / "Vitis_HLS"
    (vitis / "include").mkdir(parents=True)
    (vitis / "include" / "ap_fixed.h").write_text("// stand-in")
    monkeypatch.setenv("XILINX_HLS", str(vitis))
    assert hostbuild.ap_types_dir() == vitis / "include"


def test_hardware_settings_from_keywords_and_config(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d1")])
    hls = ikr_hls.convert(model, part="xc7z020clg400-1", clock_period=4, clock_uncertainty="0.5ns")
    assert (hls.config.part, hls.config.clock_period, hls.config.clock_uncertainty) == ("xc7z020clg400-1", 4.0, "0.5")
    cfg = tmp_path / "hw.yml"
    cfg.write_text("Part: xcu250-figd2104-2L-e\nClockPeriod: 3.3\nClockUncertainty: 10%\n")
    hls = ikr_hls.convert(model, part="xc7z020clg400-1", config=cfg)       # the config wins, as for Model keys
    assert (hls.config.part, hls.config.clock_period, hls.config.clock_uncertainty) == \
        ("xcu250-figd2104-2L-e", 3.3, "10%")
    files = hls.files
    assert "set clock_uncertainty 10%" in files["project.tcl"] and "clock=3.3ns" in files["hls_config.cfg"]
    with pytest.raises(IKRHLSError, match="clock_uncertainty: expected a percentage"):
        ikr_hls.convert(model, clock_uncertainty="-1")


def test_hardware_defaults_are_hls4ml_s(tmp_path):
    """Without options, the project targets hls4ml's default part at 5 ns with hls4ml's 12.5%
    clock uncertainty, in the Tcl flow and the Vitis Unified config alike; the command line
    has the same defaults."""
    from ikr_hls import cli

    hls = ikr_hls.convert(build("mlp"), output_dir=tmp_path / "p")
    files = hls.files
    assert (hls.config.part, hls.config.clock_period, hls.config.clock_uncertainty) == \
        ("xcvu13p-flga2577-2-e", 5.0, "12.5%")
    assert "set clock_uncertainty 12.5%" in files["project.tcl"]
    assert "clock_uncertainty=12.5%" in files["hls_config.cfg"] and "clock=5ns" in files["hls_config.cfg"]
    args = cli._parser().parse_args(["convert", "m.h5", "-o", "p"])
    assert (args.clock, args.clock_uncertainty) == (5.0, "12.5%")


def test_a_config_file_error_names_the_file_and_the_key_set(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="c1")])
    path = tmp_path / "my.yml"
    path.write_text("Model:\n  Precision: ap_fixed<16,6>\nLayerName:\n  c1_act:\n"
                    "    Precision: {result: 'ap_fixed<8,3>'}\n")
    with pytest.raises(IKRHLSError) as info:
        ikr_hls.convert(model, config=str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: LayerName.c1_act (Precision): the model has no layer 'c1_act'")
    assert "fuses the relu of 'c1' into it" in message and "reuse" not in message.lower()


def test_a_fused_activation_s_result_is_its_layer_s_result(tmp_path, caplog):
    """hls4ml's entry for a layer's own activation (c1_relu), a ReLU layer fused into a Dense
    and a BatchNormalization folded into one: their result types are the layer's output type;
    their other settings mean nothing here and are warned about, naming them."""
    import logging

    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="c1"),
                              keras.layers.Dense(3, name="d2"), keras.layers.BatchNormalization(name="bn"),
                              keras.layers.ReLU(name="r")])
    config = {"Model": {"Precision": "ap_fixed<16,6>"},
              "LayerName": {"c1": {"Precision": {"result": "ap_fixed<16,6>"}},
                            "c1_relu": {"Precision": {"result": "ap_ufixed<8,2>"}},
                            "bn": {"Precision": {"result": "ap_fixed<12,4>", "weight": "ap_fixed<8,3>"}},
                            "r": {"Precision": "ap_ufixed<10,3>", "ReuseFactor": 2}}}
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        hls = ikr_hls.convert(model, config=config)
    assert hls.graph.layer("c1").precision["result"].cpp == "ap_ufixed<8, 2>"
    assert hls.graph.layer("d2").precision["result"].cpp == "ap_ufixed<10, 3>"     # after bn and r
    (message,) = [r.getMessage() for r in caplog.records if "no meaning" in r.getMessage()]
    assert "Precision.result (the value before an activation or BatchNormalization merged into the layer" in message
    assert "c1, bn" in message and "Precision.weight (a BatchNormalization folded into" in message
    assert "ReuseFactor (part of the layer it is fused into, whose ReuseFactor applies): r" in message


def test_numbers_written_as_strings_read_as_numbers_everywhere():
    """Issue 30 item 7: one rule: "4" is 4 for ReuseFactor, TableSize and ExpRange, as "5" is
    for ClockPeriod; and enum-like values in any case (Strategy Pattern, IOType IO_Stream)."""
    import keras

    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, name="c"),
                              keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax", name="d")])
    hls = ikr_hls.convert(model, config={"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": "2",
                                                   "Strategy": "Pattern", "TableSize": " 2048", "ExpRange": "8"},
                                         "LayerName": {"c": {"ReuseFactor": "4"}}, "ClockPeriod": "4",
                                         "IOType": "IO_Stream"})
    c, d = hls.graph.layer("c"), hls.graph.layer("d")
    assert (c.settings.reuse_factor, d.settings.reuse_factor, c.settings.strategy) == (4, 2, "pattern")
    assert (d.settings.table_size, d.settings.exp_range, hls.config.clock_period) == (2048, 8, 4.0)
    assert hls.config.io_type == "io_stream"
    assert ikr_hls.convert(model, strategy="PE", precision="Float").config.strategy == "pe"
    with pytest.raises(IKRHLSError, match=r"Model.TableSize: expected a power of two from 64 to 65536, got '2k'"):
        ikr_hls.convert(model, config={"Model": {"TableSize": "2k"}})


def test_a_yaml_error_says_its_line_and_column(tmp_path):
    path = tmp_path / "cfg.yml"
    path.write_text("Model:\n  Precision: ap_fixed<16,6>\nLayerName:\n  c1: {ReuseFactor: 2\n  c2: {}\n")
    with pytest.raises(IKRHLSError, match=rf"^{path}: cannot be parsed \(line 5, column 5: "):
        ikr_hls.convert(build("mlp"), config=path)
