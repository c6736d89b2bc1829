"""A reader of the generated firmware, as Vitis HLS would see its structure: functions, loops
(label, trip count), the pragmas of each scope, products, calls into the ikr library and
array accesses. It is written for the test suite, independently of the generator, so that
what the generator claims (header comments, report) can be checked against the code itself.

It reads the subset of C++ that ikr-hls generates: `for (int i = A; i < B; i++)` loops, with
or without braces, `label:` before a loop, `#pragma HLS` lines, statements ending in `;`,
and template functions of cpp/*.h called as `ikr::name<args>(...)`. Host-only code
(`#ifdef IKR_COUNT_OPS`, `#ifndef __SYNTHESIS__`, ...) is dropped first, as Vitis drops it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ikr_hls.synthcheck import drop_unsynthesised_branches, strip_comments_and_literals

_LOOP = re.compile(r"for\s*\(\s*int\s+(\w+)\s*=\s*([^;]+);\s*\1\s*<\s*([^;]+);\s*\1\s*\+\+\s*\)")
_LABEL_AT = re.compile(r"(\w+)\s*:(?!:)")
# A function definition starts a line: [template <...>] [static|inline] type name(params) {
_FUNCTION = re.compile(r"^(?:template\s*<(?P<tparams>[^<>]*(?:<[^<>]*>[^<>]*)*)>\s*)?(?:(?:static|inline)\s+)*"
                       r"[A-Za-z_][\w:<>, ]*?[\s*&]+(?P<name>\w+)\s*\((?P<params>(?:[^()]|\([^()]*\))*)\)\s*\{",
                       re.M)
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
    body: list = field(default_factory=list)    # Loop, Statement, Call
    pragmas: list = field(default_factory=list)

    def pragma(self, kind: str):
        return next((p for p in self.pragmas if p.kind == kind), None)


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
            body_start = loop.end()
            while code[body_start].isspace():
                body_start += 1
            if code[body_start] == "{":
                body_end = _close(code, body_start)
                inner, inner_pragmas = _parse_block(code[body_start + 1:body_end])
                i = body_end + 1
            else:                                     # a single statement
                body_end = code.index(";", body_start)
                inner, inner_pragmas = _parse_block(code[body_start:body_end + 1])
                i = body_end + 1
            nodes.append(Loop(label, loop[1], loop[2].strip(), loop[3].strip(), inner, inner_pragmas))
            label = None
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


def evaluate(expr: str, env: dict) -> int:
    """An integer expression of constants and known names (template parameters, consts)."""
    names = set(re.findall(r"[A-Za-z_]\w*", expr))
    unknown = names - set(env)
    if unknown:
        raise KeyError(f"cannot evaluate '{expr}': unknown {sorted(unknown)}")
    return int(eval(expr.replace("/", "//"), {"__builtins__": {}}, dict(env)))   # noqa: S307


def products(text: str) -> int:
    """Multiplications in a statement: `*` outside [] and <>, not in an index declaration."""
    if re.match(r"\s*(?:const\s+)?int\s", text):
        return 0
    flat = text
    while True:
        stripped = re.sub(r"\[[^\[\]]*\]", "", flat)
        if stripped == flat:
            break
        flat = stripped
    flat = re.sub(r"<[^<>()]*>", "", flat)
    return flat.count("*")


def library() -> dict:
    """{name: Function} of every ikr library function (cpp/*.h of the installed package)."""
    from ikr_hls.resources import cpp_dir

    functions = {}
    for header in sorted(Path(cpp_dir()).glob("*.h")):
        functions.update(parse_functions(header.read_text()))
    return functions


def bind(call: Call, functions: dict, env: dict) -> tuple[Function, dict]:
    """The library function a call reaches, and its template parameters' values (those that
    evaluate to integers; types are left out)."""
    function = functions[call.name]
    bound = dict(env)
    for name, value in zip(function.template_params, call.template_args):
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
        if isinstance(node, Loop):
            yield from walk(node.body)
