"""`ecsup destroy` against moto (STACK.md, "Destroy"): everything ecsup owns goes, data
stays unless purged, foreign resources are left alone, AWS delays are retried."""

from __future__ import annotations

import io
from typing import Any

from conftest import (
    REGION,
    SECRET_VALUE,
    ZONE,
    change_records,
    client,
    config_text,
    fail_first,
    issued_certificate,
    zone_id,
)
from typer.testing import CliRunner

from ecsup import engine
from ecsup.cli import app, run_destroy
from ecsup.context import Timeouts
from ecsup.errors import EXIT_REFUSED
from ecsup.render import ConsoleUI, make_console

HOST = f"www.{ZONE}."
MARKER = f"_ecsup.www.{ZONE}."
CLOUDFRONT = config_text(replace={'hostname = "www.': 'cloudfront_certificate = true\nhostname = "www.'})


# -- helpers -----------------------------------------------------------------------------
def destroy(ctx: Any, purge: bool = False) -> dict[str, Any]:
    """run_destroy with a plain, non-interactive console (no confirmation asked)."""
    ui = ConsoleUI(make_console(io.StringIO()), interactive=False)
    return run_destroy(ctx, ui, purge)


def names(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(str(a["resource"]), str(a["name"])) for a in items}


def records(name: str) -> list[dict[str, Any]]:
    rrs = client("route53").list_resource_record_sets(HostedZoneId=zone_id())["ResourceRecordSets"]
    return [r for r in rrs if r["Name"].lower() == name.lower()]


def validation_cname(region: str = REGION) -> tuple[str, str]:
    acm = client("acm", region)
    arn = acm.list_certificates()["CertificateSummaryList"][0]["CertificateArn"]
    rec = acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"][0]["ResourceRecord"]
    return rec["Name"], rec["Value"]


def load_balancers() -> list[str]:
    return [lb["LoadBalancerName"] for lb in client("elbv2").describe_load_balancers()["LoadBalancers"]]


def target_groups() -> list[str]:
    return [tg["TargetGroupName"] for tg in client("elbv2").describe_target_groups()["TargetGroups"]]


def listeners() -> list[str]:
    elb = client("elbv2")
    return [
        lst["ListenerArn"]
        for lb in elb.describe_load_balancers()["LoadBalancers"]
        for lst in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    ]


def security_groups() -> list[str]:
    groups = client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["web-dev-alb", "web-dev-tasks"]}]
    )["SecurityGroups"]
    return [g["GroupName"] for g in groups]


def certificates(region: str = REGION) -> list[str]:
    return [c["CertificateArn"] for c in client("acm", region).list_certificates()["CertificateSummaryList"]]


def role_exists(name: str) -> bool:
    try:
        client("iam").get_role(RoleName=name)
    except client("iam").exceptions.NoSuchEntityException:
        return False
    return True


def cluster_status(name: str = "web-dev") -> str | None:
    clusters = client("ecs").describe_clusters(clusters=[name])["clusters"]
    return str(clusters[0]["status"]) if clusters else None


def active_task_definitions() -> list[str]:
    return list(client("ecs").list_task_definitions(familyPrefix="web-dev", status="ACTIVE")["taskDefinitionArns"])


def service_status() -> str | None:
    try:
        services = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"]
    except client("ecs").exceptions.ClusterNotFoundException:
        return None
    return str(services[0]["status"]) if services else None


def parameter(name: str = "/web/dev/DB_PASSWORD") -> str | None:
    ssm = client("ssm")
    try:
        return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def log_group_exists(name: str = "/ecs/web-dev") -> bool:
    groups = client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return any(g["logGroupName"] == name for g in groups)


def host_records() -> list[dict[str, Any]]:
    return [r for r in records(HOST) if r["Type"] in ("A", "CNAME")]


