"""Property tests: round trips, garbage never escapes as another error, merge laws."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from template_strategies import templates, values

from nubo.template import (
    SingleAttribute,
    Template,
    TemplateSyntaxError,
    VectorAttribute,
    apply_update,
    parse,
    parse_str_or_xml,
    parse_xml,
)
from nubo.template.text_render import format_value, is_renderable

# No deadline: the machine is shared, timings vary.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

renderable = values.filter(is_renderable)


@relaxed
@given(templates(renderable))
def test_text_round_trip(tmpl: Template) -> None:
    text = tmpl.render()
    assert parse(text) == tmpl
    assert parse(text).render() == text  # rendering is deterministic and stable


@relaxed
@given(templates(min_vector_size=1))
def test_xml_round_trip(tmpl: Template) -> None:
    xml = tmpl.to_xml()
    assert parse_xml(xml) == tmpl
    assert parse_str_or_xml(xml) == tmpl
    assert parse_xml(xml).to_xml() == xml


@relaxed
@given(templates(min_vector_size=1), st.sampled_from(["TEMPLATE", "USER_TEMPLATE", "vm"]))
def test_xml_round_trip_any_root(tmpl: Template, root: str) -> None:
    assert parse_xml(tmpl.to_xml(root)) == tmpl


@relaxed
@given(values)
def test_single_value_round_trip_in_both_forms(value: str) -> None:
    tmpl = Template([SingleAttribute("A", value), VectorAttribute("V", {"K": value})])
    assert parse_xml(tmpl.to_xml()) == tmpl
    if is_renderable(value):
        assert parse(tmpl.render()) == tmpl


@relaxed
@given(values.map(lambda v: v + "\\"))
def test_trailing_backslash_survives_when_last_quoted(value: str) -> None:
    # OpenNebula's longest-match rule: with no quote after it, \" closes.
    assert parse(f"A = {format_value(value)}\n").get("A") == value


def _parses_or_syntax_error(parser, text) -> None:  # type: ignore[no-untyped-def]
    try:
        result = parser(text)
    except TemplateSyntaxError as err:
        assert err.line >= 1 and err.column >= 1
        if isinstance(text, str):  # XML also counts a lone \r as a line break
            assert err.line <= text.count("\n") + text.count("\r") + 1
    else:
        assert isinstance(result, Template)


_TEXT_SOUP = st.text(alphabet='AbZ_9 =[]",#\n\r\t\\x]>é\x00', max_size=60)
_XML_SOUP = st.text(alphabet='<>/!?[]CDATa="\' &;#x\n:-', max_size=60)


@relaxed
@given(st.one_of(st.text(max_size=80), _TEXT_SOUP))
def test_garbage_text_only_raises_syntax_errors(text: str) -> None:
    _parses_or_syntax_error(parse, text)
    _parses_or_syntax_error(parse_str_or_xml, text)


@relaxed
@given(st.one_of(st.text(max_size=80), _XML_SOUP, st.binary(max_size=60)))
def test_garbage_xml_only_raises_syntax_errors(text: str | bytes) -> None:
    _parses_or_syntax_error(parse_xml, text)


@relaxed
@given(templates(), st.data())
def test_mutated_documents_only_raise_syntax_errors(tmpl: Template, data: st.DataObject) -> None:
    for source, parser in ((tmpl.render(), parse), (tmpl.to_xml(), parse_xml)):
        if not source:
            continue
        at = data.draw(st.integers(0, len(source) - 1))
        cut = data.draw(st.integers(0, 3))
        junk = data.draw(st.sampled_from(["", '"', "[", "]", "<", ">", "=", ",", "\\", "]]>", "\n", "<!--"]))
        _parses_or_syntax_error(parser, source[:at] + junk + source[at + cut:])


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (parse, 'A = "' + '\\"' * 50_000),
        (parse, "#" * 200_000),
        (parse, " " * 200_000 + "!"),
        (parse, "A" * 200_000),
        (parse, "A" + " " * 100_000 + "B"),
        (parse, "A=[" + "B=1," * 30_000),
        (parse, "A=[" + "#\n" * 50_000),
        (parse, 'A="' * 30_000),
        (parse, '"' * 100_000),
        (parse_xml, "<a>" * 100_000),
        (parse_xml, "<T><A>" + "]]>" * 50_000 + "</A></T>"),
    ],
)
def test_pathological_input_does_not_hang(parser, text: str) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    _parses_or_syntax_error(parser, text)
    assert time.perf_counter() - started < 2.0


# -- merge (one.*.update type 1) ---------------------------------------------------------


def _kept_by_merge(attrs: list) -> list:  # type: ignore[type-arg]
    return [a for a in attrs if isinstance(a, SingleAttribute) or len(a)]


@relaxed
@given(templates(), templates())
def test_merge_replaces_exactly_the_names_in_the_update(base: Template, update: Template) -> None:
    merged = base.copy()
    merged.merge(update)
    for name in set(base.names()) | set(update.names()):
        if name in update.names():
            assert merged.get_all(name) == _kept_by_merge(update.get_all(name))
        else:
            assert merged.get_all(name) == base.get_all(name)


@relaxed
@given(templates(), templates())
def test_merge_is_idempotent_and_isolated(base: Template, update: Template) -> None:
    before = update.copy()
    once = apply_update(base, update, 1)
    twice = apply_update(once, update, 1)
    assert once == twice
    assert update == before  # the update itself is untouched ...
    for attr in once:  # ... and shares nothing with the result
        if isinstance(attr, VectorAttribute):
            attr.set("MUTATED", "1")
    assert update == before


@relaxed
@given(templates())
def test_merge_identities(tmpl: Template) -> None:
    same = tmpl.copy()
    same.merge(Template())
    assert same == tmpl
    assert apply_update(Template(), tmpl, 1) == Template(_kept_by_merge(list(tmpl)))
    assert apply_update(tmpl, Template(), 0) == Template()
