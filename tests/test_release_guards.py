"""Guards that make exec, the shared load balancer and deployment alarms do on real AWS what they
seem to do, on the strict layer: ECS Exec refused with a read-only root file system and checked
against the task's ExecuteCommandAgent; a hostname too long for a host-header rule; composite
alarms in [service.deploy.alarms] names; a deployment that starts with an alarm already in ALARM
(ECS would not act on it); and an error-rate alarm that sees an outage the load balancer answers
itself."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from conftest import ZONE, Recorder, aws_error, client, config_text, explain, invoke
from test_alarms import IMAGE_2
from test_exec import EXEC_ON, plugin, write  # noqa: F401 (plugin: a fixture)

from ecsup import engine
from ecsup.context import SilentUI
from ecsup.errors import EXIT_CONFIG, EXIT_REFUSED, EXIT_TIMEOUT, EXIT_UNHEALTHY, ConfigError

SHARED = '\n[load_balancer]\nshared = "edge"\n'
# 60 + 1 + 60 + 1 + 16 = 138 characters: a valid DNS name in the zone, too long for a host-header value
LONG_HOST = f"{'a' * 60}.{'b' * 60}.{ZONE}"


# -- ECS Exec --------------------------------------------------------------------------------------
def test_exec_with_a_read_only_root_file_system_is_a_config_error_naming_both_keys(aws, tmp_path):
    from ecsup.config import parse

    text = EXEC_ON.replace("exec = true", "exec = true\nreadonly_root_filesystem = true")
    with pytest.raises(ConfigError) as err:
        parse(text)
    message = str(err.value)
    assert "service.exec" in message and "service.readonly_root_filesystem" in message and "SSM agent" in message
    result = invoke("plan", "-c", write(tmp_path, text))
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert "readonly_root_filesystem" in result.stderr and "Traceback" not in result.output
    assert aws.calls == []
    # each alone is fine
    parse_ok = EXEC_ON.replace("exec = true", "readonly_root_filesystem = true")
    assert parse(parse_ok).service.readonly_root_filesystem is True
    assert parse(EXEC_ON).service.exec is True


def test_exec_waits_for_nothing_it_says_when_the_agent_is_still_starting(aws, make_ctx, tmp_path, plugin, clock):  # noqa: F811
    """The emulated ECS reports the task's ExecuteCommandAgent PENDING for a while after the task
    starts (then RUNNING), and ExecuteCommand fails until then: ecsup says so, calls nothing."""
    from ecsup import emulation

    engine.create(make_ctx(EXEC_ON))
    em = emulation.ACTIVE
    assert em is not None
    em.delays = replace(em.delays, exec_agent_start=3600)  # the agent is still starting
    task_arn = client("ecs").list_tasks(cluster="web-dev", serviceName="web-dev")["taskArns"][0]
    task = client("ecs").describe_tasks(cluster="web-dev", tasks=[task_arn])["tasks"][0]
    [agent] = task["containers"][0]["managedAgents"]
    assert agent["name"] == "ExecuteCommandAgent" and agent["lastStatus"] == "PENDING"
    aws.reset()
    path = write(tmp_path, EXEC_ON)
    result = invoke("exec", "-c", path)
    assert result.exit_code == EXIT_UNHEALTHY, explain(result)
    assert "ExecuteCommandAgent" in result.stderr and "PENDING" in result.stderr
    assert "wait a few seconds" in result.stderr
    assert ("ecs", "ExecuteCommand") not in aws.calls and not plugin.exists()
    # AWS itself refuses ExecuteCommand while the agent does not run
    with pytest.raises(client("ecs").exceptions.InvalidParameterException):
        client("ecs").execute_command(
            cluster="web-dev", task=task_arn, container="web", command="/bin/sh", interactive=True
        )
    clock.sleep(3600)  # the agent runs now
    task = client("ecs").describe_tasks(cluster="web-dev", tasks=[task_arn])["tasks"][0]
    assert task["containers"][0]["managedAgents"][0]["lastStatus"] == "RUNNING"
    assert "lastStartedAt" in task["containers"][0]["managedAgents"][0]
    result = invoke("exec", "-c", path)
    assert result.exit_code == 0, explain(result)
    assert ("ecs", "ExecuteCommand") in aws.calls and plugin.exists()


def test_exec_into_a_task_whose_agent_stopped_says_how_to_find_out_why(aws, make_ctx, tmp_path, plugin, clock):  # noqa: F811
    """An agent AWS reports STOPPED (no ssmmessages permissions, a file system it cannot write, ...):
    the reason and where to look, not AWS's raw InvalidParameterException."""
    engine.create(make_ctx(EXEC_ON))
    clock.sleep(60)

    def agent_stopped(service: str, operation: str, params: dict[str, Any]) -> Any:
        if operation != "DescribeTasks":
            return None
        real = client("ecs").describe_tasks(cluster=params["cluster"], tasks=params["tasks"])
        for task in real["tasks"]:
            for container in task["containers"]:
                container["managedAgents"] = [
                    {"name": "ExecuteCommandAgent", "lastStatus": "STOPPED", "reason": "Agent exited unexpectedly"}
                ]
        http, _ = aws_error("x")
        http.status_code = 200
        return http, real

    aws.injectors.append(agent_stopped)
    aws.reset()
    result = invoke("exec", "-c", write(tmp_path, EXEC_ON))
    assert result.exit_code == EXIT_UNHEALTHY, explain(result)
    err = " ".join(result.stderr.split())
    assert "is STOPPED (Agent exited unexpectedly)" in err
    assert "ssmmessages" in err and "amazon-ecs-exec-checker" in err and "describe-tasks" in err
    # new tasks come from a new deployment of the same revision (deploy without --image starts none)
    assert "`ecsup restart`" in err and "ecsup deploy" not in err
    assert ("ecs", "ExecuteCommand") not in aws.calls and not plugin.exists()


