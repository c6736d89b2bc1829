"""The command line: conversions, --check, report, verbosity (bad input: test_bad_inputs.py)."""
from pathlib import Path

import pytest

from cli_helpers import assert_one_line_error, run_cli

REPO = Path(__file__).resolve().parent.parent
LENET = REPO / "examples" / "models" / "lenet5.h5"


@pytest.mark.cpp
def test_convert_and_check_lenet(tmp_path):
    out = tmp_path / "prj"
    proc = run_cli("convert", LENET, "-o", out, "--check", "20")
    assert proc.returncode == 0, proc.stderr
    assert "check: 20 random inputs" in proc.stdout and "OK" in proc.stdout
    assert (out / "firmware" / "myproject.cpp").is_file()


@pytest.mark.cpp
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


def test_report_of_a_model_and_of_a_project(tmp_path):
    import json

    ikr = REPO / "examples" / "models" / "lenet5_ikr.h5"
    proc = run_cli("report", ikr, "--precision", "ap_fixed<8,3>", "--json")
    assert proc.returncode == 0, proc.stderr
    from_model = json.loads(proc.stdout)
    assert from_model["precision"] == "ap_fixed<8, 3>" and not (tmp_path / "unused").exists()
    out = tmp_path / "prj"
    proc = run_cli("convert", ikr, "-o", out, "--precision", "ap_fixed<8,3>")
    assert proc.returncode == 0, proc.stderr
    assert f"next:\n  ikr-hls csim {out}" in proc.stdout                    # the summary says what to run
    proc = run_cli("report", out, "--plot", tmp_path / "r.png")
    assert proc.returncode == 0, proc.stderr
    assert "conv2" in proc.stdout and "latency (estimate)" in proc.stdout
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    progress = [line for line in proc.stderr.splitlines() if line.startswith("ikr-hls: plot")]
    assert len(progress) == 4 and progress[-2].startswith("ikr-hls: plot: done in"), proc.stderr   # each stage
    saved = json.loads((out / "ikr_report.json").read_text())
    assert saved["totals"] == from_model["totals"] and saved["layers"] == from_model["layers"]


