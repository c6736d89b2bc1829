"""The package's structure: every layer kind is complete and found through the registry, the
import graph of ikr_hls has no cycle, config.py is a leaf, and the version is written once."""
import ast
import re
from pathlib import Path

import pytest

import ikr_hls
from ikr_hls import kinds
from ikr_hls.kinds.base import FreeKind, LayerKind
from ikr_hls.resources import templates_dir

PACKAGE = Path(ikr_hls.__file__).resolve().parent


def test_the_registry_finds_every_kind_module():
    """Every module of ikr_hls/kinds/ that defines KIND or FREE_KINDS is registered (nothing
    else lists them), and every registered kind comes from one."""
    import importlib
    import pkgutil

    declared = []
    for info in pkgutil.iter_modules(kinds.__path__):
        module = importlib.import_module(f"ikr_hls.kinds.{info.name}")
        declared += ([module.KIND] if hasattr(module, "KIND") else []) + list(getattr(module, "FREE_KINDS", ()))
    assert {k.name for k in declared} == set(kinds.HARDWARE) | set(kinds.FREE)
    assert all(isinstance(k, LayerKind) for k in kinds.HARDWARE.values())
    assert all(isinstance(k, FreeKind) for k in kinds.FREE.values())


# Kinds that no Keras class makes by itself: another layer's handler makes them.
MADE_BY_OTHER_HANDLERS = {"quantize": "an HGQ2 layer's input and output quantizers (ikr_hls/hgq/layers.py)"}


@pytest.mark.parametrize("name", sorted(kinds.HARDWARE))
def test_every_kind_has_every_part(name):
    """Each hardware kind: Keras classes with handlers, precision roles (result among them),
    a template that exists, and callables for view, reference, cost, default accumulator,
    weights, report and values."""
    kind = kinds.HARDWARE[name]
    assert kind.name == name
    if name in MADE_BY_OTHER_HANDLERS:        # no Keras class of its own: Keras's tensor comes from keras_tensor
        assert not kind.keras and callable(kind.keras_tensor)
    else:
        assert kind.keras and all(callable(h) for h in kind.keras.values())
    assert "result" in kind.roles
    for part in ("template", "view", "reference", "cost", "default_accum", "weights", "report", "values"):
        assert callable(getattr(kind, part)), f"{name}: {part}"
    assert kind.templates, f"{name}: no template"
    for template in kind.templates:
        assert (templates_dir() / "firmware" / "layers" / f"{template}.h.j2").is_file(), template
    parallel = {t for t in kind.templates if not t.endswith("_stream")}
    assert set(kind.templates) == parallel | {f"{t}_stream" for t in parallel}, \
        f"{name}: each template in both io forms, X (io_parallel) and X_stream (io_stream)"
    assert kind.multi_input <= set(kind.keras)
    assert set(kind.samples) == set(kind.keras), f"{name}: a sample layer of each Keras class (option coverage)"


# A Jinja statement that tests the io form ({% if io == "io_stream" %}, {% if stream %}, ...)
IO_BRANCH = re.compile(r"{%-?\s*(?:if|elif)\b[^%]*(?:\bio\b|io_stream|io_parallel|\bstream\b)[^%]*-?%}")


def test_layer_templates_do_not_branch_on_the_io_form():
    """Each io form has its own layer template (X.h.j2, X_stream.h.j2, as hls4ml's nnet_X.h and
    nnet_X_stream.h) and its own macros in the shared files (window.j2's read_pixel and
    read_pixel_stream): none of them tests the io form; nor do the top function's (top.h.j2's
    one-line declaration may)."""
    folder = templates_dir() / "firmware"
    paths = sorted((folder / "layers").glob("*.j2")) + [folder / "top.cpp.j2", folder / "top_stream.cpp.j2"]
    offenders = [f"{path.name}: {m.group(0)}" for path in paths for m in IO_BRANCH.finditer(path.read_text())]
    assert not offenders, offenders
    assert IO_BRANCH.search('{% if io == "io_stream" %}') and IO_BRANCH.search("{%- elif stream -%}")


def test_keras_classes_belong_to_one_kind_each():
    owners: dict = {}
    for kind in (*kinds.HARDWARE.values(), *kinds.FREE.values()):
        for cls in kind.keras:
            assert cls not in owners, f"{cls} is claimed by {owners[cls]} and {kind.name}"
            owners[cls] = kind.name
    assert set(owners) == set(kinds.KERAS_HANDLERS)


def test_no_module_outside_kinds_branches_on_a_kind_name():
    """backend, emulate, report, passes, config and the rest dispatch through the registry:
    no comparison with a kind's name outside kinds/ (passes name the kinds a rule is about)."""
    kind_names = "|".join(sorted(kinds.HARDWARE))
    branch = re.compile(rf"""\.kind\s*(?:==|!=|in)\s*(?:\(|\[)?\s*["'](?:{kind_names})["']""")
    allowed = {"passes.py"}                      # fold_batchnorm/merge_zero_padding: rules about one kind
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("kinds", "rtl", "pruning") or rel.name in allowed:   # pruning: Keras layers
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if branch.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def _imports(path: Path, module: str) -> set:
    """Modules of ikr_hls that `module` imports (at any level, functions included)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "ikr_hls":
                continue
            for alias in node.names:              # `from . import x` may import a module x
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _module_path(candidate) else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "ikr_hls"}
    return {m for m in found if _module_path(m)}


def _module_path(module: str):
    parts = module.split(".")[1:]
    if not parts:
        return PACKAGE / "__init__.py"
    rel = Path(*parts)
    for candidate in (PACKAGE / rel.with_suffix(".py"), PACKAGE / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _graph() -> dict:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        module = ".".join(["ikr_hls", *parts])
        graph[module] = _imports(path, module) - {module}
    return graph


def test_no_import_cycles():
    graph = _graph()
    state: dict = {}
    stack: list = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_config_is_a_leaf():
    """config parses and validates; it imports nothing of ikr_hls but errors, precision and
    hls4ml_config (hls4ml's spellings), which imports nothing of ikr_hls."""
    assert _graph()["ikr_hls.config"] <= {"ikr_hls.errors", "ikr_hls.precision", "ikr_hls.hls4ml_config"}
    assert not _graph()["ikr_hls.hls4ml_config"]


def test_the_version_is_written_once():
    root = PACKAGE.parent
    written = [p for p in [root / "setup.py", root / "pyproject.toml", *PACKAGE.rglob("*.py")]
               if re.search(r"""^\s*(?:__version__|version)\s*=\s*["']\d+\.\d+""", p.read_text(), re.M)]
    assert [p.name for p in written] == ["_version.py"], written
    assert re.fullmatch(r"\d+\.\d+\.\d+", ikr_hls.__version__)


def test_config_roles_are_the_kinds_roles():
    """config.PRECISION_ROLES (the keys a config's Precision may name) are exactly the roles the
    kinds and the activations declare."""
    from ikr_hls import activations
    from ikr_hls.config import PRECISION_ROLES

    declared = {role for kind in kinds.HARDWARE.values() for role in kind.roles} | set(activations.ALL_ROLES)
    assert set(PRECISION_ROLES) == declared