def test_a_task_older_than_the_services_exec_flag_is_sent_to_restart(aws, make_ctx, tmp_path, plugin, clock):  # noqa: F811
    """The service has ECS Exec on (create has nothing left to change) but the chosen task was
    started before: only a new deployment of the same revision gives it the agent."""
    engine.create(make_ctx(EXEC_ON))
    clock.sleep(60)

    def started_before(service: str, operation: str, params: dict[str, Any]) -> Any:
        if operation != "DescribeTasks":
            return None
        real = client("ecs").describe_tasks(cluster=params["cluster"], tasks=params["tasks"])
        for task in real["tasks"]:
            task["enableExecuteCommand"] = False
        http, _ = aws_error("x")
        http.status_code = 200
        return http, real

    aws.injectors.append(started_before)
    result = invoke("exec", "-c", write(tmp_path, EXEC_ON))
    assert result.exit_code == EXIT_CONFIG, explain(result)
    err = " ".join(result.stderr.split())
    assert "was started without ECS Exec" in err and "`ecsup restart`" in err
    assert "ecsup deploy" not in err and "ecsup create" not in err
    assert not plugin.exists()


# -- a hostname too long for a host-header rule ----------------------------------------------------
def test_a_hostname_over_128_characters_on_a_shared_load_balancer_is_refused_before_any_change(aws, tmp_path):
    from ecsup.config import parse

    text = config_text(SHARED, replace={f'hostname = "www.{ZONE}"': f'hostname = "{LONG_HOST}"'})
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert "dns.hostname" in str(err.value) and "128" in str(err.value) and str(len(LONG_HOST)) in str(err.value)
    result = invoke("create", "-c", write(tmp_path, text))
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert "dns.hostname" in result.stderr
    assert aws.mutating() == []
    # on its own load balancer the hostname is no rule's value: accepted
    own = config_text(replace={f'hostname = "www.{ZONE}"': f'hostname = "{LONG_HOST}"'})
    assert parse(own).dns.hostname == LONG_HOST


def test_elb_refuses_a_host_header_value_over_128_characters(aws: Recorder, make_ctx):
    """The layer every test runs on answers CreateRule and ModifyRule with a host-header value over
    128 characters ValidationError, as ELB does (moto itself checks this one: "The 'host-header'
    value is too long; the limit is '128'"), so that ecsup's refusal is what stands between a long
    hostname and a join that fails half-way."""
    from botocore.exceptions import ClientError

    engine.create(make_ctx(config_text(SHARED)))
    elb = client("elbv2")
    lb = next(lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"] == "edge")
    listener = next(
        li for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] if li["Port"] == 443
    )
    [rule] = [r for r in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"] if not r["IsDefault"]]
    too_long = "x" * 120 + ".examples"  # 129 characters
    for call in (
        lambda host: elb.create_rule(
            ListenerArn=listener["ListenerArn"],
            Priority=4000,
            Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        ),
        lambda host: elb.modify_rule(
            RuleArn=rule["RuleArn"], Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}]
        ),
    ):
        with pytest.raises(ClientError) as err:
            call(too_long)
        assert err.value.response["Error"]["Code"] == "ValidationError" and "128" in str(err.value)
    made = elb.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=4000,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [too_long[:128]]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )
    assert made["Rules"][0]["Conditions"][0]["HostHeaderConfig"]["Values"] == [too_long[:128]]


