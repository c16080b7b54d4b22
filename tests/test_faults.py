"""`ecsup create` when AWS misbehaves: a certificate that stays pending or fails, a
service that never stabilises, eventual consistency, throttling, Ctrl-C, and secret
values in error messages. Waits run on the fake clock, so bounded waits end at once."""

from __future__ import annotations

import io
import json
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from conftest import REGION, SECRET_VALUE, ZONE, Recorder, client, config_text, fail_first
from moto import settings
from typer.testing import CliRunner

from ecsup import context as context_module
from ecsup import engine, waiting
from ecsup.cli import app
from ecsup.context import Timeouts
from ecsup.errors import EXIT_AWS, EXIT_INTERRUPTED, EXIT_TIMEOUT, AwsError, WaitTimeout
from ecsup.steps.loadbalancer import STAGING_PORT

Injector = Callable[[str, str, dict[str, Any]], Any]
ACCOUNT = "123456789012"
CLI_SECRET = "cli-s3cr3t-Zq81x-do-not-print"


# -- helpers ----------------------------------------------------------------------
def ok(parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    """A before-call return value: the call 'succeeds' with ``parsed`` as its result."""
    http = AWSResponse("https://injected.invalid", 200, {}, None)
    return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}}}


def request_body(params: dict[str, Any]) -> dict[str, Any]:
    """The API parameters of the call, as the Recorder hands them to injectors."""
    return dict(params)


def calls_of(aws: Recorder, service: str, operation: str) -> int:
    return aws.calls.count((service, operation))


def load_balancers() -> list[dict[str, Any]]:
    return list(client("elbv2").describe_load_balancers()["LoadBalancers"])


def listener_ports() -> set[int]:
    elb = client("elbv2")
    return {
        lst["Port"]
        for lb in load_balancers()
        for lst in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    }


def certificates() -> list[str]:
    return [c["CertificateArn"] for c in client("acm").list_certificates()["CertificateSummaryList"]]


def the_certificate() -> dict[str, Any]:
    arns = certificates()
    assert len(arns) == 1, arns
    return dict(client("acm").describe_certificate(CertificateArn=arns[0])["Certificate"])


def task_definitions() -> list[str]:
    return list(client("ecs").list_task_definitions(familyPrefix="web-dev")["taskDefinitionArns"])


def services() -> list[dict[str, Any]]:
    found = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"]
    return [s for s in found if s["status"] == "ACTIVE"]


