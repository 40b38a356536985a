"""Block the network for every Python process started while the tests run.

``tests/conftest.py`` puts this folder first on ``PYTHONPATH``, so the test process and every
process it starts (notebook kernels, ``otter``, scripts) import it at start-up. Any attempt to open
a connection to an address outside the loopback range, or to look up a host name, raises
``NetworkBlockedError`` and is appended to the file named by ``MMCOURSE_NETWORK_LOG``; the test
session fails if that file is not empty at the end (so a caught exception cannot hide an attempt).
Loopback stays open: Jupyter kernels and the browser tests talk to local servers.
"""
import os
import socket

if os.environ.get("MMCOURSE_BLOCK_NETWORK") == "1":
    _LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "", None}

    class NetworkBlockedError(ConnectionError):
        """Raised for any connection outside the loopback range while the tests run."""

    def _is_local(host) -> bool:
        if isinstance(host, bytes):
            host = host.decode()
        return host in _LOCAL_NAMES or str(host).startswith("127.") or str(host).startswith("::ffff:127.")

    def _refuse(what: str):
        log_path = os.environ.get("MMCOURSE_NETWORK_LOG")
        if log_path:
            with open(log_path, "a") as log:
                log.write(f"pid {os.getpid()}: {what}\n")
        raise NetworkBlockedError(f"{what}: the network is blocked while testing (the course must work offline)")

    _connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            _refuse(f"connection to {address!r}")
        return _connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            _refuse(f"connection to {address!r}")
        return _connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            _refuse(f"name lookup of {host!r}")
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
