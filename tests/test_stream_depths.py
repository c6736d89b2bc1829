"""io_stream FIFO depths (ikr_hls/stream_depths.py): where a forked stream merges again, each copy
is as deep as the other branches' lag needs. For the zoo's forked models at reuse 1 and 2: the
network finishes with the computed depths and stops with one element less on any grown copy
(the depth is tight); the depths in the generated top are the module's and the report's; and
a second simulator, token by token from what the plan states of each layer, agrees."""
import math
import re
import time

import keras
import numpy as np
import pytest

import ikr_hls
from ikr_hls.errors import IKRHLSError
from ikr_hls.hardware import CLONE_DEPTH, MIN_LATENCY_BOUND
from ikr_hls.report import build_report, format_report
from ikr_hls.stream_depths import BRANCH_LAG, DEFAULT, STREAM_DEPTH, WHOLE, StreamModel
from ikr_hls.wiring import Wiring
from zoo import EVERY_KIND

FIXED = "ap_fixed<16,6>"
FORMS = [("unrolled", 1), ("unrolled", 2), ("pattern", 2)]


@pytest.fixture(scope="module")
def forked(tmp_path_factory):
    """{(model, strategy, reuse): HLSModel} of the zoo models that fork a stream."""
    out = {}
    for name, make in EVERY_KIND.items():
        model = make()
        for strategy, reuse in FORMS:
            hls = ikr_hls.convert(model, output_dir=tmp_path_factory.mktemp(name), precision=FIXED,
                                  strategy=strategy, reuse_factor=reuse, io_type="io_stream")
            if not hls.graph.plan.wiring.has_clones:
                break
            out[(name, strategy, reuse)] = hls
    return out


CASES = [(m, s, r) for m in ("residual", "depthwise_separable", "unet", "squeeze_excite") for s, r in FORMS]


def _ids(case):
    return "-".join(map(str, case))


def _model(hls):
    wiring = hls.graph.plan.wiring
    model = StreamModel(hls.graph, wiring.processes(), wiring.stream_elements(), "input", "output")
    return wiring, model


def test_the_forked_models_are_the_ones_tested(forked):
    assert sorted({case[0] for case in forked}) == sorted({case[0] for case in CASES})


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_depths_finish_and_one_less_deadlocks(forked, case):
    """The computed depths finish in every case; a copy grown for a branch's lag, one element
    shorter, stops the network, waiting to write that very copy."""
    wiring, model = _model(forked[case])
    depths = {b.name: b.depth for b in wiring.buffers}
    assert model.finishes(depths)
    grown = [b for b in wiring.buffers if b.why == BRANCH_LAG]
    assert grown, f"{case}: no copy was grown"
    for buffer in grown:
        assert STREAM_DEPTH < buffer.depth <= buffer.size // buffer.width, buffer.name   # at most the whole tensor
        stops = model.stops({**depths, buffer.name: buffer.depth - 1})
        assert any(s.stream == buffer.name and s.full for s in stops), (buffer.name, stops)
    for buffer in wiring.buffers:
        assert (buffer.why == BRANCH_LAG) == (buffer.depth > STREAM_DEPTH), buffer.name
        if buffer.writer is not None and not buffer.writer.startswith("clone"):
            assert buffer.depth == STREAM_DEPTH, f"{buffer.name}: only a fork's copies grow"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_the_top_and_the_report_show_the_depths(forked, case):
    hls = forked[case]
    wiring, _ = _model(hls)
    computed = {b.name: b.depth for b in wiring.buffers}
    top = hls.files["firmware/myproject.cpp"]
    declared = re.findall(r"hls::stream<ikr::array<\w+, \d+>, (\d+)> (\w+)\(", top)    # hls::stream<T, DEPTH>
    assert {name: int(depth) for depth, name in declared} == computed
    for b in wiring.buffers:                     # a grown copy says why, next to its declaration
        note = f"// {b.depth} of {b.size // b.width} elements: the fork runs ahead"
        assert (note in top) == (b.why == BRANCH_LAG), b.name
    report = build_report(hls.graph, hls.config)
    assert {f["name"]: f["depth"] for f in report["fifos"]} == computed
    assert {f["name"]: f["why"] for f in report["fifos"]} == {b.name: b.why for b in wiring.buffers}
    assert sum(f["bits"] for f in report["fifos"]) == report["totals"]["buffer_ram_bits"]
    text = format_report(report)
    for f in report["fifos"]:
        assert re.search(rf"^{f['name']}\s+{f['why']}\s+{f['depth']:,}\s+{f['elements']:,}\s", text, re.M), f["name"]


