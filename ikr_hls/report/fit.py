"""Will it fit? The report's resource estimate against the part's totals (ikr_hls/parts.json):
`totals.fit` in the report, and the one warning line that `convert` and `report` print when
the estimate takes more than `limit` (default FIT_LIMIT) of any resource of the part, naming the
layers that take most of it and what to change.
"""
from __future__ import annotations

from ..parts import RESOURCES, lookup

FIT_LIMIT = 0.8                  # a design above 80% of a resource rarely routes at its clock
NAMES = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram_18k": "BRAM_18K"}
SHOWN_LAYERS = 3


def fit_check(estimate: dict | None, part: str, limit: float = FIT_LIMIT) -> dict:
    """{part, device, available, estimate, use, fits, over, limit}: `use` the share of each
    resource, `fits` whether every share is at most `limit` (None when the part is unknown or
    the design is not priced: floating point), `over` the resources above it."""
    device = lookup(part)
    out: dict = {"part": part, "device": device.device if device else None,
           "available": device.available() if device else None, "estimate": estimate, "use": None,
           "fits": None, "over": [], "limit": limit}
    if device is None or estimate is None:
        return out
    use = {k: estimate[k] / device.available()[k] if device.available()[k] else float("inf") for k in RESOURCES}
    over = [k for k in RESOURCES if use[k] > limit]
    return dict(out, use=use, fits=not over, over=over)


def _advice(resource: str, parts: dict, layer: dict) -> str:
    """What to change for the layer that takes most of `resource`, by what takes it there."""
    top = max(parts, key=lambda p: parts[p].get(resource, 0)) if parts else "products"
    if top == "products" and resource == "dsp":
        return "raise the reuse factor (reuse_factor='auto' picks one per layer that fits)"
    if top == "products":
        return ("raise the reuse factor (reuse_factor='auto' picks one per layer that fits), or narrow the weight "
                "type")
    if top == "memories":
        return "narrow the types of the buffers and tables, or raise the reuse factor (fewer ROM copies)"
    if top in ("adders", "comparators", "registers"):
        return "narrow the accumulator and result types, or prune more (fewer terms to add)"
    return "raise the reuse factor (reuse_factor='auto')"


def fit_warning(report: dict) -> str | None:
    """One line when the estimate exceeds the limit of some resource of a known part; or when
    the part is unknown (no fit check); None otherwise (and for a floating-point design)."""
    fit = report["totals"].get("fit")
    if not fit or fit.get("estimate") is None:
        return None
    if fit["device"] is None:
        return (f"part {fit['part']}: not in ikr-hls's table of parts (ikr_hls/parts.json), so no fit check; its "
                "operators are priced as its family's")
    if fit["fits"]:
        return None
    over = []
    for k in fit["over"]:
        layers = sorted(report["layers"], key=lambda l: -(l["resources_estimate"] or {}).get(k, 0))
        total = fit["estimate"][k] or 1
        mostly = ", ".join(f"{l['name']} {100 * (l['resources_estimate'] or {}).get(k, 0) / total:.0f}%"
                           for l in layers[:SHOWN_LAYERS] if (l["resources_estimate"] or {}).get(k, 0))
        over.append(f"{NAMES[k]} {fit['estimate'][k]:,} of {fit['available'][k]:,} ({100 * fit['use'][k]:.0f}%)"
                    + (f", mostly {mostly}" if mostly else ""))
    worst = max(fit["over"], key=lambda k: fit["use"][k])
    top = max(report["layers"], key=lambda l: (l["resources_estimate"] or {}).get(worst, 0))
    advice = _advice(worst, top.get("resources_by_part") or {}, top)
    return (f"the estimate exceeds {100 * fit['limit']:.0f}% of {fit['device']}: " + "; ".join(over)
            + f"; {advice}")