def assert_stack_gone(cname: tuple[str, str]) -> None:
    """Every resource ecsup owns is gone; the zone, the secret and the log group stay."""
    assert load_balancers() == []
    assert target_groups() == []
    assert listeners() == []
    assert security_groups() == []
    assert certificates() == []
    assert not role_exists("web-dev-execution")
    assert not role_exists("web-dev-task")
    assert cluster_status() in (None, "INACTIVE")
    assert active_task_definitions() == []
    assert service_status() in (None, "INACTIVE")
    assert host_records() == []
    assert records(MARKER) == []
    assert [r for r in records(cname[0]) if r["Type"] == "CNAME"] == []
    assert zone_id()  # the hosted zone is never removed


# -- 1. a full destroy ---------------------------------------------------------------------
def test_destroy_removes_every_owned_resource_and_keeps_the_data(aws, make_ctx):
    engine.create(make_ctx())
    cname = validation_cname()
    assert [r for r in records(cname[0]) if r["Type"] == "CNAME"]
    assert host_records() and records(MARKER)
    aws.reset()

    result = destroy(make_ctx())

    assert_stack_gone(cname)
    assert parameter() == SECRET_VALUE
    assert log_group_exists()
    assert result["failed"] == []
    deleted = {a["resource"] for a in result["deleted"]}
    assert {
        "ECS service",
        "task definition",
        "ECS cluster",
        "IAM role",
        "DNS record",
        "listeners",
        "load balancer",
        "target group",
        "security group",
        "certificate",
        "validation records",
    } <= deleted
    kept = names(result["kept"])
    assert {("secret", "/web/dev/DB_PASSWORD"), ("log group", "/ecs/web-dev"), ("hosted zone", ZONE)} <= kept
    assert_destroy_order(aws.writes())


def assert_destroy_order(calls: list[tuple[str, str]]) -> None:
    """What AWS needs gone first, with deletions running at once where it does not: the
    service before the cluster, roles and tasks' security group; listeners before target
    groups, the load balancer and the certificate; the load balancer before the last security
    group (the ALB's); validation records after the certificate."""

    def first(op: tuple[str, str]) -> int:
        assert op in calls, (op, calls)
        return calls.index(op)

    def last(op: tuple[str, str]) -> int:
        return len(calls) - 1 - calls[::-1].index(op)

    assert last(("ecs", "DeleteService")) < first(("ecs", "DeleteCluster"))
    assert last(("ecs", "DeleteService")) < first(("iam", "DeleteRole"))
    assert last(("ecs", "DeregisterTaskDefinition")) < first(("ecs", "DeleteCluster"))
    assert last(("elbv2", "DeleteListener")) < first(("elbv2", "DeleteTargetGroup"))
    assert last(("elbv2", "DeleteListener")) < first(("elbv2", "DeleteLoadBalancer"))
    assert last(("ecs", "DeleteService")) < first(("ec2", "DeleteSecurityGroup"))
    assert last(("elbv2", "DeleteLoadBalancer")) < last(("ec2", "DeleteSecurityGroup"))
    assert last(("elbv2", "DeleteListener")) < first(("acm", "DeleteCertificate"))
    assert last(("acm", "DeleteCertificate")) < last(("route53", "ChangeResourceRecordSets"))
    assert ("ssm", "DeleteParameter") not in calls and ("logs", "DeleteLogGroup") not in calls


def test_destroy_removes_the_cloudfront_certificate_too(aws, make_ctx):
    engine.create(make_ctx(CLOUDFRONT))
    assert len(certificates("us-east-1")) == 1
    cname = validation_cname()

    result = destroy(make_ctx(CLOUDFRONT))

    assert result["failed"] == []
    assert certificates("us-east-1") == []
    assert_stack_gone(cname)
    assert parameter() == SECRET_VALUE
    assert log_group_exists()


