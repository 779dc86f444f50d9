"""The table of numeric attribute ranges (nubo.model.limits), and the API argument checks."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nubo.api.methods  # noqa: F401 - registers the methods
from nubo.api.method_table import METHODS, SignatureError, bind, id_problem, is_id
from nubo.model.limits import (DATASTORE_NUMBERS, FIGURE_MAX, HOST_NUMBERS, IMAGE_NUMBERS,
                               INT64_MAX, INT64_MIN, SCHED_NUMBERS, VM_NUMBERS, VNET_NUMBERS,
                               Bound, check_numbers, figure, number_problem, saturate)
from nubo.template import TemplateValueError, parse

TABLES = [VM_NUMBERS, HOST_NUMBERS, DATASTORE_NUMBERS, IMAGE_NUMBERS, VNET_NUMBERS,
          SCHED_NUMBERS]
RULES = [(spec, rule) for table in TABLES for spec, rule in table.items()]


def test_every_range_fits_in_int64():
    for spec, rule in RULES:
        assert rule.kind in (int, float), spec
        assert INT64_MIN <= rule.low < rule.high <= INT64_MAX, spec


@given(st.sampled_from(RULES), st.integers(min_value=-2**80, max_value=2**80))
def test_an_integer_is_refused_exactly_outside_its_range(rule_of, number: int):
    spec, rule = rule_of
    inside = (rule.low < number if rule.low_open else rule.low <= number) and number <= rule.high
    problem = rule.problem(spec, str(number))
    assert (problem is None) == inside
    if problem:
        assert problem.startswith(f"{spec} attribute must be") and str(number) in problem


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_cpu_is_a_positive_number_up_to_65536(number: float):
    ok = 0 < number <= 65536
    assert (VM_NUMBERS["CPU"].problem("CPU", repr(number)) is None) == ok


@pytest.mark.parametrize("text, name", [
    ("MEMORY=9223372036854775808", "MEMORY"),
    ("CPU=1e308", "CPU"),
    ("CPU=1e400", "CPU"),
    ("VCPU=99999999999999999999", "VCPU"),
    ("DISK=[TYPE=fs, SIZE=-100]", "DISK/SIZE"),
    ("NIC=[NETWORK_ID=99999999999999999999]", "NIC/NETWORK_ID"),
    ("NIC=[NETWORK_ID=1] NIC=[NETWORK_ID=-2]", "NIC/NETWORK_ID"),
    ("DISK=[IMAGE_ID=4294967296]", "DISK/IMAGE_ID"),
])
def test_absurd_vm_values_are_named(text: str, name: str):
    assert number_problem(parse(text), VM_NUMBERS).startswith(f"{name} attribute must be")
    with pytest.raises(TemplateValueError, match=name):
        check_numbers(parse(text), VM_NUMBERS)


@pytest.mark.parametrize("text", [
    "CPU=0.5 VCPU=2 MEMORY=1024 DISK=[SIZE=0] NIC=[NETWORK_ID=0]",
    "MEMORY=abc CPU=two",  # not numbers: left to the reader, which words oned's error
    "MEMORY_MAX=-1",        # oned leaves a MAX <= 0 in the user template
    'MEMORY=""',
])
def test_sane_or_non_numbers_pass(text: str):
    assert number_problem(parse(text), VM_NUMBERS) is None


def test_reservations_take_amounts_or_percentages():
    rule = HOST_NUMBERS["RESERVED_CPU"]
    for ok in ("-100", "10%", "-50 %", "0", "1.5"):
        assert rule.problem("RESERVED_CPU", ok) is None, ok
    for bad in ("200%", str(2**63), "-1e300"):
        assert "RESERVED_CPU" in (rule.problem("RESERVED_CPU", bad) or ""), bad


@given(st.one_of(st.integers(min_value=-2**200, max_value=2**200), st.floats()))
def test_figures_and_sums_stay_in_int64(value):
    assert INT64_MIN <= saturate(value) <= INT64_MAX
    if value == value:  # not NaN
        assert -FIGURE_MAX <= figure(value) <= FIGURE_MAX
        assert -FIGURE_MAX <= figure(str(value)) <= FIGURE_MAX
    else:
        with pytest.raises(ValueError):
            figure(value)


def test_bound_describes_itself():
    assert Bound(int, 1, 10).problem("X", "11") == "X attribute must be an integer from 1 to " \
                                                   "10, got 11"


def test_id_arguments_take_minus_one_and_nothing_lower():
    deploy = METHODS["one.vm.deploy"]
    assert [p.name for p in deploy.params if is_id(p)] == ["id", "host_id", "ds_id"]
    assert id_problem(deploy, bind(deploy, [1, 2, False, -1])) is None
    assert "ds_id -99" in id_problem(deploy, bind(deploy, [1, 2, False, -99]))
    assert "host_id -2" in id_problem(deploy, bind(deploy, [1, -2]))


@given(st.integers(min_value=-2**63, max_value=2**63 - 1))
def test_integer_arguments_are_32_bit_as_oned_reads_them(number: int):
    info = METHODS["one.vm.info"]
    if -2**31 <= number < 2**31:
        assert bind(info, [number]) == [number, False]
    else:
        with pytest.raises(SignatureError, match="32-bit"):
            bind(info, [number])
