"""The command line: conversions, --check, and bad input as one line with exit code 2."""
from pathlib import Path

import keras
import pytest

from cli_helpers import assert_one_line_error, run_cli

REPO = Path(__file__).resolve().parent.parent
LENET = REPO / "examples" / "models" / "lenet5.h5"


def test_convert_and_check_lenet(tmp_path):
    out = tmp_path / "prj"
    proc = run_cli("convert", LENET, "-o", out, "--check", "20")
    assert proc.returncode == 0, proc.stderr
    assert "check: 20 random inputs" in proc.stdout and "OK" in proc.stdout
    assert (out / "firmware" / "myproject.cpp").is_file()


def test_unsupported_layer(tmp_path):
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4, name="rnn")])
    path = tmp_path / "rnn.keras"
    model.save(path)
    out = tmp_path / "prj"
    proc = run_cli("convert", path, "-o", out)
    assert_one_line_error(proc, str(path), "'rnn'", "LSTM")
    assert not out.exists()


@pytest.mark.parametrize("name,content,fragment", [
    ("missing.h5", None, "no such file"),
    ("garbage.h5", b"\x89HDF\r\n garbage", "cannot be read as a Keras model"),
    ("model.onnx", b"x", "not a Keras model file"),
])
def test_bad_model_files(tmp_path, name, content, fragment):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    proc = run_cli("convert", path, "-o", tmp_path / "prj")
    assert_one_line_error(proc, str(path), fragment)
    assert not (tmp_path / "prj").exists()


def test_bad_precision_and_existing_directory(tmp_path):
    proc = run_cli("convert", LENET, "-o", tmp_path / "p1", "--precision", "ap_fixd<16,6>")
    assert_one_line_error(proc, "precision", "ap_fixd<16,6>")
    existing = tmp_path / "p2"
    existing.mkdir()
    (existing / "keep.txt").write_text("x")
    proc = run_cli("convert", LENET, "-o", existing)
    assert_one_line_error(proc, str(existing), "--force")
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]


def test_fixed_point_check_against_the_reference(tmp_path):
    config = tmp_path / "cfg.yml"
    config.write_text("Model:\n  Precision: ap_fixed<16,6>\nLayerName:\n  fc3:\n    TableSize: 2048\n")
    ikr = REPO / "examples" / "models" / "lenet5_ikr.h5"
    proc = run_cli("convert", ikr, "-o", tmp_path / "prj", "--config", config, "--check", "5")
    assert proc.returncode == 0, proc.stderr
    assert "C++ vs the bit-exact reference: OK, identical" in proc.stdout
    assert "ap_fixed<16, 6>" in (tmp_path / "prj" / "firmware" / "defines.h").read_text()
    bad = tmp_path / "bad.yml"
    bad.write_text("Model:\n  Precison: ap_fixed<16,6>\n")
    proc = run_cli("convert", ikr, "-o", tmp_path / "prj2", "--config", bad)
    assert_one_line_error(proc, "Precison", "valid: Precision")
