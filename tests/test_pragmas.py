"""Pragmas are behaviour: g++ ignores them, so a wrong II, UNROLL factor or partition passes
every numerical test. Here the generated firmware is read (tests/hls_code.py) for every layer
kind, both strategies and several reuse factors, and its pragmas are checked against the
reuse factor and against the multiplier counts that the layer's header comment and the
report state: the three must agree.

The multiplier count the code asks for, per kind:
- conv, unrolled: the products of the pipelined pixel loop, shared over its II cycles:
  ceil(products / II);
- conv, pattern: per processing element, its UNROLL factor times its taps, summed; and each
  PE's factor lets it serve all its kernels within the II;
- dense: the UNROLL factor of the products loop times its one product, and that factor
  covers the nonzero weights within the II;
- scale_shift: its one product per pipelined value.
"""
import math
import re

import numpy as np
import pytest

from ikr_hls.backend import render_project
from ikr_hls.config import make_config
from ikr_hls.frontend import keras_to_graph
from ikr_hls.passes import run_passes
from ikr_hls.report import build_report
from hls_code import (Call, Loop, Statement, bind, evaluate, library, local_constants, parse_functions,
                      products, walk)
from ikr_hls.report import PIPELINE_DEPTH
from zoo import build, build_dag, ikr_prune

MODELS = {
    "lenet_ikr": lambda: ikr_prune(build("lenet5", seed=3), keep=5, library_size=6, seed=3),
    "same_stride2": lambda: build("same_stride2", seed=3, zeros=True),
    "nonsquare_bn": lambda: build("nonsquare_bn", seed=3, zeros=True),
    "avgpool_same": lambda: build("avgpool_same", seed=3),
    "mlp": lambda: build("mlp", seed=3, zeros=True),
    "residual": lambda: build_dag("residual", seed=3, keep=4),
    "depthwise_separable": lambda: build_dag("depthwise_separable", seed=3, keep=4),
    "activations": lambda: build("activations", seed=3),
}
STRATEGIES = ("unrolled", "pattern")
REUSE = (1, 2, 4)
REUSING_KINDS = ("conv2d", "dense")          # the kinds whose II is the reuse factor


@pytest.fixture(scope="module")
def keras_models():
    return {name: make() for name, make in MODELS.items()}


@pytest.fixture(scope="module")
def ikr_library():
    return library()


def _project(model, strategy, reuse):
    config = make_config(precision="ap_fixed<16,6>", strategy=strategy, reuse_factor=reuse)
    graph = run_passes(keras_to_graph(model)[0], config)
    files = render_project(graph, config)
    report = {entry["name"]: entry for entry in build_report(graph, config)["layers"]}
    return graph, files, report


def _header_multipliers(text):
    """The multiplier count a layer header's comment states, or None."""
    comment = "\n".join(line for line in text.splitlines() if line.startswith("//"))
    found = re.findall(r"([\d,]+) multipliers", comment)
    assert len(found) <= 1, f"the header states several multiplier counts: {found}"
    return int(found[0].replace(",", "")) if found else None


def _pipelines(function, functions, env, library_code=False):
    """(II, scope label, in library code) of every PIPELINE pragma the function reaches: its
    own, its loops', and those of the library functions it calls."""
    out = []
    if function.pragma("PIPELINE"):
        out.append((int(function.pragma("PIPELINE").option("II") or 1), function.name, library_code))
    env = local_constants(function.body, env)
    for node in walk(function.body):
        if isinstance(node, Loop) and node.pragma("PIPELINE"):
            out.append((int(node.pragma("PIPELINE").option("II") or 1), node.label, library_code))
        if isinstance(node, Call) and node.name in functions:
            callee, bound = bind(node, functions, env)
            out += _pipelines(callee, functions, bound, library_code=True)
    return out


def _body_products(nodes):
    return sum(products(n.text) for n in nodes if isinstance(n, Statement))


def _code_multipliers(layer, function, ii):
    """The multipliers the layer's code asks for (module docstring), or None for kinds
    without a multiplier of their own."""
    if layer.kind == "conv2d" and layer.attrs["strategy"] == "unrolled":
        pixel = next(n for n in walk(function.body) if isinstance(n, Loop) and n.pragma("PIPELINE"))
        return math.ceil(sum(_body_products(n.body) for n in walk([pixel]) if isinstance(n, Loop)) / ii)
    if layer.kind == "conv2d":
        total = 0
        for pe in (n for n in walk(function.body) if isinstance(n, Loop) and re.search(r"_pe\d+$", n.label or "")):
            factor = int(pe.pragma("UNROLL").option("factor"))
            trips = int(pe.bound)
            assert math.ceil(trips / factor) <= ii, f"{pe.label}: {trips} kernels at {factor} per cycle exceed II={ii}"
            total += factor * _body_products(pe.body)
        return total
    if layer.kind == "dense":
        loop = next(n for n in walk(function.body) if isinstance(n, Loop) and n.label == f"{layer.name}_products")
        factor = int(loop.pragma("UNROLL").option("factor"))
        assert math.ceil(int(loop.bound) / factor) <= ii, f"{loop.label}: factor {factor} does not fit II={ii}"
        return factor * _body_products(loop.body)
    if layer.kind == "scale_shift":
        loop = next(n for n in walk(function.body) if isinstance(n, Loop) and n.pragma("PIPELINE"))
        return math.ceil(_body_products(loop.body) / ii)
    return None


