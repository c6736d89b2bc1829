"""hls4ml's configs convert as they are (issue 19 item 4), and so do they once their `auto`
types are filled in the hls4ml way (issue 30 item 1): the configs hls4ml 1.3 itself writes for
the shipped LeNet-5 and for a small model with BatchNormalization and Softmax, at granularity
name and type, for its default, Vivado and Vitis backends; hls4ml's spellings (fixed<W,I>,
Latency / Resource, Precision: {default}, LayerType, a project file's HLSConfig); what has no
meaning here is listed in one warning, and anything else is still refused, every error of a
file at once."""
import copy
import logging
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

import ikr_hls
from cli_helpers import run_cli
from ikr_hls import IKRHLSError
from ikr_hls.modelfile import load_keras_model
from ikr_hls.precision import parse_type

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "examples" / "models" / "lenet5_ikr.h5"
SHIPPED = ROOT / "examples" / "models" / "lenet5.h5"
WARNED = "settings with no meaning in ikr-hls, ignored"
BACKENDS = (None, "Vivado", "Vitis")
L = keras.layers


@pytest.fixture(scope="module")
def lenet():
    return load_keras_model(LENET)


@pytest.fixture(scope="module")
def hls4ml_configs(lenet):
    hls4ml = pytest.importorskip("hls4ml")
    return {g: hls4ml.utils.config_from_keras_model(lenet, granularity=g) for g in ("model", "type", "name")}


def _bn_softmax_model():
    """A conv whose BatchNormalization folds into it and whose ReLU fuses into it, a pooling, a
    BatchNormalization of its own, a Dense and a Softmax layer (fused into the Dense)."""
    inp = keras.Input((8, 8, 3), name="inp")
    x = L.Conv2D(4, 3, name="c1")(inp)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU(name="r1")(x)
    x = L.MaxPooling2D(name="mp")(x)
    x = L.BatchNormalization(name="bn2")(x)
    x = L.Flatten(name="fl")(x)
    x = L.Dense(10, name="d1")(x)
    model = keras.Model(inp, L.Softmax(name="sm")(x))
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):        # statistics that change something
            layer.set_weights([rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.2, 4), rng.normal(0, 0.3, 4),
                               rng.uniform(0.5, 2.0, 4)])
    return model


def _filled(config: dict, types: dict) -> dict:
    """The hls4ml user's next step: every `auto` type replaced by a real one (role -> type)."""
    config = copy.deepcopy(config)
    for group in ("LayerName", "LayerType"):
        for entry in config.get(group, {}).values():
            for role, value in entry.get("Precision", {}).items():
                if value == "auto":
                    entry["Precision"][role] = types.get(role, "fixed<16,6>")
    return config


def _warnings(caplog) -> list:
    return [r.getMessage() for r in caplog.records if WARNED in r.getMessage()]


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
    if granularity != "model":
        assert "auto types" in message and "Trace " in message


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("granularity", ["name", "type"])
@pytest.mark.parametrize("which", ["lenet", "bn_softmax"])
def test_hls4ml_configs_with_real_types_convert(which, granularity, backend, caplog):
    """Issue 30 item 1: every key hls4ml 1.3 writes, for every backend, with its autos filled
    in as an hls4ml user does: it converts in one run, with one warning, and each type lands
    where it means the same value here."""
    hls4ml = pytest.importorskip("hls4ml")
    model = load_keras_model(SHIPPED) if which == "lenet" else _bn_softmax_model()
    written = hls4ml.utils.config_from_keras_model(model, granularity=granularity, backend=backend)
    config = _filled(written, {"result": "fixed<14,5>", "weight": "fixed<8,2>", "scale": "fixed<10,3>",
                               "bias": "fixed<12,4>", "param": "fixed<8,3>"})
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        hls = ikr_hls.convert(model, output_dir="unused", config=config)
    assert len(_warnings(caplog)) == 1
    by_name = {layer.keras_name: layer for layer in hls.graph.layers}
    dense = by_name["fc3" if which == "lenet" else "d1"]
    assert dense.activation == "softmax" and dense.precision["weight"] == parse_type("ap_fixed<8,2>")
    # a fused activation's result is its layer's result; the conv's result before it is no value here
    conv = by_name["conv1" if which == "lenet" else "c1"]
    assert conv.activation == "relu" and conv.precision["result"] == parse_type("ap_fixed<14,5>")
    if backend is not None:   # hls4ml's default softmax tables, ap_fixed<18,8,AP_RND,AP_SAT>: their positive half
        assert dense.precision["exp_table"] == parse_type("ap_ufixed<17,7,AP_RND,AP_SAT>")
        assert dense.precision["inv_table"] == parse_type("ap_ufixed<17,7,AP_RND,AP_SAT>")
    if which == "bn_softmax":                          # bn2 is a layer of its own: `scale` is its weight
        assert by_name["bn2"].precision["weight"] == parse_type("ap_fixed<10,3>")
        assert "bn1" not in by_name                                                   # folded into c1
        # bn1's scale type means nothing (folded); a LayerType entry is listed only when no layer uses it
        assert ("Precision.scale (a BatchNormalization folded" in _warnings(caplog)[0]) == (granularity == "name")


