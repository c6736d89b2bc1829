"""Static check of a generated project's firmware/ C++ for constructs Vitis HLS cannot synthesise.

This is a lexical scan (regular expressions over comment- and literal-free text), not a C++
parser: it is meant to catch template or hand-written code slipping host-only constructs
into firmware/, with a file:line for each. Before scanning, comments and string/char literals
are blanked (line numbers kept) and preprocessor branches Vitis never compiles are dropped:
the then-branch of `#ifdef IKR_TRACE` / `IKR_COUNT_OPS` / `IKR_HOST_WINDOWS` / `IKR_HOST_TAPS` /
`IKR_HOST_CYCLES` / `IKR_DATAFLOW_CSIM` / `#ifndef __SYNTHESIS__`, the else-branch of `#ifdef __SYNTHESIS__`. Any other
conditional keeps all of its branches (conservative).

Not covered: macros are not expanded; `#if` expressions other than `[!]defined(M)` or `M`,
or such terms joined by `&&` and `||` without parentheses, are unknown; directives continued
with a backslash; recursion through function pointers, virtual calls, qualified (`ns::f(...)`)
or member (`x.f(...)`) calls, or overloads told apart by signature (functions are identified
by bare name); loops bounded only by `break`.
"""
import bisect
import re
from dataclasses import dataclass
from pathlib import Path

_LEXEME = re.compile(r'''
    //[^\n]*                                    # line comment
  | /\*.*?(?:\*/|\Z)                            # block comment
  | \b(?:u8|[uUL])?R"(?P<d>[^()\\\s]{0,16})\(.*?\)(?P=d)"   # raw string
  | "(?:\\.|[^"\\\n])*"?                        # string
  | (?:\b(?:u8|[uUL])|(?<!\w))'(?:\\.|[^'\\\n])*'?          # char (not a digit separator 1'000)
''', re.S | re.X)
_DIRECTIVE = re.compile(r"\s*#\s*(\w+)\s*(.*)")
_CONDITIONALS = {"if", "ifdef", "ifndef", "elif", "elifdef", "elifndef", "else", "endif"}
_MACROS_IN_SYNTHESIS = {"__SYNTHESIS__": True, "IKR_TRACE": False, "IKR_COUNT_OPS": False,
                        "IKR_HOST_WINDOWS": False, "IKR_HOST_TAPS": False, "IKR_HOST_CYCLES": False,
                        "IKR_DATAFLOW_CSIM": False}

_NOT_MEMBER = r"(?<![.\w])(?<!->)"  # x.free(...) is some class's method, not libc's
_SIMPLE_RULES = [
    ("dynamic allocation", re.compile(r"\bnew\b|\bdelete\b(?!\s*;)|"
                                      + _NOT_MEMBER + r"(?:malloc|calloc|realloc|free)\s*\(")),
    ("std container", re.compile(r"\bstd\s*::\s*(?:vector|map|multimap|string|list|deque|set|multiset"
                                 r"|unordered_\w+|shared_ptr|unique_ptr)\b")),
    ("host-only header", re.compile(r"^[ \t]*#[ \t]*include\s*<\s*(?:vector|map|string|list|deque|set"
                                    r"|unordered_map|unordered_set|memory|iostream|fstream|sstream"
                                    r"|thread|mutex)\s*>", re.M)),
    ("exceptions", re.compile(r"\b(?:throw|try)\b")),
    ("system call", re.compile(_NOT_MEMBER + r"(?:[fs]?printf|fopen|exit|abort)\s*\(|"
                               r"\bstd\s*::\s*(?:cout|cerr|clog)\b")),
]
_FUNCTION_DEF = re.compile(r"\b(\w+)\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*(?:const\s*)?(?:noexcept\s*)?"
                           r"(?::[^{};]*)?\{")  # name(params) [const] [: initialisers] {
_NOT_FUNCTIONS = {"if", "for", "while", "switch", "catch", "return", "sizeof", "decltype", "alignof"}


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    rule: str
    text: str

    def __str__(self):
        return f"{self.path}:{self.line}: {self.rule}: {self.text}"


def strip_comments_and_literals(text: str) -> str:
    """Blank every comment and string/char literal, keeping newlines so line numbers hold."""
    return _LEXEME.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)


def _condition_value(kind: str, expression: str):
    """True/False when Vitis' answer is known (see _MACROS_IN_SYNTHESIS), else None."""
    if kind in ("ifdef", "ifndef"):
        expression = ("!" if kind.endswith("ndef") else "") + f"defined({expression.strip()})"
    for operator, absorbing in (("||", True), ("&&", False)):  # A && B is False once A or B is
        if operator in expression:
            values = [_condition_value("if", term) for term in expression.split(operator)]
            if absorbing in values:
                return absorbing
            return None if None in values else not absorbing
    match = re.fullmatch(r"(!?)\s*(?:defined\s*\(?\s*(\w+)\s*\)?|(\w+))", expression.strip())
    if not match:
        return None
    value = _MACROS_IN_SYNTHESIS.get(match[2] or match[3])
    return value if value is None or not match[1] else not value


