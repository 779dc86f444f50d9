"""VNC port choice per cluster (pure)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nubo.model.vnc_ports import MAX_PORT, VncPortError, choose


def test_start_plus_the_vm_id_first_then_the_lowest_free():
    assert choose(25, 5900, set()) == 5925
    assert choose(25, 5900, {5925}) == 5900
    assert choose(25, 5900, {5925, 5900, 5901}) == 5902
    assert choose(25, 5900, set(), wanted=6100) == 6100


def test_a_taken_or_no_port_is_refused_with_oned_s_message():
    with pytest.raises(VncPortError, match="Requested VNC port already assigned to a VM"):
        choose(1, 5900, {6100}, wanted=6100)
    with pytest.raises(VncPortError, match="No free VNC ports available in the cluster"):
        choose(1, 65534, {65534, 65535})


@given(st.integers(0, 10**6), st.integers(1, MAX_PORT),
       st.sets(st.integers(1, MAX_PORT), max_size=50))
def test_the_port_is_free_and_in_range(vm_id, start, taken):
    try:
        port = choose(vm_id, start, taken)
    except VncPortError:
        assert set(range(start, MAX_PORT + 1)) <= taken
        return
    assert start <= port <= MAX_PORT and port not in taken
