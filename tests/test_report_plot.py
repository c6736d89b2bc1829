"""`report --plot` scales (issue 26, item 7): a bounded picture, trivial pattern libraries
counted instead of drawn, panels of many bars aggregated into the largest and "N others", and
labels that do not print over each other. A synthetic report of a hundred layers (the tiny
report's rows repeated with other sizes) keeps these fast; the plot reads only the dict."""
from __future__ import annotations

import copy
import itertools
import logging
import re

import matplotlib.image
import numpy as np
import pytest
from matplotlib.text import Text

from ikr_hls.errors import IKRHLSError
from ikr_hls.report import plot as P
from test_report import build, tiny_config, tiny_graph

FULL_1X1 = {"grid": [[1]], "kernels": 64, "taps": 1}
FULL_3X3 = {"grid": [[1, 1, 1]] * 3, "kernels": 32, "taps": 9}


def synthetic(n_convs=3, n_trivial=0, n_other=0, n_fifos=0, patterns=None):
    """The tiny report with n_convs copies of its conv (each a little larger than the last),
    n_trivial convs with one full pattern (1x1 and 3x3 in turn), n_other copies of its dense
    layer, and in io_stream n_fifos FIFOs of growing depth."""
    r = build(tiny_graph(), tiny_config())
    conv = next(l for l in r["layers"] if l.get("patterns"))
    others = [l for l in r["layers"] if not l.get("patterns")]
    dense = next(l for l in others if l["kind"] == "dense")
    layers = []
    for i in range(n_convs):
        l = copy.deepcopy(conv)
        l["name"] = f"conv_{i}"
        for key in ("macs_dense", "macs_pruned", "params_dense", "params_nonzero", "multipliers",
                    "latency_estimate_cycles"):
            l[key] = l[key] * (i + 1)
        if patterns is not None:
            l["patterns"] = copy.deepcopy(patterns)
            l["library_size"] = len(patterns)
        layers.append(l)
    for i in range(n_trivial):
        l = copy.deepcopy(conv)
        l["name"] = f"trivial_{i}"
        l["patterns"] = [copy.deepcopy(FULL_1X1 if i % 2 == 0 else FULL_3X3)]
        l["kernel_size"] = [1, 1] if i % 2 == 0 else [3, 3]
        l["library_size"], l["keep"], l["index_bits"] = 1, l["patterns"][0]["taps"], 0
        layers.append(l)
    for i in range(n_other):
        l = copy.deepcopy(dense)
        l["name"] = f"dense_{i}"
        l["macs_dense"] = l["macs_dense"] * (i + 2)
        layers.append(l)
    r["layers"] = layers + others
    if n_fifos:
        r["io_type"] = "io_stream"
        r["fifos"] = [{"name": f"layer_{i}_out_to_layer_{i + 1}", "depth": 2 + i, "why": "default"}
                      for i in range(n_fifos)]
    return r


def bar_axes(fig):
    return [ax for ax in fig.get_axes() if ax.get_yscale() == "log"]


def texts_of(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(Text))


def drawn_grids(fig) -> int:
    """Pattern grids drawn: each is titled '#i: n kernels'."""
    return sum(bool(re.fullmatch(r"#\d+: \d+ kernels?", t.get_text())) for t in fig.findobj(Text))


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """A hundred-layer report drawn once: 40 libraries of 16 patterns (more than fit), 50
    trivial ones, 60 dense layers, 120 FIFOs."""
    pattern = {"grid": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "kernels": 3, "taps": 3}
    r = synthetic(n_convs=40, n_trivial=50, n_other=60, n_fifos=120, patterns=[pattern] * 16)
    path = tmp_path_factory.mktemp("plot") / "large.png"
    fig = P.report_figure(r)
    fig.savefig(path, format="png")          # as plot_report saves it: laid out, then drawn
    return r, path, fig


def test_the_picture_has_a_bounded_size(large):
    _, path, fig = large
    height, width = matplotlib.image.imread(str(path)).shape[:2]
    assert width <= P.MAX_WIDTH_PX and height <= P.MAX_HEIGHT_PX
    assert np.allclose((width, height), fig.get_size_inches() * P.DPI, atol=1)       # the figure's size, saved
    assert "40 more pattern libraries" not in texts_of(fig)          # some are drawn
    drawn = drawn_grids(fig) // P.MAX_DRAWN_PATTERNS
    assert 0 < drawn < 40 and f"{40 - drawn} more pattern libraries not drawn for room" in texts_of(fig)


