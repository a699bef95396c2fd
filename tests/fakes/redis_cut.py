"""A TCP proxy in front of a real redis-server that can cut a connection at a chosen moment: after a
command reached Redis and before its answer comes back, as a failover or a network cut does."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class RedisCut:
    """Forward every connection to 127.0.0.1:`port`; drop_answer_to(marker) arms a one-shot cut."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cuts = 0
        self._marker: bytes | None = None
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._sockets: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._server.getsockname()[1]}/0"

    def drop_answer_to(self, marker: bytes) -> None:
        """The next command whose bytes hold `marker` reaches Redis; its answer never reaches the
        client, whose connection is closed instead."""
        with self._lock:
            self._marker = marker

    def __enter__(self) -> RedisCut:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.close()
        with self._lock:
            for sock in self._sockets:
                _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self.port))
            cut = threading.Event()  # set once this connection's next answer is to be dropped
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._commands, args=(client, upstream, cut), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client, cut), daemon=True).start()

    def _commands(self, client: socket.socket, upstream: socket.socket, cut: threading.Event) -> None:
        while data := _recv(client):
            with self._lock:
                if self._marker is not None and self._marker in data:
                    self._marker = None
                    cut.set()  # before the command goes on, so its answer cannot slip through
            try:
                upstream.sendall(data)
            except OSError:
                break
        _close(upstream)

    def _answers(self, upstream: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        while data := _recv(upstream):
            if cut.is_set():
                with self._lock:
                    self.cuts += 1
                break
            try:
                client.sendall(data)
            except OSError:
                break
        _close(client)
        _close(upstream)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