# -- composite alarms in names ---------------------------------------------------------------------
def _metric_alarm(name: str) -> None:
    client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1000.0,
        ComparisonOperator="GreaterThanThreshold",
    )


def test_a_composite_alarm_in_names_is_found_and_watched(aws, make_ctx, tmp_path):
    _metric_alarm("queue-depth")
    client("cloudwatch").put_composite_alarm(AlarmName="backend-health", AlarmRule="ALARM(queue-depth)")
    # the strict layer: DescribeAlarms lists composite alarms only when AlarmTypes asks for them
    cw = client("cloudwatch")
    assert cw.describe_alarms(AlarmNames=["backend-health"])["CompositeAlarms"] == []
    both = cw.describe_alarms(AlarmNames=["backend-health"], AlarmTypes=["CompositeAlarm", "MetricAlarm"])
    assert [a["AlarmName"] for a in both["CompositeAlarms"]] == ["backend-health"]

    text = config_text('\n[service.deploy.alarms]\nnames = ["backend-health"]\n')
    engine.create(make_ctx(text))
    svc = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    assert sorted(svc["deploymentConfiguration"]["alarms"]["alarmNames"]) == ["backend-health", "ecsup-web-dev-5xx"]
    client("cloudwatch").set_alarm_state(AlarmName="backend-health", StateValue="ALARM", StateReason="queue deep")
    path = write(tmp_path, text)
    result = invoke("status", "-c", path, "--json")
    report = json.loads(result.stdout)
    row = next(r for r in report["resources"] if r["name"] == "backend-health")
    assert row["state"] == "FAILING" and "queue deep" in row["detail"]


# -- a release that starts with an alarm in ALARM already -------------------------------------------
class Chooses(SilentUI):
    """A terminal where the user answers ``answer`` to the question, which is kept."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.questions: list[str] = []
        self.notes: list[str] = []

    def ask_choice(self, question: str, choices: tuple[str, ...], default: str) -> str | None:
        self.questions.append(question)
        assert self.answer in choices
        return self.answer

    def release_note(self, text: str) -> None:
        self.notes.append(text)


def _in_alarm(name: str = "ecsup-web-dev-5xx", reason: str = "Threshold Crossed: 2 datapoints [40.0, 38.5]") -> None:
    client("cloudwatch").set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)


def _task_definition() -> str:
    svc = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    return str(svc["taskDefinition"])


def test_deploy_without_a_terminal_refuses_to_start_unguarded_naming_the_alarm_and_both_options(
    stack, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ecsup.toml").write_text(config_text())
    _in_alarm()
    stack.reset()
    result = invoke("deploy", "--image", IMAGE_2)
    assert result.exit_code == EXIT_REFUSED, explain(result)
    err = " ".join(result.stderr.split())
    assert "ecsup-web-dev-5xx (Threshold Crossed: 2 datapoints [40.0, 38.5])" in err
    assert "would not guard this release" in err and "--wait-for-alarms" in err and "--ignore-alarms" in err
    assert stack.writes() == []  # nothing registered, nothing started
    assert _task_definition().endswith(":1")
    bad = invoke("deploy", "--image", IMAGE_2, "--wait-for-alarms", "60", "--ignore-alarms")
    assert bad.exit_code == EXIT_CONFIG and "--wait-for-alarms" in bad.stderr


def test_wait_for_alarms_waits_on_the_clock_until_they_leave_alarm_then_the_release_is_guarded(
    stack, tmp_path, monkeypatch, clock
):
    """The alarm leaves ALARM two minutes later (as CloudWatch would once the errors stopped): the
    deploy waits for it, visibly, then starts; ECS then acts on it when it goes into ALARM again."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ecsup.toml").write_text(config_text())
    _in_alarm()
    start = clock.now
    started_at: list[float] = []

    def clears_then_fires(service: str, operation: str, params: dict[str, Any]) -> None:
        cw = client("cloudwatch")
        if operation == "DescribeAlarms" and clock.now - start >= 120 and not started_at:
            cw.set_alarm_state(AlarmName="ecsup-web-dev-5xx", StateValue="OK", StateReason="back to normal")
        if operation == "UpdateService" and not started_at:
            started_at.append(clock.now)
        if operation == "DescribeServiceDeployments" and started_at and clock.now - started_at[0] > 120:
            state = cw.describe_alarms(AlarmNames=["ecsup-web-dev-5xx"])["MetricAlarms"][0]["StateValue"]
            if state != "ALARM":
                _in_alarm(reason="Threshold Crossed: the new revision fails")

    stack.injectors.append(clears_then_fires)
    result = invoke("deploy", "--image", IMAGE_2, "--wait-for-alarms", "600")
    assert started_at and started_at[0] - start >= 120  # UpdateService only once the alarm had cleared
    assert "waiting for the deployment alarms to leave ALARM" in result.output
    assert result.exit_code == 9, explain(result)  # guarded: ECS rolled the new revision back
    assert "Threshold Crossed: the new revision fails" in result.output


