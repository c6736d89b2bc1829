"""The host integer model of ap_fixed (cpp/ikr_host_fixed.h) against the ap_types headers and
the numpy reference, operation by operation: assignment from double in every quantisation and
overflow mode, exact products and sums assigned to narrow accumulators, comparisons, and the
bits that table indexing reads."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ikr_hls.hostbuild import ap_types_dir
from ikr_hls.precision import parse_fixed, quantize, requantize, to_codes

pytestmark = pytest.mark.cpp                  # every test here builds C++

CPP = Path(__file__).resolve().parent.parent / "cpp"
Q_MODES = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV")
O_MODES = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")
TYPES = ([f"ap_fixed<7,3,{q},AP_WRAP>" for q in Q_MODES] + [f"ap_fixed<7,3,AP_RND,{o}>" for o in O_MODES]
         + [f"ap_ufixed<6,2,{q},AP_SAT>" for q in Q_MODES] + [f"ap_ufixed<6,2,AP_TRN,{o}>" for o in O_MODES]
         + ["ap_fixed<16,6>", "ap_fixed<18,8,AP_RND,AP_SAT>", "ap_ufixed<8,0>", "ap_fixed<32,10,AP_RND_CONV,AP_SAT>"])
RNG = np.random.default_rng(11)
# ties at several bit positions, values near the limits, far beyond them, and random ones
VALUES = np.unique(np.concatenate([
    np.arange(-40, 40) / 16.0, np.arange(-20, 20) / 32.0 + 1 / 64, [7.9375, 8.0, -8.0, -8.03125, 3.99, 4.0, -4.0],
    [1e3, -1e3, 123456.789, -98765.4321, 1e-9, -1e-9, 0.0], RNG.normal(0, 6, 60)]))
PRODUCTS = [(float(a), float(b)) for a, b in RNG.normal(0, 3, (40, 2))]
ACC, FACTOR = "ap_fixed<10,4,AP_RND,AP_SAT>", "ap_fixed<8,3>"


def _program(types) -> str:
    lines = ["#include <cstdio>", '#include "ikr_fixed.h"',
             "template <class T> void show(const T &x) { std::printf(\"%.17g\\n\", double(x)); }", "int main() {",
             f"  static const double values[] = {{ {', '.join(repr(float(v)) for v in VALUES)} }};",
             f"  const int n = {len(VALUES)};"]
    for t in types:
        lines.append(f"  for (int i = 0; i < n; i++) show({t}(values[i]));")
    # narrow accumulation: acc += a * b rounds and saturates at every step
    lines.append(f"  {ACC} acc = 0;")
    for a, b in PRODUCTS:
        lines.append(f"  acc += {FACTOR}({a!r}) * {FACTOR}({b!r}); show(acc);")
    # exact sums and differences, comparisons, and the bits floor_index reads
    lines += [f"  {FACTOR} x({PRODUCTS[0][0]!r}), y({PRODUCTS[1][1]!r});",
              "  show(ap_fixed<24,12>(x + y)); show(ap_fixed<24,12>(x - y)); show(ap_fixed<24,12>(-x));",
              "  std::printf(\"%d %d %d %d\\n\", int(x < y), int(x > 0), int(x == x), int(y >= 1));",
              "  ap_ufixed<12,4> u(5.8125);",
              "  std::printf(\"%d %d\\n\", ikr::floor_index<3, 100>(u), ikr::floor_index<10, 4000>(u));",
              "  return 0;", "}"]
    return "\n".join(lines) + "\n"


def _run(tmp_path, name, flags):
    source = tmp_path / f"{name}.cpp"
    source.write_text(_program(TYPES))
    exe = tmp_path / name
    subprocess.run(["g++", "-std=c++14", "-O1", *flags, "-I", str(CPP), str(source), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostfx")
    ap_dir = ap_types_dir()
    if (ap_dir is None or shutil.which("g++") is None) and os.environ.get("CI") != "true":
        pytest.skip("needs g++ and the ap_types headers")          # in CI: a failure, never a skip
    return _run(tmp, "int_model", ["-DIKR_HOST_INT"]), _run(tmp, "ap_types", ["-isystem", str(ap_dir)])


def test_integer_model_equals_the_ap_types_headers(outputs):
    int_model, ap_types = outputs
    assert len(int_model) == len(ap_types) > len(TYPES) * len(VALUES)
    differ = [(i, a, b) for i, (a, b) in enumerate(zip(int_model, ap_types, strict=True)) if a != b]
    assert differ == []


def test_integer_model_equals_the_numpy_reference(outputs):
    int_model, _ = outputs
    n = len(VALUES)
    for k, text in enumerate(TYPES):
        got = np.array([float(v) for v in int_model[k * n:(k + 1) * n]])
        np.testing.assert_array_equal(got, quantize(VALUES, parse_fixed(text)), err_msg=text)
    # the narrow accumulator, one product at a time, as emulate.py computes it
    acc_t, f_t = parse_fixed(ACC), parse_fixed(FACTOR)
    acc = np.int64(0)
    expected = []
    for a, b in PRODUCTS:
        product = to_codes(np.array([a]), f_t)[0] * to_codes(np.array([b]), f_t)[0]     # 2F fractional bits
        total = (acc << f_t.fractional * 2 - acc_t.fractional) + product
        acc = requantize(np.array([total]), f_t.fractional * 2, acc_t)[0]
        expected.append(acc * acc_t.lsb)
    start = len(TYPES) * n
    np.testing.assert_array_equal([float(v) for v in int_model[start:start + len(PRODUCTS)]], expected)
