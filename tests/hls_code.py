"""A reader of the generated firmware, as Vitis HLS would see its structure: functions, loops
(label, trip count), the pragmas of each scope, products, calls, and, for a pipelined step,
every array access and product once the loops inside it are unrolled and the ikr helpers it
calls are inlined. It is written for the test suite, independently of the generator and of
ikr_hls/hardware.py, so that what the generator claims (header comments, report) can be
checked against the code itself.

It reads the subset of C++ that ikr-hls generates: `for (int i = A; i < B; i++)` (or
`i += K`) loops, with or without braces, `label:` before a loop, `if (...)` blocks,
`#pragma HLS` lines, statements ending in `;`, and template functions of cpp/*.h called as
`ikr::name<args>(...)`. Host-only code (`#ifdef IKR_COUNT_OPS`, `#ifndef __SYNTHESIS__`,
...) is dropped first, as Vitis drops it.
"""
from __future__ import annotations

import functools
import itertools
import re
from collections import ChainMap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ikr_hls.synthcheck import drop_unsynthesised_branches, strip_comments_and_literals

_LOOP = re.compile(r"for\s*\(\s*int\s+(\w+)\s*=\s*([^;]+);\s*\1\s*<\s*([^;]+);\s*\1\s*(?:\+\+|\+=\s*([^)]+))\s*\)")
_LABEL_AT = re.compile(r"(\w+)\s*:(?!:)")
_IF = re.compile(r"if\s*\(")
# A function definition starts a line: [template <...>] [static|inline] type name(params) [-> type] {
_FUNCTION = re.compile(r"^(?:template\s*<(?P<tparams>[^<>]*(?:<[^<>]*>[^<>]*)*)>\s*)?(?:(?:static|inline)\s+)*"
                       r"[A-Za-z_][\w:<>, ]*?[\s*&]+(?P<name>\w+)\s*\((?P<params>(?:[^()]|\([^()]*\))*)\)\s*"
                       r"(?:->\s*[\w:]+(?:\([^()]*\))?\s*)?\{", re.M)
_CALL = re.compile(r"ikr::(\w+)\s*<(.*)>\s*\((.*)\)\s*$", re.S)


@dataclass
class Pragma:
    text: str                                   # e.g. "PIPELINE II=2"

    @property
    def kind(self) -> str:
        return self.text.split()[0].upper()

    def option(self, key: str):
        match = re.search(rf"\b{key}\s*=\s*(\w+)", self.text, re.I)
        return match[1] if match else None


@dataclass
class Statement:
    text: str


@dataclass
class Loop:
    label: str | None
    var: str
    start: str
    bound: str
    body: list = field(default_factory=list)    # Loop, Statement, Call, If
    pragmas: list = field(default_factory=list)
    step: str = "1"

    def pragma(self, kind: str):
        return next((p for p in self.pragmas if p.kind == kind), None)


@dataclass
class If:
    condition: str
    body: list = field(default_factory=list)


@dataclass
class Call:
    name: str                                   # ikr library function
    template_args: list
    args: list


@dataclass
class Function:
    name: str
    template_params: list                       # names, in order
    params: str
    body: list
    pragmas: list

    def pragma(self, kind: str):
        return next((p for p in self.pragmas if p.kind == kind), None)

    def param_names(self) -> list:
        return [re.findall(r"(\w+)\s*(?:\[.*)?$", p.strip())[0] for p in _split_top(self.params) if p.strip()]


def clean(text: str) -> str:
    """Comments and literals blanked, branches Vitis never compiles dropped."""
    return drop_unsynthesised_branches(strip_comments_and_literals(text))


def _close(code: str, at: int, pair="{}") -> int:
    depth = 0
    for i in range(at, len(code)):
        depth += (code[i] == pair[0]) - (code[i] == pair[1])
        if depth == 0:
            return i
    raise ValueError(f"unbalanced {pair} at {at}")


