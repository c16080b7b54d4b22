"""How create's steps apply at once and still do the same thing every time: rounds.

Each step's actions run in a thread of their own (a *unit*: engine.apply starts it once the steps
it reads from are applied). Reads go straight to AWS. A unit's mutating calls and its waits
(ctx.sleep) go through this scheduler, which hands them out in *rounds*:

- a round starts when no unit is running -- each is waiting to make a mutating call, asleep, or
  done. Then the units whose wait is over wake up, and every unit waiting to make a mutating call
  is let through (at most ``PER_SERVICE`` calls to one AWS service per round: AWS throttles each
  service's API on its own, with token buckets per account -- Route53 refills ten requests a
  second, bursts of 50, and answers PriorRequestNotComplete to a change of a zone still applying
  the previous one: Route 53 Developer Guide, "Throttling for Amazon Route 53 API requests";
  botocore's standard retry mode retries both), one after the other in pipeline order: the next
  unit's call starts as soon as the previous one's is sent, so the calls of a round are under
  way together;
- when no unit runs and none waits for a call, time moves on to the first unit's wake-up (the
  clock's own sleep: seconds on the real clock, nothing on the tests' fake one).

So the order of the mutating calls, and what each wait sees of the clock, are the same from run
to run for the same plan and the same answers -- a crash before the n-th mutating call of a
create is the same call every time (tests/test_crash.py) -- while the calls of independent steps
are under way at once and their waits overlap. On the real clock a unit waits at most one round
(a few tens of milliseconds: a read or a call's answer) beyond what it would alone.

``abort()`` (a crash, a bug, Ctrl-C) makes every unit stop at its next mutating call or wait.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

PER_SERVICE = 4  # mutating calls to one AWS service let through in one round
EPSILON = 1e-6
# In a unit's thread: its Rounds and Token. Found by the thread, not by the Context that made the
# client (clients may be shared: tests/conftest.py's crash tests).
CURRENT = threading.local()


def gate(service: str) -> None:
    """Before a mutating call (context.py's first before-call handler)."""
    rounds: Rounds | None = getattr(CURRENT, "rounds", None)
    if rounds is not None:
        rounds.call(service)


def sent() -> None:
    """A call was sent, or answered without being sent (context.py's handlers)."""
    rounds: Rounds | None = getattr(CURRENT, "rounds", None)
    if rounds is not None:
        rounds.issued()


class Aborted(BaseException):
    """Raised in a unit at its next mutating call or wait once the apply is aborted (a
    BaseException: no step's ``except Exception`` takes it for an AWS error)."""


@dataclass(eq=False)
class Token:
    """One unit's place in the rounds."""

    priority: int  # pipeline order: lower goes first within a round
    service: str = ""  # the service of the call it waits to make
    wake: float = 0.0  # when its wait is over
    granted: bool = False
    asleep: bool = False
    owner: object = None  # what the engine runs in it


@dataclass(eq=False)
class Rounds:
    clock: Callable[[], float]
    sleep: Callable[[float], None]  # the clock's own: moves time on when every unit waits
    cond: threading.Condition = field(default_factory=threading.Condition)
    running: int = 0  # units not at a mutating call or a wait (reads and answers included)
    calls: list[Token] = field(default_factory=list)  # waiting to make a mutating call
    sleepers: list[Token] = field(default_factory=list)
    turns: list[Token] = field(default_factory=list)  # let through this round, waiting for their turn
    issuer: Token | None = None  # the unit whose call is being sent
    aborted: bool = False
    rounds: int = 0  # rounds that let a mutating call through
    on_call: Callable[[Token], None] | None = None  # under cond, when a unit is about to make a call
    # under cond, when no unit runs, before a round starts or time moves on: it may start units
    # (engine.destroy starts its deletions there, so which start does not depend on which of the
    # units that ended since the last round ended first)
    on_idle: Callable[[], None] | None = None

    # -- units ----------------------------------------------------------------------------------
    def started(self) -> None:
        """A unit is about to start (called under ``cond`` by whoever starts it: it counts as
        running from now on, so that no round starts before its thread does)."""
        self.running += 1

    def enter(self, token: Token) -> None:
        """In the unit's thread, first."""
        CURRENT.rounds, CURRENT.token = self, token

    def finished(self, then: Callable[[], None] | None = None) -> None:
        """In the unit's thread, last: ``then`` runs under ``cond`` (engine.apply starts the units
        that waited for this one there, before the next round can start)."""
        token: Token | None = getattr(CURRENT, "token", None)
        with self.cond:
            if token is not None and self.issuer is token:
                self._next_turn()
            self.running -= 1
            if then is not None:
                then()
            self._decide()
            self.cond.notify_all()
        CURRENT.rounds = CURRENT.token = None

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.cond.notify_all()

    # -- what units call ------------------------------------------------------------------------
    def call(self, service: str) -> None:
        """Before a unit's mutating call (context.py's before-call handler): wait for its round
        and its turn in it."""
        token: Token | None = getattr(CURRENT, "token", None)
        if token is None:
            return  # not a unit (the lock's calls, reads started by a step's own threads)
        with self.cond:
            if self.aborted:
                raise Aborted()
            token.service, token.granted = service, False
            self.calls.append(token)
            if self.on_call is not None:
                self.on_call(token)  # may start units, which then join this round
            self.running -= 1
            self._decide()
            while not token.granted and not self.aborted:
                self.cond.wait()
            if not token.granted:
                raise Aborted()

    def issued(self) -> None:
        """The unit's call has been sent (or answered without being sent): the next one's turn."""
        token: Token | None = getattr(CURRENT, "token", None)
        if token is None or self.issuer is not token:
            return
        with self.cond:
            if self.issuer is token:
                self._next_turn()
                self._decide()

    def wait(self, seconds: float) -> None:
        """A unit's ctx.sleep."""
        token: Token | None = getattr(CURRENT, "token", None)
        if token is None:
            self.sleep(seconds)
            return
        with self.cond:
            if self.aborted:
                raise Aborted()
            token.wake, token.asleep = self.clock() + max(0.0, seconds), True
            self.sleepers.append(token)
            self.running -= 1
            self._decide()
            while token.asleep and not self.aborted:
                self.cond.wait()
            if token.asleep:
                raise Aborted()

    # -- the rounds (under cond) -----------------------------------------------------------------
    def _next_turn(self) -> None:
        self.issuer = None
        if self.turns:
            nxt = self.turns.pop(0)
            nxt.granted, self.issuer = True, nxt
            self.running += 1
            self.cond.notify_all()

    def _decide(self) -> None:
        while True:
            if self.aborted:
                self.cond.notify_all()
                return
            if self.running or self.issuer is not None or self.turns:
                return
            if self.on_idle is not None:
                self.on_idle()
                if self.running:  # it started units: they run up to their first call or wait first
                    return
            now = self.clock()
            due = sorted((t for t in self.sleepers if t.wake <= now + EPSILON), key=lambda t: t.priority)
            for token in due:
                self.sleepers.remove(token)
                token.asleep = False
                self.running += 1
            if self.calls:
                chosen: list[Token] = []
                per: Counter[str] = Counter()
                for token in sorted(self.calls, key=lambda t: t.priority):
                    if per[token.service] < PER_SERVICE:
                        per[token.service] += 1
                        chosen.append(token)
                for token in chosen:
                    self.calls.remove(token)
                self.rounds += 1
                self.turns = chosen
                self._next_turn()
                self.cond.notify_all()
                return
            if due:
                self.cond.notify_all()
                return
            if not self.sleepers:
                return
            # every unit waits: time moves on to the first wake-up (on the real clock this thread
            # sleeps for everyone; no unit can act meanwhile)
            left = min(t.wake for t in self.sleepers) - now
            self.cond.release()
            try:
                self.sleep(max(0.0, left))
            finally:
                self.cond.acquire()