def test_fifo_depth_full_gives_every_fifo_its_whole_tensor(tmp_path):
    """FIFODepth: full (hls4ml's default) in the top's stream declarations and the report, elements per
    inference as the wiring counts them."""
    hls = ikr_hls.convert(EVERY_KIND["residual"](), output_dir=tmp_path / "p", precision=FIXED,
                          io_type="io_stream", config={"FIFODepth": "full"})
    elements = hls.graph.plan.wiring.stream_elements()
    top = hls.files["firmware/myproject.cpp"]
    depths = {name: int(depth) for depth, name in re.findall(r"hls::stream<ikr::array<\w+, \d+>, (\d+)> (\w+)\(", top)}
    assert depths and depths == {name: elements[name] for name in depths}
    report = build_report(hls.graph, hls.config)
    assert report["fifo_depth"] == "full"
    assert {f["name"]: (f["depth"], f["why"]) for f in report["fifos"]} == {n: (d, WHOLE) for n, d in depths.items()}


def test_fifo_depth_means_nothing_in_io_parallel(caplog):
    with caplog.at_level("WARNING", logger="ikr_hls"):
        hls = ikr_hls.convert(EVERY_KIND["residual"](), output_dir="unused", precision=FIXED, fifo_depth="full")
    assert "fifo_depth: full (io_parallel has no FIFOs)" in caplog.text
    assert build_report(hls.graph, hls.config)["fifo_depth"] is None
    with pytest.raises(IKRHLSError, match="fifo_depth: unknown value 'deep'"):
        ikr_hls.convert(EVERY_KIND["residual"](), output_dir="unused", precision=FIXED, fifo_depth="deep")


def test_io_parallel_reports_no_fifos():
    hls = ikr_hls.convert(EVERY_KIND["residual"](), output_dir="unused", precision=FIXED)
    assert build_report(hls.graph, hls.config)["fifos"] is None


def test_a_network_that_cannot_be_proven_is_refused(forked, monkeypatch):
    """When the copies may not grow, the residual model stops: the conversion is refused,
    naming the copy the fork waits on, rather than given depths that were not proven."""
    monkeypatch.setattr(StreamModel, "_grow", lambda self, stuck, caps: [])
    with pytest.raises(IKRHLSError, match=r"waits to write stream 'stem_out_to_block1_add' \(full, depth 2\)"):
        Wiring(forked[("residual", "unrolled", 1)].graph)


# --- a second simulator: token by token, from each layer's stream form and planned loop nest ------