def drop_unsynthesised_branches(code: str) -> str:
    """Blank the conditional branches Vitis never compiles, and the conditional directives."""
    lines, stack, live = code.split("\n"), [], True  # stack frame: [enclosing live, branch taken]
    for number, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        kind = match[1] if match else None
        expression = match[2] if match else ""
        if kind in ("if", "ifdef", "ifndef"):
            value = _condition_value(kind, expression)
            stack.append([live, value is True])
            live = live and value is not False
        elif kind in ("elif", "elifdef", "elifndef", "else") and stack:
            enclosing, taken = stack[-1]
            as_if = "if" if kind in ("elif", "else") else kind[2:]  # elifdef -> ifdef
            value = True if kind == "else" else _condition_value(as_if, expression)
            live = enclosing and not taken and value is not False
            stack[-1][1] = taken or value is True
        elif kind == "endif" and stack:
            live = stack.pop()[0]
        if kind in _CONDITIONALS or not live:
            lines[number] = ""
    return "\n".join(lines)


def _matching_close(code: str, open_at: int, pair: str = "{}") -> int:
    """Index just past the bracket closing the one at open_at (end of text when unbalanced)."""
    depth = 0
    for index in range(open_at, len(code)):
        depth += (code[index] == pair[0]) - (code[index] == pair[1])
        if depth == 0:
            return index + 1
    return len(code)


def _unbounded_loops(code: str):
    """Offsets of `while`, `do ... while` (reported once, at `do`) and `for` with no condition."""
    do_tails = set()
    for match in re.finditer(r"\bdo\s*\{", code):
        tail = re.compile(r"\s*while\b").match(code, _matching_close(code, match.end() - 1))
        do_tails.add(tail.end() - 5 if tail else -1)
        yield match.start()
    yield from (m.start() for m in re.finditer(r"\bwhile\b", code) if m.start() not in do_tails)
    for match in re.finditer(r"\bfor\s*\(", code):
        header = code[match.end():_matching_close(code, match.end() - 1, "()") - 1]
        parts = re.sub(r"\([^()]*\)", "", header).split(";")  # a ; nested in (...) is not the for's
        if len(parts) == 3 and not parts[1].strip():
            yield match.start()


def _function_bodies(code: str):
    """(name, body start, body end) of every function definition, named by its bare name."""
    for match in _FUNCTION_DEF.finditer(code):
        if match[1] not in _NOT_FUNCTIONS:
            yield match[1], match.end() - 1, _matching_close(code, match.end() - 1)


def _calls(body_code: str, names):
    """(callee, offset) of unqualified calls to `names`, template arguments allowed: f<N>(x)."""
    pattern = _NOT_MEMBER + r"(?<!::)\b(" + "|".join(map(re.escape, names)) + r")\s*(?:<[^;{}()]*>)?\s*\("
    return [(m[1], m.start()) for m in re.finditer(pattern, body_code)]


def _recursive_calls(codes: dict):
    """(path, offset) of calls closing a cycle in the call graph: f calls g, and g reaches f."""
    bodies = [(path, name, start, end) for path, code in codes.items()
              for name, start, end in _function_bodies(code)]
    names = {name for _, name, _, _ in bodies}
    if not names:
        return []
    call_sites = [(path, caller, callee, start + offset) for path, caller, start, end in bodies
                  for callee, offset in _calls(codes[path][start:end], names)]
    graph: dict[str, set] = {}
    for _, caller, callee, _ in call_sites:
        graph.setdefault(caller, set()).add(callee)

    def reaches(source, target):
        seen, todo = set(), [source]
        while todo:
            node = todo.pop()
            if node == target:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, ()))
        return False

    return [(path, at) for path, caller, callee, at in call_sites if reaches(callee, caller)]


def _line_of(code: str):
    newlines = [match.start() for match in re.finditer("\n", code)]
    return lambda offset: bisect.bisect_left(newlines, offset) + 1


def scan_sources(files: dict) -> list:
    """Findings in {relative path: C++ text}, sorted by path and line; one per line and rule."""
    codes = {path: drop_unsynthesised_branches(strip_comments_and_literals(text))
             for path, text in files.items()}
    offsets = [(path, rule, m.start()) for path, code in codes.items()
               for rule, pattern in _SIMPLE_RULES for m in pattern.finditer(code)]
    offsets += [(path, "unbounded loop", at) for path, code in codes.items() for at in _unbounded_loops(code)]
    offsets += [(path, "recursion", at) for path, at in _recursive_calls(codes)]
    line_finders = {path: _line_of(code) for path, code in codes.items()}
    source_lines = {path: text.split("\n") for path, text in files.items()}
    findings = set()
    for path, rule, offset in offsets:
        line = line_finders[path](offset)
        findings.add(Finding(path, line, rule, source_lines[path][line - 1].strip()))
    return sorted(findings)


def scan_project(project_dir) -> list:
    """Findings in project_dir/firmware/**/*.h and *.cpp (not bridge.cpp, nothing under tb/)."""
    root = Path(project_dir)
    sources = sorted(p for pattern in ("*.h", "*.cpp") for p in (root / "firmware").rglob(pattern))
    sources = [p for p in sources if p.name != "bridge.cpp" and "tb" not in p.relative_to(root).parts]
    return scan_sources({p.relative_to(root).as_posix(): p.read_text(errors="replace") for p in sources})
