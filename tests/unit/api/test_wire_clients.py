"""Replies decode with the XML-RPC libraries of OpenNebula's Ruby and Go bindings.

Each test runs only where that library is installed (Debian: ruby-xmlrpc;
golang-go with golang-github-kolo-xmlrpc-dev, which goca uses) and is
skipped elsewhere.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nubo.api import wire

REPLIES = {
    "success": (wire.encode_response([True, "<VM><NAME>a &amp; b\r\n é€🚀 ]]></NAME></VM>", 0]),
                "OK [true, \"<VM><NAME>a &amp; b\\r\\n é€🚀 ]]></NAME></VM>\", 0]"),
    "failure": (wire.encode_response([False, "[one.vm.info] gone", 1024, 12, wire.I8(-1)]),
                "OK [false, \"[one.vm.info] gone\", 1024, 12, -1]"),
    "fault": (wire.encode_fault(-506, "Method 'x' not defined <&>"),
              "FAULT -506 Method 'x' not defined <&>"),
    "mixed": (wire.encode_response([True, [1, 2**40, "x"], {"a": 1.5}, 3.0, 1e22]), None),
}

RUBY = """
require "xmlrpc/client"
ok, value = XMLRPC::Config::DEFAULT_PARSER.new.parseMethodResponse($stdin.read)
puts(ok ? "OK #{value.inspect}" : "FAULT #{value.faultCode} #{value.faultString}")
"""

GO = """
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kolo/xmlrpc"
)

func main() {
	data, _ := io.ReadAll(os.Stdin)
	resp := xmlrpc.Response(data)
	if err := resp.Err(); err != nil {
		f := err.(xmlrpc.FaultError)
		fmt.Printf("FAULT %d %s\\n", f.Code, f.String)
		return
	}
	var result []interface{}
	if err := resp.Unmarshal(&result); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	out := fmt.Sprintf("%#v", result)
	fmt.Println("OK " + strings.ReplaceAll(out, "interface {}", "any"))
}
"""


def _ruby_available() -> bool:
    if not shutil.which("ruby"):
        return False
    return subprocess.run(["ruby", "-e", 'require "xmlrpc/client"'],
                          capture_output=True).returncode == 0


@pytest.mark.skipif(not _ruby_available(), reason="ruby with the xmlrpc library is not installed")
@pytest.mark.parametrize("name", REPLIES)
def test_ruby_xmlrpc_decodes(name):
    body, expected = REPLIES[name]
    out = subprocess.run(["ruby", "-e", RUBY], input=body, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    text = out.stdout.decode().strip()
    if expected is not None:
        assert text == expected
    else:
        assert text == 'OK [true, [1, 1099511627776, "x"], {"a"=>1.5}, 3.0, 1.0e+22]'


GOPATH = Path("/usr/share/gocode")


@pytest.fixture(scope="module")
def kolo(tmp_path_factory):
    if not shutil.which("go") or not (GOPATH / "src/github.com/kolo/xmlrpc").is_dir():
        pytest.skip("go with github.com/kolo/xmlrpc is not installed")
    work = tmp_path_factory.mktemp("kolo")
    (work / "main.go").write_text(GO)
    env = dict(os.environ, GOPATH=str(GOPATH), GO111MODULE="off", GOCACHE=str(work / "cache"),
               GOFLAGS="")
    build = subprocess.run(["go", "build", "-o", str(work / "kolo"), str(work / "main.go")],
                           env=env, capture_output=True, timeout=300)
    assert build.returncode == 0, build.stderr.decode()
    return work / "kolo"


@pytest.mark.parametrize("name", REPLIES)
def test_go_kolo_xmlrpc_decodes(kolo, name):
    body, _ = REPLIES[name]
    out = subprocess.run([str(kolo)], input=body, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    text = out.stdout.decode().strip()
    expected = {
        "success": 'OK []any{true, "<VM><NAME>a &amp; b\\r\\n é€🚀 ]]></NAME></VM>", 0}',
        "failure": 'OK []any{false, "[one.vm.info] gone", 1024, 12, -1}',
        "fault": "FAULT -506 Method 'x' not defined <&>",
        "mixed": 'OK []any{true, []any{1, 1099511627776, "x"}, map[string]any{"a":1.5}, 3, 1e+22}',
    }[name]
    assert text == expected
