"""Writing projects (atomic, no silent overwrite), .h5 vs .keras, and the build cache."""
import json
from pathlib import Path

import numpy as np
import pytest

import ikr_hls
from ikr_hls import hostbuild
from ikr_hls.backend import MANIFEST
from ikr_hls.buildspec import BuildSpec
from zoo import build


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    model = build("same_stride2", seed=3, zeros=True)
    folder = tmp_path_factory.mktemp("saved")
    model.save(folder / "m.h5")
    model.save(folder / "m.keras")
    return model, folder


@pytest.mark.cpp
def test_h5_and_keras_files_convert_to_the_same_project(saved_model, tmp_path):
    model, folder = saved_model
    a = ikr_hls.convert(folder / "m.h5", output_dir=tmp_path / "a")
    b = ikr_hls.convert(folder / "m.keras", output_dir=tmp_path / "b")
    # files that name their source differ in that name only
    strip = lambda files: {k: v for k, v in files.items() if str(folder) not in v}  # noqa: E731
    assert strip(a.files) == strip(b.files)
    x = np.random.default_rng(0).normal(size=(8, 16, 16, 3)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    for hls in (a, b):
        np.testing.assert_allclose(hls.compile().predict(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.cpp
def test_unchanged_project_loads_from_the_cache(saved_model, tmp_path, monkeypatch):
    model, _ = saved_model
    first = ikr_hls.convert(model, output_dir=tmp_path / "one").compile()
    hostbuild._LOADED.clear()                        # as in a new Python process

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled again although the sources did not change")

    monkeypatch.setattr(hostbuild, "_compile", no_compile)
    second = ikr_hls.convert(model, output_dir=tmp_path / "two").compile()
    x = np.ones((2, 16, 16, 3), np.float32)
    np.testing.assert_array_equal(first.predict(x), second.predict(x))


def test_changed_weights_build_a_new_module(tmp_path):
    a = ikr_hls.convert(build("mlp", seed=1), output_dir=tmp_path / "a")
    b = ikr_hls.convert(build("mlp", seed=2), output_dir=tmp_path / "b")
    a.write(), b.write()
    spec = BuildSpec.of_project(tmp_path / "a")
    hash_a = hostbuild.content_hash(tmp_path / "a", spec, hostbuild.CXXFLAGS, "g++")
    hash_b = hostbuild.content_hash(tmp_path / "b", spec, hostbuild.CXXFLAGS, "g++")
    assert hash_a != hash_b


def test_existing_directory_is_not_overwritten_without_force(tmp_path):
    out = tmp_path / "prj"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ikr_hls.IKRHLSError, match="not empty"):
        ikr_hls.convert(build("mlp"), output_dir=out).write()
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_force_replaces_only_our_files(tmp_path):
    out = tmp_path / "prj"
    ikr_hls.convert(build("lenet5"), output_dir=out).write()
    (out / "notes.txt").write_text("mine")
    ikr_hls.convert(build("mlp"), output_dir=out, force=True).write()
    written = set(json.loads((out / MANIFEST).read_text()))
    assert "firmware/layers/conv1.h" not in written
    assert not (out / "firmware/layers/conv1.h").exists()   # stale file of the old project removed
    assert (out / "notes.txt").read_text() == "mine"         # a file we did not write is kept
    assert (out / "firmware/myproject.cpp").is_file()


def test_failed_conversion_leaves_nothing(tmp_path):
    out = tmp_path / "prj"
    with pytest.raises(ikr_hls.IKRHLSError):
        ikr_hls.convert(tmp_path / "missing.h5", output_dir=out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_compiler_is_one_clear_error(tmp_path, monkeypatch):
    hls = ikr_hls.convert(build("mlp", seed=5), output_dir=tmp_path / "p")
    monkeypatch.setenv("CXX", "no-such-compiler-xyz")
    with pytest.raises(ikr_hls.IKRHLSError, match="no C\\+\\+ compiler: 'no-such-compiler-xyz'"):
        hls.compile()


def test_the_project_readme_names_every_top_level_file(tmp_path):
    hls = ikr_hls.convert(build("mlp", seed=0), output_dir=tmp_path / "p")
    hls.write()
    readme = (tmp_path / "p" / "README.md").read_text()
    for path in (tmp_path / "p").iterdir():
        if path.is_file() and path.name != "README.md" and not path.name.startswith("."):
            assert f"`{path.name}`" in readme, f"the project README does not list {path.name}"


def test_the_public_helpers_are_documented():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text() + "".join(p.read_text() for p in (root / "docs").glob("*.md"))
    for name in ("ikr_hls.datasets", "mnist_split", "config_from_keras_model", "IKRPruning", "count_ops"):
        assert name in text, f"{name} appears nowhere in README.md or docs/"


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_a_project_follows_the_umask(tmp_path, umask):
    """Issue 30 item 3: directories and files as the umask makes them, so that teammates on a
    shared disk open the project (the staging directory was 0700)."""
    import os
    import stat

    old = os.umask(umask)
    try:
        out = ikr_hls.convert(build("mlp"), output_dir=tmp_path / "shared" / "prj").write()
        ikr_hls.convert(build("mlp"), output_dir=out, force=True).write()      # again, over it
    finally:
        os.umask(old)
    for path in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        assert mode == expected, f"{path.relative_to(tmp_path)}: {oct(mode)}, expected {oct(expected)}"
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o777 & ~umask


def test_force_keeps_a_copy_of_a_file_edited_since_it_was_written(tmp_path):
    """Issue 30 item 6: the manifest knows what ikr-hls wrote; --force warns, naming each file
    changed since, and keeps the edited one as <file>.orig."""
    from cli_helpers import run_cli

    model = Path(__file__).resolve().parent.parent / "examples" / "models" / "lenet5_ikr.h5"
    out = tmp_path / "prj"
    assert run_cli("convert", model, "-o", out, "-q").returncode == 0
    top = out / "firmware" / "myproject.cpp"
    generated = top.read_text()
    top.write_text(generated + "// my note\n")
    proc = run_cli("convert", model, "-o", out, "--force", "-q")
    assert proc.returncode == 0, proc.stderr
    assert f"ikr-hls: {out}: 1 file(s) changed since ikr-hls wrote them; --force replaces them, the edited " \
        "versions are kept: firmware/myproject.cpp (copy: firmware/myproject.cpp.orig)" in proc.stderr
    assert top.read_text() == generated and (out / "firmware" / "myproject.cpp.orig").read_text().endswith("note\n")
    # unchanged files are replaced without a word, and an earlier copy is never overwritten
    top.write_text(generated + "// a second note\n")
    proc = run_cli("convert", model, "-o", out, "--force", "-q", "--precision", "ap_fixed<16,6>")
    assert "firmware/myproject.cpp (copy: firmware/myproject.cpp.orig.1)" in proc.stderr
    assert "defines.h" not in proc.stderr and (out / "firmware" / "myproject.cpp.orig").read_text().endswith("note\n")
    assert sorted(p.name for p in (out / "firmware").glob("*.orig*")) == ["myproject.cpp.orig", "myproject.cpp.orig.1"]
