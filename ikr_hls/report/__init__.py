"""The compression, storage and hardware-cost report of a converted model.

    report = build_report(graph, config, synthesis=None)   # a JSON-serialisable dict
    print(format_report(report))                           # fixed-width text
    plot_report(report, "report.png")                      # pattern grids and bar charts

`build_report` (build.py) reads the graph as the converter leaves it; `format_report`
(text.py) and `plot_report` (plot.py) read only the dict, so a report saved as JSON can be
shown again later. Every field and formula is described in docs/report.md; the latency
figures are analytic estimates, not synthesis results.
"""
from ..precision import index_bits, weight_bits
from .build import REPORT_FILE, REPORT_VERSION, build_report
from .fit import FIT_LIMIT, fit_check, fit_warning
from .plot import plot_report
from .text import MAX_DRAWN_PATTERNS, format_report

__all__ = ["build_report", "format_report", "plot_report", "REPORT_FILE", "REPORT_VERSION", "FIT_LIMIT", "fit_check",
           "fit_warning",
           "MAX_DRAWN_PATTERNS", "index_bits", "weight_bits"]
