"""The example scripts run end to end (each in a subprocess, with this interpreter)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cpp                  # every test here builds C++

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PROJECT_FILES = ("firmware/myproject.cpp", "hls_config.cfg", "build_prj.tcl")


@pytest.mark.slow
def test_qat_lenet5_runs_bit_exact(tmp_path):
    """examples/qat_lenet5.py for one short epoch: HGQ2 training with IKRPruning, conversion with
    the trained types, Keras == emulate == C++ (exit code 0) and the mean bits printed."""
    pytest.importorskip("hgq")
    result = subprocess.run([sys.executable, str(EXAMPLES / "qat_lenet5.py"), "--epochs", "1", "--prune-epochs", "1",
                             "--seeds", "0", "--cpp", "20"], env=dict(os.environ), capture_output=True, text=True,
                            timeout=900, cwd=tmp_path)
    assert result.returncode == 0, f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    assert "bit-exact" in result.stdout and "bits per nonzero weight" in result.stdout


def test_model_zoo_quick(tmp_path):
    """examples/model_zoo.py --quick trains, prunes, converts and checks both zoo models (its
    exit code is 1 when float C++ differs from Keras or fixed-point C++ from hls.emulate).
    About a minute on 2 cores; the session's IKR_HLS_CACHE (conftest.py) is inherited."""
    out = tmp_path / "zoo"
    result = subprocess.run([sys.executable, str(EXAMPLES / "model_zoo.py"), "--quick", "--output-dir", str(out)],
                            env=dict(os.environ), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    assert "exact" in result.stdout and "DIFFERS" not in result.stdout

    for name in ("residual", "separable"):
        assert (out / f"{name}.keras").is_file()
        for project in (name, f"{name}_fixed", f"{name}_auto"):
            for f in PROJECT_FILES:
                assert (out / project / f).is_file(), f"{project}/{f} missing"

    # the residual network branches: the top function copies a buffer read by two layers
    assert "ikr::clone" in (out / "residual" / "firmware" / "myproject.cpp").read_text()
    # the separable network has depthwise conv layers
    headers = [h.read_text() for h in (out / "separable" / "firmware" / "layers").glob("*.h")]
    assert any(": DepthwiseConv2D" in h.splitlines()[0] for h in headers)
