"""Render a project from the graph with Jinja2, and write it atomically.

`render_project` returns {relative path: text}; `write_project` puts those files in place
only once all of them rendered, so a failed conversion leaves nothing half-written.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import jinja2

from . import tbdata
from ._version import __version__
from .config import ProjectConfig
from .errors import IKRHLSError
from .ir import INPUT, Graph
from .kinds import kind_of
from .resources import cpp_dir, templates_dir

log = logging.getLogger(__name__)

# The C++ language flags of every build: host model, host csim, Vitis csim and synthesis.
LANGUAGE_FLAGS = "-std=c++14"
MANIFEST = ".ikr-hls-manifest.json"   # the files ikr-hls wrote; --force removes only these


@functools.cache
def _environment() -> jinja2.Environment:
    """One environment per process: it compiles each template once and caches it."""
    return _new_environment()


def _new_environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


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
            kind = kind_of(layer)
            in_types = [wiring.type_of(name) for name in layer.inputs]
            view = dict(name=layer.name, guard=f"{self.project.upper()}_{layer.name.upper()}_H",
                        in_type=in_types[0], in_types=in_types, activation=layer.activation,
                        version=__version__, types=[(role, t.cpp) for role, t in layer.precision.items()],
                        **kind.view(layer))
            self.files[f"firmware/layers/{layer.name}.h"] = self.env.get_template(
                f"firmware/layers/{kind.template(layer)}.h.j2").render(**view)
            weights = kind.weights(layer)
            if weights is not None:
                self.files[f"firmware/weights/{layer.name}.h"] = self.env.get_template(
                    "firmware/weights/weights.h.j2").render(
                        name=layer.name, description=weights.description, arrays=weights.arrays,
                        version=__version__, guard=f"{self.project.upper()}_{layer.name.upper()}_WEIGHTS_H")
            layer_views.append(dict(name=layer.name, index=i, out_shape=list(layer.out_shape),
                                    out_size=layer.out_size, summary=view["summary"],
                                    output_buffer=wiring.output_of(layer.name),
                                    keras_class=view["keras_class"], types=view["types"]))
        fixed_point = self.graph.fixed_point
        common = dict(project=self.project, version=__version__, source=self.graph.source, fixed_point=fixed_point,
                      guard=self.project.upper(), layers=layer_views, buffers=wiring.buffers,
                      calls=wiring.calls(layer_views), has_clones=wiring.has_clones,
                      input_shape=list(self.graph.input_shape),
                      output_shape=list(self.graph.output_shape))
        last = self.graph.layers[-1]
        self.files["firmware/defines.h"] = self.env.get_template("firmware/defines.h.j2").render(
            n_input=self.graph.input_size, n_output=self.graph.output_size,
            input_type=self.graph.input_type.cpp, result_type=f"{last.name}_result_t",
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
        source, pending = self._own[producer], list(copies)
        calls: list[dict] = []
        while len(pending) > self._CLONE_WAYS:   # two copies now, the others from a spare copy
            spare = f"{self._own[producer]}_spare{len(calls) + 1}"
            extra.append(dict(type=t, name=spare, size=n))
            outs, pending = pending[:self._CLONE_WAYS - 1], pending[self._CLONE_WAYS - 1:]
            calls.append(_call(f"ikr::clone{self._CLONE_WAYS}", [source, *outs, spare], [t, n]))
            source = spare
        calls.append(_call(f"ikr::clone{len(pending)}", [source, *pending], [t, n]))
        extra.extend(dict(type=t, name=copy, size=n) for copy in copies)
        return calls

    def calls(self, views: list) -> list:
        """The statements of the top function, in order, each with a comment (views: the
        layers' render views, in graph order)."""
        out = [dict(c, comment=f"the input is read {len(self.clones[INPUT])} times")
               for c in self._clone_calls.get(INPUT, [])]
        for layer, view in zip(self.graph.layers, views, strict=True):
            args = [self._read_buffer[(layer.name, i)] for i in range(len(layer.inputs))]
            out.append(dict(_call(layer.name, [*args, self._own[layer.name]]), comment=view["summary"]))
            out.extend(dict(c, comment=f"{layer.name}'s output is read {len(self.clones[layer.name])} times")
                       for c in self._clone_calls.get(layer.name, []))
        return out


def _call(function: str, args: list, template_args=()) -> dict:
    """A call of the top function: `function<template_args>(args);` (rendered by top.cpp.j2)."""
    return dict(function=function, template_args=[str(a) for a in template_args], args=args)


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
