"""Deployment alarms, the probe of the new version and `deploy --wait-until` (issue 18), on the
strict layer: ECS's deployment controller watches the alarms it is given
(emulation/deployments.py), so an alarm set to ALARM during a deployment rolls it back."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Recorder, client, config_text

from ecsup import deploy, engine
from ecsup.context import SilentUI
from ecsup.errors import EXIT_ROLLED_BACK

IMAGE_2 = "public.ecr.aws/nginx/nginx:1.27"


def service() -> dict[str, Any]:
    return dict(client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0])


def alarms(*names: str) -> dict[str, dict[str, Any]]:
    cw = client("cloudwatch")
    found = cw.describe_alarms(AlarmNames=list(names))["MetricAlarms"] if names else cw.describe_alarms()["MetricAlarms"]
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
    assert "IF(requests > 0" in ids["rate"]["Expression"] and ids["rate"]["ReturnData"] is True
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
    [dep] = client("ecs").describe_service_deployments(
        serviceDeploymentArns=[err.value.result.deployment_arn]
    )["serviceDeployments"]
    assert dep["status"] == "ROLLBACK_SUCCESSFUL"
    assert dep["alarms"] == {
        "status": "TRIGGERED",
        "alarmNames": ["ecsup-web-dev-5xx"],
        "triggeredAlarmNames": ["ecsup-web-dev-5xx"],
    }
    assert any(s.alarms.get("ecsup-web-dev-5xx") == "OK" for s in ui.states)  # the live view showed it
