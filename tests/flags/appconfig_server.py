"""A local Azure App Configuration data plane: the subset the SDK, the provider and our writer use.

No registry ships an emulator, so this is the one allowed fake. It behaves as the service does where our
code depends on it, and is strict where the SDK could otherwise get away with a bug:

* HMAC-SHA256 request signing verified as the service does (string-to-sign ``METHOD\\n<path+query>\\n
  <x-ms-date>;<host>;<x-ms-content-sha256>``, key = base64-decoded secret, body hash checked, date within
  15 minutes); a bad signature, credential or hash is 401.
* ``GET /kv`` with key and label filters (exact, ``prefix*``, comma lists, ``\\0`` for no label), sorted,
  paged by ``page_size`` with ``@nextLink`` in the body and a ``Link`` header (a 304 page still carries
  the Link so the SDK can check the next page), one ETag per page; ``If-None-Match`` on a page → 304.
* ``GET/PUT/DELETE /kv/{key}``: ETags, ``If-Match`` (etag or ``*``) → 412, ``If-None-Match`` (etag or
  ``*``) → 304 on GET, 412 on PUT; locked key-values → 409.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

KV_CONTENT_TYPE = "application/vnd.microsoft.appconfig.kvset+json; charset=utf-8"
ONE_KV_CONTENT_TYPE = "application/vnd.microsoft.appconfig.kv+json; charset=utf-8"
SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
MAX_CLOCK_SKEW = timedelta(minutes=15)


@dataclass
class KeyValue:
    key: str
    label: str | None
    value: str | None
    content_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    locked: bool = False
    etag: str = field(default_factory=lambda: uuid.uuid4().hex)
    last_modified: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"))

    def to_json(self) -> dict[str, Any]:
        return {
            "etag": self.etag, "key": self.key, "label": self.label, "content_type": self.content_type,
            "value": self.value, "tags": self.tags, "locked": self.locked, "last_modified": self.last_modified,
        }  # fmt: skip


@dataclass
class RequestRecord:
    method: str
    path: str
    status: int


class AppConfigServer:
    """Start with ``with AppConfigServer() as server:``; connect with ``server.connection_string``."""

    def __init__(self, *, credential_id: str = "cutover-test", secret: bytes | None = None, page_size: int = 100):
        self.credential_id = credential_id
        self.secret = secret or uuid.uuid4().bytes + uuid.uuid4().bytes
        self.page_size = page_size
        self.items: dict[tuple[str, str | None], KeyValue] = {}
        self.requests: list[RequestRecord] = []
        self.lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> AppConfigServer:
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="appconfig-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> AppConfigServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def connection_string_with(self, secret: bytes) -> str:
        return f"Endpoint={self.endpoint};Id={self.credential_id};Secret={base64.b64encode(secret).decode()}"

    @property
    def connection_string(self) -> str:
        return self.connection_string_with(self.secret)

    # --- direct access for tests ----------------------------------------------------------------------
    def put(self, key: str, value: str, *, label: str | None = None, content_type: str | None = None) -> KeyValue:
        with self.lock:
            item = KeyValue(key=key, label=label, value=value, content_type=content_type)
            self.items[(key, label)] = item
            return item

    def statuses(self, method: str, path_prefix: str) -> list[int]:
        """Status codes answered to ``method`` on paths (percent-decoded) starting with ``path_prefix``."""
        with self.lock:
            return [r.status for r in self.requests if r.method == method and unquote(r.path).startswith(path_prefix)]

    # --- semantics ------------------------------------------------------------------------------------
    def select(self, key_filter: str | None, label_filter: str | None) -> list[KeyValue]:
        with self.lock:
            found = [
                kv
                for kv in self.items.values()
                if _matches(kv.key, key_filter) and _label_matches(kv.label, label_filter)
            ]
        return sorted(found, key=lambda kv: (kv.key, kv.label or ""))


def _split_filter(text: str) -> list[str]:
    """Split a filter on unescaped commas (``\\,`` is a literal comma)."""
    parts, current, escaped = [], "", False
    for ch in text:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            current += ch
            escaped = True
        elif ch == ",":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _one_matches(value: str, pattern: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*") and not pattern.endswith("\\*"):
        return value.startswith(_unescape(pattern[:-1]))
    return value == _unescape(pattern)


def _unescape(text: str) -> str:
    return text.replace("\\*", "*").replace("\\,", ",").replace("\\\\", "\\")


def _matches(value: str, key_filter: str | None) -> bool:
    if key_filter is None or key_filter == "":
        return True
    return any(_one_matches(value, p) for p in _split_filter(key_filter))


def _label_matches(label: str | None, label_filter: str | None) -> bool:
    if label_filter is None:
        return True  # no label filter: any label (as the service answers without ?label=)
    for pattern in _split_filter(label_filter):
        if pattern == "\0":
            if label is None:
                return True
        elif label is not None and _one_matches(label, pattern):
            return True
    return False


def _page_etag(items: list[KeyValue]) -> str:
    return hashlib.sha256("|".join(f"{kv.key}\n{kv.label}\n{kv.etag}" for kv in items).encode()).hexdigest()


def _strip(etag: str) -> str:
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"')


def _etags(header: str | None) -> list[str]:
    return [_strip(part) for part in header.split(",")] if header else []


class _Handler(BaseHTTPRequestHandler):
    server_state: AppConfigServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # --- plumbing -------------------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None or status == 304 else json.dumps(payload).encode()
        # Record before answering: once the client has its response, the test may read the log at once.
        with self.server_state.lock:
            self.server_state.requests.append(RequestRecord(self.command, self.path, status))
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", (headers or {}).get("Content-Type", ONE_KV_CONTENT_TYPE))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _error(self, status: int, title: str, detail: str = "") -> None:
        self._send(
            status,
            {"type": "https://azconfig.io/errors/cutover-test", "title": title, "detail": detail, "status": status},
            {"Content-Type": "application/problem+json; charset=utf-8"},
        )

    def _authenticated(self, body: bytes) -> bool:
        """Verify the HMAC signature the way the service does; answer 401 and return False otherwise."""
        state = self.server_state
        auth = self.headers.get("Authorization", "")
        date = self.headers.get("x-ms-date", "")
        content_hash = self.headers.get("x-ms-content-sha256", "")
        if not auth.startswith("HMAC-SHA256 "):
            self._error(401, "Unauthorized", "HMAC-SHA256 authorization required")
            return False
        parts = dict(p.split("=", 1) for p in auth[len("HMAC-SHA256 ") :].split("&") if "=" in p)
        if parts.get("Credential") != state.credential_id:
            self._error(401, "Unauthorized", "Invalid Credential")
            return False
        if parts.get("SignedHeaders", "").lower() != SIGNED_HEADERS:
            self._error(401, "Unauthorized", "SignedHeaders must be " + SIGNED_HEADERS)
            return False
        if base64.b64encode(hashlib.sha256(body).digest()).decode() != content_hash:
            self._error(401, "Unauthorized", "x-ms-content-sha256 does not match the body")
            return False
        try:
            sent = datetime.strptime(date, "%b, %d %Y %H:%M:%S.%f GMT").replace(tzinfo=UTC)
        except ValueError:
            self._error(401, "Unauthorized", "x-ms-date missing or malformed")
            return False
        if abs(datetime.now(UTC) - sent) > MAX_CLOCK_SKEW:
            self._error(401, "Unauthorized", "x-ms-date too far from the server's clock")
            return False
        string_to_sign = f"{self.command}\n{self.path}\n{date};{self.headers.get('Host', '')};{content_hash}"
        expected = base64.b64encode(hmac.new(state.secret, string_to_sign.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, parts.get("Signature", "")):
            self._error(401, "Unauthorized", "Invalid Signature")
            return False
        return True

    def _route(self) -> tuple[str | None, dict[str, str]]:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        if split.path == "/kv":
            return "", query
        if split.path.startswith("/kv/"):
            return unquote(split.path[len("/kv/") :]), query
        return None, query

    # --- verbs ----------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        body = self._body()
        if not self._authenticated(body):
            return
        key, query = self._route()
        if key is None:
            self._error(404, "Not Found", self.path)
        elif key == "":
            self._list(query)
        else:
            self._get(key, query)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_PUT(self) -> None:
        body = self._body()
        if not self._authenticated(body):
            return
        key, query = self._route()
        if not key:
            self._error(405, "Method Not Allowed")
            return
        label = query.get("label") or None
        try:
            sent = json.loads(body or b"{}")
        except ValueError:
            self._error(400, "Bad Request", "body is not JSON")
            return
        state = self.server_state
        with state.lock:
            current = state.items.get((key, label))
            if not self._preconditions_hold(current, for_write=True):
                return
            if current is not None and current.locked:
                self._error(409, "Conflict", "the key-value is read-only")
                return
            item = KeyValue(
                key=key, label=label, value=sent.get("value"), content_type=sent.get("content_type"),
                tags=sent.get("tags") or {},
            )  # fmt: skip
            state.items[(key, label)] = item
            self._send(200, item.to_json(), {"ETag": f'"{item.etag}"', "Last-Modified": item.last_modified})

    def do_DELETE(self) -> None:
        body = self._body()
        if not self._authenticated(body):
            return
        key, query = self._route()
        if not key:
            self._error(405, "Method Not Allowed")
            return
        label = query.get("label") or None
        state = self.server_state
        with state.lock:
            current = state.items.get((key, label))
            if not self._preconditions_hold(current, for_write=True):
                return
            if current is None:
                self._send(204)
                return
            del state.items[(key, label)]
            self._send(200, current.to_json(), {"ETag": f'"{current.etag}"'})

    # --- operations -----------------------------------------------------------------------------------
    def _preconditions_hold(self, current: KeyValue | None, *, for_write: bool) -> bool:
        if_match = _etags(self.headers.get("If-Match"))
        if_none_match = _etags(self.headers.get("If-None-Match"))
        if if_match and (current is None or ("*" not in if_match and current.etag not in if_match)):
            self._error(412, "Precondition Failed", "If-Match did not match the current ETag")
            return False
        if if_none_match and current is not None and ("*" in if_none_match or current.etag in if_none_match):
            if for_write:
                self._error(412, "Precondition Failed", "If-None-Match matched the current ETag")
            else:
                self._send(304, headers={"ETag": f'"{current.etag}"'})
            return False
        return True

    def _get(self, key: str, query: dict[str, str]) -> None:
        label = query.get("label") or None
        state = self.server_state
        with state.lock:
            current = state.items.get((key, label))
            if not self._preconditions_hold(current, for_write=False):
                return
            if current is None:
                self._error(404, "Not Found", f"key {key!r} label {label!r}")
                return
            self._send(200, current.to_json(), {"ETag": f'"{current.etag}"', "Last-Modified": current.last_modified})

    def _list(self, query: dict[str, str]) -> None:
        state = self.server_state
        items = state.select(query.get("key"), query.get("label"))
        after = query.get("After") or query.get("after")
        start = 0
        if after:
            last = base64.urlsafe_b64decode(after.encode()).decode()
            start = next((i for i, kv in enumerate(items) if f"{kv.key}\n{kv.label or ''}" > last), len(items))
        page = items[start : start + state.page_size]
        headers = {"Content-Type": KV_CONTENT_TYPE, "ETag": f'"{_page_etag(page)}"'}
        next_link = None
        if start + state.page_size < len(items):
            token = base64.urlsafe_b64encode(f"{page[-1].key}\n{page[-1].label or ''}".encode()).decode()
            params = {k: v for k, v in query.items() if k not in ("After", "after")}
            next_link = "/kv?" + urlencode({**params, "After": token}, quote_via=quote)
            headers["Link"] = f'<{next_link}>; rel="next"'
        if _page_etag(page) in _etags(self.headers.get("If-None-Match")):
            self._send(304, headers=headers)
            return
        payload: dict[str, Any] = {"items": [kv.to_json() for kv in page]}
        if next_link:
            payload["@nextLink"] = next_link
        self._send(200, payload, headers)


def iter_pages(server: AppConfigServer) -> Iterator[list[str]]:
    """Keys by page, as the server would page a full listing (for assertions)."""
    items = server.select(None, None)
    for i in range(0, len(items), server.page_size):
        yield [kv.key for kv in items[i : i + server.page_size]]
