"""The CONTEXT variable grammar (oned's vm_var_parser): examples, errors and properties."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nubo.context.variables import ContextSyntaxError, Variable, parse_value


@pytest.mark.parametrize("text, parts", [
    ("plain", ["plain"]),
    ("$NAME", [Variable("NAME")]),
    ("$name.example", [Variable("NAME"), ".example"]),
    ("10.0.0.$VM_ID", ["10.0.0.", Variable("VM_ID")]),
    ("$UID$GID", [Variable("UID"), Variable("GID")]),
    ("$NIC[IP]", [Variable("NIC", "IP")]),
    ('$NIC[IP, NETWORK="Private LAN"]', [Variable("NIC", "IP", "NETWORK", "Private LAN")]),
    ("$NETWORK[GATEWAY, NETWORK_ID=3]", [Variable("NETWORK", "GATEWAY", "NETWORK_ID", "3")]),
    ("$network[ gateway ,network_id = 3 ]x",
     [Variable("NETWORK", "GATEWAY", "NETWORK_ID", "3"), "x"]),
    ("$USER[SSH_PUBLIC_KEY]", [Variable("USER", "SSH_PUBLIC_KEY")]),
    ('a $NIC[MAC, NAME=""] b', ["a ", Variable("NIC", "MAC", "NAME", ""), " b"]),
    ("$NAME, welcome", [Variable("NAME"), ", welcome"]),
])
def test_examples(text, parts):
    assert parse_value(text) == parts


@pytest.mark.parametrize("text, message, column", [
    ("$", "expected a variable name after '$', found end of value", 2),
    ("echo $(id)", "expected a variable name after '$', found '('", 7),
    ("${HOME}", "expected a variable name after '$', found '{'", 2),
    ("$NIC[", "expected an attribute name after '[', found end of value", 6),
    ("$NIC[IP", "expected ',' or ']', found end of value", 8),
    ("$NIC[IP NETWORK]", "expected ',' or ']', found ' '", 8),
    ("$NIC[IP, NETWORK]", "expected '=' after NETWORK, found ']'", 17),
    ("$NIC[IP, NETWORK=my-net]", "expected ']', found '-'", 20),
    ("$NIC[IP, NETWORK=\"open]", "expected a value in double quotes", 18),
])
def test_malformed_variables_say_what_and_where(text, message, column):
    with pytest.raises(ContextSyntaxError) as caught:
        parse_value(text)
    assert message in str(caught.value)
    assert caught.value.column == column


_names = st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True)
_values = st.one_of(st.from_regex(r"[A-Za-z0-9]{1,6}", fullmatch=True),
                    st.text(st.characters(blacklist_characters='"'), max_size=8))
_variables = st.one_of(
    st.builds(Variable, _names.map(str.upper)),
    st.builds(Variable, _names.map(str.upper), _names.map(str.upper)),
    st.builds(Variable, _names.map(str.upper), _names.map(str.upper), _names.map(str.upper),
              _values),
)
_texts = st.text(st.characters(blacklist_characters="$"), min_size=1, max_size=10)


def _write(var: Variable) -> str:
    if var.attr is None:
        return f"${var.name}"
    if var.key is None:
        return f"${var.name}[{var.attr}]"
    return f'${var.name}[{var.attr}, {var.key}="{var.value}"]'


def _merge(parts: list) -> list:
    """Adjacent texts as one (the parser returns maximal runs)."""
    out: list = []
    for part in parts:
        if out and isinstance(part, str) and isinstance(out[-1], str):
            out[-1] += part
        else:
            out.append(part)
    return out


@given(st.lists(st.one_of(_texts, _variables), max_size=6))
def test_written_parts_parse_back(parts):
    # A text right after a plain $NAME must not continue the name or open a bracket.
    fixed: list = []
    for part in parts:
        if isinstance(part, str) and fixed and isinstance(fixed[-1], Variable):
            if fixed[-1].attr is None and (part[0].isalnum() or part[0] in "_["):
                part = " " + part
        fixed.append(part)
    text = "".join(p if isinstance(p, str) else _write(p) for p in fixed)
    assert parse_value(text) == _merge(fixed)


@given(st.text(max_size=30))
def test_any_text_parses_or_fails_cleanly(text):
    try:
        parts = parse_value(text)
    except ContextSyntaxError as e:
        assert 1 <= e.column <= len(text) + 1
    else:
        literal = "".join(p for p in parts if isinstance(p, str))
        assert text.count("$") == sum(1 for p in parts if isinstance(p, Variable))
        assert "$" not in literal


@given(st.text(st.characters(blacklist_characters="$"), max_size=30))
def test_text_without_dollar_is_kept(text):
    assert parse_value(text) == ([text] if text else [])
