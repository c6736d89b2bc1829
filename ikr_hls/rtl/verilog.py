"""Render a PE (see spec.py) as Verilog-2005 from the templates under templates/rtl/."""
from __future__ import annotations

import re

import jinja2

from .._version import __version__
from ..errors import IKRHLSError
from ..resources import templates_dir
from .spec import LATENCY, PESpec

DEFAULT_MODULE = {"ikr": "ikr_pe", "sparse": "sparse_pe", "dense": "dense_pe"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


def module_name(spec: PESpec, name: str | None = None) -> str:
    name = name or DEFAULT_MODULE[spec.form]
    if not _IDENTIFIER.match(name):
        raise IKRHLSError(f"PE module name {name!r} is not a Verilog identifier")
    return name


def _ikr_view(spec: PESpec) -> dict:
    bits = spec.select_bits
    slots = [[(position, ", ".join(f"{bits}'d{i}" for i in ids)) for position, ids in spec.slot_positions(s)]
             for s in range(spec.keep)]
    unused = len(spec.library) < 2 ** bits
    return dict(library=[list(p) for p in spec.library], slots=slots,
                unused_ids_note=" (larger ids name no pattern: result undefined)" if unused else "")


def render_pe(spec: PESpec, name: str | None = None) -> str:
    """Verilog text of the PE, one module named `name` (default ikr_pe, sparse_pe, dense_pe)."""
    view = dict(module=module_name(spec, name), description=spec.describe(), version=__version__,
                kh=spec.kh, kw=spec.kw, positions=spec.positions, terms=spec.keep,
                w=spec.weight_bits, a=spec.act_bits, acc=spec.acc_bits, latency=LATENCY,
                select_bits=spec.select_bits, index_bits=spec.index_bits)
    if spec.form == "ikr":
        view.update(_ikr_view(spec))
    return environment().get_template(f"rtl/pe_{spec.form}.v.j2").render(**view)