def record_sets(name: str) -> list[dict[str, Any]]:
    r53 = client("route53")
    zone = r53.list_hosted_zones_by_name(DNSName=ZONE + ".")["HostedZones"][0]["Id"]
    return [r for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"] if r["Name"] == name]


def assert_complete_stack() -> None:
    assert [lb["LoadBalancerName"] for lb in load_balancers()] == ["web-dev"]
    assert len(certificates()) == 1
    assert listener_ports() == {80, 443}
    assert len(task_definitions()) == 1
    assert len(services()) == 1


class RecordingUI:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.progress: list[tuple[str, str]] = []

    def wait_progress(self, what: str, state: str, elapsed: float, bound: float) -> None:
        self.progress.append((what, state))

    def wait_done(self, what: str, state: str, elapsed: float) -> None:
        pass

    def event(self, text: str) -> None:
        self.events.append(text)

    def ask_secret(self, variable: str, parameter: str) -> str | None:
        return None


@pytest.fixture
def pending_certificates(aws: Recorder) -> Iterator[None]:
    """moto's certificates stay PENDING_VALIDATION (a test may set the wait back to 0)."""
    old = settings.ACM_VALIDATION_WAIT
    settings.ACM_VALIDATION_WAIT = 10**6
    try:
        yield
    finally:
        settings.ACM_VALIDATION_WAIT = old


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    return path


def run_cli(*args: str, secret: str = CLI_SECRET) -> Any:
    return CliRunner().invoke(app, list(args), env={"ECSUP_SECRET_DB_PASSWORD": secret})


# -- 1. certificate stuck in PENDING_VALIDATION -----------------------------------------
def test_stuck_certificate_times_out_with_a_diagnosis_after_building_the_rest(
    aws, make_ctx, clock, pending_certificates
):
    with pytest.raises(WaitTimeout) as err:
        engine.create(make_ctx(timeouts=Timeouts(certificate=300)))
    exc = err.value
    assert exc.exit_code == EXIT_TIMEOUT == 5

    cert = the_certificate()
    assert cert["Status"] == "PENDING_VALIDATION"
    validation = cert["DomainValidationOptions"][0]["ResourceRecord"]
    assert "certificate" in exc.message and "300 s" in exc.message
    assert "PENDING_VALIDATION" in exc.message
    assert validation["Name"] in exc.message and validation["Value"] in exc.message
    assert exc.hint is not None
    assert "NS" in exc.hint and "CAA" in exc.hint and "amazon.com" in exc.hint
    assert "re-running `ecsup create` resumes" in exc.hint

    # bounded: gave up once the bound passed (at most one capped poll interval late, after what
    # comes before the wait: the service was started meanwhile)
    assert 300 <= clock.now <= 300 + 60

    # meanwhile everything that does not need the certificate was built ...
    assert len(record_sets(validation["Name"])) == 1
    assert [lb["LoadBalancerName"] for lb in load_balancers()] == ["web-dev"]
    assert len(task_definitions()) == 1
    assert client("ecs").describe_clusters(clusters=["web-dev"])["clusters"][0]["status"] == "ACTIVE"
    assert client("ssm").get_parameter(Name="/web/dev/DB_PASSWORD")["Parameter"]["Name"]
    assert client("iam").get_role(RoleName="web-dev-execution")["Role"]["RoleName"]
    assert client("logs").describe_log_groups(logGroupNamePrefix="/ecs/web-dev")["logGroups"]
    # ... the service too, behind the staging listener (closed to clients), but no HTTPS listener:
    # the HTTP:80 redirect exists already, the staging listener waits to become HTTPS:443
    assert listener_ports() == {80, STAGING_PORT}
    assert len(services()) == 1


def test_rerun_after_the_certificate_validates_resumes_without_duplicates(aws, make_ctx, pending_certificates):
    with pytest.raises(WaitTimeout):
        engine.create(make_ctx(timeouts=Timeouts(certificate=120)))
    settings.ACM_VALIDATION_WAIT = 0  # DNS is fixed; ACM validates

    aws.reset()
    engine.create(make_ctx())
    # everything but HTTPS:443 was built while ACM validated, the service included: the staging
    # listener becomes HTTPS:443 (tried again while ELB does not yet accept the just-issued certificate)
    assert set(aws.writes()) == {("elbv2", "ModifyListener")}
    assert_complete_stack()
    assert the_certificate()["Status"] == "ISSUED"


# -- 2. certificate FAILED / VALIDATION_TIMED_OUT -------------------------------------
def certificate_status(status: str, reason: str) -> Injector:
    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) != ("acm", "DescribeCertificate"):
            return None
        real = client("acm").describe_certificate(CertificateArn=request_body(params)["CertificateArn"])
        cert = real["Certificate"]
        cert["Status"], cert["FailureReason"] = status, reason
        for option in cert.get("DomainValidationOptions", []):
            option["ValidationStatus"] = "FAILED"
        return ok({"Certificate": cert})

    return inject


@pytest.mark.parametrize("status", ["FAILED", "VALIDATION_TIMED_OUT"])
def test_unusable_certificate_fails_at_once_with_its_status(aws, make_ctx, clock, status):
    aws.injectors.append(certificate_status(status, "CAA_ERROR"))
    with pytest.raises(AwsError) as err:
        engine.create(make_ctx())
    exc = err.value
    assert exc.exit_code == EXIT_AWS and exc.code == status
    assert status in exc.message and "CAA_ERROR" in exc.message
    assert certificates()[0] in exc.message
    assert exc.hint is not None and "CAA" in exc.hint
    assert clock.now < 60  # did not wait out the 30-minute bound
    assert 443 not in listener_ports()  # the staging listener was not turned into HTTPS


