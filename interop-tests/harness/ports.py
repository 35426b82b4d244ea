"""Loopback port allocation.

Ports are handed out in increasing order from one counter for the whole
session, so no two tests (and no two peers in one test) share a port even if
a previous peer is slow to release its socket. Each candidate is checked free
on both UDP and TCP because SIP listens on both. At the end of a range the
counter wraps around: by then the peers of the first tests are long gone,
and every candidate is checked free again anyway.
"""

from __future__ import annotations

import socket

# Fixed by the loopback dialplan: anonymous calls go to the trunk here.
TRUNK_PORT = 5070

_next = 16000
_LIMIT = 29999
_next_block = 30000
_BLOCK_LIMIT = 65000


def _free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def port(step: int = 1) -> int:
    """A free UDP+TCP port on 127.0.0.1; `step` reserves that many (baresip
    takes port+1 for TLS, so it asks for 2)."""
    global _next
    tried = 0
    while tried <= _LIMIT - 16000:
        if _next + step > _LIMIT:
            _next = 16000
        cand = _next
        _next += step
        tried += step
        if all(_free(cand + i) for i in range(step)):
            return cand
    raise RuntimeError("no free loopback port left in 16000-29999")


def block(size: int) -> tuple[int, int]:
    """A range [low, high] of `size` ports for RTP (even start). Its user
    (the gateway's relay, baresip) skips ports that are taken."""
    global _next_block
    if size > _BLOCK_LIMIT - 30000:
        raise RuntimeError(f"an RTP block of {size} ports does not fit in 30000-{_BLOCK_LIMIT}")
    if _next_block + size > _BLOCK_LIMIT:
        _next_block = 30000
    low = _next_block
    _next_block += size + size % 2
    return low, low + size - 1


def require_free(p: int, who: str) -> None:
    if not _free(p):
        raise AssertionError(
            f"127.0.0.1:{p} is in use but {who} must listen there "
            f"(fixed by dialplans/loopback.toml); stop whatever holds it "
            f"(ss -lunp 'sport = :{p}')"
        )
