"""A probe of the new version ([service.deploy.verify]): once production traffic is all on it,
``requests`` GETs of ``url`` spread over ``seconds``; every answer must be 2xx or 3xx. A service
with little traffic may never give its alarms enough data to fire: this looks at it directly.

The standard library only (urllib): no redirect is followed (a 3xx is an answer, and passes), the
certificate is verified, each request has a timeout. The spread goes through the context's
clock and sleep, so tests wait on their fake clock, never in real time.
"""

from __future__ import annotations

import http.client
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .context import Context

REQUEST_TIMEOUT = 10.0  # seconds per request
FIRST_LINE = 120  # characters of a failing answer's body shown


@dataclass
class Answer:
    number: int  # 1-based
    at: float  # seconds after the probe began
    status: int | None  # None: no HTTP answer (TLS, connection, timeout)
    error: str = ""
    first_line: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status <= 399

    def describe(self) -> str:
        what = f"HTTP {self.status}" if self.status is not None else self.error
        body = f": {self.first_line!r}" if self.first_line else ""
        return f"request {self.number} at {self.at:.0f}s answered {what}{body}"


@dataclass
class ProbeResult:
    url: str
    answers: list[Answer] = field(default_factory=list)
    skipped: str = ""  # why it did not run

    @property
    def failed(self) -> Answer | None:
        return next((a for a in self.answers if not a.ok), None)

    def summary(self) -> str:
        if self.skipped:
            return f"probe skipped: {self.skipped}"
        bad = self.failed
        if bad is None:
            codes = sorted({a.status for a in self.answers if a.status is not None})
            return f"probe of {self.url}: {len(self.answers)} requests, all answered ({', '.join(map(str, codes))})"
        return f"probe of {self.url} failed: {bad.describe()}"

    def as_dict(self) -> dict[str, Any]:
        bad = self.failed
        return {
            "url": self.url,
            "requests": len(self.answers),
            "skipped": self.skipped or None,
            "failed": None if bad is None else bad.describe(),
        }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx itself is the answer


def shown(url: str) -> str:
    """The URL as printed: without a query string, which may carry a token."""
    return url.split("?", 1)[0] + ("?..." if "?" in url else "")


def probe_url(ctx: Context) -> str:
    cfg = ctx.config.service.deploy.verify
    return cfg.url or f"https://{ctx.config.dns.hostname}{ctx.config.service.health_check_path}"


def _first_line(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:FIRST_LINE] if text else ""


def _request(opener: urllib.request.OpenerDirector, url: str) -> tuple[int | None, str, str]:
    req = urllib.request.Request(url, headers={"User-Agent": "ecsup-verify"}, method="GET")
    try:
        with opener.open(req, timeout=REQUEST_TIMEOUT) as resp:
            return int(resp.status), "", ""
    except urllib.error.HTTPError as exc:  # 4xx/5xx, and 3xx (not followed)
        body = exc.read(2048) if exc.fp is not None else b""
        return int(exc.code), "", _first_line(body)
    except (urllib.error.URLError, ssl.SSLError, TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
        # no HTTP answer: TLS, connection, timeout, or something that is not HTTP (BadStatusLine)
        reason = getattr(exc, "reason", exc)
        return None, f"no answer ({type(reason).__name__}: {reason})", ""


def _emulated(ctx: Context) -> str | None:
    """Where the stack is emulated, its hostname leads nowhere: the sandbox (an endpoint that is
    not AWS) or AWS emulated in this process (the tests)."""
    if ctx.endpoint:
        return f"an emulated endpoint ({ctx.endpoint})"
    emulation = sys.modules.get("ecsup.emulation")
    if emulation is not None and getattr(emulation, "ACTIVE", None) is not None:
        return "AWS emulated in this process"
    return None


def probe(ctx: Context) -> ProbeResult:
    """Run the probe (or say why it is skipped); stops at the first failing answer."""
    cfg = ctx.config.service.deploy.verify
    url = probe_url(ctx)
    result = ProbeResult(shown(url))
    if not cfg.enabled:
        result.skipped = "[service.deploy.verify] enabled = false"
        return result
    emulated = _emulated(ctx)
    if emulated and not cfg.url:
        result.skipped = (
            f"{shown(url)} cannot be reached with {emulated}; set service.deploy.verify.url to probe another address"
        )
        return result
    opener = urllib.request.build_opener(
        _NoRedirect(), urllib.request.HTTPSHandler(context=ssl.create_default_context())
    )
    interval = cfg.seconds / cfg.requests if cfg.requests > 1 else 0.0
    start = ctx.clock()
    for i in range(cfg.requests):
        if i:
            ctx.sleep(interval)
        status, error, first = _request(opener, url)
        answer = Answer(i + 1, ctx.clock() - start, status, error, first)
        result.answers.append(answer)
        if not answer.ok:
            break
    return result
