"""context.sh and the context CD-ROM: sourced by a real /bin/sh, read back by pycdlib
and by isoinfo (genisoimage's reader) when it is installed."""
from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pycdlib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nubo.context.iso import ContextIsoError, context_of, write_context_iso
from nubo.context.script import HEADER, render_context_sh
from nubo.core import transfer_payload
from nubo.lifecycle.transfer import Location, transfer_script
from nubo.template import Template, VectorAttribute

TRICKY = {
    "ETH0_IP": "198.51.100.7",
    "QUOTES": "it's \"quoted\" ''",
    "SPACES": "  two  words ",
    "NEWLINES": "line 1\nline 2\n",
    "DOLLAR": "$HOME `id` $(id) \\n \\",
    "EMPTY": "",
}


def sh_values(script: str, keys: list[str], cwd: Path) -> dict[str, str]:
    """Source ``script`` in /bin/sh and print each variable between markers."""
    (cwd / "context.sh").write_text(script)
    printing = "; ".join(f'printf "%s\\0" "${k}"' for k in keys)
    out = subprocess.run(["/bin/sh", "-c", f". ./context.sh; {printing}"], cwd=cwd,
                         capture_output=True, check=True).stdout.decode()
    return dict(zip(keys, out.split("\0")[:-1]))


def test_context_sh_format():
    text = render_context_sh(VectorAttribute("CONTEXT", {"B": "it's", "A": "x"}))
    assert text == HEADER + "A='x'\nB='it'\\''s'\n"


def test_context_sh_sourced_by_sh_gives_every_value(tmp_path):
    script = render_context_sh(VectorAttribute("CONTEXT", TRICKY))
    assert sh_values(script, list(TRICKY), tmp_path) == TRICKY


@settings(max_examples=40, deadline=None)
@given(st.text(st.one_of(st.characters(blacklist_categories=("Cs", "Cc"),
                                       blacklist_characters="\ufffe\uffff"),
                        st.sampled_from("\n\t'\"$`\\")), max_size=20))
def test_any_value_reads_back_in_sh(value):
    import tempfile
    with tempfile.TemporaryDirectory() as where:
        script = render_context_sh(VectorAttribute("CONTEXT", {"V": value}))
        assert sh_values(script, ["V"], Path(where)) == {"V": value}


def vm_xml(context: dict[str, str]) -> str:
    return Template([VectorAttribute("CONTEXT", context)]).to_xml().join(
        ("<VM><ID>12</ID>", "</VM>"))


def read_iso(path: Path, name: str, kind: str = "rr") -> bytes:
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, **{f"{kind}_path": name})
        return out.getvalue()
    finally:
        iso.close()


@pytest.fixture
def made(tmp_path):
    """A CD-ROM with FILES (a file and a directory) and a FILES_DS image."""
    src = tmp_path / "src"
    (src / "certificates").mkdir(parents=True)
    (src / "init.sh").write_text("echo init\n")
    (src / "certificates" / "ca.pem").write_text("PEM\n")
    image = tmp_path / "ds" / "0a1b2c"
    image.parent.mkdir()
    image.write_text("from an image\n")
    context = dict(TRICKY, FILES=f"{src}/init.sh {src}/certificates",
                   FILES_DS=f"{image}:'service.conf' ")
    dest = tmp_path / "disk.1"
    # The words of the CONTEXT transfer line, FILES_DS's "SOURCE:'name'" included.
    template = Template([VectorAttribute("CONTEXT", context)])
    files = transfer_payload.context_of(SimpleNamespace(template=template)).files
    assert len(files) == 3
    write_context_iso(vm_xml(context), dest, [Path(f) for f in files])
    return dest, context


