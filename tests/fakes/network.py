"""No real network in tests: any connection or name lookup outside the loopback fails."""

from __future__ import annotations

import ipaddress
import socket

import pytest

LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


class ExternalNetworkBlocked(OSError):
    pass


def _is_local(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host)
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def block_external_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            raise ExternalNetworkBlocked(f"test tried to resolve {host!r}: real network is not allowed")
        return real_getaddrinfo(host, *args, **kwargs)

    def _check(address) -> None:
        if isinstance(address, tuple) and not _is_local(address[0]):
            raise ExternalNetworkBlocked(f"test tried to connect to {address!r}: real network is not allowed")

    def connect(self, address):
        _check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        _check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