def test_wait_for_alarms_gives_up_at_its_bound_without_starting(stack, tmp_path, monkeypatch, clock):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ecsup.toml").write_text(config_text())
    _in_alarm()
    stack.reset()
    start = clock.now
    result = invoke("deploy", "--image", IMAGE_2, "--wait-for-alarms", "300")
    assert result.exit_code == EXIT_TIMEOUT, explain(result)
    assert "did not leave ALARM within 300 s" in result.stderr and "was not started" in result.stderr
    assert 300 <= clock.now - start < 400
    assert stack.writes() == [] and _task_definition().endswith(":1")


def test_on_a_terminal_the_user_chooses_stop_or_go_on_unguarded(stack, make_ctx):
    from ecsup import deploy
    from ecsup.errors import Refused

    _in_alarm()
    ui = Chooses("stop")
    with pytest.raises(Refused) as err:
        deploy.deploy(make_ctx(ui=ui), IMAGE_2)
    assert "ecsup-web-dev-5xx in ALARM" in err.value.message and _task_definition().endswith(":1")
    assert "would not guard this release" in ui.questions[0]
    ui = Chooses("go")
    result = deploy.deploy(make_ctx(ui=ui), IMAGE_2)
    assert result.status == "SUCCESSFUL" and _task_definition().endswith(":2")
    assert any("going on unguarded by ecsup-web-dev-5xx" in n for n in ui.notes)


def test_create_that_starts_a_deployment_checks_the_alarms_first(stack, make_ctx):
    """A changed image in ecsup.toml: create's UpdateService starts a deployment; with the alarm in
    ALARM it stops before it (the task definition registered stays unused), and goes on knowingly
    when asked."""
    from ecsup.errors import Refused

    _in_alarm()
    new_image = config_text(replace={"nginx/nginx:stable": "nginx/nginx:1.27"})
    stack.reset()
    with pytest.raises(Refused):
        engine.create(make_ctx(new_image))
    assert ("ecs", "UpdateService") not in stack.calls and _task_definition().endswith(":1")
    ctx = make_ctx(new_image)
    ctx.ignore_alarms = True
    engine.create(ctx)
    assert not _task_definition().endswith(":1")


def _deployments() -> int:
    return len(client("ecs").list_service_deployments(cluster="web-dev", service="web-dev")["serviceDeployments"])