# -- 2. purge ---------------------------------------------------------------------------
def test_purge_removes_secrets_and_log_group_but_not_a_parameter_ecsup_did_not_make(aws, make_ctx):
    client("ssm").put_parameter(Name="/web/dev/API_KEY", Value="theirs-1234", Type="SecureString")
    text = config_text('API_KEY = "/web/dev/API_KEY"\n')
    engine.create(make_ctx(text))
    assert parameter() == SECRET_VALUE and parameter("/web/dev/API_KEY") == "theirs-1234"
    cname = validation_cname()

    result = destroy(make_ctx(text), purge=True)

    assert result["failed"] == []
    assert_stack_gone(cname)
    assert parameter() is None
    assert not log_group_exists()
    assert parameter("/web/dev/API_KEY") == "theirs-1234"
    assert ("secret", "/web/dev/DB_PASSWORD") in names(result["deleted"])
    assert ("log group", "/ecs/web-dev") in names(result["deleted"])
    assert ("secret", "/web/dev/API_KEY") in names(result["kept"])
    # a second purge is a no-op too
    aws.reset()
    again = destroy(make_ctx(text), purge=True)
    assert aws.mutating() == []
    assert again["deleted"] == [] and again["failed"] == []


# -- 3. idempotence ---------------------------------------------------------------------
def test_second_destroy_is_a_no_op(aws, make_ctx):
    engine.create(make_ctx())
    destroy(make_ctx())
    aws.reset()

    result = destroy(make_ctx())

    assert aws.mutating() == []
    assert result["deleted"] == [] and result["failed"] == []
    outcome = engine.plan_destroy(make_ctx())
    assert [a for a in outcome.actions if a.kind == "delete"] == []


# -- 4. create again ---------------------------------------------------------------------
def test_create_destroy_create(aws, make_ctx):
    engine.create(make_ctx())
    destroy(make_ctx())

    outcome = engine.create(make_ctx())

    kinds = {(a.resource, a.kind) for a in outcome.actions}
    assert ("load balancer", "create") in kinds and ("ECS service", "create") in kinds
    assert load_balancers() == ["web-dev"]
    assert sorted(target_groups()) == ["web-dev-blue", "web-dev-green"]
    assert len(listeners()) == 2
    assert service_status() == "ACTIVE"
    assert cluster_status() == "ACTIVE"
    assert len(certificates()) == 1
    assert len(host_records()) == 1
    assert parameter() == SECRET_VALUE
    # and the rebuilt stack converges
    aws.reset()
    engine.create(make_ctx())
    assert aws.mutating() == []


# -- 5. foreign resources ---------------------------------------------------------------
def test_foreign_same_named_resources_are_left_alone(aws, make_ctx, clock):
    client("iam").create_role(RoleName="web-dev-task", AssumeRolePolicyDocument="{}")
    client("logs").create_log_group(logGroupName="/ecs/web-dev")
    client("ecs").create_cluster(clusterName="web-dev")
    clock.sleep(60)  # made a while ago: visible to every read by now
    aws.reset()

    result = destroy(make_ctx(), purge=True)

    assert aws.mutating() == []
    assert role_exists("web-dev-task")
    assert log_group_exists()
    assert cluster_status() == "ACTIVE"
    assert result["deleted"] == [] and result["failed"] == []
    kept = {(a["resource"], a["name"]): a["kind"] for a in result["kept"]}
    assert kept[("IAM role", "web-dev-task")] == "skip"
    assert kept[("ECS cluster", "web-dev")] == "skip"
    assert kept[("log group", "/ecs/web-dev")] in ("keep", "skip")


