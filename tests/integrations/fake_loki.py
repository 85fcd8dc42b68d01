"""A local Loki that speaks `GET /loki/api/v1/query_range` with streams JSON, fed with real
lines: it understands a `{label="v"}` or `{label=~"re"}` selector and `|= "text"` and
`|~ "re"` line filters, which is all Lookout sends."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

Entry = tuple[dict[str, str], int, str]  # labels, nanoseconds, line
_MATCHER = re.compile(r'(\w+)\s*(=~|=)\s*"((?:[^"\\]|\\.)*)"')
_FILTER = re.compile(r'\|(=|~)\s*"((?:[^"\\]|\\.)*)"')


def _unquote(text: str) -> str:
    return str(json.loads(f'"{text}"'))


def select(entries: list[Entry], query: str, start: int, end: int, limit: int) -> list[Entry]:
    selector, _, rest = query.partition("}")
    matchers = _MATCHER.findall(selector)
    filters = _FILTER.findall(rest)
    chosen = []
    for labels, at, line in entries:
        if not start <= at <= end:
            continue
        if not all(
            (labels.get(k) == _unquote(v))
            if op == "="
            else re.fullmatch(_unquote(v), labels.get(k, ""))
            for k, op, v in matchers
        ):
            continue
        if not all(
            (_unquote(v) in line)
            if op == "="
            else re.search(_unquote(v).replace("(?i)", ""), line, re.I if "(?i)" in v else 0)
            for op, v in filters
        ):
            continue
        chosen.append((labels, at, line))
    chosen.sort(key=lambda e: -e[1])  # backward, newest first
    return chosen[:limit]


@contextmanager
def fake_loki(
    entries: list[Entry],
    *,
    delay: float = 0.0,
    asked: threading.Event | None = None,
) -> Iterator[str]:
    """Yields the fake's URL. `delay`: seconds it takes to answer (a slow Loki); `asked` is
    set when a query arrives."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path != "/loki/api/v1/query_range":
                self.send_error(404)
                return
            if asked is not None:
                asked.set()
            time.sleep(delay)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            found = select(
                entries,
                params["query"],
                int(params["start"]),
                int(params["end"]),
                int(params.get("limit", "100")),
            )
            streams: dict[str, tuple[dict[str, str], list[list[str]]]] = {}
            for labels, at, line in found:
                key = json.dumps(labels, sort_keys=True)
                streams.setdefault(key, (labels, []))[1].append([str(at), line])
            result = [{"stream": k, "values": v} for k, v in streams.values()]
            data = {"resultType": "streams", "result": result, "stats": {"summary": {}}}
            body = json.dumps({"status": "success", "data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
