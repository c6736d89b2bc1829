"""io_stream with AXI4-Stream side channels (side_channels=True, issue 25 item 11): the top
Vitis synthesizes is `<project>_axi`, whose ports carry ap_axiu packets (TDATA, TKEEP, TSTRB,
TLAST) for an AXI DMA, around the network's own DATAFLOW region. The testbench drives packets
and fails on a wrong TLAST; the wrapper is a canonical DATAFLOW region; the report counts its
adapters and FIFOs as the code declares them; the default stays data-only."""
import os
import re
import shutil

import keras
import numpy as np
import pytest

import ikr_hls
from hls_code import Call, Statement, parse_functions
from ikr_hls.axis import axis_ports
from ikr_hls.emulate import emulate
from ikr_hls.errors import IKRHLSError
from ikr_hls.hardware import CLONE_DEPTH
from ikr_hls.hostbuild import run_csim
from ikr_hls.report import build_report
from test_hardware import check_top, type_bits
from zoo import EVERY_KIND, randomize

FIXED = "ap_fixed<12,4>"


def image_out():
    """A frame of 36 output packets (a conv's 6x6 map of 3 channels): TLAST has a place to miss."""
    inp = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c1")(inp)
    return randomize(keras.Model(inp, x), seed=5)


@pytest.fixture(scope="module")
def wrapped(tmp_path_factory):
    path = tmp_path_factory.mktemp("axis") / "prj"
    hls = ikr_hls.convert(image_out(), output_dir=path, precision=FIXED, io_type="io_stream", side_channels=True)
    hls.write()
    return hls, path


@pytest.mark.cpp
def test_the_testbench_drives_packets_and_passes(wrapped):
    hls, path = wrapped
    result = hls.csim()
    assert result.passed, result.output
    test = (path / "tb" / "myproject_test.cpp").read_text()
    assert "myproject_axi(input, output_stream)" in test and "packet.last" in test
    x = np.random.default_rng(0).uniform(-2, 2, (4, 6, 6, 2))
    assert np.array_equal(hls.predict(x), emulate(hls.graph, x))        # the host model is unchanged


@pytest.mark.cpp
def test_the_threaded_run_drives_the_network_region(wrapped):
    """csim --dataflow runs the network's DATAFLOW region (the wrapper adds a chain of two
    adapters over depth-2 FIFOs, which cannot deadlock) and still compiles beside the wrapper."""
    result = wrapped[0].csim(dataflow=True)
    assert result.passed, result.output[-2000:]


@pytest.mark.cpp
def test_a_wrong_tlast_fails_the_testbench(wrapped, tmp_path):
    """The output's TLAST must be on the frame's last packet only: planted elsewhere, csim fails."""
    _, path = wrapped
    for planted, seen in (("packet.last = false;", "packet 35 of 36 has TLAST 0"),
                          ("packet.last = e == 0;", "packet 0 of 36 has TLAST 1")):
        copy = tmp_path / planted.replace(" ", "").replace(";", "").replace("=", "_")
        shutil.copytree(path, copy)
        header = copy / "firmware" / "ikr" / "ikr_axis.h"
        text = header.read_text()
        assert "packet.last = e == ELEMENTS - 1;" in text
        header.write_text(text.replace("packet.last = e == ELEMENTS - 1;", planted))
        result = run_csim(copy)
        assert not result.passed and seen in result.output, result.output


def test_the_ports_and_the_tcl_name_the_wrapper(wrapped):
    hls, path = wrapped
    ports = axis_ports(hls.graph)
    defines = (path / "firmware" / "defines.h").read_text()
    for port in ports:                           # TDATA: the element's values in whole bytes
        assert port.data_bits % 8 == 0 and port.values * port.value_bits <= port.data_bits < \
            port.values * port.value_bits + 8
        assert f"typedef ap_axiu<{port.data_bits}, 0, 0, 0> {port.typedef};" in defines
    assert "syn.top=myproject_axi" in (path / "hls_config.cfg").read_text()


@pytest.mark.skipif(shutil.which("tclsh") is None and os.environ.get("CI") != "true", reason="no tclsh")
def test_the_tcl_flow_synthesizes_the_wrapper(wrapped, tmp_path):
    """Under the stubbed Vitis commands: set_top names the wrapper, and the stubs find it defined
    in the top's source (renamed away, the flow stops there)."""
    from test_vitis_project import run_tcl
    path = tmp_path / "prj"
    shutil.copytree(wrapped[1], path)
    proc, calls = run_tcl(path)
    assert proc.returncode == 0, proc.stderr
    assert "set_top myproject_axi" in calls
    top = path / "firmware" / "myproject.cpp"
    top.write_text(top.read_text().replace("void myproject_axi(", "void renamed_axi("))
    proc, _ = run_tcl(path)
    assert proc.returncode != 0 and "top function 'myproject_axi' is not defined" in proc.stderr