def test_foreign_resources_next_to_a_stack_survive_its_destroy(aws, make_ctx):
    """A stack for another env (same app) shares nothing with this one's destroy."""
    engine.create(make_ctx())
    other = config_text(
        replace={'env = "dev"': 'env = "prod"', f'hostname = "www.{ZONE}"': f'hostname = "prod.{ZONE}"'}
    ).replace("/web/dev/", "/web/prod/")
    engine.create(make_ctx(other))
    cname = validation_cname()

    destroy(make_ctx(), purge=True)

    assert load_balancers() == ["web-prod"]
    assert role_exists("web-prod-task") and role_exists("web-prod-execution")
    assert cluster_status("web-prod") == "ACTIVE"
    assert log_group_exists("/ecs/web-prod")
    assert parameter("/web/prod/DB_PASSWORD") == SECRET_VALUE
    assert len(certificates()) == 1
    # the prod certificate has the same validation record: it stays
    assert [r for r in records(cname[0]) if r["Type"] == "CNAME"]
    assert [r for r in records(f"prod.{ZONE}.") if r["Type"] == "A"]


def test_foreign_task_definition_of_the_family_is_left_alone_and_not_reported_deleted(aws, make_ctx, tmp_path):
    """Ownership is checked when planning: a revision ecsup did not make is neither touched nor
    announced as deleted (nor does it make destroy ask for a confirmation)."""
    client("ecs").register_task_definition(
        family="web-dev",
        containerDefinitions=[{"name": "x", "image": "busybox", "memory": 128}],
    )
    aws.reset()

    result = destroy(make_ctx(), purge=True)

    assert aws.mutating() == []
    assert len(active_task_definitions()) == 1
    assert result["deleted"] == []
    assert ("task definition", "web-dev") in names(result["kept"])
    cli = CliRunner().invoke(app, ["destroy", "-c", _config_file(tmp_path)])  # no --yes, not a terminal
    assert cli.exit_code == 0, cli.output
    assert "nothing to delete" in cli.output
    assert len(active_task_definitions()) == 1


# -- 6. AWS delays are retried -------------------------------------------------------------
def test_injected_release_delays_are_retried(aws, make_ctx, clock):
    engine.create(make_ctx())
    cname = validation_cname()
    injectors = [
        fail_first("ec2", "DeleteSecurityGroup", "DependencyViolation", 3),
        fail_first("elbv2", "DeleteTargetGroup", "ResourceInUse", 3),
        fail_first("acm", "DeleteCertificate", "ResourceInUseException", 3),
        fail_first("ecs", "DeleteCluster", "ClusterContainsTasksException", 2),
    ]
    aws.injectors.extend(injectors)
    aws.reset()
    start = clock.now

    result = destroy(make_ctx())

    assert result["failed"] == []
    assert [inj.remaining["n"] for inj in injectors] == [0, 0, 0, 0]
    # each injected answer was retried (the strict layer adds AWS's own release delays on top)
    assert aws.calls.count(("ec2", "DeleteSecurityGroup")) >= 2 + 3
    assert aws.calls.count(("elbv2", "DeleteTargetGroup")) == 2 + 3
    assert aws.calls.count(("acm", "DeleteCertificate")) >= 1 + 3
    assert aws.calls.count(("ecs", "DeleteCluster")) == 1 + 2
    assert clock.now > start  # waited (on the fake clock) between attempts
    assert_stack_gone(cname)


def test_a_delay_past_the_bound_is_reported_and_the_rest_is_deleted(aws, make_ctx, clock):
    engine.create(make_ctx())
    cname = validation_cname()
    stuck = fail_first("ecs", "DeleteCluster", "ClusterContainsTasksException", 10**6)
    tried: list[float] = []
    aws.injectors += [
        lambda service, operation, params: tried.append(clock.now) if operation == "DeleteCluster" else None,
        stuck,
    ]

    result = destroy(make_ctx(timeouts=Timeouts(release=300)))

    assert [(f["resource"], f["name"]) for f in result["failed"]] == [("ECS cluster", "web-dev")]
    assert "ClusterContainsTasksException" in result["failed"][0]["error"]
    assert ("ECS cluster", "web-dev") not in names(result["deleted"])
    assert 300 <= tried[-1] - tried[0] <= 300 + 15  # bounded by timeouts.release (retries up to 15 s apart)
    assert aws.calls.count(("ecs", "DeleteCluster")) > 1
    assert cluster_status() == "ACTIVE"
    # everything after the cluster in destroy order was still deleted
    assert load_balancers() == [] and target_groups() == [] and security_groups() == []
    assert certificates() == []
    assert not role_exists("web-dev-execution") and not role_exists("web-dev-task")
    assert host_records() == [] and [r for r in records(cname[0]) if r["Type"] == "CNAME"] == []
    assert service_status() in (None, "INACTIVE")

    # once AWS lets go, destroy again finishes the job
    aws.injectors.clear()
    result = destroy(make_ctx())
    assert names(result["deleted"]) == {("ECS cluster", "web-dev")}
    assert result["failed"] == []
    assert cluster_status() in (None, "INACTIVE")


