"""The scheduler process against an endpoint without nubo.sched.wait (as a real oned):
it falls back to periodic cycles. The endpoint is a stand-in for another implementation
of OpenNebula's API, not for nubo's code."""
from __future__ import annotations

import threading
import time
from xmlrpc.server import SimpleXMLRPCServer

from nubo.sched.daemon import Scheduler, Settings


def test_without_the_long_poll_cycles_run_on_the_interval() -> None:
    calls: list[str] = []
    server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True)
    empty = {"one.vmpool.infoextended": "<VM_POOL></VM_POOL>",
             "one.vmpool.info": "<VM_POOL></VM_POOL>",
             "one.clusterpool.info": "<CLUSTER_POOL></CLUSTER_POOL>",
             "one.hostpool.info": "<HOST_POOL></HOST_POOL>"}
    for name, body in empty.items():
        server.register_function(lambda *args, n=name, b=body: calls.append(n) or [True, b, 0],
                                 name)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/RPC2"
        sched = Scheduler(Settings(endpoint, "oneadmin:x", interval=0.2))
        runner = threading.Thread(target=sched.run)
        runner.start()
        time.sleep(1.2)
        sched.stop()
        runner.join(5)
        assert not runner.is_alive()
        assert not sched.has_wait
        assert 3 <= calls.count("one.vmpool.infoextended") <= 8
    finally:
        server.shutdown()
        server.server_close()


def test_nubo_sched_refuses_a_wrong_setting(tmp_path, capsys) -> None:
    from nubo.cli.main import main
    auth = tmp_path / "one_auth"
    auth.write_text("oneadmin:x\n")
    assert main(["sched", "--auth", str(auth), "--policy", "greedy", "--once"]) == 2
    assert "unknown host policy 'greedy'" in capsys.readouterr().err
    assert main(["sched", "--auth", str(tmp_path / "missing"), "--once"]) == 2
    assert "cannot read the credentials" in capsys.readouterr().err
