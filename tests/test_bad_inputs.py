"""Every bad input of docs/cli.md's table: one line on stderr naming the culprit, exit code 2,
no traceback, nothing left behind; and the table shows the message each one gets."""
import os
from pathlib import Path

import keras
import pytest

from cli_helpers import assert_one_line_error, run_cli, run_cli_process

REPO = Path(__file__).resolve().parent.parent
LENET = REPO / "examples" / "models" / "lenet5_ikr.h5"
DOC = (REPO / "docs" / "cli.md").read_text()


def _missing(tmp):
    return ["convert", "missing.h5", "-o", "prj"]


def _not_a_model(tmp):
    (tmp / "notes.h5").write_text("hello\n")
    return ["convert", "notes.h5", "-o", "prj"]


def _not_a_model_type(tmp):
    (tmp / "model.onnx").write_bytes(b"\x08\x07")
    return ["convert", "model.onnx", "-o", "prj"]


def _truncated(tmp):
    (tmp / "trunc.h5").write_bytes(LENET.read_bytes()[:20000])
    return ["convert", "trunc.h5", "-o", "prj"]


def _weights_only(tmp):
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save_weights(tmp / "w.weights.h5")
    (tmp / "weights.h5").write_bytes((tmp / "w.weights.h5").read_bytes())
    return ["convert", "weights.h5", "-o", "prj"]


def _unsupported_layer(tmp):
    keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4, name="rnn")]).save(tmp / "rnn.keras")
    return ["convert", "rnn.keras", "-o", "prj"]


def _unsupported_hgq_layer(tmp):
    """A quantization-aware (HGQ2) layer without a handler."""
    layers = pytest.importorskip("hgq.layers")
    inp = keras.Input((4, 4, 2))
    keras.Model(inp, layers.QSum(axes=-1, name="s")(layers.QConv2D(2, 1, name="c")(inp))).save(tmp / "qsum.keras")
    return ["convert", "qsum.keras", "-o", "prj"]


def _unsupported_layers(tmp):
    """Every layer that does not convert is named, not only the first."""
    inp = keras.Input((5, 3))
    x = keras.layers.LSTM(4, return_sequences=True, name="rnn")(inp)
    keras.Model(inp, keras.layers.GRU(2, name="gru")(x)).save(tmp / "rnn2.keras")
    return ["convert", "rnn2.keras", "-o", "prj"]


def _two_inputs(tmp):
    a, b = keras.Input((4,)), keras.Input((4,))
    keras.Model([a, b], keras.layers.Add()([a, b])).save(tmp / "two.keras")
    return ["convert", "two.keras", "-o", "prj"]


def _bad_precision(tmp):
    return ["convert", LENET, "-o", "prj", "--precision", "ap_fixd<16,6>"]


def _bad_strategy(tmp):
    return ["convert", LENET, "-o", "prj", "--strategy", "fast"]


def _unknown_config_key(tmp):
    (tmp / "bad.yml").write_text("Model:\n  Precison: ap_fixed<16,6>\n")
    return ["convert", LENET, "-o", "prj", "--config", "bad.yml"]


def _config_errors(tmp):
    """Every error of a config file in one message, each naming the file and the key."""
    (tmp / "bad.yml").write_text("Model:\n  Precision: ap_fixd<16,6>\n  ReuseFactor: 0\n")
    return ["convert", LENET, "-o", "prj", "--config", "bad.yml"]


def _config_syntax(tmp):
    (tmp / "broken.yml").write_text("Model:\n  Precision: ap_fixed<16,6>\nLayerName:\n  conv1: {ReuseFactor: 2\n"
                                    "  conv2: {}\n")
    return ["convert", LENET, "-o", "prj", "--config", "broken.yml"]


def _bad_labels(tmp):
    """A labels file that is no .npy array: told before the conversion and the compilation."""
    import numpy as np

    np.save(tmp / "x.npy", np.zeros((4, 28, 28, 1), np.float32))
    (tmp / "y.npy").write_text("3 1 4 1\n")
    return ["convert", LENET, "-o", "prj", "--check", "4", "--tb-data", "x.npy", "--labels", "y.npy"]


def _too_wide_for_io_parallel(tmp):
    """A Dense reading 8192 values at once: its input buffer would be 8192 registers."""
    keras.Sequential([keras.Input((32, 32, 8)), keras.layers.Conv2D(8, 1, name="mix"), keras.layers.Flatten(),
                      keras.layers.Dense(10, name="head")]).save(tmp / "wide.keras")
    return ["convert", "wide.keras", "-o", "prj"]


def _too_wide_for_io_stream(tmp):
    """The same Dense in io_stream gathers its 8192 inputs into as many registers."""
    return [*_too_wide_for_io_parallel(tmp), "--io-type", "io_stream"]


def _existing_directory(tmp):
    (tmp / "existing").mkdir()
    (tmp / "existing" / "notes.txt").write_text("mine\n")
    return ["convert", LENET, "-o", "existing"]


