"""Deployment alarms, the probe of the new version and `deploy --wait-until` (issue 18), on the
strict layer: ECS's deployment controller watches the alarms it is given
(emulation/deployments.py), so an alarm set to ALARM during a deployment rolls it back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Recorder, client, config_text, register_task_targets

from ecsup import deploy, engine
from ecsup.context import SilentUI
from ecsup.errors import EXIT_ROLLED_BACK, EXIT_UNHEALTHY

IMAGE_2 = "public.ecr.aws/nginx/nginx:1.27"


def service() -> dict[str, Any]:
    return dict(client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0])


def alarms(*names: str) -> dict[str, dict[str, Any]]:
    cw = client("cloudwatch")
    found = (
        cw.describe_alarms(AlarmNames=list(names))["MetricAlarms"] if names else cw.describe_alarms()["MetricAlarms"]
    )
    return {a["AlarmName"]: a for a in found}


@pytest.fixture
def stack(aws: Recorder, make_ctx: Any) -> Recorder:
    engine.create(make_ctx())
    aws.reset()
    return aws


def test_create_makes_the_alarms_and_the_service_watches_them_with_rollback(stack):
    made = alarms()
    assert set(made) == {"ecsup-web-dev-5xx"}
    five = made["ecsup-web-dev-5xx"]
    assert five["TreatMissingData"] == "notBreaching" and five["Threshold"] == 5.0
    ids = {m["Id"]: m for m in five["Metrics"]}
    names = sorted(m["MetricStat"]["Metric"]["MetricName"] for m in five["Metrics"] if "MetricStat" in m)
    assert names == sorted(["HTTPCode_Target_5XX_Count"] * 2 + ["RequestCount"] * 2 + ["HTTPCode_ELB_5XX_Count"])
    assert "IF(requests > 0" in ids["ratio"]["Expression"] and ids["rate"]["ReturnData"] is True
    assert "requests < 1" in ids["rate"]["Expression"]  # an outage the load balancer answers itself
    tags = client("cloudwatch").list_tags_for_resource(ResourceARN=five["AlarmArn"])["Tags"]
    assert {"Key": "ecsup:app", "Value": "web"} in tags
    config = service()["deploymentConfiguration"]
    assert config["alarms"] == {"alarmNames": ["ecsup-web-dev-5xx"], "enable": True, "rollback": True}


class AlarmInBake(SilentUI):
    """Sets an alarm to ALARM the first time the watch sees the bake (as CloudWatch would when
    the new version's errors cross the threshold)."""

    def __init__(self, name: str = "ecsup-web-dev-5xx") -> None:
        self.name = name
        self.states: list[deploy.DeployState] = []
        self.fired = False

    def deploy_progress(self, state: deploy.DeployState) -> None:
        self.states.append(state)
        if state.stage == "BAKE_TIME" and not self.fired:
            self.fired = True
            client("cloudwatch").set_alarm_state(
                AlarmName=self.name, StateValue="ALARM", StateReason="Threshold Crossed: 2 datapoints [12.5, 9.1]"
            )


def test_an_alarm_in_alarm_during_the_bake_makes_ecs_roll_back_and_deploy_exit_9_naming_it(stack, make_ctx):
    ui = AlarmInBake()
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(ui=ui), IMAGE_2)
    assert err.value.exit_code == EXIT_ROLLED_BACK == 9
    assert "ecsup-web-dev-5xx" in err.value.message and "Threshold Crossed" in err.value.message
    assert err.value.result is not None and err.value.result.triggered_alarms == ["ecsup-web-dev-5xx"]
    # ECS put the revision before back, and production on its group
    assert service()["taskDefinition"].endswith(":1")
    [dep] = client("ecs").describe_service_deployments(serviceDeploymentArns=[err.value.result.deployment_arn])[
        "serviceDeployments"
    ]
    assert dep["status"] == "ROLLBACK_SUCCESSFUL"
    assert dep["alarms"] == {
        "status": "TRIGGERED",
        "alarmNames": ["ecsup-web-dev-5xx"],
        "triggeredAlarmNames": ["ecsup-web-dev-5xx"],
    }
    # the live view showed it: not evaluated yet (a new alarm), then ALARM
    assert [s.alarms.get("ecsup-web-dev-5xx") for s in ui.states][:1] == ["INSUFFICIENT_DATA"]
    assert ui.states[-1].alarms == {"ecsup-web-dev-5xx": "ALARM"}


