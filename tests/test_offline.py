"""The tests run with the network blocked, in this process and in every process it starts."""
import os
import socket
import subprocess
import sys

import pytest

PROBE = """
import socket, sys
try:
    socket.create_connection(("192.0.2.1", 80), timeout=2)
except ConnectionError as err:
    print("BLOCKED", type(err).__name__)
    sys.exit(0)
print("CONNECTED")
"""


def test_a_child_python_process_cannot_open_a_connection(tmp_path):
    log = tmp_path / "attempts.log"
    env = {**os.environ, "MMCOURSE_NETWORK_LOG": str(log)}  # keep this deliberate attempt out of the session log
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert "BLOCKED NetworkBlockedError" in run.stdout, run.stdout + run.stderr
    assert "192.0.2.1" in log.read_text(), "the attempt is logged, so a caught error still fails the session"


def test_loopback_connections_stay_open_for_local_servers():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=5)
    client.close()
    server.close()


def test_name_lookups_are_blocked_in_this_process(tmp_path, monkeypatch):
    monkeypatch.setenv("MMCOURSE_NETWORK_LOG", str(tmp_path / "log"))
    with pytest.raises(ConnectionError, match="blocked"):
        socket.getaddrinfo("example.org", 80)
