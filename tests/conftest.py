"""Shared fixtures: every test runs against moto with dummy credentials and can
count (or fail) AWS calls through botocore's before-call event."""

from __future__ import annotations

import functools
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

# Nothing in the test run may reach real AWS or the instance metadata service.
for _var in (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "ECSUP_IAM_SETTLE",
    "ECSUP_LOG_QUIET",
):
    os.environ.pop(_var, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="eu-west-1",
    AWS_EC2_METADATA_DISABLED="true",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    MOTO_IAM_LOAD_MANAGED_POLICIES="true",
    MOTO_ECS_SERVICE_RUNNING="1",
    MOTO_EC2_LOAD_DEFAULT_AMIS="false",  # ecsup uses no AMI; loading them costs ~1 s a test
)

from moto import mock_aws, settings  # noqa: E402

from ecsup import context as context_module  # noqa: E402


def _only_the_managed_policies_ecsup_uses() -> None:
    """moto parses all ~1,000 AWS managed policies for each of its IAM backends (about 2 s
    a test); keep the ones ecsup attaches, so that attaching them still works as on AWS."""
    import json

    import moto.iam.models as iam_models

    every = json.loads(iam_models.aws_managed_policies_data)
    iam_models.aws_managed_policies_data = json.dumps(
        {
            k: v
            for k, v in every.items()
            if k in ("AmazonECSTaskExecutionRolePolicy", "AmazonECSInfrastructureRolePolicyForLoadBalancers")
        }
    )


_only_the_managed_policies_ecsup_uses()


def _one_client_class_per_service() -> None:
    """Every Context makes its own boto3 session and clients (as a real run does, once); the
    suite makes thousands. botocore builds a client's class anew each time, one method (with
    its docstring's operation model) per API operation: ~10 ms for EC2's ~700. The class
    depends only on the service's model, the same for the whole run: build it once."""
    from botocore.client import ClientCreator

    build = ClientCreator._create_client_class
    classes: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def cached(self: Any, service_name: str, service_model: Any) -> Any:
        key = (service_name, service_model.api_version)
        with lock:
            if key not in classes:
                classes[key] = build(self, service_name, service_model)
            return classes[key]

    ClientCreator._create_client_class = cached  # type: ignore[method-assign]


