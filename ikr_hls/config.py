"""User configuration of a conversion, hls4ml-like; validated once, here. Unknown keys and
values raise IKRHLSError listing the valid ones (hls4ml silently falls back; we never do),
every error of a config at once, each naming the file and the key.

    {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 1, "Strategy": "unrolled"},
     "LayerName": {"conv2": {"Precision": {"weight": "ap_fixed<8,3>", "accum": "ap_fixed<24,12>"},
                             "ReuseFactor": 4, "Strategy": "pattern"},
                   "input_layer": {"Precision": {"result": "ap_ufixed<8,0>"}},
                   "fc3": {"TableSize": 2048}},
     "IOType": "io_parallel", "FIFODepth": "model", "SideChannels": false,
     "Part": "xcvu13p-flga2577-2-e", "ClockPeriod": 5, "ClockUncertainty": "12.5%"}

Per-layer keys apply to layers by their Keras name (the input layer's name sets the input
type), or by their Keras class under LayerType (a layer's LayerName entry wins over its
class's). hls4ml's own spellings are read too (hls4ml_config.py). A layer's unset types
default to the model's precision, except accumulators, which default to a type wide enough
that the layer's sum cannot overflow or round. Which of a layer's settings mean something
for it is decided against the converted model (layer_settings.py).
"""
from __future__ import annotations

import json
import re
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import yaml

from . import hls4ml_config
from .errors import IKRHLSError
from .precision import HLSTypeLike, parse_type

STRATEGIES = ("unrolled", "pattern", "pe", "resource")
ASKED_STRATEGIES = ("da",)   # conv and Dense, only when named (never auto's choice): ikr_hls/da/
AUTO = "auto"            # Strategy and ReuseFactor: chosen per layer to fit the part (ikr_hls/auto.py)
IO_TYPES = ("io_parallel", "io_stream")  # hls4ml's names: whole buffers, or hls::stream between layers
FIFO_DEPTHS = ("model", "full")  # io_stream: the depth model (stream_depths.py), or every FIFO its whole tensor
DEFAULT_PART = "xcvu13p-flga2577-2-e"   # hls4ml's default part, so projects compare
PRECISION_ROLES = ("weight", "bias", "accum", "result", "exp_table", "inv_table", "act_table", "recip", "alpha")
VALUE_ROLES = ("weight", "bias", "result")             # what a Precision given as one type string sets
MODEL_KEYS = ("Precision", "ReuseFactor", "Strategy", "TableSize", "ExpRange")
LAYER_KEYS = MODEL_KEYS
HARDWARE_KEYS = {"Part": "part", "ClockPeriod": "clock_period", "ClockUncertainty": "clock_uncertainty"}
TOP_KEYS = ("Model", "LayerName", "LayerType", "IOType", "FIFODepth", "SideChannels", *HARDWARE_KEYS)
DEFAULT_CLOCK_UNCERTAINTY = "12.5%"     # hls4ml's default, as a share of the clock period
AUTO_LABEL = "auto (per layer)"          # what messages and reports say of precision="auto"
TRAINED_LABEL = "trained (per element, from the model's quantizers)"   # ... of an HGQ2 model's own types
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")     # written into Tcl and cfg files as is
_INTEGER = re.compile(r"^\s*\+?\d+\s*$")                  # "4": a number written as a string reads as 4
MAX_REUSE = 2**31 - 1                                    # an II pragma, a C++ int
_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 60


@dataclass(frozen=True)
class LayerSettings:
    precision: dict = field(default_factory=dict)     # role -> parsed type ('auto' accum: absent);
                                                      # may hold hls4ml's roles (scale, table, param)
    reuse_factor: int | str | None = None               # an int, or "auto"
    strategy: str | None = None
    table_size: int | None = None
    exp_range: int | None = None
    where: str = ""                # for messages: the file and key (or keyword) that set them
    keys: tuple = ()               # which settings were given there
    all_types: HLSTypeLike | None = None   # `Precision: T`: the layer's weight, bias and result types
    label: str = ""                # for the warning: the layer name, LayerType.<class> or the keyword
    origins: dict = field(default_factory=dict)   # resolved settings: key or role -> where it was set

    @property
    def types(self) -> dict:
        """Role -> type, the one-string form spelled out."""
        spelled = {role: self.all_types for role in VALUE_ROLES} if self.all_types is not None else {}
        return {**spelled, **self.precision}