# -- 3. service never stable ------------------------------------------------------------
TASK_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/web-dev/0123456789abcdef0123456789abcdef"
STOPPED_REASON = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
    "failed: unable to retrieve secrets from ssm: AccessDeniedException"
)


def stopped_tasks(service: str, operation: str, params: dict[str, Any]) -> Any:
    if (service, operation) == ("ecs", "ListTasks"):
        body = request_body(params)
        assert body.get("desiredStatus") == "STOPPED" and body.get("serviceName") == "web-dev"
        return ok({"taskArns": [TASK_ARN]})
    if (service, operation) == ("ecs", "DescribeTasks"):
        assert request_body(params)["tasks"] == [TASK_ARN]
        return ok({"tasks": [{"taskArn": TASK_ARN, "lastStatus": "STOPPED", "stoppedReason": STOPPED_REASON}]})
    return None


def service_described(change: Callable[[dict[str, Any]], None]) -> Injector:
    """DescribeServices answers with moto's service, changed by ``change`` (events, deployments)."""

    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) != ("ecs", "DescribeServices"):
            return None
        body = request_body(params)
        real = client("ecs").describe_services(cluster=body["cluster"], services=body["services"])
        for svc in real["services"]:
            change(svc)
        return ok({"services": real["services"], "failures": real.get("failures", [])})

    return inject


EVENTS = [  # newest first, as ECS returns them
    {"id": "e2", "createdAt": 2, "message": "(service web-dev) has started 1 tasks: (task 0123)."},
    {"id": "e1", "createdAt": 1, "message": "(service web-dev) was unable to place a task."},
]


def test_service_never_stable_times_out_saying_so(aws, make_ctx, clock, monkeypatch):
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "0")
    with pytest.raises(WaitTimeout) as err:
        engine.create(make_ctx(timeouts=Timeouts(service=300)))
    exc = err.value
    assert exc.exit_code == EXIT_TIMEOUT
    assert "service web-dev" in exc.message and "running 0/1" in exc.message and "300 s" in exc.message
    assert "no events and no stopped tasks" in exc.message
    assert exc.hint is not None and "re-run" in exc.hint
    assert 300 <= clock.now <= 300 + 10 + 20  # the bound, one poll, and AWS settling before the wait
    # created once (CreateService retried while ECS's new service-linked role settled); the next create finds it
    assert len(services()) == 1


def test_service_never_stable_diagnosis_shows_events_and_stopped_tasks(aws, make_ctx, clock, monkeypatch):
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "0")
    aws.injectors += [stopped_tasks, service_described(lambda svc: svc.update(events=EVENTS))]
    ui = RecordingUI()
    with pytest.raises(WaitTimeout) as err:
        engine.create(make_ctx(timeouts=Timeouts(service=300), ui=ui))
    exc = err.value
    assert "running 0/1" in exc.message
    assert STOPPED_REASON in exc.message
    assert EVENTS[0]["message"] in exc.message and EVENTS[1]["message"] in exc.message
    assert exc.hint is not None
    assert "secrets" in exc.hint and "execution role" in exc.hint
    # each event shown once while waiting, oldest first
    assert ui.events == [EVENTS[1]["message"], EVENTS[0]["message"]]
    assert ("service web-dev to become stable", "running 0/1") in ui.progress


