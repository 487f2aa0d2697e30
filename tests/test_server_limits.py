"""Transport limits with a real server (uvicorn on loopback, configured as `python -m app
serve` configures it, app/server_limits.py): an oversized WebSocket frame is refused as its
header arrives, without reading the 15 MiB it announces; an oversized header block gets 431;
connections that never finish their headers get 408 and are closed."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from app import server_limits
from app.main import create_app
from app.nlp.embedder import Embedder
from app.realtime.sockets import MAX_FRAME_BYTES
from tests.conftest import make_settings

HEADER_TIMEOUT = 1.0
WAIT = 60  # a safety net for a stuck test, never a measured bound


@asynccontextmanager
async def serving(
    tmp_path: Path, embedder: Embedder, seeded_index: Path, orders_api: str, **overrides: Any
) -> AsyncIterator[tuple[str, int]]:
    settings = make_settings(
        tmp_path,
        orders_api,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'data' / 'switchboard.db'}",
        **overrides,
    )
    shutil.copytree(seeded_index, settings.index_dir)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = server_limits.config(
        create_app(settings, embedder=embedder),
        settings.server,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(120):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        yield "127.0.0.1", sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def live(
    tmp_path: Path, embedder: Embedder, seeded_index: Path, orders_api: str
) -> AsyncIterator[tuple[str, int]]:
    async with serving(
        tmp_path,
        embedder,
        seeded_index,
        orders_api,
        server={"header_timeout_seconds": HEADER_TIMEOUT},
    ) as address:
        yield address


async def read_all(reader: asyncio.StreamReader) -> bytes:
    """Everything until the server closes the connection."""
    async with asyncio.timeout(WAIT):
        return await reader.read()


async def test_an_oversized_header_block_gets_431(
    tmp_path: Path, embedder: Embedder, seeded_index: Path, orders_api: str
) -> None:
    async with live(tmp_path, embedder, seeded_index, orders_api) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        # One header value that never ends: refused once 16 KiB came, not at the deadline.
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 40_000)
        answer = await read_all(reader)
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert b"exceed 16384 bytes" in answer
        writer.close()
        # A long but reasonable header block still passes.
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
            fine = await client.get("/healthz", headers={"X-Filler": "a" * 8000})
            assert fine.status_code == 200


async def test_half_open_connections_are_closed_after_the_header_timeout(
    tmp_path: Path, embedder: Embedder, seeded_index: Path, orders_api: str
) -> None:
    async with live(tmp_path, embedder, seeded_index, orders_api) as (host, port):
        held = []
        for i in range(200):
            reader, writer = await asyncio.open_connection(host, port)
            if i % 2:  # half a request, or nothing at all
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            held.append((reader, writer))
        # Meanwhile the server answers others.
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
            assert (await client.get("/healthz")).status_code == 200
        answers = await asyncio.gather(*(read_all(reader) for reader, _ in held))
        assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), {a[:30] for a in answers}
        assert b"did not arrive within 1 s" in answers[0]
        for _, writer in held:
            writer.close()
        # A keep-alive connection's second request is held to the same deadline.
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n")
        answer = await read_all(reader)
        assert answer.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 408 " in answer
        writer.close()


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One unmasked server frame: (opcode, payload)."""
    first, second = await reader.readexactly(2)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", await reader.readexactly(2))
    elif size == 127:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    return first & 0x0F, await reader.readexactly(size)


async def test_an_oversized_websocket_frame_is_refused_before_it_is_read(
    tmp_path: Path, embedder: Embedder, seeded_index: Path, orders_api: str
) -> None:
    async with live(tmp_path, embedder, seeded_index, orders_api) as (host, port):
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
            body = (await client.post("/api/v1/conversations")).json()
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16))
        writer.write(
            f"GET /api/v1/conversations/{body['id']}/stream HTTP/1.1\r\n".encode()
            + b"Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
            + key
            + f"\r\nAuthorization: Bearer {body['token']}\r\n\r\n".encode()
        )
        async with asyncio.timeout(WAIT):
            handshake = await reader.readuntil(b"\r\n\r\n")
        assert handshake.startswith(b"HTTP/1.1 101 ")
        # A text frame announcing 15 MiB, of which only the first 64 KiB are ever sent.
        announced = 15 * 1024 * 1024
        mask = os.urandom(4)
        writer.write(bytes([0x81, 0x80 | 127]) + struct.pack("!Q", announced) + mask)
        writer.write(bytes(b ^ mask[i % 4] for i, b in enumerate(b"x" * 65536)))
        async with asyncio.timeout(WAIT):
            while True:
                opcode, payload = await read_frame(reader)
                if opcode == 0x8:  # close
                    break
        (code,) = struct.unpack("!H", payload[:2])
        assert code == 1009, payload  # message too big
        assert f"limit of {MAX_FRAME_BYTES} bytes".encode() in payload
        writer.close()
