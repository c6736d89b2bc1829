"""ikr_hls.synthcheck: each rule fires on its construct (right rule, right line) and stays quiet
on look-alikes, on host-only branches, on the shipped HLS library and on rendered projects."""
from pathlib import Path

import pytest

from ikr_hls.synthcheck import Finding, scan_project, scan_sources

REPO = Path(__file__).resolve().parent.parent


def scan(code):
    """Findings of one snippet as (line, rule) pairs."""
    return [(f.line, f.rule) for f in scan_sources({"a.h": code})]


@pytest.mark.parametrize("code, line, rule", [
    ("int x;\nint *p = new int[4];\n", 2, "dynamic allocation"),
    ("void f(int *p) {\n  delete[] p;\n}\n", 2, "dynamic allocation"),
    ("float *p = (float *)malloc(4);\n", 1, "dynamic allocation"),
    ("\n\nvoid g(void *p) { free (p); }\n", 3, "dynamic allocation"),
    ("std::vector<int> v;\n", 1, "std container"),
    ("\nstd :: unordered_map<int, int> m;\n", 2, "std container"),
    ("std::unique_ptr<int> p;\n", 1, "std container"),
    ("#include <cmath>\n#include <iostream>\n", 2, "host-only header"),
    ("#  include < vector >\n", 1, "host-only header"),
    ("void f() {\n  int i = 0;\n  while (i < 4) i++;\n}\n", 3, "unbounded loop"),
    ("void f() {\n  for (;;) {}\n}\n", 2, "unbounded loop"),
    ("void f() {\n  for (int i = 0; ; i++) {}\n}\n", 2, "unbounded loop"),
    ("void f() { throw 1; }\n", 1, "exceptions"),
    ("void f() {\n  try { g(); } catch (...) {}\n}\n", 2, "exceptions"),
    ("void f() {\n  printf(\"%d\", 1);\n}\n", 2, "system call"),
    ("void f() { if (bad) exit(1); }\n", 1, "system call"),
    ("void f() {\n  abort();\n}\n", 2, "system call"),
    ("void f() {\n\n  std::cerr << 1;\n}\n", 3, "system call"),
    ("FILE *f = fopen(name, mode);\n", 1, "system call"),
])
def test_each_rule_is_flagged_at_its_line(code, line, rule):
    assert (line, rule) in scan(code)


def test_do_while_is_one_unbounded_loop_at_do():
    code = "void f() {\n  do {\n    x++;\n  } while (x < 3);\n}\n"
    assert scan(code) == [(2, "unbounded loop")]


def test_direct_recursion():
    code = ("int fact(int n) {\n"
            "  if (n <= 1) return 1;\n"
            "  return n * fact(n - 1);\n"
            "}\n")
    assert scan(code) == [(3, "recursion")]


def test_recursion_through_template_arguments():
    code = "template <int N> int sum(int x) {\n  return N == 0 ? x : sum<N - 1>(x);\n}\n"
    assert scan(code) == [(2, "recursion")]


def test_mutual_recursion_across_files_flags_both_calls():
    files = {"a.h": "int odd(int n);\nint even(int n) {\n  return n == 0 ? 1 : odd(n - 1);\n}\n",
             "b.h": "int odd(int n) {\n  return n == 0 ? 0 : even(n - 1);\n}\n"}
    assert [(f.path, f.line, f.rule) for f in scan_sources(files)] == [
        ("a.h", 3, "recursion"), ("b.h", 2, "recursion")]


def test_calling_a_namesake_in_another_namespace_is_not_recursion():
    code = "namespace ikr {\ntemplate <typename T> T tanh(T x) { return std::tanh(x); }\n}\n"
    assert scan(code) == []


def test_chain_without_cycle_is_not_recursion():
    code = "int a(int x) { return x; }\nint b(int x) { return a(x); }\nint c(int x) { return b(a(x)); }\n"
    assert scan(code) == []


def test_finding_prints_as_path_line_rule_text():
    finding = scan_sources({"firmware/x.h": "\n  int *p = new int;  // oops\n"})[0]
    assert finding == Finding("firmware/x.h", 2, "dynamic allocation", "int *p = new int;  // oops")
    assert str(finding) == "firmware/x.h:2: dynamic allocation: int *p = new int;  // oops"


@pytest.mark.parametrize("code", [
    "int renewal = 1;\nint new_size = 2;\nint deleted = 3;\nint freed = 4;\n",
    "// a new buffer, then delete it; while (1) malloc(x)\nint x;\n",
    "/* new\n   std::vector<int> v;\n   throw 1; */\nint y;\n",
    "const char *s = \"new delete while printf(x) std::vector\";\nchar c = '\"'; int z;\n",
    "const char *r = R\"x(while (1) { new int; })x\";\n",
    "int n = 1'000'000; char q = 'w';\n",
    "void f(int a[8]) {\n  for (int i = 0; i < 8; i++) a[i] = 0;\n}\n",
    "struct S {\n  S(const S &) = delete;\n};\n",
    "void f(Pool &pool, int *p) { pool.free(p); obj->exit(0); }\n",
    "int width = sizeof(struct_to_string);\nint throwaway = 0; int trying = 1;\n",
])
def test_look_alikes_are_not_flagged(code):
    assert scan(code) == []


