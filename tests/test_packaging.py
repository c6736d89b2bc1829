"""The wheel carries templates/ and cpp/, and its console script works from anywhere."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _source_tree(dest: Path) -> Path:
    """The files git would commit (tracked, or new and not ignored), copied: a build/ folder
    left by an earlier build can hold files that no longer exist, and setuptools ships them."""
    import shutil

    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout.splitlines()
    for rel in listed:
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    return dest


@pytest.mark.process
def test_wheel_installs_and_converts_from_another_directory(tmp_path):
    wheels = tmp_path / "wheels"
    source = _source_tree(tmp_path / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(source)], check=True, capture_output=True, cwd=tmp_path)
    wheel = next(wheels.glob("ikr_hls-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ("ikr_hls/templates/firmware/layers/conv2d.h.j2", "ikr_hls/templates/bridge.cpp.j2",
                "ikr_hls/templates/firmware/layers/activation_call.j2", "ikr_hls/templates/firmware/layers/window.j2",
                "ikr_hls/rtl/pe_synthesis.json", "ikr_hls/rtl/operator_synthesis.json", "ikr_hls/parts.json"):
        assert rel in names, f"{rel} missing from {wheel.name}"
    # every module of every subpackage (kinds/conv2d/, report/, pruning/, ...) in the wheel
    modules = {p.relative_to(source).as_posix() for p in (source / "ikr_hls").rglob("*.py")}
    assert modules - names == set(), f"modules missing from {wheel.name}"
    # every HLS header, and nothing else, in the package's cpp/
    headers = {f"ikr_hls/cpp/{p.name}" for p in (source / "cpp").iterdir()}
    assert {n for n in names if n.startswith("ikr_hls/cpp/")} == headers
    import ikr_hls
    assert f"ikr_hls-{ikr_hls.__version__}-" in wheel.name        # the version is written once

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    where = subprocess.run([sys.executable, "-c", "import ikr_hls; print(ikr_hls.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert where.stdout.strip().startswith(str(target)), where.stdout   # the wheel, not the checkout

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    model = REPO / "examples" / "models" / "lenet5.h5"
    proc = subprocess.run([str(target / "bin" / "ikr-hls"), "convert", str(model), "-o", "prj"],
                          capture_output=True, text=True, env=env, cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert (elsewhere / "prj" / "firmware" / "ikr" / "ikr_window.h").is_file()
    assert (elsewhere / "prj" / "firmware" / "layers" / "conv1.h").is_file()