def test_restart_checks_the_alarms_first_and_never_claims_an_alarm_in_alarm_guards_it(
    stack, tmp_path, monkeypatch, clock
):
    """`restart` starts a deployment like `deploy` does: the same guard, the same two options, and
    an early return that does not promise a rollback on an alarm ECS will not act on."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ecsup.toml").write_text(config_text())
    _in_alarm()
    before = _deployments()
    stack.reset()
    refused = invoke("restart")
    assert refused.exit_code == EXIT_REFUSED, explain(refused)
    err = " ".join(refused.stderr.split())
    assert "ecsup-web-dev-5xx (Threshold Crossed" in err and "would not guard this release" in err
    assert "--wait-for-alarms" in err and "--ignore-alarms" in err
    assert stack.writes() == [] and _deployments() == before
    start = clock.now
    waited = invoke("restart", "--wait-for-alarms", "300")
    assert waited.exit_code == EXIT_TIMEOUT, explain(waited)
    assert "did not leave ALARM within 300 s" in waited.stderr and 300 <= clock.now - start < 400
    assert stack.writes() == [] and _deployments() == before
    both = invoke("restart", "--wait-for-alarms", "60", "--ignore-alarms")
    assert both.exit_code == EXIT_CONFIG and "--wait-for-alarms" in both.stderr
    went = invoke("restart", "--ignore-alarms", "--no-wait")
    assert went.exit_code == 0, explain(went)
    out = " ".join(went.output.split())
    assert "WARNING: deployment alarm(s) already in ALARM: ecsup-web-dev-5xx" in out
    assert "but not with ecsup-web-dev-5xx: in ALARM when it started" in out
    assert "rolls it back on ALARM" not in out
    assert _deployments() == before + 1 and _task_definition().endswith(":1")


def test_secrets_set_restart_checks_the_alarms_before_replacing_the_tasks(stack, tmp_path, monkeypatch):
    """The new version is written; the restart that follows is guarded like `restart` (refused
    without a terminal, exit 7, nothing started) and goes on with --ignore-alarms."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ecsup.toml").write_text(config_text())
    monkeypatch.setenv("ECSUP_SECRET_DB_PASSWORD", "a-new-value-1234")
    _in_alarm()
    before = _deployments()
    refused = invoke("secrets", "set", "DB_PASSWORD", "--restart")
    assert refused.exit_code == EXIT_REFUSED, explain(refused)
    assert "updated /web/dev/DB_PASSWORD (DB_PASSWORD): version 1 -> version 2" in refused.stdout
    assert "would not guard this release" in " ".join(refused.stderr.split()) and _deployments() == before
    went = invoke("secrets", "set", "DB_PASSWORD", "--restart", "--ignore-alarms", "--json")
    assert went.exit_code == 0, explain(went)
    doc = json.loads(went.stdout)
    assert doc["secret"]["version"] == 3 and doc["restart"]["status"] == "SUCCESSFUL"
    assert _deployments() == before + 1 and "a-new-value-1234" not in went.output


# -- an outage the load balancer answers itself -----------------------------------------------------
ACCOUNT = "123456789012"  # moto's


def _traffic(clock: Any, host: str, minutes: int, per_minute: int = 100) -> None:
    """``per_minute`` requests for ``host`` each minute, for ``minutes`` minutes of the fake clock."""
    from ecsup import emulation
    from ecsup.emulation import traffic

    assert emulation.ACTIVE is not None
    for _ in range(minutes):
        traffic.requests(emulation.ACTIVE, ACCOUNT, "eu-west-1", host, per_minute)
        clock.sleep(60)


def _state(name: str) -> str:
    return str(client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])


def _tasks_crash(*groups: str) -> None:
    """Every target of the groups goes (the tasks crashed; ECS deregisters a stopped task)."""
    elb = client("elbv2")
    for name in groups:
        arn = elb.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
        targets = [t["Target"] for t in elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]]
        if targets:
            elb.deregister_targets(TargetGroupArn=arn, Targets=targets)


def test_the_5xx_alarm_sees_an_outage_the_load_balancer_answers_itself(aws, make_ctx, clock):
    """No registered target in the live group: the ALB answers 503 itself, HTTPCode_ELB_5XX_Count
    rises, the groups' RequestCount stays 0 -- the error rate alone would read 0 %. The emulated ELB
    publishes its metrics for the requests, the emulated CloudWatch evaluates the alarm."""
    engine.create(make_ctx())
    host = f"www.{ZONE}"
    _traffic(clock, host, minutes=3)
    assert _state("ecsup-web-dev-5xx") == "OK"  # healthy targets answered
    _tasks_crash("web-dev-blue", "web-dev-green")
    _traffic(clock, host, minutes=3)
    assert _state("ecsup-web-dev-5xx") == "ALARM"
    [alarm] = client("cloudwatch").describe_alarms(AlarmNames=["ecsup-web-dev-5xx"])["MetricAlarms"]
    assert "Threshold Crossed" in alarm["StateReason"]
    metrics = sorted(m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m)
    assert "HTTPCode_ELB_5XX_Count" in metrics  # on its own load balancer, the stack's own


