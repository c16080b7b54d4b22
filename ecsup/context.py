"""Everything a step needs: config, names, lazily-created AWS clients, the UI hook,
an injectable clock, wait bounds, and the facts steps share (ids and ARNs).
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .config import Config
from .facts import Facts
from .names import Names

if TYPE_CHECKING:
    import boto3

READ_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup")
K = TypeVar("K")
T = TypeVar("T")

# Called with each boto3 Session right after it is made (before any client):
# tests register botocore event handlers here to count calls or inject errors.
SESSION_HOOKS: list[Callable[[Any], None]] = []


def is_mutating(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


@functools.cache
def _shared_loader() -> Any:
    import os

    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import Loader, instance_cache

    class KnownServiceLoader(Loader):
        """botocore's loader, without the listing of every service it knows before it loads one
        service's model: ~420 directories read and their versions looked at, for each kind of
        model (service, endpoint rules, paginators) -- tens of ms of a fresh process, more when
        clients are made at once (its cache fills only once a listing is done). The version of
        the service asked for is looked up in its own directory instead: the same latest version,
        the same model, its extras applied. An unknown service gets botocore's own error."""

        @instance_cache
        def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
            try:
                version = api_version or self.determine_latest_version(service_name, type_name)
                model = self.load_data(os.path.join(service_name, version, type_name))
                self._extras_processor.process(model, self._find_extras(service_name, type_name, version))
                return model
            except (DataNotFoundError, AttributeError):  # not known here, or another botocore
                return super().load_service_model(service_name, type_name, api_version)

    return KnownServiceLoader()