@pytest.mark.cpp
def test_a_filled_hls4ml_config_is_bit_exact_with_its_reference(tmp_path):
    """The converted tables and fused types are real hardware: the C++ equals the bit-exact
    reference, and the classes follow Keras."""
    hls4ml = pytest.importorskip("hls4ml")
    model = _bn_softmax_model()
    config = _filled(hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vitis"),
                     {"result": "fixed<16,6>", "weight": "fixed<10,3>", "scale": "fixed<10,3>"})
    hls = ikr_hls.convert(model, output_dir=tmp_path / "prj", config=config)
    x = np.random.default_rng(0).standard_normal((16, 8, 8, 3))
    y = hls.predict(x)
    assert np.array_equal(y, hls.emulate(x))
    assert np.mean(y.argmax(1) == model.predict(x, verbose=0).argmax(1)) >= 0.9


def test_what_the_new_user_tripped_on_converts(tmp_path, caplog):
    """Issue 30 item 1, as reported: BatchNormalization `Precision: {scale: ...}`, Softmax
    `Strategy: Stable`, `Implementation` and `Skip` as hls4ml writes them for a softmax, and
    `exp_table: ap_fixed<18,8,AP_RND,AP_SAT>` (hls4ml's default)."""
    model = _bn_softmax_model()
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump({
        "Model": {"Precision": "ap_fixed<16,6>"},
        "LayerName": {"bn2": {"Precision": {"scale": "ap_fixed<10,3>", "bias": "ap_fixed<12,4>"}},
                      "sm": {"Strategy": "Stable", "Implementation": "stable", "Skip": False,
                             "Precision": {"exp_table": "ap_fixed<18,8,AP_RND,AP_SAT>",
                                           "inv_table": "ap_fixed<18,8,AP_RND,AP_SAT>"}}}}))
    hls = ikr_hls.convert(model, output_dir="unused", config=path)
    assert hls.graph.layer("bn2").precision["weight"] == parse_type("ap_fixed<10,3>")
    assert hls.graph.layer("d1").precision["exp_table"] == parse_type("ap_ufixed<17,7,AP_RND,AP_SAT>")


def test_every_config_error_of_a_file_at_once(tmp_path):
    """Issue 30 item 1: all errors, each naming the file and the key path, in one message."""
    model = _bn_softmax_model()
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump({
        "Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 0},
        "LayerName": {"c1": {"Precision": {"weight": "ap_fixd<8,3>"}, "Strategy": "fast"},
                      "sm": {"Implementation": "argmax"}, "d1": {"Skip": True, "TableSize": 1000}}}))
    with pytest.raises(IKRHLSError) as info:
        ikr_hls.convert(model, output_dir="unused", config=path)
    message = str(info.value)
    assert message.startswith("6 config errors: ")
    for key in ("Model.ReuseFactor", "LayerName.c1.Precision.weight", "LayerName.c1.Strategy",
                "LayerName.sm.Implementation", "LayerName.d1.Skip", "LayerName.d1.TableSize"):
        assert f"{path}: {key}: " in message, key
    # errors only the model can tell (a layer it lacks, a role its kind lacks) come together too
    path.write_text(yaml.safe_dump({"LayerName": {"nope": {"ReuseFactor": 2},
                                                  "mp": {"Precision": {"weight": "ap_fixed<8,3>"}}}}))
    with pytest.raises(IKRHLSError) as info:
        ikr_hls.convert(model, output_dir="unused", config=path)
    message = str(info.value)
    assert message.startswith("2 config errors: ") and f"{path}: LayerName.nope (ReuseFactor): the model has no " \
        "layer 'nope'" in message and f"{path}: LayerName.mp.Precision: a pool2d layer has no weight type" in message


@pytest.mark.parametrize("entry, fragment", [
    ({"Implementation": "argmax"}, "LayerName.sm.Implementation: 'argmax' makes a softmax output a one-hot argmax"),
    ({"Strategy": "Argmax"}, "LayerName.sm.Strategy: 'Argmax' makes a softmax output a one-hot argmax"),
    ({"Skip": True}, "LayerName.sm.Skip: true would drop the softmax"),
])
def test_a_softmax_setting_that_changes_the_function_is_refused(entry, fragment):
    with pytest.raises(IKRHLSError, match=fragment):
        ikr_hls.convert(_bn_softmax_model(), output_dir="unused", config={"LayerName": {"sm": entry}})