def test_trivial_libraries_are_counted_not_drawn():
    r = synthetic(n_convs=2, n_trivial=5)
    fig = P.report_figure(r)
    assert drawn_grids(fig) == sum(len(l["patterns"]) for l in r["layers"][:2])
    assert "5 trivial pattern libraries left out" in texts_of(fig)
    assert "3 1x1, 2 3x3" in texts_of(fig)
    titles = [t for t in texts_of(fig).split("\n") if "pattern library" in t]
    assert [t.split(":")[0] for t in titles] == ["conv_0", "conv_1"]
    assert P.trivial_library({"patterns": [FULL_3X3]}) and P.trivial_library({"patterns": [FULL_1X1]})
    assert not P.trivial_library({"patterns": [{"grid": [[1, 0], [1, 1]], "kernels": 4, "taps": 3}]})
    assert not P.trivial_library({"patterns": [FULL_3X3, FULL_3X3]})
    none_trivial = P.report_figure(synthetic(n_convs=2))
    assert "trivial" not in texts_of(none_trivial)


def test_aggregate_keeps_the_largest_in_order_and_adds_up_the_rest():
    bars = [(f"l{i}", (float((i * 7) % 30 + 1), float(i))) for i in range(30)]
    out = P.aggregate_bars(bars, limit=10)
    assert len(out) == 10
    size = {name: sum(v) for name, v in bars}
    kept = [name for name, _ in out[:-1]]
    assert kept == [name for name, _ in bars if name in kept]                 # layer order
    assert min(size[n] for n in kept) >= max(s for n, s in size.items() if n not in kept)
    assert out[-1][0] == "21 others\n(sum)"
    rest = [v for name, v in bars if name not in kept]
    assert out[-1][1] == tuple(np.sum(rest, axis=0))
    largest = P.aggregate_bars(bars, limit=10, combine="max")
    assert largest[-1][0] == "21 others\n(largest)" and largest[-1][1] == tuple(np.max(rest, axis=0))
    assert P.aggregate_bars(bars[:10], limit=10) == bars[:10]
    with pytest.raises(IKRHLSError, match="combine"):
        P.aggregate_bars(bars, combine="mean")


def test_panels_beyond_the_count_are_aggregated(large):
    r, _, fig = large
    axes = bar_axes(fig)
    assert len(axes) == len(P.compression_panels(r)) + len(P.hardware_panels(r)) == 7
    for ax in axes:
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert len(labels) == P.MAX_BARS
        assert labels[-1].split("\n")[0].endswith("others")
    fifo = next(ax for ax in axes if ax.get_title().startswith("io_stream FIFO"))
    labels = [t.get_text() for t in fifo.get_xticklabels()]
    assert labels[-1] == f"{120 - (P.MAX_BARS - 1)} others\n(sum)"
    deepest = [f"{f['name'].replace('_to_', chr(10) + 'to ')}" for f in r["fifos"][-(P.MAX_BARS - 1):]]
    assert labels[:-1] == deepest                                  # the deepest, in order


def clashes(fig) -> list:
    """Texts of one bar chart whose boxes overlap: tick labels among themselves, value and
    ratio labels among themselves (the figure laid out and drawn)."""
    renderer = fig.canvas.get_renderer()
    found = []
    for ax in bar_axes(fig):
        for group in ([t for t in ax.get_xticklabels() if t.get_text()], ax.texts):
            boxes = [t.get_window_extent(renderer) for t in group]
            found += [(ax.get_title(), group[i].get_text(), group[j].get_text())
                      for i, j in itertools.combinations(range(len(boxes)), 2)
                      if boxes[i].x0 < boxes[j].x1 - 0.5 and boxes[j].x0 < boxes[i].x1 - 0.5
                      and boxes[i].y0 < boxes[j].y1 - 0.5 and boxes[j].y0 < boxes[i].y1 - 0.5]
        assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= P.MIN_FONT_PT
    return found


def test_labels_do_not_print_over_each_other(large, tmp_path):
    assert not clashes(large[2])
    compact = P.report_figure(synthetic(n_convs=2, n_fifos=6))     # 7 layers: the 15 in page
    compact.savefig(tmp_path / "compact.png", format="png")
    assert compact.get_size_inches()[0] == P.COMPACT.width_in
    assert not clashes(compact)


def test_progress_on_the_way(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="ikr_hls"):
        P.plot_report(synthetic(n_convs=2, n_trivial=3), tmp_path / "r.png")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("plot:")]
    assert len(lines) == 3, lines
    assert "3 trivial left out" in lines[0] and "px to" in lines[1] and lines[2].startswith("plot: done in")
