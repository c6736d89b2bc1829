"""dense: a Dense layer over the compact list of its nonzero weights (weight, input index,
output index), with any activation, softmax included. Three forms: `unrolled` (that list, a
product per weight), `resource` (multiply-accumulate lanes over R cycles, dense_resource.py) and,
asked for by name, `da` (the weight matrix as da4ml's graph of shifts and adders, ikr_hls/da/: no
multiplier, no weight table)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import activations, hardware
from .. import codes as C
from ..activations import ActivationCall, SoftmaxView
from ..constants import array, literal
from ..da import form as da
from ..ir import ACTIVATIONS, Layer
from ..precision import index_bits, requantize, to_codes, weight_bits, widen_for_sum
from . import dense_resource
from .base import Cost, LayerKind, Sample, View, Weights, vector_stream
from .keras_reading import activation_name, read_array, unsupported, with_activation

ROLES = ("weight", "bias", "accum", "result")


@dataclass(frozen=True)
class DenseFacts:
    """rows, cols: the input and output index of every nonzero weight, ordered by output,
    then input (the order the code accumulates them); lanes: strategy resource's
    (ikr_hls/lanes.py); da: the da form's facts (strategy da); both None when unrolled."""
    rows: np.ndarray
    cols: np.ndarray
    lanes: Any = None
    da: da.DAForm | None = None

    @property
    def nnz(self) -> int:
        return len(self.rows)


def _input_element(row: tuple) -> str:
    return f"in[{row[0]}]"


def _is_da(layer: Layer) -> bool:
    """Strategy da; any other strategy name (a model-wide pattern or pe) leaves the unrolled form."""
    return layer.settled.strategy == da.DA


def derive(layer: Layer) -> DenseFacts:
    cols, rows = np.nonzero(layer.weights["kernel"].T)
    found = dense_resource.plan(layer, layer.settled.reuse_factor) if _resource(layer) else None
    return DenseFacts(rows, cols, found, da.DAForm(layer, _input_element) if _is_da(layer) else None)


def _resource(layer: Layer) -> bool:
    """Strategy resource; a strategy the Dense lacks (a conv's, set for the whole model) is unrolled."""
    return layer.settled.strategy == "resource"


def _dense(klayer, shape, source):
    if len(shape) != 1:
        raise unsupported(klayer, source, f"input shape {shape} (Dense needs a vector; add Flatten)")
    kernel = read_array(klayer.kernel)
    bias = read_array(klayer.bias) if klayer.use_bias else np.zeros(klayer.units)
    layer = Layer(name="", kind="dense", keras_name=klayer.name, in_shape=shape,
                  out_shape=(klayer.units,), weights=dict(kernel=kernel, bias=bias))
    return with_activation(layer, activation_name(klayer, source))


def template(layer: Layer) -> str:
    return "dense_resource" if _resource(layer) else "dense"


def _activation_products(layer: Layer) -> int:
    """Multiplications of the activation: a leaky ReLU's slope (activations.products), or a
    softmax's normalisation."""
    return layer.out_shape[-1] * (1 if layer.activation == "softmax" else activations.products(layer))


def _per_copy(layer: Layer) -> int:
    return 2 * layer.settled.reuse_factor


