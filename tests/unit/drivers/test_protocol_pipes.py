"""A driver's own commands never touch the core's pipes: after
``threaded.protocol_pipes()`` a child that reads stdin reads /dev/null (an ssh that read
it swallowed the core's next requests) and one that writes stdout writes to stderr."""
from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import subprocess, sys
from nubo.drivers import threaded
proto_in, proto_out = threaded.protocol_pipes()
eaten = subprocess.run(["cat"], capture_output=True).stdout  # a child reading stdin
subprocess.run(["echo", "noise"])                             # a child writing stdout
line = proto_in.readline()
proto_out.write(b"got " + line + b"ate " + str(len(eaten)).encode() + b"\n")
proto_out.flush()
"""


def test_children_read_dev_null_and_write_stderr():
    done = subprocess.run([sys.executable, "-c", CHILD], input=b"INIT\n",
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"got INIT\nate 0\n"
    assert b"noise" in done.stderr