# -- 7. DNS changed out of band -----------------------------------------------------------
def test_dns_record_changed_out_of_band_is_left_alone(aws, make_ctx):
    engine.create(make_ctx())
    change_records("UPSERT", {"Name": HOST, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.10"}]})
    before = host_records()

    result = destroy(make_ctx())

    assert host_records() == before
    assert load_balancers() == []
    assert result["failed"] == []
    skipped = [a for a in result["kept"] if a["resource"] == "DNS record"]
    assert [a["kind"] for a in skipped] == ["skip"]
    assert "not what ecsup wrote" in str(skipped[0]["detail"])
    assert ("DNS record", f"www.{ZONE}") not in names(result["deleted"])


def test_dns_record_changed_to_a_cname_elsewhere_is_left_alone(aws, make_ctx):
    engine.create(make_ctx())
    current = host_records()[0]
    client("route53").change_resource_record_sets(
        HostedZoneId=zone_id(),
        ChangeBatch={
            "Changes": [
                {"Action": "DELETE", "ResourceRecordSet": current},
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": HOST,
                        "Type": "CNAME",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "elsewhere.example.net"}],
                    },
                },
            ]
        },
    )

    result = destroy(make_ctx())

    remaining = host_records()
    assert [(r["Type"], r["ResourceRecords"][0]["Value"]) for r in remaining] == [("CNAME", "elsewhere.example.net")]
    assert ("DNS record", f"www.{ZONE}") in names(result["kept"])


# -- 8. shared validation record ------------------------------------------------------------
def test_validation_record_used_by_another_certificate_is_kept(aws, make_ctx):
    engine.create(make_ctx())
    acm = client("acm")
    other = issued_certificate(ZONE)
    other_record = acm.describe_certificate(CertificateArn=other)["Certificate"]["DomainValidationOptions"][0][
        "ResourceRecord"
    ]
    cname = validation_cname()
    assert other_record["Name"] in {cname[0], cname[0].rstrip(".")}

    result = destroy(make_ctx())

    assert result["failed"] == []
    assert certificates() == [other]
    assert [r["ResourceRecords"][0]["Value"] for r in records(cname[0]) if r["Type"] == "CNAME"] == [cname[1]]
    assert load_balancers() == [] and host_records() == []
    # once the other certificate is gone too, nothing of ecsup's is left to delete
    acm.delete_certificate(CertificateArn=other)
    aws.reset()
    destroy(make_ctx())
    assert aws.mutating() == []


def test_validation_record_of_a_certificate_that_could_not_be_deleted_is_kept(aws, make_ctx):
    """A certificate still in use (say, attached to someone's other load balancer) past the bound
    is not deleted; it still needs its validation record to renew."""
    engine.create(make_ctx())
    cname = validation_cname()
    aws.injectors.append(fail_first("acm", "DeleteCertificate", "ResourceInUseException", 10**6))

    result = destroy(make_ctx(timeouts=Timeouts(release=300)))

    assert names(result["failed"]) == {("certificate", f"{ZONE} ({REGION})")}
    assert len(certificates()) == 1
    assert [r["ResourceRecords"][0]["Value"] for r in records(cname[0]) if r["Type"] == "CNAME"] == [cname[1]]
    assert load_balancers() == [] and security_groups() == []