def _split_top(text: str, sep=",") -> list:
    """Split at `sep` outside (), <>, [] and {}."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "(<[{":
            depth += 1
        elif ch in ")>]}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def parse_functions(text: str) -> dict:
    """{name: Function} of every function defined in a C++ text."""
    code = clean(text)
    functions = {}
    for match in _FUNCTION.finditer(code):
        if match["name"] in ("if", "for", "while", "switch"):
            continue
        open_at = match.end() - 1
        end = _close(code, open_at)
        body, pragmas = _parse_block(code[open_at + 1:end])
        tparams = [p.split()[-1] for p in _split_top(match["tparams"] or "")]
        functions[match["name"]] = Function(match["name"], tparams, match["params"], body, pragmas)
    return functions


def _body(code: str, start: int) -> tuple[list, list, int]:
    """The block or single statement at `start`: (nodes, pragmas, index after it)."""
    while code[start].isspace():
        start += 1
    if code[start] == "{":
        end = _close(code, start)
        inner, pragmas = _parse_block(code[start + 1:end])
        return inner, pragmas, end + 1
    end = _statement_end(code, start)
    inner, pragmas = _parse_block(code[start:end + 1])
    return inner, pragmas, end + 1


def _parse_block(code: str) -> tuple[list, list]:
    """(nodes, pragmas) of a block's contents."""
    nodes, pragmas, label = [], [], None
    i = 0
    while i < len(code):
        if code[i].isspace():
            i += 1
            continue
        if code.startswith("#pragma", i):
            end = code.find("\n", i)
            end = len(code) if end < 0 else end
            pragmas.append(Pragma(re.sub(r"^#pragma\s+HLS\s+", "", code[i:end].strip(), flags=re.I)))
            i = end
            continue
        if code[i] == "#":                            # other directives
            end = code.find("\n", i)
            i = len(code) if end < 0 else end
            continue
        loop = _LOOP.match(code, i)
        if loop:
            inner, inner_pragmas, i = _body(code, loop.end())
            nodes.append(Loop(label, loop[1], loop[2].strip(), loop[3].strip(), inner, inner_pragmas,
                              (loop[4] or "1").strip()))
            label = None
            continue
        condition = _IF.match(code, i)
        if condition:
            close = _close(code, condition.end() - 1, "()")
            inner, inner_pragmas, i = _body(code, close + 1)
            nodes.append(If(code[condition.end():close], inner))
            pragmas += inner_pragmas
            continue
        if code[i] == "{":                            # a plain block: its contents inline
            end = _close(code, i)
            inner, inner_pragmas = _parse_block(code[i + 1:end])
            nodes += inner
            pragmas += inner_pragmas
            i = end + 1
            continue
        labelled = _LABEL_AT.match(code, i)
        if labelled and labelled[1] not in ("default", "public", "private", "case"):
            label = labelled[1]                       # the label of the loop that follows
            i = labelled.end()
            continue
        end = _statement_end(code, i)
        text = code[i:end].strip()
        i = end + 1
        call = _CALL.match(text)
        nodes.append(Call(call[1], _split_top(call[2]), _split_top(call[3])) if call else Statement(text))
    return nodes, pragmas


def _statement_end(code: str, i: int) -> int:
    """Index of the ';' ending the statement at i."""
    depth = 0
    j = i
    while j < len(code):
        ch = code[j]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ";" and depth == 0:
            return j
        j += 1
    return len(code)


@functools.cache
def _compiled(expr: str):
    """(the names an expression reads, its code as Python; None when it is not Python)."""
    names = frozenset(re.findall(r"[A-Za-z_]\w*", expr)) - {"and", "or", "not"}
    python = expr.replace("&&", " and ").replace("||", " or ").replace("/", "//")
    try:
        return names, compile(python, "<index>", "eval")
    except SyntaxError:
        return names, None


class Sampled(tuple):
    """A value that differs from step to step of a pipelined loop: its value at each sampled
    step (the Expander runs a step once, carrying these through the expressions)."""


def evaluate(expr: str, env: dict):
    """An integer expression of constants and known names (template parameters, consts); a
    Sampled value when it reads one whose samples differ (else the common int)."""
    if expr in env:                             # a bare name: most loop indices (fast path)
        value = env[expr]
        return value if isinstance(value, Sampled) else int(value)
    names, code = _compiled(expr)
    unknown = [n for n in names if n not in env]
    if unknown:
        raise KeyError(f"cannot evaluate '{expr}': unknown {sorted(unknown)}")
    if code is None:
        raise SyntaxError(f"not an expression: '{expr}'")
    sampled = [n for n in names if isinstance(env[n], Sampled)]
    if not sampled:
        return int(eval(code, {"__builtins__": {}}, env))   # noqa: S307
    count = len(env[sampled[0]])
    values = tuple(int(eval(code, {"__builtins__": {}}, ChainMap({n: env[n][k] for n in sampled}, env)))  # noqa: S307
                   for k in range(count))
    return values[0] if len(set(values)) == 1 else Sampled(values)


def products(text: str) -> int:
    """Multiplications in a statement: `*` outside [] and <>, not in an index declaration."""
    if re.match(r"\s*(?:const\s+)?(?:int|bool)\s", text):
        return 0
    flat = re.sub(r"<[^<>()]*>", "", _empty_brackets(text, ""))
    return flat.count("*")