# -- the probe ------------------------------------------------------------------------------------
@pytest.fixture
def site() -> Iterator[dict[str, Any]]:
    """A local HTTP server answering ``state["status"]`` (with a body line), on 127.0.0.1."""
    import http.server
    import threading

    state: dict[str, Any] = {"status": 200, "hits": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["hits"] += 1
            body = b"ok\n" if state["status"] < 400 else b"Internal Server Error: boom\nstack trace...\n"
            self.send_response(state["status"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/health"
    yield state
    server.shutdown()
    server.server_close()


def verify(url: str, **extra: Any) -> str:
    lines = ["", "[service.deploy.verify]", f'url = "{url}"'] + [f"{k} = {v}" for k, v in extra.items()]
    return config_text("\n".join(lines) + "\n")


class Notes(SilentUI):
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.states: list[deploy.DeployState] = []

    def release_note(self, text: str) -> None:
        self.notes.append(text)

    def deploy_progress(self, state: deploy.DeployState) -> None:
        self.states.append(state)


def test_a_probe_answered_500_rolls_the_release_back(stack, make_ctx, site, clock):
    site["status"] = 500
    ui = Notes()
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(verify(site["url"]), ui=ui), IMAGE_2)
    assert err.value.exit_code == 9
    assert "HTTP 500" in err.value.message and "Internal Server Error: boom" in err.value.message
    assert "stack trace" not in err.value.message  # the body's first line only
    assert service()["taskDefinition"].endswith(":1")  # ECS rolled it back
    [dep] = client("ecs").describe_service_deployments(serviceDeploymentArns=[err.value.result.deployment_arn])[
        "serviceDeployments"
    ]
    assert dep["status"] == "ROLLBACK_SUCCESSFUL" and "StopServiceDeployment" in dep["statusReason"]
    assert site["hits"] == 1  # it stopped at the first failing answer
    assert len(ui.notes) == 1 and "failed" in ui.notes[0]  # one line for the probe


def test_a_probe_whose_rollback_ecs_refuses_still_ends_on_the_revision_before(stack, make_ctx, site):
    """StopServiceDeployment refused (ConflictException) while the deployment still runs: it goes on
    to SUCCESSFUL, and ecsup then rolls it back by deploying the revision before."""
    from conftest import fail_first

    site["status"] = 503
    stack.injectors.append(fail_first("ecs", "StopServiceDeployment", "ConflictException", 1))
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(verify(site["url"])), IMAGE_2)
    assert "completed before ECS could stop it; rolled back by a new deployment" in err.value.message
    assert service()["taskDefinition"].endswith(":1")  # the revision before runs again


def test_an_answer_that_is_not_http_is_a_failing_answer_not_a_traceback(stack, make_ctx):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def garbage() -> None:
        for _ in range(2):
            conn, _addr = listener.accept()
            conn.recv(1024)
            conn.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")
            conn.close()

    threading.Thread(target=garbage, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/health"
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(verify(url)), IMAGE_2)
    assert "no answer (BadStatusLine" in err.value.message
    listener.close()


def test_a_passing_probe_spreads_its_requests_on_the_clock_and_the_deploy_completes(stack, make_ctx, site, clock):
    ui = Notes()
    result = deploy.deploy(make_ctx(verify(site["url"], requests=4, seconds=30), ui=ui), IMAGE_2)
    assert result.status == "SUCCESSFUL" and result.stage == "complete"
    assert site["hits"] == 4
    assert result.probe is not None and result.probe["failed"] is None
    assert ui.notes == [f"probe of {site['url']}: 4 requests, all answered (200)"]
    assert [s for s in clock.sleeps if s == 7.5] == [7.5, 7.5, 7.5]  # 30 s over 4 requests, on the fake clock


def test_the_probe_is_skipped_with_a_note_where_the_service_cannot_be_reached(stack, make_ctx):
    ui = Notes()
    result = deploy.deploy(make_ctx(ui=ui), IMAGE_2)
    assert result.status == "SUCCESSFUL"
    assert len(ui.notes) == 1 and ui.notes[0].startswith("probe skipped: https://www.test.example.com/health")


# -- --wait-until ----------------------------------------------------------------------------------
def test_wait_until_production_returns_while_the_bake_goes_on(stack, make_ctx):
    result = deploy.deploy(make_ctx(), IMAGE_2, wait_until="production")
    assert result.stage == "production" and result.status == "IN_PROGRESS"
    assert "ECS keeps watching" in result.message and "ecsup deploy --watch" in result.message
    [dep] = client("ecs").describe_service_deployments(serviceDeploymentArns=[result.deployment_arn])[
        "serviceDeployments"
    ]
    assert dep["status"] == "IN_PROGRESS" and dep["lifecycleStage"] in ("BAKE_TIME", "POST_PRODUCTION_TRAFFIC_SHIFT")
    assert dep["alarms"]["status"] == "MONITORING"
    # the bake is still guarded: an alarm now rolls it back with nothing of ours watching
    client("cloudwatch").set_alarm_state(AlarmName="ecsup-web-dev-5xx", StateValue="ALARM", StateReason="x")
    with pytest.raises(deploy.RolledBack) as attached:
        deploy.attach(make_ctx())
    assert "ecsup-web-dev-5xx" in attached.value.message


def test_wait_until_started_on_the_command_line_says_the_stage_in_json(stack, make_ctx, tmp_path, monkeypatch):
    import json

    from conftest import invoke

    monkeypatch.chdir(tmp_path)
    (tmp_path / "ecsup.toml").write_text(config_text())
    result = invoke("deploy", "--image", IMAGE_2, "--wait-until", "started", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout[result.stdout.index("{") :])
    assert doc["stage"] == "started" and doc["status"] == "PENDING"
    bad = invoke("deploy", "--wait-until", "baked")
    assert bad.exit_code == 2 and "--wait-until 'baked'" in bad.output


# -- the alarms as stack resources -------------------------------------------------------------------
def user_alarm(name: str = "my-queue-depth") -> str:
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
    return name


WITH_MINE = config_text(
    '\n[service.deploy]\nstrategy = "rolling"\n\n'
    '[service.deploy.alarms]\nlatency_p95_ms = 800\nnames = ["my-queue-depth"]\n'
)


def test_rolling_too_watches_ecsups_alarms_and_the_users_and_destroy_leaves_the_users(aws, make_ctx):
    user_alarm()
    engine.create(make_ctx(WITH_MINE))
    config = service()["deploymentConfiguration"]
    assert config["strategy"] == "ROLLING"
    assert config["alarms"] == {
        "alarmNames": ["ecsup-web-dev-5xx", "ecsup-web-dev-latency", "my-queue-depth"],
        "enable": True,
        "rollback": True,
    }
    latency = alarms("ecsup-web-dev-latency")["ecsup-web-dev-latency"]
    assert latency["Threshold"] == 0.8  # seconds, as TargetResponseTime
    stats = [m["MetricStat"] for m in latency["Metrics"] if "MetricStat" in m]
    assert [s["Stat"] for s in stats] == ["p95", "p95"]
    assert {
        d["Value"].split("/")[1] for s in stats for d in s["Metric"]["Dimensions"] if d["Name"] == "TargetGroup"
    } == {
        "web-dev-blue",
        "web-dev-green",
    }

    outcome = engine.plan_destroy(make_ctx(WITH_MINE))
    engine.destroy(make_ctx(WITH_MINE), outcome)
    assert set(alarms()) == {"my-queue-depth"}  # ecsup's gone, the user's left


def test_an_alarm_name_that_does_not_exist_is_a_config_error_before_any_change(aws, make_ctx):
    from ecsup.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        engine.create(make_ctx(WITH_MINE))
    assert err.value.exit_code == 2
    assert "service.deploy.alarms.names" in str(err.value) and "my-queue-depth" in str(err.value)
    assert aws.mutating() == []


def test_an_existing_stack_without_alarms_gets_them_on_the_next_create_without_a_deployment(aws, make_ctx):
    off = config_text("\n[service.deploy.alarms]\nenabled = false\n")
    engine.create(make_ctx(off))
    assert alarms() == {}
    assert service()["deploymentConfiguration"]["alarms"]["enable"] is False
    before = client("ecs").list_service_deployments(cluster="web-dev", service="web-dev")["serviceDeployments"]
    aws.reset()

    outcome = engine.create(make_ctx())
    changed = {(a.kind, a.resource, a.name) for a in outcome.changes()}
    assert changed == {("create", "CloudWatch alarm", "ecsup-web-dev-5xx"), ("update", "ECS service", "web-dev")}
    assert service()["deploymentConfiguration"]["alarms"]["alarmNames"] == ["ecsup-web-dev-5xx"]
    after = client("ecs").list_service_deployments(cluster="web-dev", service="web-dev")["serviceDeployments"]
    assert len(after) == len(before)  # UpdateService with deploymentConfiguration alone starts none
    aws.reset()
    assert engine.create(make_ctx()).changes() == []  # converged
    assert aws.writes() == []


def test_a_changed_threshold_repairs_the_alarm(stack, make_ctx):
    outcome = engine.create(make_ctx(config_text("\n[service.deploy.alarms]\nerror_rate_percent = 2.5\n")))
    assert [(a.kind, a.name) for a in outcome.changes()] == [("update", "ecsup-web-dev-5xx")]
    assert alarms("ecsup-web-dev-5xx")["ecsup-web-dev-5xx"]["Threshold"] == 2.5


# -- what the emulated ECS refuses and ignores ------------------------------------------------------
def test_ecs_refuses_alarm_names_that_do_not_exist_and_more_than_it_accepts(stack):
    from botocore.exceptions import ClientError

    ecs = client("ecs")
    with pytest.raises(ClientError) as err:
        ecs.update_service(
            cluster="web-dev",
            service="web-dev",
            deploymentConfiguration={"alarms": {"alarmNames": ["nope"], "enable": True, "rollback": True}},
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterException" and "nope" in str(err.value)
    names = [user_alarm(f"mine-{i}") for i in range(11)]
    with pytest.raises(ClientError) as err:
        ecs.update_service(
            cluster="web-dev",
            service="web-dev",
            deploymentConfiguration={"alarms": {"alarmNames": names, "enable": True, "rollback": True}},
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterException" and "at most 10" in str(err.value)


def test_an_alarm_already_in_alarm_when_the_deployment_starts_does_not_fail_it(stack, make_ctx):
    """ECS does not act on an alarm that is in ALARM as the deployment starts (aws/copilot-cli#4512):
    a release that goes on knowingly (--ignore-alarms; alarm_guard.py) is not guarded by it."""
    client("cloudwatch").set_alarm_state(AlarmName="ecsup-web-dev-5xx", StateValue="ALARM", StateReason="old")
    ui = Notes()
    ctx = make_ctx(ui=ui)
    ctx.ignore_alarms = True
    result = deploy.deploy(ctx, IMAGE_2)
    assert result.status == "SUCCESSFUL"  # in ALARM all along, and still no rollback
    assert alarms("ecsup-web-dev-5xx")["ecsup-web-dev-5xx"]["StateValue"] == "ALARM"
    assert ui.notes[0].startswith("WARNING: deployment alarm(s) already in ALARM: ecsup-web-dev-5xx (old)")


def test_status_shows_the_alarms_states_and_an_alarm_in_alarm_makes_it_unhealthy(aws, make_ctx, tmp_path):
    import json

    from typer.testing import CliRunner

    from ecsup.cli import app

    user_alarm()
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text('\n[service.deploy.alarms]\nnames = ["my-queue-depth"]\n'))
    engine.create(make_ctx(path.read_text()))
    register_task_targets("web-dev-green")  # green is live after create (moto's ECS registers none)

    def rows() -> tuple[int, dict[str, dict[str, str]]]:
        result = CliRunner().invoke(app, ["status", "-c", str(path), "--json"])
        report = json.loads(result.stdout)
        return result.exit_code, {r["name"]: r for r in report["resources"] if r["resource"] == "CloudWatch alarm"}

    code, found = rows()
    assert code == 0, found
    assert found["ecsup-web-dev-5xx"]["state"] == "OK"  # not in ALARM: healthy
    assert found["ecsup-web-dev-5xx"]["detail"] == "INSUFFICIENT_DATA: Unchecked: Initial alarm creation"
    assert found["my-queue-depth"]["state"] == "OK" and "yours" in found["my-queue-depth"]["detail"]

    client("cloudwatch").set_alarm_state(AlarmName="my-queue-depth", StateValue="ALARM", StateReason="queue deep")
    code, found = rows()
    assert code == EXIT_UNHEALTHY
    assert found["my-queue-depth"]["state"] == "FAILING" and "queue deep" in found["my-queue-depth"]["detail"]


def test_cost_prices_each_metric_the_alarms_evaluate(stack):
    from conftest import config_text as text

    from ecsup.config import parse
    from ecsup.cost import Usage, estimate
    from ecsup.prices import shipped_prices

    made = alarms()
    billed = sum(1 for a in made.values() for m in a["Metrics"] if "MetricStat" in m)  # what CloudWatch bills
    line = next(
        item for item in estimate(parse(text()), Usage(), shipped_prices("us-east-1")).lines if "alarm" in item.name
    )
    assert line.monthly_low == line.monthly_high == pytest.approx(billed * 0.10) == pytest.approx(0.50)
    both = parse(text("\n[service.deploy.alarms]\nlatency_p95_ms = 500\n"))
    line = next(item for item in estimate(both, Usage(), shipped_prices("us-east-1")).lines if "alarm" in item.name)
    assert line.monthly_low == pytest.approx(0.70) and "latency (2 metrics)" in line.quantity
    off = parse(text("\n[service.deploy.alarms]\nenabled = false\n"))
    assert not [i for i in estimate(off, Usage(), shipped_prices("us-east-1")).lines if "alarm" in i.name]


def test_init_writes_the_alarm_and_probe_keys_with_comments(tmp_path):
    from conftest import invoke
    from test_init_logs import REQUIRED_OPTS

    from ecsup.config import AlarmsConfig, VerifyConfig, load

    path = tmp_path / "ecsup.toml"
    assert invoke("init", "-c", str(path), *REQUIRED_OPTS).exit_code == 0
    text = path.read_text()
    for line in ("[service.deploy.alarms]", "error_rate_percent = 5", "names = []", "[service.deploy.verify]"):
        assert line in text, line
    assert "rolls the deployment back" in text and "# url = " in text
    cfg = load(path)
    assert cfg.service.deploy.alarms == AlarmsConfig() and cfg.service.deploy.verify == VerifyConfig()


def test_a_failing_probe_of_a_rolling_deployment_rolls_it_back_too(aws, make_ctx, site):
    rolling = verify(site["url"]) + '\n[service.deploy]\nstrategy = "rolling"\n'
    engine.create(make_ctx(rolling))
    site["status"] = 503
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(rolling), IMAGE_2)
    assert err.value.exit_code == 9 and "HTTP 503" in err.value.message
    running = client("ecs").describe_task_definition(taskDefinition=service()["taskDefinition"])["taskDefinition"]
    assert running["containerDefinitions"][0]["image"] == "public.ecr.aws/nginx/nginx:stable"  # the one before


@pytest.mark.parametrize(
    ("section", "key", "why"),
    [
        ("alarms", "names = [" + ", ".join(f'"a{i}"' for i in range(10)) + "]", "at most 10 alarms"),
        ("alarms", 'names = ["ecsup-web-dev-5xx"]', "ecsup's own"),
        ("alarms", "period_seconds = 30", "multiple of 60"),
        ("alarms", "error_rate_percent = 120", "from 0 (off) to 100"),
        ("verify", 'url = "ftp://x"', "http:// or https://"),
        ("verify", "requests = 0", "from 1 to 1000"),
        ("alarms", "evaluation_periods = 30\nperiod_seconds = 3540", "CloudWatch allows 86400 s"),
        ("verify", 'url = "https://user:pw@shop.test/health"', "must not carry a user or password"),
        ("verify", 'url = "https://shop.test:https/health"', "port"),
        ("verify", 'url = "http://www.test.example.com/health"', "must be https://"),
    ],
)
def test_bad_alarm_and_probe_keys_are_config_errors_naming_the_key(section, key, why):
    from ecsup.config import parse
    from ecsup.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        parse(config_text(f"\n[service.deploy.{section}]\n{key}\n"))
    assert f"service.deploy.{section}.{key.split(' ')[0]}" in str(err.value) and why in str(err.value)
    assert err.value.exit_code == 2


def test_deploy_on_the_command_line_exits_9_naming_the_alarm_and_its_reason(stack, clock, tmp_path, monkeypatch):
    """The alarm goes into ALARM a minute into the (5-minute) bake, as CloudWatch would: the
    CLI's watch sees ECS roll back and exits 9 naming it."""
    from conftest import invoke

    monkeypatch.chdir(tmp_path)
    (tmp_path / "ecsup.toml").write_text(config_text())
    start = clock.now

    def alarm_in_the_bake(service: str, operation: str, params: dict[str, Any]) -> None:
        if operation == "DescribeServiceDeployments" and clock.now - start > 120 and not alarm_in_the_bake.fired:
            alarm_in_the_bake.fired = True  # type: ignore[attr-defined]
            client("cloudwatch").set_alarm_state(
                AlarmName="ecsup-web-dev-5xx", StateValue="ALARM", StateReason="Threshold Crossed: 2 datapoints"
            )

    alarm_in_the_bake.fired = False  # type: ignore[attr-defined]
    stack.injectors.append(alarm_in_the_bake)
    result = invoke("deploy", "--image", IMAGE_2)
    assert alarm_in_the_bake.fired  # type: ignore[attr-defined]
    assert result.exit_code == 9, result.output
    assert "alarm ecsup-web-dev-5xx went into ALARM (Threshold Crossed: 2 datapoints)" in result.output
    assert "ROLLBACK_SUCCESSFUL" in result.output


def test_a_same_named_alarm_that_is_not_ecsups_is_a_conflict_and_destroy_leaves_it(aws, make_ctx):
    from ecsup.errors import OwnershipConflict

    user_alarm("ecsup-web-dev-5xx")  # someone else's, without ecsup's tags
    with pytest.raises(OwnershipConflict) as err:
        engine.create(make_ctx())
    assert err.value.exit_code == 4 and "CloudWatch alarm 'ecsup-web-dev-5xx'" in err.value.message
    assert aws.mutating() == []
    outcome = engine.plan_destroy(make_ctx())
    assert [(a.kind, a.name) for a in outcome.actions if a.resource == "CloudWatch alarm"] == [
        ("skip", "ecsup-web-dev-5xx")
    ]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda m: m.__setitem__(0, {**m[0], "Id": "Rate"}), "must start with a lowercase letter"),
        (lambda m: m.__setitem__(0, {**m[0], "ReturnData": True}), "Exactly one element"),
        (lambda m: m.__setitem__(-1, {**m[-1], "Expression": "FILL(nope,0)"}), "Unrecognized metric 'nope'"),
    ],
)
def test_cloudwatch_refuses_metric_math_alarms_aws_refuses(aws, change, why):
    """The strict layer checks what moto does not, so that ecsup's own alarms are proved valid
    by every test that creates them (test_create_makes_the_alarms...)."""
    import copy

    metrics = [
        {
            "Id": "rq",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount"},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
        {"Id": "rate", "Expression": "FILL(rq,0)", "ReturnData": True},
    ]
    cw = client("cloudwatch")
    args = {"AlarmName": "x", "EvaluationPeriods": 2, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"}
    cw.put_metric_alarm(**args, Metrics=copy.deepcopy(metrics))  # valid
    broken = copy.deepcopy(metrics)
    change(broken)
    with pytest.raises(cw.exceptions.ClientError, match=why):
        cw.put_metric_alarm(**args, Metrics=broken)
