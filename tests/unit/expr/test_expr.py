"""REQUIREMENTS and RANK: OpenNebula's syntax, semantics and error positions."""
from __future__ import annotations

import pytest

from nubo.expr import ExprError, Table, check, rank, requirements
from nubo.expr.ast import Ref

HOST = {"NAME": ("web-3",), "HOSTNAME": ("web-3.example.org",), "CPUSPEED": ("2400",),
        "HYPERVISOR": ("kvm",), "CLUSTER_ID": ("100",), "FREE_CPU": ("350",),
        "RUNNING_VMS": ("4",), "PCI_CLASS": ("0300", "0c03"), "LOAD": ("0.75",),
        "LABEL": ("",)}


@pytest.mark.parametrize("text, expected", [
    ("", True),
    ('NAME = "web*"', True),
    ('NAME = "db*"', False),
    ('HOSTNAME = "*.example.org"', True),
    ("HYPERVISOR = kvm", True),            # a bare name on the right is a string
    ("HYPERVISOR != kvm", False),
    ("CPUSPEED > 2000", True),
    ("CPUSPEED < 2000", False),
    ("CPUSPEED = 2400", True),
    ("LOAD < 0.8", True),
    ("LOAD > -1", True),
    ("CLUSTER_ID = 100", True),
    ('CLUSTER_ID = "100"', True),          # numbers compare as strings against strings
    ("PCI_CLASS @> 0300", True),           # as numbers: "0300" is 300
    ('PCI_CLASS @> "0c03"', True),
    ('PCI_CLASS @> "0c*"', True),
    # a missing name makes every comparison false, != included; ! of it is true
    ("MISSING = 1", False),
    ("MISSING != 1", False),
    ('MISSING != "x"', False),
    ("!(MISSING = 1)", True),
    ("HYPERVISOR > 1", False),             # not a number: false
    ('LABEL = ""', False),                 # the empty string never matches
    ('"NAME" = "web-3"', True),            # a quoted name (a path) on the left
    # & | ! share one precedence and associate to the left (OpenNebula's grammar)
    ("CPUSPEED > 1 | MISSING = 1 & MISSING = 2", False),
    ("MISSING = 2 & MISSING = 1 | CPUSPEED > 1", True),
    ("!MISSING = 1 & CPUSPEED > 1", True),
    ("CPUSPEED > 1 | (MISSING = 1 & MISSING = 2)", True),
])
def test_requirements(text: str, expected: bool) -> None:
    req = requirements(text)
    assert req.matches(HOST) is expected
    assert req.mask(Table([HOST])) == int(expected)


def test_at_contains_numbers() -> None:
    host = {"CLUSTERS/ID": ("0", "100", "7")}
    assert requirements('"CLUSTERS/ID" @> 100').matches(host)
    assert not requirements('"CLUSTERS/ID" @> 5').matches(host)


@pytest.mark.parametrize("text, expected", [
    ("", 0), ("RUNNING_VMS", 4), ("-RUNNING_VMS", -4), ("FREE_CPU / 100", 3),
    ("FREE_CPU-50", 300), ("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("10 - 2 - 3", 5),
    ("MISSING * 5 + 1", 1), ("HYPERVISOR + 1", 1), ("FREE_CPU / 0", 0), ("- -3", 3),
    ("LOAD * 10", 7), ("-LOAD * 10", -7),
])
def test_rank(text: str, expected: int) -> None:
    assert rank(text).score(HOST) == expected


def test_references_are_substituted_per_vm() -> None:
    req = requirements("CPUSPEED > $MIN_SPEED & HYPERVISOR = $NIC[MODEL]")
    assert req.has_refs
    vm = {"MIN_SPEED": "2000", "NIC/MODEL": "kvm"}
    bound = req.bind(lambda ref: vm.get(ref.name if ref.sub is None else f"{ref.name}/{ref.sub}"))
    assert not bound.has_refs and bound.matches(HOST)
    assert not req.bind(lambda ref: "9999" if ref.name == "MIN_SPEED" else "kvm").matches(HOST)
    with pytest.raises(ValueError):
        req.matches(HOST)
    r = rank("RUNNING_VMS * $WEIGHT").bind(lambda ref: "3")
    assert r.score(HOST) == 12
    assert rank("$NOTHING + 1").bind(lambda ref: None).score(HOST) == 1
    assert Ref("NIC", "MODEL").text() == "$NIC[MODEL]"


def test_same_text_is_compiled_once() -> None:
    assert requirements("CPUSPEED > 1") is requirements("CPUSPEED > 1")


@pytest.mark.parametrize("text, line, col, words", [
    ("CPU >", 1, 6, "expecting a number"),
    ("CPU >= 3", 1, 5, "'>=' is not an operator"),
    ('CPU > "fast"', 1, 7, "compares numbers"),
    ("(A = 1", 1, 7, "')' to close the '(' at column 1"),
    ("A = 1 B", 1, 7, "unexpected name B"),
    ('A = "abc', 1, 5, "unterminated string"),
    ("A = $", 1, 5, "'$' must be followed by a name"),
    ("A ~ 1", 1, 3, "unexpected character '~'"),
    ("X = 1 &\n  Y <", 2, 6, "expecting a number"),
    ("= 3", 1, 1, "expecting a comparison"),
    ("A = 1 &", 1, 8, "expecting a comparison"),
    ("A", 1, 2, "one of = != > < @>"),
    ("()", 1, 2, "expecting a comparison"),
])
def test_requirement_errors_say_what_and_where(text: str, line: int, col: int,
                                               words: str) -> None:
    with pytest.raises(ExprError) as e:
        check(text)
    assert (e.value.line, e.value.col) == (line, col)
    assert words in e.value.message
    assert f"at line {line}, column {col}" in str(e.value)


@pytest.mark.parametrize("text, col, words", [
    ("A + * 2", 5, "unexpected '*'"),
    ("(A + 2", 7, "')' to close"),
    ("A B", 3, "unexpected name B"),
    ("A = 1", 3, "unexpected '='"),
])
def test_rank_errors(text: str, col: int, words: str) -> None:
    with pytest.raises(ExprError) as e:
        check(text, "rank")
    assert e.value.col == col and words in e.value.message
