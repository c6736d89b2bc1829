"""The hardware the firmware describes, read from the firmware itself (tests/hls_code.py), by
the rules Vitis HLS follows (UG1399), against what the report and the header comments claim
(ikr_hls/hardware.py and the kinds' cost), for every layer kind, every strategy and reuse
factors 1, 2 and 4 (strategy da, of conv and Dense layers, at reuse factor 1 only):

- the layer's pipelined step has the II the model claims, and runs the claimed number of
  times: latency = steps x II + the pipeline depth allowance;
- ports: every array read or written in the step (its loops unrolled, the ikr helpers it
  calls inlined) gets at most 2 accesses per bank per cycle, 2 x II per step, given its
  partition (pragmas in the layer, and in the top function for the buffers it is passed);
- multipliers: the products of the step, limited by ALLOCATION (operations, or instances of a
  processing-element function), fit the II, and their count is the claimed one (strategy da:
  no product by a weight; its adder graph's adders by width and its bias accumulations are
  the report's);
- registers, RAM and ROM bits, counted from the arrays the layer declares and the tables it
  reads at a data-dependent index;
- the top function is a canonical DATAFLOW region: buffers and calls of INLINE-off functions.
"""
import json
import math
import re

import pytest

from hls_code import (
    Call,
    Expander,
    If,
    Loop,
    Statement,
    Step,
    _locals,
    bank_of_access,
    clean,
    counters,
    evaluate,
    indices_of,
    library,
    local_constants,
    parse_functions,
    partitions_of,
    products,
    sum_terms,
    walk,
)
from ikr_hls.backend import render_project
from ikr_hls.config import make_config
from ikr_hls.frontend import keras_to_graph
from ikr_hls.hardware import GATHER_DEPTH, tree_levels
from ikr_hls.passes import run_passes
from ikr_hls.report import build_report
from zoo import EVERY_KIND

MODELS = EVERY_KIND
STRATEGIES = ("unrolled", "pattern", "pe", "resource")
REUSE = (1, 2, 4)
# (io type, reuse factor): io_parallel at every reuse, io_stream at two
FORMS = [("io_parallel", r) for r in REUSE] + [("io_stream", 1), ("io_stream", 2)]
PRECISION = "ap_fixed<16,6>"


@pytest.fixture(scope="module")
def keras_models():
    return {name: make() for name, make in MODELS.items()}


@pytest.fixture(scope="module")
def ikr_library():
    return library()


def project(model, strategy, reuse, precision=PRECISION, io_type="io_parallel"):
    """(graph, files, {layer: report entry}, report totals); precision None: a quantization-aware
    model's trained types."""
    graph = keras_to_graph(model)[0]
    config = make_config(precision=precision, strategy=strategy, reuse_factor=reuse, io_type=io_type,
                         trained=precision is None and graph.trained)
    graph = run_passes(graph, config)
    files = render_project(graph, config)
    report = build_report(graph, config)
    return graph, files, {entry["name"]: entry for entry in report["layers"]}, report["totals"]


# --- reading the firmware -------------------------------------------------------------------

def type_bits(files) -> dict:
    """{type name: bits} from defines.h's typedefs (ap_fixed<W,..>, ikr::uint_t<W>: W; float: 32)."""
    bits = {"bool": 1, "float": 32, "double": 64, "int": 32}
    for spelled, name in re.findall(r"typedef\s+(.+?)\s+(\w+);", clean(files["firmware/defines.h"])):
        fixed = re.search(r"(?:ap_u?(?:fixed|int)|ikr::uint_t)\s*<\s*(\d+)", spelled)
        counted = re.search(r"Counted<\s*(.+?),\s*\d+\s*>", spelled)
        bits[name] = int(fixed[1]) if fixed else bits.get((counted[1] if counted else spelled).strip(), 32)
    return bits


def top_buffers(files) -> tuple[dict, dict]:
    """The top function: ({buffer: {dim: scheme}}, {layer function: [argument buffers]})."""
    top = parse_functions(files["firmware/myproject.cpp"])["myproject"]
    partitions = partitions_of(top.pragmas)
    calls = {}
    for node in top.body:
        text = node.text if isinstance(node, Statement) else ""
        match = re.match(r"(\w+)\((.*)\)$", text.strip(), re.S)
        if match:
            calls[match[1]] = [a.strip() for a in match[2].split(",")]
    return partitions, calls


def pipelined(function):
    """(the pipelined scope, the loops around and including it): a loop with PIPELINE, or the
    function itself when its PIPELINE is at function level."""
    if function.pragma("PIPELINE"):
        return function, []

    def search(nodes, path):
        for node in nodes:
            if isinstance(node, Loop):
                if node.pragma("PIPELINE"):
                    return node, path + [node]
                found = search(node.body, path + [node])
                if found:
                    return found
            elif isinstance(node, If):
                found = search(node.body, path)
                if found:
                    return found
        return None

    return search(function.body, [])


def declared_arrays(function) -> dict:
    """{name: (type, dims)} of the arrays the function declares (any scope), and its io_stream
    elements: an `ikr::array<T, W> name;` it fills is W values of T (const ones are values)."""
    out = {}
    aggregated = aggregated_elements(function)
    for node in walk(function.body):
        if isinstance(node, Statement):
            match = re.match(r"\s*(?:const\s+)?(\w+)\s+(\w+)((?:\[[^\]]+\])+)\s*(?:=|$)", node.text)
            if match:
                out[match[2]] = (match[1], [int(d) for d in re.findall(r"\[(\d+)\]", match[3])])
            element = re.fullmatch(r"\s*ikr::array<\s*(\w+)\s*,\s*(\d+)\s*>\s+(\w+)\s*", node.text)
            if element:
                assert element[3] in aggregated, f"{function.name}: element {element[3]} is not AGGREGATEd"
                out[element[3]] = (element[1], [int(element[2])])
    return out