def test_failed_deployment_stops_the_wait_with_the_reason(aws, make_ctx, clock):
    def failed(svc: dict[str, Any]) -> None:
        for deployment in svc.get("deployments", []):
            deployment["rolloutState"] = "FAILED"
            deployment["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
        svc["runningCount"] = 0

    aws.injectors += [stopped_tasks, service_described(failed)]
    with pytest.raises(AwsError) as err:
        engine.create(make_ctx())
    exc = err.value
    assert exc.exit_code == EXIT_AWS and exc.code == "DeploymentFailed"
    assert "circuit breaker" in exc.message and STOPPED_REASON in exc.message
    assert exc.hint is not None and "secrets" in exc.hint
    assert clock.now < 60  # far from the 20-minute bound


def test_aws_error_while_waiting_for_the_service_is_an_aws_error(aws, make_ctx):
    """DescribeServices refused during the stable wait: an AwsError (exit 3), not a raw botocore error."""
    refuse = fail_first("ecs", "DescribeServices", "AccessDeniedException", 1, "not authorized")

    def in_the_wait(service: str, operation: str, params: dict[str, Any]) -> Any:
        # the plan reads the service too (a move between load balancers: steps/move.py)
        return refuse(service, operation, params) if ("ecs", "CreateService") in aws.calls else None

    aws.injectors.append(in_the_wait)
    with pytest.raises(AwsError) as err:
        engine.create(make_ctx())
    assert refuse.remaining["n"] == 0  # type: ignore[attr-defined]
    assert err.value.code == "AccessDeniedException"
    assert "web-dev" in err.value.message


def test_service_not_yet_visible_after_create_is_waited_for(aws, make_ctx):
    """ECS is eventually consistent: right after CreateService, DescribeServices may report it MISSING."""
    left = {"n": 1}

    def missing(service: str, operation: str, params: dict[str, Any]) -> Any:
        created = ("ecs", "CreateService") in aws.calls  # (the plan reads the service too: steps/move.py)
        if (service, operation) == ("ecs", "DescribeServices") and left["n"] > 0 and created:
            left["n"] -= 1
            arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/web-dev/web-dev"
            return ok({"services": [], "failures": [{"arn": arn, "reason": "MISSING"}]})
        return None

    aws.injectors.append(missing)
    engine.create(make_ctx())
    assert left["n"] == 0
    assert_complete_stack()


# -- 4. eventual consistency: retried, bounded, and only for the known errors --------------
@pytest.mark.parametrize(
    "service, operation, code, message, calls",
    [
        (
            "ecs",
            "RegisterTaskDefinition",
            "InvalidParameterException",
            f"Unable to assume role arn:aws:iam::{ACCOUNT}:role/web-dev-execution and validate the specified "
            "targetGroupArn. Please verify that the ECS service role being passed has the proper permissions.",
            3,
        ),
        (
            "ecs",
            "CreateService",
            "InvalidParameterException",
            f"The target group with targetGroupArn arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/"
            "web-dev-blue/0123456789abcdef does not have an associated load balancer.",
            3,
        ),
        # the staging listener becomes HTTPS:443 by ModifyListener: x3 (twice CertificateNotFound)
        ("elbv2", "ModifyListener", "CertificateNotFound", "Certificate not found", 3),
    ],
    ids=["task-definition-role", "service-target-group", "listener-certificate"],
)
def test_eventual_consistency_errors_are_retried(aws, make_ctx, clock, service, operation, code, message, calls):
    inject = fail_first(
        service, operation, code, 2, message, match={"Port": 443} if operation == "ModifyListener" else None
    )
    aws.injectors.append(inject)
    engine.create(make_ctx())
    assert inject.remaining["n"] == 0  # type: ignore[attr-defined]
    assert calls_of(aws, service, operation) == calls
    assert clock.now > 0  # waited (on the fake clock) between attempts
    assert_complete_stack()


def test_validation_records_not_yet_published_are_polled_for(aws, make_ctx, clock):
    state = {"left": 2}

    def unpublished(service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) != ("acm", "DescribeCertificate") or ("acm", "RequestCertificate") not in aws.calls:
            return None
        if state["left"] == 0:
            return None
        state["left"] -= 1
        cert = client("acm").describe_certificate(CertificateArn=request_body(params)["CertificateArn"])["Certificate"]
        for option in cert["DomainValidationOptions"]:
            option.pop("ResourceRecord", None)
            option["ValidationStatus"] = "PENDING_VALIDATION"
        cert["Status"] = "PENDING_VALIDATION"
        return ok({"Certificate": cert})

    aws.injectors.append(unpublished)
    engine.create(make_ctx())
    assert state["left"] == 0
    first_write = aws.calls.index(("route53", "ChangeResourceRecordSets"))
    assert aws.calls[:first_write].count(("acm", "DescribeCertificate")) == 3
    assert clock.now > 0
    validation = the_certificate()["DomainValidationOptions"][0]["ResourceRecord"]
    assert len(record_sets(validation["Name"])) == 1
    assert_complete_stack()


def test_unrelated_invalid_parameter_is_not_retried(aws, make_ctx, clock):
    inject = fail_first(
        "ecs", "RegisterTaskDefinition", "InvalidParameterException", 5, "Invalid 'cpu' setting for task."
    )
    aws.injectors.append(inject)
    ui = RecordingUI()
    with pytest.raises(AwsError) as err:
        engine.create(make_ctx(ui=ui))
    exc = err.value
    assert exc.exit_code == EXIT_AWS == 3
    assert exc.code == "InvalidParameterException"
    assert "InvalidParameterException" in exc.message and "Invalid 'cpu' setting" in exc.message
    assert "web-dev" in exc.message  # says what was being done
    assert calls_of(aws, "ecs", "RegisterTaskDefinition") == 1
    # no retry was waited for (but the cluster's, while ECS's new service-linked role settles)
    assert not [s for w, s in ui.progress if "InvalidParameterException" in s and "service-linked" not in w]


def test_eventual_consistency_that_never_settles_gives_up_after_the_bound(aws, make_ctx, clock):
    message = f"Unable to assume role arn:aws:iam::{ACCOUNT}:role/web-dev-execution"
    aws.injectors.append(fail_first("ecs", "RegisterTaskDefinition", "InvalidParameterException", 10**6, message))
    with pytest.raises(WaitTimeout) as err:  # a bounded wait that ran out: exit 5, re-running resumes
        engine.create(make_ctx(timeouts=Timeouts(propagation=120)))
    assert "InvalidParameterException" in err.value.message and "Unable to assume role" in err.value.message
    assert err.value.exit_code == 5 and "resumes" in (err.value.hint or "")
    assert 120 <= clock.now <= 120 + 15
    assert 2 <= calls_of(aws, "ecs", "RegisterTaskDefinition") <= 20


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_wait_gives_up_only_on_an_attempt_made_at_its_bound():
    """An attempt whose call outlasted the bound (the machine slept, or other waits moved the
    test clock meanwhile) is not the last one: one more is made, and it is the one that counts."""
    clock = _Clock()
    ctx = types.SimpleNamespace(clock=clock, sleep=clock.sleep, ui=context_module.SilentUI())
    attempts: list[float] = []

    def slow_then_ready() -> tuple[bool, str]:
        attempts.append(clock.now)
        if len(attempts) == 1:
            clock.now += 500  # this call took longer than the whole bound
            return False, "not yet"
        return True, "ready"

    assert waiting.poll(ctx, "a thing", slow_then_ready, bound=60) == "ready"  # type: ignore[arg-type]
    assert attempts == [0, 500]


def test_a_wait_makes_its_last_attempt_at_its_bound_not_after_it():
    clock = _Clock()
    ctx = types.SimpleNamespace(clock=clock, sleep=clock.sleep, ui=context_module.SilentUI())
    attempts: list[float] = []

    def never() -> tuple[bool, str]:
        attempts.append(clock.now)
        return False, "not yet"

    with pytest.raises(WaitTimeout):
        waiting.poll(ctx, "a thing", never, bound=25, first=2, cap=10)  # type: ignore[arg-type]
    assert attempts[-1] == 25 and all(a < 25 for a in attempts[:-1])

    clock.now, tried = 0.0, []

    def refused() -> None:
        tried.append(clock.now)
        raise WaitTimeout("refused")

    with pytest.raises(WaitTimeout, match="gave up after 25 s"):
        waiting.retry(ctx, "a thing", refused, lambda exc: True, bound=25)  # type: ignore[arg-type]
    assert tried[-1] == 25 and all(a < 25 for a in tried[:-1])


# -- 5. throttling and 5xx: botocore's standard retry mode ---------------------------------
class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


SERVICE_IDS = {"elbv2": "elastic-load-balancing-v2", "route53": "route-53"}
PROTOCOLS = {"ecs": "json", "acm": "json", "ssm": "json", "logs": "json", "ec2": "ec2"}  # others: XML


def wire_error(service: str, code: str, status: int) -> AWSResponse:
    """An error response as AWS sends it on the wire, in the service's protocol."""
    message = "Rate exceeded" if status < 500 else "We encountered an internal error. Please try again."
    protocol = PROTOCOLS.get(service, "xml")
    headers = {"x-amzn-RequestId": "injected"}
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message})
        headers["Content-Type"] = "application/x-amz-json-1.1"
    elif protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>injected</RequestID></Response>"
        )
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>injected</RequestId></ErrorResponse>"
        )
    return AWSResponse("https://injected.invalid", status, headers, _Raw(body.encode()))


