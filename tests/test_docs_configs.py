"""Every config example in README.md and docs/ works as written: each ```yaml / ```json block
is parsed and converts the shipped LeNet-5 (its layer names) to the types and settings it
writes; and a YAML flow mapping that splits a type at its comma gets the hint to quote it."""
import json
import re
from pathlib import Path

import pytest
import yaml

import ikr_hls
from ikr_hls.config import HARDWARE_KEYS, MODEL_KEYS, make_config
from ikr_hls.precision import parse_type

ROOT = Path(__file__).resolve().parents[1]
LENET = ROOT / "examples" / "models" / "lenet5_ikr.h5"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def config_blocks() -> list:
    out = []
    for path in DOCS:
        for k, (lang, body) in enumerate(re.findall(r"```(ya?ml|json)\n(.*?)```", path.read_text(), re.S)):
            out.append(pytest.param(lang, body, id=f"{path.name}-{k}"))
    return out


BLOCKS = config_blocks()


def test_the_examples_show_every_model_and_hardware_key():
    """Together, the documented examples use every key a config's Model (and a layer) takes and
    every hardware key, so each is shown working (and converted by the test below)."""
    used: set = set()
    for param in BLOCKS:
        lang, body = param.values
        config = json.loads(body) if lang == "json" else yaml.safe_load(body)
        used |= set(config) | set(config.get("Model") or {})
        for entry in (config.get("LayerName") or {}).values():
            used |= set(entry)
    missing = (set(MODEL_KEYS) | set(HARDWARE_KEYS)) - used
    assert not missing, f"no documented config example uses {sorted(missing)}"


@pytest.mark.parametrize("lang,body", BLOCKS)
def test_config_example_converts_as_written(lang, body):
    config = json.loads(body) if lang == "json" else yaml.safe_load(body)
    make_config(config=config)                                   # every key and type is valid
    hls = ikr_hls.convert(str(LENET), output_dir="unused", config=config)
    by_keras = {layer.keras_name: layer for layer in hls.graph.layers}
    for name, entry in (config.get("LayerName") or {}).items():
        precision = entry.get("Precision")
        if name == hls.graph.input_name:
            assert hls.graph.input_type == parse_type(precision["result"] if isinstance(precision, dict) else precision)
            continue
        layer = by_keras[name]
        for role, text in (precision.items() if isinstance(precision, dict) else []):
            assert layer.precision[role] == parse_type(text), (name, role)
        if "Strategy" in entry:
            assert layer.settings.strategy == entry["Strategy"]
        if "ReuseFactor" in entry:
            assert layer.settings.reuse_factor == entry["ReuseFactor"]


def test_a_type_split_by_a_yaml_flow_mapping_gets_the_quoting_hint(tmp_path):
    path = tmp_path / "cfg.yml"
    head = "Model:\n  Precision: ap_fixed<16,6>\nLayerName:\n  conv2:\n"
    path.write_text(head + "    Precision: {weight: ap_fixed<8,3>, bias: ap_fixed<16,6>}\n")
    with pytest.raises(ikr_hls.IKRHLSError, match=r"unknown key\(s\) 3>, 6>.*must be quoted in a YAML flow mapping"):
        ikr_hls.convert(str(LENET), output_dir="unused", config=str(path))
    path.write_text(head + "    Precision: {weight: \"ap_fixed<8,3>\", bias: \"ap_fixed<16,6>\"}\n")
    hls = ikr_hls.convert(str(LENET), output_dir="unused", config=str(path))
    conv2 = next(layer for layer in hls.graph.layers if layer.keras_name == "conv2")
    assert conv2.precision["weight"] == parse_type("ap_fixed<8,3>")
    with pytest.raises(ikr_hls.IKRHLSError) as refused:
        make_config(config={"LayerName": {"c1": {"Precision": {"wieght": "ap_fixed<8,3>"}}}})
    assert "quoted" not in str(refused.value)                    # a plain typo gets no quoting hint
