"""What real AWS does that moto does not, and what ecsup must do about it (the issue "on real
AWS"): destroy when a deletion fails, brought certificates, the CloudFront copy, validation
records shared across regions, a certificate ELB rejects right after ISSUED, ECS's
service-linked role, IAM's eventual consistency, order-insensitive comparisons, and aliases
to a load balancer Route53 does not see yet. The strict layer (ecsup/emulation.py) is on for
every test; waits run on the fake clock."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from conftest import (
    REGION,
    SECRET_VALUE,
    ZONE,
    Recorder,
    aws_error,
    change_records,
    client,
    config_text,
    fail_first,
    issued_certificate,
    zone_id,
)
from typer.testing import CliRunner

from ecsup import context as context_module
from ecsup import emulation, engine
from ecsup.cli import app, run_destroy
from ecsup.context import Timeouts
from ecsup.errors import EXIT_CONFIG, EXIT_TIMEOUT, AwsError, ConfigError, WaitTimeout
from ecsup.render import ConsoleUI, make_console
from ecsup.status import DRIFT, collect
from ecsup.steps.iam import PERMISSIONS_TAG

Injector = Callable[[str, str, dict[str, Any]], Any]
HOST = f"www.{ZONE}."
CLOUDFRONT = config_text(replace={'hostname = "www.': 'cloudfront_certificate = true\nhostname = "www.'})
CERT = f"{ZONE} ({REGION})"  # how destroy names the stack's certificate and its validation records
CF_CERT = f"{ZONE} (us-east-1)"
SERVICE = "ECS service web-dev"


# -- helpers -----------------------------------------------------------------------------
def ok(parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    """A before-call return value: the call 'succeeds' with ``parsed`` as its answer."""
    http = AWSResponse("https://injected.invalid", 200, {}, None)
    return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}}}


def destroy(ctx: Any, purge: bool = False) -> tuple[dict[str, Any], str]:
    """run_destroy with a plain, non-interactive console: (its result, what it printed)."""
    out = io.StringIO()
    result = run_destroy(ctx, ConsoleUI(make_console(out), interactive=False), purge)
    return result, out.getvalue()


def names(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(str(a["resource"]), str(a["name"])) for a in items}


def config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ecsup.toml"
    path.write_text(text)
    return str(path)


def with_certificate(arn: str) -> str:
    return config_text(replace={'hostname = "www.': f'certificate_arn = "{arn}"\nhostname = "www.'})


def records(name: str, kind: str | None = None) -> list[dict[str, Any]]:
    rrs = client("route53").list_resource_record_sets(HostedZoneId=zone_id())["ResourceRecordSets"]
    return [r for r in rrs if r["Name"].lower() == name.lower() and kind in (None, r["Type"])]


def certificates(region: str = REGION) -> list[str]:
    return [c["CertificateArn"] for c in client("acm", region).list_certificates()["CertificateSummaryList"]]


def validation_cname(region: str = REGION) -> tuple[str, str]:
    acm = client("acm", region)
    arn = certificates(region)[0]
    rec = acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"][0]["ResourceRecord"]
    return rec["Name"], rec["Value"]


def cname_values(name: str) -> list[str]:
    return [v["Value"] for r in records(name, "CNAME") for v in r["ResourceRecords"]]


def alb() -> dict[str, Any]:
    return dict(client("elbv2").describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0])


def https_listener() -> dict[str, Any] | None:
    listeners = client("elbv2").describe_listeners(LoadBalancerArn=alb()["LoadBalancerArn"])["Listeners"]
    return next((lst for lst in listeners if lst["Port"] == 443), None)


def service() -> dict[str, Any] | None:
    found = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"]
    return found[0] if found else None


def service_status() -> str | None:
    svc = service()
    return str(svc["status"]) if svc else None


def https_certificate() -> str | None:
    listener = https_listener()
    return str(listener["Certificates"][0]["CertificateArn"]) if listener else None


def cluster_status(name: str = "web-dev") -> str | None:
    clusters = client("ecs").describe_clusters(clusters=[name])["clusters"]
    return str(clusters[0]["status"]) if clusters else None


def role_exists(name: str) -> bool:
    iam = client("iam")
    try:
        iam.get_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def security_groups() -> list[str]:
    groups = client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["web-dev-alb", "web-dev-tasks"]}]
    )["SecurityGroups"]
    return sorted(g["GroupName"] for g in groups)


def target_groups() -> list[str]:
    return sorted(tg["TargetGroupName"] for tg in client("elbv2").describe_target_groups()["TargetGroups"])


def listener_ports(aws: Recorder) -> list[int]:
    """Records the Port of every CreateListener and ModifyListener ecsup makes (in order; the
    staging listener becomes HTTPS:443 by ModifyListener); returns the list."""
    ports: list[int] = []

    def inject(service: str, operation: str, params: dict[str, Any]) -> None:
        if (service, operation) in (("elbv2", "CreateListener"), ("elbv2", "ModifyListener")):
            ports.append(int(params["Port"]))

    aws.injectors.insert(0, inject)
    return ports


def call_times(aws: Recorder, clock: Any) -> list[tuple[str, str, float, str]]:
    """Records (service, operation, fake time, RoleName or '') of every call ecsup makes."""
    log: list[tuple[str, str, float, str]] = []

    def inject(service: str, operation: str, params: dict[str, Any]) -> None:
        log.append((service, operation, clock.now, str(params.get("RoleName", ""))))

    aws.injectors.insert(0, inject)
    return log


def hostname_changes(aws: Recorder) -> list[list[dict[str, Any]]]:
    """Records each ChangeResourceRecordSets batch of ecsup's that touches the hostname."""
    batches: list[list[dict[str, Any]]] = []

    def inject(service: str, operation: str, params: dict[str, Any]) -> None:
        if (service, operation) == ("route53", "ChangeResourceRecordSets"):
            changes = params["ChangeBatch"]["Changes"]
            if any(c["ResourceRecordSet"]["Name"].lower() == HOST for c in changes):
                batches.append(changes)

    aws.injectors.insert(0, inject)
    return batches


