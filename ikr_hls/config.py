"""User configuration of a conversion, hls4ml-like; validated once, here. Unknown keys and
values raise IKRHLSError listing the valid ones (hls4ml silently falls back; we never do).

    {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 1, "Strategy": "unrolled"},
     "LayerName": {"conv2": {"Precision": {"weight": "ap_fixed<8,3>", "accum": "ap_fixed<24,12>"},
                             "ReuseFactor": 4, "Strategy": "pattern"},
                   "input_layer": {"Precision": {"result": "ap_ufixed<8,0>"}},
                   "fc3": {"TableSize": 2048}},
     "IOType": "io_parallel", "Part": "xcvu13p-flga2577-2-e", "ClockPeriod": 5,
     "ClockUncertainty": "12.5%"}

Per-layer keys apply to layers by their Keras name (the input layer's name sets the input
type), or by their Keras class under LayerType (a layer's LayerName entry wins over its
class's). hls4ml's own spellings are read too (hls4ml_config.py). A layer's unset types
default to the model's precision, except accumulators, which default to a type wide enough
that the layer's sum cannot overflow or round.
"""
from __future__ import annotations

import json
import re
import reprlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import hls4ml_config
from .errors import IKRHLSError
from .precision import HLSTypeLike, parse_type

STRATEGIES = ("unrolled", "pattern", "pe")
IO_TYPES = ("io_parallel", "io_stream")  # hls4ml's names: whole buffers, or hls::stream between layers
DEFAULT_PART = "xcvu13p-flga2577-2-e"   # hls4ml's default part, so projects compare
PRECISION_ROLES = ("weight", "bias", "accum", "result", "exp_table", "inv_table", "act_table", "recip", "alpha")
MODEL_KEYS = ("Precision", "ReuseFactor", "Strategy", "TableSize", "ExpRange")
LAYER_KEYS = MODEL_KEYS
HARDWARE_KEYS = {"Part": "part", "ClockPeriod": "clock_period", "ClockUncertainty": "clock_uncertainty"}
TOP_KEYS = ("Model", "LayerName", "LayerType", "IOType", *HARDWARE_KEYS)
DEFAULT_CLOCK_UNCERTAINTY = "12.5%"     # hls4ml's default, as a share of the clock period
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")     # written into Tcl and cfg files as is
MAX_REUSE = 2**31 - 1                                    # an II pragma, a C++ int
_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 60


@dataclass(frozen=True)
class LayerSettings:
    precision: dict = field(default_factory=dict)     # role -> parsed type ('auto' accum: absent)
    reuse_factor: int | None = None
    strategy: str | None = None
    table_size: int | None = None
    exp_range: int | None = None
    where: str = ""                # for messages: the file and key (or keyword) that set them
    keys: tuple = ()               # which settings were given there


@dataclass(frozen=True)
class ProjectConfig:
    precision: HLSTypeLike                             # model-wide type (HLSType or FixedType)
    strategy: str = "unrolled"
    reuse_factor: int = 1
    io_type: str = "io_parallel"
    fifo_depth: str = "model"                          # io_stream: "model" (stream_depths.py) or "full"
    table_size: int = 1024                             # softmax lookup tables, fixed point
    exp_range: int = 16                                # exp table covers x - max in (-range, 0]
    layers: dict = field(default_factory=dict)         # keras layer name -> LayerSettings
    layer_types: dict = field(default_factory=dict)    # Keras class name -> LayerSettings (LayerName wins)
    part: str = DEFAULT_PART
    clock_period: float = 5.0
    clock_uncertainty: str = DEFAULT_CLOCK_UNCERTAINTY   # "12.5%" of the period, or "0.6" ns
    project_name: str = "myproject"

    def settings_for(self, keras_name: str, keras_class: str | None) -> LayerSettings:
        """A layer's settings: its LayerName entry over its Keras class's LayerType entry."""
        by_name = self.layers.get(keras_name, LayerSettings())
        by_class = self.layer_types.get(keras_class) if keras_class else None
        if by_class is None:
            return by_name
        return LayerSettings(
            precision={**by_class.precision, **by_name.precision},
            **{key: getattr(by_name, key) if getattr(by_name, key) is not None else getattr(by_class, key)
               for key in ("reuse_factor", "strategy", "table_size", "exp_range")},
            where=by_name.where or by_class.where, keys=tuple(dict.fromkeys(by_class.keys + by_name.keys)))

    @property
    def layer_reuse(self) -> tuple:
        return tuple((k, v.reuse_factor) for k, v in self.layers.items() if v.reuse_factor is not None)


