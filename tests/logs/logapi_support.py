"""logapi in the test process, over real HTTP on loopback."""

from __future__ import annotations

import http.client
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import attrs

from tickborg.config import ListenAddress, ServerConfig
from tickborg.logs.layout import Layout
from tickborg.logs.reader import LogReader
from tickborg.logs.server import LogApiServer


@attrs.frozen
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@attrs.frozen
class Client:
    port: int

    def request(self, method: str, target: str) -> Reply:
        """`target` goes on the request line exactly as given: no client-side normalising."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.putrequest(method, target, skip_accept_encoding=True)
            connection.endheaders()
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def get(self, target: str) -> Reply:
        return self.request("GET", target)


@contextmanager
def logapi(root: Path) -> Iterator[Client]:
    server = LogApiServer(ServerConfig(ListenAddress("127.0.0.1", 0)), LogReader(Layout(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Client(server.server_address[1])
    finally:
        server.stop()
        thread.join(10)