# -- 1. destroy when the service cannot be deleted -----------------------------------------
LEFT_BY_THE_SERVICE = {
    ("ECS cluster", "web-dev"),
    ("task definition", "web-dev"),
    ("IAM role", "web-dev-execution"),
    ("IAM role", "web-dev-task"),
    ("IAM role", "web-dev-infrastructure"),
    ("listeners", "web-dev"),
    ("target group", "web-dev-blue"),
    ("target group", "web-dev-green"),
    ("load balancer", "web-dev"),
    ("security group", "web-dev-alb"),
    ("security group", "web-dev-tasks"),
    ("certificate", CERT),  # the listener uses it
    ("validation records", CERT),  # the certificate needs them to renew
    ("CloudWatch alarm", "ecsup-web-dev-5xx"),  # the service still names it in its deployment alarms
}
NEVER_TRIED = [
    ("ecs", "DeleteCluster"),
    ("ecs", "DeregisterTaskDefinition"),
    ("iam", "DeleteRole"),
    ("iam", "DetachRolePolicy"),
    ("iam", "DeleteRolePolicy"),
    ("elbv2", "DeleteListener"),
    ("elbv2", "DeleteTargetGroup"),
    ("elbv2", "DeleteLoadBalancer"),
    ("ec2", "DeleteSecurityGroup"),
    ("acm", "DeleteCertificate"),
    ("cloudwatch", "DeleteAlarms"),
]


def assert_left_standing() -> None:
    assert cluster_status() == "ACTIVE"
    assert role_exists("web-dev-execution") and role_exists("web-dev-task")
    assert alb()["LoadBalancerName"] == "web-dev" and https_listener() is not None
    assert target_groups() == ["web-dev-blue", "web-dev-green"]
    assert security_groups() == ["web-dev-alb", "web-dev-tasks"]
    assert len(certificates()) == 1
    name, value = validation_cname()
    assert cname_values(name) == [value]
    alarms = client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms] == ["ecsup-web-dev-5xx"]  # the service still names it


