"""hls4ml's config, read as ikr-hls's (docs/configuration.md, "hls4ml configs").

A config that hls4ml wrote (`hls4ml.utils.config_from_keras_model`, any granularity and
backend) or a user kept from an hls4ml project converts as it is, and so does one whose
`auto` types were filled in. This module does what needs no model (config.resolve does the
rest, layer by layer):

- spellings that mean the same thing are translated: `Precision: {default: T}` at Model
  level; `Strategy: Latency` (every product its own multiplier at reuse factor 1) ->
  `unrolled` and `Resource` (multipliers and adders shared over R cycles, weights in ROMs)
  -> `resource`, any case; a
  whole hls4ml project file's `HLSConfig` section; a SeparableConv2D's `depthwise` and
  `pointwise` roles and reuse factors, split over its two layers here; type spellings such
  as `fixed<16,6>` are parsed by precision.parse_type;
- what states what ikr-hls does anyway is accepted: a softmax's `Implementation: stable`
  (or `Strategy: Stable`), `Skip: false`, an UpSampling2D's `Algorithm: nearest`;
- what has no meaning here is dropped and noted as (what, why, where) for the ONE warning
  that config.resolve gives: project keys (OutputDir, Backend, ...), BramFactor,
  Trace/TraceOutput (hls.trace records every layer), types left `auto` for hls4ml to infer
  (here: the model's type), a softmax's `inv_inp` type, other softmax implementations;
- what would change the network's function is refused (a softmax's `argmax` implementation
  or `Skip: true`, an interpolation other than nearest), as is anything ikr-hls does not know.

The role names hls4ml uses for other layers (`scale` of a BatchNormalization, `table` of an
activation, `param` of a (leaky) ReLU) stay as they are: whether they mean something depends
on the layer (config.resolve, ROLE_ALIASES).
"""
from __future__ import annotations

STRATEGY = {"latency": "unrolled", "resource": "resource"}
# hls4ml role -> the ikr-hls role it is on a layer that has it (config.resolve decides)
ROLE_ALIASES = {"scale": "weight", "table": "act_table", "param": "alpha"}
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
NO_MEANING_ROLES = {
    "inv_inp": "the softmax's exp sum is exact here and indexes inv_table directly",
}
PROJECT_KEYS = ("OutputDir", "ProjectName", "Backend", "KerasJson", "KerasH5", "KerasModel", "InputData",
                "OutputPredictions", "Version", "Stamp", "WriterConfig", "XilinxPart", "Board")
# a softmax's implementation (hls4ml: Implementation, formerly Strategy)
SOFTMAX_SAME = ("stable",)                               # what ikr-hls computes: exp(x - max(x)) by tables
SOFTMAX_OTHER = ("latency", "legacy")                    # the same function, computed otherwise
SOFTMAX_REFUSED = ("argmax",)                            # a one-hot output: another function
SEPARABLE_ROLES = {"depthwise": ("depthwise", "weight"), "depthwise_accum": ("depthwise", "accum"),
                   "depthwise_result": ("depthwise", "result"), "pointwise": ("pointwise", "weight"),
                   "pointwise_accum": ("pointwise", "accum")}
SEPARABLE_KEYS = {"DepthwiseReuseFactor": "depthwise", "PointwiseReuseFactor": "pointwise"}
DEPTHWISE_SUFFIX = "/depthwise"       # the name (and LayerType class) of a SeparableConv2D's depthwise half
AUTO_TYPES = ("auto types", "hls4ml infers them; here the model's type")


def translate(config: dict, source: str) -> tuple[dict, list, list]:
    """(the config with hls4ml's spellings translated and what has no meaning dropped,
    notes (what, why, where) of what was dropped, errors). A config without any of them
    comes back unchanged, with no notes."""
    notes: list = []
    errors: list = []
    origin = f"{source}: " if source != "config" else ""
    out = dict(config)
    if isinstance(out.get("HLSConfig"), dict):           # a whole hls4ml project file
        inner = out.pop("HLSConfig")
        out = {**out, **inner}
    for key in PROJECT_KEYS:
        if key in out:
            out.pop(key)
            notes.append((key, "a convert() argument here", None))
    if isinstance(out.get("Model"), dict):
        out["Model"] = _settings(out["Model"], "Model", origin, notes, errors, model=True)
    for group in ("LayerName", "LayerType"):
        if isinstance(out.get(group), dict):
            entries: dict = {}
            for name, entry in out[group].items():
                if not isinstance(entry, dict):
                    entries[name] = entry                   # config.load_config says what is wrong
                    continue
                label = name if group == "LayerName" else f"LayerType.{name}"
                kept = _settings(entry, label, origin + f"{group}.{name}", notes, errors, model=False)
                for part_name, part in _split_separable(name, kept).items():
                    if part or not entry:
                        entries[part_name] = part
            out[group] = entries
    return out, notes, errors


