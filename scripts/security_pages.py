"""Checks the hardened pages and transport limits against the real service and writes the
"Hardened pages" section of docs/SECURITY.md.

Starts `python -m app serve` (a fresh data folder prepared as the Docker build does,
`SWITCHBOARD_CORS_ORIGINS` set to one widget site) and records, from real HTTP and WebSocket
traffic on loopback:

1. the browser-hardening headers of each kind of response (pages, API reference, API answers,
   errors, files);
2. the CORS matrix: a preflight from the widget's site and from a stranger on each route family;
3. the transport limits: a WebSocket frame announcing 15 MiB (only 64 KiB of it sent) against a
   small frame's round trip (the reference of the same run); a 40 KB header block; `--held`
   connections (default 1,000) that open and never finish their headers (half of them send
   half a request), how many the server closes with 408 and when, and a normal request's
   latency while they are held against before (ratio).

Run from the repo root: `python scripts/security_pages.py [--held 1000] [--write]`; `--write`
puts the section into docs/SECURITY.md (between `<!-- pages:start -->` and `<!-- pages:end -->`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import statistics
import struct
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.reportkit import REPO_ROOT, ran_on, write_doc_section
from scripts.servicekit import fresh_service

SECURITY = REPO_ROOT / "docs" / "SECURITY.md"
SHOP = "https://shop.example"
STRANGER = "https://stranger.example"
HEADERS = (
    "content-security-policy",
    "referrer-policy",
    "x-frame-options",
    "x-content-type-options",
)
KINDS = [
    ("demo store page", "GET", "/"),
    ("agent console", "GET", "/agent"),
    ("admin console", "GET", "/admin"),
    ("API reference (/docs, /redoc)", "GET", "/docs"),
    ("API answer", "POST", "/api/v1/conversations"),
    ("error (404)", "GET", "/api/v1/nowhere"),
    ("widget script, static files", "GET", "/widget.js"),
]
CORS_ROUTES = [
    ("POST", "/api/v1/conversations"),
    ("GET", "/api/v1/conversations/ID"),
    ("POST", "/api/v1/conversations/ID/messages"),
    ("POST", "/api/v1/conversations/ID/csat"),
    ("GET", "/widget.js"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/agent/queue"),
    ("POST", "/api/v1/admin/kb/articles"),
    ("GET", "/api/v1/admin/analytics/summary"),
    ("GET", "/openapi.json"),
]


def header_rows(client: httpx.Client) -> list[str]:
    rows = ["| response | Content-Security-Policy | Referrer-Policy | other |", "|---|---|---|---|"]
    for kind, method, path in KINDS:
        response = client.request(method, path)
        csp = response.headers.get("content-security-policy", "(none)")
        csp = re.sub(r"'nonce-[^']+'", "'nonce-…'", csp)  # fresh per response
        others = ", ".join(
            f"{name}: {response.headers[name]}"
            for name in ("x-frame-options", "x-content-type-options")
            if name in response.headers
        )
        rows.append(
            f"| {kind} (`{method} {path}`) | `{csp}` | "
            f"{response.headers.get('referrer-policy', '(none)')} | {others} |"
        )
    permissions = client.get("/healthz").headers.get("permissions-policy", "(none)")
    rows.append("")
    rows.append(f"Every response also sends `Permissions-Policy: {permissions}`.")
    return rows


def cors_rows(client: httpx.Client) -> list[str]:
    rows = [
        f"| route | preflight from `{SHOP}` (configured) | preflight from `{STRANGER}` |",
        "|---|---|---|",
    ]
    for method, path in CORS_ROUTES:
        cells = []
        for origin in (SHOP, STRANGER):
            answer = client.options(
                path,
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            )
            allowed = answer.headers.get("access-control-allow-origin")
            cells.append(
                f"{answer.status_code}, allow-origin {allowed}"
                if allowed
                else f"{answer.status_code}, no CORS headers"
            )
        rows.append(f"| `{method} {path}` | {cells[0]} | {cells[1]} |")
    return rows


async def ws_open(port: int, conversation: dict[str, str]) -> tuple[Any, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        f"GET /api/v1/conversations/{conversation['id']}/stream HTTP/1.1\r\n".encode()
        + b"Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        + b"Sec-WebSocket-Key: "
        + key
        + f"\r\nAuthorization: Bearer {conversation['token']}\r\n\r\n".encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


def ws_frame_header(size: int, mask: bytes) -> bytes:
    if size < 126:
        return bytes([0x81, 0x80 | size]) + mask
    return bytes([0x81, 0x80 | 127]) + struct.pack("!Q", size) + mask


async def read_frame(reader: Any) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", await reader.readexactly(2))
    elif size == 127:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    return first & 0x0F, await reader.readexactly(size)


async def until(reader: Any, opcode: int, predicate: Any = None) -> bytes:
    while True:
        got, payload = await read_frame(reader)
        if got == opcode and (predicate is None or predicate(payload)):
            return payload


def masked(data: bytes, mask: bytes) -> bytes:
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


async def websocket_figures(port: int, conversation: dict[str, str]) -> dict[str, Any]:
    reader, writer = await ws_open(port, conversation)
    mask = os.urandom(4)
    ping = json.dumps({"type": "ping"}).encode()
    started = time.perf_counter()
    writer.write(ws_frame_header(len(ping), mask) + masked(ping, mask))
    await until(reader, 0x1, lambda p: b"pong" in p)
    reference = time.perf_counter() - started
    announced, sent = 15 * 1024 * 1024, 64 * 1024
    started = time.perf_counter()
    writer.write(ws_frame_header(announced, mask) + masked(b"x" * sent, mask))
    payload = await asyncio.wait_for(until(reader, 0x8), 60)
    refused = time.perf_counter() - started
    writer.close()
    (code,) = struct.unpack("!H", payload[:2])
    return {
        "code": code,
        "reason": payload[2:].decode(errors="replace"),
        "refused_ms": refused * 1000,
        "reference_ms": reference * 1000,
        "sent": sent,
        "announced": announced,
    }


async def header_block_figure(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 40_000)
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    return answer.split(b"\r\n", 1)[0].decode()


async def latency_ms(client: httpx.AsyncClient, runs: int = 20) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        (await client.get("/healthz")).raise_for_status()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


async def half_open_figures(port: int, held: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        before = await latency_ms(client)
        started = time.perf_counter()
        connections = []
        for i in range(held):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            if i % 2:
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            connections.append((reader, writer))
        during = await latency_ms(client)

        async def closed(reader: Any) -> tuple[bytes, float]:
            answer = await asyncio.wait_for(reader.read(), 120)
            return answer, time.perf_counter() - started

        results = await asyncio.gather(*(closed(r) for r, _ in connections))
        for _, writer in connections:
            writer.close()
    timeouts = sum(1 for answer, _ in results if answer.startswith(b"HTTP/1.1 408 "))
    return {
        "held": held,
        "closed_408": timeouts,
        "last_closed_s": max(t for _, t in results),
        "before_ms": before,
        "during_ms": during,
    }


async def transport(port: int, conversation: dict[str, str], held: int) -> dict[str, Any]:
    return {
        "websocket": await websocket_figures(port, conversation),
        "headers": await header_block_figure(port),
        "half_open": await half_open_figures(port, held),
    }


def section(headers: list[str], cors: list[str], figures: dict[str, Any], timeout: str) -> str:
    ws, half = figures["websocket"], figures["half_open"]
    return "\n".join(
        [
            ran_on(),
            "",
            "**Headers** (app/security_headers.py; the pages carry no inline script, event "
            "handler or style, and the widget's styles are a constructed style sheet, so no "
            "page needs `'unsafe-inline'` for scripts; only the bundled Swagger UI and ReDoc "
            "get inline styles and a per-response nonce for their start-up script). The widget "
            "draws in the host page (Shadow DOM, no iframe), so nothing may frame any page.",
            "",
            *headers,
            "",
            '**CORS** (app/cors_policy.py; `SWITCHBOARD_CORS_ORIGINS` here `["' + SHOP + '"]`): '
            "the customer routes and `/widget.js` answer the widget's sites; staff, admin, "
            "health and docs routes send no CORS header to any origin. "
            "`GET /api/v1/conversations/{id}` with a staff token goes out without CORS headers. "
            "WebSockets are outside CORS and authenticate by bearer token, never a cookie.",
            "",
            *cors,
            "",
            "**Transport limits** (`python -m app serve`, app/server_limits.py; Docker runs the "
            "same command):",
            "",
            "| check | result |",
            "|---|---|",
            f"| WebSocket frame announcing {ws['announced'] // (1024 * 1024)} MiB, "
            f"{ws['sent'] // 1024} KiB of it sent | closed {ws['code']} "
            f'("{ws["reason"]}") after {ws["refused_ms"]:.1f} ms, without the rest; a '
            f"ping's round trip in the same run: {ws['reference_ms']:.1f} ms "
            f"({ws['refused_ms'] / ws['reference_ms']:.1f}x) |",
            f"| a 40 KB header block (limit 16,384 bytes) | `{figures['headers']}` |",
            f"| {half['held']:,} connections that never finish their headers (half send half "
            f"a request) | {half['closed_408']:,} closed with 408; the last "
            f"{half['last_closed_s']:.1f} s after the first opened (timeout {timeout} s) |",
            f"| a normal request while they are held | median {half['during_ms']:.1f} ms vs "
            f"{half['before_ms']:.1f} ms before ({half['during_ms'] / half['before_ms']:.1f}x) |",
            "",
            "uvicorn has no header deadline and, on httptools, no header size bound: "
            "`GuardedHttpToolsProtocol` adds both to uvicorn's own protocol. Request bodies are "
            "bounded by size (256 KiB, 64 MiB for KB imports) but not by time: a reverse proxy "
            "in front (nginx `client_body_timeout`, `limit_conn`) bounds slow bodies and "
            "connections per address. Tests: `tests/test_server_limits.py` (a real server), "
            "`tests/test_security_headers.py`, `tests/test_cors_policy.py`, and "
            "`tests/web/test_page_policy.py` (Chromium: no CSP violation or console error on "
            "the demo page with the widget, both consoles, /docs, /redoc).",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--held", type=int, default=1000)
    parser.add_argument("--write", action="store_true", help="update docs/SECURITY.md")
    args = parser.parse_args()
    timeout = "10"
    env = {
        "SWITCHBOARD_CORS_ORIGINS": json.dumps([SHOP]),
        "SWITCHBOARD_SERVER__HEADER_TIMEOUT_SECONDS": timeout,
    }
    with fresh_service(env, prefix="security-pages-", prepare=True) as service:
        with httpx.Client(base_url=f"http://127.0.0.1:{service.port}") as client:
            headers = header_rows(client)
            cors = cors_rows(client)
            conversation = client.post("/api/v1/conversations").json()
        figures = asyncio.run(transport(service.port, conversation, args.held))
    text = section(headers, cors, figures, timeout)
    print(text)
    if args.write:
        write_doc_section("pages", text, SECURITY)


if __name__ == "__main__":
    main()