def _cycles(nodes, functions, env):
    """Cycles of one pass through `nodes`: a pipelined loop takes trips x II; a loop around
    pipelined code, trips x its body; a call, its function's cycles."""
    env = local_constants(nodes, env)
    total = 0
    for node in nodes:
        if isinstance(node, Loop):
            trips = evaluate(node.bound, env) - evaluate(node.start, env)
            pipeline = node.pragma("PIPELINE")
            total += trips * (int(pipeline.option("II") or 1) if pipeline else max(1, _cycles(node.body, functions, env)))
        elif isinstance(node, Call) and node.name in functions:
            callee, bound = bind(node, functions, env)
            total += _function_cycles(callee, functions, bound)
    return total


def _function_cycles(function, functions, env):
    pipeline = function.pragma("PIPELINE")
    return int(pipeline.option("II") or 1) if pipeline else _cycles(function.body, functions, env)


# The kinds whose report latency is derived from their loops (docs/report.md); the report's
# figures for global pooling and softmax are rougher estimates.
LATENCY_FROM_LOOPS = ("conv2d", "dense", "pool2d", "pad2d", "add", "scale_shift", "activation")


def _declared_arrays(*texts):
    names = set()
    for text in texts:
        names |= set(re.findall(r"\b(\w+)\s*\[[^\]]*\]\s*(?:[,)=;]|$)", text, re.M))
    return names


@pytest.mark.parametrize("reuse", REUSE)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("model_name", list(MODELS))
def test_pragmas_agree_with_reuse_header_and_report(keras_models, ikr_library, tmp_path,
                                                    model_name, strategy, reuse):
    graph, files, report = _project(keras_models[model_name], strategy, reuse)
    kinds = set()
    for layer in graph.layers:
        kinds.add(layer.kind)
        header = files[f"firmware/layers/{layer.name}.h"]
        weights = files.get(f"firmware/weights/{layer.name}.h", "")
        function = parse_functions(header)[layer.name]
        pipelines = _pipelines(function, ikr_library, {})
        where = f"{model_name}/{layer.name} ({layer.kind}, {strategy}, reuse {reuse})"

        # the layer's own pipeline runs at II = reuse factor for conv and dense, 1 elsewhere;
        # library helpers it calls (a padded copy, pooling, clones) at II = 1
        expected_ii = reuse if layer.kind in REUSING_KINDS else 1
        assert pipelines or layer.kind not in REUSING_KINDS, f"{where}: no pipeline, so no reuse"
        for ii, label, in_library in pipelines:
            assert ii == (1 if in_library else expected_ii), f"{where}: {label} has PIPELINE II={ii}"

        from_code = _code_multipliers(layer, function, expected_ii)
        stated = _header_multipliers(header)
        reported = report[layer.name]["multipliers"]
        if layer.kind in REUSING_KINDS:
            assert from_code == stated == reported, (
                f"{where}: multipliers from the pragmas {from_code}, header {stated}, report {reported}")
        else:
            assert stated is None, f"{where}: the header claims {stated} multipliers"
            assert reported == from_code, f"{where}: report {reported}, code {from_code}"

        if layer.kind in LATENCY_FROM_LOOPS and layer.activation != "softmax":
            cycles = _function_cycles(function, ikr_library, {})
            assert report[layer.name]["latency_estimate_cycles"] == cycles + PIPELINE_DEPTH, (
                f"{where}: report latency {report[layer.name]['latency_estimate_cycles']}, loops "
                f"{cycles} cycles + {PIPELINE_DEPTH}")

        for node in walk(function.body):
            if isinstance(node, Loop) and node.pragma("UNROLL") and node.pragma("UNROLL").option("factor"):
                factor = int(node.pragma("UNROLL").option("factor"))
                assert 1 <= factor <= int(node.bound), f"{where}: {node.label} UNROLL factor {factor}"
        partitioned = [p.option("variable") for n in [function, *walk(function.body)]
                       for p in getattr(n, "pragmas", []) if p.kind in ("ARRAY_PARTITION", "ARRAY_RESHAPE")]
        declared = _declared_arrays(header, weights)
        for name in partitioned:
            assert name in declared, f"{where}: ARRAY_PARTITION of '{name}', which is not an array here"
    assert kinds, model_name
    top = parse_functions(files["firmware/myproject.cpp"])["myproject"]
    assert top.pragma("DATAFLOW"), "the top function is not a DATAFLOW region"


def test_every_kind_is_covered(keras_models):
    """The models above produce every layer kind the IR has (except the free ones)."""
    from ikr_hls.ir import KINDS

    seen = set()
    for model in keras_models.values():
        seen |= {layer.kind for layer in _project(model, "unrolled", 1)[0].layers}
    assert seen == set(KINDS) - {"flatten", "reshape"}, sorted(set(KINDS) - seen)


def test_a_changed_unroll_factor_is_seen(keras_models, ikr_library, tmp_path):
    """The check is not vacuous: halving a pattern PE's UNROLL factor breaks the agreement."""
    graph, files, _ = _project(keras_models["lenet_ikr"], "pattern", 2)
    conv = next(layer for layer in graph.layers if layer.kind == "conv2d")
    header = files[f"firmware/layers/{conv.name}.h"]
    factors = [int(f) for f in re.findall(r"UNROLL factor=(\d+)", header)]
    bumped = re.sub(r"UNROLL factor=(\d+)", lambda m: f"UNROLL factor={int(m[1]) + 1}", header, count=1)
    function = parse_functions(bumped)[conv.name]
    assert _code_multipliers(conv, function, 2) != _header_multipliers(header)
    assert factors and np.all(np.array(factors) >= 1)