class WireFaults:
    """Fails HTTP attempts at botocore's before-send, i.e. inside its retry loop (before-call
    injection short-circuits the loop, so botocore never retries it). Read operations only:
    moto's own before-send handler still runs the request behind the injected answer."""

    def __init__(self, faults: list[tuple[str, str, str, int, int]]) -> None:
        self.left = {(SERVICE_IDS.get(s, s), op): [s, code, status, times] for s, op, code, status, times in faults}
        self.attempts: dict[tuple[str, str], int] = {}

    def hook(self, session: Any) -> None:
        session.events.register_first("before-send", self._before_send)

    def _before_send(self, request: Any, event_name: str, **_: Any) -> Any:
        _, service_id, operation = event_name.split(".")
        key = (service_id, operation)
        self.attempts[key] = self.attempts.get(key, 0) + 1
        fault = self.left.get(key)
        if fault is None or fault[3] == 0:
            return None
        fault[3] -= 1
        return wire_error(fault[0], fault[1], fault[2])

    def exhausted(self) -> bool:
        return all(f[3] == 0 for f in self.left.values())


@pytest.fixture
def botocore_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry back-off (time.sleep in botocore.endpoint), recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


def test_throttling_and_server_errors_are_retried_by_botocore(aws, make_ctx, clock, botocore_sleeps):
    faults = WireFaults(
        [
            ("elbv2", "DescribeLoadBalancers", "Throttling", 400, 2),
            ("ecs", "DescribeServices", "ThrottlingException", 400, 2),
            ("iam", "GetRole", "Throttling", 400, 2),
            ("route53", "ListResourceRecordSets", "Throttling", 400, 2),
            ("ec2", "DescribeSecurityGroups", "RequestLimitExceeded", 503, 2),
            ("ssm", "DescribeParameters", "InternalServerError", 500, 1),
            ("acm", "ListCertificates", "ServiceUnavailable", 503, 1),
        ]
    )
    context_module.SESSION_HOOKS.append(faults.hook)  # the list is the recorder's, reset after the test
    ui = RecordingUI()
    engine.create(make_ctx(ui=ui))
    assert faults.exhausted(), faults.left
    assert len(botocore_sleeps) == 12  # one back-off per failed attempt
    # ecsup itself retried none of them (its own waits are for AWS settling, not for these codes)
    codes = ("Throttling", "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable")
    assert not [state for _, state in ui.progress if any(code in state for code in codes)]
    assert_complete_stack()


