"""Render a project from the graph with Jinja2, and write it atomically.

`render_project` returns {relative path: text}; `write_project` puts those files in place
only once all of them rendered, so a failed conversion leaves nothing half-written.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import secrets
import shutil
from pathlib import Path

import jinja2

from . import expr, tbdata
from ._version import __version__
from .axis import axis_ports
from .buildspec import SPEC_FILE, BuildSpec
from .config import ProjectConfig
from .errors import IKRHLSError
from .hardware import has_figures
from .ir import Graph
from .kinds import kind_of, template_dirs
from .resources import cpp_dir, templates_dir
from .wiring import STREAM_DEPTH

log = logging.getLogger(__name__)

# The C++ language flags of every build: host model, host csim, Vitis csim and synthesis.
LANGUAGE_FLAGS = "-std=c++14"
MANIFEST = ".ikr-hls-manifest.json"   # the files ikr-hls wrote; --force removes only these


@functools.cache
def _environment(extra_dirs: tuple = ()) -> jinja2.Environment:
    """One environment per process (and per set of template folders of kinds registered from
    outside the package): it compiles each template once and caches it."""
    return _new_environment(extra_dirs)


def _new_environment(extra_dirs: tuple = ()) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([*extra_dirs, str(templates_dir())]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["cpp"] = expr.cpp          # the plan's expressions (ikr_hls/expr.py) as C++
    return env


class _Renderer:
    def __init__(self, graph: Graph, config: ProjectConfig):
        self.graph, self.config = graph, config
        self.env = _environment(template_dirs())
        self.project = config.project_name
        self.files: dict[str, str] = {}

    def render(self) -> dict[str, str]:
        layer_views = []
        wiring = self.graph.plan.wiring
        stream = wiring.stream
        for i, layer in enumerate(self.graph.layers):
            kind = kind_of(layer)
            in_types = [wiring.type_of(name).typedef for name in layer.inputs]
            io = dict(io=self.graph.io_type,
                      in_widths=[wiring.read_width(layer, k) for k in range(len(layer.inputs))] if stream else [],
                      out_width=wiring.width_of(layer.name) if stream else 0)
            own = kind.view(layer)
            types = [(role, t.cpp) for role, t in layer.precision.items()]
            self.files[f"firmware/layers/{layer.name}.h"] = self.env.get_template(
                f"firmware/layers/{kind.template_of(layer)}.h.j2").render(
                    name=layer.name, guard=f"{self.project.upper()}_{layer.name.upper()}_H", in_type=in_types[0],
                    in_types=in_types, activation=layer.activation, **io, version=__version__, types=types,
                    **own.variables(), hw=layer.plan_cost,   # the header's figures: its io form
                    hw_figures=has_figures(layer))
            weights = kind.weights(layer)
            if weights is not None:
                self.files[f"firmware/weights/{layer.name}.h"] = self.env.get_template(
                    "firmware/weights/weights.h.j2").render(
                        name=layer.name, description=weights.description, arrays=weights.arrays,
                        version=__version__, guard=f"{self.project.upper()}_{layer.name.upper()}_WEIGHTS_H")
            layer_views.append(dict(name=layer.name, index=i, out_shape=list(layer.out_shape),
                                    out_size=layer.out_size, summary=own.summary,
                                    output_buffer=wiring.output_of(layer.name), keras_class=own.keras_class,
                                    types=types + [(role, t.cpp) for role, t in own.index_types],
                                    index_types=own.index_types))
        fixed_point = self.graph.fixed_point
        ports = [dict(name=name, pragma=wiring.all[name].partition.pragma(name, "ARRAY_RESHAPE"),
                      ap_vld=wiring.all[name].partition.scheme == "complete", width=wiring.all[name].width)
                 for name in ("input", "output")]
        buffers = [dict(type=b.type.typedef, name=b.name, size=b.size, pragma=b.partition.pragma(b.name),
                        width=b.width, depth=b.depth, why=b.why, elements=b.size // b.width if b.width else b.size)
                   for b in wiring.buffers]
        common = dict(project=self.project, version=__version__, source=self.graph.source, fixed_point=fixed_point,
                      io=self.graph.io_type, stream=stream, stream_depth=STREAM_DEPTH,
                      guard=self.project.upper(), layers=layer_views, buffers=buffers, ports=ports,
                      calls=wiring.calls(layer_views), has_clones=wiring.has_clones,
                      index_fields=any(view["index_types"] for view in layer_views),
                      input_shape=list(self.graph.input_shape),
                      axis=axis_ports(self.graph) if self.config.side_channels else None,
                      output_shape=list(self.graph.output_shape))
        last = self.graph.layers[-1]
        self.files["firmware/defines.h"] = self.env.get_template("firmware/defines.h.j2").render(
            n_input=self.graph.input_size, n_output=self.graph.output_size,
            input_type=self.graph.input_type.cpp, result_type=f"{last.name}_result_t",
            input_shape_text=str(self.graph.input_shape), output_shape_text=str(self.graph.output_shape),
            **common)
        self.files[f"firmware/{self.project}.h"] = self.env.get_template("firmware/top.h.j2").render(**common)
        self.files[f"firmware/{self.project}.cpp"] = self.env.get_template(
            "firmware/top_stream.cpp.j2" if stream else "firmware/top.cpp.j2").render(**common)
        self.files["bridge.cpp"] = render_bridge()
        self.files["host_api.cpp"] = self.env.get_template("host_api.cpp.j2").render(**common)
        for header in sorted(cpp_dir().glob("*.h")):
            self.files[f"firmware/ikr/{header.name}"] = header.read_text()
        self._vitis_files(common)
        self.files[SPEC_FILE] = build_spec(self.graph, self.project, self.config.side_channels).to_json()
        return self.files

    def _vitis_files(self, common: dict):
        """What Vitis HLS opens: Tcl flow, Vitis Unified config, testbench, short README."""
        config = self.config
        view = dict(common, part=config.part, clock_period=f"{config.clock_period:g}",
                    clock_uncertainty=config.clock_uncertainty,
                    cflags=LANGUAGE_FLAGS + (" -DIKR_VITIS_HLS_STREAM" if common["stream"] else ""),
                    exact=common["fixed_point"], rtol=repr(tbdata.FLOAT_RTOL), atol=repr(tbdata.FLOAT_ATOL),
                    precision=config.precision.cpp, strategy=config.strategy)
        for template, path in (("build_prj.tcl.j2", "build_prj.tcl"), ("project.tcl.j2", "project.tcl"),
                               ("hls_config.cfg.j2", "hls_config.cfg"), ("README.md.j2", "README.md"),
                               ("tb/test.cpp.j2", f"tb/{self.project}_test.cpp")):
            self.files[path] = self.env.get_template(template).render(**view)


def build_spec(graph: Graph, project: str, side_channels: bool = False) -> BuildSpec:
    """What a host build needs to know of the project (buildspec.py), from the graph."""
    typedefs = [("input_t", graph.input_type)] + [(f"{layer.name}_{role}_t", t) for layer in graph.layers
                                                  for role, t in layer.precision.items()]
    return BuildSpec(project, graph.fixed_point, graph.io_type == "io_stream",
                     tuple(name for name, t in typedefs if t.is_float), f"{project}_axi" if side_channels else "")


def render_project(graph: Graph, config: ProjectConfig) -> dict[str, str]:
    return _Renderer(graph, config).render()


def write_project(files: dict[str, str], output_dir, force: bool = False) -> Path:
    """Write the rendered files to output_dir, atomically, with the permissions the umask gives
    (a shared disk's teammates read them as they read any file the user makes).

    An existing non-empty directory is refused unless force; with force, only the files a
    previous ikr-hls run wrote there (its manifest) are replaced, nothing else is touched; a
    file edited since ikr-hls wrote it is kept as `<file>.orig` first, with a warning.
    """
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise IKRHLSError(f"{out}: exists and is not a directory")
    existing = out.is_dir() and any(out.iterdir())
    if existing and not force:
        raise IKRHLSError(f"{out}: directory exists and is not empty (use --force, convert(..., force=True) "
                          "or write(force=True) to overwrite)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging_dir(out)
    try:
        digests = {}
        for rel, text in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            digests[rel] = _digest(path)
        (staging / MANIFEST).write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
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


def _staging_dir(out: Path) -> Path:
    """A new empty directory beside `out`, made as mkdir makes directories (mode 0777 less the
    umask), not 0700 as tempfile.mkdtemp does: it becomes `out` when `out` is new."""
    for _ in range(100):
        path = out.parent / f".{out.name}.{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise IKRHLSError(f"{out.parent}: cannot make a staging directory beside {out.name}")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_manifest(manifest: Path) -> dict:
    """{relative path: sha256 of what ikr-hls wrote}; a manifest of an older ikr-hls (a list of
    paths) has no digests (None: edits cannot be told)."""
    if not manifest.is_file():
        return {}
    try:
        data = json.loads(manifest.read_text())
    except ValueError:
        # keep every old file rather than guess which ones were ours
        log.warning("%s is unreadable: files of the previous project are left in place", manifest)
        return {}
    if isinstance(data, list):
        return {str(rel): None for rel in data}
    return {str(rel): digest for rel, digest in data.items()} if isinstance(data, dict) else {}


def _replace_owned_files(staging: Path, out: Path, files: dict[str, str]):
    previous = _read_manifest(out / MANIFEST)
    kept = []
    for rel, digest in previous.items():        # a file we wrote and the user edited since: keep a copy
        target = out / rel
        if digest is None or not target.is_file() or _digest(target) == digest:
            continue
        if rel in files and (staging / rel).read_bytes() == target.read_bytes():
            continue                            # the edit is what we write now
        copy = _free_name(target.with_name(target.name + ".orig"))
        shutil.copy2(target, copy)
        kept.append(f"{rel} (copy: {copy.relative_to(out)})")
    if kept:
        log.warning("%s: %d file(s) changed since ikr-hls wrote them; --force replaces them, the edited "
                    "versions are kept: %s", out, len(kept), ", ".join(kept))
    for rel in previous:                       # files we wrote last time and no longer write
        if rel not in files and (out / rel).is_file():
            (out / rel).unlink()
    for rel in list(files) + [MANIFEST]:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / rel, target)


def _free_name(path: Path) -> Path:
    """path, or path.1, path.2, ... : a name no file has yet (an earlier copy is never overwritten)."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


def render_bridge() -> str:
    """bridge.cpp: the pybind11 bridge, the same for every project (hostbuild compiles it once)."""
    return _environment().get_template("bridge.cpp.j2").render(version=__version__)