def _empty_brackets(text: str, fill: str) -> str:
    """`text` with every index bracket, nested ones first, replaced by `fill`."""
    while True:
        stripped = re.sub(r"\[[^\[\]]*\]", fill, text)
        if stripped == text:
            return text
        text = stripped


@functools.cache
def library_names() -> frozenset:
    return frozenset(library())


def library() -> dict:
    """{name: Function} of every ikr library function (cpp/*.h of the installed package)."""
    from ikr_hls.resources import cpp_dir

    functions = {}
    for header in sorted(Path(cpp_dir()).glob("*.h")):
        functions.update(parse_functions(header.read_text()))
    return functions


@functools.cache
def library_constants() -> dict:
    """{name: value} of the enumerators the ikr library declares (`enum Binding { ANY, DSP, FABRIC };`),
    by their own name (inside the namespace) and as ikr::name (in a layer's code): template
    arguments the reader evaluates."""
    from ikr_hls.resources import cpp_dir

    out: dict = {}
    for header in sorted(Path(cpp_dir()).glob("*.h")):
        for body in re.findall(r"\benum\s+\w+\s*\{([^{}]*)\}", clean(header.read_text())):
            value = -1
            for item in _split_top(body):
                name, _, given = item.partition("=")
                value = int(given) if given.strip() else value + 1
                out[name.strip()] = out[f"ikr::{name.strip()}"] = value
    return out


def bind(call: Call, functions: dict, env: dict) -> tuple[Function, dict]:
    """The library function a call reaches, and its template parameters' values (those that
    evaluate to integers; types are left out)."""
    function = functions[call.name]
    bound = dict(env)
    for name, value in zip(function.template_params, call.template_args, strict=False):
        try:
            bound[name] = evaluate(value, env)
        except (KeyError, SyntaxError, NameError, TypeError):
            pass
    return function, bound


def local_constants(nodes: list, env: dict) -> dict:
    """`const int NAME = expr;` declared in a scope, evaluated where possible."""
    env = dict(env)
    for node in nodes:
        if isinstance(node, Statement):
            match = re.fullmatch(r"\s*const\s+int\s+([A-Z_][A-Z0-9_]*)\s*=\s*(.+)", node.text, re.S)
            if match:
                try:
                    env[match[1]] = evaluate(match[2], env)
                except (KeyError, SyntaxError):
                    pass
    return env


def walk(nodes: list):
    """Every node of a tree, depth first."""
    for node in nodes:
        yield node
        if isinstance(node, (Loop, If)):
            yield from walk(node.body)


# --- one pipelined step, unrolled ---------------------------------------------------------------

_ACCESS = re.compile(r"(?<![\w.])([A-Za-z_]\w*)((?:\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\])+)")
# a call of an ikr helper: ikr::name<...>(...), or name<...>(...) inside the namespace (one helper
# calling another); Expander inlines the names that are library functions
_INLINE_CALL = re.compile(r"(?<![\w.:])(?:ikr::)?(\w+)\s*(?:<((?:[^<>]|<[^<>]*>)*)>)?\s*\(")


@functools.cache
def _substituted(text: str, alias: tuple) -> str:
    for name, value in alias:
        text = re.sub(rf"(?<![\w.]){re.escape(name)}(?!\w)", value, text)
    return text


@functools.cache
def _stream_operations(text: str) -> tuple:
    """(stream, "read" | "write") of every hls::stream operation in a statement."""
    return tuple((m[1], m[2]) for m in re.finditer(r"(?<![\w.])(\w+)\.(read|write)\(", text))


@functools.cache
def _const_int(text: str) -> tuple | None:
    """(name, value expression) of a `const int name = value` statement, else None."""
    match = re.fullmatch(r"\s*const\s+int\s+(\w+)\s*=\s*(.+)", text, re.S)
    return (match[1], match[2]) if match else None


@functools.cache
def _statement_parts(text: str) -> tuple:
    """(ikr helper calls as (name, template args, args), products, processing-element calls)
    of a statement's text: parsed once, however often the unrolled step repeats it."""
    calls = []
    for call in _INLINE_CALL.finditer(text):
        close = _close(text, call.end() - 1, "()")
        calls.append((call[1], tuple(_split_top(call[2] or "")), tuple(_split_top(text[call.end():close]))))
    pes = []
    for call in re.finditer(r"(?<![\w:])(\w+_pe\d*)\s*\(", text):
        close = _close(text, call.end() - 1, "()")
        pes.append((call[1], tuple(_split_top(text[call.end():close]))))
    return tuple(calls), products(text), tuple(pes)


