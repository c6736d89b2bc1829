"""The report as fixed-width text: layer tables, totals, the synthesis figures beside the
estimates when present, pattern libraries as grids, notes. Reads only the report dict, so a
report saved as JSON can be shown again."""
from __future__ import annotations

from ..patterns import draw_library

MAX_DRAWN_PATTERNS = 16        # patterns drawn per conv layer, in the text and in the plot
_SYNTH_RESOURCES = ("DSP", "LUT", "FF", "BRAM_18K", "URAM")



def _n(value) -> str:
    return "-" if value is None else f"{value:,}"


def _x(value) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape)


def _table(header, rows, total=None) -> list:
    all_rows = [header] + rows + ([total] if total else [])
    widths = [max(len(str(r[i])) for r in all_rows) for i in range(len(header))]

    def line(r):
        cells = [str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        return "  ".join(cells).rstrip()

    rule = line(["-" * w for w in widths])
    out = [line(header), rule] + [line(r) for r in rows]
    if total:
        out += [rule, line(total)]
    return out


def _bits(value) -> str:
    return "-" if value is None else f"{value:g}"


def format_report(report: dict) -> str:
    """The report as fixed-width text: layer tables, totals, synthesis figures beside the
    estimates when present, conv pattern libraries as grids, notes."""
    layers, t = report["layers"], report["totals"]
    overrides = report.get("layer_strategies") or {}          # layers whose config chose another strategy
    strategy = report["strategy"] + (f" ({', '.join(f'{n}: {s}' for n, s in overrides.items())})" if overrides else "")
    auto = report["precision"].startswith("auto")             # precision="auto": types per layer, below
    types = f"types {report['precision']}" if auto else f"default type {report['precision']}"
    out = [f"ikr-hls report: {report['project']} (from {report['source']})",
           f"{report.get('io_type', 'io_parallel')}, {types}, strategy {strategy}, "
           "reuse factor "
           f"{report['reuse_factor']}, clock {report['clock_period_ns']:g} ns"
           + (f", part {report['part']}" if report.get("part") else ""), ""]

    out.append("Compression (params include biases; MACs per inference)")
    rows: list[tuple] = []
    for l in layers:
        keep = pats = idx = "-"
        if "patterns" in l:                              # a layer with a pattern library
            size = l["kernel_size"][0] * l["kernel_size"][1]
            keep = f"{l['keep']}/{size}" if l["regular"] else "irregular"
            pats, idx = str(l["library_size"]), str(l["index_bits"])
        kind = "depthwise" if l.get("depthwise_multiplier") else l["kind"]
        rows.append((l["name"], kind, f"{_shape(l['in_shape'])} -> {_shape(l['out_shape'])}",
                     f"{_n(l['params_nonzero'])}/{_n(l['params_dense'])}",
                     "-" if l["macs_dense"] is None else f"{_n(l['macs_pruned'])}/{_n(l['macs_dense'])}",
                     keep, pats, idx))
    total: tuple = ("total", "", "",
             f"{_n(t['params_nonzero'])}/{_n(t['params_dense'])} ({_x(t['params_reduction'])})",
             f"{_n(t['macs_pruned'])}/{_n(t['macs_dense'])} ({_x(t['macs_reduction'])})", "", "", "")
    out += _table(("layer", "kind", "shape", "params nonzero/dense", "MACs pruned/dense",
                   "keep", "patterns", "index bits"), rows, total)

    out += ["", "Storage (weight bits) and hardware cost (latency: the model's estimate, cycles)"]
    rows = []
    for l in layers:
        s = l["storage_bits"] or {}
        bits = l.get("bits") or {}
        rows.append((l["name"], l["weight_type"] or "-", l.get("result_type") or "-", _bits(bits.get("weight")),
                     _bits(bits.get("result")), _n(s.get("dense")),
                     _n(s.get("ikr")), _n(s.get("csr")), l["strategy"] or "-", _n(l["reuse_factor"]),
                     _n(l["multipliers"]), _n(l["latency_estimate_cycles"])))
    s, r = t["storage_bits"], t["storage_reduction"]
    mean = t.get("bits_mean") or {}
    total = ("total", "", "", _bits(mean.get("weight")), _bits(mean.get("activation")), _n(s["dense"]),
             f"{_n(s['ikr'])} ({_x(r['ikr'])})", f"{_n(s['csr'])} ({_x(r['csr'])})", "", "", _n(t["multipliers"]),
             _n(t["latency_estimate_cycles"]))
    out += _table(("layer", "weight type", "result type", "w bits", "r bits", "dense bits", "IKR bits", "CSR bits",
                   "strategy", "reuse", "multipliers", "latency est."), rows, total)
    out.append("  w bits, r bits: mean bits per nonzero weight and per result value as converted (a quantization-"
               "aware model's own widths: docs/fixed_point.md); the total's r bits: per activation value")

    out += ["", "Hardware (ikr_hls model of the generated code: II and steps of each layer's pipelined loop,",
            "latency = steps x II + pipeline depth; registers, RAM and ROM in bits)"]
    rows = [(l["name"], l["kind"], _n(l.get("ii")), _n(l.get("iterations")), _n(l["latency_estimate_cycles"]),
             _n(l["multipliers"]), _n(l.get("registers_bits")), _n(l.get("ram_bits")), _n(l.get("rom_bits")))
            for l in layers]
    total = ("total", "", "", "", _n(t["latency_estimate_cycles"]), _n(t["multipliers"]),
             _n(t.get("registers_bits")), _n(t.get("ram_bits")), _n(t.get("rom_bits")))
    out += _table(("layer", "kind", "II", "steps", "latency", "multipliers", "registers", "RAM", "ROM"),
                  rows, total)
    if report.get("fifos") is not None:
        sizing = " (every FIFO its whole tensor: --fifo-depth full)" if report.get("fifo_depth") == "full" else ""
        out.append(f"  totals include the DATAFLOW FIFOs{sizing}: {_n(t['buffer_ram_bits'])} RAM bits")
        out += _format_fifos(report["fifos"])
    elif t.get("buffer_registers_bits") is not None:
        out.append(f"  totals include the DATAFLOW buffers (ping-pong: two frames each, more for skip copies): "
                   f"{_n(t['buffer_registers_bits'])} register bits, {_n(t['buffer_ram_bits'])} RAM bits")

    out += _format_resources(report)

    out += ["", "Totals"]

    def kib(bits: int) -> str:
        return f"{bits / 8192:,.1f} KiB" if bits >= 8192 else f"{-(-bits // 8):,} bytes"

    items = [
        ("parameters", f"{_n(t['params_nonzero'])} nonzero of {_n(t['params_dense'])} "
                       f"(dense / nonzero = {_x(t['params_reduction'])})"),
        ("MACs", f"{_n(t['macs_pruned'])} of {_n(t['macs_dense'])} "
                 f"(dense / pruned = {_x(t['macs_reduction'])})"),
        ("storage dense", f"{_n(s['dense'])} bits ({kib(s['dense'])})"),
        ("storage IKR", f"{_n(s['ikr'])} bits ({kib(s['ikr'])}; dense / IKR = {_x(r['ikr'])})"),
        ("storage CSR", f"{_n(s['csr'])} bits ({kib(s['csr'])}; dense / CSR = {_x(r['csr'])})"),
        ("bias storage", f"{_n(t['bias_bits'])} bits (dense in every scheme)"),
        ("multipliers", _n(t["multipliers"])),
        ("latency (estimate)", f"{_n(t['latency_estimate_cycles'])} cycles"
         + (f" = {t['latency_estimate_ns'] / 1000:,.2f} us at {report['clock_period_ns']:g} ns"
            if t.get("latency_estimate_ns") else "")),
        ("interval (estimate)", f"{_n(t['interval_estimate_cycles'])} cycles (DATAFLOW: the slowest process)"),
    ]
    width = max(len(k) for k, _ in items)
    out += [f"  {k.ljust(width)}  {v}" for k, v in items]

    if report.get("synthesis"):
        out += [""] + _format_synthesis(report["synthesis"], t)

    for l in layers:
        if l.get("patterns"):
            out += [""] + _draw_patterns(l)

    if report.get("notes"):
        out += ["", "Notes"] + [f"  - {n}" for n in report["notes"]]
    return "\n".join(out) + "\n"


def _format_fifos(fifos: list) -> list:
    """io_stream: every FIFO between the processes, its depth and why."""
    out = ["", "FIFOs (io_stream; depth in elements: 2 by default, a fork's copy as deep as the lag of the",
           "fork's other branches needs where they merge, proven free of deadlock by ikr_hls/stream_depths.py)"]
    rows = [(f["name"], f["why"], _n(f["depth"]), _n(f["elements"]), _n(f["width"]), _n(f["bits"])) for f in fifos]
    return out + _table(("stream", "why", "depth", "of elements", "width", "bits"), rows,
                        ("total", "", "", "", "", _n(sum(f["bits"] for f in fifos))))


def _format_resources(report: dict) -> list:
    """Per layer and in total: estimated LUT, FF, DSP and BRAM_18K (fpga_estimate), the products
    where the code binds them; the fit against the part."""
    t = report["totals"]
    if t.get("resources_estimate") is None:
        return ["", "Resources: no estimate for floating-point types (Vitis builds floating-point cores;",
                "convert with an ap_fixed precision for hardware)."] if "resources_estimate" in t else []
    source = t.get("resources_estimate_source") or {}
    out = ["", "Resources: ESTIMATES from open-source synthesis of every operator "
           f"(yosys, {source.get('family', '?')}), not Vitis results",
           f"  (the hardware model priced with {source.get('table', '?')}: {source.get('yosys', '?')};",
           f"  regenerate with: {source.get('command', '?')}; how far to trust them: docs/report.md)"]
    keys = ("lut", "ff", "dsp", "bram_18k")
    rows = [(l["name"], l["kind"], l.get("strategy") or "-", _n(l.get("reuse_factor")), l.get("binding") or "-",
             *(_n(l["resources_estimate"][k]) for k in keys)) for l in report["layers"]]
    total = t["resources_estimate"]
    out += _table(("layer", "kind", "strategy", "reuse", "products", "LUT", "FF", "DSP", "BRAM_18K"), rows,
                  ("total", "with buffers", "", "", "", *(_n(total[k]) for k in keys)))
    out += _format_fit(t.get("fit"))
    return out


def _format_fit(fit: dict | None) -> list:
    if not fit:
        return []
    if fit.get("available") is None:
        return [f"  part {fit['part']}: not in ikr_hls/parts.json, no fit check"]
    use = ", ".join(f"{k.upper()} {100 * fit['use'][k]:.1f}%" for k in ("lut", "ff", "dsp", "bram_18k"))
    verdict = "fits" if fit["fits"] else "does NOT fit"
    return [f"  {fit['device']} ({fit['part']}): {use} of the part; {verdict} within {100 * fit['limit']:.0f}%"]


def _format_synthesis(syn: dict, t: dict) -> list:
    def span(lo, hi):
        if lo is None and hi is None:
            return "-"
        if lo == hi or hi is None or lo is None:
            return _n(lo if lo is not None else hi)
        return f"{_n(lo)} .. {_n(hi)}"

    def num(v, fmt="{:g}"):
        return "-" if v is None else fmt.format(v)

    rows = [("latency (cycles)", span(syn.get("latency_best"), syn.get("latency_worst")),
             _n(t["latency_estimate_cycles"])),
            ("interval (cycles)", span(syn.get("interval_min"), syn.get("interval_max")),
             _n(t["interval_estimate_cycles"])),
            ("clock (ns)", f"{num(syn.get('estimated_clock_ns'))} (target {num(syn.get('target_clock_ns'))})", "-"),
            ("DSP", _n((syn.get("resources") or {}).get("DSP")), f"{_n(t['multipliers'])} multipliers")]
    out = ["Vitis HLS synthesis (csynth) beside the estimate"]
    out += _table(("", "synthesis", "estimate"), rows)
    resources, available = syn.get("resources") or {}, syn.get("available") or {}
    names = [k for k in _SYNTH_RESOURCES if k in resources or k in available]
    names += [k for k in resources if k not in names]
    if names:
        estimate = t.get("resources_estimate") or {}
        res_rows = []
        for k in names:
            used, avail = resources.get(k), available.get(k)
            pct = f"{100.0 * used / avail:.1f}%" if used is not None and avail else "-"
            res_rows.append((k, _n(used), _n(avail), pct, _n(estimate.get(k.lower()))))
        out += [""] + _table(("resource", "used", "available", "use", "estimate (yosys operators)"), res_rows)
    return out


def _draw_patterns(l: dict) -> list:
    kh, kw = l["kernel_size"]
    head = (f"{l['name']}: {l['library_size']} pattern(s) of {l['keep']}/{kh * kw}" if l["regular"]
            else f"{l['name']}: irregular, {l['library_size']} distinct supports")
    head += f", index {l['index_bits']} bit(s); kernels using each ('#' kept, '.' pruned)"
    if l["kernels_removed"]:
        head += f"; {l['kernels_removed']} of {l['kernels']} kernels removed"
    library = [p["grid"] for p in l["patterns"]]
    return [head] + draw_library(library, [p["kernels"] for p in l["patterns"]], MAX_DRAWN_PATTERNS)


def _compact_number(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:.3g}M"
    if v >= 1e4:
        return f"{v / 1e3:.3g}k"
    return f"{int(v):,}"