@dataclass(frozen=True)
class ProjectConfig:
    precision: HLSTypeLike                             # model-wide type (HLSType or FixedType)
    strategy: str = "unrolled"                         # a strategy, or "auto" (per layer, ikr_hls/auto.py)
    reuse_factor: int | str = 1                        # an int, or "auto" (per layer, to fit the part)
    io_type: str = "io_parallel"
    fifo_depth: str = "model"                          # io_stream: FIFO_DEPTHS
    side_channels: bool = False                        # io_stream: AXI4-Stream ports with TLAST (axis.py)
    fit_limit: float = 0.8                             # the share of the part's resources a design may use
    table_size: int = 1024                             # softmax lookup tables, fixed point
    exp_range: int = 16                                # exp table covers x - max in (-range, 0]
    layers: dict = field(default_factory=dict)         # keras layer name -> LayerSettings
    layer_types: dict = field(default_factory=dict)    # Keras class name -> LayerSettings (LayerName wins)
    part: str = DEFAULT_PART
    clock_period: float = 5.0
    clock_uncertainty: str = DEFAULT_CLOCK_UNCERTAINTY   # "12.5%" of the period, or "0.6" ns
    project_name: str = "myproject"
    auto_layers: dict = field(default_factory=dict)    # precision="auto": layer name -> measured types
    source: str = ""                                   # the config file (or "config"), for messages
    notes: tuple = ()                                  # (what, why, where) of settings dropped as meaningless
    auto: bool = False                                 # precision="auto": every layer has its own types
    trained: bool = False                              # a quantization-aware model's own types (trained_types.py)
    resolved: bool = False                             # layers holds each layer's final settings (layer_settings)
    # neither the keywords nor the config's Model chose a strategy or a reuse factor: the default
    # form (unrolled, R = 1) stands unless it does not fit (passes.fit_by_default)
    fit_default: bool = False
    model_where: str = ""                              # where Model keys were given ("cfg.yml: Model")

    @property
    def precision_label(self) -> str:
        """The model-wide type as messages show it; precision="auto" has none that layers use."""
        return AUTO_LABEL if self.auto else TRAINED_LABEL if self.trained else self.precision.cpp

    def settings_for(self, keras_name: str, keras_class: str | None) -> LayerSettings:
        """A layer's settings: once resolved against the model (layer_settings.resolve), its own;
        before, its LayerName entry over its Keras class's LayerType entry."""
        by_name = self.layers.get(keras_name, LayerSettings())
        if self.resolved:
            return by_name
        by_class = self.layer_types.get(keras_class) if keras_class else None
        if by_class is None:
            return LayerSettings(precision=by_name.types, **_scalars(by_name), where=by_name.where, keys=by_name.keys)
        return LayerSettings(
            precision={**by_class.types, **by_name.types},
            **{key: getattr(by_name, key) if getattr(by_name, key) is not None else getattr(by_class, key)
               for key in ("reuse_factor", "strategy", "table_size", "exp_range")},
            where=by_name.where or by_class.where, keys=tuple(dict.fromkeys(by_class.keys + by_name.keys)))

    def where_of(self, keras_name: str, key: str) -> str:
        """Where a layer's setting (a key such as TableSize, or a precision role) was given: its
        entry, else the Model section (or the keyword)."""
        settings = self.layers.get(keras_name)
        if settings is not None and key in settings.origins:
            return settings.origins[key]
        if key in MODEL_KEYS:
            return _key(self.model_where, key, key)
        return f"layer '{keras_name}'"

    @property
    def layer_reuse(self) -> tuple:
        return tuple((k, v.reuse_factor) for k, v in self.layers.items() if v.reuse_factor is not None)


def _scalars(settings: LayerSettings) -> dict:
    return {key: getattr(settings, key) for key in ("reuse_factor", "strategy", "table_size", "exp_range")}


