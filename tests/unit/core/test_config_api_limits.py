"""The API's connection limits in the configuration: defaults and refused values."""
from __future__ import annotations

import pytest

from nubo.api.connections import ConnectionLimits
from nubo.config import ConfigError, load_config


def test_the_defaults_are_the_guards():
    cfg = load_config(None)
    limits = ConnectionLimits()
    assert (cfg.api_request_timeout, cfg.api_keep_alive_timeout,
            cfg.api_connections_per_source, cfg.api_max_connections) == (
        limits.request_timeout, limits.keep_alive_timeout, limits.max_per_source,
        limits.max_total)


@pytest.mark.parametrize("key, value", [
    ("api_request_timeout", 0), ("api_keep_alive_timeout", -1),
    ("api_connections_per_source", 0), ("api_max_connections", -5)])
def test_a_value_out_of_range_is_refused_naming_the_key(tmp_path, key, value):
    path = tmp_path / "nubo.toml"
    path.write_text(f"{key} = {value}\n")
    with pytest.raises(ConfigError, match=key):
        load_config(path)