# -- 9. the CLI ------------------------------------------------------------------------------
def _config_file(tmp_path: Any, text: str | None = None) -> str:
    path = tmp_path / "ecsup.toml"
    path.write_text(text if text is not None else config_text())
    return str(path)


def test_cli_destroy_without_yes_off_a_terminal_refuses(aws, make_ctx, tmp_path):
    engine.create(make_ctx())
    path = _config_file(tmp_path)
    aws.reset()

    refused = CliRunner().invoke(app, ["destroy", "-c", path])

    assert refused.exit_code == EXIT_REFUSED, refused.output
    assert "--yes" in refused.output
    assert aws.mutating() == []
    assert load_balancers() == ["web-dev"]

    done = CliRunner().invoke(app, ["destroy", "-c", path, "--yes"])

    assert done.exit_code == 0, done.output
    assert load_balancers() == [] and certificates() == [] and security_groups() == []
    assert parameter() == SECRET_VALUE and log_group_exists()


def test_cli_destroy_of_a_missing_stack_exits_0_and_says_so(aws, tmp_path):
    path = _config_file(tmp_path)

    result = CliRunner().invoke(app, ["destroy", "-c", path])

    assert result.exit_code == 0, result.output
    assert "nothing to delete" in result.output
    assert aws.mutating() == []


def test_cli_destroy_reports_a_failure_with_a_nonzero_exit(aws, make_ctx, tmp_path):
    engine.create(make_ctx())
    path = _config_file(tmp_path)
    aws.injectors.append(fail_first("iam", "DeleteRole", "AccessDenied", 10**6, status=403))

    result = CliRunner().invoke(app, ["destroy", "-c", path, "--yes", "--json"])

    assert result.exit_code == 1, result.output
    assert "failed    IAM role" in result.output
    assert aws.calls.count(("iam", "DeleteRole")) == 3  # AccessDenied: reported, not retried
    assert role_exists("web-dev-execution") and role_exists("web-dev-task")
    assert load_balancers() == [] and security_groups() == [] and certificates() == []


def test_destroy_right_after_a_create_stopped_past_create_role_deletes_the_roles(aws, make_ctx, clock):
    """Ctrl-C just after the roles' CreateRole (they are made at once, right after the load
    balancer): IAM does not show a role to reads for a moment (eventual consistency), so the
    destroy that follows at once found none and left all three. The stack changed moments ago (its
    generation parameter): a role that reads as missing is looked at again until IAM shows it."""
    import pytest

    def ctrl_c(service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) in (("iam", "AttachRolePolicy"), ("iam", "PutRolePolicy")):
            raise KeyboardInterrupt  # the roles' next calls: every CreateRole was sent
        return None

    aws.injectors.append(ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        engine.create(make_ctx())
    aws.injectors.clear()
    roles = ("web-dev-execution", "web-dev-task", "web-dev-infrastructure")
    made = {r["RoleName"] for r in client("iam").list_roles()["Roles"]}
    assert set(roles) <= made  # made before the interrupt ...
    unseen = []
    for role in roles:  # ... and not yet shown to reads (IAM's eventual consistency)
        try:
            client("iam").get_role(RoleName=role)
        except Exception as exc:
            unseen.append(getattr(exc, "response", {}).get("Error", {}).get("Code"))
    assert unseen == ["NoSuchEntity"] * 3

    result = destroy(make_ctx(), purge=True)

    assert result["failed"] == []
    assert {name for resource, name in names(result["deleted"]) if resource == "IAM role"} == set(roles)
    assert not {r["RoleName"] for r in client("iam").list_roles()["Roles"]} & set(roles)


def test_destroy_of_a_stack_that_never_ran_waits_for_no_role(aws, make_ctx, clock):
    """No run changed the stack (no generation parameter): a missing role is missing, no wait."""
    result = destroy(make_ctx(), purge=True)
    assert result["deleted"] == [] and clock.sleeps == []