@pytest.mark.parametrize("code", [
    "#ifndef __SYNTHESIS__\nstd::vector<int> v;\n#endif\n",
    "#ifdef IKR_TRACE\n#include <vector>\n#endif\n",
    "#if defined(IKR_TRACE)\nprintf(\"x\");\n#endif\n",
    "#if !defined(__SYNTHESIS__)\nstd::cout << 1;\n#endif\n",
    "#ifdef IKR_COUNT_OPS\nint *c = new int;\n#else\nint c;\n#endif\n",
    "#ifdef __SYNTHESIS__\nint a[4];\n#else\nstd::vector<int> a(4);\n#endif\n",
    "#ifndef IKR_TRACE\nint t;\n#else\nstd::string t;\n#endif\n",
    "#if !defined(__SYNTHESIS__) && defined(IKR_HOST_WINDOWS)\n#include <vector>\n#endif\n",
    "#if defined(FOO) && defined(IKR_HOST_TAPS) || defined(IKR_TRACE)\nthrow 1;\n#endif\n",
    "#ifdef IKR_TRACE  // tracing\n#ifdef FOO\n#else\nstd::map<int, int> m;\n#endif\n"
    "#ifndef __SYNTHESIS__\n#endif\nthrow 1;\n#endif  // IKR_TRACE\n",
])
def test_host_only_branches_are_not_flagged(code):
    assert scan(code) == []


def test_nested_conditionals_keep_the_synthesised_branches():
    code = ("#ifndef GUARD_H_\n"                    # 1  unknown: kept
            "#ifdef __SYNTHESIS__\n"                # 2
            "#ifdef IKR_TRACE\n"                    # 3
            "int *a = new int;\n"                   # 4  dropped
            "#else\n"                               # 5
            "int *b = new int;\n"                   # 6  kept: Vitis compiles this
            "#endif\n"                              # 7
            "#else\n"                               # 8
            "int *c = new int;\n"                   # 9  dropped: host only
            "#endif\n"                              # 10
            "#if FOO\n"                             # 11 unknown: every branch kept
            "#elif defined(BAR)\n"                  # 12
            "int *d = new int;\n"                   # 13
            "#else\n"                               # 14
            "int *e = new int;\n"                   # 15
            "#endif\n"                              # 16
            "#endif\n")                             # 17
    assert scan(code) == [(6, "dynamic allocation"), (13, "dynamic allocation"), (15, "dynamic allocation")]


def test_a_conjunction_or_disjunction_with_an_unknown_term_keeps_its_branch():
    code = ("#if defined(FOO) && !defined(__SYNTHESIS__)\nthrow 1;\n#endif\n"   # False: dropped
            "#if defined(FOO) && defined(__SYNTHESIS__)\nthrow 2;\n#endif\n"    # unknown: kept
            "#if defined(FOO) || defined(__SYNTHESIS__)\nthrow 3;\n#endif\n")   # True: kept
    assert scan(code) == [(5, "exceptions"), (8, "exceptions")]


def test_synthesis_branch_taken_drops_later_elif_and_else():
    code = "#if defined(__SYNTHESIS__)\nint a;\n#elif X\nthrow 1;\n#else\nthrow 2;\n#endif\nthrow 3;\n"
    assert scan(code) == [(8, "exceptions")]


def test_shipped_hls_library_is_clean():
    headers = {p.name: p.read_text() for p in sorted((REPO / "cpp").glob("*.h"))}
    assert headers, "no headers found in cpp/"
    assert [str(f) for f in scan_sources(headers)] == []


def test_scan_project_reads_firmware_only(tmp_path):
    (tmp_path / "firmware" / "layers").mkdir(parents=True)
    (tmp_path / "firmware" / "tb").mkdir()
    (tmp_path / "firmware" / "layers" / "l.h").write_text("int x;\nint *p = new int;\n")
    (tmp_path / "firmware" / "top.cpp").write_text("void top() { while (1) {} }\n")
    (tmp_path / "firmware" / "tb" / "tb.cpp").write_text("std::vector<int> v;\n")
    (tmp_path / "firmware" / "bridge.cpp").write_text("std::string s;\n")
    (tmp_path / "bridge.cpp").write_text("std::string s;\n")
    assert [str(f) for f in scan_project(tmp_path)] == [
        "firmware/layers/l.h:2: dynamic allocation: int *p = new int;",
        "firmware/top.cpp:1: unbounded loop: void top() { while (1) {} }"]


@pytest.mark.parametrize("strategy", ["unrolled", "pattern"])
def test_rendered_project_is_clean(tmp_path, strategy):
    from ikr_hls.hls_model import convert  # imports TensorFlow: only this test pays for it
    hls = convert(str(REPO / "examples" / "models" / "lenet5_ikr.h5"), output_dir=tmp_path / "p",
                  precision="ap_fixed<16,6>", strategy=strategy)
    firmware = {p: t for p, t in hls.files.items() if p.startswith("firmware/")}
    assert any(p.startswith("firmware/layers/") for p in firmware)
    assert [str(f) for f in scan_sources(firmware)] == []
