"""Expressions over loop variables and constants: the conditions, choices and indices of the
generated code, kept as data.

A layer's plan says, for instance, that a conv reads its input stream when `y >= 1 && x < 13`
and that a PE's input is `(r == 0) ? window[0][1][2] : window[0][1][3]`. The same tree is
rendered into the C++ (the `cpp` filter of the templates) and evaluated with numpy (the FIFO
depth model, the checks of the tests), so that no module ever reads back C++ it generated.

    y, x = Var("y"), Var("x")
    valid = all_of(y >= 1, x < 13)     # an Expr; all_of() of nothing is TRUE
    cpp(valid)                         # 'y >= 1 && x < 13'
    evaluate(valid, {"y": ys, "x": xs})  # a numpy bool array, broadcast over ys and xs
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

# C++ precedence, higher binds tighter (the C++ operators the generated code uses)
_PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5,
               "*": 6, "/": 6, "%": 6}
_NUMPY = {"||": np.logical_or, "&&": np.logical_and, "==": np.equal, "!=": np.not_equal, "<": np.less,
          "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "+": np.add, "-": np.subtract,
          "*": np.multiply, "/": np.floor_divide, "%": np.remainder}


class Expr:
    """A node. Arithmetic and comparison operators build trees (== and != are the methods
    eq/ne, so that nodes stay hashable and comparable as objects); & and | are && and ||."""

    # arithmetic leaves out what changes nothing (x + 0, x - 0, x * 1, x / 1), so that the code
    # reads as written by hand
    def __add__(self, other) -> Expr:
        other = as_expr(other)
        return self if _is(other, 0) else other if _is(self, 0) else Bin("+", self, other)

    def __sub__(self, other) -> Expr:
        other = as_expr(other)
        return self if _is(other, 0) else Bin("-", self, other)

    def __mul__(self, other) -> Expr:
        other = as_expr(other)
        return self if _is(other, 1) else other if _is(self, 1) else Bin("*", self, other)

    def __floordiv__(self, other) -> Expr:
        other = as_expr(other)
        return self if _is(other, 1) else Bin("/", self, other)      # C++ / of non-negative ints

    def __mod__(self, other) -> Expr:
        return Bin("%", self, as_expr(other))

    def __lt__(self, other) -> Expr:
        return Bin("<", self, as_expr(other))

    def __le__(self, other) -> Expr:
        return Bin("<=", self, as_expr(other))

    def __gt__(self, other) -> Expr:
        return Bin(">", self, as_expr(other))

    def __ge__(self, other) -> Expr:
        return Bin(">=", self, as_expr(other))

    def __and__(self, other) -> Expr:
        return all_of(self, other)

    def __or__(self, other) -> Expr:
        return any_of(self, other)

    def eq(self, other) -> Expr:
        return Bin("==", self, as_expr(other))

    def ne(self, other) -> Expr:
        return Bin("!=", self, as_expr(other))

    def __str__(self) -> str:
        raise TypeError(f"an expression is rendered with expr.cpp (the templates' cpp filter), not str(): {self!r}")

    def __bool__(self) -> bool:
        raise TypeError(f"an expression has no truth value in Python (render it with cpp or evaluate it): {self!r}")


@dataclass(frozen=True, eq=False)
class Var(Expr):
    """A loop variable or a counter of the generated code (y, x, r, row_phase, ...)."""
    name: str


@dataclass(frozen=True, eq=False)
class Const(Expr):
    value: int | bool


@dataclass(frozen=True, eq=False)
class Bin(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, eq=False)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True, eq=False)
class Select(Expr):
    """`condition ? then : otherwise`."""
    condition: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True, eq=False)
class Index(Expr):
    """An element of a named array (or of a C++ expression that names one): `array[i][j]`."""
    array: str
    indices: tuple


@dataclass(frozen=True, eq=False)
class Ref(Expr):
    """A value the generated code names (a register, a table entry written out), rendered as
    it is: it has no value outside the code, and `evaluate` refuses it."""
    text: str


TRUE = Const(True)


def _is(e: Expr, value: int) -> bool:
    return isinstance(e, Const) and not isinstance(e.value, bool) and e.value == value


def as_expr(value) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, (bool, int, np.integer)):
        return Const(value if isinstance(value, bool) else int(value))
    raise TypeError(f"not an expression: {value!r}")


def all_of(*terms) -> Expr:
    """The && of the terms (None and TRUE left out; TRUE when nothing is left), flattened."""
    kept = [as_expr(t) for t in terms if t is not None and not _is_true(t)]
    if not kept:
        return TRUE
    out = kept[0]
    for term in kept[1:]:
        out = Bin("&&", out, term)
    return out


def any_of(*terms) -> Expr:
    """The || of the terms (None left out; at least one term)."""
    kept = [as_expr(t) for t in terms if t is not None]
    if not kept:
        raise ValueError("any_of needs at least one term")
    out = kept[0]
    for term in kept[1:]:
        out = Bin("||", out, term)
    return out


def _is_true(term) -> bool:
    return isinstance(term, Const) and term.value is True


def select(condition, then, otherwise) -> Select:
    return Select(as_expr(condition), as_expr(then), as_expr(otherwise))


def index(array: str, *indices) -> Index:
    return Index(array, tuple(as_expr(i) for i in indices))


def cpp(expr) -> str:
    """C++ text of an expression (the templates' `cpp` filter): parentheses only where C++
    precedence needs them."""
    return _cpp(as_expr(expr), 0)


def _cpp(e: Expr, outer: int) -> str:
    if isinstance(e, Const):
        return ("true" if e.value else "false") if isinstance(e.value, bool) else str(e.value)
    if isinstance(e, Var):
        return e.name
    if isinstance(e, Ref):
        return e.text
    if isinstance(e, Index):
        return e.array + "".join(f"[{_cpp(i, 0)}]" for i in e.indices)
    if isinstance(e, Not):
        return "!" + _cpp(e.operand, 99)
    if isinstance(e, Select):
        # a chain of choices (a lane's R registers) is written in a loop, not by recursion
        parts = []
        while isinstance(e, Select):
            parts.append(f"({_cpp(e.condition, 0)}) ? {_cpp(e.then, 1)} : ")
            e = e.otherwise
        text = "".join(parts) + _cpp(e, 0)
        return f"({text})" if outer > 0 else text
    if isinstance(e, Bin):
        p = _PRECEDENCE[e.op]
        # left-associative: the right operand of a same-precedence operator needs parentheses
        # unless the operator is associative (&&, ||, +, *)
        right = p + (0 if e.op in ("&&", "||", "+", "*") else 1)
        text = f"{_cpp(e.left, p)} {e.op} {_cpp(e.right, right)}"
        return f"({text})" if p < outer else text
    raise TypeError(f"not an expression: {e!r}")


def evaluate(expr, env: Mapping[str, object]) -> np.ndarray:
    """The value of an expression with numpy, `env` mapping each variable to an array (or a
    number); arrays broadcast. Array elements and code references have no value here."""
    e = as_expr(expr)
    if isinstance(e, Const):
        return np.asarray(e.value)
    if isinstance(e, Var):
        if e.name not in env:
            raise KeyError(f"expression {cpp(e)}: no value for variable '{e.name}'")
        return np.asarray(env[e.name])
    if isinstance(e, Not):
        return np.logical_not(evaluate(e.operand, env))
    if isinstance(e, Select):
        return np.where(evaluate(e.condition, env), evaluate(e.then, env), evaluate(e.otherwise, env))
    if isinstance(e, Bin):
        return _NUMPY[e.op](evaluate(e.left, env), evaluate(e.right, env))
    raise TypeError(f"expression {cpp(e)}: {type(e).__name__} has no value outside the generated code")


def variables(expr) -> set:
    """The names of the variables an expression reads (the arrays of its Index nodes excluded)."""
    e = as_expr(expr)
    if isinstance(e, Var):
        return {e.name}
    if isinstance(e, Bin):
        return variables(e.left) | variables(e.right)
    if isinstance(e, Not):
        return variables(e.operand)
    if isinstance(e, Select):
        return variables(e.condition) | variables(e.then) | variables(e.otherwise)
    if isinstance(e, Index):
        return set().union(*(variables(i) for i in e.indices))
    return set()


def choice(choices: list, by: Var) -> Expr:
    """The value for each key of a variable (the cycle r, a pattern id): [(key, value)] ->
    `(r == 0 || r == 2) ? a : b`; the last value serves every key not listed before it, and
    one value is no choice at all."""
    values: dict = {}
    for key, value in choices:
        values.setdefault(cpp(value), (value, []))[1].append(key)
    *chosen, (default, _) = values.values()
    out = default
    for value, keys in reversed(chosen):
        out = select(any_of(*(by.eq(key) for key in keys)), value, out)
    return out