def test_destroy_after_a_failed_service_deletion_leaves_what_depends_on_it(aws, make_ctx, clock, tmp_path):
    engine.create(make_ctx())
    denied = "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecs:DeleteService"
    aws.injectors.append(fail_first("ecs", "DeleteService", "AccessDeniedException", 10**6, denied))
    aws.reset()
    start = clock.now

    result, output = destroy(make_ctx())

    assert names(result["failed"]) == {("ECS service", "web-dev")}
    assert "AccessDeniedException" in result["failed"][0]["error"]
    assert names(result["left"]) == LEFT_BY_THE_SERVICE
    assert ("DNS record", "www." + ZONE) in names(result["deleted"])  # independent of the service
    assert records(HOST, "A") == []
    assert_left_standing()
    for call in NEVER_TRIED:
        assert call not in aws.calls, call
    assert clock.now - start < 60  # no deletion waited out its 15-minute bound for what could not go
    assert "left      ECS cluster web-dev" in output

    # through the CLI: exit 1, and the output names what was left and why
    aws.reset()
    cli = CliRunner().invoke(app, ["destroy", "--yes", "-c", config_file(tmp_path, config_text())])

    assert cli.exit_code == 1, cli.output
    assert "failed    ECS service web-dev" in cli.output
    for resource, name in LEFT_BY_THE_SERVICE:
        assert f"left      {resource} {name}" in cli.output, (resource, name)
    assert "left 14 that needed it gone" in cli.output
    left = "left      ECS cluster web-dev: needs ECS service web-dev deleted first, which could not be deleted"
    assert left in cli.output
    for call in NEVER_TRIED:
        assert call not in aws.calls, call
    assert_left_standing()

    # every reason names the deletion that failed, not only the one in between (listeners,
    # certificate) that was itself left
    for item in result["left"]:
        assert SERVICE in item["reason"], item


def test_destroy_with_a_service_that_never_becomes_inactive_leaves_what_depends_on_it(aws, make_ctx, clock):
    engine.create(make_ctx())

    def draining_forever(service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) != ("ecs", "DescribeServices") or ("ecs", "DeleteService") not in aws.calls:
            return None
        real = client("ecs").describe_services(cluster=params["cluster"], services=params["services"])
        for svc in real["services"]:
            svc["status"] = "DRAINING"
        return ok({"services": real["services"], "failures": real.get("failures", [])})

    aws.injectors.append(draining_forever)
    aws.reset()
    start = clock.now

    result, _ = destroy(make_ctx(timeouts=Timeouts(service=120)))

    assert ("ecs", "DeleteService") in aws.calls
    assert names(result["failed"]) == {("ECS service", "web-dev")}
    error = result["failed"][0]["error"]
    assert "120 s" in error and "DRAINING" in error
    assert names(result["left"]) == LEFT_BY_THE_SERVICE
    assert records(HOST, "A") == []
    assert_left_standing()
    for call in NEVER_TRIED:
        assert call not in aws.calls, call
    assert 120 <= clock.now - start <= 120 + 30  # the bound, one poll interval, and little else


# -- 3. bring your own certificate -----------------------------------------------------------
def test_brought_certificate_in_another_region_is_a_config_error_before_any_change(aws, tmp_path):
    arn = issued_certificate(f"*.{ZONE}", region="us-west-2")

    cli = CliRunner().invoke(
        app,
        ["create", "-c", config_file(tmp_path, with_certificate(arn))],
        env={"ECSUP_SECRET_DB_PASSWORD": SECRET_VALUE},
    )

    assert cli.exit_code == EXIT_CONFIG == 2, cli.output
    assert "dns.certificate_arn" in cli.output and "us-west-2" in cli.output
    assert aws.mutating() == []


def test_brought_certificate_not_covering_the_hostname_is_a_config_error(aws, make_ctx):
    arn = issued_certificate(f"api.{ZONE}")

    with pytest.raises(ConfigError) as err:
        engine.create(make_ctx(with_certificate(arn)))

    assert err.value.exit_code == EXIT_CONFIG
    assert "dns.certificate_arn" in err.value.message and f"www.{ZONE}" in err.value.message
    assert aws.mutating() == []


def certificate_status(arn: str, status: str) -> Injector:
    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) != ("acm", "DescribeCertificate") or params.get("CertificateArn") != arn:
            return None
        cert = client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
        cert["Status"] = status
        if status in ("FAILED", "VALIDATION_TIMED_OUT"):
            cert["FailureReason"] = "CAA_ERROR"
        return ok({"Certificate": cert})

    return inject