def test_iso_holds_context_sh_and_the_files_by_name(made, tmp_path):
    dest, context = made
    iso = pycdlib.PyCdlib()
    iso.open(str(dest))
    try:
        label = iso.pvd.volume_identifier.decode().strip()
        assert label == "CONTEXT"
        assert iso.has_rock_ridge() and iso.has_joliet()
        names = {c.rock_ridge.name().decode() for c in iso.list_children(rr_path="/")
                 if not (c.is_dot() or c.is_dotdot())}
    finally:
        iso.close()
    assert names == {"context.sh", "init.sh", "certificates", "service.conf"}
    script = read_iso(dest, "/context.sh").decode()
    assert script == render_context_sh(context_of(vm_xml(context)))
    assert read_iso(dest, "/context.sh", "joliet") == script.encode()
    assert read_iso(dest, "/CONTEXT.SH;1", "iso") == script.encode()
    assert read_iso(dest, "/certificates/ca.pem") == b"PEM\n"
    assert read_iso(dest, "/service.conf") == b"from an image\n"
    assert sh_values(script, list(TRICKY), tmp_path) == TRICKY
    assert not list(dest.parent.glob("*.partial"))


@pytest.mark.skipif(shutil.which("isoinfo") is None, reason="isoinfo (genisoimage) not installed")
def test_isoinfo_reads_it_as_genisoimage_would_write_it(made, tmp_path):
    dest, _ = made
    info = subprocess.run(["isoinfo", "-d", "-i", str(dest)], capture_output=True, text=True,
                          check=True).stdout
    assert "Volume id: CONTEXT" in info
    assert "Joliet" in info and "Rock Ridge" in info
    listing = subprocess.run(["isoinfo", "-R", "-l", "-i", str(dest)], capture_output=True,
                             text=True, check=True).stdout
    for name in ("context.sh", "init.sh", "service.conf", "certificates", "ca.pem"):
        assert f" {name}" in listing
    script = subprocess.run(["isoinfo", "-i", str(dest), "-x", "/CONTEXT.SH;1"],
                            capture_output=True, check=True).stdout.decode()
    assert sh_values(script, ["ETH0_IP", "QUOTES"], tmp_path) == {
        "ETH0_IP": "198.51.100.7", "QUOTES": TRICKY["QUOTES"]}
    # The ISO 9660 names are genisoimage's: compare with its own image of the same tree.
    if shutil.which("genisoimage"):
        tree = tmp_path / "tree"
        tree.mkdir()
        for name in ("context.sh", "init.sh", "service.conf"):
            (tree / name).write_text("x")
        (tree / "certificates").mkdir()
        theirs = tmp_path / "theirs.iso"
        subprocess.run(["genisoimage", "-quiet", "-o", str(theirs), "-V", "CONTEXT", "-J", "-R",
                        str(tree)], check=True)

        def names(path: Path) -> list[str]:
            out = subprocess.run(["isoinfo", "-l", "-i", str(path)], capture_output=True,
                                 text=True, check=True).stdout
            return sorted(line.split()[-1] for line in out.splitlines()
                          if line[:1] and line[0] in "d-" and line.split()[-1] not in (".", ".."))
        assert set(names(theirs)) <= set(names(dest))


def test_a_missing_file_fails_and_leaves_nothing(tmp_path):
    dest = tmp_path / "disk.1"
    with pytest.raises(ContextIsoError, match="no such file"):
        write_context_iso(vm_xml({"A": "b"}), dest, [tmp_path / "nope"])
    assert list(tmp_path.iterdir()) == []


def test_the_prolog_writes_the_context_line_with_its_files():
    template = Template([VectorAttribute("DISK", {"DISK_ID": "0"}),
                         VectorAttribute("CONTEXT", {"DISK_ID": "1", "FILES": "/srv/a /srv/b",
                                                     "FILES_DS": "/ds/2/x:'conf' "})])
    here = Location("node1", "/var/lib/one/datastores/0/12", "ssh", 0)
    lines = transfer_script("PROLOG", 12, [], here,
                            context=transfer_payload.context_of(SimpleNamespace(template=template)))
    assert lines == ["CONTEXT ssh /ds/2/x:'conf' /srv/a /srv/b "
                     "node1:/var/lib/one/datastores/0/12/disk.1 12 0"]