def _side_channels_in_io_parallel(tmp):
    return ["convert", LENET, "-o", "prj", "--side-channels"]


def _side_channels_of_floats(tmp):
    return ["convert", LENET, "-o", "prj", "--io-type", "io_stream", "--side-channels"]


def _bad_tb_data(tmp):
    return ["convert", LENET, "-o", "prj", "--tb-data", "none.npy"]


def _no_compiler_convert(tmp):
    return ["convert", LENET, "-o", "prj", "--check", "5"]


def _converted(tmp):
    """A good project, prj/, to run csim or build on."""
    proc = run_cli("convert", LENET, "-o", "prj", "-q", cwd=tmp)
    assert proc.returncode == 0, proc.stderr


def _no_compiler_csim(tmp):
    _converted(tmp)
    return ["csim", "prj"]


def _no_vitis(tmp):
    _converted(tmp)
    return ["build", "prj"]


def _not_a_project(tmp):
    (tmp / "notes").mkdir()
    return ["csim", "notes"]


def _unknown_step(tmp):
    _converted(tmp)
    return ["build", "prj", "--steps", "csim,place"]


def _seed_without_dataflow(tmp):
    _converted(tmp)
    return ["csim", "prj", "--seed", "3"]


def _zero_timeout(tmp):
    _converted(tmp)
    return ["csim", "prj", "--dataflow", "--timeout", "0"]


def _cosim_without_synthesis(tmp):
    _converted(tmp)
    return ["build", "prj", "--steps", "cosim"]


def _without_tools():
    """PATH without any Vitis, XILINX_HLS unset, CXX pointing nowhere."""
    path = [d for d in os.environ["PATH"].split(os.pathsep)
            if not any((Path(d) / t).exists() for t in ("vitis-run", "vitis_hls"))]
    env = dict(os.environ, PATH=os.pathsep.join(path), CXX="nope")
    env.pop("XILINX_HLS", None)
    return env