@pytest.mark.parametrize("status", ["FAILED", "EXPIRED", "REVOKED", "INACTIVE", "VALIDATION_TIMED_OUT"])
def test_brought_certificate_that_cannot_be_used_is_a_config_error_naming_its_status(aws, make_ctx, status):
    arn = issued_certificate(f"*.{ZONE}")
    aws.injectors.append(certificate_status(arn, status))

    with pytest.raises(ConfigError) as err:
        engine.create(make_ctx(with_certificate(arn)))

    assert err.value.exit_code == EXIT_CONFIG
    assert "dns.certificate_arn" in err.value.message
    assert status in err.value.message and arn in err.value.message
    assert aws.mutating() == []


def test_brought_certificate_pending_validation_is_waited_for_and_never_deleted(aws, make_ctx, clock):
    acm = client("acm")
    arn = acm.request_certificate(DomainName=f"*.{ZONE}", ValidationMethod="DNS")["CertificateArn"]
    clock.sleep(emulation.STRICT.validation_records)  # ACM publishes the record (not yet written in DNS)
    record = acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"][0]
    name, value = record["ResourceRecord"]["Name"], record["ResourceRecord"]["Value"]
    ports = listener_ports(aws)
    seen = {"describes": 0, "validated_at": -1}

    def validated_later(service: str, operation: str, params: dict[str, Any]) -> None:
        """Its owner writes the validation record while ecsup waits (at the 3rd look)."""
        if (service, operation) == ("acm", "DescribeCertificate") and params.get("CertificateArn") == arn:
            seen["describes"] += 1
            if seen["describes"] == 3:
                change_records(
                    "UPSERT", {"Name": name, "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": value}]}
                )
                seen["validated_at"] = len(aws.calls)

    aws.injectors.append(validated_later)
    text = with_certificate(arn)

    outcome = engine.create(make_ctx(text, timeouts=Timeouts(certificate=1800)))

    cert_actions = [a for a in outcome.actions if a.resource == "certificate"]
    assert [a.kind for a in cert_actions] == ["noop"] and "PENDING_VALIDATION" in cert_actions[0].detail
    assert seen["describes"] >= 3  # waited for ACM ...
    assert 443 in ports
    https_calls = [i for i, c in enumerate(aws.calls) if c == ("elbv2", "ModifyListener")]
    assert https_calls[-1] >= seen["validated_at"]  # ... and created the HTTPS listener once it issued
    assert https_certificate() == arn
    assert ("acm", "RequestCertificate") not in aws.calls
    assert service_status() == "ACTIVE"

    aws.reset()
    result, _ = destroy(make_ctx(text))

    assert result["failed"] == [] and result["left"] == []
    assert ("certificate", arn) in names(result["kept"])
    assert ("acm", "DeleteCertificate") not in aws.calls
    assert certificates() == [arn]
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"
    assert cname_values(name) == [value]  # its validation record is its owner's


# -- 4. the CloudFront copy never holds up the stack ------------------------------------------
def us_east_1_pending(aws: Recorder) -> list[int]:
    """DescribeCertificate says PENDING_VALIDATION for every certificate in us-east-1; returns the
    indexes in aws.calls of those calls."""
    looks: list[int] = []

    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) != ("acm", "DescribeCertificate"):
            return None
        arn = str(params["CertificateArn"])
        if arn.split(":")[3] != "us-east-1":
            return None
        looks.append(len(aws.calls) - 1)
        cert = client("acm", "us-east-1").describe_certificate(CertificateArn=arn)["Certificate"]
        cert["Status"] = "PENDING_VALIDATION"
        for option in cert.get("DomainValidationOptions", []):
            option["ValidationStatus"] = "PENDING_VALIDATION"
        return ok({"Certificate": cert})

    aws.injectors.append(inject)
    return looks


