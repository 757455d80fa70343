"""Attacks on resource bounds over raw sockets: huge chunked bodies, exports left mid-stream.

:func:`chunked_post` streams a body with ``Transfer-Encoding: chunked`` (no length to refuse up
front) and stops as soon as the server answers or hangs up; :func:`abandon_export` asks for the
vote export and drops the connection; :func:`rss_mb` reads a process's resident memory.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

#: The prefix of the public export's temporary files (karena.web.api.export_file).
EXPORT_PREFIX = "karena-export-"


@dataclass(frozen=True, slots=True)
class BodyAttempt:
    """How one oversized body went: the status (None: hung up without one), bytes the client
    managed to send, and seconds until the server answered or hung up."""

    status: int | None
    sent: int
    seconds: float


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _status(head: bytes) -> int | None:
    if not head.startswith(b"HTTP/1."):
        return None
    with contextlib.suppress(IndexError, ValueError):
        return int(head.split(b" ", 2)[1])
    return None


def chunked_post(
    base_url: str,
    path: str,
    total_bytes: int,
    *,
    chunk: int = 64 * 1024,
    timeout: float = 30.0,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    prefix: bytes = b'{"x":"',
) -> BodyAttempt:
    """POST up to ``total_bytes`` of JSON-ish junk in chunks; stop when the server reacts."""
    began = time.monotonic()
    host, port = _address(base_url)
    block = b"a" * chunk
    frame = f"{len(block):x}\r\n".encode() + block + b"\r\n"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        + "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    sent = 0
    answer = b""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(head + f"{len(prefix):x}\r\n".encode() + prefix + b"\r\n")
        while sent < total_bytes and time.monotonic() - began < timeout:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(frame)
            except OSError:  # the server hung up: what it said may still be readable
                break
            sent += len(block)
        else:
            with contextlib.suppress(OSError):
                sock.sendall(b'2\r\n"}\r\n0\r\n\r\n')
        with contextlib.suppress(OSError):
            sock.settimeout(max(1.0, timeout - (time.monotonic() - began)))
            while b"\r\n" not in answer:
                data = sock.recv(4096)
                if not data:
                    break
                answer += data
    return BodyAttempt(_status(answer), sent, time.monotonic() - began)


def abandon_export(base_url: str, arena: str, *, read_head: bool) -> None:
    """Ask for the vote export and drop the connection: at once, or after the first bytes."""
    host, port = _address(base_url)
    request = (
        f"GET /api/votes/export?arena={arena}&format=csv HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=30.0) as sock:
        sock.sendall(request)
        if read_head:
            with contextlib.suppress(OSError):
                sock.recv(256)
        # RST instead of FIN: the abrupt end a crashed or impatient client gives.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def export_leftovers(folder: Path) -> list[Path]:
    """Export temp files in ``folder`` (the server's TMPDIR)."""
    return sorted(folder.glob(f"{EXPORT_PREFIX}*")) + sorted(folder.glob(f".{EXPORT_PREFIX}*"))


def body_attack(base_url: str, pids: list[int], *, bodies: int, size: int) -> float:
    """``bodies`` chunked bodies of ``size`` bytes at once; the servers' RSS growth in MB."""
    from concurrent.futures import ThreadPoolExecutor

    before = sum(rss_mb(pid) for pid in pids)
    with ThreadPoolExecutor(bodies) as pool:
        list(pool.map(lambda _: chunked_post(base_url, "/api/battles", size), range(bodies)))
    return max(0.0, sum(rss_mb(pid) for pid in pids) - before)


def export_attack(base_url: str, arena: str, tmp_dir: Path, *, drops: int) -> int:
    """Drop the vote export ``drops`` times; the export temp files left in ``tmp_dir``."""
    import httpx

    for i in range(drops):
        abandon_export(base_url, arena, read_head=i % 2 == 1)
    # One complete export afterwards: the server has handled every request sent before it.
    httpx.get(f"{base_url}/api/votes/export", params={"arena": arena}, timeout=60.0)
    deadline = time.monotonic() + 5
    while export_leftovers(tmp_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    return len(export_leftovers(tmp_dir))
