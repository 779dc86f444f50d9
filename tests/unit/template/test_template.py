"""Template and attribute API: lookups, changes, merge, render format."""
from __future__ import annotations

import pytest

from nubo.template import (
    SingleAttribute as S,
    Template,
    TemplateValueError,
    VectorAttribute as V,
    apply_update,
    parse,
)


@pytest.fixture
def vm() -> Template:
    return parse(
        'NAME = "web"\nMEMORY = 1024\nCPU = 0.5\n'
        "DISK = [ IMAGE = a, SIZE = 10 ]\nDISK = [ IMAGE = b ]\nNIC = [ NETWORK = n ]\n"
        "LABEL = x\nLABEL = y\n"
    )


def test_lookups(vm: Template) -> None:
    assert vm.get("name") == "web"
    assert vm.get("DISK") is None  # a vector is not a single value
    assert vm.get("missing") is None
    assert vm.get("LABEL") == "x"
    assert [a.value for a in vm.get_all("label")] == ["x", "y"]  # type: ignore[union-attr]
    assert [d.get("image") for d in vm.get_vectors("disk")] == ["a", "b"]
    assert vm.get_vector("nic") == V("NIC", {"NETWORK": "n"})
    assert vm.get_vector("nothing") is None
    assert vm.names() == ["NAME", "MEMORY", "CPU", "DISK", "NIC", "LABEL"]
    assert len(vm) == 8 and "disk" in vm and "nothing" not in vm and 3 not in vm
    assert [a.name for a in vm][:3] == ["NAME", "MEMORY", "CPU"]


def test_numbers(vm: Template) -> None:
    assert vm.get_int("MEMORY") == 1024
    assert vm.get_float("CPU") == 0.5
    assert vm.get_float("MEMORY") == 1024.0
    assert vm.get_int("VCPU") is None and vm.get_int("VCPU", 1) == 1
    assert vm.get_vectors("DISK")[0].get_int("size") == 10
    with pytest.raises(TemplateValueError, match=r"attribute CPU must be an integer, not '0.5'"):
        vm.get_int("cpu")
    with pytest.raises(TemplateValueError, match=r"attribute NAME must be a number, not 'web'"):
        vm.get_float("NAME")
    with pytest.raises(TemplateValueError, match=r"attribute DISK/IMAGE must be an integer"):
        vm.get_vectors("DISK")[0].get_int("image")


@pytest.mark.parametrize("text", ["1_000", "0x10", "", " ", "1.0", "nan", "١٢"])
def test_get_int_rejects(text: str) -> None:
    with pytest.raises(TemplateValueError):
        Template([S("N", text)]).get_int("N")


@pytest.mark.parametrize("text", ["nan", "inf", "1e", ".", "1_0", ""])
def test_get_float_rejects(text: str) -> None:
    with pytest.raises(TemplateValueError):
        Template([S("N", text)]).get_float("N")


def test_set_replaces_all_in_place(vm: Template) -> None:
    vm.set("disk", {"image": "c"})
    assert vm.get_vectors("DISK") == [V("DISK", {"IMAGE": "c"})]
    assert vm.names() == ["NAME", "MEMORY", "CPU", "DISK", "NIC", "LABEL"]
    vm.set("label", "z")
    assert [a for a in vm if a.name == "LABEL"] == [S("LABEL", "z")]
    vm.set("new", "1")
    assert vm.names()[-1] == "NEW"
    with pytest.raises(TypeError):
        vm.set("n", 1)  # type: ignore[arg-type]


def test_add_and_remove(vm: Template) -> None:
    vm.add(V("DISK", {"IMAGE": "c"}))
    assert len(vm.get_vectors("DISK")) == 3
    assert vm.remove("disk") == 3
    assert vm.remove("disk") == 0
    assert "DISK" not in vm
    with pytest.raises(TypeError):
        vm.add("DISK=[]")  # type: ignore[arg-type]