def test_pending_cloudfront_certificate_does_not_hold_up_the_stack(aws, make_ctx, clock):
    looks = us_east_1_pending(aws)
    ctx = make_ctx(CLOUDFRONT, timeouts=Timeouts(certificate=300))

    with pytest.raises(WaitTimeout) as err:
        engine.create(ctx)

    exc = err.value
    assert exc.exit_code == EXIT_TIMEOUT == 5
    assert "the stack is up" in exc.message and "CloudFront certificate" in exc.message
    assert "us-east-1" in exc.message and "PENDING_VALIDATION" in exc.message
    # the stack was finished before the wait for the copy
    assert service_status() == "ACTIVE"
    assert https_listener() is not None
    create_service = aws.calls.index(("ecs", "CreateService"))
    assert create_service < looks[-1]
    # and the copy was waited for up to its bound, after the service
    assert len([i for i in looks if i > create_service]) > 2
    assert clock.now >= 300


# -- 5. no orphaned us-east-1 certificate ------------------------------------------------------
def test_cloudfront_certificate_turned_off_is_deleted_and_the_shared_record_kept(aws, make_ctx):
    engine.create(make_ctx(CLOUDFRONT))
    assert len(certificates("us-east-1")) == 1
    regional = certificates()
    name, value = validation_cname()
    assert validation_cname("us-east-1") == (name, value)  # the same record in both regions

    ctx = make_ctx()
    ctx.mode = "plan"
    plan = engine.make_plan(ctx)

    planned = [(a.kind, a.resource, a.name) for a in plan.changes()]
    assert ("delete", "certificate", CF_CERT) in planned
    assert all(kind == "delete" and label == CF_CERT for kind, _, label in planned), planned
    assert len(certificates("us-east-1")) == 1  # a plan changes nothing

    aws.reset()
    engine.create(make_ctx())

    assert ("acm", "DeleteCertificate") in aws.calls
    assert certificates("us-east-1") == []
    assert certificates() == regional
    assert cname_values(name) == [value]  # still the regional certificate's
    aws.reset()
    engine.create(make_ctx())
    assert aws.mutating() == []


def test_destroy_removes_a_cloudfront_certificate_the_config_no_longer_asks_for(aws, make_ctx):
    engine.create(make_ctx(CLOUDFRONT))
    assert len(certificates("us-east-1")) == 1
    name, _ = validation_cname()

    result, _ = destroy(make_ctx())  # cloudfront_certificate is off now

    assert result["failed"] == [] and result["left"] == []
    assert ("certificate", CF_CERT) in names(result["deleted"])
    assert certificates("us-east-1") == [] and certificates() == []
    assert records(name, "CNAME") == []  # no certificate uses the record any more


# -- 8. validation records shared across regions -----------------------------------------------
def test_validation_record_shared_with_a_certificate_in_another_region_is_kept(aws, make_ctx):
    engine.create(make_ctx())
    name, value = validation_cname()
    other = issued_certificate(ZONE, region="ap-southeast-2")  # same name: ACM gives the same record
    assert validation_cname("ap-southeast-2") == (name, value)

    result, output = destroy(make_ctx())

    assert result["failed"] == [] and result["left"] == []
    assert certificates() == []
    assert certificates("ap-southeast-2") == [other]
    assert cname_values(name) == [value]
    assert f"validation records {CERT}  (kept 1 still used by another certificate)" in output
    # the result (`ecsup destroy --json`) must not report as deleted the record it kept
    assert ("validation records", CERT) not in names(result["deleted"])


def failing_region(region: str) -> Callable[[Any], None]:
    """A session hook: acm ListCertificates in ``region`` (only) is denied."""

    def handler(model: Any, params: Any, context: dict[str, Any], **_: Any) -> Any:
        if context.get("client_region") == region:
            return aws_error(
                "AccessDeniedException",
                f"User: x is not authorized to perform: acm:ListCertificates in {region} (SCP)",
            )
        return None

    def hook(session: Any) -> None:
        session.events.register("before-call.acm.ListCertificates", handler)

    return hook


def test_validation_record_is_kept_when_a_region_cannot_be_checked(aws, make_ctx):
    engine.create(make_ctx())
    name, value = validation_cname()
    context_module.SESSION_HOOKS.append(failing_region("ap-southeast-2"))  # the recorder's list: reset after

    result, output = destroy(make_ctx())

    assert result["failed"] == [] and result["left"] == []
    assert certificates() == []
    assert cname_values(name) == [value]
    line = next(line for line in output.splitlines() if f"validation records {CERT}" in line)
    assert "kept" in line and "could not check every region" in line
    assert "ap-southeast-2" in line and "AccessDeniedException" in line