class _Problems(list):
    """The errors of one config, collected so that all of them are told at once."""

    def check(self, fn, *args):
        """fn(*args), or _BAD with its message kept when it raises IKRHLSError."""
        try:
            return fn(*args)
        except IKRHLSError as exc:
            self.append(str(exc))
            return _BAD

    def raise_all(self) -> None:
        if len(self) == 1:
            raise IKRHLSError(self[0])
        if self:
            raise IKRHLSError(f"{len(self)} config errors: " + "; ".join(self))


_BAD = object()                                          # a value that failed its check


def make_config(precision="float", strategy=None, reuse_factor=None, part=DEFAULT_PART,
                clock_period=5.0, project_name="myproject", config=None,
                clock_uncertainty=DEFAULT_CLOCK_UNCERTAINTY, io_type="io_parallel",
                auto_layers=None, fifo_depth="model", side_channels=False, trained=False,
                fit_limit=0.8) -> ProjectConfig:
    """Validate the keyword options of convert(); `config` (a dict, or a .yml/.yaml/.json
    file) overrides them, model-wide and per layer. `auto_layers` (precision="auto": layer
    name -> {"Precision": {role: type}}) gives layers the types measured for them, under any
    the config sets. `trained` (a quantization-aware model converted without a precision):
    its quantizers give the types, under any the config sets, unless the config's Model sets a
    Precision for the whole model. strategy and reuse_factor None (the defaults): unrolled at
    reuse factor 1, or chosen per layer when that does not fit (passes.fit_by_default), unless
    the config's Model sets either. Every error is collected and told at once."""
    problems = _Problems()
    defaulted = strategy is None and reuse_factor is None
    strategy = "unrolled" if strategy is None else strategy
    reuse_factor = 1 if reuse_factor is None else reuse_factor
    layers: dict = {}
    if isinstance(reuse_factor, dict):                 # {"default": R, layer: R}
        per_layer = dict(reuse_factor)
        reuse_factor = per_layer.pop("default", 1)
        for name, value in per_layer.items():
            if not isinstance(name, str):
                problems.append(f"reuse_factor: layer names are strings, got {_show(name)}")
                continue
            where = f"reuse_factor['{name}']"
            reuse = problems.check(validate_reuse, value, where)
            if reuse is not _BAD:
                layers[name] = LayerSettings(reuse_factor=reuse, where=where, keys=("reuse factor",), label=where)
    if precision is None:                              # a plain model's default; unused when trained
        precision = "float"
    model = dict(Precision=precision, ReuseFactor=reuse_factor, Strategy=strategy)
    hardware = dict(Part=part, ClockPeriod=clock_period, ClockUncertainty=clock_uncertainty)
    io_key = "io_type"                                 # where the io type came from, for messages
    fifo_key = "fifo_depth"
    side_key = "side_channels"
    layer_types: dict = {}
    cfg: dict = {}
    source, notes = "", []  # type: tuple[str, list]
    if config is not None:
        cfg, source, notes = _load(config, problems)
        origin = f"{source}: " if source != "config" else ""
        model.update(cfg.get("Model", {}) if isinstance(cfg.get("Model"), dict) else {})
        if isinstance(cfg.get("Model"), dict) and ("Strategy" in cfg["Model"] or "ReuseFactor" in cfg["Model"]):
            defaulted = False
        if isinstance(cfg.get("Model"), dict) and "Precision" in cfg["Model"]:
            trained = False                            # a model-wide type overrides the trained ones
        hardware.update({k: v for k, v in cfg.items() if k in HARDWARE_KEYS})
        if "IOType" in cfg:
            io_type, io_key = cfg["IOType"], origin + "IOType"
        if "FIFODepth" in cfg:
            fifo_depth, fifo_key = cfg["FIFODepth"], origin + "FIFODepth"
        if "SideChannels" in cfg:
            side_channels, side_key = cfg["SideChannels"], origin + "SideChannels"
        for group, target in (("LayerName", layers), ("LayerType", layer_types)):
            entries = cfg.get(group, {})
            for name, entry in (entries.items() if isinstance(entries, dict) else ()):
                if isinstance(name, str) and isinstance(entry, dict):
                    target[name] = _layer_settings(name, entry, target.get(name), problems, origin, group)
    auto = {name: _layer_settings(name, entry, None, problems, "", "precision='auto'", label=f"{name} (auto)")
            for name, entry in (auto_layers or {}).items()}
    io_type = problems.check(validate_io_type, io_type, io_key)
    fifo_depth = problems.check(validate_fifo_depth, fifo_depth, fifo_key)
    if io_type == "io_parallel" and fifo_depth == "full":   # io_parallel has ping-pong buffers, no FIFOs
        notes.append((f"{fifo_key}: full", "io_parallel has no FIFOs", None))
    if not isinstance(side_channels, bool):
        problems.append(f"{side_key}: expected true or false, got {_show(side_channels)}")
    elif side_channels and io_type == "io_parallel":         # asked for ports io_parallel does not have
        problems.append(f"{side_key}: AXI4-Stream side channels are io_stream's ports (io_parallel's are arrays); "
                        "convert with io_stream (--io-type io_stream)")
    names = {k: (f"{source}: {k}" if source != "config" else k) if k in cfg else HARDWARE_KEYS[k]
             for k in HARDWARE_KEYS}
    part = hardware["Part"]
    if not isinstance(part, str) or not _PART.match(part.strip()):
        problems.append(f"{names['Part']}: expected a device name such as '{DEFAULT_PART}', got {_show(part)}")
    clock = problems.check(_clock_period, hardware["ClockPeriod"], names["ClockPeriod"])
    uncertainty = problems.check(_clock_uncertainty, hardware["ClockUncertainty"],
                                 clock if clock is not _BAD else 1e300, names["ClockUncertainty"])
    if isinstance(fit_limit, bool) or not isinstance(fit_limit, (int, float)) or not 0 < fit_limit <= 1:
        problems.append(f"fit_limit: expected a share of the part in (0, 1], got {_show(fit_limit)}")
    if not isinstance(project_name, str) or not _IDENT.match(project_name):
        problems.append(f"project_name: {_show(project_name)} is not a C++ identifier")
    where = (f"{source}: Model" if source != "config" else "Model") if config is not None else ""
    model_precision = model["Precision"]
    if isinstance(model_precision, dict):
        problems.append(f"{_key(where, 'Precision', 'precision')}: expected one type string "
                        "(per-role types go under LayerName)")
        parsed = _BAD
    else:
        parsed = problems.check(parse_type, model_precision, _key(where, "Precision", "precision"))
    values = dict(
        strategy=problems.check(validate_strategy, model["Strategy"], _key(where, "Strategy", "strategy")),
        reuse_factor=problems.check(validate_reuse, model["ReuseFactor"], _key(where, "ReuseFactor", "reuse_factor")),
        table_size=problems.check(_table_size, model.get("TableSize", 1024), _key(where, "TableSize", "TableSize")),
        exp_range=problems.check(_exp_range, model.get("ExpRange", 16), _key(where, "ExpRange", "ExpRange")))
    problems.raise_all()
    return ProjectConfig(
        precision=cast(HLSTypeLike, parsed), **values, layers=layers, layer_types=layer_types,
        part=part.strip(), clock_period=clock, clock_uncertainty=uncertainty, project_name=project_name,
        io_type=io_type, fifo_depth=fifo_depth, side_channels=side_channels is True, auto_layers=auto,
        source=source, notes=tuple(notes),
        auto=auto_layers is not None, trained=bool(trained),
        model_where=where, fit_limit=float(fit_limit), fit_default=defaulted)