def aggregated_elements(function) -> set:
    """The variables an AGGREGATE pragma makes one wide register (io_stream elements)."""
    return {p.option("variable") for n in [function, *walk(function.body)]
            for p in getattr(n, "pragmas", []) if p.kind == "AGGREGATE"}


def check_gather(function, functions, name, steps, where):
    """An io_stream vector layer: a loop of `steps` at II 1 reading one element a step into
    completely partitioned registers, then one call of <name>_compute (INLINE off) on arrays of
    registers (no array inside the AGGREGATEd element), and an unrolled loop that packs the
    result into the element; the compute function is returned."""
    loops = [n for n in function.body if isinstance(n, Loop)]
    assert [loop.label for loop in loops] == [f"{name}_gather", f"{name}_pack"], \
        f"{where}: loops {[l.label for l in loops]}"
    assert loops[1].pragma("UNROLL"), f"{where}: the pack loop is not unrolled"
    gather = loops[0]
    assert gather.pragma("PIPELINE") and int(gather.pragma("PIPELINE").option("II") or 1) == 1, where
    assert evaluate(gather.bound, {}) // evaluate(gather.step, {}) == steps, f"{where}: the gather takes {steps}?"
    reads = Expander(functions, {}, {gather.var: 1}).run(gather.body).streams
    assert reads == {("in", "read"): 1}, f"{where}: the gather's step does {reads}"
    calls = [n for n in walk(function.body) if isinstance(n, Statement)
             and re.fullmatch(rf"\s*{name}_compute\(x, y\)\s*", n.text)]
    assert len(calls) == 1, f"{where}: {len(calls)} calls of {name}_compute"
    compute = functions[f"{name}_compute"]
    assert compute.pragma("INLINE") and "off" in compute.pragma("INLINE").text, where
    return compute


def step_variables(function, path) -> dict:
    """Variables that change from step to step: the loops' and the counters (`x += K`)."""
    out = {loop.var: evaluate(loop.step, {}) for loop in path}
    for node in walk(function.body):
        if isinstance(node, (Statement, If)):
            text = node.text if isinstance(node, Statement) else ""
            for name, inc in re.findall(r"(\w+)\s*\+=\s*(\d+)\s*$", text):
                out[name] = int(inc)
            if isinstance(node, If):
                for inner in node.body:
                    if isinstance(inner, Statement):
                        for name, inc in re.findall(r"(\w+)\s*\+=\s*(\d+)\s*$", inner.text):
                            out[name] = int(inc)
    for node in walk(function.body):           # phase counters: their values do not index arrays
        if isinstance(node, Statement):
            for name in re.findall(r"int\s+(\w+_phase)\s*=", node.text):
                out.setdefault(name, 1)
    return out


def layer_partitions(function, top_partitions, top_calls, name) -> dict:
    """{array: {dim: scheme}}: the layer's own pragmas, and the top's for the buffers it is passed."""
    partitions = partitions_of([p for n in [function, *walk(function.body)] for p in getattr(n, "pragmas", [])])
    for param, buffer in zip(function.param_names(), top_calls.get(name, []), strict=False):
        partitions[param] = top_partitions.get(buffer, {})
    return partitions


def check_ports(step, partitions, params, arrays, tables, ii, where):
    """Every bank of every array the step touches gets at most 2 accesses a cycle (dual port)."""
    per_bank: dict = {}
    for access in step.accesses:
        if access.array not in partitions and access.array not in arrays and access.array not in tables \
                and access.array not in params:
            continue                                           # not an array of this layer (a helper's local)
        bank = bank_of_access(access, partitions.get(access.array, {}))
        key = (access.array, bank)
        per_bank.setdefault(key, set()).add(access)
    for (array, bank), accesses in per_bank.items():
        if bank is None:                                       # may fall in any bank: count against all
            others = sum(len(a) for (name, b), a in per_bank.items() if name == array and b is not None)
            total = len(accesses) + (others and max(len(a) for (n, b), a in per_bank.items() if n == array))
        else:
            total = len(accesses) + len(per_bank.get((array, None), ()))
        if partitions.get(array, {}).get(0) == "complete" or all(
                partitions.get(array, {}).get(d) == "complete" for d in range(1, len(next(iter(accesses)).index) + 1)):
            continue                                           # registers: any number of accesses
        assert total <= 2 * ii, (f"{where}: {array} bank {bank}: {total} accesses a step need "
                                 f"{math.ceil(total / 2)} cycles of a dual-port memory, II is {ii}")


# inputs of check_layer that passed: the same header, weights, report entry, buffer partitions and
# types recur across strategies and reuse factors (pooling, activations, dense at equal reuse),
# and the check is a function of them alone
_PASSED: set = set()


def check_layer(layer, files, report, functions, library_functions, top_partitions, top_calls, where):
    header = files[f"firmware/layers/{layer.name}.h"]
    weights = files.get(f"firmware/weights/{layer.name}.h", "")
    inputs = json.dumps([header, weights, report[layer.name], type_bits(files),
                         [repr(top_partitions.get(b, {})) for b in top_calls.get(layer.name, [])]],
                        sort_keys=True, default=repr)
    if inputs in _PASSED:
        return
    _check_layer(layer, header, weights, files, report, library_functions, top_partitions, top_calls, where)
    _PASSED.add(inputs)


