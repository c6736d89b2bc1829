"""HLSModel: the converted network, its project on disk, and its compiled host model."""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from . import tbdata
from .axis import axis_ports
from .backend import build_spec, render_project, write_project
from .config import DEFAULT_CLOCK_UNCERTAINTY, DEFAULT_PART, ProjectConfig, make_config
from .errors import IKRHLSError
from .frontend import keras_to_graph
from .hostbuild import build_module, run_csim
from .ir import Graph
from .passes import structure
from .pipeline import finish_graph, structural_graph
from .profile import auto_config, profile_graph
from .range_check import range_warnings
from .report import REPORT_FILE, build_report
from .trace import Trace
from .vitis import DEFAULT_STEPS, find_csynth_report, read_csynth_report, run_build

log = logging.getLogger(__name__)
HOST_ARITHMETIC = ("int", "ap_fixed")     # how host builds compute fixed-point types
# The host-only forms of the Python host model's build, and of no other (cpp/ikr_window.h,
# defines.h): windows read from a padded copy of the input, an unrolled conv's taps in one
# function per filter, the resource strategy's lanes as loops over tables (lanes_host.j2).
# Vitis csim, cosim and `ikr-hls csim` compile what Vitis synthesizes.
HOST_FORMS = ("-DIKR_HOST_WINDOWS", "-DIKR_HOST_TAPS", "-DIKR_HOST_CYCLES")