def test_on_a_shared_load_balancer_only_the_stack_without_healthy_targets_goes_into_alarm(aws, make_ctx, clock):
    """The shared load balancer's ELB 5xx count is every stack's: the stack whose groups have no
    healthy target goes into ALARM, the other (healthy, on the same load balancer) does not."""
    api = config_text(
        SHARED, replace={'app = "web"': 'app = "api"', f'hostname = "www.{ZONE}"': f'hostname = "api.{ZONE}"'}
    )
    engine.create(make_ctx(config_text(SHARED)))
    engine.create(make_ctx(api))
    _tasks_crash("web-dev-blue", "web-dev-green")
    from ecsup import emulation
    from ecsup.emulation import traffic

    assert emulation.ACTIVE is not None
    for _ in range(3):
        traffic.requests(emulation.ACTIVE, ACCOUNT, "eu-west-1", f"www.{ZONE}", 50)
        traffic.requests(emulation.ACTIVE, ACCOUNT, "eu-west-1", f"api.{ZONE}", 50)
        clock.sleep(60)
    assert _state("ecsup-web-dev-5xx") == "ALARM"
    assert _state("ecsup-api-dev-5xx") == "OK"
    [alarm] = client("cloudwatch").describe_alarms(AlarmNames=["ecsup-web-dev-5xx"])["MetricAlarms"]
    metrics = sorted(m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m)
    assert metrics.count("HealthyHostCount") == 2  # per target group: this stack's own signal


def test_a_missing_healthy_host_point_beside_another_stacks_5xx_is_no_outage(aws, make_ctx, clock):
    """ELB reports target metrics only while requests flow, and a point can come late: a minute in
    which api's groups published no HealthyHostCount, while web's outage makes the shared load
    balancer answer 503s, is unknown for api -- its alarm reads its own ratio (0 %) and stays OK.
    web's groups published 0: web goes into ALARM."""
    from ecsup import emulation
    from ecsup.emulation import cloudwatch, traffic

    api = config_text(
        SHARED, replace={'app = "web"': 'app = "api"', f'hostname = "www.{ZONE}"': f'hostname = "api.{ZONE}"'}
    )
    engine.create(make_ctx(config_text(SHARED)))
    engine.create(make_ctx(api))
    _tasks_crash("web-dev-blue", "web-dev-green")
    assert emulation.ACTIVE is not None
    for _ in range(3):
        traffic.requests(emulation.ACTIVE, ACCOUNT, "eu-west-1", f"www.{ZONE}", 50)
        traffic.requests(emulation.ACTIVE, ACCOUNT, "eu-west-1", f"api.{ZONE}", 50)
        # api's HealthyHostCount points of this minute are late: not in CloudWatch when evaluated
        points = cloudwatch._points(ACCOUNT, "eu-west-1")
        points[:] = [p for p in points if not (p[1] == "HealthyHostCount" and any("api-dev" in v for _, v in p[2]))]
        clock.sleep(60)
    assert _state("ecsup-web-dev-5xx") == "ALARM"  # a published 0 still breaches
    assert _state("ecsup-api-dev-5xx") == "OK"
    [alarm] = client("cloudwatch").describe_alarms(AlarmNames=["ecsup-api-dev-5xx"])["MetricAlarms"]
    assert "FILL(hb,-1)" in next(m["Expression"] for m in alarm["Metrics"] if m["Id"] == "healthy")