def _settings(entry: dict, label: str, where: str, notes: list, errors: list, model: bool) -> dict:
    out = {}
    for key, value in entry.items():
        text = value.strip().lower() if isinstance(value, str) else None
        if key in NO_MEANING:                                # hls4ml writes these on every layer: counted
            notes.append((key, NO_MEANING[key], None if model or key == "Trace" else label))
        elif key == "Strategy" and text in STRATEGY:
            out[key] = STRATEGY[text]
        elif key in ("Strategy", "Implementation") and text in SOFTMAX_SAME + SOFTMAX_OTHER + SOFTMAX_REFUSED:
            if text in SOFTMAX_REFUSED:
                errors.append(f"{where}.{key}: {value!r} makes a softmax output a one-hot argmax, which ikr-hls "
                              "does not compute (valid: stable; to output the logits, end the model before its "
                              "softmax)")
            elif text in SOFTMAX_OTHER:
                notes.append((f"{key}: {value}", "ikr-hls computes every softmax the stable way, exp(x - max(x)) "
                              "by lookup tables", label))
        elif key == "Implementation":
            errors.append(f"{where}.Implementation: unknown value {value!r} (valid: stable, latency, legacy)")
        elif key == "Skip":
            if value is True:
                errors.append(f"{where}.Skip: true would drop the softmax, which ikr-hls does not do; end the "
                              "Keras model before its softmax to output the logits")
            elif value is not False:
                errors.append(f"{where}.Skip: expected true or false, got {value!r}")
        elif key == "Algorithm":
            if text != "nearest":
                errors.append(f"{where}.Algorithm: ikr-hls upsamples by the nearest neighbour only, got {value!r}")
        elif key == "Precision":
            precision = _precision(value, label, notes, model)
            if precision is not _DROP:
                out[key] = precision
        else:
            out[key] = value
    return out


_DROP = object()                                          # a Precision with nothing left to set


def _precision(value, label: str, notes: list, model: bool):
    """The Precision value translated, or _DROP when hls4ml left all of it `auto`."""
    if model and isinstance(value, dict) and "default" in value and set(value) <= {"default", "maximum"}:
        if "maximum" in value:                            # hls4ml's max_precision
            notes.append(("Precision.maximum", "it caps the types hls4ml infers; ikr-hls infers only "
                          "accumulators, exact", None))
        value = value["default"]                          # hls4ml's Model: Precision: {default: T}
    if model or not (_auto(value) or isinstance(value, dict)):
        return value                                      # ikr-hls's own 'auto' at Model level: calibrated
    if _auto(value):
        notes.append((*AUTO_TYPES, None))
        return _DROP
    roles = {}
    for role, text in value.items():
        if role in NO_MEANING_ROLES:
            notes.append((f"Precision.{role}", NO_MEANING_ROLES[role], label))
        elif _auto(text) and role != "accum":             # an 'auto' accumulator is ikr-hls's too
            notes.append((*AUTO_TYPES, None))
        else:
            roles[role] = text
    return roles if roles or not value else _DROP


def _split_separable(name, entry: dict) -> dict:
    """hls4ml's SeparableConv2D entry sets both halves (`depthwise`, `pointwise` roles and
    reuse factors); here they are two layers, `<name>/depthwise` and `<name>` (LayerType:
    the classes `SeparableConv2D/depthwise` and `SeparableConv2D`)."""
    precision = entry.get("Precision")
    roles = precision if isinstance(precision, dict) else {}
    if not isinstance(name, str) or not (set(roles) & set(SEPARABLE_ROLES) or set(entry) & set(SEPARABLE_KEYS)):
        return {name: entry}
    halves: dict = {"depthwise": {}, "pointwise": {}}
    for key, value in entry.items():
        if key in SEPARABLE_KEYS:
            halves[SEPARABLE_KEYS[key]]["ReuseFactor"] = value
        elif key != "Precision":
            halves["pointwise"][key] = value
    for role, text in roles.items():
        half, ours = SEPARABLE_ROLES.get(role, ("pointwise", role))
        halves[half].setdefault("Precision", {})[ours] = text
    return {name + DEPTHWISE_SUFFIX: halves["depthwise"], name: halves["pointwise"]}


def _auto(value) -> bool:
    return isinstance(value, str) and value.strip().lower() == "auto"
