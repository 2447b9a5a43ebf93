"""What every HTTP server of tickborg does with its `listen` address."""

from __future__ import annotations

import socket
import socketserver

from tickborg.config import ListenAddress


def address_family(listen: ListenAddress) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in listen.host else socket.AF_INET


def bind(server: socketserver.TCPServer) -> None:
    """Bind and listen on a server built with `bind_and_activate=False` (OSError if the address is taken)."""
    try:
        server.server_bind()
        server.server_activate()
    except OSError:
        server.socket.close()
        raise