def test_settings_that_mean_nothing_are_warned_naming_layer_and_key(caplog):
    """Issue 30 item 2: a ReuseFactor on a pooling or a BatchNormalization, a Strategy a Dense
    has no form of, a TableSize without a table, a max pool's recip: one warning names each."""
    config = {"Model": {"Precision": "ap_fixed<16,6>"},
              "LayerName": {"mp": {"ReuseFactor": 4, "Precision": {"recip": "ap_ufixed<8,0>"}},
                            "bn2": {"ReuseFactor": 2}, "d1": {"Strategy": "pattern", "ReuseFactor": 2},
                            "r1": {"TableSize": 2048}, "c1": {"ReuseFactor": 2}}}
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        hls = ikr_hls.convert(_bn_softmax_model(), output_dir="unused", config=config)
    (message,) = _warnings(caplog)
    assert "ReuseFactor (the layer has no multipliers to share): mp, bn2" in message
    assert "Strategy: pattern (the layer has the forms unrolled, resource, da): d1" in message
    assert "TableSize (no lookup table" in message and ": r1" in message
    assert "Precision.recip (only an average pool has reciprocals): mp" in message
    by_name = {layer.keras_name: layer for layer in hls.graph.layers}
    assert by_name["c1"].settings.reuse_factor == 2 and by_name["d1"].settings.reuse_factor == 2
    # the keyword form names the layer too
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        ikr_hls.convert(_bn_softmax_model(), output_dir="unused", reuse_factor={"default": 1, "mp": 2})
    (message,) = _warnings(caplog)
    assert "ReuseFactor (the layer has no multipliers to share): reuse_factor['mp']" in message


def test_the_starting_config_writes_only_keys_that_mean_something(caplog):
    """Issue 30 item 2: ikr_hls.config_from_keras_model writes a ReuseFactor only for the layers
    whose multipliers it shares, so its own config converts without a warning."""
    model = _bn_softmax_model()
    config = ikr_hls.config_from_keras_model(model, granularity="name")
    assert "ReuseFactor" in config["LayerName"]["c1"] and "ReuseFactor" in config["LayerName"]["d1"]
    assert "ReuseFactor" not in config["LayerName"]["mp"] and "ReuseFactor" not in config["LayerName"]["bn2"]
    assert set(config["LayerName"]["mp"]["Precision"]) == {"result"}
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        ikr_hls.convert(model, output_dir="unused", config=config)
    assert not _warnings(caplog)


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

    for spelled, ours in (("Latency", "unrolled"), ("resource", "resource"), ("RESOURCE", "resource")):
        assert convert({"Model": {"Precision": "fixed<16,6>", "Strategy": spelled}}).config.strategy == ours
    # LayerType sets every layer of a Keras class; a layer's LayerName entry wins over it
    hls = convert({"Model": {"Precision": "fixed<16,6>"},
                   "LayerType": {"Dense": {"ReuseFactor": 4, "Precision": {"weight": "fixed<8,3>"}},
                                 "Conv2D": {"Strategy": "Resource", "ReuseFactor": 2}},
                   "LayerName": {"fc3": {"ReuseFactor": 2}}})
    by_name = {layer.keras_name: layer for layer in hls.graph.layers}
    assert [by_name[n].settings.reuse_factor for n in ("fc1", "fc2", "fc3")] == [4, 4, 2]
    assert all(by_name[n].precision["weight"].cpp == "ap_fixed<8, 3>" for n in ("fc1", "fc2", "fc3"))
    assert [by_name[n].settings.strategy for n in ("conv1", "conv2")] == ["resource", "resource"]
    assert by_name["conv1"].precision["weight"].cpp == "ap_fixed<16, 6>"
    # hls4ml's class of a conv's own activation: its ReuseFactor means nothing (a warning, not an error)
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        convert({"LayerType": {"Activation": {"ReuseFactor": 2}, "GlobalAveragePooling2D": {"ReuseFactor": 2}}})
    (message,) = _warnings(caplog)
    assert "ReuseFactor (part of the layer it is fused into, whose ReuseFactor applies): LayerType.Activation" \
        in message
    assert "ReuseFactor (no layer of that class has hardware of its own in this model): " \
        "LayerType.GlobalAveragePooling2D" in message
    # a LayerType entry that sets several layers is listed only when it means nothing for all of
    # them: a Conv2DTranspose's reuse factor is its conv half's (its zero insertion shares nothing)
    caplog.clear()
    model = keras.Sequential([keras.Input((6, 6, 2)), L.Conv2DTranspose(2, 3, strides=2, name="tr"), L.Flatten(),
                              L.Dense(3, name="d")])
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        hls = ikr_hls.convert(model, output_dir="unused", config={"LayerType": {"Conv2DTranspose": {"ReuseFactor": 2}}})
    assert hls.graph.layer("tr").settings.reuse_factor == 2 and not _warnings(caplog)
    # what is neither ikr-hls's nor hls4ml's is refused as before
    with pytest.raises(IKRHLSError, match=r"Model: unknown key\(s\) Bram \(valid"):
        convert({"Model": {"Bram": 1}})
    with pytest.raises(IKRHLSError, match="LayerType.Conv3D: 'Conv3D' is not a Keras layer class ikr-hls converts"):
        convert({"LayerType": {"Conv3D": {"ReuseFactor": 2}}})
    with pytest.raises(IKRHLSError, match="Model.Strategy: unknown value 'Distributed'"):
        convert({"Model": {"Strategy": "Distributed"}})


