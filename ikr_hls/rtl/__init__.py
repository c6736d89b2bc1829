"""Gate-level evidence for the IKR processing element (PE): synthesizable Verilog of one conv
PE in four forms (IKR, unstructured sparse, dense, and the `pe` strategy's IKR PE with its ROM
of R kernels), its bit-exact numpy reference, simulation with Icarus Verilog and synthesis with
yosys (Debian packages `yosys` and `iverilog`).

    spec = ikr_pe(patterns_from_kernel(kernel).library, weight_bits=8, act_bits=8)
    verilog = render_pe(spec)
    expected = pe_output(spec, window, weights, pattern_ids)
    assert (simulate_pe(spec, window, weights, pattern_ids) == expected).all()
    synthesize_pe(spec, dsp=False).lut

    rom = rom_pe_of_plan(conv_pe.plan(kernel, R), pe, kernel_codes)   # weights=None, select=cycles
    assert (simulate_pe(rom, window, None, cycles) == pe_output(rom, window, None, cycles)).all()

pe_synthesis.json beside this file holds the measured table of bench/pe_synthesis.py
(`load_measured_table`).
"""
from .measured import load_measured_table
from .reference import pe_output
from .simulate import random_vectors, simulate_pe
from .spec import (
    FORMS,
    LATENCY,
    PESpec,
    dense_pe,
    ikr_pe,
    library_from_positions,
    random_library,
    random_rom,
    rom_pe,
    rom_pe_of_plan,
    sparse_pe,
)
from .synthesis import SynthesisResult, synthesize_pe
from .tools import INSTALL_HINT, find_tool, yosys_version
from .verilog import render_pe

__all__ = ["FORMS", "LATENCY", "PESpec", "ikr_pe", "sparse_pe", "dense_pe", "rom_pe", "rom_pe_of_plan",
           "random_library", "random_rom", "library_from_positions", "render_pe", "pe_output", "simulate_pe",
           "random_vectors", "synthesize_pe", "SynthesisResult", "find_tool", "yosys_version", "INSTALL_HINT",
           "load_measured_table"]