def make_config(precision="float", strategy="unrolled", reuse_factor=1, part=DEFAULT_PART,
                clock_period=5.0, project_name="myproject", config=None,
                clock_uncertainty=DEFAULT_CLOCK_UNCERTAINTY, io_type="io_parallel") -> ProjectConfig:
    """Validate the keyword options of convert(); `config` (a dict, or a .yml/.yaml/.json
    file) overrides them, model-wide and per layer."""
    layers: dict = {}
    if isinstance(reuse_factor, dict):                 # {"default": R, layer: R}
        per_layer = dict(reuse_factor)
        reuse_factor = per_layer.pop("default", 1)
        for name, value in per_layer.items():
            if not isinstance(name, str):
                raise IKRHLSError(f"reuse_factor: layer names are strings, got {_show(name)}")
            layers[name] = LayerSettings(reuse_factor=validate_reuse(value, f"reuse_factor['{name}']"),
                                         where=f"reuse_factor['{name}']", keys=("reuse factor",))
    model = dict(Precision=precision, ReuseFactor=reuse_factor, Strategy=strategy)
    origin = f"{config}: " if isinstance(config, (str, Path)) else ""     # errors name the file
    hardware = dict(Part=part, ClockPeriod=clock_period, ClockUncertainty=clock_uncertainty)
    io_key = "io_type"                                 # where the io type came from, for messages
    layer_types: dict = {}
    if config is not None:
        cfg = load_config(config)
        model.update(cfg.get("Model", {}))
        hardware.update({k: v for k, v in cfg.items() if k in HARDWARE_KEYS})
        if "IOType" in cfg:
            io_type, io_key = cfg["IOType"], origin + "IOType"
        for name, entry in cfg.get("LayerName", {}).items():
            layers[name] = _layer_settings(name, entry, layers.get(name), origin)
        for name, entry in cfg.get("LayerType", {}).items():
            layer_types[name] = _layer_settings(name, entry, None, origin, group="LayerType")
    io_type = validate_io_type(io_type, io_key)
    names = {k: origin + k if config is not None and k in cfg else HARDWARE_KEYS[k] for k in HARDWARE_KEYS}
    part = hardware["Part"]
    if not isinstance(part, str) or not _PART.match(part.strip()):
        raise IKRHLSError(f"{names['Part']}: expected a device name such as '{DEFAULT_PART}', got {_show(part)}")
    clock = _clock_period(hardware["ClockPeriod"], names["ClockPeriod"])
    uncertainty = _clock_uncertainty(hardware["ClockUncertainty"], clock, names["ClockUncertainty"])
    if not isinstance(project_name, str) or not _IDENT.match(project_name):
        raise IKRHLSError(f"project_name: {_show(project_name)} is not a C++ identifier")
    where = origin + "Model" if config is not None else ""
    precision = model["Precision"]
    if isinstance(precision, dict):
        raise IKRHLSError(f"{_key(where, 'Precision', 'precision')}: expected one type string "
                          "(per-role types go under LayerName)")
    return ProjectConfig(
        precision=parse_type(precision, _key(where, "Precision", "precision")),
        strategy=validate_strategy(model["Strategy"], _key(where, "Strategy", "strategy")),
        reuse_factor=validate_reuse(model["ReuseFactor"], _key(where, "ReuseFactor", "reuse_factor")),
        table_size=_table_size(model.get("TableSize", 1024), _key(where, "TableSize", "TableSize")),
        exp_range=_exp_range(model.get("ExpRange", 16), _key(where, "ExpRange", "ExpRange")),
        layers=layers, layer_types=layer_types, part=part.strip(), clock_period=clock, clock_uncertainty=uncertainty,
        project_name=project_name, io_type=io_type)


