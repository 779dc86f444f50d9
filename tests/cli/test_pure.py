"""The CLI's pure parts, in-process: id lists, tables, units, formats, option parsing."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from nubo.cli import build, formats, units
from nubo.cli.shared_verbs import octal_bits
from nubo.cli.error_output import UsageError
from nubo.cli.resolve import split_refs
from nubo.cli.show import ID, NAME
from nubo.cli.tables import Column, TableOptions, render


def test_split_refs() -> None:
    assert split_refs("3,5,7-9") == [3, 5, 7, 8, 9]
    assert split_refs("1..3,web-1") == [1, 2, 3, "web-1"]
    assert split_refs(" 4 , db ") == [4, "db"]
    for bad in ("", "1,,2", "9-3"):
        with pytest.raises(UsageError):
            split_refs(bad)


@given(st.lists(st.one_of(st.integers(0, 10_000),
                          st.tuples(st.integers(0, 500), st.integers(0, 50))), min_size=1))
def test_split_refs_expands_what_it_is_given(items: list) -> None:
    text, want = [], []
    for item in items:
        if isinstance(item, int):
            text.append(str(item))
            want.append(item)
        else:
            lo, span = item
            text.append(f"{lo}-{lo + span}")
            want.extend(range(lo, lo + span + 1))
    assert split_refs(",".join(text)) == want


def _pool(*rows: tuple[int, str, str]) -> list[etree._Element]:
    return [etree.fromstring(f"<VM><ID>{i}</ID><NAME>{n}</NAME><MEM>{m}</MEM></VM>")
            for i, n, m in rows]


MEM = Column("MEM", lambda e: units.size(e.findtext("MEM") or "0", "M"),
             key=lambda e: float(e.findtext("MEM") or 0) * 1024, right=True)
COLS = (ID, NAME, MEM)
ROWS = _pool((0, "web-1", "512"), (1, "database-primary", "4096"), (2, "db", "1024"))


def test_table_columns_filters_sort_csv() -> None:
    assert render(ROWS, COLS, TableOptions()) == (
        "ID  NAME               MEM\n"
        " 0  web-1             512M\n"
        " 1  database-primary    4G\n"
        " 2  db                  1G\n")
    out = render(ROWS, COLS, TableOptions(columns=["name", "ID"], sort="-MEM", header=False))
    assert out.split("\n")[0].split() == ["database-primary", "1"]
    assert render(ROWS, COLS, TableOptions(filters=["MEM>=1G"], csv=True)) == \
        "ID,NAME,MEM\n1,database-primary,4G\n2,db,1G\n"
    assert render(ROWS, COLS, TableOptions(filters=["NAME~db", "ID!=1"], csv=True,
                                           header=False)) == "2,db,1G\n"
    assert render(ROWS, COLS, TableOptions(filters=["NAME=WEB-1,MEM<1000M"], csv=True,
                                           header=False)) == "0,web-1,512M\n"
    for bad in (TableOptions(columns=["NOPE"]), TableOptions(filters=["garbage"]),
                TableOptions(sort="X")):
        with pytest.raises(UsageError):
            render(ROWS, COLS, bad)


def test_a_filter_matches_a_columns_alias_too() -> None:
    # STATE shows RUNNING; `--filter STATE=runn` (the issue's own example) must match it.
    from nubo.cli.vm_view import COLUMNS
    state = next(c for c in COLUMNS if c.name == "STATE")
    vms = [etree.fromstring(f"<VM><ID>{i}</ID><STATE>{s}</STATE><LCM_STATE>{lcm}</LCM_STATE>"
                            "</VM>") for i, s, lcm in ((0, 3, 3), (1, 1, 0))]
    for spec, want in (("STATE=runn", "0\n"), ("STATE=RUNNING", "0\n"),
                       ("STATE!=runn", "1\n")):
        assert render(vms, (ID, state), TableOptions(filters=[spec], columns=["ID"],
                                                     header=False, csv=True)) == want


def test_table_fits_the_width_and_colours_only_when_asked() -> None:
    narrow = render(ROWS, (ID, NAME, MEM), TableOptions(width=20))
    assert max(len(line) for line in narrow.splitlines()) <= 20
    assert "database-…" in narrow
    state = Column("STAT", lambda e: "runn", colour=lambda v: "green")
    assert "\x1b[" not in render(ROWS, (ID, state), TableOptions())
    assert "\x1b[32mrunn\x1b[0m" in render(ROWS, (ID, state), TableOptions(colour=True))


def test_units() -> None:
    assert [units.size(v) for v in (0, 512, 1024, 1536, 1024 ** 2 * 3)] == \
        ["0K", "512K", "1M", "1.5M", "3G"]
    assert units.size("2048", "M") == "2G" and units.size("") == "-"
    assert units.duration(3725) == "0d 01h02" and units.duration(90061) == "1d 01h01"
    assert units.lifetime(0) == "-" and units.lifetime(100, 160) == "0d 00h01"
    assert units.rights("1", "0", "1") == "u-a"
    assert octal_bits("640") == [1, 1, 0, 1, 0, 0, 0, 0, 0]
    for bad in ("64", "648", "abc"):
        with pytest.raises(UsageError):
            octal_bits(bad)
    assert [build.memory_mb(v) for v in ("512", "512M", "2G", "1.5G")] == \
        ["512", "512", "2048", "1536"]
    for bad in ("lots", "0", "0.5"):
        with pytest.raises(UsageError):
            build.memory_mb(bad)


def test_formats_keep_pool_objects_as_lists() -> None:
    one = etree.fromstring("<VM_POOL><VM><ID>3</ID><TEMPLATE><DISK><ID>0</ID></DISK>"
                           "<DISK><ID>1</ID></DISK></TEMPLATE></VM></VM_POOL>")
    data = json.loads(formats.render(one, "json"))
    assert data == {"VM_POOL": {"VM": [{"ID": "3", "TEMPLATE": {"DISK": [{"ID": "0"},
                                                                          {"ID": "1"}]}}]}}
    assert json.loads(formats.render(etree.fromstring("<VM_POOL/>"), "json")) == {"VM_POOL": {}}
    assert formats.render(one, "yaml").startswith("VM_POOL:\n  VM:\n  - ID: '3'")
    assert formats.render(one, "xml").startswith("<VM_POOL>\n  <VM>")


def test_host_show_has_its_last_probe() -> None:
    from nubo.cli import host_verbs as host, show
    el = etree.fromstring(
        "<HOST><ID>3</ID><NAME>n3</NAME><STATE>2</STATE><HOST_SHARE><TOTAL_MEM>16777216"
        "</TOTAL_MEM></HOST_SHARE><TEMPLATE/><MONITORING><TIMESTAMP>1764600000</TIMESTAMP>"
        "<ID>3</ID><CAPACITY><FREE_CPU>750</FREE_CPU><FREE_MEMORY>8388608</FREE_MEMORY>"
        "<USED_CPU>50</USED_CPU><USED_MEMORY>1048576</USED_MEMORY></CAPACITY><SYSTEM>"
        "<NETRX>2048</NETRX><NETTX>0</NETTX></SYSTEM></MONITORING></HOST>")
    out = show.render(host.sections(el))
    section = out[out.index("HOST MONITORING"):]
    for key, value in (("FREE CPU", "750"), ("USED MEMORY", "1G"), ("FREE MEMORY", "8G"),
                       ("NET RX", "2K")):
        assert re.search(rf"^{key} +: {value}$", section, re.M), section
    unprobed = etree.fromstring("<HOST><ID>4</ID><NAME>n4</NAME><STATE>0</STATE><TEMPLATE/>"
                                "<MONITORING/></HOST>")
    assert "HOST MONITORING" not in show.render(host.sections(unprobed))
