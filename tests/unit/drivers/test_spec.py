"""Driver configuration tables and results."""
from __future__ import annotations

import tomllib

import pytest

from nubo.drivers import DriverResult, DriverSpec, specs_from_config

TOML = """
[drivers.dummy]
command = "python3 -m nubo.drivers.dummy vmm,im,tm"
concurrency = 256
timeouts = { monitor = 30, DEPLOY = 600 }
env = { A = "1" }

[drivers.ds]
command = ["python3", "-m", "nubo.drivers.dummy", "ds"]
"""


def test_specs_from_a_toml_table():
    dummy, ds = specs_from_config(tomllib.loads(TOML)["drivers"])
    assert dummy.name == "dummy" and dummy.command[-1] == "vmm,im,tm"
    assert (dummy.timeout_for("MONITOR"), dummy.timeout_for("DEPLOY")) == (30.0, 600.0)
    assert dummy.timeout_for("POLL") == dummy.timeout == 300.0
    assert dummy.concurrency == 256 and dict(dummy.env or {}) == {"A": "1"}
    assert ds.command == ("python3", "-m", "nubo.drivers.dummy", "ds")


@pytest.mark.parametrize("values, message", [
    ({"command": "x", "concurency": 3}, "unknown key"),
    ({}, "'command' is required"),
    ({"command": ""}, "command"),
    ({"command": 42}, "command must be"),
    ({"command": "x", "concurrency": 0}, "concurrency"),
    ({"command": "x", "timeouts": {"DEPLOY": 0}}, "timeout for DEPLOY"),
])
def test_bad_tables_name_the_problem(values, message):
    with pytest.raises(ValueError, match=message):
        DriverSpec.from_mapping("d", values)


def test_info_bytes():
    r = DriverResult("d", "MONITOR", 1, "h", True, "SE9TVD0x", "driver", 0.1)
    assert r.info_bytes() == b"HOST=1"
    with pytest.raises(ValueError, match="not base64"):
        DriverResult("d", "MONITOR", 1, "h", True, "not base64!", "driver", 0.1).info_bytes()