def _wrapper_streams(top_text: str) -> dict:
    """The wrapper as a canonical DATAFLOW region: {stream: (element type, depth)}, and its calls."""
    wrapper = parse_functions(top_text)["myproject_axi"]
    assert wrapper.pragma("DATAFLOW")
    interfaces = {p.option("port") for p in wrapper.pragmas if p.kind == "INTERFACE" and "axis" in p.text}
    assert interfaces == {"input", "output"}
    streams, calls = {}, []
    for node in wrapper.body:
        if isinstance(node, Call):                                           # ikr::axis_to_stream<N>(...)
            calls.append((node.name, int(node.template_args[0]), [a.strip() for a in node.args]))
            continue
        assert isinstance(node, Statement), node
        text = node.text.strip()
        declared = re.fullmatch(r"hls::stream<(\w+)> (\w+)\(\s*\)", text)     # (string literals are blanked)
        if declared:
            depth = next(p.option("depth") for p in wrapper.pragmas
                         if p.kind == "STREAM" and p.option("variable") == declared[2])
            streams[declared[2]] = (declared[1], int(depth))
            continue
        called = re.fullmatch(r"(?:ikr::)?(\w+)(?:<(\d+)>)?\((.*)\)", text, re.S)
        assert called, f"the wrapper's DATAFLOW region holds '{text}'"
        calls.append((called[1], int(called[2]) if called[2] else None, [a.strip() for a in called[3].split(",")]))
    return streams, calls


@pytest.mark.parametrize("name", ["residual", "unet"])
def test_the_report_counts_the_wrapper_the_code_declares(name):
    """Forked models: the network's FIFOs and the wrapper's add up to the report's FIFO bits;
    the adapters move as many packets as the report's frame; the latency adds theirs."""
    model = EVERY_KIND[name]()
    hls = ikr_hls.convert(model, output_dir="unused", precision=FIXED, io_type="io_stream", side_channels=True)
    plain = ikr_hls.convert(model, output_dir="unused", precision=FIXED, io_type="io_stream")
    files = hls.files
    top = files["firmware/myproject.cpp"]
    network = parse_functions(top)["myproject"]
    assert network.pragma("INLINE") and "off" in network.pragma("INLINE").text
    assert not [p for p in network.pragmas if p.kind == "INTERFACE"], "only the top has interface pragmas"
    fifos, _ = check_top(files)
    streams, calls = _wrapper_streams(top)
    bits = type_bits(files)
    widths = {"input_pixel_t": hls.graph.plan.wiring.all["input"].width,
              "result_pixel_t": hls.graph.plan.wiring.all["output"].width}
    types = {"input_pixel_t": "input_t", "result_pixel_t": "result_t"}
    report = build_report(hls.graph, hls.config)
    expected = sum(depth * width * bits[t] for t, width, depth in fifos.values()) + \
        sum(depth * widths[t] * bits[types[t]] for t, depth in streams.values())
    assert report["totals"]["buffer_ram_bits"] == expected
    assert {f["name"] for f in report["fifos"]} == set(fifos) | set(streams)
    ins, outs = axis_ports(hls.graph)
    assert [(c[0], c[1]) for c in calls] == [("axis_to_stream", ins.elements), ("myproject", None),
                                             ("stream_to_axis", outs.elements)]
    frame = {f["name"]: f["elements"] for f in report["fifos"]}
    assert (frame[ins.stream], frame[outs.stream]) == (ins.elements, outs.elements)
    added = report["totals"]["latency_estimate_cycles"] - build_report(plain.graph, plain.config)["totals"][
        "latency_estimate_cycles"]
    assert added == ins.elements + outs.elements + 2 * CLONE_DEPTH
    assert report["axi_wrapper"] == {"top": "myproject_axi", "input_data_bits": ins.data_bits,
                                     "output_data_bits": outs.data_bits}
    assert build_report(plain.graph, plain.config)["axi_wrapper"] is None
    assert "myproject_axi" not in plain.files["firmware/myproject.cpp"]      # the default: data only


def test_the_option_is_checked():
    model = image_out()
    hls = ikr_hls.convert(model, output_dir="unused", precision=FIXED, io_type="io_stream",
                          config={"SideChannels": True})
    assert hls.config.side_channels and "myproject_axi" in hls.files["firmware/myproject.cpp"]
    with pytest.raises(IKRHLSError, match=r"SideChannels: expected true or false, got 'yes'"):
        ikr_hls.convert(model, io_type="io_stream", precision=FIXED, config={"SideChannels": "yes"})
    with pytest.raises(IKRHLSError, match=r"side_channels: AXI4-Stream side channels are io_stream's ports"):
        ikr_hls.convert(model, precision=FIXED, side_channels=True)
    with pytest.raises(IKRHLSError, match=r"side_channels: the input is float"):
        ikr_hls.convert(model, io_type="io_stream", side_channels=True)