# -- 10. a just-issued certificate rejected by the load balancer ----------------------------------
def test_just_issued_certificate_rejected_by_the_load_balancer_is_retried(aws, make_ctx, strict_aws, monkeypatch):
    # ELB refusing the certificate for a minute after ISSUED: longer than the service takes to
    # start behind the staging listener, so the switch to HTTPS:443 meets it
    monkeypatch.setattr(strict_aws, "delays", replace(strict_aws.delays, certificate_usable=60.0))
    ports = listener_ports(aws)

    engine.create(make_ctx())

    assert ports.count(443) > 1  # UnsupportedCertificate right after ISSUED (the strict layer), then accepted
    assert ports.count(80) == 1
    assert https_certificate() == certificates()[0]
    assert service_status() == "ACTIVE"


def test_certificate_the_load_balancer_never_accepts_times_out_after_the_bound(aws, make_ctx, clock):
    tried: list[float] = []
    aws.injectors += [
        lambda s, o, p: tried.append(clock.now) if (o, p.get("Port")) == ("ModifyListener", 443) else None,
        fail_first(
            "elbv2",
            "ModifyListener",
            "UnsupportedCertificate",
            10**6,
            "The certificate must have a fully-qualified domain name, a supported signature, and a supported key size.",
            match={"Port": 443},
        ),
    ]

    with pytest.raises(WaitTimeout) as err:
        engine.create(make_ctx(timeouts=Timeouts(propagation=60)))

    assert err.value.exit_code == EXIT_TIMEOUT
    assert "UnsupportedCertificate" in err.value.message
    assert len(tried) > 2
    assert 60 - 1e-6 <= tried[-1] - tried[0] <= 60 + 15  # bounded by timeouts.propagation (retries up to 15 s apart)
    assert https_listener() is None  # the staging listener was never turned into HTTPS:443
    assert service_status() == "ACTIVE"  # the service started meanwhile, behind the closed staging port


# -- 11. ECS's service-linked role -------------------------------------------------------------
SLR = "AWSServiceRoleForECS"


def test_service_linked_role_is_created_in_a_fresh_account_before_the_cluster_once(aws, make_ctx):
    asked: list[str] = []
    aws.injectors.append(
        lambda s, o, p: asked.append(p.get("AWSServiceName")) if o == "CreateServiceLinkedRole" else None
    )
    assert not role_exists(SLR)  # a fresh account

    engine.create(make_ctx())

    assert asked == ["ecs.amazonaws.com"]
    assert aws.calls.index(("iam", "CreateServiceLinkedRole")) < aws.calls.index(("ecs", "CreateCluster"))
    role = client("iam").get_role(RoleName=SLR)["Role"]
    assert role["Path"] == "/aws-service-role/ecs.amazonaws.com/"
    assert service_status() == "ACTIVE"

    # another stack in the same account: the role is there
    other = config_text(
        replace={'env = "dev"': 'env = "prod"', f'hostname = "www.{ZONE}"': f'hostname = "prod.{ZONE}"'}
    ).replace("/web/dev/", "/web/prod/")
    aws.reset()
    engine.create(make_ctx(other))

    assert ("ecs", "CreateCluster") in aws.calls
    assert ("iam", "CreateServiceLinkedRole") not in aws.calls
    assert asked == ["ecs.amazonaws.com"]
    assert cluster_status("web-prod") == "ACTIVE"


def test_service_linked_role_denied_fails_naming_the_permission_before_the_cluster(aws, make_ctx):
    denied = (
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:CreateServiceLinkedRole on "
        "resource: arn:aws:iam::123456789012:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
    )
    aws.injectors.append(fail_first("iam", "CreateServiceLinkedRole", "AccessDenied", 10**6, denied, status=403))

    with pytest.raises(AwsError) as err:
        engine.create(make_ctx())

    assert err.value.code == "AccessDenied"
    assert SLR in err.value.message
    assert "iam:CreateServiceLinkedRole" in (err.value.hint or "")
    assert aws.calls.count(("iam", "CreateServiceLinkedRole")) == 1
    assert ("ecs", "CreateCluster") not in aws.calls
    assert cluster_status() is None
    assert not role_exists(SLR)