class HLSModel:
    """A converted model. `write()` renders the project, `compile()` builds the host model,
    `predict(x)` runs the C++ on a batch."""

    def __init__(self, graph: Graph, config: ProjectConfig, output_dir, keras_model=None,
                 force: bool = False, tb_data=None):
        self.graph = graph
        self.config = config
        self.output_dir = Path(output_dir)
        self.keras_model = keras_model
        self.force = force
        self._files = render_project(graph, config)   # render now: template errors surface at convert
        # the testbench's inputs, checked now; its golden outputs are computed when written
        self._tb_inputs = (tbdata.default_inputs(graph.input_shape) if tb_data is None
                           else tbdata.load_inputs(tb_data, graph.input_shape))
        self._written = False
        self._write_lock = threading.RLock()     # compile() from several threads writes once
        self._module: Any = None

    @property
    def project_name(self) -> str:
        return self.config.project_name

    @property
    def input_shape(self) -> tuple:
        return self.graph.input_shape

    @property
    def output_shape(self) -> tuple:
        return self.graph.output_shape

    @property
    def files(self) -> dict[str, str]:
        """The generated project, {relative path: text}, golden testbench data included."""
        if tbdata.INPUT_FILE not in self._files:
            x = self._tb_inputs
            self._files[tbdata.INPUT_FILE] = tbdata.format_dat(x)
            self._files[tbdata.OUTPUT_FILE] = tbdata.format_dat(tbdata.golden_outputs(self, x))
            self._files[REPORT_FILE] = json.dumps(build_report(self.graph, self.config), indent=1) + "\n"
        return dict(self._files)

    def write(self, force: bool | None = None) -> Path:
        """Write the project to output_dir (atomically). A non-empty directory is refused
        unless `force` (default: convert's force) is true; only files ikr-hls writes are replaced."""
        with self._write_lock:
            write_project(self.files, self.output_dir, force=bool(self.force if force is None else force)
                          or self._written)
            self._written = True
        return self.output_dir

    def __repr__(self) -> str:
        layers = len(self.graph.layers)
        return (f"HLSModel({self.graph.source!r} -> {str(self.output_dir)!r}, {self.config.precision_label}, "
                f"{self.config.io_type}, strategy {self.config.strategy}, reuse {self.config.reuse_factor}, "
                f"{layers} layer(s), "
                f"{tuple(self.input_shape)} -> {tuple(self.output_shape)})")

    def summary(self, print_fn=print) -> None:
        """One line per layer, as Keras's model.summary(): kind, shapes, weight and result types,
        strategy and reuse, multipliers, II and latency of the hardware model (docs/report.md)."""
        report = self.report()
        rows = [("layer", "kind", "input -> output", "weight type", "result type", "strategy", "reuse",
                 "multipliers", "II", "latency")]
        for l in report["layers"]:
            rows.append((l["name"], l["kind"], f"{tuple(l['in_shape'])} -> {tuple(l['out_shape'])}",
                         l["weight_type"] or "-", l["result_type"] or "-",
                         l["strategy"] or "-", str(l["reuse_factor"] or "-"), str(l["multipliers"] or "-"),
                         _figure(l["ii"]), _figure(l["latency_estimate_cycles"])))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        print_fn(repr(self))
        for k, row in enumerate(rows):
            print_fn("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            if k == 0:
                print_fn("  ".join("-" * w for w in widths))
        t = report["totals"]
        if report["host_check_only"]:
            print_fn("floating point: a host check (C++ against Keras), not a design: no hardware figures "
                     "(convert with an ap_fixed precision for hardware)")
            return
        print_fn(f"total: {t['multipliers']:,} multipliers, latency {t['latency_estimate_cycles']:,} cycles, "
                 f"interval {t['interval_estimate_cycles']:,} (ikr-hls report for storage, patterns, resources)")

    def _ensure_written(self) -> None:
        with self._write_lock:
            if not self._written:
                self.write()

    def compile(self, arithmetic: str = "int") -> HLSModel:
        """Write the project if needed, then build its pybind11 module (cached by content).

        For a fixed-point project, `arithmetic` chooses how the host computes the same types:
        "int" (default) through ikr-hls's integer model of ap_fixed (cpp/ikr_host_fixed.h,
        several times faster to compile and to run, tested bit-identical), or "ap_fixed"
        through the ap_types headers that Vitis uses. Float projects ignore it."""
        self._module = self._build(arithmetic=arithmetic)
        return self

    def _build(self, extra_flags=(), arithmetic: str = "int", host_forms: bool = True):
        """The pybind11 module; `host_forms`: with the host-only forms of the windows and taps
        (HOST_FORMS: faster, the same values), else the forms Vitis synthesizes."""
        arithmetic = arithmetic.strip().lower() if isinstance(arithmetic, str) else arithmetic
        if arithmetic not in HOST_ARITHMETIC:
            raise IKRHLSError(f"arithmetic: unknown value '{arithmetic}' (valid: {', '.join(HOST_ARITHMETIC)})")
        self._ensure_written()
        flags = (list(HOST_FORMS) if host_forms else []) + list(extra_flags)
        if arithmetic == "int" and self.graph.fixed_point:
            flags.append("-DIKR_HOST_INT")
        spec = build_spec(self.graph, self.project_name, self.config.side_channels)
        return build_module(self.output_dir, spec, extra_flags=flags)

    def csim(self, dataflow: bool = False, seed: int | None = None, timeout: float | None = None):
        """Build the generated testbench with g++ from the sources and flags of hls_config.cfg
        (as Vitis csim_design does) and run it against the golden data: a CSimResult with
        .passed, .summary() and the first .mismatches.

        dataflow=True: every sample back to back through the DATAFLOW region, its processes as
        threads over FIFOs of their declared depths (io_parallel: ping-pong buffers of two
        slots), stalling at random (`seed`, default 1); a deadlock fails at once, its summary
        naming the full and the empty streams; `timeout` seconds (default 60) end a run that
        neither finishes nor deadlocks (docs/io_stream.md)."""
        self._ensure_written()
        return run_csim(self.output_dir, dataflow=dataflow, seed=seed, timeout=timeout)

    def build(self, steps=DEFAULT_STEPS, reset: bool = False, echo=None) -> dict:
        """Run the project's build_prj.tcl with Vitis HLS (vitis-run or vitis_hls, found on
        PATH or in $XILINX_HLS) and return the synthesis report's figures; IKRHLSError in
        one line when Vitis is not installed."""
        self._ensure_written()
        return run_build(self.output_dir, steps=steps, reset=reset, echo=echo)

    def report(self) -> dict:
        """Compression, storage and hardware-cost report (docs/report.md): per layer and in
        total, parameters, MACs, patterns, storage bits, multipliers and a latency estimate;
        with the synthesis figures beside them once `build()` has produced a report."""
        report_path = None
        if self._written:
            try:
                report_path = find_csynth_report(self.output_dir)
            except IKRHLSError:
                pass                                # not synthesised yet
        synthesis = read_csynth_report(report_path) if report_path else None
        return build_report(self.graph, self.config, synthesis=synthesis)

    def predict(self, x, threads: int = 0) -> np.ndarray:
        """(N, *input_shape) float32/float64 -> (N, *output_shape) float64; a single sample
        of shape input_shape is accepted too and returns one output. The batch is spread
        over `threads` threads (0: one per core)."""
        if self._module is None:
            self.compile()
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise IKRHLSError(f"predict: threads must be an integer >= 0, got {threads!r}")
        x = np.asarray(x)
        single = x.shape == tuple(self.input_shape)
        batch = self._batch(x)
        if threads > len(batch):                 # never more threads than samples (nor than a C int holds)
            threads = max(1, len(batch))
        try:
            y = self._module.predict(batch, threads)
        except RuntimeError as exc:          # io_stream: ikr-hls's host stream reports a misuse
            if "ikr-hls: stream" not in str(exc):
                raise
            raise IKRHLSError(f"predict: {exc}") from None
        return y[0] if single else y

    def _batch(self, x, caller: str = "predict") -> np.ndarray:
        """x as a contiguous float64 batch (N, *input_shape); a single sample becomes N=1.
        `caller` names the method in messages."""
        x = np.asarray(x)
        if x.dtype.kind not in "iuf":           # bool, complex, object, str, datetime: refused
            raise IKRHLSError(f"{caller}: expected an array of real numbers (integer or float), got dtype {x.dtype}")
        if x.shape == tuple(self.input_shape):
            x = x[None]
        if x.shape[1:] != tuple(self.input_shape):
            raise IKRHLSError(f"{caller}: expected input of shape (N, {', '.join(map(str, self.input_shape))}) "
                              f"or one sample {tuple(self.input_shape)}, got {x.shape}")
        with np.errstate(over="ignore"):        # a long double beyond float64's range becomes inf
            x = np.ascontiguousarray(x, dtype=np.float64)
        if self.graph.fixed_point and not np.all(np.isfinite(x)):
            raise IKRHLSError(f"{caller}: the inputs hold NaN or infinite values, which a fixed-point "
                              "design cannot represent")
        return x

    def emulate(self, x) -> np.ndarray:
        """The numpy reference of the fixed-point hardware: the same types, rounding, overflow,
        order of accumulation and lookup tables as the generated C++, bit for bit."""
        from .emulate import emulate

        x = np.asarray(x)
        y = emulate(self.graph, self._batch(x, "emulate"))
        return y[0] if x.shape == tuple(self.input_shape) else y

    def trace(self, x) -> Trace:
        """Every layer's output, from the C++ model (a tracing build, -DIKR_TRACE) beside Keras's
        output of the same layer (after any activation or BatchNormalization merged into it):
        {layer name: {"cpp": (N, *shape), "keras": (N, *shape)}}, a `Trace` (ikr_hls/trace.py)
        whose table() (and repr) compares them per layer, and plot(path) draws it."""
        x = self._batch(x, "trace")
        self._ensure_written()
        module = self._build(["-DIKR_TRACE"])
        cpp = module.trace(x)
        keras_outputs = self._keras_trace(x)
        return Trace({layer.name: {"cpp": cpp[layer.name], "keras": keras_outputs.get(layer.name)}
                      for layer in self.graph.layers}, self.graph)

    def _keras_trace(self, x) -> dict:
        from .profile import keras_layer_outputs

        return {} if self.keras_model is None else keras_layer_outputs(self.keras_model, self.graph, x)

    def count_ops(self, x) -> dict:
        """Multiplications executed per inference, per layer, measured by the counting build
        (-DIKR_COUNT_OPS: every weight multiplies through a counter), averaged over the batch x."""
        x = self._batch(x, "count_ops")
        if len(x) == 0:
            raise IKRHLSError("count_ops: needs at least one input")
        self._ensure_written()
        module = self._build(["-DIKR_COUNT_OPS"])
        counts = module.count_ops(x)
        # the network has no data-dependent skipping, so every sample costs the same
        return {name: int(total) // len(x) if int(total) % len(x) == 0 else int(total) / len(x)
                for name, total in counts.items()}


def _figure(value) -> str:
    return "-" if value is None else f"{value:,}"


def convert(model, output_dir="ikr_prj", precision=None, strategy=None, reuse_factor=None,
            part=DEFAULT_PART, clock_period=5.0, project_name="myproject", force=False,
            config=None, calibration=None, auto_width=16,
            clock_uncertainty=DEFAULT_CLOCK_UNCERTAINTY, tb_data=None, io_type="io_parallel",
            fifo_depth="model", side_channels=False, fit_limit=0.8) -> HLSModel:
    """Convert a keras.Model, or a .h5/.keras file, into an HLSModel (nothing is written
    until write() or compile()). precision=None (the default): a quantization-aware model's
    (HGQ2's) types come from its trained quantizers, per element (docs/fixed_point.md); any
    other model is converted in "float". A precision, or a config's Model Precision, is an
    override for the whole model. `config` (an hls4ml-like dict, or a .yml/.json file) sets
    precision, reuse factor and strategy model-wide and per layer, over the keyword values.
    precision="auto" chooses ap_fixed<auto_width, I> per value from the ranges measured on
    `calibration` inputs (a per-layer config still overrides it). `tb_data` (an array
    (N, *input_shape) or a .npy file) becomes the testbench's golden inputs; by default a
    few seeded random ones. io_type="io_stream" (or the config's IOType) makes layers talk
    through hls::stream of pixels, with line buffers instead of whole buffers (docs/io_stream.md);
    there fifo_depth="model" (or the config's FIFODepth) sizes each FIFO by the depth model and
    "full" gives every FIFO its whole tensor, as hls4ml does before its FIFO optimization.
    side_channels=True (or SideChannels) makes the io_stream top `<project>_axi`, whose
    AXI4-Stream ports carry TKEEP, TSTRB and TLAST for an AXI DMA (docs/io_stream.md).
    reuse_factor="auto" (and strategy="auto") choose each layer's reuse factor (and strategy) for
    the smallest DATAFLOW interval at which the estimate fits `fit_limit` of the part
    (ikr_hls/auto.py; docs/report.md). Neither given (nor in the config's Model): strategy
    unrolled at reuse factor 1 where that fits the part and writes out a readable amount of
    code, else both chosen per layer as "auto" does, with a warning (passes.fit_by_default)."""
    graph, config, keras_model = plan_model(model, precision=precision, strategy=strategy,
                                            reuse_factor=reuse_factor, part=part, clock_period=clock_period,
                                            project_name=project_name, config=config, calibration=calibration,
                                            auto_width=auto_width, clock_uncertainty=clock_uncertainty,
                                            tb_data=tb_data, io_type=io_type, fifo_depth=fifo_depth,
                                            side_channels=side_channels, fit_limit=fit_limit)
    return HLSModel(graph, config, output_dir, keras_model=keras_model, force=force, tb_data=tb_data)


def plan_model(model, precision=None, strategy=None, reuse_factor=None, part=DEFAULT_PART,
               clock_period=5.0, project_name="myproject", config=None, calibration=None, auto_width=16,
               clock_uncertainty=DEFAULT_CLOCK_UNCERTAINTY, tb_data=None, io_type="io_parallel",
               fifo_depth="model", side_channels=False, fit_limit=0.8):
    """convert() up to the frozen plan, rendering nothing: (graph, ProjectConfig, keras model).
    The frontend, the passes and the profile of the calibration data run once each."""
    options = dict(strategy=strategy, reuse_factor=reuse_factor, part=part, clock_period=clock_period,
                   project_name=project_name, clock_uncertainty=clock_uncertainty, io_type=io_type,
                   fifo_depth=fifo_depth, side_channels=side_channels, fit_limit=fit_limit)
    profile = None
    if isinstance(precision, str) and precision.strip().lower() == "auto":
        if calibration is None:
            raise IKRHLSError("precision='auto' needs calibration data (calibration=x; on the command line, "
                              "--calibration X.npy)")
        # the user's config shapes the graph (its settings); the profile of that graph gives the types
        graph, keras_model = structural_graph(model, make_config(precision="float", config=config, **options))
        profile = profile_graph(graph, keras_model, calibration)
        auto = auto_config(profile, auto_width)
        # the measured types, under anything the config sets (its Model, LayerType and LayerName)
        project_config = make_config(precision=auto["Model"]["Precision"], config=config,
                                     auto_layers=auto["LayerName"], **options)
    else:
        # precision=None: a quantization-aware model's own types, else float (make_config)
        graph, keras_model = keras_to_graph(model)
        project_config = make_config(precision=precision, config=config, trained=precision is None and graph.trained,
                                     **options)
        graph = structure(graph, project_config)
    graph = finish_graph(graph, project_config)
    if project_config.side_channels:
        axis_ports(graph)                              # ports that cannot be packed are told now
    _warn_about_ranges(graph, keras_model, calibration, tb_data, profile)
    return graph, project_config, keras_model


def _warn_about_ranges(graph, keras_model, calibration, tb_data, profile=None) -> None:
    """A type that cannot hold its layer's weights, or the values the calibration data (else
    the testbench data) give: one warning line each (range_check.py). `profile`: the
    calibration data's, when precision="auto" measured it already."""
    if not graph.fixed_point:
        return
    data, what = (calibration, "calibration data") if calibration is not None else (tb_data, "testbench data")
    if profile is None and data is not None and keras_model is not None:
        profile = profile_graph(graph, keras_model, tbdata.load_inputs(data, graph.input_shape))
    for line in range_warnings(graph, profile, what):
        log.warning("%s", line)
