"""A config's settings, checked against the converted model: which layer each entry sets,
and which of its keys mean something for that layer (passes.apply_settings calls `resolve`).

- A key that a layer does not honour is never dropped silently: a ReuseFactor on a layer
  without multipliers to share (a pooling, a BatchNormalization), a Strategy a layer has no
  form of, a TableSize where there is no lookup table, a type role the layer does not use
  (a max pool's recip), hls4ml's roles where they mean nothing (`table` of a ReLU). They are
  listed, with the layer, in ONE warning, together with what hls4ml_config dropped.
- A layer that ikr-hls merges into the one before it (an activation fused into a conv or a
  Dense, a BatchNormalization folded into its weights; hls4ml's `<layer>_<activation>`
  entries name a conv's or Dense's own activation so) has no value of its own: its result
  type is the merged layer's result type, and its tables are that layer's; its other
  settings are listed in the warning. A layer with no hardware at all (Flatten, Dropout, a
  padding merged into a conv) has all its settings listed there.
- LayerType entries name Keras classes, or hls4ml's names for them (Merge for Add,
  ThresholdedReLU for ReLU, Activation / Softmax / LeakyReLU for a layer's own activation).
- Errors (a layer or class the model does not have, a role the layer's kind never has) are
  collected and raised at once, each naming the file and the key.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from . import hls4ml_config
from .config import LayerSettings, ProjectConfig
from .errors import IKRHLSError

log = logging.getLogger(__name__)

TABLE_ACTIVATIONS = ("softmax", "sigmoid", "tanh", "silu", "gelu")
TABLE_ROLES = ("exp_table", "inv_table", "act_table", "alpha")     # an activation's, wherever it is applied
# hls4ml's class for a layer's own activation (hls4ml splits it off as `<layer>_<activation>`)
HLS4ML_ACTIVATION_CLASS = {"softmax": "Softmax", "leaky_relu": "LeakyReLU"}
# hls4ml's class names for Keras classes, as its LayerType entries spell them
HLS4ML_CLASSES = {"ReLU": ("ThresholdedReLU",), "Add": ("Merge",), "Flatten": ("Reshape",)}
MAX_NAMES = 8                                                     # names a warning lists before "and N more"
# why a role means nothing on a layer that the kind of the layer could otherwise have
ROLE_REASONS = {
    "act_table": "only a sigmoid, tanh, silu or gelu uses a table; a softmax has exp_table and inv_table",
    "alpha": "only a leaky ReLU has a parameter, its slope",
    "exp_table": "only a softmax has it", "inv_table": "only a softmax has it",
    "recip": "only an average pool has reciprocals",
}
SOFTMAX_ACCUM = "a softmax's sum of exponentials is exact here, its type follows exp_table"
MERGED_REASONS = {
    "folded": "a BatchNormalization folded into the layer before it: that layer's weight and bias types apply",
    "fused": "an activation fused into the layer before it applies to that layer's accumulator",
}


@dataclass(frozen=True)
class Member:
    """A layer merged into another one (or hls4ml's name for a layer's own activation)."""
    name: str                       # Keras name (hls4ml's `<layer>_<activation>` for an own activation)
    keras_class: str | None
    how: str                        # "fused" (an activation) or "folded" (a BatchNormalization)
    classes: tuple = ()             # LayerType names that set it


@dataclass(frozen=True)
class LayerFacts:
    """What the config needs to know of one layer of the converted graph."""
    name: str                       # Keras name
    keras_class: str | None
    roles: tuple                    # the roles a config may name on it (its kind's and its activation's)
    used: tuple                     # the roles it has types for
    activation: str = "linear"
    reuses: bool = False            # its reuse factor shares multipliers
    strategies: tuple = ("unrolled",)
    merged: tuple = ()              # (Keras name, Keras class, "fused" | "folded", activation) merged into it
    what: str = "layer"             # for messages: "a conv2d layer"


def layer_type_names(keras_class: str | None, name: str, activation: str = "linear") -> tuple:
    """The LayerType names that set a layer of this Keras class: the class, hls4ml's name for
    it, a SeparableConv2D's depthwise half's own (hls4ml_config splits hls4ml's entry)."""
    if keras_class is None:
        return ()
    names = [keras_class, *HLS4ML_CLASSES.get(keras_class, ())]
    if keras_class == "Activation" and activation == "softmax":
        names.append("Softmax")                                   # hls4ml's class of Activation('softmax')
    if keras_class == "SeparableConv2D" and name.endswith(hls4ml_config.DEPTHWISE_SUFFIX):
        names.append(keras_class + hls4ml_config.DEPTHWISE_SUFFIX)
    return tuple(names)


class _Findings:
    """Errors, and settings that mean nothing. A LayerType entry sets several layers: its key
    means nothing only when it means nothing for every one of them (miss, hit)."""

    def __init__(self, config: ProjectConfig):
        self.notes: list = list(config.notes)
        self.errors: list = []
        self.misses: dict = {}                    # (label, key) -> (what, why)
        self.hits: set = set()                    # (label, key) that set something

    def note(self, what: str, why: str, label: str | None) -> None:
        self.notes.append((what, why, label))

    def miss(self, key: str, what: str, why: str, source: LayerSettings) -> None:
        self.misses.setdefault((source.label, key), (what, why))

    def hit(self, key: str, source: LayerSettings) -> None:
        self.hits.add((source.label, key))

    def all_notes(self) -> list:
        return self.notes + [(what, why, label) for (label, key), (what, why) in self.misses.items()
                             if (label, key) not in self.hits]


def resolve(config: ProjectConfig, layers: list, input_name: str, removed: dict, convertible: set,
            warn: bool = True) -> ProjectConfig:
    """The config with each layer's own settings (`layers`: LayerFacts of the converted graph),
    checked against the model: errors raise at once, settings that mean nothing are warned
    about once. `removed`: Keras name -> why it has no hardware of its own; `convertible`:
    the Keras classes ikr-hls converts."""
    if config.resolved:
        return config
    found = _Findings(config)
    members = _members(layers)
    _check_names(config, layers, input_name, removed, members, found)
    _check_classes(config, layers, removed, convertible, members, found)
    settings = {facts.name: _resolve_layer(config, facts, members[facts.name], found) for facts in layers}
    settings[input_name] = _resolve_input(config, input_name, found)
    if found.errors:
        raise IKRHLSError(found.errors[0] if len(found.errors) == 1
                          else f"{len(found.errors)} config errors: " + "; ".join(found.errors))
    notes = found.all_notes()
    if notes and warn:
        log.warning("%ssettings with no meaning in ikr-hls, ignored: %s",
                    f"{config.source}: " if config.source else "", "; ".join(_grouped(notes)))
    return dataclasses.replace(config, layers=settings, layer_types={}, auto_layers={}, resolved=True)


def _members(layers: list) -> dict:
    """Layer name -> its Members: the layers merged into it, then hls4ml's name for its own activation."""
    out = {}
    for facts in layers:
        merged = [Member(name, cls, how, layer_type_names(cls, name, activation))
                  for name, cls, how, activation in facts.merged]
        if facts.activation != "linear" and not any(m.how == "fused" for m in merged):
            cls = HLS4ML_ACTIVATION_CLASS.get(facts.activation, "Activation")
            merged.append(Member(f"{facts.name}_{facts.activation}", None, "fused", (cls,)))
        out[facts.name] = tuple(merged)
    return out


def _check_names(config, layers, input_name, removed, members, found) -> None:
    known = {facts.name for facts in layers} | {input_name} | {m.name for ms in members.values() for m in ms}
    for name, settings in config.layers.items():
        if name in known:
            continue
        where = f"{settings.where or 'LayerName.' + name} ({', '.join(settings.keys)})" if settings.keys \
            else settings.where or f"LayerName.{name}"
        if name in removed:
            for key in settings.keys:
                found.note(key, f"no hardware of its own: {removed[name]}", settings.label or name)
        else:
            found.errors.append(f"{where}: the model has no layer '{name}'{_activation_hint(layers, name)} "
                                f"(layers: {', '.join(sorted(known))})")
    for name in config.auto_layers:
        if name not in known and name not in removed:
            raise AssertionError(f"precision='auto' measured a layer '{name}' the graph does not have")


def _check_classes(config, layers, removed, convertible, members, found) -> None:
    setting = {"InputLayer"}                               # names that set some layer of this model
    for facts in layers:
        setting |= set(layer_type_names(facts.keras_class, facts.name, facts.activation))
        setting |= {cls for m in members[facts.name] for cls in m.classes}
    aliases = {a for names in HLS4ML_CLASSES.values() for a in names} | set(HLS4ML_ACTIVATION_CLASS.values())
    for cls, settings in config.layer_types.items():
        if cls in setting:
            continue
        if cls in convertible or cls in aliases or cls in ("Activation", "InputLayer") \
                or cls.endswith(hls4ml_config.DEPTHWISE_SUFFIX):
            for key in settings.keys:
                found.note(key, "no layer of that class has hardware of its own in this model", settings.label)
        else:
            classes = sorted({c for c in (f.keras_class for f in layers) if c})
            found.errors.append(f"{settings.where}: '{cls}' is not a Keras layer class ikr-hls converts "
                                f"(classes in this model: {', '.join(classes)})")


def _activation_hint(layers: list, name: str) -> str:
    """A name like hls4ml's for a layer's own activation, but not quite (c1_act for c1's relu)."""
    for facts in layers:
        suffix = name[len(facts.name) + 1:] if name.startswith(facts.name + "_") else None
        if facts.activation != "linear" and suffix in ("activation", "act", "relu", "softmax", "sigmoid", "tanh"):
            return (f"; ikr-hls fuses the {facts.activation} of '{facts.name}' into it (hls4ml names it "
                    f"'{facts.name}_{facts.activation}'): set its types on '{facts.name}' (the result type "
                    f"is after the {facts.activation})")
    return ""


def _sources(config: ProjectConfig, name: str, classes: tuple, auto: bool = True) -> list:
    """The entries that set a layer, lowest first: its measured types (precision='auto'), its
    classes' LayerType entries, its LayerName entry."""
    out = [config.auto_layers.get(name)] if auto else []
    out += [config.layer_types.get(cls) for cls in classes]
    out.append(config.layers.get(name))
    return [s for s in out if s is not None]


class _Layer:
    """One layer's settings as they are resolved."""

    def __init__(self, facts: LayerFacts, found: _Findings):
        self.facts, self.found = facts, found
        self.values: dict = {}                         # key or role -> value
        self.origins: dict = {}                        # key or role -> where
        self.wheres: list = []

    def set(self, key, value, source: LayerSettings, where_key: str) -> None:
        self.found.hit(where_key, source)
        self.values[key] = value
        self.origins[key] = f"{source.where}.{where_key}" if source.where else where_key
        if source.where and source.where not in self.wheres:
            self.wheres.append(source.where)

    def settings(self, keys: tuple) -> LayerSettings:
        v = self.values
        return LayerSettings(
            precision={r: v[r] for r in self.facts.used if r in v}, reuse_factor=v.get("ReuseFactor"),
            strategy=v.get("Strategy"), table_size=v.get("TableSize"), exp_range=v.get("ExpRange"),
            where=" and ".join(self.wheres), keys=keys, label=self.facts.name, origins=dict(self.origins))


def _resolve_layer(config: ProjectConfig, facts: LayerFacts, members: tuple, found: _Findings) -> LayerSettings:
    layer = _Layer(facts, found)
    tables = facts.activation in TABLE_ACTIVATIONS
    keys: list = []
    results: list = []                                  # (type, label) each link of the chain leaves
    for source in _sources(config, facts.name, layer_type_names(facts.keras_class, facts.name, facts.activation)):
        keys += source.keys
        _take_types(layer, source, None, found)
        if source.reuse_factor is not None:
            if facts.reuses:
                layer.set("ReuseFactor", source.reuse_factor, source, "ReuseFactor")
            else:
                found.miss("ReuseFactor", "ReuseFactor", "the layer has no multipliers to share", source)
        if source.strategy is not None:
            if source.strategy in facts.strategies or source.strategy == "auto":
                layer.set("Strategy", source.strategy, source, "Strategy")
            else:
                found.miss("Strategy", f"Strategy: {source.strategy}", f"the layer has {_forms(facts.strategies)}",
                           source)
        _take_tables(layer, source, tables, found)
    if "result" in layer.values:
        results.append((layer.values["result"], facts.name))
    for member in members:
        before = layer.values.get("result")
        for source in _sources(config, member.name, member.classes, auto=False):
            keys += source.keys
            _take_types(layer, source, member, found)
            for key, value in (("ReuseFactor", source.reuse_factor), ("Strategy", source.strategy)):
                if value is not None:
                    found.miss(key, key, f"part of the layer it is {member.how} into, whose {key} applies", source)
            _take_tables(layer, source, tables, found)
        if layer.values.get("result") is not before:
            results.append((layer.values["result"], member.name))
    if results:
        final = results[-1][0]
        for value, label in results[:-1]:
            if value != final:
                found.note("Precision.result", "the value before an activation or BatchNormalization merged into "
                           "the layer, which is not stored here: the last one's result type applies", label)
    return layer.settings(tuple(dict.fromkeys(keys)))


def _forms(strategies: tuple) -> str:
    return f"one form, {strategies[0]}" if len(strategies) == 1 else f"the forms {', '.join(strategies)}"


def _take_types(layer: _Layer, source: LayerSettings, member: Member | None, found: _Findings) -> None:
    """A source's types on the layer: its own entry's (member None) or a merged layer's entry's
    (only the result and the activation's tables mean something there)."""
    facts = layer.facts
    if source.all_types is not None:
        for role in ("weight", "bias", "result") if member is None else ("result",):
            if role in facts.used:
                layer.set(role, source.all_types, source, "Precision")
    for role, value in source.precision.items():
        ours = hls4ml_config.ROLE_ALIASES.get(role, role)
        where = f"Precision.{role}"
        if ours in facts.used and (member is None or ours == "result" or ours in TABLE_ROLES):
            layer.set(ours, value, source, where)
        elif ours == "accum" and facts.activation == "softmax" and (member is not None or ours in facts.roles):
            found.miss(where, where, SOFTMAX_ACCUM, source)           # hls4ml's type of the exp sum
        elif member is not None and ours not in TABLE_ROLES:
            found.miss(where, where, MERGED_REASONS[member.how], source)
        elif member is not None or role in hls4ml_config.ROLE_ALIASES or ours in facts.roles:
            found.miss(where, where, ROLE_REASONS.get(ours, "the layer has no such value here"), source)
        else:
            found.errors.append(f"{source.where}.Precision: a {facts.what} has no {role} type "
                                f"(it has: {', '.join(facts.roles)})")


def _take_tables(layer: _Layer, source: LayerSettings, tables: bool, found: _Findings) -> None:
    softmax = layer.facts.activation == "softmax"
    for key, value, honoured, why in (
            ("TableSize", source.table_size, tables,
             "no lookup table: only a softmax, sigmoid, tanh, silu or gelu has one"),
            ("ExpRange", source.exp_range, softmax, "no softmax")):
        if value is None:
            continue
        if honoured:
            layer.set(key, value, source, key)
        else:
            found.miss(key, key, why, source)


def _resolve_input(config: ProjectConfig, name: str, found: _Findings) -> LayerSettings:
    facts = LayerFacts(name=name, keras_class="InputLayer", roles=("result",), used=("result",),
                       what="model input")
    layer = _Layer(facts, found)
    keys: list = []
    for source in _sources(config, name, ("InputLayer",)):
        keys += source.keys
        _take_types(layer, source, None, found)
        for key in ("ReuseFactor", "Strategy", "TableSize", "ExpRange"):
            if key in source.keys:
                found.miss(key, key, "the model input has only a type", source)
    return layer.settings(tuple(dict.fromkeys(keys)))


def _grouped(notes: list) -> list:
    """One item per (what, why): the names it concerns (or how often it came up)."""
    groups: dict = {}
    for what, why, label in notes:
        groups.setdefault((what, why), []).append(label)
    out = []
    for (what, why), labels in groups.items():
        names = list(dict.fromkeys(label for label in labels if label))
        text = f"{what} ({why})"
        if names:
            shown = names[:MAX_NAMES]
            more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
            text += f": {', '.join(shown)}{more}"
        elif len(labels) > 1:
            text += f" x{len(labels)}"
        out.append(text)
    return out
