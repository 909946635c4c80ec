"""``idp.serve.free_port``: the ports the test stacks, the demo and the benchmark start
servers on. Two servers told the same port collide (CI once saw nginx merge a plain and a
TLS listener that way), so a process is never handed the same port twice."""

from __future__ import annotations

import socket

import pytest

from idp import serve


class _KernelRepeating:
    """A socket whose port-0 bind yields these ports in turn, like a kernel that hands a
    just-released port out again."""

    ports = iter(())

    def __init__(self, *args: object) -> None:
        self.port = 0

    def __enter__(self) -> _KernelRepeating:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def bind(self, address: tuple[str, int]) -> None:
        self.port = next(self.ports)

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


def test_a_port_the_kernel_hands_out_again_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve, "_HANDED_OUT", set())
    monkeypatch.setattr(serve, "_candidates", lambda: iter([0] * 10))
    monkeypatch.setattr(_KernelRepeating, "ports", iter([41001, 41001, 41001, 41002]))
    monkeypatch.setattr(serve.socket, "socket", _KernelRepeating)
    assert [serve.free_port(), serve.free_port()] == [41001, 41002]


def test_the_ports_are_free_distinct_and_below_the_ephemeral_range() -> None:
    """No outgoing connection can take them as its local port before a server binds them."""
    low = int(serve._EPHEMERAL.read_text().split()[0])
    ports = [serve.free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(low - 10_000 <= port < low for port in ports)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[-1]))  # nothing holds it