@functools.cache
def _accesses_of(text: str) -> tuple:
    """The array accesses of an expression's text: (array, index expressions, written, also
    read: a compound assignment), parsed once."""
    writes = set()
    assign = re.match(r"\s*([A-Za-z_]\w*(?:\[[^=]*?\])+)\s*(?:[+\-*/]?=)(?!=)", text)
    if assign:
        writes.add(assign[1].replace(" ", ""))
    compound = bool(re.match(r"\s*\S+\s*[+\-*/]=", text))
    out = []
    for match in _ACCESS.finditer(text):
        name, brackets = match[1], match[2]
        if name in ("ikr",) or name.endswith("_t"):
            continue
        indices = tuple(int(i) if i.strip().isdigit() else i
                        for i in re.findall(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]", brackets))
        write = (name + brackets).replace(" ", "") in writes
        out.append((name, indices, write, write and compound))
    return tuple(out)


@dataclass(frozen=True)
class Access:
    array: str
    index: tuple                                # evaluated indices (None: depends on the step)
    write: bool
    samples: tuple = ()                         # the index at each sampled step


@dataclass
class Step:
    """What one step of a pipelined loop does: its array accesses (a set: the same element read
    twice is read once; while expanding, a list in program order), its products, and the calls
    of other functions it makes."""
    accesses: Any = field(default_factory=list)
    products: int = 0
    calls: dict = field(default_factory=dict)   # function name -> calls per step
    streams: dict = field(default_factory=dict)  # (stream, "read" | "write") -> operations per step
    sums: dict = field(default_factory=dict)     # accumulator -> terms of its longest sum in the step
    _open: dict = field(default_factory=dict)    # accumulator -> terms of the sum being added up
    _zero: dict = field(default_factory=dict)    # element -> it holds the constant 0 (a sum's start)
    product_reads: list = field(default_factory=list)   # per statement with products: (products, target,
                                                        # the reads it multiplies (array, index, write), the
                                                        # consts it multiplies (table, index),
                                                        # the ikr library helper that makes them, or None)
    adds: int = 0                                # additions and subtractions of data (operators.py below)
    compares: int = 0                            # relational comparisons of data (<, <=, >, >=)
    control: int = 0                             # comparisons of a loop variable or counter (conditions, decodes)


_COMPOUND = re.compile(r"\s*([A-Za-z_]\w*)((?:\[[^\[\]]*\])*)\s*\+=")
_ASSIGN = re.compile(r"\s*(?:(?:const\s+)?[A-Za-z_][\w:<>, ]*\s+)?([A-Za-z_]\w*)((?:\[[^\[\]]*\])*)\s*=(?!=)")


def sum_terms(nodes: list) -> int:
    """The most terms one variable sums in a function body written out (a PE: `sum = a0 * w0;
    sum += a1 * w1; ...`)."""
    step = Step()
    for node in walk(nodes):
        if isinstance(node, Statement):
            _count_sum(node.text, {}, step)
    return max(step.sums.values(), default=1)


def _count_sum(text: str, env: dict, step: Step) -> bool:
    """`x = ...` starts a sum of one term in x, `x += ...` adds a term (x an element whose
    index is evaluated where it can be). True when the statement is `x += ...` onto a value
    that is not a constant 0 (an adder; the first term of a sum started at 0 is none)."""
    match = _COMPOUND.match(text)
    compound = match is not None
    match = match or _ASSIGN.match(text)
    if match is None:
        return False
    indices = []
    for index in re.findall(r"\[([^\[\]]*)\]", match[2]):
        try:
            indices.append(str(evaluate(index, env)))
        except (KeyError, SyntaxError, NameError, TypeError, ZeroDivisionError):
            indices.append(index)
    key = match[1] + "".join(f"[{i}]" for i in indices)
    # a sum starts with its first value; a constant 0 is no term (synthesis adds nothing)
    start = 0 if re.fullmatch(r"\s*(?:\w+\()?\s*0\s*\)?\s*", text[match.end():]) else 1
    # a sum the step did not start adds to a value kept from an earlier step: one more term
    adder = compound and step._open.get(key, 1) > 0
    step._open[key] = step._open.get(key, 1) + 1 if compound else start
    step.sums[key] = max(step.sums.get(key, 1), step._open[key])
    return adder


# --- the operators of a statement ------------------------------------------------------------
#
# An operator is counted by its operands: a comparison or an addition with a loop variable or a
# counter of the step (or an int/bool the function keeps) as an operand is control; one whose
# operands are all constants (numbers, template parameters, const ints the reader evaluated,
# constant tables, UPPER_CASE names) is worked out by the compiler; any other is datapath.

_TEMPLATE_ARGS = re.compile(r"(?<=\w)<[^<>()]*>")
_CAST = re.compile(r"\((?:const\s+)?(?:unsigned\s+|signed\s+)?(?:long\s+long|long|int|short|char|bool)\s*\)")
_TYPE_WORDS = {"int", "long", "unsigned", "signed", "short", "char", "bool", "float", "double", "const", "true",
               "false", "ikr", "std", "hls", "ap_fixed", "ap_ufixed", "ap_int", "ap_uint", "return"}


def _flat_operators(text: str) -> str:
    """A statement with its index brackets emptied ([...] -> []), its template argument lists and
    C casts removed: what is left of `<` and `>` are comparisons and shifts."""
    flat = _empty_brackets(text, "\x00").replace("\x00", "[]")
    while True:
        stripped = _TEMPLATE_ARGS.sub("", flat)
        if stripped == flat:
            break
        flat = stripped
    return _CAST.sub("", flat)


def _operand_left(flat: str, at: int) -> str:
    """The operand that ends just before position `at`."""
    i = at
    while i > 0 and flat[i - 1].isspace():
        i -= 1
    end = i
    while i > 0 and flat[i - 1] in ")]":
        depth, j = 0, i - 1
        while j >= 0:
            depth += (flat[j] in ")]") - (flat[j] in "([")
            if depth == 0:
                break
            j -= 1
        i = j
    while i > 0 and (flat[i - 1].isalnum() or flat[i - 1] in "_.:"):
        i -= 1
    return flat[i:end]


def _operand_right(flat: str, at: int) -> str:
    """The operand that starts at position `at`."""
    i = at
    while i < len(flat) and (flat[i].isspace() or flat[i] in "-!~"):
        i += 1
    start = i
    while i < len(flat) and (flat[i].isalnum() or flat[i] in "_.:"):
        i += 1
    while i < len(flat) and flat[i] in "([":
        close = {"(": ")", "[": "]"}[flat[i]]
        depth, j = 0, i
        while j < len(flat):
            depth += (flat[j] in "([") - (flat[j] in ")]")
            if depth == 0 and flat[j] == close:
                break
            j += 1
        i = j + 1
    return flat[start:i]


def _names(operand: str) -> list:
    """The value names an operand reads (not the functions or types it calls)."""
    return [m[1] for m in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)(?!\w)(?!\s*(?:\(|::))", operand)
            if m[1] not in _TYPE_WORDS]


def _kind(operand: str, env: dict, control: set) -> str:
    """'control', 'data' or 'constant'."""
    names = _names(operand)
    if any(n in control for n in names):
        return "control"
    if any(n not in env and not n.isupper() and not n.endswith("_t") for n in names):
        return "data"
    return "constant"


def _binary(flat: str, at: int, length: int, env: dict, control: set) -> str:
    left, right = _operand_left(flat, at), _operand_right(flat, at + length)
    kinds = {_kind(left, env, control), _kind(right, env, control)}
    return "control" if "control" in kinds else "data" if "data" in kinds else "constant"


_RELATIONAL = re.compile(r"<=|>=|==|!=|<<|>>|<|>")


def _short_circuited(flat: str, env: dict) -> str:
    """A condition with the parts left out that a known value cuts short: `first || a > b` with
    first true is `first`."""
    parts = [p for p in re.split(r"(\|\||&&)", flat)]
    out = parts[0]
    for op, part in zip(parts[1::2], parts[2::2], strict=True):
        known = env.get(out.strip().lstrip("!").strip())
        negated = out.strip().startswith("!")
        if isinstance(known, int) and re.fullmatch(r"\s*!?\s*\w+\s*", out):
            value = bool(known) != negated
            if (op == "||" and value) or (op == "&&" and not value):
                return out
        out += op + part
    return out


def count_operators(text: str, env: dict, control: set, step: Step, condition: bool = False) -> None:
    """Add a statement's (or a condition's) datapath additions and comparisons, and its control
    comparisons, to `step`. A compound `+=` / `-=` is counted by _count_sum's rule."""
    flat = _flat_operators(text)
    if condition:
        flat = _short_circuited(flat, env)
    for match in _RELATIONAL.finditer(flat):
        op = match[0]
        if op in ("<<", ">>"):
            continue
        kind = _binary(flat, match.start(), len(op), env, control)
        if kind == "control":
            step.control += 1
        elif kind == "data" and op not in ("==", "!="):
            step.compares += 1
    for match in re.finditer(r"(?<![+\-=<>!*/&|^])[+\-](?![+\-=>])", flat):
        before = flat[:match.start()].rstrip()
        if not before or not (before[-1].isalnum() or before[-1] in "_)]"):
            continue                                         # unary
        if re.search(r"\d[eE]$", before):
            continue                                         # an exponent: 1e-5
        if _binary(flat, match.start(), 1, env, control) == "data":
            step.adds += 1


_TARGET = r"([A-Za-z_]\w*)((?:\[(?:[^\[\]]|\[[^\[\]]*\])*\])*)"
_COMPOUND_ANY = re.compile(r"\s*" + _TARGET + r"\s*[+\-]=")
_ASSIGN_ANY = re.compile(r"\s*(?:(?:const\s+)?[A-Za-z_][\w:<>, ]*\s+)?" + _TARGET + r"\s*=(?!=)(.*)", re.S)


def _element(name: str, brackets: str, env: dict) -> str:
    out = name
    for index in re.findall(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]", brackets):
        try:
            out += f"[{evaluate(index, env)}]"
        except (KeyError, SyntaxError, NameError, TypeError, ZeroDivisionError):
            out += f"[{index}]"
    return out


def _accumulates(text: str, env: dict, control: set, step: Step) -> bool:
    """`x += e` (or -=) onto data: an adder, unless x holds the constant 0 it was set to (the
    first term of a sum started at 0). `x = 0` marks x so."""
    match = _COMPOUND_ANY.match(text)
    if match:
        key = _element(match[1], match[2], env)
        zero = step._zero.pop(key, False)
        return match[1] not in control and not zero
    match = _ASSIGN_ANY.match(text)
    if match:
        step._zero[_element(match[1], match[2], env)] = bool(
            re.fullmatch(r"\s*(?:[\w:]+\()?\s*0\s*\)?\s*", match[3]))
    return False


class _CompileTime:
    """The value of a const int made of constants that the reader cannot evaluate (a template
    parameter deduced from a type): known to the compiler, unknown here."""

    def __int__(self):
        raise TypeError("a compile-time constant the reader cannot evaluate")

    def __index__(self):
        raise TypeError("a compile-time constant the reader cannot evaluate")


COMPILE_TIME = _CompileTime()


def _locals(nodes: list) -> set:
    """The int and bool variables a function body declares and that the reader cannot evaluate
    as constants: control state (counters, conditions, indices)."""
    out = set()
    for node in walk(nodes):
        if isinstance(node, Statement):
            for name in re.findall(r"^\s*(?:const\s+)?(?:int|bool)\s+(\w+)", node.text):
                out.add(name)
            for name in re.findall(r"^\s*int\s+\w+\s*=\s*[^,]*,\s*(\w+)", node.text):
                out.add(name)
    return out


class Expander:
    """Unrolls the loops of a pipelined step and inlines the ikr helpers it calls (INLINE
    functions of cpp/*.h), recording accesses with their indices evaluated. Variables of the
    pipelined loop and the loops around it take a sample value (`samples`): an index that
    changes with the sample depends on the step."""

    def __init__(self, functions: dict, env: dict, step_vars: dict, control=()):
        self.functions = functions
        self.env = env                          # constants: template parameters, loop bounds
        self.step_vars = step_vars              # name -> increment per step (loop vars: 1)
        self.control = set(step_vars) | set(control)    # loop variables, counters, int/bool state
        self.flags: dict = {}                   # bool flags the unrolled code has set so far
        self.locals: dict = {}                  # const locals read from a table: name -> (table, index)
        self.helpers: list = []                 # the inlined ikr library helpers, innermost last (an activation)

    def run(self, nodes: list, samples=(0, 1, 2)) -> Step:
        """One pass over the step, the step variables Sampled at `samples` steps: an index that
        differs between them depends on the step (None in Access.index, its values in samples)."""
        env = {**library_constants(), **self.env,
               **{v: Sampled(s * inc for s in samples) for v, inc in self.step_vars.items()}}
        self.flags, self.locals = {}, {}
        step = Step()
        self._nodes(nodes, env, {}, step)
        merged = Step(accesses=set(), products=step.products, calls=step.calls, streams=step.streams, sums=step.sums,
                      adds=step.adds, compares=step.compares, control=step.control, product_reads=step.product_reads)
        for array, index, write in set(step.accesses):     # (array, index, write) tuples, while expanding
            if not any(isinstance(v, Sampled) for v in index):
                merged.accesses.add(Access(array, index, write, (index,)))
                continue
            per_step = tuple(tuple(v[k] if isinstance(v, Sampled) else v for v in index) for k in range(len(samples)))
            merged.accesses.add(Access(array, tuple(None if isinstance(v, Sampled) else v for v in index), write,
                                       per_step))
        return merged

    def _nodes(self, nodes, env, alias, step):
        own = False                             # a scope's consts go into its own copy of env
        for node in nodes:
            if isinstance(node, Loop):
                start, bound, inc = (evaluate(node.start, env), evaluate(node.bound, env),
                                     evaluate(node.step, env))
                inner = dict(env)                # _nodes copies it again: one dict per loop, not per value
                for value in range(start, bound, inc):
                    inner[node.var] = value
                    self._nodes(node.body, inner, alias, step)
            elif isinstance(node, If):
                self._expression(node.condition, env, alias, step)
                count_operators(self._sub(node.condition, alias), {**env, **self.flags}, self.control, step,
                                condition=True)
                decided = self._decided(node.condition, env, alias)
                if decided is not False:
                    self._nodes(node.body, env, alias, step)
                if decided and any(isinstance(n, Statement) and re.match(r"\s*return\b", n.text) for n in node.body):
                    return                   # a branch taken at every step that returns: the rest never runs
            elif isinstance(node, Call):
                self._call(node.name, node.template_args, node.args, env, alias, step)
            else:
                self._statement(node.text, env, alias, step)
                known = re.fullmatch(r"\s*(?:bool\s+)?(\w+)\s*=\s*(true|false)\s*", node.text)
                if known:                            # a flag the unrolled code sets: `first = false`
                    self.flags[known[1]] = int(known[2] == "true")
                match = _const_int(node.text)
                if match:
                    try:
                        value = evaluate(self._sub(match[1], alias), env)
                    except (KeyError, SyntaxError):
                        if _kind(self._sub(match[1], alias), env, self.control) == "constant":
                            if not own:          # a const int of constants the reader cannot evaluate
                                env, own = dict(env), True
                            env[match[0]] = COMPILE_TIME
                        continue
                    if not own:
                        env, own = dict(env), True
                    env[match[0]] = value

    def _decided(self, condition: str, env: dict, alias: dict):
        """True/False for a condition that is the same at every step (on constants, or on a
        variable the caller fixed, such as a pixel's cycle); None when it depends on the step
        or cannot be told: then the body counts as run (the hardware has it)."""
        text = self._sub(condition, alias)
        if set(re.findall(r"[A-Za-z_]\w*", text)) & set(self.step_vars):
            return None
        try:
            value = evaluate(text, env)
        except (KeyError, SyntaxError, NameError, TypeError, ZeroDivisionError):
            return None
        return None if isinstance(value, Sampled) else bool(value)

    def _sub(self, text: str, alias: dict) -> str:
        """Replace a helper's parameter names by the caller's expressions."""
        return _substituted(text, tuple(alias.items())) if alias else text

    def _statement(self, text, env, alias, step):
        text = self._sub(text, alias)
        calls, count, pes = _statement_parts(text)
        for name, template_args, args in calls:
            if name in library_names():
                self._call(name, template_args, args, env, {}, step)
        step.products += count
        if count:
            before = len(step.accesses)
            self._expression(text, env, {}, step)
            target = (_COMPOUND_ANY.match(text) or _ASSIGN_ANY.match(text))
            # the values it multiplies: the operands of its `*` (not an addend, not an index)
            flat = _flat_operators(text)
            factors = set()
            for star in re.finditer(r"\*(?!=)", flat):
                factors.update(_names(_operand_left(flat, star.start())) + _names(_operand_right(flat, star.end())))
            reads = tuple(a for a in step.accesses[before:] if a[0] in factors)
            step.product_reads.append((count, target[1] if target else None, reads,
                                       tuple(self.locals[n] for n in factors if n in self.locals),
                                       self.helpers[-1] if self.helpers else None))
            del step.accesses[before:]
        local = re.fullmatch(r"\s*const\s+\w+\s+(\w+)\s*=\s*(\w+)\[([^\[\]]+)\]\s*", text)
        if local:                                # const T name = table[index]: a value read once
            try:
                self.locals[local[1]] = (local[2], (evaluate(local[3], env),))
            except (KeyError, SyntaxError, NameError, TypeError, ZeroDivisionError):
                self.locals[local[1]] = (local[2], (None,))
        _count_sum(text, env, step)
        if _accumulates(text, env, self.control, step):
            step.adds += 1                       # acc += ...: an adder of data
        count_operators(re.sub(r"^[^=]*?(?:\+=|-=)", "", text, count=1), env, self.control, step)
        self._expression(text, env, {}, step)
        for name, args in pes:               # a processing element: a module of its own, or inlined
            function = self.functions.get(name)
            inline = function is not None and function.pragma("INLINE") is not None \
                and "off" not in function.pragma("INLINE").text.lower()
            if inline:
                self._call(name, (), args, env, {}, step)
            else:
                step.calls[name] = step.calls.get(name, 0) + 1
        for operation in _stream_operations(text):
            step.streams[operation] = step.streams.get(operation, 0) + 1

    def _expression(self, text, env, alias, step):
        text = self._sub(text, alias)
        for name, indices, write, also_read in _accesses_of(text):
            values = []
            for index in indices:
                if isinstance(index, int):
                    values.append(index)
                    continue
                try:
                    values.append(evaluate(index, env))
                except (KeyError, SyntaxError, NameError, TypeError, ZeroDivisionError):
                    values.append(None)
            step.accesses.append((name, tuple(values), write))
            if also_read:
                step.accesses.append((name, tuple(values), False))  # x += ...: a read too

    def _call(self, name, template_args, args, env, alias, step):
        function = self.functions.get(name)
        if function is None:
            for arg in args:
                self._expression(arg, env, alias, step)
            return
        bound = dict(env)
        for param, value in zip(function.template_params, template_args, strict=False):
            try:
                bound[param] = evaluate(self._sub(value, alias), env)
            except (KeyError, SyntaxError, NameError, TypeError):
                pass
        inner_alias = {p: f"({self._sub(a, alias)})" if not re.fullmatch(r"\w+(\[[^\]]*\])*", a.strip())
                       else self._sub(a.strip(), alias) for p, a in zip(function.param_names(), args, strict=False)}
        library = name in library_names()
        if library:
            self.helpers.append(name)
        try:
            self._nodes(function.body, bound, inner_alias, step)
        finally:
            if library:
                self.helpers.pop()


def counters(function) -> set:
    """The variables a function changes as it runs that are not loop variables: `int n = ...;`
    declarations assigned again (`n += 4`, `n = ...`) anywhere in its body."""
    declared = set()
    for node in walk(function.body):
        if isinstance(node, Statement):
            declared.update(re.findall(r"^\s*int\s+(\w+)\s*=", node.text))
    changed = set()
    for node in walk(function.body):
        texts = [node.text] if isinstance(node, Statement) else []
        for text in texts:
            changed.update(re.findall(r"(?:^|[;{]\s*|\)\s*)(\w+)\s*(?:\+=|-=|=(?!=))", text))
    return declared & changed


def indices_of(text: str) -> list:
    """(array, [index texts]) of every array access in a statement's text."""
    return [(name, [str(i) for i in indices]) for name, indices, _, _ in _accesses_of(text)]


def bank_of_access(access: Access, partitions: dict) -> tuple | None:
    """The bank an access falls in at every sampled step, or None when it moves between banks
    (or cannot be told)."""
    banks = {bank_of(index, partitions) for index in access.samples or (access.index,)}
    return banks.pop() if len(banks) == 1 else None


def bank_of(index: tuple, partitions: dict) -> tuple | None:
    """The bank (RAM/ROM) an access falls in, given {dim: ("complete"|("cyclic", f))} of the
    array's partitioned dims (1-based, 0: all); None when it depends on the step for a
    partitioned dim (it may fall in any bank)."""
    key = []
    for dim, value in enumerate(index, 1):
        scheme = partitions.get(dim, partitions.get(0))
        if scheme is None:
            continue
        if value is None:
            return None
        key.append(value if scheme == "complete" else value % scheme[1])
    return tuple(key)


def partitions_of(pragmas: list) -> dict:
    """{variable: {dim: scheme}} from ARRAY_PARTITION / ARRAY_RESHAPE pragmas."""
    out: dict = {}
    for p in pragmas:
        if p.kind not in ("ARRAY_PARTITION", "ARRAY_RESHAPE"):
            continue
        variable = p.option("variable")
        dim = int(p.option("dim") or 1)
        if re.search(r"\bcomplete\b", p.text):
            out.setdefault(variable, {})[dim] = "complete"
        elif re.search(r"\bcyclic\b", p.text):
            out.setdefault(variable, {})[dim] = ("cyclic", int(p.option("factor")))
    return out


__all__ = ["Access", "Call", "Expander", "count_operators", "_locals", "Function", "If", "Loop", "Pragma", "Statement",
           "Step", "bank_of",
           "bank_of_access", "bind", "clean", "counters", "evaluate", "indices_of", "itertools", "library",
           "library_constants", "local_constants", "parse_functions", "partitions_of", "products", "sum_terms", "walk"]
