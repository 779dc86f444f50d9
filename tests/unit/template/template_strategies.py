"""Hypothesis strategies for templates, shared by the property tests."""
from __future__ import annotations

from hypothesis import strategies as st

from nubo.template import SingleAttribute, Template, VectorAttribute

# Characters that stress quoting, escaping and CDATA, mixed with any printable
# unicode (control characters and surrogates cannot exist in XML at all).
_TRICKY = st.sampled_from(
    ['"', "\\", '\\"', "\n", "\r", "\r\n", "\t", " ", "]]>", "]]", "=", "#", ",",
     "[", "]", "<", ">", "&", "'", "<![CDATA[", "\u00a0", "\u2028", "\ufeff"]
)
_PRINTABLE = st.characters(
    exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"
)

values = st.lists(
    st.one_of(_TRICKY, st.text(_PRINTABLE, max_size=6)), max_size=8
).map("".join)

# A small pool makes repeated names (several DISK) and case clashes common.
names = st.one_of(
    st.sampled_from(["DISK", "nic", "Nic", "CPU", "context", "_X"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
)


def singles(value_strategy: st.SearchStrategy[str] = values) -> st.SearchStrategy[SingleAttribute]:
    return st.builds(SingleAttribute, names, value_strategy)


def vectors(
    value_strategy: st.SearchStrategy[str] = values, min_size: int = 0
) -> st.SearchStrategy[VectorAttribute]:
    return st.builds(
        VectorAttribute,
        names,
        st.dictionaries(names, value_strategy, min_size=min_size, max_size=4),
    )


def templates(
    value_strategy: st.SearchStrategy[str] = values, min_vector_size: int = 0
) -> st.SearchStrategy[Template]:
    attribute = st.one_of(singles(value_strategy), vectors(value_strategy, min_vector_size))
    return st.lists(attribute, max_size=8).map(Template)
