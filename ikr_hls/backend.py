"""Render a project from the graph with Jinja2, and write it atomically.

`render_project` returns {relative path: text}; `write_project` puts those files in place
only once all of them rendered, so a failed conversion leaves nothing half-written.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import jinja2
import numpy as np

from . import __version__, tables, tbdata
from .config import ProjectConfig
from .errors import IKRHLSError
from .ir import INPUT, Graph, Layer
from .precision import format_literal
from .resources import cpp_dir, templates_dir

log = logging.getLogger(__name__)

# The C++ language flags of every build: host model, host csim, Vitis csim and synthesis.
LANGUAGE_FLAGS = "-std=c++14"
MANIFEST = ".ikr-hls-manifest.json"   # the files ikr-hls wrote; --force removes only these
_VALUES_PER_ROW = 8


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


def _act_call(layer: Layer):
    """The activation applied to a C++ expression: a function, or a table lookup in fixed point."""
    if layer.activation == "leaky_relu":
        return lambda x: f"ikr::leaky_relu<{layer.name}_result_t>({x}, {layer.name}_alpha[0])"
    if "act_table" in layer.precision:
        lookup = (f"ikr::lut_lookup<{layer.name}_act_in_t, {tables.act_shift(layer)}, "
                  f"{layer.attrs['table_size']}, {layer.attrs['act_range']}>")
        return lambda x: f"{lookup}({x}, {layer.name}_act_table)"
    return lambda x: f"ikr::{layer.activation}({x})"


def _index_type(limit: int) -> str:
    return "uint16_t" if limit <= 0xFFFF else "uint32_t"


def _rows(values, fmt) -> list[str]:
    texts = [fmt(v) for v in values] or ["0"]
    return [", ".join(texts[i:i + _VALUES_PER_ROW]) + ","
            for i in range(0, len(texts), _VALUES_PER_ROW)]


def _array(name, cpp_type, values, comment, fmt):
    values = list(values)
    return dict(name=name, cpp_type=cpp_type, size=max(len(values), 1), comment=comment,
                rows=_rows(values, fmt))


class _Renderer:
    def __init__(self, graph: Graph, config: ProjectConfig):
        self.graph, self.config = graph, config
        self.env = _environment()
        self.project = config.project_name
        self.files: dict[str, str] = {}

    def render(self) -> dict[str, str]:
        layer_views = []
        wiring = _Wiring(self.graph)
        for i, layer in enumerate(self.graph.layers):
            in_types = [wiring.type_of(name) for name in layer.inputs]
            view = self._layer(layer, in_types)
            self.files[f"firmware/layers/{layer.name}.h"] = self.env.get_template(
                f"firmware/layers/{view.get('template', layer.kind)}.h.j2").render(**view)
            layer_views.append(dict(name=layer.name, index=i, out_shape=list(layer.out_shape),
                                    out_size=layer.out_size, summary=view["summary"],
                                    output_buffer=wiring.output_of(layer.name),
                                    keras_class=view["keras_class"], types=view["types"]))
        fixed_point = not self.graph.input_precision.is_float
        common = dict(project=self.project, version=__version__, source=self.graph.source, fixed_point=fixed_point,
                      guard=self.project.upper(), layers=layer_views, buffers=wiring.buffers,
                      calls=wiring.calls(layer_views), has_clones=wiring.has_clones,
                      input_shape=list(self.graph.input_shape),
                      output_shape=list(self.graph.output_shape))
        last = self.graph.layers[-1]
        self.files["firmware/defines.h"] = self.env.get_template("firmware/defines.h.j2").render(
            n_input=self.graph.input_size, n_output=self.graph.output_size,
            input_type=self.graph.input_precision.cpp, result_type=f"{last.name}_result_t",
            input_shape_text=str(self.graph.input_shape), output_shape_text=str(self.graph.output_shape),
            **common)
        self.files[f"firmware/{self.project}.h"] = self.env.get_template("firmware/top.h.j2").render(**common)
        self.files[f"firmware/{self.project}.cpp"] = self.env.get_template("firmware/top.cpp.j2").render(**common)
        self.files["bridge.cpp"] = self.env.get_template("bridge.cpp.j2").render(version=__version__)
        self.files["host_api.cpp"] = self.env.get_template("host_api.cpp.j2").render(**common)
        for header in sorted(cpp_dir().glob("*.h")):
            self.files[f"firmware/ikr/{header.name}"] = header.read_text()
        self._vitis_files(common)
        return self.files

    def _vitis_files(self, common: dict):
        """What Vitis HLS opens: Tcl flow, Vitis Unified config, testbench, short README."""
        config = self.config
        view = dict(common, part=config.part, clock_period=f"{config.clock_period:g}",
                    clock_uncertainty=config.clock_uncertainty, cflags=LANGUAGE_FLAGS,
                    exact=common["fixed_point"], rtol=repr(tbdata.FLOAT_RTOL), atol=repr(tbdata.FLOAT_ATOL),
                    precision=config.precision.cpp, strategy=config.strategy)
        for template, path in (("build_prj.tcl.j2", "build_prj.tcl"), ("project.tcl.j2", "project.tcl"),
                               ("hls_config.cfg.j2", "hls_config.cfg"), ("README.md.j2", "README.md"),
                               ("tb/test.cpp.j2", f"tb/{self.project}_test.cpp")):
            self.files[path] = self.env.get_template(template).render(**view)

    # -- one view per layer kind ------------------------------------------------------------
    def _layer(self, layer: Layer, in_types: list) -> dict:
        view = dict(name=layer.name, guard=f"{self.project.upper()}_{layer.name.upper()}_H",
                    in_type=in_types[0], in_types=in_types, activation=layer.activation,
                    act=_act_call(layer), version=__version__)
        view["types"] = [(role, t.cpp) for role, t in layer.precision.items()]
        view.update(getattr(self, f"_{layer.kind}")(layer))
        return view

    def _weights_file(self, layer: Layer, description: str, arrays: list[dict]):
        self.files[f"firmware/weights/{layer.name}.h"] = self.env.get_template(
            "firmware/weights/weights.h.j2").render(
                name=layer.name, description=description, arrays=arrays, version=__version__,
                guard=f"{self.project.upper()}_{layer.name.upper()}_WEIGHTS_H")

    def _literal(self, layer, role):
        hls_type = layer.precision[role]
        return lambda v: format_literal(v, hls_type)

    def _conv2d(self, layer: Layer) -> dict:
        a = layer.attrs
        h, w, c = layer.in_shape
        oh, ow, f = layer.out_shape
        kernel = layer.weights["kernel"]                       # (KH, KW, C, F)
        padded = any(a[k] for k in ("pad_top", "pad_bottom", "pad_left", "pad_right"))
        ph, pw = h + a["pad_top"] + a["pad_bottom"], w + a["pad_left"] + a["pad_right"]
        nnz = int(np.count_nonzero(kernel))
        rf = a["reuse_factor"]
        view = dict(h=h, w=w, c=c, oh=oh, ow=ow, f=f, kh=a["kh"], kw=a["kw"], sh=a["sh"], sw=a["sw"],
                    padding=a["padding"], pad_top=a["pad_top"], pad_bottom=a["pad_bottom"],
                    pad_left=a["pad_left"], pad_right=a["pad_right"], padded=padded, ph=ph, pw=pw,
                    src="padded" if padded else "in", nnz=nnz, dense_weights=kernel.size,
                    reuse_factor=rf, multipliers=-(-nnz // rf), keras_class="Conv2D", depthwise=a.get("depthwise"),
                    summary=f"Conv2D {a['kh']}x{a['kw']} {c}->{f}, {nnz}/{kernel.size} weights")
        if a.get("depthwise"):
            dense = kernel.size // c                           # the depthwise kernel's own weights
            view.update(keras_class="DepthwiseConv2D", dense_weights=dense,
                        summary=f"DepthwiseConv2D {a['kh']}x{a['kw']} x{a['depthwise']} on {c} channels, "
                                f"{nnz}/{dense} weights")
        if a.get("separable"):
            view.update(keras_class=f"SeparableConv2D ({a['separable']} half)",
                        summary=f"SeparableConv2D, {a['separable']}: " + view["summary"])
        bias = _array(f"{layer.name}_b", f"{layer.name}_bias_t", layer.weights["bias"],
                      "bias per filter", self._literal(layer, "bias"))
        if a["strategy"] == "pattern":
            view["template"] = "conv2d_pattern"
            view.update(self._pattern_groups(layer, pw, c, rf, bias))
            return view
        values, filters = [], []
        for co in range(f):
            taps = []
            for ci in range(c):
                for kh in range(a["kh"]):
                    for kw in range(a["kw"]):
                        v = kernel[kh, kw, ci, co]
                        if v != 0.0:
                            taps.append(((kh * pw + kw) * c + ci, len(values)))
                            values.append(v)
            filters.append(dict(index=co, taps=taps))
        self._weights_file(layer, f"Conv2D, {nnz} nonzero of {kernel.size}, ordered by "
                           "filter, input channel, row, column", [
            _array(f"{layer.name}_w", f"{layer.name}_weight_t", values,
                   "nonzero kernel weights only", self._literal(layer, "weight")), bias] + self._table_arrays(layer))
        view["filters"] = filters
        return view

    def _pattern_groups(self, layer: Layer, pw: int, c: int, rf: int, bias: dict) -> dict:
        """One processing element per pattern: constant tap offsets, a packed kernel table
        and the kernels' weights in tap order."""
        kernel = layer.weights["kernel"]
        kh, kw, ci_count, co_count = kernel.shape
        ci_bits = max(1, int(np.ceil(np.log2(ci_count))))
        groups, arrays = [], []
        for g, group in enumerate(layer.attrs["support_groups"]):
            positions = group["positions"]
            taps = [((p // kw) * pw + p % kw) * c for p in positions]
            packed = [(co << ci_bits) | ci for ci, co in group["kernels"]]
            weights = [kernel[p // kw, p % kw, ci, co] for ci, co in group["kernels"] for p in positions]
            n = len(group["kernels"])
            grid = np.zeros(kh * kw, dtype=bool)
            grid[positions] = True
            drawing = "/".join("".join("#" if v else "." for v in row) for row in grid.reshape(kh, kw))
            groups.append(dict(taps=taps, kernels=n, unroll=-(-n // rf), drawing=drawing))
            arrays.append(_array(f"{layer.name}_pe{g}_kernels", _index_type(max(packed) + 1), packed,
                                 f"PE {g} ({drawing}): output channel << {ci_bits} | input channel", str))
            arrays.append(_array(f"{layer.name}_pe{g}_w", f"{layer.name}_weight_t", weights,
                                 f"PE {g}: {len(positions)} weights per kernel, in tap order",
                                 self._literal(layer, "weight")))
        self._weights_file(layer, f"Conv2D grouped by pattern, {len(groups)} pattern(s)",
                           arrays + [bias] + self._table_arrays(layer))
        multipliers = sum(g["unroll"] * len(g["taps"]) for g in groups)
        return dict(groups=groups, ci_bits=ci_bits, ci_mask=(1 << ci_bits) - 1,
                    index_bits=max(1, int(np.ceil(np.log2(max(len(groups), 2))))),
                    multipliers=multipliers)

    def _dense(self, layer: Layer) -> dict:
        kernel = layer.weights["kernel"]                       # (N_IN, N_OUT)
        n_in, n_out = kernel.shape
        cols, rows = np.nonzero(kernel.T)                      # ordered by output, then input
        values = kernel[rows, cols]
        self._weights_file(layer, f"Dense, {len(values)} nonzero of {kernel.size}", self._table_arrays(layer) + [
            _array(f"{layer.name}_w", f"{layer.name}_weight_t", values, "nonzero weights only",
                   self._literal(layer, "weight")),
            _array(f"{layer.name}_w_in", _index_type(n_in), rows,
                   "input index of each nonzero weight", str),
            _array(f"{layer.name}_w_out", _index_type(n_out), cols,
                   "output index of each nonzero weight", str),
            _array(f"{layer.name}_b", f"{layer.name}_bias_t", layer.weights["bias"], "bias",
                   self._literal(layer, "bias")),
        ])
        rf = layer.attrs["reuse_factor"]
        return dict(**self._softmax_view(layer), n_in=n_in, n_out=n_out, nnz=len(values), dense_weights=kernel.size,
                    reuse_factor=rf, multipliers=max(1, -(-len(values) // rf)),
                    keras_class="Dense", summary=f"Dense {n_in}->{n_out}, {len(values)}/{kernel.size} weights")

    def _pool2d(self, layer: Layer) -> dict:
        a = layer.attrs
        h, w, c = layer.in_shape
        oh, ow, _ = layer.out_shape
        cls = "MaxPooling2D" if a["op"] == "max" else "AveragePooling2D"
        if a["op"] == "avg":
            self._weights_file(layer, "reciprocals of the window counts", [
                _array(f"{layer.name}_recip", f"{layer.name}_recip_t", tables.recip_table(layer),
                       "1 / count, count = 0 .. PH*PW (0 unused)", self._literal(layer, "recip"))])
        return dict(h=h, w=w, c=c, oh=oh, ow=ow, op=a["op"], ph=a["ph"], pw=a["pw"], sh=a["sh"],
                    sw=a["sw"], padding=a["padding"], pad_top=a["pad_top"], pad_left=a["pad_left"],
                    keras_class=cls, summary=f"{cls} {a['ph']}x{a['pw']}")

    def _global_pool2d(self, layer: Layer) -> dict:
        h, w, c = layer.in_shape
        op = layer.attrs["op"]
        cls = "GlobalMaxPooling2D" if op == "max" else "GlobalAveragePooling2D"
        if op == "avg":
            self._weights_file(layer, "the reciprocal of the pixel count", [
                _array(f"{layer.name}_recip", f"{layer.name}_recip_t", [1.0 / (h * w)],
                       f"1 / ({h} * {w})", self._literal(layer, "recip"))])
        return dict(h=h, w=w, c=c, op=op, keras_class=cls, summary=f"{cls} over {h}x{w}")

    def _pad2d(self, layer: Layer) -> dict:
        h, w, c = layer.in_shape
        a = layer.attrs
        return dict(h=h, w=w, c=c, oh=layer.out_shape[0], ow=layer.out_shape[1],
                    pad_top=a["pad_top"], pad_bottom=a["pad_bottom"], pad_left=a["pad_left"],
                    pad_right=a["pad_right"], keras_class="ZeroPadding2D",
                    summary=f"ZeroPadding2D {a['pad_top']},{a['pad_bottom']} x {a['pad_left']},{a['pad_right']}")

    def _add(self, layer: Layer) -> dict:
        if self._table_arrays(layer):
            self._weights_file(layer, "activation constants", self._table_arrays(layer))
        return dict(n=layer.out_size, n_inputs=len(layer.inputs), has_tables=bool(self._table_arrays(layer)),
                    keras_class="Add", summary=f"Add of {len(layer.inputs)} inputs")

    def _activation(self, layer: Layer) -> dict:
        view = self._softmax_view(layer)
        if self._table_arrays(layer):
            self._weights_file(layer, "lookup tables", self._table_arrays(layer))
        return dict(**view, has_tables=bool(self._table_arrays(layer)), n=layer.out_size, keras_class="Activation", summary=f"activation {layer.activation}")

    def _softmax_view(self, layer: Layer) -> dict:
        lut = layer.activation == "softmax" and "exp_table" in layer.precision
        if not lut:
            return dict(softmax_lut=False)
        return dict(softmax_lut=True, table_size=layer.attrs["table_size"], exp_shift=tables.exp_shift(layer),
                    inv_shift=layer.attrs["softmax"]["inv_shift"])

    def _table_arrays(self, layer: Layer) -> list:
        """Constants of the layer's activation: lookup tables, or a leaky ReLU's slope."""
        if layer.activation == "leaky_relu":
            return [_array(f"{layer.name}_alpha", f"{layer.name}_alpha_t", [layer.attrs["alpha"]],
                           "negative slope of the leaky ReLU", self._literal(layer, "alpha"))]
        if "act_table" in layer.precision:
            return [_array(f"{layer.name}_act_table", f"{layer.name}_act_table_t", tables.act_table(layer),
                           f"{layer.activation} at the middle of each bin", self._literal(layer, "act_table"))]
        return self._softmax_arrays(layer)

    def _softmax_arrays(self, layer: Layer) -> list:
        if not self._softmax_view(layer)["softmax_lut"]:
            return []
        return [_array(f"{layer.name}_exp_table", f"{layer.name}_exp_table_t", tables.exp_table(layer),
                       "exp(-d) at the middle of each bin of d = max - x", self._literal(layer, "exp_table")),
                _array(f"{layer.name}_inv_table", f"{layer.name}_inv_table_t", tables.inv_table(layer),
                       "1/s at the middle of each bin of the exp sum s", self._literal(layer, "inv_table"))]

    def _scale_shift(self, layer: Layer) -> dict:
        c = layer.in_shape[-1]
        self._weights_file(layer, "per-channel scale and shift", [
            _array(f"{layer.name}_scale", f"{layer.name}_weight_t", layer.weights["scale"], "scale",
                   self._literal(layer, "weight")),
            _array(f"{layer.name}_shift", f"{layer.name}_bias_t", layer.weights["shift"], "shift",
                   self._literal(layer, "bias")),
        ] + self._table_arrays(layer))
        return dict(n=layer.out_size, c=c, keras_class="BatchNormalization",
                    summary=f"scale and shift over {c} channels")


class _Wiring:
    """The buffers of the top function and who reads them.

    Each layer writes its own buffer (the last one writes `output`). A buffer read by more than
    one layer is copied once per read (ikr::clone2/clone3), so that every buffer of the
    DATAFLOW region has one producer and one consumer, as Vitis HLS requires.
    """
    _CLONE_WAYS = 3                         # widest clone in cpp/ikr_clone.h

    def __init__(self, graph: Graph):
        self.graph = graph
        last = graph.layers[-1].name
        self._types = {INPUT: "input_t", **{l.name: f"{l.name}_result_t" for l in graph.layers}}
        self._sizes = {INPUT: graph.input_size, **{l.name: l.out_size for l in graph.layers}}
        self._own = {INPUT: "input", **{l.name: "output" if l.name == last else f"{l.name}_out"
                                        for l in graph.layers}}
        reads: dict = {}                    # producer -> [(reader, position)]
        for layer in graph.layers:
            for position, name in enumerate(layer.inputs):
                reads.setdefault(name, []).append((layer.name, position))
        self._read_buffer = {}              # (reader, position) -> buffer name
        self.clones: dict = {}              # producer -> [copy buffer names]
        for producer, readers in reads.items():
            if len(readers) == 1:
                self._read_buffer[readers[0]] = self._own[producer]
                continue
            copies = []
            for reader, position in readers:
                twice = sum(r == reader for r, _ in readers) > 1
                copy = f"{self._own[producer]}_to_{reader}" + (f"_{position}" if twice else "")
                self._read_buffer[(reader, position)] = copy
                copies.append(copy)
            self.clones[producer] = copies
        self.has_clones = bool(self.clones)
        self._extra: dict = {}              # producer -> its spare and copy buffers
        self._clone_calls = {p: self._clone_chain(p, copies) for p, copies in self.clones.items()}
        self.buffers = []                   # declared next to their producer, in graph order
        for name in [INPUT] + [l.name for l in graph.layers]:
            if name not in (INPUT, last):
                self.buffers.append(dict(type=self._types[name], name=self._own[name], size=self._sizes[name]))
            self.buffers.extend(self._extra.get(name, []))

    def type_of(self, name: str) -> str:
        return self._types[name]

    def output_of(self, name: str) -> str:
        return self._own[name]

    def _clone_chain(self, producer: str, copies: list) -> list:
        """Calls that copy the producer's buffer into every copy (chained past three readers)."""
        t, n = self._types[producer], self._sizes[producer]
        extra = self._extra.setdefault(producer, [])
        source, calls, pending = self._own[producer], [], list(copies)
        while len(pending) > self._CLONE_WAYS:   # two copies now, the others from a spare copy
            spare = f"{self._own[producer]}_spare{len(calls) + 1}"
            extra.append(dict(type=t, name=spare, size=n))
            outs, pending = pending[:self._CLONE_WAYS - 1], pending[self._CLONE_WAYS - 1:]
            calls.append(f"ikr::clone{self._CLONE_WAYS}<{t}, {n}>({source}, {', '.join(outs + [spare])});")
            source = spare
        calls.append(f"ikr::clone{len(pending)}<{t}, {n}>({source}, {', '.join(pending)});")
        extra.extend(dict(type=t, name=copy, size=n) for copy in copies)
        return calls

    def calls(self, views: list) -> list:
        """The statements of the top function, in order, each with a comment (views: the
        layers' render views, in graph order)."""
        out = [dict(code=c, comment=f"the input is read {len(self.clones[INPUT])} times")
               for c in self._clone_calls.get(INPUT, [])]
        for layer, view in zip(self.graph.layers, views):
            args = [self._read_buffer[(layer.name, i)] for i in range(len(layer.inputs))]
            args.append(self._own[layer.name])
            out.append(dict(code=f"{layer.name}({', '.join(args)});", comment=view["summary"]))
            out.extend(dict(code=c, comment=f"{layer.name}'s output is read {len(self.clones[layer.name])} times")
                       for c in self._clone_calls.get(layer.name, []))
        return out


def render_project(graph: Graph, config: ProjectConfig) -> dict[str, str]:
    return _Renderer(graph, config).render()


def write_project(files: dict[str, str], output_dir, force: bool = False) -> Path:
    """Write the rendered files to output_dir, atomically.

    An existing non-empty directory is refused unless force; with force, only the files a
    previous ikr-hls run wrote there (its manifest) are replaced, nothing else is touched.
    """
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise IKRHLSError(f"{out}: exists and is not a directory")
    existing = out.is_dir() and any(out.iterdir())
    if existing and not force:
        raise IKRHLSError(f"{out}: directory exists and is not empty (use --force / force=True to overwrite)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for rel, text in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (staging / MANIFEST).write_text(json.dumps(sorted(files), indent=1) + "\n")
        if not out.exists() or not any(out.iterdir()):
            if out.exists():
                out.rmdir()
            os.replace(staging, out)
        else:
            _replace_owned_files(staging, out, files)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log.debug("wrote %d files to %s", len(files), out)
    return out


def _replace_owned_files(staging: Path, out: Path, files: dict[str, str]):
    manifest = out / MANIFEST
    previous = []
    if manifest.is_file():
        try:
            previous = json.loads(manifest.read_text())
        except ValueError:
            # keep every old file rather than guess which ones were ours
            log.warning("%s is unreadable: files of the previous project are left in place", manifest)
            previous = []
    for rel in previous:                       # files we wrote last time and no longer write
        if rel not in files and (out / rel).is_file():
            (out / rel).unlink()
    for rel in list(files) + [MANIFEST]:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / rel, target)