def table_copies(layer: Layer) -> int:
    """Copies of the activation's table (sigmoid/tanh, or the softmax exp table): every output
    reads it once a call, a copy serves 2 x II of them."""
    return -(-layer.out_shape[-1] // _per_copy(layer))


@dataclass(frozen=True, kw_only=True)
class DenseView(View, SoftmaxView):
    """dense.h.j2: the products over the nonzero weights, the activation or softmax."""
    n_in: int
    n_out: int
    nnz: int
    dense_weights: int
    reuse_factor: int
    multipliers: int
    allocation: int
    per_copy: int
    exp_copies: int
    table_pragmas: list
    act: ActivationCall
    binding: str              # where the products go (BIND_OP impl): "dsp", "fabric", "" (no pragma)
    da: bool = False          # strategy da: the graph's statements, its outputs (None: the bias alone)
    adders: tuple = ()
    outputs: tuple = ()
    depth: int = 0


def view(layer: Layer) -> View:
    n_in, n_out = layer.weights["kernel"].shape
    nnz, size = layer.facts.nnz, layer.weights["kernel"].size
    rf = layer.settled.reuse_factor
    common = dict(**activations.softmax_view(layer), n_in=n_in, n_out=n_out, nnz=nnz, dense_weights=size,
                  reuse_factor=rf, per_copy=_per_copy(layer), exp_copies=table_copies(layer),
                  table_pragmas=activations.partition_pragmas(layer),
                  act=activations.call_view(layer), keras_class="Dense", binding=layer.plan_cost.binding or "",
                  summary=f"Dense {n_in}->{n_out}, {nnz}/{size} weights")
    if _resource(layer):
        return dense_resource.view(layer, layer.facts.lanes, common)
    multipliers = int(layer.plan_cost.multipliers or 0)
    return DenseView(**common, multipliers=multipliers, allocation=multipliers if rf > 1 else 0,
                     **_da_view(layer))


def _da_view(layer: Layer) -> dict:
    form = layer.facts.da
    if form is None:
        return {}
    return dict(da=True, adders=form.graph.adders, outputs=tuple(enumerate(form.graph.outputs)),
                depth=form.solution.depth)


def _index_type(limit: int) -> str:
    return "uint16_t" if limit <= 0xFFFF else "uint32_t"


def weights(layer: Layer) -> Weights:
    kernel = layer.weights["kernel"]
    n_in, n_out = kernel.shape
    facts: DenseFacts = layer.facts
    bias = array(f"{layer.name}_b", f"{layer.name}_bias_t", layer.weights["bias"], "bias", literal(layer, "bias"))
    if facts.lanes is not None:
        macs = facts.lanes.multipliers
        return Weights(f"Dense, {facts.nnz} nonzero of {kernel.size}, in {macs} multiply-accumulates",
                       activations.arrays(layer, table_copies(layer))
                       + dense_resource.weight_arrays(layer, facts.lanes) + [bias])
    if facts.da is not None:
        return Weights(f"Dense by distributed arithmetic, {facts.nnz} nonzero of {kernel.size} weights as shifts and "
                       f"{len(facts.da.graph.adders)} adders of the code, no table",
                       activations.arrays(layer, table_copies(layer)) + [bias])
    return Weights(f"Dense, {facts.nnz} nonzero of {kernel.size}", activations.arrays(layer, table_copies(layer)) + [
        array(f"{layer.name}_w", f"{layer.name}_weight_t", kernel[facts.rows, facts.cols], "nonzero weights only",
              literal(layer, "weight")),
        array(f"{layer.name}_w_in", _index_type(n_in), facts.rows, "input index of each nonzero weight"),
        array(f"{layer.name}_w_out", _index_type(n_out), facts.cols, "output index of each nonzero weight"),
        bias,
    ])


def reference(layer: Layer, ins: list) -> np.ndarray:
    (codes, in_t), = ins
    p = C.fixed_types(layer)
    kernel = layer.weights["kernel"]
    w_codes = to_codes(kernel, p["weight"])
    orders = [np.flatnonzero(kernel[:, j]) for j in range(kernel.shape[1])]   # inputs ascending
    index, mask = C.ordered_terms(w_codes, orders)
    C.check_fits(in_t.width + p["weight"].width, "product")
    acc_t = p["accum"]
    n_out = kernel.shape[1]
    acc = np.broadcast_to(requantize(to_codes(layer.weights["bias"], p["bias"]), p["bias"].fractional, acc_t),
                          (codes.shape[0], n_out)).copy()
    if layer.facts.lanes is not None:
        acc = dense_resource.accumulate(layer.facts.lanes, codes, w_codes, in_t.fractional + p["weight"].fractional,
                                        acc, acc_t)
        return activations.activate(layer, acc, acc_t)
    if layer.facts.da is not None:           # the graph's exact sums, added once to the bias
        acc = da.accumulate(codes, w_codes, in_t.width, in_t.fractional, p["weight"].width, p["weight"].fractional,
                            acc, acc_t)
        return activations.activate(layer, acc, acc_t)
    cols = np.arange(n_out)
    for step in range(index.shape[0]):
        rows = index[step]
        product = codes[:, rows] * w_codes[rows, cols]
        acc = C.add(acc, acc_t, product, in_t.fractional + p["weight"].fractional, mask[step])
    return activations.activate(layer, acc, acc_t)


def _da_cost(layer: Layer) -> Cost:
    """Strategy da: one step at II 1, the graph's adders at their widths and its depth, the bias
    accumulations; products only the activation's (a leaky slope, a softmax's normalisation)."""
    kernel, form = layer.weights["kernel"], layer.facts.da
    n_out = kernel.shape[1]
    products = _activation_products(layer)
    in_bits = hardware.bits(layer.input_types[0]) if layer.input_types else 0
    acc_bits = hardware.bits(layer.precision["accum"])
    operators = (da.operators(form, acc_bits) + activations.operators(layer, n_out, acc_bits)
                 + hardware.conversion("result", layer.precision["result"], n_out))
    return Cost(ii=1, iterations=1, chain=hardware.chain(da.chain(form), activations.chain(layer, n_out), ("write", 1)),
                multipliers=products, sharing="none: shifts and adds" if not products else "one per product",
                registers_bits=n_out * acc_bits,
                memories=tuple(activations.table_memories(layer, table_copies(layer))),
                product_bits=(hardware.product_weight_bits(layer, kernel), in_bits), macs_dense=int(kernel.size),
                macs=layer.facts.nnz, operators=operators, constants=activations.constant_products(layer, n_out))


def cost(layer: Layer) -> Cost:
    """The whole layer is one pipelined step at II = R: ceil(products / R) multipliers
    (ALLOCATION), the activation's products (a leaky slope, a softmax's normalisation)
    included."""
    if layer.facts.lanes is not None:
        return dense_resource.cost(layer, layer.facts.lanes, _activation_products(layer),
                                   tuple(activations.table_memories(layer, table_copies(layer))))
    if layer.facts.da is not None:
        return _da_cost(layer)
    kernel = layer.weights["kernel"]
    rf = layer.settled.reuse_factor
    products = layer.facts.nnz + _activation_products(layer)
    multipliers = max(1, hardware.shared(products, rf))
    in_bits = hardware.bits(layer.input_types[0]) if layer.input_types else 0
    w_bits = hardware.bits(layer.precision["weight"])
    muxes = hardware.shared_operand_muxes(products, multipliers, in_bits, w_bits)
    terms = int(np.bincount(layer.facts.cols, minlength=kernel.shape[1]).max(initial=0)) + 1   # and the bias
    chain = hardware.chain(("multiply", 1), hardware.add_tree(terms),
                           activations.chain(layer, kernel.shape[1]), hardware.sharing_cycles(rf), ("write", 1))
    acc_bits, n_out = hardware.bits(layer.precision["accum"]), kernel.shape[1]
    operators = (hardware.ops("accumulation", "add", acc_bits, layer.facts.nnz)
                 + activations.operators(layer, n_out, acc_bits)
                 + hardware.conversion("result", layer.precision["result"], n_out))
    weights = kernel[layer.facts.rows, layer.facts.cols]
    constants = hardware.merge_constants(
        hardware.constant_products(weights, layer.precision["weight"]) if rf == 1 else (),
        activations.constant_products(layer, n_out) if rf == 1 else ())
    return Cost(ii=rf, iterations=1, chain=chain, multipliers=multipliers,
                sharing=f"ALLOCATION: {multipliers} for {products} products" if rf > 1 else "one per product",
                registers_bits=n_out * acc_bits,
                memories=tuple(activations.table_memories(layer, table_copies(layer))), muxes=tuple(muxes),
                product_bits=(hardware.product_weight_bits(layer, kernel), in_bits), macs_dense=int(kernel.size),
                macs=layer.facts.nnz,
                operators=operators, constants=constants)


def values(layer: Layer) -> dict:
    return {"weight": layer.weights["kernel"], "bias": layer.weights["bias"]}


def report(layer: Layer) -> dict:
    kernel, bias = layer.weights["kernel"], layer.weights["bias"]
    n_in, n_out = kernel.shape
    nnz = layer.facts.nnz
    w_t, b_t = layer.precision["weight"], layer.precision["bias"]
    wb = weight_bits(w_t)
    csr = nnz * (wb + index_bits(n_in)) + (n_out + 1) * nnz.bit_length()
    return {"weight_type": w_t.cpp, "weight_bits": wb, "bias_type": b_t.cpp,
            "params_dense": int(kernel.size + bias.size),
            "params_nonzero": nnz + int(np.count_nonzero(bias)),
            "kernel_nonzero": nnz,
            "storage_bits": {"dense": int(kernel.size) * wb, "ikr": csr, "csr": csr},
            "bias_bits": int(bias.size) * weight_bits(b_t)}


def default_accum(layer: Layer, in_types: list, types: dict):
    if in_types[0].is_float or types["result"].is_float:
        return types["result"]
    kernel = layer.weights["kernel"]
    per_output = (kernel != 0).sum(axis=0)
    return widen_for_sum(in_types[0], types["weight"], types["bias"], int(per_output.max(initial=0)))


SAMPLES = {"Dense": Sample(lambda L: L.Dense(3), (4,))}

KIND = LayerKind(
    samples=SAMPLES,
    stream_form=vector_stream,
    name="dense", keras={"Dense": _dense},
    roles=ROLES, templates=("dense", "dense_stream", "dense_resource", "dense_resource_stream"),
    template=template, view=view, weights=weights,
    reference=reference, cost=cost, report=report, values=values, default_accum=default_accum, derive=derive,
    reuses=True, strategies=("unrolled", "resource"), asked_strategies=(da.DA,), activations=ACTIVATIONS,
    folds_scale_shift=True)