def test_attributes_validate_and_fold() -> None:
    assert S("cpu", "1").name == "CPU"
    vector = V("disk", {"size": "1"})
    vector.set("target", "sda")
    assert dict(vector.values) == {"SIZE": "1", "TARGET": "sda"}
    assert vector.remove("TARGET") and not vector.remove("TARGET")
    with pytest.raises(TypeError):
        vector.values["X"] = "1"  # type: ignore[index]
    for bad_name in ["", "A-B", "1A", "A B", "É"]:
        with pytest.raises(ValueError):
            S(bad_name, "x")
    with pytest.raises(ValueError):
        S("A", "nul\x00")
    with pytest.raises(TypeError):
        S("A", 1)  # type: ignore[arg-type]
    single = S("A", "1")
    with pytest.raises(ValueError):
        single.value = "\x1b[31m"


def test_equality_ignores_order_between_names_only() -> None:
    a = Template([S("A", "1"), V("D", {"X": "1"}), V("D", {"X": "2"})])
    b = Template([V("D", {"X": "1"}), S("A", "1"), V("D", {"X": "2"})])
    c = Template([S("A", "1"), V("D", {"X": "2"}), V("D", {"X": "1"})])
    assert a == b and a != c
    assert V("D", {"A": "1", "B": "2"}) == V("D", {"B": "2", "A": "1"})
    assert S("D", "") != V("D")
    assert a != "A=1"


def test_copy_is_deep(vm: Template) -> None:
    other = vm.copy()
    assert other == vm
    other.get_vectors("DISK")[0].set("SIZE", "99")
    other.get_all("NAME")[0].value = "changed"  # type: ignore[union-attr]
    assert vm.get_vectors("DISK")[0].get("SIZE") == "10"
    assert vm.get("NAME") == "web"


def test_merge_is_opennebula_update_type_1(vm: Template) -> None:
    vm.merge(parse("DISK = [ IMAGE = z ]\nLABEL = new\nNIC = []\nEXTRA = 1"))
    assert vm.get_vectors("DISK") == [V("DISK", {"IMAGE": "z"})]
    assert [a.value for a in vm.get_all("LABEL")] == ["new"]  # type: ignore[union-attr]
    assert "NIC" not in vm  # an empty vector deletes
    assert vm.get("EXTRA") == "1" and vm.get("MEMORY") == "1024"
    assert vm.names() == ["NAME", "MEMORY", "CPU", "DISK", "LABEL", "EXTRA"]


def test_apply_update(vm: Template) -> None:
    new = parse("MEMORY = 2048")
    replaced = apply_update(vm, new, 0)
    assert replaced == new and replaced is not new
    merged = apply_update(vm, new, 1)
    assert merged.get("MEMORY") == "2048" and merged.get("NAME") == "web"
    assert vm.get("MEMORY") == "1024"
    with pytest.raises(ValueError):
        apply_update(vm, new, 2)


def test_render_format() -> None:
    tmpl = Template([
        S("NAME", "my vm"), S("CPU", "1"), S("EMPTY", ""),
        S("QUOTE", 'say "hi"'), S("PATH", "C:\\dir\\"),
        V("DISK", {"IMAGE": "Ubuntu 24.04", "SIZE": "2048"}), V("NIC"),
        S("SCRIPT", "#!/bin/sh\necho 1\n"),
    ])
    assert tmpl.render() == (
        'NAME="my vm"\n'
        "CPU=1\n"
        'EMPTY=""\n'
        'QUOTE="say \\"hi\\""\n'
        "PATH=C:\\dir\\\n"
        "DISK=[\n"
        '  IMAGE="Ubuntu 24.04",\n'
        "  SIZE=2048 ]\n"
        "NIC=[]\n"
        'SCRIPT="#!/bin/sh\necho 1\n"\n'
    )
    assert parse(tmpl.render()) == tmpl
    assert Template().render() == ""


def test_repr_names_the_attributes() -> None:
    assert repr(Template([S("A", "1")])) == "Template([SingleAttribute('A', '1')])"