def test_service_linked_role_made_by_someone_else_since_the_plan_is_fine(aws, make_ctx):
    taken = "Service role name AWSServiceRoleForECS has been taken in this account, please try a different suffix."

    def raced(service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) != ("iam", "CreateServiceLinkedRole"):
            return None
        client("iam").create_service_linked_role(AWSServiceName="ecs.amazonaws.com")  # another run, a moment ago
        return aws_error("InvalidInput", taken)

    aws.injectors.append(raced)

    engine.create(make_ctx())

    assert aws.calls.count(("iam", "CreateServiceLinkedRole")) == 1
    assert role_exists(SLR)
    assert cluster_status() == "ACTIVE"
    assert service_status() == "ACTIVE"


# -- 12. IAM's eventual consistency ---------------------------------------------------------------
EXECUTION = "web-dev-execution"
IAM_READS = ("GetRole", "ListAttachedRolePolicies", "GetRolePolicy", "ListRolePolicies", "ListRoleTags")
TWO_SECRETS = config_text('API_KEY = "/web/dev/API_KEY"\n')
TWO_VALUES = {"DB_PASSWORD": SECRET_VALUE, "API_KEY": "api-k3y-value-0042"}


def test_new_roles_are_configured_without_reading_them_back(aws, make_ctx, clock):
    log = call_times(aws, clock)

    engine.create(make_ctx())

    iam = [(op, role) for service, op, _, role in log if service == "iam"]
    created = iam.index(("CreateRole", EXECUTION))
    policy = iam.index(("PutRolePolicy", EXECUTION))
    assert created < policy
    between = [op for op, role in iam[created:policy] if role == EXECUTION and op in IAM_READS]
    assert between == []  # IAM would answer NoSuchEntity: the role just made is known without asking
    client_iam = client("iam")
    attached = client_iam.list_attached_role_policies(RoleName=EXECUTION)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonECSTaskExecutionRolePolicy"]
    assert client_iam.list_role_policies(RoleName=EXECUTION)["PolicyNames"] == ["ecsup-secrets"]


def _deployment_ok() -> None:
    svc = service()
    assert svc is not None and svc["status"] == "ACTIVE"
    assert svc["taskDefinition"].endswith(":2")
    assert all(d.get("rolloutState") != "FAILED" for d in svc.get("deployments", []))


def test_tasks_start_only_once_a_permission_change_has_settled(aws, make_ctx, clock):
    engine.create(make_ctx())
    log = call_times(aws, clock)

    engine.create(make_ctx(TWO_SECRETS, secrets=TWO_VALUES))  # the execution role's inline policy changes

    put = [t for service, op, t, role in log if (op, role) == ("PutRolePolicy", EXECUTION)]
    update = [t for service, op, t, _ in log if (service, op) == ("ecs", "UpdateService")]
    assert len(put) == 1 and update
    assert update[0] - put[0] >= Timeouts().iam_settle
    _deployment_ok()  # the strict layer fails tasks started while a permission change applies


def test_time_of_a_permission_change_is_kept_on_the_role_for_the_next_run(aws, make_ctx, clock):
    engine.create(make_ctx())
    iam = client("iam")
    first = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=EXECUTION)["Tags"]}
    assert PERMISSIONS_TAG in first
    aws.reset()  # (the first create ends with an UpdateService: the strategy after the first deployment)
    log = call_times(aws, clock)
    crash = fail_first("ecs", "RegisterTaskDefinition", "ClientException", 1, "connection reset (injected crash)")
    aws.injectors.append(crash)

    with pytest.raises(AwsError):  # the run dies after changing the permissions, before the service
        engine.create(make_ctx(TWO_SECRETS, secrets=TWO_VALUES))

    put = [t for _, op, t, role in log if (op, role) == ("PutRolePolicy", EXECUTION)]
    assert len(put) == 1
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=EXECUTION)["Tags"]}
    changed = float(tags[PERMISSIONS_TAG])
    assert changed != float(first[PERMISSIONS_TAG])
    assert put[0] - 5 <= changed <= put[0]  # written just before the change itself
    assert ("ecs", "UpdateService") not in aws.calls

    log.clear()
    engine.create(make_ctx(TWO_SECRETS, secrets=TWO_VALUES))  # re-run at once: nothing to change in IAM

    assert [op for service, op, _, _ in log if service == "iam" and op == "PutRolePolicy"] == []
    update = [t for service, op, t, _ in log if (service, op) == ("ecs", "UpdateService")]
    assert update and update[0] >= changed + Timeouts().iam_settle
    _deployment_ok()