def _check_layer(layer, header, weights, files, report, library_functions, top_partitions, top_calls, where):
    all_functions = {**library_functions, **parse_functions(header)}
    function = all_functions[layer.name]
    entry = report[layer.name]
    bits = type_bits(files)
    wrapper = None
    if entry["gather_steps"]:                 # io_stream vector layer: gather, then <name>_compute
        wrapper, function = function, check_gather(function, all_functions, layer.name, entry["gather_steps"], where)
    scope, path = pipelined(function)
    pipeline = scope.pragma("PIPELINE")
    ii = int(pipeline.option("II") or 1)

    # II and steps
    assert ii == entry["ii"], f"{where}: PIPELINE II={ii}, the report says {entry['ii']}"
    steps = math.prod(evaluate(loop.bound, {}) // evaluate(loop.step, {}) for loop in path) if path else 1
    assert steps == entry["iterations"], f"{where}: {steps} steps, the report says {entry['iterations']}"
    gathering = entry["gather_steps"] + GATHER_DEPTH if wrapper else 0
    assert entry["pipeline_depth"] == sum(op["cycles"] for op in entry["chain"]), where
    assert entry["latency_estimate_cycles"] == gathering + steps * ii + entry["pipeline_depth"], where
    claim = re.search(r"II (\d+)\D.*?latency (\d+) cycles, (\d+) multipliers", " ".join(
        line for line in header.splitlines() if line.startswith("//")))
    assert claim, f"{where}: the header no longer states its II, latency and multipliers"
    assert (int(claim[1]), int(claim[2]), int(claim[3])) == \
        (ii, entry["latency_estimate_cycles"], entry["multipliers"] or 0), where
    comments = " ".join(line for line in header.splitlines() if line.startswith("//"))
    for figure, key in (("register", "registers_bits"), ("RAM", "ram_bits"), ("ROM", "rom_bits")):
        stated = re.search(rf"(\d+) {figure} bits", comments)
        if stated:                            # the report's figure is checked against the code below
            assert int(stated[1]) == entry[key], f"{where}: the header says {stated[1]} {figure} bits"

    params = function.param_names()
    partitions = layer_partitions(function, top_partitions, top_calls, layer.name)
    arrays = declared_arrays(function)
    if wrapper:                                # the compute function works on the wrapper's registers
        arrays.update(declared_arrays(wrapper))
        partitions.update(partitions_of([p for n in [wrapper, *walk(wrapper.body)] for p in getattr(n, "pragmas", [])]))
        partitions.update({"in": partitions["x"], "out": partitions["y"]})   # the wrapper's registers x, y
    for element in aggregated_elements(function) | (aggregated_elements(wrapper) if wrapper else set()):
        partitions[element] = {0: "complete"}                                # one wide register
    tables = set(re.findall(r"static const \w+ (\w+)\[", weights))

    # banks known when the code is compiled: an index into a partitioned dimension is made of
    # constants and loop variables only, never of a counter the function keeps as it runs
    # (Vitis could not tell which bank such an access hits, and assumes any)
    check_banks_known(function, partitions, where)
    if wrapper:
        check_banks_known(wrapper, partitions, where)

    # a perfect loop nest down to the pipelined loop, which Vitis flattens (UG1399, loop
    # flattening): otherwise every outer iteration pays the pipeline's fill and drain
    for outer, inner in zip(path, path[1:], strict=False):
        assert outer.body == [inner], f"{where}: loop {outer.label} holds more than loop {inner.label}"

    # a DEPENDENCE distance is the number of pipelined iterations before the same address is
    # accessed again: the trip count of the one loop its address follows, times the loops inside
    for pragma in (p for n in [function, *walk(function.body)] for p in getattr(n, "pragmas", [])):
        if pragma.kind == "DEPENDENCE" and pragma.option("distance"):
            variable, followed = pragma.option("variable"), []
            for k, loop in enumerate(path):
                fixed = {other.var: 0 for other in path if other is not loop}
                probe = Expander(all_functions, dict(local_constants(function.body, {}), **fixed), {loop.var: 1})
                if any(a.array == variable and None in a.index for a in probe.run(scope.body, (0, 1)).accesses):
                    followed.append(k)
            assert len(followed) == 1, f"{where}: the address of {variable} follows loops {followed}"
            distance = math.prod(evaluate(loop.bound, {}) for loop in path[followed[0]:])
            assert int(pragma.option("distance")) == distance, (
                f"{where}: DEPENDENCE distance {pragma.option('distance')} on {variable}, the address repeats "
                f"every {distance} iterations")

    # the step, unrolled: once per cycle of a pixel when the pipelined loop is a pixel's cycles
    # (its variable decides which branches run), and once with every branch for the operators
    body = scope.body
    # a completely partitioned constant table read at a constant index is a constant (wiring)
    env = dict(local_constants(function.body, {}), **constant_tables(weights, partitions))
    variables = step_variables(function, path)
    cycle = scope.var if isinstance(scope, Loop) and any(
        re.search(rf"\b{scope.var}\b", n.condition) for n in walk(body) if isinstance(n, If)) else None
    if cycle:
        variables.pop(cycle)
        steps_by_cycle = [Expander(all_functions, dict(env, **{cycle: r}), variables).run(body)
                          for r in range(evaluate(scope.bound, env))]
    control = _locals(function.body) | set(variables) | ({cycle} if cycle else set())
    step = Expander(all_functions, env, variables, control).run(body)
    for port_step in (steps_by_cycle if cycle else [step]):
        check_ports(port_step, partitions, params, arrays, tables, ii, where)
        for (stream, operation), count in port_step.streams.items():     # a FIFO: one of each a cycle
            assert count <= ii, f"{where}: {count} {operation}s of stream {stream} a step at II {ii}"

    check_chain(entry, step, steps_by_cycle if cycle else [step], all_functions, tables, where)
    # one counter per loop of more than one trip in the nest, per counter the function keeps, and
    # for the io_stream gather loop
    counters = sum(evaluate(loop.bound, {}) // evaluate(loop.step, {}) > 1 for loop in path) \
        + len(variables) + bool(cycle) - len(path) + bool(wrapper)
    check_operators(entry, step, all_functions, counters, where)

    # multipliers
    pragmas = [p for n in [function, *walk(function.body)] for p in getattr(n, "pragmas", [])]
    limit = next((int(p.option("limit")) for p in pragmas
                  if p.kind == "ALLOCATION" and "operation" in p.text and "mul" in p.text), None)
    multipliers = 0
    if step.products:
        if limit is None:
            multipliers += step.products
        else:
            assert math.ceil(step.products / limit) <= ii, f"{where}: {step.products} products on {limit} multipliers"
            assert limit == math.ceil(step.products / ii), f"{where}: ALLOCATION {limit} for {step.products} products"
            multipliers += limit
    for pe, calls in step.calls.items():
        limit_pe = next((int(p.option("limit")) for p in pragmas
                         if p.kind == "ALLOCATION" and "function" in p.text and p.option("instances") == pe),
                        calls)                                 # no ALLOCATION: an instance per call
        assert math.ceil(calls / limit_pe) <= ii, f"{where}: {calls} calls of {pe} on {limit_pe} instances"
        assert limit_pe == math.ceil(calls / ii), f"{where}: {limit_pe} instances of {pe} for {calls} calls"
        pe_function = all_functions[pe]
        assert pe_function.pragma("INLINE") and "off" in pe_function.pragma("INLINE").text
        multipliers += limit_pe * sum(products(n.text) for n in walk(pe_function.body) if isinstance(n, Statement))
    assert (entry["multipliers"] or 0) == multipliers, (
        f"{where}: {multipliers} multipliers in the code, the report says {entry['multipliers']}")

    check_products(layer, entry, step, function, weights, files, all_functions, limit, where)
    if entry["strategy"] == "da":
        check_da_adders(header, entry, bits[f"{layer.name}_accum_t"], where)

    # operand choices: an ALLOCATION-shared multiplier picks both operands among the products it
    # serves; a PE instance's input written `r == 0 ? a : b ...` is a choice among its values
    choices: dict = {}
    if step.products and limit is not None and math.ceil(step.products / limit) > 1:
        for operand in ("data", "weight"):
            key = (f"shared multiplier {operand}", math.ceil(step.products / limit))
            choices[key] = choices.get(key, 0) + limit
    for call in re.finditer(r"= (\w+_pe\d*)\((.*)\);", header):
        pe_params = all_functions[call[1]].param_names()
        inputs = [arg for arg, param in zip(_split_args(call[2]), pe_params, strict=True) if param.startswith("x")]
        for arg in inputs:
            if "?" in arg:
                key = ("PE inputs", arg.count("?") + 1)
                choices[key] = choices.get(key, 0) + 1
    # a resource lane's value written `r == 0 ? a : b ...` is a choice among its window registers
    for lane in re.finditer(r"const \w+ x\d+ = (\(r == .*);", header):
        key = ("lane inputs", lane[1].count("?") + 1)
        choices[key] = choices.get(key, 0) + 1
    # inside a PE function, a value written `pattern == 0 ? a : b ...` is a choice, in each instance
    for pe, calls in step.calls.items():
        for node in walk(all_functions[pe].body):
            if isinstance(node, Statement) and "?" in node.text:
                key = ("PE pattern", node.text.count("?") + 1)
                choices[key] = choices.get(key, 0) + calls
    # a read of registers at an index the step computes at run time (from a ROM) would be a
    # choice the model does not count: every choice must be written out (`r == 0 ? a : b`).
    # Every read site, unrolled (one step, its variables at 0, so that only the indices read
    # from memories stay unknown)
    sites = Step()
    Expander(all_functions, env, variables)._nodes(body, dict(env, **dict.fromkeys(variables, 0)), {}, sites)
    for array, index, write in sites.accesses:        # (array, index, write) while expanding
        scheme = partitions.get(array, {})
        registers_read = array in arrays and not write and (
            scheme.get(0) == "complete" or all(scheme.get(d) == "complete" for d in range(1, len(index) + 1)))
        assert not (registers_read and None in index), (
            f"{where}: {array} read at a run-time index {index}: a multiplexer the model does not count")
    claimed_choices: dict = {}
    for m in entry["muxes"]:
        claimed_choices[(m["what"], m["ways"])] = claimed_choices.get((m["what"], m["ways"]), 0) + m["count"]
    assert choices == claimed_choices, (
        f"{where}: operand choices {choices} in the code, the report says {claimed_choices}")

    # registers (completely partitioned local arrays), RAM (partly partitioned ones), ROM; the
    # memories' shapes: banks from the partition pragmas, each of the remaining depth
    registers = ram = 0
    memories: dict = {}
    for name, (type_name, dims) in arrays.items():
        scheme = partitions.get(name, {})
        size = math.prod(dims) * bits[type_name]
        if scheme.get(0) == "complete" or all(scheme.get(d) == "complete" for d in range(1, len(dims) + 1)):
            registers += size
        else:
            ram += size
            add_memory(memories, "RAM", dims, scheme, bits[type_name])
    assert (registers, ram) == (entry["registers_bits"], entry["ram_bits"]), (
        f"{where}: registers {registers}, RAM {ram} in the code; the report says "
        f"{entry['registers_bits']}, {entry['ram_bits']}")
    rom = 0
    read_arrays = {a.array for a in step.accesses}
    for table in tables:                       # a table with a dimension left as memory is a ROM
        if table not in read_arrays:
            continue
        declaration = re.search(rf"static const (\w+) {table}((?:\[\d+\])+)", weights)
        dims = [int(d) for d in re.findall(r"\[(\d+)\]", declaration[2])]
        scheme = partitions.get(table, {})
        if not (scheme.get(0) == "complete" or all(scheme.get(d) == "complete" for d in range(1, len(dims) + 1))):
            rom += math.prod(dims) * bits[declaration[1]]
            add_memory(memories, "ROM", dims, scheme, bits[declaration[1]])
    assert rom == entry["rom_bits"], f"{where}: ROM {rom} bits in the code, the report says {entry['rom_bits']}"
    claimed: dict = {}
    for m in entry["memories"]:
        key = (m["kind"], m["depth"], m["width"])
        claimed[key] = claimed.get(key, 0) + m["count"]
    assert memories == claimed, (
        f"{where}: memories (kind, depth, width): count {memories} in the code, the report says {claimed}")


def type_of(files) -> dict:
    """{type name: its parsed type} from defines.h's typedefs of fixed-point types."""
    from ikr_hls.precision import parse_type

    out = {}
    for spelled, name in re.findall(r"typedef\s+(ap_u?fixed<[^;]*?>)\s+(\w+);", clean(files["firmware/defines.h"])):
        out[name] = parse_type(spelled)
    return out


def literal_tables(weights: str) -> dict:
    """{table: (its type name, [values])} of a weights header: the tables written out, and the
    ones written through their <NAME>_VALUES macro."""
    out = {}
    macros = {m[1]: m[2] for m in re.finditer(r"#define (\w+)_VALUES \\\n((?:.*\\\n)*.*)", weights)}
    for m in re.finditer(r"static const (\w+) (\w+)\[\d+\] = \{([^{}]*)\};", weights):
        text = m[3].strip()
        if text.endswith("_VALUES"):
            text = macros.get(text[:-len("_VALUES")], "").replace("\\", "")
        try:
            out[m[2]] = (m[1], [float(v) for v in text.replace(",", " ").split()])
        except ValueError:
            continue
    return out


def check_products(layer, entry, step, function, weights, files, functions, limit, where) -> None:
    """Where the products go and what they multiply by. The code binds them where the report
    says: every BIND_OP of the layer's code has the report's binding, and every product of a layer
    with products, its own and those of the ikr helpers it calls (an activation's, a softmax's:
    ikr_bind.h's mul), is assigned to a variable that a BIND_OP of its function names with that
    binding (UG1399: BIND_OP's variable is the one assigned the operation's result); and the
    report's constant products are the code's: at R = 1
    (no ALLOCATION, no shared processing element) each product whose operand is a constant table
    read at a constant index, counted by the canonical signed digits of that constant's code
    in its type (hardware.csd_digits), matches the report's histogram."""
    from ikr_hls.hardware import csd_digits
    from ikr_hls.precision import to_codes

    pes = [f for name, f in functions.items() if re.fullmatch(rf"{layer.name}_pe\d*", name)]
    pragmas = [p for f in [function, *pes] for n in [f, *walk(f.body)] for p in getattr(n, "pragmas", [])
               if p.kind == "BIND_OP"]
    binds = {p.option("variable"): p.option("impl") for p in pragmas}
    assert set(binds.values()) <= {entry["binding"]}, f"{where}: BIND_OP {binds}, the report binds {entry['binding']}"
    # (variable a product is assigned to, the ikr helper it is in or None: the layer's own code)
    targets = {(t, helper) for _, t, _, _, helper in step.product_reads} | {
        (t, None) for pe in pes for node in walk(pe.body) if isinstance(node, Statement) and products(node.text)
        for t in re.findall(r"^\s*(?:\w+\s+)?(\w+)\s*[+]?=", node.text)}
    own = {t for t, helper in targets if helper is None}
    if entry["strategy"] == "da":             # distributed arithmetic: no product by a weight at all
        assert not own and not pes, f"{where}: strategy da multiplies into {own}"
    if entry["multipliers"]:
        assert targets, f"{where}: the report counts {entry['multipliers']} multipliers, the code has no product"
        for target, helper in sorted(targets, key=str):
            bound = binds if helper is None else {
                p.option("variable"): p.option("impl") for n in [functions[helper], *walk(functions[helper].body)]
                for p in getattr(n, "pragmas", []) if p.kind == "BIND_OP"}
            assert target is not None and bound.get(target) == entry["binding"], (
                f"{where}: a product{' in ikr::' + helper if helper else ''} assigned to {target}, BIND_OP on "
                f"{bound}; the report binds {entry['binding']}")
    tables, types = literal_tables(weights), type_of(files)
    counted: dict = {}
    if limit is None and not step.calls:
        for count, _, accesses, consts, _ in step.product_reads:
            reads = [(a, i) for a, i, w in accesses if not w and a in tables] + list(consts)
            constant = [(a, i) for a, i in reads if a in tables and all(isinstance(v, int) for v in i)]
            if not constant:
                continue
            assert count == 1 and len(constant) == 1, f"{where}: a statement of {count} products by {constant}"
            table, index = constant[0]
            type_name, values = tables[table]
            digits = int(csd_digits(to_codes(values[index[-1]], types[type_name])))
            counted[digits] = counted.get(digits, 0) + 1
    claimed = {d: n for d, n in entry["constants"]}
    assert counted == claimed, f"{where}: products by constants (digits: count) {counted} in the code, the report " \
                               f"says {claimed}"


def check_da_adders(header, entry, acc_bits, where) -> None:
    """Strategy da: the adder graph's statements (`const ap_fixed<W, I> t = a +|- b;`) by width,
    and the bias accumulations (`acc += ...`, `acc[j] -= ...`) at the accumulator's width,
    against the report's operators (check_products: no product by a weight)."""
    code = clean(header)
    graph: dict = {}
    for width in re.findall(r"const ap_u?fixed<(\d+), -?\d+> t\d+ = [^;]*[^<]\s[+-]\s", code):
        graph[int(width)] = graph.get(int(width), 0) + 1
    claimed = {op["width"]: op["count"] for op in entry["operators"] if op["what"] == "adder graph"}
    assert graph == claimed and graph, f"{where}: adders by width {graph} in the code, the report says {claimed}"
    accumulations = len(re.findall(r"\bacc(?:\[\d+\])? [+-]= ", code))
    bias = [op for op in entry["operators"] if op["what"] == "bias accumulation"]
    assert [(op["width"], op["count"]) for op in bias] == ([(acc_bits, accumulations)] if accumulations else []), \
        f"{where}: {accumulations} bias accumulations in the code, the report says {bias}"


# comparisons each priced operator makes (ikr_hls/hardware.py, Operator)
COMPARISONS = {"compare": 1, "max": 1, "relu": 1, "clip": 2}


def code_operators(step, functions) -> dict:
    """The step's datapath additions and comparisons and its control comparisons, with those of
    the INLINE-off processing elements it calls (each call an instance)."""
    counted = {"add": step.adds, "compare": step.compares, "control": step.control}
    for pe, calls in step.calls.items():
        body = functions[pe].body
        inner = Expander(functions, {}, {}, _locals(body)).run(body)
        counted["add"] += calls * inner.adds
        counted["compare"] += calls * inner.compares
        counted["control"] += calls * inner.control
    return counted


def claimed_operators(entry) -> dict:
    claimed = {"add": 0, "compare": 0, "control": 0, "counter": 0}
    for op in entry["operators"]:
        if op["part"] == "datapath" and op["op"] == "add":
            claimed["add"] += op["count"]
        elif op["part"] == "datapath" and op["op"] in COMPARISONS:
            claimed["compare"] += op["count"] * COMPARISONS[op["op"]]
        elif op["part"] == "control" and op["op"] == "counter":
            claimed["counter"] += op["count"]
        elif op["part"] == "control":
            claimed["control"] += op["count"]
    return claimed


def check_operators(entry, step, functions, counters, where) -> None:
    """The report's operators against the step's code: its datapath additions (an accumulation's
    `+=`, a sum's `+`, a softmax's differences) and comparisons (ReLU, max, clamps), its control
    comparisons (conditions on the loop variables, cycle decodes), and one counter per loop
    variable or counter of the pipelined step (and the io_stream gather loop's)."""
    counted = dict(code_operators(step, functions), counter=counters)
    claimed = claimed_operators(entry)
    assert counted == claimed, f"{where}: operators in the code {counted}, the report says {claimed}"


def check_chain(entry, step, cycle_steps, functions, tables, where) -> None:
    """The operator chain the report gives a step (its pipeline depth) against the step's code:
    a multiply exactly when the step (or a PE it calls) multiplies; at least the adder-tree
    levels of its longest sums (the step's, in one cycle of a pixel, after a PE's own); a table
    read exactly when it
    reads a ROM at an index that changes from step to step."""
    ops: dict = {}
    for op in entry["chain"]:
        ops[op["op"]] = ops.get(op["op"], 0) + op["levels"]
    pe_products = any(products(n.text) for pe in step.calls for n in walk(functions[pe].body)
                      if isinstance(n, Statement))
    assert ("multiply" in ops) == bool(step.products or pe_products), f"{where}: chain {entry['chain']}"
    pe_terms = max((sum_terms(functions[pe].body) for pe in step.calls), default=1)
    longest = max((terms for s in cycle_steps for terms in s.sums.values()), default=1)   # in one cycle
    needed = tree_levels(longest) + tree_levels(pe_terms)
    assert ops.get("add", 0) >= needed, f"{where}: the code sums over {needed} adder levels, the chain has {ops}"
    rom_reads = any(a.array in tables and None in a.index for a in step.accesses)
    assert ("table" in ops) == rom_reads, f"{where}: ROM read at run time: {rom_reads}, the chain: {ops}"


def check_banks_known(function, partitions: dict, where: str) -> None:
    """Every access of the function to a partitioned dimension of an array indexes it with
    constants and loop variables: a running counter there fails, naming the array and the index."""
    running = counters(function)
    for node in walk(function.body):
        texts = [node.text] if isinstance(node, Statement) else [node.condition] if isinstance(node, If) else []
        for text in texts:
            for array, indices in indices_of(text):
                scheme = partitions.get(array, {})
                for dim, index in enumerate(indices, 1):
                    partitioned = scheme.get(0) or scheme.get(dim)
                    used = running & set(re.findall(r"[A-Za-z_]\w*", index))
                    assert not (partitioned and used), (
                        f"{where}: {array}[{index}] indexes a partitioned dimension ({partitioned}) with the running "
                        f"counter(s) {sorted(used)}: its bank is not known when the code is compiled")


def constant_tables(weights: str, partitions: dict) -> dict:
    """{table: values} of the integer tables of a weights header that are completely partitioned
    (written out, or through their <NAME>_VALUES macro)."""
    texts = dict(re.findall(r"static const \w+ (\w+)\[\d+\] = \{([^{}]*)\};", weights))
    macros = dict(re.findall(r"#define (\w+)_VALUES \\\n((?:.*\\\n)*.*)", weights))
    out = {}
    for name, text in texts.items():
        scheme = partitions.get(name, {})
        values = macros.get(name.upper(), "").replace("\\", "") if text.strip().endswith("_VALUES") else text
        if (scheme.get(0) == "complete" or scheme.get(1) == "complete") and re.fullmatch(r"[\s\d,-]*", values):
            out[name] = [int(v) for v in values.replace(",", " ").split()]
    return out


def _split_args(text: str) -> list:
    """A call's arguments, split at the commas outside brackets."""
    out, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "([") - (ch in ")]")
        if ch == "," and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += ch
    return out + [current.strip()] if current.strip() else out


def add_memory(memories: dict, kind: str, dims: list, scheme: dict, width: int) -> None:
    """Count the banks of an array that stays memory: a complete partition of a dimension makes
    one bank per index, a cyclic one `factor` banks; each bank holds the rest."""
    banks = 1
    for d, how in scheme.items():
        banks *= dims[d - 1] if how == "complete" else how[1]
    key = (kind, math.prod(dims) // banks, width)
    memories[key] = memories.get(key, 0) + banks


def check_top(files) -> tuple[dict, dict]:
    """A canonical DATAFLOW region: only buffer (or stream) declarations and calls; every callee
    INLINE off. Returns the streams {name: (element type, width, depth)} and the io_parallel
    buffers {name: (type, size, ping-pong slots)}, after checking those slots against the calls."""
    top = parse_functions(files["firmware/myproject.cpp"])["myproject"]
    assert top.pragma("DATAFLOW"), "the top function is not a DATAFLOW region"
    headers = "\n".join(text for path, text in files.items() if path.startswith("firmware/layers/"))
    functions = {**parse_functions(headers), **library()}
    fifos: dict = {}
    arrays: dict = {}
    calls: list = []                                           # [(callee, [argument names])] in order
    for node in top.body:
        if isinstance(node, Call):                             # an ikr library template (a clone)
            callee = functions[node.name]
            assert callee.pragma("INLINE") and "off" in callee.pragma("INLINE").text, f"{node.name} is not INLINE off"
            calls.append((node.name, [a.strip() for a in node.args]))
            continue
        assert isinstance(node, Statement), f"not a declaration or call: {node}"
        text = node.text.strip()
        declared = re.fullmatch(r"\w+ \w+\[\d+\]", text)
        streamed = re.fullmatch(r"hls::stream<ikr::array<(\w+), (\d+)>, (\d+)> (\w+)\(\s*\)", text)
        if streamed:                                           # a FIFO: hls::stream<T, DEPTH>
            assert not any(p.kind == "STREAM" and p.option("variable") == streamed[4] for p in top.pragmas), \
                f"stream {streamed[4]}: a STREAM pragma besides the depth of its type"
            fifos[streamed[4]] = (streamed[1], int(streamed[2]), int(streamed[3]))
            continue
        called = re.fullmatch(r"(?:ikr::)?(\w+)(?:<[^>]*>)?\((.*)\)", text, re.S)
        assert declared or called, f"the DATAFLOW region holds '{text}'"
        if declared:
            kind, name, size = re.fullmatch(r"(\w+) (\w+)\[(\d+)\]", text).groups()
            slots = next((p.option("depth") for p in top.pragmas if p.kind == "STREAM"
                          and p.option("variable") == name and p.option("type") == "pipo"), 2)
            arrays[name] = (kind, int(size), int(slots))
        if called:
            callee = functions[called[1]]
            inline = callee.pragma("INLINE")
            assert inline is not None and "off" in inline.text, f"{called[1]} is not INLINE off"
            calls.append((called[1], re.findall(r"\w+", called[2])))
    check_pingpong_slots(arrays, calls)
    return fifos, arrays


def check_pingpong_slots(arrays: dict, calls: list) -> None:
    """An io_parallel buffer holds a frame for each process on the longest path from its writer
    to its reader, plus the one being written (two, a plain ping-pong, between neighbours): a
    buffer that skips processes with fewer slots would stall the frames behind it. The calls
    are in order, so a buffer's writer is the first call that names it, its readers the later."""
    writer: dict = {}
    edges: dict = {}                                           # call index -> [(reader index, buffer)]
    for index, (_, names) in enumerate(calls):
        for name in (n for n in names if n in arrays):
            if name in writer:
                edges.setdefault(writer[name], []).append((index, name))
            else:
                writer[name] = index
    longest = [[0] * len(calls) for _ in calls]               # channels on the longest path i -> j
    for i in reversed(range(len(calls))):
        for j, _ in edges.get(i, []):
            longest[i][j] = max(longest[i][j], 1)
            for k in range(len(calls)):
                if longest[j][k]:
                    longest[i][k] = max(longest[i][k], longest[j][k] + 1)
    for i, readers in edges.items():
        for j, name in readers:
            need = max(2, longest[i][j] + 1)
            assert arrays[name][2] == need, (f"{name} has {arrays[name][2]} ping-pong slots; the longest path from "
                                             f"{calls[i][0]} to {calls[j][0]} needs {need}")


@pytest.mark.parametrize("io_type, reuse", FORMS, ids=[f"{io}-{r}" for io, r in FORMS])
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("model_name", list(MODELS))
def test_the_code_has_the_hardware_the_report_claims(keras_models, ikr_library, model_name, strategy, io_type, reuse):
    check_project(keras_models[model_name], model_name, strategy, reuse, ikr_library, io_type=io_type)


def check_project(model, model_name, strategy, reuse, ikr_library, precision=PRECISION, io_type="io_parallel"):
    graph, files, report, totals = project(model, strategy, reuse, precision, io_type)
    top_partitions, top_calls = top_buffers(files)
    for layer in graph.layers:
        check_layer(layer, files, report, None, ikr_library, top_partitions, top_calls,
                    f"{model_name}/{layer.name} ({layer.kind}, {strategy}, reuse {reuse}, {io_type})")
    fifos, arrays = check_top(files)
    bits = type_bits(files)
    if io_type == "io_stream":                 # the report's FIFO bits: depth x element, from the code
        assert totals["buffer_ram_bits"] == sum(depth * width * bits[t] for t, width, depth in fifos.values())
        assert totals["buffer_registers_bits"] == 0
    else:                                      # the report's buffer bits: slots x size, from the code
        assert not fifos
        assert totals["buffer_ram_bits"] + totals["buffer_registers_bits"] == \
            sum(slots * size * bits[t] for t, size, slots in arrays.values())


DA_MODELS = ("lenet_ikr", "mlp", "depthwise_separable", "activations")


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
@pytest.mark.parametrize("model_name", DA_MODELS)
def test_da_code_has_the_hardware_the_report_claims(keras_models, ikr_library, model_name, io_type):
    """Strategy da (reuse factor 1 only): the same checks, and the adder graph's adders by width."""
    pytest.importorskip("da4ml")
    check_project(keras_models[model_name], model_name, "da", 1, ikr_library, io_type=io_type)


def products_outside_the_zoo():
    """An Add with a leaky ReLU fused into it, and activation layers of their own with products (a
    leaky ReLU, a hard silu): kinds whose products the zoo's models do not have."""
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(1)
    inp = keras.Input((4, 4, 3))
    merged = L.Add(name="add")([L.Conv2D(3, 3, padding="same", name="a")(inp), L.Conv2D(3, 1, name="b")(inp)])
    x = L.LeakyReLU(negative_slope=0.1, name="leak")(L.MaxPooling2D(2, name="pool")(L.LeakyReLU(0.2)(merged)))
    return keras.Model(inp, L.Activation("hard_silu", name="hs")(L.GlobalAveragePooling2D(keepdims=True)(x)))


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_the_products_of_an_add_and_of_activation_layers_are_bound(ikr_library, io_type):
    model = products_outside_the_zoo()
    graph = project(model, "unrolled", 1)[0]
    with_products = {layer.kind for layer in graph.layers if layer.plan_cost.multipliers}
    assert {"add", "activation"} <= with_products, with_products
    for strategy, reuse in (("unrolled", 1), ("unrolled", 2)):
        check_project(model, "products_outside_the_zoo", strategy, reuse, ikr_library, io_type=io_type)


def test_every_kind_is_covered(keras_models):
    from ikr_hls.kinds import HARDWARE

    seen = set()
    for model in keras_models.values():
        seen |= {layer.kind for layer in project(model, "unrolled", 1)[0].layers}
    # quantize steps come from HGQ2 models only: test_hgq.py's test_the_hardware_model_matches_the_generated_code
    assert seen == set(HARDWARE) - {"quantize"}, sorted(set(HARDWARE) - seen)


def _expectations():
    """bench/synthesis_expectations.py, the writer of docs/vitis.md's LeNet-5 tables."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "synthesis_expectations.py"
    spec = importlib.util.spec_from_file_location("synthesis_expectations", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_synthesis_expectations_in_the_docs_are_the_models():
    """docs/vitis.md's LeNet-5 tables are what bench/synthesis_expectations.py computes now."""
    module = _expectations()
    assert module.in_doc(module.DOC.read_text()) == module.tables().strip("\n"), (
        "docs/vitis.md is out of date: run python bench/synthesis_expectations.py --write")


def test_the_documented_lenet_settings_are_checked_against_their_code(ikr_library):
    """The figures docs/vitis.md prints for the shipped LeNet-5, read back from its code."""
    from ikr_hls.modelfile import load_keras_model

    module = _expectations()
    model = load_keras_model(module.MODEL)
    for precision, strategy, reuse in module.SETTINGS:
        check_project(model, module.MODEL.name, strategy, reuse, ikr_library, precision)