# (setup, message fragments in the error line, fragment shown in docs/cli.md)
CASES = {
    "missing model file": (_missing, ["missing.h5: no such file"], "missing.h5: no such file"),
    "not a model": (_not_a_model, ["notes.h5: cannot be read as a Keras model"],
                    "notes.h5: cannot be read as a Keras model"),
    "not a model type": (_not_a_model_type, ["model.onnx: not a Keras model file"],
                         "model.onnx: not a Keras model file (expected one of .h5, .hdf5, .keras)"),
    "truncated h5": (_truncated, ["trunc.h5: cannot be read as a Keras model", "truncated file"],
                     "trunc.h5: cannot be read as a Keras model (... truncated file"),
    "weights only": (_weights_only, ["weights.h5: cannot be read as a Keras model", "holds weights only",
                                     "model.save("],
                     "weights.h5: cannot be read as a Keras model (No model config found ...); it holds weights "
                     "only, as model.save_weights() writes them"),
    "unsupported layer": (_unsupported_layer, ["rnn.keras: layer 'rnn' (LSTM) is not supported"],
                          "rnn.keras: layer 'rnn' (LSTM) is not supported; supported layers: Activation"),
    "unsupported layers": (_unsupported_layers, ["rnn2.keras: layers 'rnn' (LSTM) and 'gru' (GRU) are not supported"],
                           "rnn2.keras: layers 'rnn' (LSTM) and 'gru' (GRU) are not supported; supported layers: "
                           "Activation"),
    "unsupported HGQ2 layer": (_unsupported_hgq_layer, ["qsum.keras: HGQ2 layer 's' (QSum) is not supported"],
                               "qsum.keras: HGQ2 layer 's' (QSum) is not supported (supported HGQ2 layers: QAdd"),
    "two inputs": (_two_inputs, ["two.keras: a model with 2 inputs and 1 output is not supported"],
                   "two.keras: a model with 2 inputs and 1 output is not supported (one input, one output)"),
    "bad precision": (_bad_precision, ["precision: unknown type 'ap_fixd<16,6>'"],
                      "precision: unknown type 'ap_fixd<16,6>' (valid: float, double"),
    "bad option value": (_bad_strategy,
                         ["strategy: unknown value 'fast' (valid: unrolled, pattern, pe, resource, da, auto)"],
                         "strategy: unknown value 'fast' (valid: unrolled, pattern, pe, resource, da, auto)"),
    "unknown config key": (_unknown_config_key, ["bad.yml: Model: unknown key(s) Precison (valid: Precision"],
                           "bad.yml: Model: unknown key(s) Precison (valid: Precision"),
    "config errors": (_config_errors, ["2 config errors: bad.yml: Model.Precision: unknown type 'ap_fixd<16,6>'",
                                       "; bad.yml: Model.ReuseFactor: expected a positive integer"],
                      "2 config errors: bad.yml: Model.Precision: unknown type 'ap_fixd<16,6>' (...); "
                      "bad.yml: Model.ReuseFactor: expected a positive integer"),
    "config syntax": (_config_syntax, ["broken.yml: cannot be parsed (line 5, column 8: expected ',' or '}'"],
                      "broken.yml: cannot be parsed (line 5, column 8: expected ',' or '}', but got ':')"),
    "bad labels": (_bad_labels, ["y.npy: not a readable .npy array for --labels"],
                   "y.npy: not a readable .npy array for --labels (...)"),
    "too wide for io_parallel": (_too_wide_for_io_parallel,
                                 ["wide.keras: layer 'head': its buffer mix_out of 8192 values", "limit of 4096",
                                  "reduce it before that layer (pooling)"],
                                 "wide.keras: layer 'head': its buffer mix_out of 8192 values would be as many "
                                 "registers, over io_parallel's limit of 4096"),
    "too wide for io_stream": (_too_wide_for_io_stream,
                               ["wide.keras: layer 'head': it gathers its input of 8192 values", "limit of 4096"],
                               "wide.keras: layer 'head': it gathers its input of 8192 values into as many registers"),
    "existing directory": (_existing_directory, ["existing: directory exists and is not empty", "--force"],
                           "existing: directory exists and is not empty (use --force, convert(..., force=True) or "
                           "write(force=True) to overwrite)"),
    "side channels in io_parallel": (_side_channels_in_io_parallel,
                                     ["side_channels: AXI4-Stream side channels are io_stream's ports"],
                                     "side_channels: AXI4-Stream side channels are io_stream's ports (io_parallel's "
                                     "are arrays); convert with io_stream (--io-type io_stream)"),
    "side channels of floats": (_side_channels_of_floats, ["side_channels: the input is float"],
                                "side_channels: the input is float; AXI4-Stream side channels pack fixed-point "
                                "values (give an ap_fixed precision)"),
    "bad tb data": (_bad_tb_data, ["none.npy: no such file"], "none.npy: no such file (tb_data expects a .npy array)"),
    "no compiler (convert --check)": (_no_compiler_convert, ["no C++ compiler: 'nope' is not on PATH"],
                                      "no C++ compiler: 'nope' is not on PATH (install g++ or set CXX)"),
    "no compiler (csim)": (_no_compiler_csim, ["no C++ compiler: 'nope' is not on PATH"],
                           "no C++ compiler: 'nope' is not on PATH (install g++ or set CXX)"),
    "no vitis": (_no_vitis, ["Vitis HLS not found", "$XILINX_HLS (not set)"],
                 "Vitis HLS not found: neither vitis-run nor vitis_hls is on PATH or in $XILINX_HLS (not set)"),
    "not a project": (_not_a_project, ["notes: not an ikr-hls project (no hls_config.cfg)"],
                      "notes: not an ikr-hls project (no hls_config.cfg)"),
    "unknown build step": (_unknown_step, ["steps: unknown step(s) place"],
                           "steps: unknown step(s) place (valid: csim, synth, cosim, export, vsynth)"),
    "csim option without --dataflow": (_seed_without_dataflow, ["--seed: applies to the threaded run only"],
                                       "--seed: applies to the threaded run only; add --dataflow"),
    "csim timeout not positive": (_zero_timeout, ["--timeout: expected a number of seconds > 0, got 0"],
                                  "--timeout: expected a number of seconds > 0, got 0"),
    "cosim without a synthesis": (_cosim_without_synthesis,
                                  ["steps: cosim needs the RTL of a C synthesis: add synth to the steps",
                                   "no earlier synthesis in prj/myproject_prj/solution1/syn/verilog"],
                                  "steps: cosim needs the RTL of a C synthesis: add synth to the steps (no earlier "
                                  "synthesis in prj/myproject_prj/solution1/syn/verilog)"),
}


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(tmp_path, case):
    setup, fragments, documented = CASES[case]
    args = setup(tmp_path)
    before = _tree(tmp_path)
    proc = run_cli(*args, cwd=tmp_path, env=_without_tools())
    assert_one_line_error(proc, *fragments)
    assert _tree(tmp_path) == before, "a failed command left files behind or changed them"
    assert documented in DOC, f"docs/cli.md does not show the message of '{case}'"


@pytest.mark.process
@pytest.mark.parametrize("case", ["missing model file", "unsupported layer"])
def test_bad_input_in_a_real_process(tmp_path, case):
    """The installed console script in its own process: exit code 2 and one line on stderr,
    with nothing from TensorFlow's start-up (run_cli calls main() in this process)."""
    setup, fragments, _ = CASES[case]
    proc = run_cli_process(*setup(tmp_path), cwd=tmp_path, env=_without_tools())
    assert_one_line_error(proc, *fragments)


def test_a_wrong_model_path_is_told_before_tensorflow_loads(tmp_path):
    """TensorFlow takes seconds to import: a missing or mistyped model file is refused first."""
    import subprocess
    import sys

    code = ("import sys; from ikr_hls.cli import main; rc = main(['convert', 'missing.keras', '-o', 'p']); "
            "print(rc, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2", "False", "False"], proc.stdout + proc.stderr
    assert "missing.keras: no such file" in proc.stderr
