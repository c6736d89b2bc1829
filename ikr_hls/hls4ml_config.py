"""hls4ml's config, read as ikr-hls's (docs/configuration.md, "hls4ml configs").

A config that hls4ml wrote (`hls4ml.utils.config_from_keras_model`, any granularity) or a
user kept from an hls4ml project converts as it is:

- spellings that mean the same thing are translated: `Precision: {default: T}` at Model
  level; `Strategy: Latency` (every product its own multiplier at reuse factor 1) ->
  `unrolled` and `Resource` (built to share multipliers over R cycles) -> `pe`, any case; the
  role `table` (a sigmoid or tanh table) -> `act_table`; a whole hls4ml project file's
  `HLSConfig` section; type spellings such as `fixed<16,6>` are parsed by precision.parse_type;
- what has no meaning here is dropped, and ONE warning lists it: project keys (OutputDir,
  Backend, ...), BramFactor, Trace/TraceOutput (hls.trace records every layer), types left
  `auto` for hls4ml to infer (here: the model's type, or `--precision auto` to calibrate), and
  entries left empty by that (hls4ml's entries for activations fused into their layer here,
  Flatten, ...);
- anything else still raises, naming the key, as any ikr-hls config does.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

STRATEGY = {"latency": "unrolled", "resource": "pe"}
ROLES = {"table": "act_table"}
# hls4ml keys with no meaning in ikr-hls, and why (for the warning)
NO_MEANING = {
    "BramFactor": "weights are always constants or ROMs here",
    "TraceOutput": "hls.trace(x) records every layer",
    "Trace": "hls.trace(x) records every layer",
    "ConvImplementation": "the conv form is the strategy here",
    "ParallelizationFactor": "the reuse factor sets the sharing here",
    "PipelineStyle": "every layer is one pipelined loop here",
    "PipelineInterval": "the II follows the reuse factor here",
}
PROJECT_KEYS = ("OutputDir", "ProjectName", "Backend", "KerasJson", "KerasH5", "KerasModel", "InputData",
                "OutputPredictions", "Version", "Stamp", "WriterConfig", "XilinxPart", "Board")


def translate(config: dict, source: str) -> dict:
    """The config with hls4ml's spellings translated and what has no meaning dropped (one
    warning lists it). A config without any of them comes back unchanged."""
    dropped: list = []
    emptied: dict = {}                                   # group -> names of entries left with nothing
    out = dict(config)
    if isinstance(out.get("HLSConfig"), dict):           # a whole hls4ml project file
        inner = out.pop("HLSConfig")
        out = {**out, **inner}
    for key in PROJECT_KEYS:
        if key in out:
            out.pop(key)
            dropped.append(f"{key} (a convert() argument here)")
    if isinstance(out.get("Model"), dict):
        out["Model"] = _settings(out["Model"], "Model", dropped, model=True)
    for group in ("LayerName", "LayerType"):
        if isinstance(out.get(group), dict):
            entries = {}
            for name, entry in out[group].items():
                if not isinstance(entry, dict):
                    entries[name] = entry                   # load_config says what is wrong
                    continue
                kept = _settings(entry, f"{group}.{name}", dropped, model=False)
                if kept or not entry:
                    entries[name] = kept
                else:
                    emptied.setdefault(group, []).append(str(name))
            out[group] = entries
    dropped += [f"{group} entries left with nothing to set: {', '.join(names)}" for group, names in emptied.items()]
    if dropped:
        log.warning("%s: hls4ml settings with no meaning in ikr-hls, ignored: %s", source, "; ".join(_grouped(dropped)))
    return out


def _settings(entry: dict, where: str, dropped: list, model: bool) -> dict:
    out = {}
    for key, value in entry.items():
        if key in NO_MEANING:
            dropped.append(f"{key} ({NO_MEANING[key]})")
        elif key == "Strategy" and isinstance(value, str) and value.strip().lower() in STRATEGY:
            out[key] = STRATEGY[value.strip().lower()]
        elif key == "Precision":
            precision = _precision(value, f"{where}.Precision", dropped, model)
            if precision is not _DROP:
                out[key] = precision
        else:
            out[key] = value
    return out


_DROP = object()                                          # a Precision with nothing left to set


def _precision(value, where: str, dropped: list, model: bool):
    """The Precision value translated, or _DROP when hls4ml left all of it `auto`."""
    if model and isinstance(value, dict) and set(value) == {"default"}:
        value = value["default"]                          # hls4ml's Model: Precision: {default: T}
    if model or not (_auto(value) or isinstance(value, dict)):
        return value                                      # ikr-hls's own 'auto' at Model level: calibrated
    if _auto(value):
        dropped.append("auto types (hls4ml infers them; here the model's type)")
        return _DROP
    roles = {}
    for role, text in value.items():
        if _auto(text) and role != "accum":               # an 'auto' accumulator is ikr-hls's too
            dropped.append("auto types (hls4ml infers them; here the model's type)")
            continue
        roles[ROLES.get(role, role)] = text
    return roles if roles or not value else _DROP


def _auto(value) -> bool:
    return isinstance(value, str) and value.strip().lower() == "auto"


def _grouped(items: list) -> list:
    """Each distinct item once, with how often it came up."""
    counts: dict = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return [item if n == 1 else f"{item} x{n}" for item, n in counts.items()]
