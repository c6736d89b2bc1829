"""IKR pruning of Keras 3 models: the `IKRPruning` callback, one-shot `prune_once`, `summary`.

The model stays a plain keras.Model: the callback only computes masks and writes
``kernel * mask`` back into the kernel variables, so a saved model holds exact zeros and
the converter reads the patterns back from them (see ikr_hls.patterns and docs/pruning.md).

    schedule.py   PolynomialDecay, ConstantSparsity: when, and how far towards the targets
    options.py    which layers, with which settings (checked)
    masks.py      the mask of a layer at a point of the schedule
    callback.py   IKRPruning and prune_once
    summary.py    summary(): patterns, parameters and MACs read from a model's zeros
    sensitivity.py  sensitivity(): each layer pruned alone at each candidate setting, scored
    budget.py     plan_budget(): per-layer settings that meet a params/MACs/resources budget
    workers.py    masks that agree across the workers of a multi-worker job
"""
from .budget import BudgetPlan, plan_budget
from .callback import IKRPruning, prune_once
from .options import kernel_variable
from .schedule import ConstantSparsity, PolynomialDecay, count_to_prune, keep_at
from .sensitivity import SensitivityTable, sensitivity
from .summary import PruningSummary, summary

__all__ = ["IKRPruning", "prune_once", "summary", "PolynomialDecay", "ConstantSparsity", "PruningSummary",
           "keep_at", "count_to_prune", "kernel_variable", "sensitivity", "SensitivityTable",
           "plan_budget", "BudgetPlan"]