def _one_certificate_key() -> None:
    """moto's ACM makes a fresh 2048-bit RSA key for each certificate requested (~0.15 s of
    CPU); the tests never look at the key: one key for the run."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    generate = rsa.generate_private_key

    @functools.cache
    def one_key(public_exponent: int, key_size: int, backend: Any = None) -> Any:
        return generate(public_exponent=public_exponent, key_size=key_size)

    rsa.generate_private_key = one_key  # type: ignore[assignment]


_one_client_class_per_service()
_one_certificate_key()
from ecsup.cli import app  # noqa: E402
from ecsup.config import Config, parse  # noqa: E402
from ecsup.context import Context, Timeouts, is_mutating  # noqa: E402

ZONE = "test.example.com"
REGION = "eu-west-1"
SECRET_VALUE = "pa55-Wr0rd-xyzzy-7781"
# a CLI plan on an account without the parameter: the value create would store (else plan stops, as create)
SECRET_GIVEN = {"ECSUP_SECRET_DB_PASSWORD": SECRET_VALUE}

BASE_CONFIG = f'''
app = "web"
env = "dev"
region = "{REGION}"

[dns]
zone = "{ZONE}"
hostname = "www.{ZONE}"

[service]
image = "public.ecr.aws/nginx/nginx:stable"
container_port = 8080
cpu = 512
memory = 1024
desired_count = 1
health_check_path = "/health"

[service.environment]
APP_ENV = "dev"

[service.secrets]
DB_PASSWORD = "/web/dev/DB_PASSWORD"
'''


def config_text(extra: str = "", base: str = BASE_CONFIG, replace: dict[str, str] | None = None) -> str:
    text = base
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return text + extra


class FakeClock:
    """Waits in tests take no real time: sleeping advances this clock. Waits running at once
    (destroy's concurrent deletions) each move it, so time passes faster for all of them, even
    during another's AWS call: a wait gives up only on an attempt made at its bound
    (waiting._Bound), never on one that merely took long."""

    def __init__(self) -> None:
        import threading

        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@dataclass
class Recorder:
    """Every AWS call made through any boto3 Session ecsup creates; optional injected failures."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    injectors: list[Callable[[str, str, dict[str, Any]], Any]] = field(default_factory=list)
    lock_calls: list[int] = field(default_factory=list)  # indexes in calls of the stack lock's SSM calls
    # the API parameters of the call being made, per thread: planning makes calls from several
    # threads at once, and one call's parameters must not reach another's injectors
    _local: Any = field(default_factory=threading.local)

    @property
    def _api_params(self) -> dict[str, Any]:
        return dict(getattr(self._local, "params", {}))

    def hook(self, session: Any) -> None:
        session.events.register("before-parameter-build", self._params)
        session.events.register("before-call", self._before_call)

    def _params(self, params: dict[str, Any], **kwargs: Any) -> None:
        self._local.params = dict(params)

    def _before_call(self, model: Any, params: dict[str, Any], **kwargs: Any) -> Any:
        service = model.service_model.service_name
        if service == "ssm" and str(self._api_params.get("Name", "")).startswith("/ecsup/"):
            self.lock_calls.append(len(self.calls))
        self.calls.append((service, model.name))
        for inject in self.injectors:  # injectors see the API parameters (e.g. {"Name": ...})
            response = inject(service, model.name, self._api_params)
            if response is not None:
                return response
        return None

    def mutating(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if is_mutating(c[1])]

    def writes(self) -> list[tuple[str, str]]:
        """Mutating calls on the stack itself: without taking and releasing the stack's lock."""
        return [c for i, c in enumerate(self.calls) if is_mutating(c[1]) and i not in self.lock_calls]

    def reset(self) -> None:
        self.calls.clear()
        self.lock_calls.clear()


def aws_error(code: str, message: str = "injected", status: int = 400) -> tuple[Any, dict[str, Any]]:
    """A botocore before-call return value that makes the call fail with an AWS error."""
    from botocore.awsrequest import AWSResponse

    http = AWSResponse("https://injected.invalid", status, {}, None)
    return http, {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
    }


def fail_first(
    service: str,
    operation: str,
    code: str,
    times: int,
    message: str = "injected",
    status: int = 400,
    match: dict[str, Any] | None = None,
) -> Callable[[str, str, dict[str, Any]], Any]:
    """An injector failing the first ``times`` calls of service.operation (whose API
    parameters include ``match``, when given) with ``code``."""
    left = {"n": times}

    def inject(svc: str, op: str, params: dict[str, Any]) -> Any:
        if match and any(params.get(k) != v for k, v in match.items()):
            return None
        if svc == service and op == operation and left["n"] > 0:
            left["n"] -= 1
            return aws_error(code, message, status)
        return None

    inject.remaining = left  # type: ignore[attr-defined]
    return inject


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(context_module, "SESSION_HOOKS", [rec.hook])
    return rec


@pytest.fixture
def aws(recorder: Recorder) -> Iterator[Recorder]:
    """moto in-process, with a public hosted zone; certificates validate at once."""
    old_wait = settings.ACM_VALIDATION_WAIT
    settings.ACM_VALIDATION_WAIT = 0
    with mock_aws():
        client("route53").create_hosted_zone(Name=ZONE, CallerReference="tests")
        yield recorder
    settings.ACM_VALIDATION_WAIT = old_wait


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def strict_aws(request: pytest.FixtureRequest, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Every test runs against moto made as strict as AWS (ecsup/emulation/), on the
    test's fake clock: AWS's delays pass while ecsup waits them out, in no real time.
    A test that needs moto as it is says so with @pytest.mark.plain_moto."""
    from ecsup import emulation

    monkeypatch.setattr(context_module.CLOCK, "now", clock)
    monkeypatch.setattr(context_module.CLOCK, "sleep", clock.sleep)
    monkeypatch.setattr(context_module.CLOCK, "wall", clock)
    strict = request.node.get_closest_marker("plain_moto") is None
    yield emulation.activate(emulation.Emulation(emulation.STRICT, clock=clock, strict=strict))
    emulation.deactivate()


@pytest.fixture
def make_ctx(clock: FakeClock) -> Callable[..., Context]:
    def make(text: str | Config = BASE_CONFIG, secrets: dict[str, str] | None = None, **kwargs: Any) -> Context:
        cfg = text if isinstance(text, Config) else parse(text)
        values = {"DB_PASSWORD": SECRET_VALUE} if secrets is None else secrets
        kwargs.setdefault("timeouts", Timeouts())
        return Context(cfg, sleep=clock.sleep, clock=clock, secret_source=values.get, **kwargs)

    return make


@functools.cache
def _session(region: str) -> Any:
    """One session per region for the whole run: service models parsed once, and one set
    of exception classes (``client(...).exceptions.X`` matches what any client raises)."""
    import boto3
    import botocore.session

    from ecsup.context import _shared_loader

    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    return boto3.Session(botocore_session=core, region_name=region)


@functools.cache
def client(service: str, region: str = REGION) -> Any:
    """A plain boto3 client for reading AWS back (moto intercepts it while a mock is active,
    whichever mock made it: one client per service and region for the whole run). A test that
    registers handlers on a client (or stubs it) takes a fresh_client()."""
    return fresh_client(service, region)


def fresh_client(service: str, region: str = REGION) -> Any:
    """A boto3 client of the test's own."""
    return _session(region).client(service)


_RECORDING: list[Recorder] = []  # the recorders the shared clients report to (shared_clients)


@functools.cache
def _recorded_session(region: str) -> Any:
    """A session for shared_clients: its clients report each call to the recorders in _RECORDING."""
    import boto3
    import botocore.session

    from ecsup.context import _shared_loader

    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    session = boto3.Session(botocore_session=core, region_name=region)

    def params(**kwargs: Any) -> None:
        for rec in _RECORDING:
            rec._params(**kwargs)

    def before_call(**kwargs: Any) -> Any:
        for rec in _RECORDING:
            response = rec._before_call(**kwargs)
            if response is not None:
                return response
        return None

    session.events.register("before-parameter-build", params)
    session.events.register("before-call", before_call)
    return session


class _Uncounted(list[Any]):
    def append(self, item: Any) -> None:
        pass


_SHARED_CLIENTS: dict[tuple[str, str], Any] = {}
_SHARED_CLIENTS_LOCK = threading.Lock()


@pytest.fixture
def shared_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Recorder], None]]:
    """For the crash tests, which make three Contexts per crash point, hundreds in all: every
    Context gets the same boto3 clients (made as Context makes them: same configuration, retries,
    user agent), instead of a session and ~12 clients of its own (~0.15 s of CPU each time).
    Their calls go to the recorder given (``record(recorder)``), not to SESSION_HOOKS; a
    Context's own count of its calls (ctx.calls, printed by the CLI) stays empty."""
    make = Context._make_client

    def shared(self: Context, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            with _SHARED_CLIENTS_LOCK:
                if key not in _SHARED_CLIENTS:
                    template = Context(parse(BASE_CONFIG))
                    template.calls = _Uncounted()
                    template._session = _recorded_session(region)
                    _SHARED_CLIENTS[key] = make(template, service, region)
            self._clients[key] = _SHARED_CLIENTS[key]
        return self._clients[key]

    monkeypatch.setattr(Context, "_make_client", shared)

    def record(recorder: Recorder) -> None:
        _RECORDING[:] = [recorder]

    yield record
    _RECORDING.clear()


def zone_id() -> str:
    """The id of the test's public hosted zone."""
    zones = client("route53").list_hosted_zones_by_name(DNSName=ZONE + ".")["HostedZones"]
    assert zones and zones[0]["Name"] == ZONE + "."
    return str(zones[0]["Id"].split("/")[-1])


def change_records(action: str, *record_sets: dict[str, Any]) -> None:
    """Change records in the test zone behind ecsup's back (a person, or another tool)."""
    client("route53").change_resource_record_sets(
        HostedZoneId=zone_id(),
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": r} for r in record_sets]},
    )


def issued_certificate(domain: str, sans: tuple[str, ...] = (), region: str = REGION) -> str:
    """A DNS-validated certificate someone requested and validated (its CNAMEs written in the
    test zone): ACM, as emulated, issues it only then."""
    acm = client("acm", region)
    kwargs: dict[str, Any] = {"DomainName": domain, "ValidationMethod": "DNS"}
    if sans:
        kwargs["SubjectAlternativeNames"] = list(sans)
    arn = str(acm.request_certificate(**kwargs)["CertificateArn"])
    from ecsup import emulation

    if emulation.ACTIVE is not None:  # the records are published a moment after the request
        emulation.ACTIVE.clock.sleep(emulation.ACTIVE.delays.validation_records)  # type: ignore[attr-defined]
    options = acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"]
    cnames = {(o["ResourceRecord"]["Name"], o["ResourceRecord"]["Value"]) for o in options}
    change_records(
        "UPSERT",
        *({"Name": name, "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": value}]} for name, value in cnames),
    )
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"
    return arn