def _schedule(process, elements):
    """[(streams read, writes)] per step of the process's loop, and its lag (steps in flight),
    from what the plan states of the layer (its stream form, its loop nest and II), with no
    knowledge of particular kinds; simulated one token at a time rather than in runs."""
    every = tuple(process.reads)
    layer = process.layer
    if layer is None:                                  # a clone: one element to every copy a step
        return [(every, True)] * elements[process.reads[0]], max(MIN_LATENCY_BOUND, CLONE_DEPTH)
    io, cost = layer.stream, layer.plan_cost
    lag = math.ceil(max(MIN_LATENCY_BOUND, cost.depth) / cost.ii)      # its latency bound, in steps
    if io.form == "vector":
        n = layer.in_size // io.in_widths[0]
        return [(every, False)] * n + [((), True)], 0
    if io.form in ("elementwise", "channels"):
        return [(every, True)] * (layer.in_size // io.in_widths[0]), lag
    reads, writes = layer.nest.stream_steps()
    if reads.ndim == 1:                                # one condition for every input
        reads = np.broadcast_to(reads, (len(every), len(reads)))
    assert reads.shape == (len(every), cost.iterations), layer.name
    return [(tuple(s for s, r in zip(every, step, strict=True) if r), bool(w))
            for step, w in zip(reads.T, writes, strict=True)], lag


class _Pipeline:
    """A process as a stalling pipeline of `lag` steps: each advance starts the next step (its
    reads) and, once `lag` steps are in flight or none is left to start, retires the oldest
    (its writes): both or neither."""

    def __init__(self, process, steps, lag):
        self.process, self.steps, self.lag = process, steps, lag
        self.next = 0
        self.flight: list = []                         # write flags of the steps in flight

    def done(self):
        return self.next == len(self.steps) and not self.flight

    def advance(self, fifo, depth):
        start = self.steps[self.next] if self.next < len(self.steps) else None
        flight = self.flight + ([start[1]] if start is not None else [])
        retire = flight[0] if flight and (len(flight) > self.lag or start is None) else None
        if start is None and retire is None:
            return False
        if start is not None and any(fifo[s] == 0 for s in start[0]):
            return False
        if retire and any(fifo[s] >= depth[s] for s in self.process.writes):
            return False
        if start is not None:
            for s in start[0]:
                fifo[s] -= 1
            self.next += 1
        if retire is not None:
            flight.pop(0)
            for s in self.process.writes if retire else ():
                fifo[s] += 1
        self.flight = flight
        return True


def _token_run(processes, elements, depths, lag_free):
    """True when every process finishes, one advance per process per round."""
    fifo = {s: 0 for s in elements}
    fifo["input"] = elements["input"]
    depth = {s: depths.get(s, 10 ** 9) for s in elements}
    pipes = []
    for p in processes:
        steps, lag = _schedule(p, elements)
        pipes.append(_Pipeline(p, steps, 0 if p.name in lag_free else lag))
    while True:
        moved = False
        for pipe in pipes:
            moved |= pipe.advance(fifo, depth)
        if not moved:
            return all(pipe.done() for pipe in pipes)


def _branches(processes):
    """Each fork copy's branch (processes down from it and not down from every copy of the
    fork), with the clones that write it behind a spare copy."""
    reader = {s: p.name for p in processes for s in p.reads}
    writes = {p.name: p.writes for p in processes}
    clones = {p.name: p for p in processes if p.layer is None}

    def down(stream):
        seen, todo = set(), [reader.get(stream)]
        while todo:
            name = todo.pop()
            if name is not None and name not in seen:
                seen.add(name)
                todo += [reader.get(s) for s in writes[name]]
        return seen

    forks: dict = {}
    behind: dict = {}                                  # a copy -> the clones between the fork and it
    for clone in clones.values():
        root, chain = clone.reads[0], {clone.name}
        while any(root in c.writes for c in clones.values()):
            writer = next(c for c in clones.values() if root in c.writes)
            chain.add(writer.name)
            root = writer.reads[0]
        copies = [s for s in clone.writes if reader[s] not in clones]
        forks.setdefault(root, []).extend(copies)
        behind.update({copy: chain for copy in copies})
    out = []
    for copies in forks.values():
        reach = {c: down(c) for c in copies}
        common = set.intersection(*reach.values())
        out += [(reach[c] - common) | behind[c] for c in copies]
    return out


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_a_token_simulator_agrees(forked, case):
    """With every branch lag-free in turn (and none), the token simulator finishes with the
    computed depths, and stops in some case with one element less on a grown copy, as the
    module's simulator says."""
    wiring, model = _model(forked[case])
    processes, elements = wiring.processes(), wiring.stream_elements()
    depths = {b.name: b.depth for b in wiring.buffers}
    cases = [set()] + _branches(processes)

    def token_finishes(d):
        return all(_token_run(processes, elements, d, lag_free) for lag_free in cases)

    assert token_finishes(depths) and model.finishes(depths)
    for buffer in wiring.buffers:
        if buffer.why == BRANCH_LAG:
            shorter = {**depths, buffer.name: buffer.depth - 1}
            assert not token_finishes(shorter), buffer.name
            assert not model.finishes(shorter), buffer.name


def test_the_token_simulator_can_tell_a_deadlock():
    """The old whole-tensor bound finishes and depth 2 everywhere does not (the check above has
    teeth)."""
    hls = ikr_hls.convert(EVERY_KIND["residual"](), output_dir="unused", precision=FIXED, io_type="io_stream")
    wiring, _ = _model(hls)
    processes, elements = wiring.processes(), wiring.stream_elements()
    whole = {b.name: b.size // b.width for b in wiring.buffers}
    assert _token_run(processes, elements, whole, set())
    assert not _token_run(processes, elements, {b.name: STREAM_DEPTH for b in wiring.buffers}, set())


def _resnet_block(size):
    inp = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    y = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = keras.layers.Conv2D(8, 3, padding="same")(y)
    x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    y = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    s = keras.layers.Conv2D(16, 1, strides=2)(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Add()([s, y]))
    return keras.Model(inp, keras.layers.Dense(10)(x))


def test_a_cifar_size_network_is_quick():
    """32x32 images, two merges (one with a strided conv on each branch): the depths take well
    under a second and finish."""
    hls = ikr_hls.convert(_resnet_block(32), output_dir="unused", precision=FIXED, io_type="io_stream")
    start = time.perf_counter()
    wiring, model = _model(hls)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    assert model.finishes({b.name: b.depth for b in wiring.buffers})
    assert sum(b.why == BRANCH_LAG for b in wiring.buffers) == 2
    assert all(b.why == DEFAULT for b in wiring.buffers if b.depth == STREAM_DEPTH)


def test_a_fork_of_four_goes_through_a_spare_copy():
    """An Add of x three times and a conv of x: four readers, so the fork is ikr::clone_stream3
    and a clone_stream2 behind its spare copy; the spare stays at the default depth, the copies
    to the Add grow (the conv's too: while the chained clone's pipeline, at its latency bound,
    holds the Add back, the conv's output waits), and both simulators agree."""
    inp = keras.Input((9, 7, 2))
    x = keras.layers.Conv2D(4, 1, name="stem")(inp)
    y = keras.layers.Conv2D(4, 3, padding="same", name="conv")(x)
    out = keras.layers.Dense(3)(keras.layers.Flatten()(keras.layers.Add(name="join")([x, y, x, x])))
    hls = ikr_hls.convert(keras.Model(inp, out), output_dir="unused", precision=FIXED, io_type="io_stream")
    wiring, model = _model(hls)
    processes, elements = wiring.processes(), wiring.stream_elements()
    assert [p.name for p in processes if p.layer is None] == ["clone0_of_stem_out", "clone1_of_stem_out_spare1"]
    depths = {b.name: b.depth for b in wiring.buffers}
    assert depths["stem_out_spare1"] == STREAM_DEPTH
    grown = [b.name for b in wiring.buffers if b.why == BRANCH_LAG]
    assert {f"stem_out_to_join_{i}" for i in (0, 2, 3)} <= set(grown) <= {*depths} - {"stem_out_spare1"}
    cases = [set()] + _branches(processes)
    assert all(_token_run(processes, elements, depths, lag_free) for lag_free in cases)
    for name in grown:
        shorter = {**depths, name: depths[name] - 1}
        assert not model.finishes(shorter), name
        assert not all(_token_run(processes, elements, shorter, lag_free) for lag_free in cases), name