def test_a_sigmoid_table_set_the_hls4ml_way():
    """hls4ml names a sigmoid's lookup table `table`; here it is the layer's act_table."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="sigmoid", name="d")])
    hls = ikr_hls.convert(model, output_dir="unused", config={
        "Model": {"Precision": "fixed<16,6>"},
        "LayerName": {"d": {"Precision": {"table": "ufixed<10,0>", "result": "auto"}}}})
    assert hls.graph.layer("d").precision["act_table"].cpp == "ap_ufixed<10, 0>"


def test_hls4ml_class_names_in_layer_type():
    """hls4ml names an Add `Merge`, a ReLU layer `ThresholdedReLU`, an Activation('softmax')
    layer `Softmax`, a Dense's own sigmoid `Activation`: its LayerType entries set those layers."""
    inp = keras.Input((6,))
    a, b = L.Dense(4, activation="sigmoid", name="a")(inp), L.Dense(4, name="b")(inp)
    x = L.ReLU(name="r")(L.Add(name="add")([a, b]))
    model = keras.Model(inp, L.Activation("softmax", name="sm")(L.Dense(3, name="d")(x)))
    hls = ikr_hls.convert(model, output_dir="unused", config={
        "Model": {"Precision": "fixed<16,6>"},
        "LayerType": {"Merge": {"Precision": {"accum": "fixed<20,8>"}},
                      "ThresholdedReLU": {"Precision": {"result": "ufixed<12,4>"}},
                      "Activation": {"Precision": {"table": "ufixed<12,0>"}},
                      "Softmax": {"Precision": {"exp_table": "ufixed<16,0>"}}}})
    add, d, a = hls.graph.layer("add"), hls.graph.layer("d"), hls.graph.layer("a")
    assert add.activation == "relu" and add.precision["accum"] == parse_type("ap_fixed<20,8>")
    assert add.precision["result"] == parse_type("ap_ufixed<12,4>")          # the fused ReLU's output
    assert d.activation == "softmax" and d.precision["exp_table"] == parse_type("ap_ufixed<16,0>")
    assert a.precision["act_table"] == parse_type("ap_ufixed<12,0>")


def test_an_hls4ml_separable_conv_entry_sets_both_halves(caplog):
    """hls4ml's SeparableConv2D entry holds both halves (depthwise/pointwise roles and reuse
    factors); here they are `<name>/depthwise` and `<name>`. (hls4ml 1.3 cannot read a Keras 3
    SeparableConv2D itself, so the entry is written here as hls4ml's attributes name it.)"""
    model = keras.Sequential([keras.Input((6, 6, 2)), L.SeparableConv2D(3, 3, name="sep"), L.Flatten(),
                              L.Dense(2, name="d")])
    entry = {"Precision": {"depthwise": "fixed<8,2>", "pointwise": "fixed<10,3>", "bias": "fixed<12,4>",
                           "depthwise_accum": "fixed<20,8>", "pointwise_accum": "fixed<24,10>",
                           "depthwise_result": "fixed<14,5>", "result": "fixed<16,6>"},
             "DepthwiseReuseFactor": 2, "PointwiseReuseFactor": 3, "ConvImplementation": "LineBuffer"}
    for config in ({"LayerName": {"sep": entry}}, {"LayerType": {"SeparableConv2D": entry}}):
        hls = ikr_hls.convert(model, output_dir="unused", config={"Model": {"Precision": "fixed<16,6>"}, **config})
        depthwise, pointwise = hls.graph.layer("sep/depthwise"), hls.graph.layer("sep")
        assert [depthwise.precision[r].cpp for r in ("weight", "accum", "result")] == \
            ["ap_fixed<8, 2>", "ap_fixed<20, 8>", "ap_fixed<14, 5>"]
        assert [pointwise.precision[r].cpp for r in ("weight", "bias", "accum", "result")] == \
            ["ap_fixed<10, 3>", "ap_fixed<12, 4>", "ap_fixed<24, 10>", "ap_fixed<16, 6>"]
        assert (depthwise.settings.reuse_factor, pointwise.settings.reuse_factor) == (2, 3)