def load_config(config) -> dict:
    """A config dict, or a YAML/JSON file holding one, checked for unknown keys."""
    if isinstance(config, (str, Path)):
        path = Path(config)
        if not path.is_file():
            raise IKRHLSError(f"{path}: no such config file")
        suffix = path.suffix.lower()
        if suffix not in (".json", ".yml", ".yaml"):
            raise IKRHLSError(f"{path}: config files are .yml, .yaml or .json")
        try:
            text = path.read_text()
            config = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:       # JSONDecodeError and UnicodeError are ValueErrors
            raise IKRHLSError(f"{path}: cannot be parsed ({str(exc).splitlines()[0]})") from None
        except RecursionError:
            raise IKRHLSError(f"{path}: cannot be parsed (nested too deeply)") from None
        source = str(path)
    else:
        source = "config"
    if not isinstance(config, dict):
        raise IKRHLSError(f"{source}: expected a mapping with keys {', '.join(TOP_KEYS)}")
    config = hls4ml_config.translate(config, source)
    _known(config, TOP_KEYS, source)
    model = config.get("Model", {})
    if not isinstance(model, dict):
        raise IKRHLSError(f"{source}: Model must be a mapping of {', '.join(MODEL_KEYS)}")
    origin = f"{source}: " if source != "config" else ""
    _known(model, MODEL_KEYS, origin + "Model")
    for group, what in (("LayerName", "layer names"), ("LayerType", "Keras class names")):
        layers = config.get(group, {})
        if not isinstance(layers, dict):
            raise IKRHLSError(f"{source}: {group} must map {what} to settings")
        for name, entry in layers.items():
            if not isinstance(name, str):
                raise IKRHLSError(f"{origin}{group}: {what} are strings, got {_show(name)}")
            if not isinstance(entry, dict):
                raise IKRHLSError(f"{origin}{group}.{_label(name)}: expected a mapping of {', '.join(LAYER_KEYS)}")
            _known(entry, LAYER_KEYS, f"{origin}{group}.{_label(name)}")
    return config


def _layer_settings(name, entry: dict, previous: LayerSettings | None, origin: str = "",
                    group: str = "LayerName") -> LayerSettings:
    where = f"{origin}{group}.{_label(name)}"
    precision = {}
    value = entry.get("Precision")
    if isinstance(value, str):
        precision = {role: parse_type(value, f"{where}.Precision") for role in ("weight", "bias", "result")}
    elif isinstance(value, dict):
        _known(value, PRECISION_ROLES, f"{where}.Precision")
        precision = {role: parse_type(text, f"{where}.Precision.{role}") for role, text in value.items()
                     if not (role == "accum" and isinstance(text, str) and text.strip() == "auto")}
    elif value is not None:
        raise IKRHLSError(f"{where}.Precision: expected a type string or a mapping of {', '.join(PRECISION_ROLES)}, "
                          f"got {_show(value)}")
    reuse = entry.get("ReuseFactor", previous.reuse_factor if previous else None)
    return LayerSettings(
        precision=precision,
        reuse_factor=None if reuse is None else validate_reuse(reuse, f"{where}.ReuseFactor"),
        strategy=None if "Strategy" not in entry else validate_strategy(entry["Strategy"], f"{where}.Strategy"),
        table_size=None if "TableSize" not in entry else _table_size(entry["TableSize"], f"{where}.TableSize"),
        exp_range=None if "ExpRange" not in entry else _exp_range(entry["ExpRange"], f"{where}.ExpRange"),
        where=where if previous is None or not previous.where else f"{previous.where} and {where}",
        keys=tuple(dict.fromkeys((*(previous.keys if previous else ()), *map(str, entry)))))


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


def validate_strategy(value, key):
    if value not in STRATEGIES:
        raise IKRHLSError(f"{key}: unknown value {_show(value)} (valid: {', '.join(STRATEGIES)})")
    return value


def validate_io_type(value, key):
    if value not in IO_TYPES:
        raise IKRHLSError(f"{key}: unknown value {_show(value)} (valid: {', '.join(IO_TYPES)})")
    return value


def validate_reuse(value, key):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REUSE:
        raise IKRHLSError(f"{key}: expected a positive integer (at most {MAX_REUSE}), got {_show(value)}")
    return value


def _power_of_two(value, key, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or value > hi or value & (value - 1):
        raise IKRHLSError(f"{key}: expected a power of two from {lo} to {hi}, got {_show(value)}")
    return value


def _table_size(value, key):
    return _power_of_two(value, key, 64, 1 << 16)


def _exp_range(value, key):
    return _power_of_two(value, key, 1, 64)