def register_task_targets(group: str, count: int = 1, port: int = 8080) -> list[str]:
    """Register ``count`` task IPs in a target group, as ECS does for a service's running tasks
    (moto's ECS registers none; moto reports a registered ip target healthy)."""
    elb = client("elbv2")
    arn = elb.describe_target_groups(Names=[group])["TargetGroups"][0]["TargetGroupArn"]
    ips = [f"10.0.9.{i + 1}" for i in range(count)]
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": ip, "Port": port} for ip in ips])
    return ips


# -- the CLI, in-process ----------------------------------------------------------------
runner = CliRunner()


@pytest.fixture
def plain_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the environment may force colour on: output off a terminal is plain."""
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE"):
        monkeypatch.delenv(var, raising=False)


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def explain(result: Result) -> str:
    """What to show when an assertion fails: the output and any unexpected exception."""
    text = f"exit code {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    if result.exc_info and not isinstance(result.exception, SystemExit):
        text += "\n--- exception\n" + "".join(traceback.format_exception(*result.exc_info))
    return text


@pytest.fixture
def stack(aws: Recorder, make_ctx: Callable[..., Context]) -> Recorder:
    """A default stack created, its calls forgotten: what a command run on it then calls."""
    from ecsup import engine

    engine.create(make_ctx())
    aws.reset()
    return aws


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """The default configuration written to a file, for commands run through the CLI."""
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    return path
