"""Property tests: compiled expressions agree with a straightforward reference evaluator.

Expressions are generated as plain tuples, rendered to text, parsed and compiled by
nubo.expr, and evaluated on generated records; the reference below interprets the
tuples directly with OpenNebula's rules (docs/scheduler.md), written independently
of nubo.expr.
"""
from __future__ import annotations

import fnmatch

from hypothesis import given, settings
from hypothesis import strategies as st

from nubo.expr import ExprError, Table, check, rank, requirements

NAMES = ["CPUSPEED", "HYPERVISOR", "NAME", "RUNNING_VMS", "FREE_CPU", "LABEL", "MISSING"]
WORDS = ["kvm", "lxc", "web1", "web22", "db", "", "x-1"]
PATTERNS = ["kvm", "web*", "*1", "w?b1", "d[ab]", "*", "lxc"]

number_text = st.one_of(st.integers(-50, 3000).map(str),
                        st.tuples(st.integers(0, 99), st.integers(0, 99)).map(
                            lambda t: f"{t[0]}.{t[1]}"))
values = st.lists(st.one_of(number_text, st.sampled_from(WORDS)), min_size=1, max_size=3)
records = st.dictionaries(st.sampled_from(NAMES[:-1]), values.map(tuple), max_size=6)

# --- requirements ---------------------------------------------------------------
int_lit = st.integers(-50, 3000).map(lambda n: ("int", n))
float_lit = st.tuples(st.integers(0, 99), st.integers(0, 99)).map(
    lambda t: ("float", float(f"{t[0]}.{t[1]}"), f"{t[0]}.{t[1]}"))
str_lit = st.sampled_from(PATTERNS + [""]).map(lambda s: ("str", s))
atoms = st.one_of(
    st.tuples(st.just("cmp"), st.sampled_from(NAMES), st.sampled_from(["=", "!=", ">", "<", "@>"]),
              st.one_of(int_lit, float_lit)),
    st.tuples(st.just("cmp"), st.sampled_from(NAMES), st.sampled_from(["=", "!=", "@>"]), str_lit),
)
trees = st.recursive(atoms, lambda sub: st.one_of(
    st.tuples(st.just("not"), sub),
    st.tuples(st.sampled_from(["&", "|"]), sub, sub)), max_leaves=8)


def render(tree) -> str:
    kind = tree[0]
    if kind == "cmp":
        _, name, op, lit = tree
        if lit[0] == "int":
            rhs = str(lit[1])
        elif lit[0] == "float":
            rhs = lit[2]
        else:
            rhs = f'"{lit[1]}"'
        return f"{name} {op} {rhs}"
    if kind == "not":
        inner = tree[1]
        return "!" + (render(inner) if inner[0] == "cmp" else f"({render(inner)})")
    _, left, right = tree
    # Left-associative with one precedence: only a binary right operand needs parentheses.
    right_text = render(right) if right[0] != "&" and right[0] != "|" else f"({render(right)})"
    return f"{render(left)} {kind} {right_text}"


def number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def reference(tree, record) -> bool:
    kind = tree[0]
    if kind == "not":
        return not reference(tree[1], record)
    if kind in ("&", "|"):
        left, right = reference(tree[1], record), reference(tree[2], record)
        return (left and right) if kind == "&" else (left or right)
    _, name, op, lit = tree
    vals = record.get(name)
    if not vals:
        return False
    if lit[0] in ("int", "float"):
        n = float(lit[1])
        if op == "@>":
            return any(number(v) == n for v in vals)
        v = number(vals[0])
        if v is None:
            return False
        return {"=": v == n, "!=": v != n, ">": v > n, "<": v < n}[op]
    pattern = lit[1]
    if pattern == "":
        return False
    if op == "@>":
        return any(fnmatch.fnmatchcase(v, pattern) for v in vals)
    hit = fnmatch.fnmatchcase(vals[0], pattern)
    return hit if op == "=" else not hit


@settings(max_examples=400, deadline=None)
@given(trees, st.lists(records, min_size=1, max_size=5))
def test_requirements_agree_with_the_reference(tree, recs) -> None:
    compiled = requirements(render(tree))
    table = Table(recs)
    mask = compiled.mask(table)
    for i, rec in enumerate(recs):
        want = reference(tree, rec)
        assert compiled.matches(rec) is want
        assert bool(mask >> i & 1) is want


# --- rank -----------------------------------------------------------------------
arith = st.recursive(
    st.one_of(st.integers(0, 1000).map(lambda n: ("num", n)),
              st.sampled_from(NAMES).map(lambda n: ("var", n))),
    lambda sub: st.one_of(st.tuples(st.just("neg"), sub),
                          st.tuples(st.sampled_from(["+", "-", "*", "/"]), sub, sub)),
    max_leaves=6)


def render_arith(tree) -> str:
    kind = tree[0]
    if kind == "num":
        return str(tree[1])
    if kind == "var":
        return tree[1]
    if kind == "neg":
        return f"-({render_arith(tree[1])})"
    return f"({render_arith(tree[1])} {kind} {render_arith(tree[2])})"


def reference_arith(tree, record) -> float:
    kind = tree[0]
    if kind == "num":
        return float(tree[1])
    if kind == "var":
        vals = record.get(tree[1])
        n = number(vals[0]) if vals else None
        return n if n is not None else 0.0
    if kind == "neg":
        return -reference_arith(tree[1], record)
    a, b = reference_arith(tree[1], record), reference_arith(tree[2], record)
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    return a / b if b else 0.0


@settings(max_examples=300, deadline=None)
@given(arith, records)
def test_rank_agrees_with_the_reference(tree, record) -> None:
    assert rank(render_arith(tree)).score(record) == int(reference_arith(tree, record))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('AB1 .="*()!&|<>@-+/$[]_\n~x')), max_size=30),
       st.sampled_from(["requirements", "rank"]))
def test_any_text_parses_or_fails_with_a_position(text: str, kind: str) -> None:
    try:
        check(text, kind)
    except ExprError as e:
        assert e.line >= 1 and e.col >= 1
        assert e.line <= text.count("\n") + 1
