"""Every issue code the readers can emit has a check in `quality.CHECKS` (its title and what
to ask the sender), and every check is emitted by something.

The codes are collected from the source, not from the checks: every string passed as the code
of an `Issue(...)`, of an `issue(level, code, ...)` helper, of a `SetAside(code, ...)` or of a
`Problem(code, ...)` anywhere in `pipelines/`, with the f-string families (`f"bad_{col.type}"`)
expanded over the column types of `pipelines/schemas.py`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipelines import quality, schemas

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"

# the callables that take an issue code, and the position of the code among their arguments
EMITTERS = {"Issue": 8, "issue": 1, "SetAside": 0, "_SetAside": 0, "Problem": 0}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _code_argument(call: ast.Call, position: int) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == "code":
            return kw.value
    for i, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            return arg  # the code is the first element of what is unpacked here
        if i == position:
            return arg
    return None


def _tuple_heads(scope: ast.AST, name: str) -> set[str]:
    """First elements of the tuple literals assigned to `name` in `scope` (the problems that
    `raise _SetAside(*problems[0], more=problems[1:])` unpacks)."""
    out: set[str] = set()
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            for sub in ast.walk(node.value):
                if (isinstance(sub, ast.Tuple) and sub.elts and isinstance(sub.elts[0], ast.Constant)
                        and isinstance(sub.elts[0].value, str)):
                    out.add(sub.elts[0].value)
    return out


def _family(node: ast.JoinedStr) -> set[str]:
    """The codes of an f-string whose one placeholder is a column type (`bad_{col.type}`)."""
    holes = [v for v in node.values if isinstance(v, ast.FormattedValue)]
    assert len(holes) == 1 and isinstance(holes[0].value, ast.Attribute) and holes[0].value.attr == "type", (
        f"an issue code made by the f-string {ast.unparse(node)}: only a column type can vary in a code")
    out = {""}
    for v in node.values:
        parts = set(schemas.TYPES) if isinstance(v, ast.FormattedValue) else {v.value}
        out = {o + p for o in out for p in parts}
    return out


def emitted_codes(source: str, where: str = "<source>") -> set[str]:
    """The issue codes a module's source can emit."""
    tree = ast.parse(source)
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] + [tree]
    codes: set[str] = set()
    for scope in scopes:
        for node in ast.walk(scope):
            if not isinstance(node, ast.Call) or _name(node.func) not in EMITTERS:
                continue
            arg = _code_argument(node, EMITTERS[_name(node.func)])
            if arg is None:
                continue  # not an issue (disclosure.Problem takes keywords of its own)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                codes.add(arg.value)
            elif isinstance(arg, ast.JoinedStr):
                codes |= _family(arg)
            elif isinstance(arg, ast.Starred):
                target = arg.value.value if isinstance(arg.value, ast.Subscript) else arg.value
                assert isinstance(target, ast.Name), f"{where}:{node.lineno}: cannot follow {ast.unparse(arg)}"
                heads = _tuple_heads(scope, target.id)
                assert heads, f"{where}:{node.lineno}: no tuple of codes assigned to {target.id}"
                codes |= heads
            else:
                # a code passed on (`code`, `got.problem.code`): it was collected where it was made
                name = arg.id if isinstance(arg, ast.Name) else getattr(arg, "attr", None)
                assert name == "code", (f"{where}:{node.lineno}: the issue code {ast.unparse(arg)} is neither a "
                                        "string, a column-type f-string nor a code passed on")
    return codes


@pytest.fixture(scope="module")
def codes() -> set[str]:
    out: set[str] = set()
    for path in sorted(PIPELINES.rglob("*.py")):
        out |= emitted_codes(path.read_text(encoding="utf-8"), str(path.relative_to(PIPELINES.parent)))
    return out


def test_the_collector_finds_the_codes_of_every_kind_of_emitter():
    src = '''
def read(col, problems):
    issue("warning", "new_code", "a message")
    issue("cell_error", f"bad_{col.type}", "a message")
    out.append(Issue(y, s, f, None, None, None, None, "structural", "other_code", "m"))
    raise SetAside("third_code", "m")

def header():
    problems = [("fourth_code", "m", 1, c) for c in cols]
    raise _SetAside(*problems[0], more=problems[1:])
'''
    found = emitted_codes(src)
    assert {"new_code", "other_code", "third_code", "fourth_code", "bad_count", "bad_codes_list"} <= found
    assert not {"new_code", "other_code", "third_code", "fourth_code"} & set(quality.CHECKS)


def test_the_readers_emit_the_codes_found_in_their_source(codes):
    # a sample of each emitter, so a collector that finds nothing cannot pass
    assert {"bad_file_name", "not_xlsx", "empty_workbook", "too_large", "reader_failed", "read_timeout",
            "missing_column", "not_utf8", "duplicate_submission", "submission_out_of_order", "marac_left_out",
            "bad_count", "bad_codes_list"} <= codes
    assert len(codes) > 60


def test_every_emitted_code_has_a_check_with_a_title_and_an_action(codes):
    missing = sorted(codes - set(quality.CHECKS))
    assert not missing, f"issue codes with no entry in quality.CHECKS: {missing}"
    for code in sorted(codes):
        check = quality.CHECKS[code]
        assert check.title.strip() and check.what_to_do.strip(), code


def test_every_check_is_emitted_by_a_reader(codes):
    unused = sorted(set(quality.CHECKS) - codes)
    assert not unused, f"checks that nothing emits: {unused}"
    assert quality.VALUE_FREE_MESSAGES <= codes