def test_throttling_beyond_botocores_attempts_is_an_aws_error_before_any_change(aws, make_ctx, botocore_sleeps):
    faults = WireFaults([("elbv2", "DescribeLoadBalancers", "Throttling", 400, 100)])
    context_module.SESSION_HOOKS.append(faults.hook)
    ctx = make_ctx()
    with pytest.raises(AwsError) as err:
        engine.create(ctx)
    assert err.value.code == "Throttling" and "Throttling" in err.value.message
    assert "web-dev" in err.value.message
    attempts = ctx.client("elbv2").meta.config.retries["total_max_attempts"]
    assert attempts >= 5
    assert faults.attempts[("elastic-load-balancing-v2", "DescribeLoadBalancers")] == attempts
    assert aws.mutating() == []  # it happened while planning


# -- 6. Ctrl-C ----------------------------------------------------------------------------
REAL_POLL = waiting.poll


def interrupt_in_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def poll(ctx: Any, what: str, *args: Any, **kwargs: Any) -> Any:
        if what.startswith("certificate validation"):

            def interrupted(_seconds: float) -> None:
                raise KeyboardInterrupt

            ctx.sleep = interrupted
        return REAL_POLL(ctx, what, *args, **kwargs)

    monkeypatch.setattr(waiting, "poll", poll)