def test_report_warns_once_when_the_estimate_does_not_fit_the_part():
    """LeNet-5 at ap_fixed<8,3> and reuse factor 1 fits the default part and not a Zynq-7020:
    one warning line, its figures the report's fit, the layers that take most of the LUTs."""
    import json

    ikr = REPO / "examples" / "models" / "lenet5_ikr.h5"
    proc = run_cli("report", ikr, "--precision", "ap_fixed<8,3>", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["totals"]["fit"]["fits"] is True
    assert "exceeds" not in proc.stderr
    proc = run_cli("report", ikr, "--precision", "ap_fixed<8,3>", "--part", "xc7z020clg400-1", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    fit = report["totals"]["fit"]
    assert fit["device"] == "xc7z020" and fit["fits"] is False and "lut" in fit["over"]
    assert report["totals"]["resources_estimate_source"]["family"] == "xc7"
    warnings = [l for l in proc.stderr.splitlines() if "exceeds" in l]
    assert len(warnings) == 1
    top = max(report["layers"], key=lambda l: (l["resources_estimate"] or {}).get("lut", 0))
    assert f"LUT {fit['estimate']['lut']:,} of 53,200" in warnings[0] and f"mostly {top['name']}" in warnings[0]
    proc = run_cli("report", ikr, "--precision", "ap_fixed<16,6>", "--part", "xc7z045ffg900-2", "--reuse-factor",
                   "auto", "--strategy", "auto", "--json")
    assert proc.returncode == 0 and "exceeds" not in proc.stderr
    assert json.loads(proc.stdout)["totals"]["fit"]["fits"] is True
    proc = run_cli("report", ikr, "--precision", "ap_fixed<8,3>", "--part", "xc7k70tfbg676-1")
    assert proc.returncode == 0 and "not in ikr-hls's table of parts" in proc.stderr
    assert "not in ikr_hls/parts.json, no fit check" in proc.stdout


def test_quiet_after_the_command(tmp_path):
    proc = run_cli("convert", LENET, "-o", tmp_path / "prj", "-q")
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    proc = run_cli("-q", "report", tmp_path / "prj", "-v")
    assert proc.returncode == 2 and "exclude each other" in proc.stderr


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """50 held-out MNIST images and their labels as .npy files."""
    import numpy as np

    from ikr_hls.datasets import mnist_split

    _, _, x, y = mnist_split()
    where = tmp_path_factory.mktemp("digits")
    np.save(where / "x.npy", x[::20])
    np.save(where / "y.npy", y[::20])
    return where / "x.npy", where / "y.npy"


@pytest.mark.cpp
def test_check_fails_a_design_far_from_keras(tmp_path, digits):
    """ap_fixed<6,16> (W and I swapped) is bit-exact with its reference and useless: the check
    says so (exit 1), and the conversion warns about the type, naming where it is used."""
    ikr = REPO / "examples" / "models" / "lenet5_ikr.h5"
    x, y = digits
    proc = run_cli("convert", ikr, "-o", tmp_path / "swapped", "--precision", "ap_fixed<6,16>", "--check", "5")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "C++ vs the bit-exact reference: OK, identical" in proc.stdout
    assert "FAILED, beyond the bound" in proc.stdout and "--max-error" in proc.stdout
    assert "W and I swapped?" in proc.stderr and "conv1 weight" in proc.stderr
    good = run_cli("convert", ikr, "-o", tmp_path / "good", "--precision", "ap_fixed<16,6>", "--check", "50",
                   "--tb-data", x, "--labels", y)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "check: 50 inputs of" in good.stdout and "accuracy on 50 labelled inputs: Keras" in good.stdout
    assert "W and I swapped" not in good.stderr
    narrow = ["--precision", "ap_fixed<8,3>", "--check", "50", "--tb-data", x]
    proc = run_cli("convert", ikr, "-o", tmp_path / "narrow", *narrow, "--labels", y)
    assert proc.returncode == 1 and "more than --max-accuracy-drop 0.01" in proc.stdout
    loose = run_cli("convert", ikr, "-o", tmp_path / "loose", *narrow, "--max-error", "2")   # the bound is the user's
    assert loose.returncode == 0, loose.stdout


def test_check_options_are_validated(tmp_path, digits):
    ikr = REPO / "examples" / "models" / "lenet5_ikr.h5"
    x, y = digits
    assert_one_line_error(run_cli("convert", ikr, "-o", tmp_path / "a", "--labels", y), "--labels", "--tb-data")
    assert_one_line_error(run_cli("convert", ikr, "-o", tmp_path / "b", "--max-error", "-1"), "--max-error")
    assert_one_line_error(run_cli("convert", ikr, "-o", tmp_path / "c", "--calibration", x),
                          "--calibration: only --precision auto")
    assert_one_line_error(run_cli("convert", ikr, "-o", tmp_path / "d", "--precision", "auto"), "--calibration X.npy")
    proc = run_cli("convert", ikr, "-o", tmp_path / "e", "--precision", "auto", "--calibration", x, "-q")
    assert proc.returncode == 0, proc.stderr
    assert "ap_fixed" in (tmp_path / "e" / "firmware" / "defines.h").read_text()


def test_precision_auto_says_auto_and_shows_each_layer_s_types(tmp_path, digits):
    """Issue 30 item 4: no model-wide type is used, so the summary and the report header say
    "auto (per layer)" and show each layer's types; --auto-width sets their width."""
    ikr = REPO / "examples" / "models" / "lenet5_ikr.h5"
    x, _ = digits
    out = tmp_path / "prj"
    proc = run_cli("convert", ikr, "-o", out, "--precision", "auto", "--calibration", x, "--auto-width", "8")
    assert proc.returncode == 0, proc.stderr
    head = proc.stdout.splitlines()[0]
    assert "auto (per layer)" in head and "ap_fixed" not in head
    types = proc.stdout[proc.stdout.index("  types: input "):proc.stdout.index("next:")]
    for name in ("conv1", "conv2", "fc1", "fc2", "fc3"):
        assert f"    {name}: weight ap_fixed<8, " in types and "result ap_fixed<8, " in types, name
    assert "<16," not in types                                 # every type measured is 8 bits wide
    report = run_cli("report", out)
    assert report.returncode == 0, report.stderr
    header = report.stdout.splitlines()[1]
    assert "types auto (per layer)" in header and "default type" not in header
    assert "result type" in report.stdout and "ap_fixed<8, " in report.stdout
    from_model = run_cli("report", ikr, "--precision", "auto", "--calibration", x, "--auto-width", "8", "--json")
    assert from_model.returncode == 0, from_model.stderr
    assert '"precision": "auto (per layer)"' in from_model.stdout
    assert_one_line_error(run_cli("convert", ikr, "-o", tmp_path / "w", "--auto-width", "8"),
                          "--auto-width: the width of the types --precision auto measures")


def test_a_mistyped_option_gets_its_command_s_usage_and_the_nearest_option(tmp_path):
    """Issue 30 item 7: `--precison` is told by `ikr-hls convert`, with "did you mean"."""
    proc = run_cli("convert", LENET, "-o", tmp_path / "prj", "--precison", "ap_fixed<8,3>")
    assert proc.returncode == 2 and not (tmp_path / "prj").exists()
    assert proc.stderr.startswith("usage: ikr-hls convert ")
    assert proc.stderr.strip().splitlines()[-1] == ("ikr-hls convert: error: unrecognized arguments: --precison "
                                                   "ap_fixed<8,3> (--precison: did you mean --precision?)")
    proc = run_cli("report", LENET, "--jsn")
    assert proc.returncode == 2 and "ikr-hls report: error: unrecognized arguments: --jsn (--jsn: did you mean " \
        "--json?)" in proc.stderr


def test_choices_are_read_in_any_case(tmp_path):
    """Issue 30 item 7: --strategy Pattern as config's Latency/Resource are, everywhere."""
    proc = run_cli("convert", LENET, "-o", tmp_path / "prj", "--strategy", "Pattern", "--io-type", "IO_Parallel",
                   "--precision", "AP_FIXED<16,6>", "-q")
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "prj" / "ikr_report.json").read_text()
    assert '"strategy": "pattern"' in report and '"precision": "ap_fixed<16, 6>"' in report


def test_inputs_are_checked_before_the_conversion(tmp_path, digits):
    """Issue 30 item 7: a --labels file that does not fit is told at once, not after the
    conversion and the compilation (which log their progress: none here)."""
    import numpy as np

    ikr = REPO / "examples" / "models" / "lenet5_ikr.h5"
    x, y = digits
    short = tmp_path / "short.npy"
    np.save(short, np.load(y)[:3])
    proc = run_cli("convert", ikr, "-o", tmp_path / "a", "--check", "10", "--tb-data", x, "--labels", short)
    assert_one_line_error(proc, f"{short}: 3 labels for 10 checked inputs")
    words = tmp_path / "words.npy"
    np.save(words, np.array(["three", "one"]))
    proc = run_cli("convert", ikr, "-o", tmp_path / "b", "--check", "2", "--tb-data", x, "--labels", words)
    assert_one_line_error(proc, f"{words}: expected integer class labels")
    assert_one_line_error(run_cli("convert", ikr, "-o", tmp_path / "c", "--tb-data", x, "--labels", y),
                          "--labels: --check N uses them")
    assert not any(tmp_path.glob("[abc]"))


def test_the_synopsis_in_docs_cli_md_has_every_option():
    """Issue 30 item 7: docs/cli.md's synopsis shows every option of every command (report's
    --io-type was missing)."""
    import argparse
    import re

    from ikr_hls import cli

    doc = (REPO / "docs" / "cli.md").read_text()
    synopsis = doc[doc.index("```\n") + 4:doc.index("```", doc.index("```\n") + 4)]
    parser = cli._parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, command in commands.items():
        lines = [line for line in synopsis.splitlines() if line.startswith(f"ikr-hls {name}")]
        block = synopsis[synopsis.index(lines[0]):].split("\nikr-hls ")[0]
        for action in command._actions:
            options = [o for o in action.option_strings
                       if o not in ("-h", "--help", "-q", "--quiet", "-v", "--verbose")]
            if options:
                assert any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", block) for o in options), \
                    f"docs/cli.md: `ikr-hls {name}` lacks {options[-1]}"
