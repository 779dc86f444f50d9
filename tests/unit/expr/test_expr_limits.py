"""Expressions of any shape within the limits parse and evaluate; beyond them they are
refused with a position. Never a RecursionError: a user's SCHED_RANK or
SCHED_REQUIREMENTS must not be able to stop the scheduler (issue 9, item 1).
"""
from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nubo.expr import ExprError, Table, check, rank, requirements
from nubo.expr.evaluate import RANK_MAX
from nubo.expr.lexer import MAX_DEPTH, MAX_LENGTH

RECORDS = [{"A": ("1",), "B": ("2",)}, {"A": ("3",)}, {}]


def on_a_deep_stack(fn, frames: int = 200):
    """``fn()`` called with ``frames`` frames already on the stack, as from an API thread."""
    return fn() if frames == 0 else on_a_deep_stack(fn, frames - 1)


def use(text: str, kind: str) -> object:
    """Everything the scheduler does with an expression: parse, bind, evaluate."""
    if kind == "rank":
        bound = rank(text).bind(lambda ref: "2")
        return [bound.score(r) for r in RECORDS]
    bound = requirements(text).bind(lambda ref: "2")
    return [bound.matches(r) for r in RECORDS], bound.mask(Table(RECORDS))


def test_long_flat_chains_are_no_deeper_than_one_operator() -> None:
    assert rank("+".join(["1"] * 4000)).score({}) == 4000          # 7,999 characters
    assert rank("*".join(["A"] * 2000)).score({"A": ("1",)}) == 1
    assert rank(" - ".join(["$CPU"] * 1000)).bind(lambda r: "1").score({}) == -998
    text = " | ".join(f"ID = {i}" for i in range(700))
    assert requirements(text).matches({"ID": ("699",)})
    mixed = " & ".join(f"A = {i % 3} | B = 2" for i in range(500))
    assert use(mixed, "requirements") == ([True, False, False], 0b001)


def test_runs_of_not_and_minus_are_counted_not_nested() -> None:
    assert requirements("!" * 500 + "A = 1").matches({"A": ("1",)})
    assert not requirements("!" * 501 + "A = 1").matches({"A": ("1",)})
    assert requirements("!(" * 99 + "A = 1" + ")" * 99).matches({"A": ("3",)})
    assert rank("- " * 3001 + "5").score({}) == -5
    assert rank("-(" * 50 + "A" + ")" * 50).score({"A": ("4",)}) == 4


@pytest.mark.parametrize("kind,inner", [("rank", "-(A + $CPU) * 2"),
                                        ("requirements", "!(A = $CPU) | B = 2")])
def test_the_deepest_allowed_expression_works_on_a_deep_stack(kind, inner) -> None:
    text = "(" * (MAX_DEPTH - 1) + inner + ")" * (MAX_DEPTH - 1)
    on_a_deep_stack(lambda: use(text, kind))


@pytest.mark.parametrize("kind,inner", [("rank", "1"), ("requirements", "A = 1")])
def test_deeper_nesting_is_refused_where_it_starts(kind, inner) -> None:
    for depth in (MAX_DEPTH + 1, 900, 5000):
        text = "(" * depth + inner + ")" * depth
        with pytest.raises(ExprError, match=rf"nested too deeply \(limit {MAX_DEPTH} levels") \
                as e:
            check(text[:MAX_LENGTH] if len(text) > MAX_LENGTH else text, kind)
        assert (e.value.line, e.value.col) == (1, MAX_DEPTH + 1)


@pytest.mark.parametrize("kind", ["rank", "requirements"])
def test_too_long_an_expression_is_refused(kind) -> None:
    text = "1" if kind == "rank" else "A = 1"
    text += " " * (MAX_LENGTH - len(text))
    check(text, kind)
    with pytest.raises(ExprError, match=rf"too long \({MAX_LENGTH + 1} characters, limit "
                                        rf"{MAX_LENGTH}\) at line 1, column 1"):
        check(text + " ", kind)


def test_ranks_beyond_64_bits_are_clamped_not_errors() -> None:
    assert rank("9" * 400).score({}) == RANK_MAX
    assert rank("-" + "9" * 400 + " * 2").score({}) == -RANK_MAX
    assert rank("9" * 400 + " - " + "9" * 400).score({}) == 0  # inf - inf: not a number
    assert rank("A * 2").score({"A": ("1" + "0" * 400,)}) == RANK_MAX


def test_a_reference_whose_value_is_no_number_fails_with_its_name() -> None:
    compiled = requirements("CPUSPEED > $NAME")
    with pytest.raises(ExprError, match=r"^'>' compares numbers, but \$NAME is \"web\"$"):
        compiled.bind(lambda ref: "web")
    assert not compiled.bind(lambda ref: None).matches({"CPUSPEED": ("1",)})


# --- any shape within the limits -------------------------------------------------------
bool_atoms = st.sampled_from(["A = 1", "B != 2", "A > $CPU", 'NAME = "w*"', "A @> 3"])
arith_atoms = st.sampled_from(["1", "A", "$CPU", "2.5", "B"])


def shapes(atoms, ops: list[str], unary: str):
    """Texts built of chains, parentheses and unary operators, with their nesting depth."""
    leaf = atoms.map(lambda a: (a, 0))

    def extend(sub):
        return st.one_of(
            st.tuples(sub, st.integers(1, 6)).map(lambda t: (unary * t[1] + t[0][0], t[0][1])),
            sub.map(lambda t: (f"({t[0]})", t[1] + 1)),
            st.lists(st.tuples(st.sampled_from(ops), sub), min_size=1, max_size=30).flatmap(
                lambda rest: sub.map(lambda first: (
                    first[0] + "".join(f" {op} {t}" for op, (t, _) in rest),
                    max([first[1]] + [d for _, (_, d) in rest])))))
    return st.recursive(leaf, extend, max_leaves=60)


@pytest.mark.parametrize("kind,strategy", [
    ("requirements", shapes(bool_atoms, ["&", "|"], "!")),
    ("rank", shapes(arith_atoms, ["+", "-", "*", "/"], "-"))])
def test_any_expression_works_within_the_limits_and_is_refused_beyond(kind, strategy) -> None:
    @settings(max_examples=150, deadline=None)
    @given(strategy, st.integers(0, MAX_DEPTH + 3))
    def run(shape: tuple[str, int], depth: int) -> None:
        text, own = shape
        assume(own <= depth)
        text = "(" * (depth - own) + text + ")" * (depth - own)
        assume(len(text) <= MAX_LENGTH)
        if depth > MAX_DEPTH:
            with pytest.raises(ExprError, match="nested too deeply"):
                on_a_deep_stack(lambda: use(text, kind))
        else:
            on_a_deep_stack(lambda: use(text, kind))
    run()