def load_config(config) -> dict:
    """A config dict, or a YAML/JSON file holding one, with hls4ml's spellings translated and
    checked for unknown keys (every problem at once)."""
    problems = _Problems()
    loaded, _, _ = _load(config, problems)
    problems.raise_all()
    return loaded


def _load(config, problems: _Problems) -> tuple[dict, str, list]:
    """(the config, its source for messages, notes of what hls4ml_config dropped); its
    structural problems are added to `problems` (a config that is no mapping raises)."""
    if isinstance(config, (str, Path)):
        path = Path(config)
        config = _read_file(path)
        source = str(path)
    else:
        source = "config"
    if not isinstance(config, dict):
        raise IKRHLSError(f"{source}: expected a mapping with keys {', '.join(TOP_KEYS)}")
    config, notes, errors = hls4ml_config.translate(config, source)
    problems.extend(errors)
    problems.check(_known, config, TOP_KEYS, source)
    model = config.get("Model", {})
    origin = f"{source}: " if source != "config" else ""
    if not isinstance(model, dict):
        problems.append(f"{source}: Model must be a mapping of {', '.join(MODEL_KEYS)}")
    else:
        problems.check(_known, model, MODEL_KEYS, origin + "Model")
    for group, what in (("LayerName", "layer names"), ("LayerType", "Keras class names")):
        layers = config.get(group, {})
        if not isinstance(layers, dict):
            problems.append(f"{source}: {group} must map {what} to settings")
            continue
        for name, entry in layers.items():
            if not isinstance(name, str):
                problems.append(f"{origin}{group}: {what} are strings, got {_show(name)}")
            elif not isinstance(entry, dict):
                problems.append(f"{origin}{group}.{_label(name)}: expected a mapping of {', '.join(LAYER_KEYS)}")
            else:
                problems.check(_known, entry, LAYER_KEYS, f"{origin}{group}.{_label(name)}")
    return config, source, notes


