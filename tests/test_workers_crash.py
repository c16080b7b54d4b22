"""A stack with workers (one with auto scaling), crashed right before each mutating call of a
create and of a destroy: the next run converges -- exactly one of each resource with every
setting right after create, nothing of the stack left after destroy."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ZONE, Recorder, client, config_text
from moto import mock_aws, settings
from test_crash import Crash, _crash_before
from test_destroy import assert_stack_gone
from test_workers import SCALED, SECRETS, WORKER, families

from ecsup import engine

# the worker's own secret left out: assert_full_stack checks the execution role reads [service]'s only
TEXT = config_text(WORKER.split("[workers.mailer.secrets]")[0] + SCALED)


def _fresh_account() -> None:
    client("route53").create_hosted_zone(Name=ZONE, CallerReference="tests")


def _services() -> list[str]:
    arns = client("ecs").list_services(cluster="web-dev", maxResults=100)["serviceArns"]
    return sorted(a.split("/")[-1] for a in arns)


def assert_workers() -> None:
    """Each worker exactly once, on the one revision of its family, as configured."""
    ecs = client("ecs")
    assert _services() == ["web-dev", "web-dev-crunch", "web-dev-mailer"]
    assert sorted(f for f in families("ACTIVE") if f.startswith("web-dev-")) == [
        "web-dev-crunch:1",
        "web-dev-mailer:1",
    ]
    found = ecs.describe_services(cluster="web-dev", services=["web-dev-mailer", "web-dev-crunch"])["services"]
    for svc in found:
        assert svc.get("loadBalancers", []) == []
        assert svc["runningCount"] == svc["desiredCount"] == 1
        assert svc["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        (c,) = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"][
            "containerDefinitions"
        ]
        assert c["command"] == (["bundle", "exec", "sidekiq"] if c["name"] == "mailer" else ["python", "crunch.py"])
    aas = client("application-autoscaling")
    rid = "service/web-dev/web-dev-crunch"
    (target,) = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 5)
    policies = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"]
    assert [p["PolicyName"] for p in policies] == ["ecsup-web-dev-crunch-cpu"]


def assert_web_stack() -> None:
    """The web part of the stack, one of each (test_create's assert_full_stack checks every setting
    of a stack without auto scaling; here the workers' scaling adds its alarms, and the no-op re-run
    below shows that every setting converged)."""
    elb, ecs = client("elbv2"), client("ecs")
    (lb,) = elb.describe_load_balancers()["LoadBalancers"]
    assert sorted(tg["TargetGroupName"] for tg in elb.describe_target_groups()["TargetGroups"]) == [
        "web-dev-blue",
        "web-dev-green",
    ]
    ports = sorted(x["Port"] for x in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"])
    assert ports == [80, 443]
    assert len(client("acm").list_certificates()["CertificateSummaryList"]) == 1
    (web,) = ecs.describe_services(cluster="web-dev", services=["web-dev"])["services"]
    assert web["status"] == "ACTIVE" and web["runningCount"] == web["desiredCount"] == 1
    assert [d["rolloutState"] for d in web["deployments"]] == ["COMPLETED"]
    assert sorted(f for f in families("ACTIVE") if f.startswith("web-dev:")) == ["web-dev:1"]
    for role in ("web-dev-execution", "web-dev-task", "web-dev-infrastructure"):
        client("iam").get_role(RoleName=role)
    (cluster,) = ecs.describe_clusters(clusters=["web-dev"], include=["TAGS"])["clusters"]
    assert {"key": "ecsup:workers", "value": "true"} in cluster["tags"]


def test_create_with_workers_converges_after_a_crash_before_every_mutating_call(
    make_ctx: Any, strict_aws: Any, shared_clients: Any
) -> None:
    assert strict_aws.strict
    settings.ACM_VALIDATION_WAIT = 0
    recorder = Recorder()
    shared_clients(recorder)

    with mock_aws():
        _fresh_account()
        engine.create(make_ctx(TEXT, secrets=SECRETS))
        operations = [op for _, op in recorder.mutating()]
        assert_workers()
    assert operations.count("CreateService") == 3 and "PutScalingPolicy" in operations

    crashed_at: list[str] = []
    for n in range(1, len(operations) + 1):
        recorder.reset()
        with mock_aws():
            _fresh_account()
            recorder.injectors = [_crash_before(n, crashed_at)]
            with pytest.raises(Crash):
                engine.create(make_ctx(TEXT, secrets=SECRETS))
            recorder.injectors = []
            engine.create(make_ctx(TEXT, secrets=SECRETS))  # resume
            assert_web_stack()
            assert_workers()
            recorder.reset()
            engine.create(make_ctx(TEXT, secrets=SECRETS))
            assert recorder.writes() == [], f"after a crash before call #{n} ({crashed_at[-1]})"
    assert crashed_at == operations


def _destroy(ctx: Any) -> None:
    outcome = engine.plan_destroy(ctx)
    if not [a for a in outcome.actions if a.kind == "delete"]:
        return
    with engine.destroy_locked(ctx):
        result = engine.destroy(ctx, outcome)
    assert not result.failed and not result.left, (result.failed, result.left)


def assert_no_workers_left() -> None:
    assert [f for f in families("ACTIVE") + families("INACTIVE") if f.startswith("web-dev")] == []
    assert client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    try:
        found = client("ecs").describe_services(cluster="web-dev", services=["web-dev-mailer", "web-dev-crunch"])
        assert all(s["status"] == "INACTIVE" for s in found["services"])
    except client("ecs").exceptions.ClusterNotFoundException:
        pass


def test_destroy_with_workers_converges_after_a_crash_before_every_mutating_call(
    make_ctx: Any, strict_aws: Any, shared_clients: Any
) -> None:
    settings.ACM_VALIDATION_WAIT = 0
    recorder = Recorder()
    shared_clients(recorder)

    with mock_aws():
        _fresh_account()
        engine.create(make_ctx(TEXT, secrets=SECRETS))
        recorder.reset()
        _destroy(make_ctx(TEXT, secrets=SECRETS))
        operations = [op for _, op in recorder.mutating()]
        assert_no_workers_left()
    assert operations.count("DeleteService") == 3 and "DeregisterScalableTarget" in operations

    # The deletions run at once, through rounds (engine.destroy): the same mutating calls in the
    # same order every time, so the n-th is the same call in every run.
    crashed_at: list[str] = []
    for n in range(1, len(operations) + 1):
        with mock_aws():
            _fresh_account()
            recorder.injectors = []
            engine.create(make_ctx(TEXT, secrets=SECRETS))
            recorder.reset()
            recorder.injectors = [_crash_before(n, crashed_at)]
            with pytest.raises(Crash):
                _destroy(make_ctx(TEXT, secrets=SECRETS))
            recorder.injectors = []
            _destroy(make_ctx(TEXT, secrets=SECRETS))  # resume
            # not the certificate's validation record: a run killed after the certificate's deletion
            # and before its record's leaves the record, which no later run finds (nothing names it
            # once the certificate is gone) -- a stack without workers too; outside the workers' part
            assert_stack_gone(("not-the-validation-record." + ZONE + ".", ""))
            assert_no_workers_left()
    assert crashed_at == operations