@dataclass
class Clock:
    """The process's clock and sleep, used by every Context that is not given its own.
    The test suite swaps in a fake clock (waits take no time); the emulated AWS of the
    sandbox and the tests (ecsup/emulation/) reads the same clock, so AWS's delays pass as
    ecsup waits them out."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[], float] = time.time  # for times written into AWS (another run reads them)


CLOCK = Clock()


@dataclass(frozen=True)
class Timeouts:
    """Upper bounds (seconds) of every wait."""

    certificate: float = 1800.0
    validation_record: float = 300.0
    service: float = 1200.0
    load_balancer: float = 600.0
    release: float = 900.0  # destroy: dependencies being released (ENIs, listeners...)
    propagation: float = 120.0  # eventual consistency: IAM, ELB's view of a certificate, Route53's of an ALB
    # After ecsup changed the permissions of a role ECS acts with: IAM takes seconds to apply them,
    # and tasks started meanwhile fail to read their secrets (enough failures trip the circuit
    # breaker), a traffic shift fails. ECSUP_IAM_SETTLE overrides it (the sandbox sets it to its
    # own IAM's delay: its clock is compressed, AWS's 5 s would weigh as minutes there).
    iam_settle: float = field(default_factory=lambda: iam_settle_from_environment())


IAM_SETTLE = 5.0


def iam_settle_from_environment() -> float:
    return seconds_from_environment("ECSUP_IAM_SETTLE", IAM_SETTLE)


# A one-off task's last log lines: how long no line must come after its container stopped before
# ecsup stops reading (run.py). ECSUP_LOG_QUIET overrides it (the sandbox sets it to its own
# delivery delay scaled the same way, as it does ECSUP_IAM_SETTLE).
LOG_QUIET = 5.0


def log_quiet_from_environment() -> float:
    return seconds_from_environment("ECSUP_LOG_QUIET", LOG_QUIET)


def seconds_from_environment(variable: str, default: float) -> float:
    """A number of seconds (0-300) from ``variable``, else ``default``; a bad value is a
    configuration error naming the variable (exit 2, before anything is called)."""
    import os

    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 300:
        from .errors import ConfigError

        raise ConfigError(
            [(variable, f"{value!r} must be a number of seconds from 0 to 300")],
            hint=f"unset it to use the default ({default:g} s)",
        )
    return seconds


STEP = threading.local()  # which pipeline step the current thread is planning (engine.observe)
# How many AWS calls, one after another, led to where the current thread is (a Lamport clock over
# calls): each call is one deeper than the thread's previous one; a step starts as deep as the
# deepest of the steps it waits for, and threads started for concurrent reads start where their
# parent is and hand the deepest back (engine.py, Context.in_parallel). The deepest call of a run
# is the length of its critical path in calls (Call.depth; tests/test_engine.py guards it).
CHAIN = threading.local()


def chain_depth() -> int:
    return int(getattr(CHAIN, "depth", 0))


def set_chain_depth(depth: int) -> None:
    CHAIN.depth = depth


class PerStep(list[str]):
    """Notes and conflicts, appended by steps that are planned concurrently; ``in_order()``
    puts them back in the order a step-by-step plan gives (pipeline order, then as appended),
    so output stays the same from run to run."""

    def __init__(self) -> None:
        super().__init__()
        self._origin: list[tuple[int, int]] = []
        self._lock = threading.Lock()

    def append(self, item: str) -> None:
        with self._lock:
            self._origin.append((getattr(STEP, "index", 1 << 30), len(self._origin)))
            super().append(item)

    def clear(self) -> None:
        with self._lock:
            self._origin.clear()
            super().clear()

    def in_order(self) -> None:
        with self._lock:
            pairs = sorted(zip(self._origin, list(self), strict=True), key=lambda pair: pair[0])
            self._origin = [origin for origin, _ in pairs]
            self[:] = [item for _, item in pairs]


class UI(Protocol):
    """What library code may ask of the user interface. Only render.py implements it."""

    def wait_progress(self, what: str, state: str, elapsed: float, bound: float) -> None: ...

    def wait_done(self, what: str, state: str, elapsed: float) -> None: ...

    def event(self, text: str) -> None: ...

    def ask_secret(self, variable: str, parameter: str) -> str | None: ...

    def deploy_progress(self, state: Any) -> None: ...  # a deploy.DeployState

    def task_event(self, text: str) -> None: ...  # a one-off task's progress (run.py)

    def task_log(self, task_id: str, message: str) -> None: ...  # a one-off task's log line

    def release_started(self, message: str) -> None: ...  # "deploying IMAGE as web-dev:2 (...)", before the watch

    def release_note(self, text: str) -> None: ...  # one line during a release (the probe's summary)

    def provider_records(self, heading: str, lines: list[str]) -> None: ...  # dns.external: records to create
    def ask_choice(self, question: str, choices: tuple[str, ...], default: str) -> str | None: ...  # None: no terminal
    def build_progress(self, stage: str, line: str) -> None: ...  # [service] build: a line of docker's (build.py)


class SilentUI:
    def wait_progress(self, what: str, state: str, elapsed: float, bound: float) -> None:
        pass

    def wait_done(self, what: str, state: str, elapsed: float) -> None:
        pass

    def event(self, text: str) -> None:
        pass

    def ask_secret(self, variable: str, parameter: str) -> str | None:
        return None

    def deploy_progress(self, state: Any) -> None:
        pass

    def task_event(self, text: str) -> None:
        pass

    def task_log(self, task_id: str, message: str) -> None:
        pass

    def release_started(self, message: str) -> None:
        pass

    def provider_records(self, heading: str, lines: list[str]) -> None:
        pass

    def release_note(self, text: str) -> None:
        pass

    def ask_choice(self, question: str, choices: tuple[str, ...], default: str) -> str | None:
        return None

    def build_progress(self, stage: str, line: str) -> None:
        pass


@dataclass
class Call:
    service: str
    operation: str
    region: str
    depth: int = 0  # its place on the chain of calls that led to it (CHAIN)

    @property
    def mutating(self) -> bool:
        return is_mutating(self.operation)


class Context:
    def __init__(
        self,
        config: Config,
        *,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        credentials: dict[str, str] | None = None,
        ui: UI | None = None,
        timeouts: Timeouts | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        secret_source: Callable[[str], str | None] | None = None,
    ) -> None:
        self.config = config
        self.names: Names = config.names
        self.profile = profile
        self._region = config.region or region or None
        self.endpoint_url = endpoint_url
        self.credentials = credentials
        self.ui: UI = ui or SilentUI()
        self.timeouts = timeouts or Timeouts()
        self.sleep = sleep or CLOCK.sleep
        self.clock = clock or CLOCK.now
        self.wall = CLOCK.wall
        self.secret_source = secret_source
        self.run_id = uuid.uuid4().hex
        self.calls: list[Call] = []
        self.facts = Facts()
        self.secret_values: set[str] = set()
        self.conflicts = PerStep()
        self._secret_cache: dict[str, str | None] = {}
        self.notes = PerStep()
        self.mode = "apply"  # apply | plan | status | destroy
        self.lock_taken_over = False
        self.skip_before = False  # deploy/create --skip-before: no [service.deploy] before task
        self.wait_for_alarms = 0.0  # deploy/create --wait-for-alarms SECONDS (alarm_guard.py)
        self.ignore_alarms = False  # deploy/create --ignore-alarms (alarm_guard.py)
        self._session: boto3.Session | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._client_lock = threading.Lock()  # a boto3 Session is not thread-safe; its clients are
        self._making: dict[tuple[str, str], threading.Lock] = {}  # a client being made (client())
        self._account_lock = threading.Lock()
        self._account: str | None = None

    # -- AWS ------------------------------------------------------------------
    @property
    def session(self) -> boto3.Session:
        if self._session is None:
            import boto3
            import botocore.session

            core = botocore.session.get_session()
            # Service models are big JSON files: parse them once per process, not once per session.
            core.register_component("data_loader", _shared_loader())
            kwargs: dict[str, Any] = {"region_name": self._region, "botocore_session": core}
            if self.credentials:
                kwargs.update(self.credentials)
            elif self.profile:
                kwargs["profile_name"] = self.profile
            self._session = boto3.Session(**kwargs)
            for hook in SESSION_HOOKS:
                hook(self._session)
        return self._session

    @property
    def region(self) -> str:
        from .errors import AwsError

        region = self._region or self.session.region_name
        if not region:
            raise AwsError(
                "no AWS region configured",
                "NoRegion",
                "set `region` in ecsup.toml, pass --region, or export AWS_REGION",
            )
        return region

    def client(self, service: str, region: str | None = None) -> Any:
        """The client of ``service`` in ``region`` (default: the stack's), made once. The session and
        the first client (which sets up what every client shares: credentials, endpoint data) are
        made under one lock; later clients each under their own, so that a step whose client is
        quick to make (most models are small) sends its call while another's is still being made
        (EC2's model alone takes ~70 ms to parse): a fresh process makes ~10 of them."""
        with self._client_lock:  # the session too is made under the lock
            region = region or self.region
            key = (service, region)
            found = self._clients.get(key)
            if found is not None:
                return found
            if not self._clients:
                return self._make_client(service, region)
            making = self._making.setdefault(key, threading.Lock())
        with making:
            return self._clients.get(key) or self._make_client(service, region)

    def _make_client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            from botocore.config import Config as BotoConfig

            from . import __version__, rounds

            cfg = BotoConfig(
                retries={"mode": "standard", "max_attempts": 8},
                user_agent_extra=f"ecsup/{__version__}",
                connect_timeout=10,
                read_timeout=60,
                # an endpoint (the sandbox, a local AWS) serves buckets by path, not by host name
                s3={"addressing_style": "path"} if self.endpoint and service == "s3" else None,
            )
            session: Any = self.session
            client = session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=cfg)

            def record(model: Any, **_: Any) -> None:
                depth = chain_depth() + 1
                set_chain_depth(depth)
                self.calls.append(Call(service, model.name, region, depth))

            def gate(model: Any, **_: Any) -> None:  # first: before any other handler sees the call
                if is_mutating(model.name):
                    rounds.gate(service)

            def issued(**_: Any) -> None:  # the call is made (or answered without being sent)
                rounds.sent()

            client.meta.events.register_first("before-call", gate)
            client.meta.events.register("before-call", record)
            client.meta.events.register_last("before-call", issued)
            client.meta.events.register("after-call", issued)
            client.meta.events.register("after-call-error", issued)
            if self.endpoint:
                client.meta.events.register_first("needs-retry", self._endpoint_answers)
            self._clients[key] = client
        return self._clients[key]

    def _endpoint_answers(self, caught_exception: BaseException | None = None, **_: Any) -> None:
        """An endpoint given by --endpoint-url / AWS_ENDPOINT_URL (the sandbox, a local AWS) that
        refuses the connection is not there: say so at the first call, before botocore's retries
        spend seconds on it (they are for AWS's own endpoints' passing failures). Raised from
        botocore's needs-retry event, which lets a handler's exception through."""
        from botocore.exceptions import EndpointConnectionError

        from .errors import AwsError

        if isinstance(caught_exception, EndpointConnectionError):
            flag = "--endpoint-url" if self.endpoint_url else "AWS_ENDPOINT_URL"
            raise AwsError(
                f"the endpoint {self.endpoint} does not answer (is the sandbox running? "
                f"{'drop --endpoint-url' if self.endpoint_url else 'unset AWS_ENDPOINT_URL'} to use AWS)",
                "EndpointConnectionError",
                hint=f"start the sandbox again (`ecsup sandbox`: it starts empty, on a new port unless --port), "
                f"then point {flag} at it",
            ) from caught_exception

    def in_parallel(self, tasks: Mapping[K, Callable[[], T]], workers: int = 8) -> dict[K, tuple[T | None, Any]]:
        """Run independent AWS reads concurrently (boto3 clients are thread-safe). Returns, in
        the order given, each task's (result, None) or (None, the EcsupError it raised); any
        other exception is a bug and propagates."""
        from concurrent.futures import ThreadPoolExecutor

        from .errors import EcsupError

        if not tasks:
            return {}
        step = getattr(STEP, "index", 1 << 30)  # notes made in the tasks belong to the caller's step
        depth = chain_depth()
        deepest = [depth]

        def run(fn: Callable[[], T]) -> T:
            STEP.index = step
            set_chain_depth(depth)
            try:
                return fn()
            finally:
                deepest.append(chain_depth())

        with ThreadPoolExecutor(max_workers=min(workers, len(tasks)), thread_name_prefix="ecsup") as pool:
            futures = {key: pool.submit(run, fn) for key, fn in tasks.items()}
        set_chain_depth(max(deepest))
        out: dict[K, tuple[T | None, Any]] = {}
        for key, future in futures.items():
            try:
                out[key] = (future.result(), None)
            except EcsupError as exc:
                out[key] = (None, exc)
        return out

    @property
    def account_id(self) -> str:
        with self._account_lock:  # steps planned concurrently ask once, not each
            if self._account is None:
                from .errors import doing

                with doing("read the account id (sts:GetCallerIdentity)"):
                    self._account = str(self.client("sts").get_caller_identity()["Account"])
            return self._account

    def learn_account(self, arn: str) -> None:
        """Take the account id from the ARN of a resource of this account (saves an
        sts:GetCallerIdentity). Not from subnets or VPCs: those can be shared from another account."""
        parts = arn.split(":")
        if self._account is None and len(parts) > 4 and parts[4].isdigit() and len(parts[4]) == 12:
            self._account = parts[4]

    @property
    def endpoint(self) -> str | None:
        """The endpoint every AWS call goes to when it is not AWS's own (--endpoint-url, else
        AWS_ENDPOINT_URL, which boto3 honours by itself), or None."""
        import os

        return self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None

    def whereabouts(self) -> str:
        """Where the calls go, for a command's first line: " at <endpoint>" when it is not AWS,
        else " in account <id>" (one sts:GetCallerIdentity, which later steps then reuse)."""
        if self.endpoint:
            return f" at {self.endpoint}"
        return f" in account {self.account_id}"

    @property
    def partition(self) -> str:
        region = self.region
        if region.startswith("cn-"):
            return "aws-cn"
        if region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    def mutating_calls(self) -> list[Call]:
        return [c for c in self.calls if c.mutating]

    # -- secrets --------------------------------------------------------------
    def secret_value(self, variable: str, parameter: str) -> str | None:
        """A secret's value from ECSUP_SECRET_<VARIABLE>, else a hidden prompt when possible."""
        import os

        if variable in self._secret_cache:  # a re-plan must not prompt twice
            return self._secret_cache[variable]
        value = self.secret_source(variable) if self.secret_source else os.environ.get(f"ECSUP_SECRET_{variable}")
        if value is None:
            value = self.ui.ask_secret(variable, parameter)
        if value:
            self.secret_values.add(value)
        self._secret_cache[variable] = value or None
        return value or None

    def secret_source_of(self, variable: str) -> str | None:
        """Where `create` would take a missing secret's value from, without asking for it (for a
        plan): "ECSUP_SECRET_<VARIABLE>", "a prompt" on a terminal, or None (create would stop)."""
        import os

        given = self.secret_source(variable) if self.secret_source else os.environ.get(f"ECSUP_SECRET_{variable}")
        if given:
            return f"ECSUP_SECRET_{variable}"
        return "a prompt" if getattr(self.ui, "interactive", False) else None

    def reset_observations(self) -> None:
        """Forget what a plan observed (to plan again, e.g. once the lock is held)."""
        self.facts.clear()
        self.conflicts.clear()
        self.notes.clear()

    def redact(self, text: str) -> str:
        """Defence in depth: no secret value is ever printed on purpose, but an AWS message
        could echo one. (Values shorter than 4 characters would mangle every line.)"""
        for value in sorted((v for v in self.secret_values if len(v) >= 4), key=len, reverse=True):
            text = text.replace(value, "********")
        return text
