"""The host reads a conv's or pool's window from a zero-padded copy of its input (HostWindow in
cpp/ikr_window.h), in fixed point runs an unrolled conv's taps in a function per filter
(IKR_HOST_TAPS, defines.h), and runs the written-out cycles of the resource lanes and the
pattern PEs' instances as loops over tables (IKR_HOST_CYCLES): the Python host model's build
only (hls_model.HOST_FORMS). Vitis synthesizes line buffers, shifting registers, the
written-out taps, lanes and instances, and every other build compiles them. Built on the host
without the host forms, the synthesized form runs too: both must give the same outputs, bit for
bit, on every geometry (padding, strides, non-square, pooling, depthwise, the PEs' and the
lanes' cycles, a table activation), and equal the numpy reference."""
import shutil

import numpy as np
import pytest

import ikr_hls
from builds import run_two_at_a_time
from zoo import build, build_dag, ikr_prune

pytestmark = pytest.mark.cpp                  # every test here builds C++

# (model, strategy, reuse): every geometry of the zoo, every strategy, pattern PEs over R cycles,
# resource lanes over R cycles (conv, depthwise and Dense; lanes shorter than R) and at R = 1
CASES = [("same_stride2", "unrolled", 1), ("nonsquare_bn", "pattern", 2), ("avgpool_same", "pattern", 1),
         ("residual", "unrolled", 2), ("depthwise_separable", "pattern", 3), ("same_stride2", "pe", 2),
         ("activations", "unrolled", 2), ("same_stride2", "resource", 5), ("depthwise_separable", "resource", 2),
         ("activations", "resource", 1)]


def _model(name):
    if name in ("residual", "depthwise_separable"):
        return build_dag(name, seed=4, keep=4)
    return ikr_prune(build(name, seed=4), keep=4, library_size=3, seed=4)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """{case: (hls, host-window module, synthesized-window module)}, compiled two at a time."""
    out = {}
    for name, strategy, reuse in CASES:
        hls = ikr_hls.convert(_model(name), output_dir=tmp_path_factory.mktemp(name), precision="ap_fixed<16,6>",
                              strategy=strategy, reuse_factor=reuse)
        hls.write()
        out[(name, strategy, reuse)] = [hls, None, None]
    jobs = []
    for entry in out.values():
        def host(e=entry):
            e[1] = e[0]._build()
        def synthesized(e=entry):
            e[2] = e[0]._build(host_forms=False)
        jobs += [host, synthesized]
    run_two_at_a_time(jobs)
    return out


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_host_window_equals_the_synthesized_window(built, case):
    hls, host, synthesized = built[case]
    x = np.random.default_rng(5).normal(0, 1.5, (12, *hls.input_shape))
    hls._module = synthesized
    from_registers = hls.predict(x)
    hls._module = host
    from_copy = hls.predict(x)
    np.testing.assert_array_equal(from_copy, from_registers)
    np.testing.assert_array_equal(from_copy, hls.emulate(x))


def test_the_two_builds_differ_in_their_window_and_tap_code(built):
    """The flags reach the firmware: the synthesized build is not the host build again."""
    hls, host, synthesized = built[CASES[0]]
    assert host.__name__ != synthesized.__name__                 # two builds (flags are in the cache key)
    text = " ".join(p.read_text() for p in (hls.output_dir / "firmware" / "layers").glob("*.h"))
    assert "IKR_HOST_WINDOWS" in text and "#ifdef IKR_HOST_TAPS" in text


@pytest.mark.parametrize("case", [c for c in CASES if c[1] in ("pattern", "resource") and c[2] > 1],
                         ids=lambda c: "-".join(map(str, c)))
def test_the_cycles_have_a_host_form(built, case):
    """The R-cycle forms a case compares have their host form (else the test compares nothing)."""
    hls = built[case][0]
    text = " ".join(p.read_text() for p in (hls.output_dir / "firmware" / "layers").glob("*.h"))
    assert "#ifdef IKR_HOST_CYCLES" in text


@pytest.mark.parametrize("case", [("same_stride2", "resource", 5), ("depthwise_separable", "pattern", 3)],
                         ids=lambda c: "-".join(map(str, c)))
def test_csim_compiles_the_written_out_cycles(built, tmp_path, case):
    """`ikr-hls csim` (as Vitis csim) compiles the written-out lanes and instances: with an #error
    planted in every host-only branch of the cycles, the testbench still builds and passes."""
    from ikr_hls.hostbuild import run_csim

    path = tmp_path / "prj"
    shutil.copytree(built[case][0].output_dir, path, ignore=shutil.ignore_patterns("build"))
    planted = 0
    for header in (path / "firmware" / "layers").glob("*.h"):
        text = header.read_text()
        planted += text.count("#ifdef IKR_HOST_CYCLES")
        header.write_text(text.replace("#ifdef IKR_HOST_CYCLES", "#ifdef IKR_HOST_CYCLES\n#error host-only form"))
    assert planted >= 1
    result = run_csim(path)
    assert result.passed, result.output
