"""The pybind11 bridge is the same object for every project: `ikr-hls prebuild` (which `make`
runs once per install) compiles it into the installed package, and a project's host build
then compiles only its own firmware, even with an empty build cache (issue 18)."""
import numpy as np
import pytest

import ikr_hls
from cli_helpers import run_cli
from ikr_hls import hostbuild

pytestmark = pytest.mark.cpp


def _unique_model(seed):
    import keras

    keras.utils.set_random_seed(seed)                  # weights no other test uses: a fresh build
    return keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3, activation="relu"),
                             keras.layers.Flatten(), keras.layers.Dense(2)])


def test_after_prebuild_an_empty_cache_compiles_only_the_firmware(tmp_path, monkeypatch):
    result = run_cli("prebuild")
    assert result.returncode == 0 and "bridge ready" in result.stdout, result.stderr
    prebuilt = list(hostbuild.PREBUILT_DIR.glob("bridge_*.o"))
    assert prebuilt
    monkeypatch.setenv("IKR_HLS_CACHE", str(tmp_path / "cache"))
    hls = ikr_hls.convert(_unique_model(1801), output_dir=tmp_path / "p", precision="ap_fixed<16,6>").compile()
    cache = list((tmp_path / "cache").iterdir())
    assert [p.name for p in cache if p.name.startswith("bridge_")] == []           # linked, not compiled
    assert any(p.suffix == ".so" for p in cache)
    x = np.random.default_rng(0).normal(size=(5, 6, 6, 2))
    np.testing.assert_array_equal(hls.predict(x), hls.emulate(x))


def test_the_bridge_object_is_the_prebuilt_one_only_when_it_matches(tmp_path, monkeypatch):
    """No prebuilt object (or one for other sources): the build cache's, compiled on first use."""
    hls = ikr_hls.convert(_unique_model(1802), output_dir=tmp_path / "p")
    hls.write()
    cxx = hostbuild.find_compiler()
    flags = [f for f in hostbuild.CXXFLAGS if not f.startswith("-D")]
    sources = (hls.output_dir / "bridge.cpp", hls.output_dir / "firmware" / "ikr" / "ikr_host_api.h")
    monkeypatch.setattr(hostbuild, "PREBUILT_DIR", tmp_path / "prebuilt")
    monkeypatch.setenv("IKR_HLS_CACHE", str(tmp_path / "cache"))
    wanted = hostbuild._bridge_object(cxx, flags, *sources)
    assert wanted.parent == tmp_path / "cache"
    (tmp_path / "prebuilt").mkdir()
    (tmp_path / "prebuilt" / "bridge_0123456789abcdef0123.o").write_bytes(b"")   # another digest
    assert hostbuild._bridge_object(cxx, flags, *sources).parent == tmp_path / "cache"
    (tmp_path / "prebuilt" / wanted.name).write_bytes(b"")
    assert hostbuild._bridge_object(cxx, flags, *sources) == tmp_path / "prebuilt" / wanted.name


def test_prebuild_where_the_package_cannot_be_written_is_one_line_and_exit_2(tmp_path, monkeypatch):
    blocker = tmp_path / "site-packages"
    blocker.write_text("a file where the package directory would be")
    monkeypatch.setattr(hostbuild, "PREBUILT_DIR", blocker / "_prebuilt")
    result = run_cli("prebuild")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"prebuild: cannot write into {blocker / '_prebuilt'}" in result.stderr
    assert "compiles it into the build cache" in result.stderr
