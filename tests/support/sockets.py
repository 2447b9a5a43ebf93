"""Raw client sockets, for servers that must cope with clients that misbehave."""

from __future__ import annotations

import socket


def answer(sock: socket.socket, timeout: float) -> bytes | None:
    """What the server sends before `timeout`: b"" when it only closed, None when silent."""
    sock.settimeout(timeout)
    try:
        return sock.recv(4096)
    except ConnectionResetError:
        return b""
    except TimeoutError:
        return None