def test_an_existing_stacks_5xx_alarm_is_updated_to_see_the_outage(aws, make_ctx):
    """A 5xx alarm as an earlier ecsup made it (the ratio only): plan shows an update, create
    converges it, and cost counts what CloudWatch bills (5 metrics; 7 on a shared load balancer)."""
    from ecsup.config import parse
    from ecsup.cost import Usage, estimate
    from ecsup.prices import shipped_prices

    engine.create(make_ctx())
    cw = client("cloudwatch")
    [alarm] = cw.describe_alarms(AlarmNames=["ecsup-web-dev-5xx"])["MetricAlarms"]
    old = [m for m in alarm["Metrics"] if m["Id"] not in ("ratio", "rate")]
    ratio = next(m for m in alarm["Metrics"] if m["Id"] == "ratio")
    old.append({**ratio, "Id": "rate", "ReturnData": True})
    keys = ("AlarmDescription", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator")
    cw.put_metric_alarm(AlarmName="ecsup-web-dev-5xx", Metrics=old, **{k: alarm[k] for k in keys})
    outcome = engine.make_plan(make_ctx())
    assert [(a.kind, a.name) for a in outcome.actions if a.resource == "CloudWatch alarm"] == [
        ("update", "ecsup-web-dev-5xx")
    ]
    engine.create(make_ctx())
    [alarm] = cw.describe_alarms(AlarmNames=["ecsup-web-dev-5xx"])["MetricAlarms"]
    assert "requests < 1" in next(m["Expression"] for m in alarm["Metrics"] if m["Id"] == "rate")
    billed = sum(1 for m in alarm["Metrics"] if "MetricStat" in m)
    prices = shipped_prices("us-east-1")
    line = next(i for i in estimate(parse(config_text()), Usage(), prices).lines if "alarm" in i.name)
    assert billed == 5 and line.monthly_low == pytest.approx(billed * 0.10)
    shared = next(i for i in estimate(parse(config_text(SHARED)), Usage(), prices).lines if "alarm" in i.name)
    assert shared.monthly_low == pytest.approx(0.70) and "5xx (7 metrics)" in shared.quantity


class OutageInBake(SilentUI):
    """The new revision's tasks crash once production is on them (ECS deregisters them): for three
    minutes of the bake the load balancer answers their requests 503 itself."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.fired = False

    def deploy_progress(self, state: Any) -> None:
        from ecsup import emulation
        from ecsup.emulation import traffic

        if state.stage != "BAKE_TIME" or self.fired:
            return
        self.fired = True
        elb = client("elbv2")
        lb = elb.describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]
        https = next(
            li for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] if li["Port"] == 443
        )
        groups = https["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
        live = next(g["TargetGroupArn"] for g in groups if g["Weight"] == 100)
        _tasks_crash(elb.describe_target_groups(TargetGroupArns=[live])["TargetGroups"][0]["TargetGroupName"])
        assert emulation.ACTIVE is not None
        for _ in range(3):
            traffic.requests(emulation.ACTIVE, ACCOUNT, "eu-west-1", f"www.{ZONE}", 100)
            self.clock.sleep(60)


def test_an_outage_during_the_bake_makes_ecs_roll_back_on_the_5xx_alarm(stack, make_ctx, clock):
    """The old group still has healthy tasks through the bake; the load balancer's own 503s for the
    emptied live group put the alarm into ALARM, and ECS (the emulated controller) rolls back."""
    from ecsup import deploy

    ui = OutageInBake(clock)
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(ui=ui), IMAGE_2)
    assert ui.fired and "ecsup-web-dev-5xx" in err.value.message
    assert err.value.result is not None and err.value.result.triggered_alarms == ["ecsup-web-dev-5xx"]
    assert _task_definition().endswith(":1")


# -- checks that forbid building a stack, not reading or destroying one made before them -----------
EXEC_READONLY = EXEC_ON.replace("exec = true", "exec = true\nreadonly_root_filesystem = true")
LONG_SHARED = config_text(SHARED, replace={f'hostname = "www.{ZONE}"': f'hostname = "{LONG_HOST}"'})


@pytest.mark.parametrize(
    ("text", "made_with"),
    [(EXEC_READONLY, EXEC_READONLY), (LONG_SHARED, config_text(SHARED))],
    ids=["exec-readonly", "long-hostname-shared"],
)
def test_a_stack_made_before_a_build_check_can_still_be_read_and_destroyed(aws, make_ctx, tmp_path, text, made_with):
    """exec with a read-only root file system, and a hostname over 128 characters on a shared load
    balancer, are refused by the commands that build or change the stack; a stack that exists with
    such a file (made before the checks) can still show its status and be destroyed."""
    from ecsup.config import parse

    engine.create(make_ctx(parse(made_with, build=False)))
    path = write(tmp_path, text)
    aws.reset()
    for command in (("create",), ("plan",), ("deploy", "--image", IMAGE_2)):
        result = invoke(*command, "-c", path)
        assert result.exit_code == EXIT_CONFIG, explain(result)
    assert aws.mutating() == []
    result = invoke("status", "-c", path)
    assert result.exit_code in (0, 6), explain(result)
    assert "invalid configuration" not in result.stderr and "web-dev (eu-west-1" in result.stdout
    key = "service.exec" if text == EXEC_READONLY else "dns.hostname"
    assert f"note: {key}:" in result.stderr and "create, plan and deploy refuse" in " ".join(result.stderr.split())
    result = invoke("destroy", "-c", path, "--yes")
    assert result.exit_code == 0, explain(result)
    ecs = client("ecs")
    assert [
        s for s in ecs.describe_services(cluster="web-dev", services=["web-dev"])["services"] if s["status"] == "ACTIVE"
    ] == []
