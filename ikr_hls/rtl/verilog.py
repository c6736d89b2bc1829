"""Render a PE (see spec.py) as Verilog-2005 from the templates under templates/rtl/."""
from __future__ import annotations

import re

import jinja2

from .._version import __version__
from ..errors import IKRHLSError
from ..resources import templates_dir
from .spec import LATENCY, PESpec

DEFAULT_MODULE = {"ikr": "ikr_pe", "sparse": "sparse_pe", "dense": "dense_pe", "rom": "ikr_rom_pe"}
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
    bits = spec.pattern_bits
    slots = [[(position, ", ".join(f"{bits}'d{i}" for i in ids)) for position, ids in spec.slot_positions(s)]
             for s in range(spec.keep)]
    unused = len(spec.library) < 2 ** bits
    return dict(library=[list(p) for p in spec.library], slots=slots, pattern_bits=bits,
                unused_ids_note=" (larger ids name no pattern: result undefined)" if unused else "")


def _rom_word(r: int, slot, spec: PESpec) -> dict:
    """One ROM word for the template: the cycle, its pattern id and its weights as one hex
    number (weight i at bits [i*W +: W], two's complement), with a readable note."""
    if slot is None:
        pattern, weights, note = 0, [0] * spec.keep, "idle (weights 0, pattern 0)"
    else:
        pattern, weights = slot
        note = f"pattern {pattern}, weights {', '.join(map(str, weights))}"
    mask = (1 << spec.weight_bits) - 1
    word = sum((w & mask) << (i * spec.weight_bits) for i, w in enumerate(weights))
    return dict(r=r, pattern=pattern, hex=f"{word:0{(spec.keep * spec.weight_bits + 3) // 4}x}", note=note)


def _rom_view(spec: PESpec) -> dict:
    view = _ikr_view(spec)
    unused = spec.depth < 2 ** spec.select_bits
    view.update(depth=spec.depth, stage1="input registers: the window, and the ROM word of the cycle",
                rom_words=[_rom_word(r, slot, spec) for r, slot in enumerate(spec.rom)],
                unused_cycles_note=" (larger values name no kernel: result undefined)" if unused else "")
    return view


def render_pe(spec: PESpec, name: str | None = None) -> str:
    """Verilog text of the PE, one module named `name` (default ikr_pe, sparse_pe, dense_pe,
    ikr_rom_pe)."""
    view = dict(module=module_name(spec, name), description=spec.describe(), version=__version__,
                kh=spec.kh, kw=spec.kw, positions=spec.positions, terms=spec.keep,
                w=spec.weight_bits, a=spec.act_bits, acc=spec.acc_bits, latency=LATENCY,
                select_bits=spec.select_bits, index_bits=spec.index_bits, stage1="input registers")
    if spec.form == "ikr":
        view.update(_ikr_view(spec))
    elif spec.form == "rom":
        view.update(_rom_view(spec))
    return environment().get_template(f"rtl/pe_{spec.form}.v.j2").render(**view)
