"""The only module that polls or sleeps: bounded, visible waits and retries.

Polls start short and grow with the time already waited, to a cap (2 s -> 10 s by
default; the interval is a tenth of the elapsed time): completion is noticed within
seconds of happening (botocore's waiters poll every 15-60 s), while a wait of many
minutes makes few calls. Every wait has an upper bound and reports progress to the UI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, retry_if_result, wait_exponential

from .context import Context
from .errors import EcsupError, WaitTimeout

T = TypeVar("T")

POLL_RATIO = 0.1  # poll interval as a share of the time already waited (between first and cap)


class _Bound:
    """A wait's upper bound on the context's clock. It gives up only on an attempt made at or
    after the bound -- never on one made before it, however long that attempt's call took (a
    laptop asleep mid-wait, or in tests the fake clock moved on by other waits running at
    once) -- and no sleep goes past the bound: the last attempt is made at the bound."""

    def __init__(self, ctx: Context, bound: float) -> None:
        self.ctx, self.start, self.bound = ctx, ctx.clock(), bound
        self.attempted = self.start

    def elapsed(self) -> float:
        return self.ctx.clock() - self.start

    def attempt(self) -> None:
        self.attempted = self.ctx.clock()

    # Clock readings are floats: start + bound may never be reached exactly (28.1051 + 60 - 28.1051
    # is 59.99999999999999, and a sleep of the 7e-15 left does not move 88.1051), so "at the
    # bound" means within a microsecond of it -- else a wait retries for ever without sleeping.
    EPSILON = 1e-6

    def stop(self, _state: RetryCallState) -> bool:
        return self.attempted - self.start >= self.bound - self.EPSILON

    def sleep(self, interval: float) -> float:
        left = self.bound - self.elapsed()
        return max(0.0, min(interval, left)) if left > self.EPSILON else 0.0


def poll(
    ctx: Context,
    what: str,
    check: Callable[[], tuple[bool, str]],
    bound: float,
    on_timeout: Callable[[str], EcsupError] | None = None,
    first: float = 2.0,
    cap: float = 10.0,
    report: bool = True,
) -> str:
    """Call ``check`` until it returns (True, state); return the final state.

    ``check`` returns (done, state) where state is what AWS reports, shown while
    waiting. It may raise an EcsupError to fail early (e.g. certificate FAILED).
    """
    limit = _Bound(ctx, bound)
    last = {"state": ""}

    def attempt() -> bool:
        limit.attempt()
        done, state = check()
        last["state"] = state
        if not done and report:
            ctx.ui.wait_progress(what, state, limit.elapsed(), bound)
        return done

    retrying = Retrying(
        retry=retry_if_result(lambda done: not done),
        wait=lambda _state: limit.sleep(max(first, min(cap, limit.elapsed() * POLL_RATIO))),
        stop=limit.stop,
        sleep=ctx.sleep,
        retry_error_callback=lambda _state: False,
        reraise=True,
    )
    if not retrying(attempt):
        if on_timeout is not None:
            raise on_timeout(last["state"])
        raise WaitTimeout(
            f"timed out after {int(bound)} s waiting for {what} (last state: {last['state']})",
            hint="re-running the same command resumes where it stopped",
        )
    if report:
        ctx.ui.wait_done(what, last["state"], limit.elapsed())
    return last["state"]


def retry(
    ctx: Context,
    what: str,
    fn: Callable[[], T],
    retryable: Callable[[BaseException], bool],
    bound: float,
    first: float = 2.0,
    cap: float = 15.0,
) -> T:
    """Call ``fn``, retrying for at most ``bound`` seconds while it raises a retryable error.

    For the errors AWS returns while something settles (eventual consistency,
    dependencies being released) -- never for errors botocore already retries.
    """
    limit = _Bound(ctx, bound)
    backoff = wait_exponential(multiplier=first / 2, min=first, max=cap)

    def attempt() -> T:
        limit.attempt()
        return fn()

    def before_sleep(state: RetryCallState) -> None:
        from .errors import error_code

        exc = state.outcome.exception() if state.outcome else None
        code = (error_code(exc) if exc else None) or type(exc).__name__
        ctx.ui.wait_progress(what, f"AWS says {code}, retrying", limit.elapsed(), bound)

    retrying = Retrying(
        retry=retry_if_exception(retryable),
        wait=lambda state: limit.sleep(backoff(state)),
        stop=limit.stop,
        sleep=ctx.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except Exception as exc:
        if not retryable(exc):
            raise
        from .errors import error_code

        said = getattr(exc, "response", {}).get("Error", {}).get("Message", "")
        raise WaitTimeout(
            f"gave up after {int(bound)} s waiting for {what}: AWS still says "
            f"{error_code(exc) or type(exc).__name__}" + (f" ({said})" if said else ""),
            hint="re-running the same command resumes where it stopped",
        ) from exc


def settle(ctx: Context, what: str, until: float) -> None:
    """Let a delay pass that AWS offers nothing to poll for (e.g. IAM applying a policy
    change), until ``until`` on the context's clock: visibly, and no longer than that."""
    start = ctx.clock()
    if until <= start:
        return
    while (left := until - ctx.clock()) > 0:
        ctx.ui.wait_progress(what, f"{left:.0f}s left", ctx.clock() - start, until - start)
        ctx.sleep(min(left, 1.0))
    ctx.ui.wait_done(what, "done", ctx.clock() - start)