# -- 13. order-insensitive comparisons ------------------------------------------------------------
def listeners_answered(order: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> Injector:
    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) != ("elbv2", "DescribeListeners"):
            return None
        real = client("elbv2").describe_listeners(**params)
        for listener in real["Listeners"]:
            for action in listener.get("DefaultActions", []):
                groups = action.get("ForwardConfig", {}).get("TargetGroups")
                if groups:
                    action["ForwardConfig"]["TargetGroups"] = order(groups)
        return ok({k: v for k, v in real.items() if k != "ResponseMetadata"})

    return inject


def security_groups_shuffled(service: str, operation: str, params: dict[str, Any]) -> Any:
    if (service, operation) != ("ec2", "DescribeSecurityGroups"):
        return None
    real = client("ec2").describe_security_groups(**params)
    for group in real["SecurityGroups"]:
        group["IpPermissions"].reverse()
        for perm in group["IpPermissions"]:
            for key in ("IpRanges", "Ipv6Ranges", "UserIdGroupPairs"):
                perm.get(key, []).reverse()
    return ok({k: v for k, v in real.items() if k != "ResponseMetadata"})


def by_name(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(groups, key=lambda g: g["TargetGroupArn"].split("/")[-2])


def by_name_reversed(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return by_name(groups)[::-1]


def test_order_aws_does_not_promise_is_not_drift(aws, make_ctx):
    engine.create(make_ctx())
    aws.reset()
    ctx = make_ctx()
    ctx.mode = "plan"

    outcome = engine.make_plan(ctx)  # the strict layer stores the forward's groups reversed

    assert outcome.changes() == []
    assert {a.kind for a in outcome.actions} == {"noop"}, [a for a in outcome.actions if a.kind != "noop"]
    assert aws.mutating() == []

    for order in (by_name, by_name_reversed):
        aws.injectors[:] = [listeners_answered(order), security_groups_shuffled]
        ctx = make_ctx()
        ctx.mode = "plan"
        assert engine.make_plan(ctx).changes() == [], order.__name__
        report = collect(make_ctx())
        assert [r for r in report.rows if r.state == DRIFT] == [], order.__name__
        assert any(r.resource == "listener" and r.name.endswith("HTTPS:443") for r in report.rows)
    assert aws.mutating() == []


# -- 14. an alias to a load balancer Route53 does not see yet --------------------------------------
def test_alias_to_a_load_balancer_still_provisioning_is_retried(aws, make_ctx):
    batches = hostname_changes(aws)

    engine.create(make_ctx())

    assert len(batches) > 1  # refused right after CreateLoadBalancer (the strict layer), then accepted
    alias = records(HOST, "A")
    assert len(alias) == 1
    assert alias[0]["AliasTarget"]["DNSName"].rstrip(".").lower().removeprefix("dualstack.") == (
        alb()["DNSName"].lower()
    )


def test_other_invalid_change_batch_on_the_alias_is_not_retried(aws, make_ctx, clock):
    batches = hostname_changes(aws)
    conflict = (
        f"[RRSet of type A with DNS name {HOST} is not permitted because a conflicting RRSet of type CNAME with the "
        f"same DNS name already exists in zone {ZONE}.]"
    )

    def refuse(service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) == ("route53", "ChangeResourceRecordSets") and any(
            c["ResourceRecordSet"]["Name"].lower() == HOST for c in params["ChangeBatch"]["Changes"]
        ):
            return aws_error("InvalidChangeBatch", conflict)
        return None

    aws.injectors.append(refuse)
    start = clock.now

    with pytest.raises(AwsError) as err:
        engine.create(make_ctx())

    assert err.value.code == "InvalidChangeBatch"
    assert "conflicting RRSet" in err.value.message
    assert len(batches) == 1
    assert records(HOST, "A") == []
    assert clock.now - start < 30