def interrupt_in_call(aws: Recorder) -> None:
    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        # the describes after the HTTP:80 listener exists are the wait for ISSUED
        if (service, operation) == ("acm", "DescribeCertificate") and ("elbv2", "CreateListener") in aws.calls:
            raise KeyboardInterrupt
        return None

    aws.injectors.append(inject)


@pytest.mark.parametrize("where", ["sleep", "aws-call"])
def test_ctrl_c_during_the_certificate_wait(aws, pending_certificates, monkeypatch, config_file, where):
    if where == "sleep":
        interrupt_in_sleep(monkeypatch)
    else:
        interrupt_in_call(aws)
    result = run_cli("create", "--config", str(config_file))
    assert result.exit_code == EXIT_INTERRUPTED == 130, result.output
    assert isinstance(result.exception, SystemExit)
    assert "interrupted" in result.stderr
    assert "re-running `ecsup create` resumes" in result.stderr
    assert "Traceback" not in result.output and "Aborted" not in result.output
    assert CLI_SECRET not in result.output
    assert [lb["LoadBalancerName"] for lb in load_balancers()] == ["web-dev"]  # stopped at the certificate
    assert 443 not in listener_ports()

    # re-running resumes (once ACM has validated): nothing is duplicated
    monkeypatch.setattr(waiting, "poll", REAL_POLL)
    aws.injectors.clear()
    settings.ACM_VALIDATION_WAIT = 0
    result = run_cli("create", "--config", str(config_file))
    assert result.exit_code == 0, result.output
    assert_complete_stack()


# -- 7. secret values never leak ------------------------------------------------------------
def test_failure_after_the_secret_was_stored_does_not_print_it(aws, config_file):
    aws.injectors.append(
        fail_first("ecs", "CreateService", "ClientException", 1, f"Container secret rejected: value {CLI_SECRET}")
    )
    result = run_cli("create", "--config", str(config_file))
    assert result.exit_code == EXIT_AWS, result.output
    assert "ClientException" in result.stderr and "********" in result.stderr
    assert CLI_SECRET not in result.output
    assert client("ssm").get_parameter(Name="/web/dev/DB_PASSWORD", WithDecryption=True)["Parameter"]["Value"] == (
        CLI_SECRET
    )

    result = run_cli("create", "--config", str(config_file), "--json")
    assert result.exit_code == 0, result.output
    assert CLI_SECRET not in result.output
    assert json.loads(result.stdout)["url"] == f"https://www.{ZONE}/"


def test_put_parameter_error_echoing_the_value_is_reported_without_it(aws, make_ctx, config_file):
    echo = f"1 validation error detected: Value '{SECRET_VALUE}' at 'value' failed to satisfy constraint"
    aws.injectors.append(
        fail_first("ssm", "PutParameter", "ValidationException", 1, echo, match={"Name": "/web/dev/DB_PASSWORD"})
    )
    with pytest.raises(AwsError) as err:
        engine.create(make_ctx())
    exc = err.value
    assert exc.code == "ValidationException" and "/web/dev/DB_PASSWORD" in exc.message
    assert SECRET_VALUE not in exc.message and SECRET_VALUE not in (exc.hint or "")
    assert exc.__cause__ is None and exc.__suppress_context__

    cli_echo = echo.replace(SECRET_VALUE, CLI_SECRET)
    aws.injectors.append(
        fail_first("ssm", "PutParameter", "ValidationException", 1, cli_echo, match={"Name": "/web/dev/DB_PASSWORD"})
    )
    result = run_cli("create", "--config", str(config_file))
    assert result.exit_code == EXIT_AWS, result.output
    assert "ValidationException" in result.stderr
    assert CLI_SECRET not in result.output
