"""Pick one option per layer so that the summed costs stay within limits and the summed loss is
smallest: a multiple-choice knapsack with a few cost dimensions (parameters, MACs, LUT, DSP...).

Layer by layer, the partial choices are combined and only the Pareto-optimal ones are kept (no
other partial choice has a loss and every cost at most as large), after dropping those that
cannot fit even with the cheapest options for the layers still to come. That is exact; when a
front grows past MAX_FRONT, costs are rounded to 1/GRID of their limit and only the best partial
choice per cell is kept, which bounds the work at the price of exactness within one cell.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_FRONT = 4000
GRID = 1000


@dataclass
class Option:
    """One setting of one layer: its loss and its cost in each dimension (same order as limits)."""
    setting: dict
    loss: float
    cost: np.ndarray


def best_choices(layers: list, limits: np.ndarray, fixed: np.ndarray, count: int = 1) -> list:
    """Up to `count` feasible choices, best first, as (loss, cost, [option index per layer]).

    layers: per layer, a list of Options; limits: the maximum of each summed cost; fixed: the
    cost outside the layers (added to every choice). Empty when no choice fits."""
    budget = np.asarray(limits, dtype=float) - np.asarray(fixed, dtype=float)
    cheapest = [np.min([o.cost for o in opts], axis=0) for opts in layers]
    # the least the layers after position i can cost
    rest = np.cumsum([np.zeros_like(budget)] + cheapest[::-1], axis=0)[::-1]
    losses, costs = np.zeros(1), np.zeros((1, len(budget)))
    picks = np.zeros((1, 0), dtype=np.int64)
    for i, opts in enumerate(layers):
        option_loss = np.array([o.loss for o in opts])
        option_cost = np.array([o.cost for o in opts], dtype=float)
        losses = (losses[:, None] + option_loss[None, :]).ravel()
        costs = (costs[:, None, :] + option_cost[None, :, :]).reshape(-1, len(budget))
        picks = np.concatenate([np.repeat(picks, len(opts), axis=0),
                                np.tile(np.arange(len(opts)), len(picks))[:, None]], axis=1)
        fits = np.all(costs + rest[i + 1] <= budget + 1e-9, axis=1)
        losses, costs, picks = losses[fits], costs[fits], picks[fits]
        if not len(losses):
            return []
        keep = _pareto(losses, costs, budget, last=i == len(layers) - 1, count=count)
        losses, costs, picks = losses[keep], costs[keep], picks[keep]
    order = np.lexsort((costs.sum(axis=1), losses))[:count]
    return [(float(losses[k]), costs[k] + fixed, picks[k].tolist()) for k in order]


def _pareto(losses: np.ndarray, costs: np.ndarray, budget: np.ndarray, last: bool, count: int) -> np.ndarray:
    """Indices of the non-dominated rows (ties: the first); at the last layer only cost no
    longer matters beyond fitting, so the `count` best losses are kept."""
    order = np.lexsort((costs.sum(axis=1), losses))
    if last:
        return order[:count]
    kept: list = []
    kept_costs = np.empty_like(costs)
    for k in order:                             # by loss: a row is dominated only by one kept before it
        if kept and np.any(np.all(kept_costs[:len(kept)] <= costs[k], axis=1)):
            continue
        kept_costs[len(kept)] = costs[k]
        kept.append(k)
    kept_arr = np.array(kept, dtype=np.int64)
    if len(kept_arr) > MAX_FRONT:              # coarse cells: the best loss per cell
        scale = np.where(budget > 0, budget / GRID, 1.0)
        cells = np.floor(costs[kept_arr] / scale).astype(np.int64)
        _, first = np.unique(cells, axis=0, return_index=True)
        kept_arr = kept_arr[np.sort(first)]
    return kept_arr
