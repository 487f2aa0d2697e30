"""Transport limits of the served app, applied by `python -m app serve` (and so by the
Docker image): what uvicorn is told, and the one thing it cannot do by itself.

uvicorn 0.55 bounds WebSocket messages (`ws_max_size`), idle keep-alive connections
(`timeout_keep_alive`) and in-flight work (`limit_concurrency`), but has no deadline for a
request's header block and, on its default httptools parser, no bound on its size: a client
could hold a connection open forever with half a request line, or stream megabytes of headers.
`GuardedHttpToolsProtocol` is uvicorn's own httptools protocol with both added: the request
line and headers must arrive within `header_timeout_seconds` of the request's first byte (or of
the connection, for the first request), else the connection gets a 408 and is closed; a header
block larger than `max_header_bytes` gets a 431 and the connection is closed as soon as that
many bytes have come without the headers' end. Nothing else of uvicorn's behaviour changes.

WebSocket frames: clients send only small control frames (app/realtime/sockets.py caps them at
`MAX_FRAME_CHARS` characters), so the server refuses any message over `MAX_FRAME_BYTES` (close
1009) as it arrives, instead of reading up to uvicorn's default of 16 MiB first.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import ServerSettings
from app.realtime.sockets import MAX_FRAME_BYTES


def _plain_response(status_line: bytes, message: str) -> bytes:
    body = message.encode("ascii")
    return b"".join(
        [
            status_line,
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class _HeaderBlockTooLarge(Exception):
    """Raised from a parser callback to stop parsing an oversized header block."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a header size bound (the
    class attributes; `guarded_protocol` makes a subclass with the configured values)."""

    header_timeout_seconds: float = 10.0
    max_header_bytes: int = 16 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._awaiting_headers = True
        self._header_bytes = 0  # bytes read while the headers are incomplete
        self._parsed_bytes = 0  # the request target, header names and values parsed
        self._too_large = False

    # Between a request's first byte (or the connection's start) and the end of its headers.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers = True
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._header_bytes = self._parsed_bytes = 0
        self._cancel_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    # The size, counted twice: what the parser has parsed (a whole block arriving at once),
    # and every byte read while the headers are incomplete (httptools keeps a header value it
    # has not seen the end of in memory).
    def _count(self, size: int) -> None:
        self._parsed_bytes += size
        if self._parsed_bytes > self.max_header_bytes:
            self._too_large = True
            raise _HeaderBlockTooLarge  # uvicorn answers a parser error with send_400_response

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse_too_large()
        else:
            super().send_400_response(msg)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._awaiting_headers or self.transport.is_closing():
            return
        self._header_bytes += len(data)
        if self._header_bytes > self.max_header_bytes:
            self._refuse_too_large()

    def _refuse_too_large(self) -> None:
        self._refuse(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            f"the request line and headers exceed {self.max_header_bytes} bytes",
        )

    # The deadline.
    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(
                self.header_timeout_seconds, self._header_deadline_passed
            )

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _header_deadline_passed(self) -> None:
        self._header_deadline = None
        if self._awaiting_headers and not self.transport.is_closing():
            self._refuse(
                b"HTTP/1.1 408 Request Timeout\r\n",
                f"the request headers did not arrive within {self.header_timeout_seconds:g} s",
            )

    def _refuse(self, status_line: bytes, message: str) -> None:
        self._cancel_header_deadline()
        self.transport.write(_plain_response(status_line, message))
        self.transport.close()


def guarded_protocol(server: ServerSettings) -> type[GuardedHttpToolsProtocol]:
    """The HTTP protocol class uvicorn runs, with `server`'s header deadline and size bound."""
    return type(
        "ConfiguredHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {
            "header_timeout_seconds": server.header_timeout_seconds,
            "max_header_bytes": server.max_header_bytes,
        },
    )


def uvicorn_options(server: ServerSettings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` that apply the limits."""
    return {
        "http": guarded_protocol(server),
        "ws_max_size": MAX_FRAME_BYTES,
        "timeout_keep_alive": server.keep_alive_seconds,
        "limit_concurrency": server.limit_concurrency,
        "timeout_graceful_shutdown": server.graceful_shutdown_seconds,
    }


def config(app: Any, server: ServerSettings, **options: Any) -> uvicorn.Config:
    """A uvicorn configuration serving `app` with the limits (`options`: host, port, ...)."""
    return uvicorn.Config(app, **uvicorn_options(server), **options)