def _read_file(path: Path):
    if not path.is_file():
        raise IKRHLSError(f"{path}: no such config file")
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yml", ".yaml"):
        raise IKRHLSError(f"{path}: config files are .yml, .yaml or .json")
    try:
        text = path.read_text()
        return json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:              # where YAML gave up: line and column, from 1
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = exc.problem or exc.context or str(exc).splitlines()[0]
        raise IKRHLSError(f"{path}: cannot be parsed ({at}{what})") from None
    except (ValueError, yaml.YAMLError) as exc:       # JSONDecodeError (says its line) and UnicodeError
        raise IKRHLSError(f"{path}: cannot be parsed ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise IKRHLSError(f"{path}: cannot be parsed (nested too deeply)") from None


def _layer_settings(name, entry: dict, previous: LayerSettings | None, problems: _Problems, origin: str = "",
                    group: str = "LayerName", label: str | None = None) -> LayerSettings:
    where = f"{origin}{group}.{_label(name)}"
    precision: dict = {}
    all_types = None
    value = entry.get("Precision")
    if isinstance(value, str):
        all_types = problems.check(parse_type, value, f"{where}.Precision")
    elif isinstance(value, dict):
        problems.check(_known, value, PRECISION_ROLES + tuple(hls4ml_config.ROLE_ALIASES), f"{where}.Precision")
        for role, text in value.items():
            if role in PRECISION_ROLES or role in hls4ml_config.ROLE_ALIASES:
                if not (role == "accum" and isinstance(text, str) and text.strip().lower() == "auto"):
                    precision[role] = problems.check(parse_type, text, f"{where}.Precision.{role}")
    elif value is not None:
        problems.append(f"{where}.Precision: expected a type string or a mapping of {', '.join(PRECISION_ROLES)}, "
                        f"got {_show(value)}")

    def checked(key, check):
        return None if key not in entry else problems.check(check, entry[key], f"{where}.{key}")

    reuse = checked("ReuseFactor", validate_reuse)
    if reuse is None and previous is not None:
        reuse = previous.reuse_factor
    own_label = label or (_label(name) if group == "LayerName" else f"{group}.{_label(name)}")
    return LayerSettings(
        precision={r: t for r, t in precision.items() if t is not _BAD},
        all_types=None if all_types is _BAD else all_types,
        reuse_factor=None if reuse is _BAD else reuse,
        strategy=_good(checked("Strategy", validate_strategy)),
        table_size=_good(checked("TableSize", _table_size)),
        exp_range=_good(checked("ExpRange", _exp_range)),
        where=where if previous is None or not previous.where else f"{previous.where} and {where}",
        label=own_label if previous is None or not previous.label else f"{previous.label} and {own_label}",
        keys=tuple(dict.fromkeys((*(previous.keys if previous else ()), *map(str, entry)))))


def _good(value):
    return None if value is _BAD else value


def _known(mapping: dict, valid, where: str):
    unknown = [_label(k) for k in mapping if k not in valid]
    if unknown:
        raise IKRHLSError(f"{where}: unknown key(s) {', '.join(unknown)} (valid: {', '.join(valid)})"
                          + _split_type_hint(mapping))


def _split_type_hint(mapping: dict) -> str:
    """YAML splits `{weight: ap_fixed<8,3>}` at the comma: the value `ap_fixed<8` and a key `3>`.
    When the pieces look like that, say how to write it."""
    values = [v for v in mapping.values() if isinstance(v, str)]
    if any(str(k).rstrip().endswith(">") for k in mapping) or any("<" in v and ">" not in v for v in values):
        return ("; a type with a comma must be quoted in a YAML flow mapping, "
                "e.g. {weight: \"ap_fixed<8,3>\"}, or written as a block mapping")
    return ""


def _show(value) -> str:
    """repr for messages: shortened, and safe for ints too long to print."""
    try:
        return _SHOW.repr(value)
    except ValueError:                                   # int beyond sys.get_int_max_str_digits()
        return f"<{type(value).__name__} of {value.bit_length()} bits>"


def _label(key) -> str:
    """A key as messages show it: as is when it is printable text, else its repr."""
    return key if isinstance(key, str) and key.isprintable() and key.strip() == key != "" else _show(key)


def _key(where, config_key, keyword):
    return f"{where}.{config_key}" if where else keyword


def _clock_period(value, key) -> float:
    if isinstance(value, bool):
        raise IKRHLSError(f"{key}: expected a number of ns, got {_show(value)}")
    try:
        clock = float(value)
    except (TypeError, ValueError, OverflowError):       # OverflowError: an int beyond float's range
        raise IKRHLSError(f"{key}: expected a number of ns, got {_show(value)}") from None
    if not clock > 0 or clock == float("inf"):
        raise IKRHLSError(f"{key}: must be a positive number of ns, got {_show(value)}")
    return clock


def _clock_uncertainty(value, clock: float, key) -> str:
    """'12.5%' (of the period) or a number of ns, below the period; kept as Vitis spells it."""
    text = _show(value) if not isinstance(value, str) else value.strip()
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*(%|ns)?", text) if isinstance(value, (str, int, float)) \
        and not isinstance(value, bool) else None
    if match is None:
        raise IKRHLSError(f"{key}: expected a percentage such as '12.5%' or a number of ns, got {_show(value)}")
    amount, unit = float(match.group(1)), match.group(2)
    ns = clock * amount / 100 if unit == "%" else amount
    if not ns < clock:
        raise IKRHLSError(f"{key}: {text} is not less than the clock period of {clock:g} ns")
    return f"{match.group(1)}%" if unit == "%" else match.group(1)


def _choice(value, valid, key):
    """An enum-like option, in any case ('Pattern' is 'pattern'); unknown values raise."""
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in valid:
        raise IKRHLSError(f"{key}: unknown value {_show(value)} (valid: {', '.join(valid)})")
    return text


def validate_strategy(value, key):
    return _choice(value, STRATEGIES + ASKED_STRATEGIES + (AUTO,), key)


def validate_io_type(value, key):
    return _choice(value, IO_TYPES, key)


def validate_fifo_depth(value, key):
    return _choice(value, FIFO_DEPTHS, key)


def integer_value(value, key, what: str):
    """An integer, or a string holding one (YAML/JSON users quote numbers: "4" reads as 4, as
    "5" does for ClockPeriod); booleans and other text raise, naming the key."""
    if isinstance(value, str) and _INTEGER.match(value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise IKRHLSError(f"{key}: expected {what}, got {_show(value)}")
    return value


def validate_reuse(value, key):
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    what = f"a positive integer (at most {MAX_REUSE}) or 'auto'"
    value = integer_value(value, key, what)
    if not 1 <= value <= MAX_REUSE:
        raise IKRHLSError(f"{key}: expected {what}, got {_show(value)}")
    return value


def _power_of_two(value, key, lo, hi):
    what = f"a power of two from {lo} to {hi}"
    value = integer_value(value, key, what)
    if value < lo or value > hi or value & (value - 1):
        raise IKRHLSError(f"{key}: expected {what}, got {_show(value)}")
    return value


def _table_size(value, key):
    return _power_of_two(value, key, 64, 1 << 16)


def _exp_range(value, key):
    return _power_of_two(value, key, 1, 64)
