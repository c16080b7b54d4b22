"""ECS's deployment controller (rolling, blue/green, linear, canary), which moto lacks.

moto 5.2.5 drops ``deploymentConfiguration`` on CreateService, swaps the task definition on
UpdateService without any deployment, and has no ServiceDeployment API at all
(ListServiceDeployments, DescribeServiceDeployments, StopServiceDeployment,
DescribeServiceRevisions, ContinueServiceDeployment answer NotImplemented). This module adds
them, on the emulation's clock (the tests' fake clock, or the real one in the sandbox).

What happens, and where AWS documents it
-----------------------------------------
* Every CreateService, and every UpdateService that changes the task definition, the load
  balancers or the network configuration, or sets ``forceNewDeployment``, creates a *service
  deployment* (``arn:aws:ecs:<region>:<account>:service-deployment/<cluster>/<service>/<id>``) and
  a *service revision* (``.../service-revision/<cluster>/<service>/<number>``) -- ECS Developer
  Guide, "View service history using Amazon ECS service deployments" (lifecycle: "A user creates
  a service", "updates the service and uses the force new deployment option", "updates one or
  more service properties that require a deployment"); API reference, LoadBalancer ("When you
  add, update, or remove a load balancer configuration, Amazon ECS starts a new deployment").
  The revision number is also the service's ``deployments[].id`` (``ecs-svc/<number>``), which
  is how terraform-provider-aws (internal/service/ecs/service.go, findPrimaryDeploymentARN)
  matches a service's primary deployment to its service deployment.
* Statuses (API reference, ServiceDeployment; developer guide, "View service history"):
  PENDING, then IN_PROGRESS, then SUCCESSFUL; ROLLBACK_REQUESTED / ROLLBACK_IN_PROGRESS /
  ROLLBACK_SUCCESSFUL (ROLLBACK_FAILED when there is nothing to roll back to); STOP_REQUESTED /
  STOPPED.
* ``lifecycleStage`` for BLUE_GREEN, LINEAR and CANARY walks the stages the API reference
  (ServiceDeployment.lifecycleStage) describes, in its order: RECONCILE_SERVICE (only when the
  deployment starts with more than one revision running: an update that supersedes one in
  progress), PRE_SCALE_UP, SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT,
  POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT (linear and canary stay in it for every
  step: "For linear and canary deployments, this stage is invoked at every traffic shift step"),
  POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, CLEAN_UP. PRE_PRODUCTION_TRAFFIC_SHIFT is described
  there but is not a value of the response's enum (botocore's model): it is not reported. A
  ROLLING deployment reports no lifecycle stage (the stages are the blue/green workflow's:
  developer guide, "Amazon ECS blue/green service deployments workflow").
* Timing: stages without work pass in a tenth of ``Delays.task_start``; new tasks take
  ``Delays.task_start`` to start and pass their health checks (pendingTaskCount, then
  runningTaskCount); every "minute" (bakeTimeInMinutes, stepBakeTimeInMinutes,
  canaryBakeTimeInMinutes) lasts ``Delays.deployment_minute`` seconds. A service's first
  deployment (CreateService): its tasks are PENDING for ``Delays.service_start``, then RUNNING
  (pendingCount / runningCount, the revision's task counts), and it is COMPLETED / SUCCESSFUL
  once they run and the load balancer of their target group is active -- ELB health checks pass
  only then (``Delays.load_balancer_provisioning``; ELB API reference, LoadBalancerState and
  TargetHealth). How many of them ever run is moto's MOTO_ECS_SERVICE_RUNNING (the tests; 0: the
  service never becomes stable) or the desired count (the sandbox). No delay and an active load
  balancer: COMPLETED at once, as moto reports it. New tasks of later deployments pass their
  health checks no sooner than their load balancer is active either.
* Traffic: the target group that is live before the deployment is the one of
  {targetGroupArn, alternateTargetGroupArn} with the production rule's weight; the new tasks go
  to the other, and ECS rewrites the weights of the production listener rule (a weighted
  ForwardConfig, as the go-to-k/cdk-real-drift#1730 report observed live): BLUE_GREEN 0 -> 100 at
  once (developer guide, "Amazon ECS blue/green deployments"); LINEAR by ``stepPercent`` every
  ``stepBakeTimeInMinutes``, no step bake after 100 % (API reference, LinearConfiguration);
  CANARY ``canaryPercent``, ``canaryBakeTimeInMinutes``, then 100 (API reference,
  CanaryConfiguration). A test listener rule, when given, moves to the new group in
  TEST_TRAFFIC_SHIFT. ``requestedProductionTrafficWeight`` / ``requestedTestTrafficWeight`` on
  the revisions follow. Weights that are not whole percentages are written to ELB as per-mille
  (ELB weights are integers 0-999).
* The service's ``taskDefinition`` is the new one as soon as UpdateService answers (as ECS);
  ``runningCount``/``pendingCount`` add up the revisions' tasks; ``deployments`` holds the new
  PRIMARY and the old ACTIVE one until the deployment ends; ``events`` (newest first) record
  what happens, in the wording of real ECS service events where it is known ("(service x) has
  started 1 tasks: (task ...).", "(service x) registered 1 targets in (target-group ...)",
  "(service x) has reached a steady state.", as quoted from DescribeServices and ecs-cli output
  in public repositories); the rollback events ("deployment failed: ...", "rolling back to
  deployment ...") follow the "deployment failed: Service deployment rolled back because ..."
  event quoted in a public incident report, and are otherwise worded here.
* Deployment circuit breaker (API reference, ServiceDeploymentCircuitBreaker: threshold is
  0.5 x desired count, at least 3, at most 200): with ``enable`` and ``rollback`` the deployment
  goes ROLLBACK_IN_PROGRESS then ROLLBACK_SUCCESSFUL with statusReason "Service deployment rolled
  back because the circuit breaker threshold was exceeded." (the wording terraform-provider-aws's
  TestAccECSService_BlueGreenDeployment_circuitBreakerRollback expects from AWS); the legacy
  ``deployments[]`` entry says rolloutState FAILED, "ECS deployment circuit breaker: tasks failed
  to start.". With ``enable`` but no ``rollback`` it ends STOPPED (API reference,
  ServiceDeployment.stoppedAt). Without the breaker it stays IN_PROGRESS while its tasks keep
  failing. A failure on a service's first deployment cannot roll back: ROLLBACK_FAILED, "No
  rollback candidate was found to run the rollback." (what the same terraform test expects when
  the service is created with a failing deployment).
* StopServiceDeployment (API reference; developer guide, "Stopping Amazon ECS service
  deployments"): ROLLBACK from PENDING or IN_PROGRESS -> ROLLBACK_REQUESTED ->
  ROLLBACK_IN_PROGRESS -> ROLLBACK_SUCCESSFUL (traffic back to the source group, the service's
  task definition back to the source revision's, ``rollback {reason, startedAt,
  serviceRevisionArn}`` set); on one that is already stopping or rolling back it "continues".
  The API reference lists ABORT as a value but calls ROLLBACK the only valid one, and documents
  nothing about it: here ABORT goes STOP_REQUESTED -> STOPPED and leaves tasks and traffic where
  they are. A deployment that has ended answers ConflictException (the error the API reference
  lists for "conflict in the current state of the resource"; the message is modelled on the one
  documented for ContinueServiceDeployment), an unknown one ServiceDeploymentNotFoundException
  ("The service deployment does not exist." -- developer guide, "Troubleshooting Amazon ECS
  blue/green deployments").
* A new deployment started while one is in progress supersedes it (STOPPED); deleting the
  service stops it (STOPPED). The guide says ECS deletes a deleted service's deployments; here
  they stay readable.
* ContinueServiceDeployment only releases PAUSE lifecycle hooks, and lifecycle hooks are not
  emulated (they are stored and returned, never run): it answers the documented errors for an
  unknown deployment, one in a terminal state, or a hookId that is malformed or not paused.
* Validation on CreateService/UpdateService (InvalidParameterException), with the messages the
  developer guide's "Troubleshooting Amazon ECS blue/green deployments" quotes where it has one:
  advancedConfiguration required for every load balancer with a non-ROLLING strategy, all or
  none, not with Classic Load Balancers; the production rule's ARN format; one rule for both
  production and test; duplicate target groups; "testListenerRule is required when
  productionListenerRule is not associated with both targetGroup and alternateTargetGroup". Not
  documented, worded here: a missing alternateTargetGroupArn / productionListenerRule / roleArn,
  a role that does not exist, a rule that does not exist or does not forward, a target group
  without a load balancer ("The target group with targetGroupArn ... does not have an associated
  load balancer." is the message AWS gives for the primary group), bakeTimeInMinutes (required
  for BLUE_GREEN by the API reference; 0-1440), stepPercent (multiples of 0.1 from 3.0 to
  100.0), canaryPercent (0.1 to 100.0), step and canary bake times (0-1440). Checked when the
  deployment starts, failing it the way the troubleshooting guide shows ("Service deployment
  rolled back because of invalid networking configuration. ..."): more than one target group
  serving production traffic, a rule forwarding to an unexpected group, a target group in
  neither rule, a role that ecs.amazonaws.com may not assume.

Deployment alarms (``deploymentConfiguration.alarms``)
------------------------------------------------------
ECS Developer Guide, "How CloudWatch alarms detect Amazon ECS deployment failures": with
``enable``, ECS watches the named alarms during the deployment and its bake, and sets the
deployment failed when one goes into ALARM; with ``rollback`` it returns to the last completed
deployment. Here: an alarm that *enters* ALARM (SetAlarmState; emulation/cloudwatch.py records
when) after the deployment was created and before it ends fails it at that moment -- one that
was in ALARM already when the deployment started is not a change and is ignored, as AWS ignores
it (aws/copilot-cli#4512: "the rollback setting is ignored if the alarms are already in alarm
state"). The deployment then goes ROLLBACK_IN_PROGRESS -> ROLLBACK_SUCCESSFUL (STOPPED without
``rollback``; ROLLBACK_FAILED on a service's first deployment), with ``alarms {status:
TRIGGERED, alarmNames, triggeredAlarmNames}`` (API reference, ServiceDeploymentAlarms: status
TRIGGERED | MONITORING | MONITORING_COMPLETE | DISABLED) and a statusReason naming the alarms
(worded here: AWS's wording is not documented). CreateService/UpdateService refuse alarm names
that do not exist in CloudWatch in the service's region, and more than
``MAX_DEPLOYMENT_ALARMS`` names (InvalidParameterException, worded here). An alarm enters ALARM by
SetAlarmState, or by the emulated CloudWatch's evaluation of the metrics the emulated ELB publishes
for requests (emulation/traffic.py, emulation/cloudwatch.py), brought up to date before each step.

Sandbox convention: unhealthy images
------------------------------------
Nothing runs in the emulation, so a task's health is decided by its image: **a container
image reference containing the word "unhealthy"** (any case, e.g.
``public.ecr.aws/nginx/nginx:unhealthy``) never passes its health checks (a service without a load
balancer, a worker: its essential container exits, code 1), and one containing
**"unpullable"** cannot be pulled (as a one-off task's: emulation/tasks.py). Deploying one shows a
failing deployment, the circuit breaker and its rollback; the tasks ECS stopped meanwhile are
listed (ListTasks desiredStatus=STOPPED, startedBy the deployment's ``ecs-svc/<n>``) and described
with their stopCode, stoppedReason and containers[].reason (``stopped_tasks``). Tasks that the IAM emulation fails
(secrets read right after their role changed; ``_tasks_start`` marks the service's deployment
FAILED) trip the circuit breaker at once.

State is kept on moto's ECS backend (reset with moto) and advanced lazily, from the emulation's
clock, whenever ECS's service and deployment APIs or ELB's DescribeListeners/DescribeRules are
called.
"""

from __future__ import annotations

import base64
import functools
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import emulation as _emulation
from . import AwsFault, Emulation, _ecs, _elbv2, _iam, _params, _role, _state
from .cloudwatch import evaluate_alarms
from .elbv2 import load_balancer_active_at

BLUE_GREEN_FAMILY = ("BLUE_GREEN", "LINEAR", "CANARY")
STRATEGIES = ("ROLLING", *BLUE_GREEN_FAMILY)
TERMINAL = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
MAX_MINUTES = 1440
BREAKER_REASON = "Service deployment rolled back because the circuit breaker threshold was exceeded."
BREAKER_STOPPED = "Service deployment stopped because the circuit breaker threshold was exceeded."
ROLLOUT_FAILED = "ECS deployment circuit breaker: tasks failed to start."
NO_CANDIDATE = "No rollback candidate was found to run the rollback."
REQUESTED_ROLLBACK = "Service deployment rolled back because a rollback was requested (StopServiceDeployment)."
REQUESTED_ABORT = "Service deployment stopped because a stop was requested (StopServiceDeployment, ABORT)."
SUPERSEDED = "Service deployment stopped because a newer service deployment was started."
DELETED = "Service deployment stopped because the service was deleted."
NETWORK = "Service deployment rolled back because of invalid networking configuration. "
UNHEALTHY_WORD = "unhealthy"
# The API reference (DeploymentAlarms.alarmNames) documents no maximum and I found no published
# quota for it; 10 is an assumption, the number CodeDeploy's AlarmConfiguration long accepted,
# kept in step with config.MAX_DEPLOYMENT_ALARMS so that ecsup refuses what this refuses.
MAX_DEPLOYMENT_ALARMS = 10
ALARM_ROLLBACK = "Service deployment rolled back because the CloudWatch alarm(s) {} went into ALARM."
ALARM_STOPPED = "Service deployment failed because the CloudWatch alarm(s) {} went into ALARM."
ALL_TASKS = 2**31  # Deployment.will_run: every task it is asked for, whatever the desired count becomes

_LOCK = threading.RLock()  # the sandbox's server answers requests on several threads


# -- model ----------------------------------------------------------------------------------
@dataclass
class Revision:
    """A service revision: what DescribeServiceRevisions returns, plus its tasks' counts now."""

    arn: str
    number: int
    task_definition: str
    body: dict[str, Any]
    healthy: bool
    legacy: dict[str, Any]  # its entry in the service's deployments[] (moto's dicts)
    requested: int = 0
    running: int = 0
    pending: int = 0
    group: str | None = None  # the target group its tasks are registered in
    tasks: list[str] = field(default_factory=list)
    # why its tasks fail (stopped_tasks): "pull" (an image it cannot pull), "health" (never
    # healthy), "secrets" (the IAM emulation: its secrets unreadable); None: they run
    failure: str | None = None
    running_since: float | None = None  # emulation clock: when its tasks began RUNNING (ECS Exec's agent)


@dataclass
class Deployment:
    arn: str
    account: str
    region: str
    service: Any  # moto's Service
    strategy: str
    config: dict[str, Any]
    target: Revision
    sources: list[Revision]
    live: Revision | None  # the source revision serving production: what a rollback restores
    created: float  # emulation clock
    created_at: datetime
    desired: int
    initial: bool
    prod_rule: str | None = None
    test_rule: str | None = None
    live_group: str | None = None
    new_group: str | None = None
    role: str | None = None
    status: str = "PENDING"
    stage: str | None = None
    status_reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    updated_at: datetime | None = None
    rollback: dict[str, Any] | None = None
    prod_weight: float = 0.0  # the target's share of production traffic
    test_weight: float = 0.0
    failing_since: float | None = None
    tripped: bool = False
    ended: float | None = None  # emulation clock, when it reached a terminal status
    steps: list[tuple[float, Callable[[float], None]]] = field(default_factory=list)
    frozen: tuple[dict[str, Any], list[dict[str, Any]]] | None = None
    delays: Any = None
    will_run: int = ALL_TASKS  # the initial deployment: how many of its tasks will ever run (moto's count)
    triggered: list[str] = field(default_factory=list)  # the alarms that failed it

    # -- time ------------------------------------------------------------------------------
    def wall(self, t: float) -> datetime:
        return self.created_at + timedelta(seconds=max(0.0, t - self.created))

    def then(self, t: float, step: Callable[[float], None]) -> None:
        self.steps.append((t, step))
        self.steps.sort(key=lambda s: s[0])

    def cancel(self) -> None:
        self.steps.clear()

    @property
    def quick(self) -> float:
        return float(self.delays.task_start) / 10

    @property
    def task_start(self) -> float:
        return float(self.delays.task_start)

    @property
    def service_start(self) -> float:
        return float(self.delays.service_start)

    @property
    def minute(self) -> float:
        return float(self.delays.deployment_minute)

    # -- breaker -----------------------------------------------------------------------------
    @property
    def breaker(self) -> dict[str, Any]:
        return dict(self.config.get("deploymentCircuitBreaker") or {})

    @property
    def threshold(self) -> int:
        return max(3, min(200, math.ceil(0.5 * max(self.desired, 1))))

    def failures(self, now: float) -> int:
        if self.tripped:
            return self.threshold
        if self.failing_since is None:
            return 0
        if self.ended is not None:
            now = min(now, self.ended)
        attempts = int(max(0.0, now - self.failing_since) // self.task_start)
        return attempts * max(self.desired, 1)

    @property
    def blue_green(self) -> bool:
        return self.strategy in BLUE_GREEN_FAMILY

    @property
    def revisions(self) -> list[Revision]:
        return [*self.sources, self.target]


def _now_utc() -> datetime:
    from moto.core.utils import utcnow

    now = utcnow()  # naive UTC, as moto's own timestamps; to the millisecond, as the API returns them
    em = _emulation.ACTIVE
    if em is not None and em.aws_clock_offset:  # AWS's clock, not this machine's
        now += timedelta(seconds=em.aws_clock_offset)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _id(n: int = 22) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "".join(alphabet[b % len(alphabet)] for b in uuid.uuid4().bytes + uuid.uuid4().bytes)[:n]


def _task_ids(n: int) -> list[str]:
    return [uuid.uuid4().hex for _ in range(max(n, 0))]


def _deployments(ecs: Any) -> dict[str, Deployment]:
    return _state(ecs, "service_deployments")


def _revisions(ecs: Any) -> dict[str, Revision]:
    return _state(ecs, "service_revisions")


def _of_service(svc: Any) -> list[Deployment]:
    found: list[Deployment] = svc.__dict__.setdefault("_ecsup_service_deployments", [])
    return found


def _current(svc: Any) -> Revision | None:
    return svc.__dict__.get("_ecsup_current_revision")


def _set_current(svc: Any, rev: Revision) -> None:
    svc.__dict__["_ecsup_current_revision"] = rev


def _active(svc: Any) -> Deployment | None:
    return next((d for d in reversed(_of_service(svc)) if d.status not in TERMINAL), None)


# -- configuration and validation ------------------------------------------------------------
def _invalid(message: str) -> AwsFault:
    return AwsFault("InvalidParameterException", message)


def with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """deploymentConfiguration as DescribeServices returns it: AWS fills in its defaults
    (API reference: DeploymentConfiguration, LinearConfiguration, CanaryConfiguration)."""
    out = dict(config)
    out.setdefault("maximumPercent", 200)
    out.setdefault("minimumHealthyPercent", 100)
    out.setdefault("deploymentCircuitBreaker", {"enable": False, "rollback": False})
    out.setdefault("strategy", "ROLLING")
    out.setdefault("alarms", {"alarmNames": [], "enable": False, "rollback": False})
    if out["strategy"] == "LINEAR":
        linear = dict(out.get("linearConfiguration") or {})
        linear.setdefault("stepPercent", 10.0)
        linear.setdefault("stepBakeTimeInMinutes", 6)
        out["linearConfiguration"] = linear
    if out["strategy"] == "CANARY":
        canary = dict(out.get("canaryConfiguration") or {})
        canary.setdefault("canaryPercent", 5.0)
        canary.setdefault("canaryBakeTimeInMinutes", 10)
        out["canaryConfiguration"] = canary
    if out["strategy"] in BLUE_GREEN_FAMILY:
        out.setdefault("bakeTimeInMinutes", 0)
    return out


def _minutes(name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, int) or not 0 <= value <= MAX_MINUTES:
        raise _invalid(f"{name} must be between 0 and {MAX_MINUTES} minutes; got {value}.")


def _percent(name: str, value: Any, low: float) -> None:
    if value is None:
        return
    tenths = float(value) * 10
    if not (low <= float(value) <= 100.0) or abs(tenths - round(tenths)) > 1e-6:
        raise _invalid(f"{name} must be a multiple of 0.1 from {low} to 100.0; got {value}.")


def validate(account: str, region: str, config: dict[str, Any], lbs: list[dict[str, Any]], controller: str) -> None:
    """What CreateService and UpdateService refuse at once (see the module's docstring)."""
    strategy = config.get("strategy") or "ROLLING"
    if strategy not in STRATEGIES:
        raise _invalid(f"Invalid deployment strategy {strategy}. Valid values are: {', '.join(STRATEGIES)}.")
    if strategy != "ROLLING" and controller != "ECS":
        raise _invalid(f"The {strategy} deployment strategy requires the ECS deployment controller.")
    if config.get("linearConfiguration") is not None and strategy != "LINEAR":
        raise _invalid("linearConfiguration is only valid with the LINEAR deployment strategy.")
    if config.get("canaryConfiguration") is not None and strategy != "CANARY":
        raise _invalid("canaryConfiguration is only valid with the CANARY deployment strategy.")
    _minutes("bakeTimeInMinutes", config.get("bakeTimeInMinutes"))
    linear = config.get("linearConfiguration") or {}
    _percent("linearConfiguration.stepPercent", linear.get("stepPercent"), 3.0)
    _minutes("linearConfiguration.stepBakeTimeInMinutes", linear.get("stepBakeTimeInMinutes"))
    canary = config.get("canaryConfiguration") or {}
    _percent("canaryConfiguration.canaryPercent", canary.get("canaryPercent"), 0.1)
    _minutes("canaryConfiguration.canaryBakeTimeInMinutes", canary.get("canaryBakeTimeInMinutes"))
    if strategy == "BLUE_GREEN" and config.get("bakeTimeInMinutes") is None:
        raise _invalid("bakeTimeInMinutes must be specified when using the BLUE_GREEN deployment strategy.")

    advanced = [lb.get("advancedConfiguration") for lb in lbs]
    if any(a is not None for a in advanced) and not all(a is not None for a in advanced):
        raise _invalid("Either all or none of the provided loadBalancers must have advancedConfiguration defined")
    if any(lb.get("loadBalancerName") and lb.get("advancedConfiguration") is not None for lb in lbs):
        raise _invalid("advancedConfiguration field is not allowed with ELBv1 loadBalancers")
    if strategy != "ROLLING" and lbs and not all(a is not None for a in advanced):
        raise _invalid(
            "advancedConfiguration field is required for all loadBalancers when using a non-ROLLING deployment strategy"
        )
    seen: set[str] = set()
    for lb in lbs:
        for arn in (lb.get("targetGroupArn"), (lb.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")):
            if arn and arn in seen:
                raise _invalid(f"Duplicate targetGroupArn found: {arn}")
            if arn:
                seen.add(arn)
    for lb in lbs:
        if lb.get("advancedConfiguration") is not None:
            _validate_advanced(account, region, lb)


def validate_alarms(account: str, region: str, config: dict[str, Any]) -> None:
    """deploymentConfiguration.alarms: names that exist in CloudWatch, at most MAX_DEPLOYMENT_ALARMS."""
    from .cloudwatch import alarm

    alarms = config.get("alarms") or {}
    names = list(alarms.get("alarmNames") or [])
    if len(names) > MAX_DEPLOYMENT_ALARMS:
        raise _invalid(f"alarms.alarmNames can have at most {MAX_DEPLOYMENT_ALARMS} alarms; got {len(names)}.")
    unknown = [n for n in names if alarm(account, region, n) is None]
    if unknown:
        raise _invalid(f"The following CloudWatch alarms do not exist: {', '.join(unknown)}.")


def _validate_advanced(account: str, region: str, lb: dict[str, Any]) -> None:
    adv = lb["advancedConfiguration"] or {}
    for name in ("alternateTargetGroupArn", "productionListenerRule", "roleArn"):
        if not adv.get(name):
            raise _invalid(f"advancedConfiguration.{name} must be specified.")
    prod, test = adv["productionListenerRule"], adv.get("testListenerRule")
    for name, arn in (("productionListenerRule", prod), ("testListenerRule", test)):
        if arn is not None and not _rule_arn_format(arn):
            raise _invalid(
                f"{name} has an invalid ARN format. Must be RuleArn for ALB or ListenerArn for NLB. Got: {arn}"
            )
    if test is not None and test == prod:
        raise _invalid(f"The following rules cannot be used as both production and test listener rules: {prod}")
    role = adv["roleArn"]
    if _role(account, role.split("/")[-1]) is None:
        raise _invalid(
            f"Unable to assume role {role}. Please verify that the ECS infrastructure role being passed exists and "
            "trusts ecs.amazonaws.com."
        )
    elb = _elbv2(account, region)
    groups = [lb.get("targetGroupArn"), adv["alternateTargetGroupArn"]]
    for arn in groups:
        tg = elb.target_groups.get(arn)
        if tg is None or not tg.load_balancer_arns:
            raise _invalid(f"The target group with targetGroupArn {arn} does not have an associated load balancer.")
    found = _find_rule(elb, prod)
    if found is None:
        raise _invalid(f"One or more rules not found: {prod}")
    rule, _ = found
    forward = _forward_groups(rule)
    if forward is None:
        raise _invalid(f"productionListenerRule {prod} must have a forward action to the service's target groups.")
    if test is not None and _find_rule(elb, test) is None:
        raise _invalid(f"One or more rules not found: {test}")
    if test is None and not all(g in forward for g in groups):
        raise _invalid(
            "For Application LoadBalancer, testListenerRule is required when productionListenerRule is not "
            "associated with both targetGroup and alternateTargetGroup"
        )


def _rule_arn_format(arn: str) -> bool:
    parts = arn.split(":")
    if len(parts) < 6 or parts[2] != "elasticloadbalancing":
        return False
    resource = parts[5]
    return resource.startswith("listener-rule/app/") or resource.startswith("listener/net/")


# -- ELB ---------------------------------------------------------------------------------------
def _find_rule(elb: Any, arn: str | None) -> tuple[Any, Any] | None:
    """(rule, listener) for a listener rule ARN (the default rule too), or an NLB listener's."""
    if not arn:
        return None
    for lb in elb.load_balancers.values():
        for listener in lb.listeners.values():
            if listener.arn == arn:
                return listener._default_rule[0], listener
            for rule in listener.rules.values():
                if rule.arn == arn:
                    return rule, listener
    return None


def _forward(actions: list[Any]) -> Any:
    return next((a for a in actions or [] if getattr(a, "type", None) == "forward"), None)


def _forward_groups(rule: Any) -> dict[str, int] | None:
    action = _forward(rule.actions)
    if action is None:
        return None
    config = action.data.get("ForwardConfig") or {}
    groups = config.get("TargetGroups")
    if groups:
        return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
    arn = action.data.get("TargetGroupArn")
    return {arn: 1} if arn else {}


def _rewrite(action: Any, weights: dict[str, int]) -> None:
    config = action.data.get("ForwardConfig")
    if config is None:
        config = {"TargetGroups": [], "TargetGroupStickinessConfig": {"Enabled": False}}
        if action.data.get("TargetGroupArn"):
            config["TargetGroups"].append({"TargetGroupArn": action.data["TargetGroupArn"], "Weight": 0})
        action.data["ForwardConfig"] = config
        action.ForwardConfig = config
    action.data.pop("TargetGroupArn", None)
    action.__dict__.pop("TargetGroupArn", None)
    groups = config.setdefault("TargetGroups", [])
    for arn, weight in weights.items():
        entry = next((g for g in groups if g["TargetGroupArn"] == arn), None)
        if entry is None:
            groups.append({"TargetGroupArn": arn, "Weight": weight})
        else:
            entry["Weight"] = weight


def _elb_weights(share: float) -> tuple[int, int]:
    """(new, old) ELB weights for the new group's share in percent (integers 0-999)."""
    if abs(share - round(share)) < 1e-9:
        return round(share), 100 - round(share)
    new = round(share * 10)
    return new, 1000 - new


def _shift(dep: Deployment, rule_arn: str | None, share: float) -> None:
    if not rule_arn or not dep.live_group or not dep.new_group:
        return
    found = _find_rule(_elbv2(dep.account, dep.region), rule_arn)
    if found is None:
        return
    rule, listener = found
    new, old = _elb_weights(share)
    weights = {dep.new_group: new, dep.live_group: old}
    lists = [rule.actions]
    if rule.is_default and listener.default_actions is not rule.actions:
        lists.append(listener.default_actions)
    for actions in lists:
        action = _forward(actions)
        if action is not None:
            _rewrite(action, weights)


def _network_problem(dep: Deployment) -> str | None:
    """What ECS finds wrong when the deployment starts (developer guide, "Troubleshooting Amazon ECS
    blue/green deployments": errors that "appear in the statusReason ... and cause a rollback")."""
    if not dep.prod_rule:
        return None
    elb = _elbv2(dep.account, dep.region)
    role = _role(dep.account, str(dep.role).split("/")[-1])
    if role is None or "ecs.amazonaws.com" not in str(role.assume_role_policy_document):
        return (
            "ECS was unable to manage the ELB resources due to missing permissions on ECS Infrastructure Role "
            f"'{dep.role}'."
        )
    found = _find_rule(elb, dep.prod_rule)
    if found is None or (dep.test_rule and _find_rule(elb, dep.test_rule) is None):
        return "One or more rules not found"
    ours = {dep.live_group, dep.new_group}
    prod = _forward_groups(found[0]) or {}
    serving = [arn for arn, weight in prod.items() if weight > 0]
    for arn in serving:
        if arn not in ours:
            return (
                f"Production listener rule is forwarding traffic to unexpected target group {arn}. Expected traffic to "
                f"be forwarded to either targetGroupArn: {dep.live_group} or alternateTargetGroupArn: {dep.new_group}"
            )
    if len(serving) > 1:
        return (
            f"productionListenerRule {dep.prod_rule} should have exactly one target group serving traffic but found "
            f"{len(serving)} target groups which are serving traffic"
        )
    test_found = _find_rule(elb, dep.test_rule)
    test = (_forward_groups(test_found[0]) or {}) if test_found else {}
    for group in ours:
        if group and group not in prod and group not in test:
            return f"Target group {group} is not associated with either productionListenerRule or testListenerRule."
    return None


# -- the service ------------------------------------------------------------------------------
def _event(svc: Any, when: datetime, message: str) -> None:
    svc.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": when, "message": message})
    del svc.events[100:]


def _started(dep: Deployment, t: float, rev: Revision, n: int) -> None:
    ids = _task_ids(n)
    rev.tasks = ids
    if ids:
        tasks = " ".join(f"(task {i})" for i in ids)
        _event(dep.service, dep.wall(t), f"(service {dep.service.name}) has started {n} tasks: {tasks}.")


def _stopped(dep: Deployment, t: float, rev: Revision) -> None:
    count = rev.running + rev.pending
    if count <= 0:
        return
    ids = (rev.tasks or _task_ids(count))[:count]
    tasks = " ".join(f"(task {i})" for i in ids)
    name = dep.service.name
    if rev.group and rev.running:
        message = f"(service {name}) deregistered {rev.running} targets in (target-group {rev.group})"
        _event(dep.service, dep.wall(t), message)
    _event(dep.service, dep.wall(t), f"(service {name}) has stopped {count} running tasks: {tasks}.")


def _sync(dep: Deployment, t: float) -> None:
    """The service's counts and its deployments[] entries, from the revisions' tasks."""
    svc = dep.service
    if svc.status != "ACTIVE":
        return
    revs = {id(r): r for r in dep.revisions}.values()
    svc.running_count = sum(r.running for r in revs)
    svc.pending_count = sum(r.pending for r in revs)
    for rev in revs:
        if rev.running > 0 and rev.running_since is None:
            rev.running_since = t
        elif rev.running <= 0:
            rev.running_since = None
        rev.legacy.update(
            desiredCount=rev.requested,
            runningCount=rev.running,
            pendingCount=rev.pending,
            updatedAt=dep.wall(t),
        )
    if dep.failing_since is not None:
        dep.target.legacy["failedTasks"] = dep.failures(t)
    dep.updated_at = dep.wall(t)
    _register_targets(dep.account, dep.region, revs)


def _task_ip(task_id: str) -> str:
    n = int(task_id[:6], 16)
    return f"10.{(n >> 16) % 256}.{(n >> 8) % 256}.{n % 256 or 1}"


def _register_targets(account: str, region: str, revs: Any) -> None:
    """ECS registers a service's running tasks (their awsvpc IP addresses) in the target group of
    their revision, and deregisters them when they stop ("(service x) registered 1 targets in
    (target-group ...)" -- the service events); moto's ECS registers none. Here each revision's
    running tasks are its group's targets (moto reports a registered ip target healthy)."""
    elb = _elbv2(account, region)
    for rev in revs:
        if not rev.group or rev.group not in elb.target_groups:
            continue
        while len(rev.tasks) < rev.running:
            rev.tasks.append(uuid.uuid4().hex)
        want = {_task_ip(i) for i in rev.tasks[: rev.running]}
        have: set[str] = rev.__dict__.setdefault("_registered", set())
        tg = elb.target_groups[rev.group]
        port = int(tg.port or 80)
        if want - have:
            tg.register([{"Id": ip, "Port": port} for ip in sorted(want - have)])
        gone = [ip for ip in sorted(have - want) if ip in tg.targets]
        if gone:
            tg.deregister([{"Id": ip} for ip in gone])
        rev.__dict__["_registered"] = want


def _deregister_service_targets(svc: Any) -> None:
    """The service is deleted: its tasks stop and leave their target groups."""
    for dep in _of_service(svc):
        for rev in dep.revisions:
            rev.running = rev.pending = 0
        _register_targets(dep.account, dep.region, dep.revisions)


def _legacy_entry(svc: Any, rev: Revision, when: datetime) -> dict[str, Any]:
    return {
        "createdAt": when,
        "desiredCount": svc.desired_count,
        "failedTasks": 0,
        "id": f"ecs-svc/{rev.number}",
        "launchType": svc.launch_type,
        "pendingCount": 0,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment ecs-svc/{rev.number} in progress.",
        "runningCount": 0,
        "platformVersion": svc.platform_version,
        "networkConfiguration": svc.network_configuration or None,
        "platformFamily": "EC2" if svc.launch_type == "EC2" else "FARGATE",
        "status": "PRIMARY",
        "taskDefinition": rev.task_definition,
        "updatedAt": when,
    }


def _legacy_done(svc: Any, keep: Revision) -> None:
    """The deployment ended: only `keep`'s entry stays, PRIMARY and COMPLETED."""
    keep.legacy.update(
        status="PRIMARY",
        rolloutState="COMPLETED",
        rolloutStateReason=f"ECS deployment {keep.legacy.get('id')} completed.",
    )
    svc.deployments[:] = [keep.legacy]


def _make_revision(ecs: Any, svc: Any, when: datetime, legacy: dict[str, Any] | None) -> Revision:
    number = int(uuid.uuid4().int % (9 * 10**18)) + 10**18
    td = ecs.describe_task_definition(svc.task_definition)
    images = [{"containerName": c.get("name"), "image": c.get("image")} for c in td.container_definitions]
    from .tasks import UNPULLABLE_WORD

    unhealthy = any(UNHEALTHY_WORD in str(i.get("image") or "").lower() for i in images)
    unpullable = any(UNPULLABLE_WORD in str(i.get("image") or "").lower() for i in images)
    healthy = not unhealthy and not unpullable
    arn = f"arn:aws:ecs:{svc.region_name}:{svc._account_id}:service-revision/{svc.cluster_name}/{svc.name}/{number}"
    body: dict[str, Any] = {
        "serviceRevisionArn": arn,
        "serviceArn": svc.arn,
        "clusterArn": svc.cluster_arn,
        "taskDefinition": td.arn,
        "launchType": svc.launch_type,
        "platformVersion": svc.platform_version,
        "platformFamily": "Linux",
        "loadBalancers": [dict(lb) for lb in svc.load_balancers or []],
        "networkConfiguration": svc.network_configuration or None,
        "containerImages": images,
        "createdAt": when,
    }
    body = {k: v for k, v in body.items() if v is not None}
    rev = Revision(arn, number, td.arn, body, healthy, legacy or {})
    rev.failure = "pull" if unpullable else ("health" if unhealthy else None)
    if legacy is None:
        rev.legacy = _legacy_entry(svc, rev, when)
    else:
        legacy["id"] = f"ecs-svc/{number}"
    _revisions(ecs)[arn] = rev
    return rev


def _lb_advanced(svc: Any) -> tuple[dict[str, Any], dict[str, Any]] | tuple[None, None]:
    for lb in svc.load_balancers or []:
        adv = lb.get("advancedConfiguration")
        if adv:
            return lb, adv
    return None, None


def _new_deployment(em: Emulation, ecs: Any, svc: Any, initial: bool) -> Deployment:
    now, when = em.now(), _now_utc()
    config = with_defaults(getattr(svc, "deployment_configuration", None) or {})
    previous = _active(svc)
    if previous is not None:  # superseded: it stops where it is
        previous.cancel()
        _finish(previous, now, "STOPPED", SUPERSEDED, stopped=True)
    current = _current(svc)
    sources: list[Revision] = []
    if not initial:
        if previous is not None:
            sources = [r for r in previous.revisions if r.running or r.pending]
            sources = sources or [r for r in (previous.live, previous.target) if r is not None][:1]
        elif current is not None:
            current.running, current.pending = svc.running_count, svc.pending_count
            current.requested = current.requested or svc.desired_count
            sources = [current]
    legacy = svc.deployments[0] if initial and svc.deployments else None
    target = _make_revision(ecs, svc, when, legacy)
    for d in svc.deployments:
        if d is not target.legacy:
            d["status"] = "ACTIVE"
    if not initial:
        svc.deployments.insert(0, target.legacy)
    lb, adv = _lb_advanced(svc)
    strategy = config.get("strategy", "ROLLING")
    dep = Deployment(
        arn=f"arn:aws:ecs:{svc.region_name}:{svc._account_id}:service-deployment/{svc.cluster_name}/{svc.name}/{_id()}",
        account=svc._account_id,
        region=svc.region_name,
        service=svc,
        strategy=strategy,
        config=config,
        target=target,
        sources=sources,
        live=None,
        created=now,
        created_at=when,
        desired=svc.desired_count,
        initial=initial,
        delays=em.delays,
    )
    dep.updated_at = when
    plain_group = (svc.load_balancers or [{}])[0].get("targetGroupArn") if svc.load_balancers else None
    if lb is not None and adv is not None and dep.blue_green:
        dep.prod_rule, dep.test_rule = adv.get("productionListenerRule"), adv.get("testListenerRule")
        dep.role = adv.get("roleArn")
        groups: list[str] = [str(lb.get("targetGroupArn")), str(adv.get("alternateTargetGroupArn"))]
        found = _find_rule(_elbv2(dep.account, dep.region), dep.prod_rule)
        weights = (_forward_groups(found[0]) if found else None) or {}
        live = max(groups, key=lambda g: weights.get(g, 0)) if any(weights.get(g) for g in groups) else groups[0]
        dep.live_group = live
        dep.new_group = groups[1] if live == groups[0] else groups[0]
    else:
        dep.live_group = dep.new_group = plain_group
    by_group = [r for r in sources if r.group == dep.live_group]
    dep.live = (by_group or sources or [None])[0]  # type: ignore[list-item]
    if initial and not dep.blue_green:
        dep.new_group = dep.live_group  # ROLLING: the first tasks serve production at once
    target.group = dep.new_group
    target.requested = dep.desired
    if initial:
        # How many of its tasks will ever run: moto's MOTO_ECS_SERVICE_RUNNING (tests; 0: none, a
        # service that never becomes stable), or all of them (the sandbox). They start later.
        dep.will_run = svc.running_count if svc.running_count < svc.desired_count else ALL_TASKS
        if dep.blue_green:  # its tasks start in SCALE_UP; moto says COMPLETED at once: not yet
            svc.running_count = svc.pending_count = 0
            target.legacy.update(
                rolloutState="IN_PROGRESS", rolloutStateReason=f"ECS deployment {target.legacy.get('id')} in progress."
            )
        target.running, target.pending = svc.running_count, svc.pending_count
        target.tasks = _task_ids(svc.running_count)
    _deployments(ecs)[dep.arn] = dep
    _of_service(svc).append(dep)
    if initial and not dep.blue_green:
        dep.then(now, lambda t: _initial(dep, t))
    else:
        # The first deployment of a BLUE_GREEN, LINEAR or CANARY service runs the whole lifecycle
        # too: its tasks go to the alternate target group, production shifts to it, then bake time
        # and clean-up. Observed live: "green=100/blue=0 after the initial deployment"
        # (go-to-k/cdk-real-drift#1730); terraform-provider-aws waits for that first deployment's
        # SUCCESSFUL status on create, lifecycle hooks included (#43434, statusServiceWaitForStable).
        # There is nothing to roll back to: a failure ends ROLLBACK_FAILED (_begin_rollback).
        dep.then(now + dep.quick, lambda t: _start(dep, t))
    return dep


# -- the deployment's steps -----------------------------------------------------------------
def _stage(dep: Deployment, t: float, stage: str) -> None:
    dep.stage = stage
    dep.updated_at = dep.wall(t)


def _initial(dep: Deployment, t: float) -> None:
    """CreateService: its tasks are PENDING for Delays.service_start, then RUNNING (as many as
    moto's MOTO_ECS_SERVICE_RUNNING says; the sandbox: the desired count); the deployment is
    COMPLETED once they run and the load balancer of their target group is active (before, its
    health checks cannot pass). With no delay and an active load balancer: all at once. A
    service whose image is unhealthy never gets there."""
    dep.status, dep.started_at = "IN_PROGRESS", dep.wall(t)
    target = dep.target
    if target.healthy:
        # moto says COMPLETED at once when its running count is the desired one: not yet
        target.legacy.update(
            rolloutState="IN_PROGRESS", rolloutStateReason=f"ECS deployment {target.legacy.get('id')} in progress."
        )
        if dep.service_start <= 0:
            if target.running:
                _started(dep, t, target, target.running)
            _sync(dep, t)
            _initial_running(dep, t)
            return
        target.running, target.pending = 0, dep.desired
        _started(dep, t, target, min(dep.will_run, dep.desired))  # (tasks that never run: no event, as before)
        _sync(dep, t)
        dep.then(t + dep.service_start, lambda t2: _initial_tasks_run(dep, t2))
        return
    if dep.blue_green:
        _stage(dep, t, "SCALE_UP")
    dep.target.running, dep.target.pending = 0, dep.desired
    _started(dep, t, dep.target, dep.desired)
    _failing(dep, t)


def _initial_tasks_run(dep: Deployment, t: float) -> None:
    """The first tasks are RUNNING (those moto says will run; the rest stay PENDING)."""
    target = dep.target
    running = min(dep.will_run, dep.desired)
    target.running, target.pending = running, dep.desired - running
    _sync(dep, t)
    _initial_running(dep, t)


def _initial_running(dep: Deployment, t: float) -> None:
    """The first tasks run: registered in the target group, healthy once its load balancer is
    active; then the deployment is COMPLETED. Short of tasks, it stays IN_PROGRESS."""
    if dep.target.running < dep.desired:
        return
    healthy_at = _load_balancer_active_at(dep)
    target = dep.target
    if target.group and target.running and healthy_at is not None:
        name = dep.service.name
        _event(
            dep.service,
            dep.wall(t),
            f"(service {name}) registered {target.running} targets in (target-group {target.group})",
        )
    if healthy_at is not None and healthy_at > t:
        dep.then(healthy_at, lambda t2: _succeed(dep, t2))
    else:
        _succeed(dep, t)


def _load_balancer_active_at(dep: Deployment) -> float | None:
    """When the load balancers of the target group the new tasks go to are all active (their
    targets can pass health checks from then on); None without a load balancer."""
    group = dep.new_group or dep.target.group
    if not group:
        return None
    elb = _elbv2(dep.account, dep.region)
    tg = elb.target_groups.get(group)
    if tg is None:
        return None
    times = [
        load_balancer_active_at(dep.delays, elb.load_balancers[arn])
        for arn in tg.load_balancer_arns
        if arn in elb.load_balancers
    ]
    if not times:
        return None
    return max((at for at in times if at is not None), default=float("-inf"))


def _start(dep: Deployment, t: float) -> None:
    dep.status, dep.started_at = "IN_PROGRESS", dep.wall(t)
    dep.updated_at = dep.wall(t)
    problem = _network_problem(dep) if dep.blue_green else None
    if problem is not None:
        _begin_rollback(dep, t, NETWORK + problem, requested=False)
        return
    if not dep.blue_green:
        _scale_up(dep, t)
        return
    if len(dep.sources) > 1:
        _stage(dep, t, "RECONCILE_SERVICE")
        _shift(dep, dep.prod_rule, 0.0)
        dep.then(t + dep.quick, lambda t2: _pre_scale_up(dep, t2))
    else:
        _pre_scale_up(dep, t)


def _pre_scale_up(dep: Deployment, t: float) -> None:
    _stage(dep, t, "PRE_SCALE_UP")
    dep.then(t + dep.quick, lambda t2: _scale_up(dep, t2))


def _scale_up(dep: Deployment, t: float) -> None:
    if dep.blue_green:
        _stage(dep, t, "SCALE_UP")
    target = dep.target
    target.requested, target.pending, target.running = dep.desired, dep.desired, 0
    # a first deployment's tasks that will never run (moto's MOTO_ECS_SERVICE_RUNNING): no event
    _started(dep, t, target, min(dep.will_run, dep.desired) if dep.initial else dep.desired)
    _sync(dep, t)
    if target.healthy:  # running and healthy: no sooner than its load balancer is active
        healthy_from = _load_balancer_active_at(dep)
        start = dep.service_start if dep.initial else dep.task_start  # a new service's tasks: see Delays
        ready = t + start if healthy_from is None else max(t + start, healthy_from)
        dep.then(ready, lambda t2: _scaled_up(dep, t2))
    else:
        _failing(dep, t)


def _failing(dep: Deployment, t: float) -> None:
    """Tasks that never pass their health checks: replaced every task_start, each failure counted
    by the circuit breaker, which trips at its threshold."""
    dep.failing_since = t
    _sync(dep, t)
    if dep.breaker.get("enable"):
        attempts = math.ceil(dep.threshold / max(dep.desired, 1))
        dep.then(t + attempts * dep.task_start, lambda t2: _trip(dep, t2))


@dataclass
class StoppedTask:
    """A task of a failing deployment that ECS stopped: what DescribeTasks says of it."""

    id: str
    revision: Revision
    started_by: str
    group: str
    stop_code: str
    reason: str
    container_reason: str | None
    exit_code: int | None
    created: float  # emulation clock
    stopped: float


def _why(rev: Revision) -> tuple[str, str, str | None, int | None]:
    """(stopCode, stoppedReason, containers[].reason, exitCode) of a failing revision's tasks, in
    AWS's words: an image Fargate cannot pull stops the task before it runs ("CannotPullContainerError:
    ...", TaskFailedToStart, no exit code: as emulation/tasks.py's one-off tasks); tasks that fail
    the load balancer's health checks are stopped by the scheduler ("Task failed ELB health checks
    in (target-group ...)", ServiceSchedulerInitiated, the container stopped by SIGTERM); unreadable
    secrets stop it before it runs (ResourceInitializationError, STACK.md)."""
    from .tasks import UNPULLABLE_WORD

    images = [str(i.get("image") or "") for i in rev.body.get("containerImages") or []]
    image = next((i for i in images if UNPULLABLE_WORD in i.lower()), images[0] if images else "")
    if rev.failure == "pull":
        why = (
            f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve "
            f"ref {image}: not found"
        )
        return "TaskFailedToStart", why, why, None
    if rev.failure == "secrets":
        why = (
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
            "failed: unable to retrieve secrets from ssm: AccessDeniedException: User is not authorized to perform "
            "ssm:GetParameters"
        )
        return "TaskFailedToStart", why, None, None
    if not rev.group:
        # a service without a load balancer (a worker) has no ELB health check: its unhealthy image's
        # container exits, and the task stops with it (stopCode EssentialContainerExited, "Essential
        # container in task exited": API reference, Task.stopCode; ECS Developer Guide, "Amazon ECS
        # stopped task error messages")
        return "EssentialContainerExited", "Essential container in task exited", None, 1
    return "ServiceSchedulerInitiated", f"Task failed ELB health checks in (target-group {rev.group})", None, 143


def stopped_tasks(dep: Deployment, now: float) -> list[StoppedTask]:
    """The tasks ECS stopped while the deployment's new revision failed: ``desired`` of them every
    ``task_start`` from when it began failing, as many as the circuit breaker counted (failedTasks)."""
    rev = dep.target
    if dep.failing_since is None or rev.failure is None:
        return []
    per_round = max(dep.desired, 1)
    code, reason, container_reason, exit_code = _why(rev)
    out = []
    for i in range(dep.failures(now)):
        started = dep.failing_since + (i // per_round) * dep.task_start
        out.append(
            StoppedTask(
                id=uuid.uuid5(uuid.NAMESPACE_URL, f"{dep.arn}/stopped/{i}").hex,
                revision=rev,
                started_by=str(rev.legacy.get("id") or f"ecs-svc/{rev.number}"),
                group=f"service:{dep.service.name}",
                stop_code=code,
                reason=reason,
                container_reason=container_reason,
                exit_code=exit_code,
                created=started,
                stopped=started + dep.task_start,
            )
        )
    return out


def _trip(dep: Deployment, t: float) -> None:
    dep.cancel()
    dep.tripped = True
    legacy = dep.target.legacy
    legacy.update(rolloutState="FAILED", rolloutStateReason=ROLLOUT_FAILED, failedTasks=dep.threshold)
    _event(
        dep.service,
        dep.wall(t),
        f"(service {dep.service.name}) (deployment {legacy.get('id')}) deployment failed: tasks failed to start.",
    )
    dep.target.pending = 0
    if dep.breaker.get("rollback"):
        _begin_rollback(dep, t, BREAKER_REASON, requested=False)
    else:
        _sync(dep, t)
        _finish(dep, t, "STOPPED", BREAKER_STOPPED, stopped=True)


def _scaled_up(dep: Deployment, t: float) -> None:
    target = dep.target
    running = min(dep.will_run, dep.desired)  # a first deployment's: as many as moto says will run
    target.running, target.pending = running, dep.desired - running
    _sync(dep, t)
    if running < dep.desired:  # short of tasks: it stays in SCALE_UP (the service never becomes stable)
        return
    if target.group:
        _event(
            dep.service,
            dep.wall(t),
            f"(service {dep.service.name}) registered {dep.desired} targets in (target-group {target.group})",
        )
    if not dep.blue_green:  # ROLLING: the old tasks are replaced
        dep.then(t + dep.quick, lambda t2: _clean_up(dep, t2))
        return
    _stage(dep, t, "POST_SCALE_UP")
    dep.then(t + dep.quick, lambda t2: _test_shift(dep, t2))


def _role_permissions_settled(dep: Deployment, t: float) -> bool:
    """Whether IAM has applied the infrastructure role's permissions by ``t``: a policy attached
    moments ago is not in force yet (Delays.iam_permissions), and ECS's ModifyRule is denied."""
    name = str(dep.role or "").split("/")[-1]
    changed = _state(_iam(dep.account), "permissions").get(name)
    return changed is None or t >= changed + float(dep.delays.iam_permissions)


def _test_shift(dep: Deployment, t: float) -> None:
    if dep.role and not _role_permissions_settled(dep, t):  # its first call to ELB
        problem = (
            "ECS was unable to manage the ELB resources due to missing permissions on ECS Infrastructure Role "
            f"'{dep.role}'."
        )
        _begin_rollback(dep, t, NETWORK + problem, requested=False)
        return
    _stage(dep, t, "TEST_TRAFFIC_SHIFT")
    dep.test_weight = 100.0
    _shift(dep, dep.test_rule, 100.0)
    dep.then(t + dep.quick, lambda t2: _post_test(dep, t2))


def _post_test(dep: Deployment, t: float) -> None:
    _stage(dep, t, "POST_TEST_TRAFFIC_SHIFT")
    dep.then(t + dep.quick, lambda t2: _production_shift(dep, t2))


def traffic_steps(config: dict[str, Any]) -> tuple[list[float], float]:
    """The new revision's production share after each shift, and the minutes between shifts."""
    strategy = config.get("strategy")
    if strategy == "LINEAR":
        linear = config.get("linearConfiguration") or {}
        step = float(linear.get("stepPercent", 10.0))
        shares, share = [], 0.0
        while share < 100.0 - 1e-9:
            share = min(100.0, round(share + step, 1))
            shares.append(share)
        return shares, float(linear.get("stepBakeTimeInMinutes", 6))
    if strategy == "CANARY":
        canary = config.get("canaryConfiguration") or {}
        percent = float(canary.get("canaryPercent", 5.0))
        return ([percent] if percent >= 100.0 else [percent, 100.0]), float(canary.get("canaryBakeTimeInMinutes", 10))
    return [100.0], 0.0


def _production_shift(dep: Deployment, t: float) -> None:
    _stage(dep, t, "PRODUCTION_TRAFFIC_SHIFT")
    shares, minutes = traffic_steps(dep.config)
    for i, share in enumerate(shares):
        dep.then(t + i * minutes * dep.minute, functools.partial(_set_share, dep, share=share))
    last = t + (len(shares) - 1) * minutes * dep.minute
    dep.then(last + dep.quick, lambda t2: _post_production(dep, t2))


def _set_share(dep: Deployment, t: float, *, share: float) -> None:
    dep.prod_weight = share
    dep.updated_at = dep.wall(t)
    _shift(dep, dep.prod_rule, share)


def _post_production(dep: Deployment, t: float) -> None:
    _stage(dep, t, "POST_PRODUCTION_TRAFFIC_SHIFT")
    dep.then(t + dep.quick, lambda t2: _bake(dep, t2))


def _bake(dep: Deployment, t: float) -> None:
    _stage(dep, t, "BAKE_TIME")
    minutes = float(dep.config.get("bakeTimeInMinutes") or 0)
    dep.then(t + minutes * dep.minute, lambda t2: _clean_up(dep, t2))


def _clean_up(dep: Deployment, t: float) -> None:
    if dep.blue_green:
        _stage(dep, t, "CLEAN_UP")
    for rev in dep.sources:
        _stopped(dep, t, rev)
        rev.requested = rev.running = rev.pending = 0
    _sync(dep, t)
    dep.then(t + dep.quick, lambda t2: _succeed(dep, t2))


def _succeed(dep: Deployment, t: float) -> None:
    svc = dep.service
    _legacy_done(svc, dep.target)
    _set_current(svc, dep.target)
    if not dep.initial:
        deployment = dep.target.legacy.get("id")
        _event(svc, dep.wall(t), f"(service {svc.name}) (deployment {deployment}) deployment completed.")
    _event(svc, dep.wall(t), f"(service {svc.name}) has reached a steady state.")
    _finish(dep, t, "SUCCESSFUL", None)


def _begin_rollback(dep: Deployment, t: float, reason: str, requested: bool) -> None:
    dep.cancel()
    if dep.live is None:  # the service's first deployment: nothing to go back to
        dep.target.pending = 0
        dep.target.legacy.update(rolloutState="FAILED", rolloutStateReason=ROLLOUT_FAILED)
        _sync(dep, t)
        dep.rollback = {"reason": reason, "startedAt": dep.wall(t)}
        _finish(dep, t, "ROLLBACK_FAILED", NO_CANDIDATE)
        return
    if requested:
        dep.status, dep.status_reason = "ROLLBACK_REQUESTED", reason
        dep.updated_at = dep.wall(t)
        dep.then(t + dep.quick, lambda t2: _rolling_back(dep, t2, reason))
    else:
        _rolling_back(dep, t, reason)


def _rolling_back(dep: Deployment, t: float, reason: str) -> None:
    live = dep.live
    assert live is not None
    svc = dep.service
    dep.status, dep.status_reason = "ROLLBACK_IN_PROGRESS", reason
    dep.rollback = {"reason": reason, "startedAt": dep.wall(t), "serviceRevisionArn": live.arn}
    dep.updated_at = dep.wall(t)
    dep.prod_weight = dep.test_weight = 0.0
    _shift(dep, dep.prod_rule, 0.0)
    _shift(dep, dep.test_rule, 0.0)
    if svc.status == "ACTIVE":
        svc.task_definition = live.task_definition
        # a service revision carries its load balancers (ECS API reference, ServiceRevision): the
        # rollback puts the revision before back whole, so a move's rollback ends on the old ones
        svc.load_balancers = [dict(lb) for lb in live.body.get("loadBalancers") or []] or svc.load_balancers
    live.legacy["status"] = "PRIMARY"
    live.legacy.update(
        rolloutState="IN_PROGRESS", rolloutStateReason=f"ECS deployment {live.legacy.get('id')} in progress."
    )
    dep.target.legacy["status"] = "ACTIVE"
    if not any(d is live.legacy for d in svc.deployments):
        svc.deployments.insert(0, live.legacy)
    svc.deployments.sort(key=lambda d: d.get("status") != "PRIMARY")
    _event(svc, dep.wall(t), f"(service {svc.name}) rolling back to deployment {live.legacy.get('id')}.")
    live.requested = dep.desired
    if live.running + live.pending < dep.desired:  # its tasks were scaled in meanwhile (superseded deployments)
        live.pending = dep.desired - live.running
    _sync(dep, t)
    dep.then(t + dep.task_start / 2, lambda t2: _rolled_back(dep, t2))


def _rolled_back(dep: Deployment, t: float) -> None:
    live = dep.live
    assert live is not None
    _stopped(dep, t, dep.target)
    for rev in dep.revisions:
        if rev is not live:
            rev.requested = rev.running = rev.pending = 0
    live.running, live.pending = live.running + live.pending, 0
    _sync(dep, t)
    svc = dep.service
    _legacy_done(svc, live)
    _set_current(svc, live)
    _event(svc, dep.wall(t), f"(service {svc.name}) has reached a steady state.")
    _finish(dep, t, "ROLLBACK_SUCCESSFUL", dep.status_reason)


def _abort(dep: Deployment, t: float) -> None:
    dep.cancel()
    dep.status, dep.status_reason = "STOP_REQUESTED", REQUESTED_ABORT
    dep.updated_at = dep.wall(t)

    def stopped(t2: float) -> None:
        dep.target.pending = 0
        _sync(dep, t2)
        _finish(dep, t2, "STOPPED", REQUESTED_ABORT, stopped=True)

    dep.then(t + dep.quick, stopped)


def _finish(dep: Deployment, t: float, status: str, reason: str | None, stopped: bool = False) -> None:
    dep.status, dep.status_reason, dep.ended = status, reason, t
    when = dep.wall(t)
    dep.updated_at = when
    if stopped:
        dep.stopped_at = when
    else:
        dep.finished_at = when
    dep.frozen = (_summary(dep, dep.target, t), [_summary(dep, r, t) for r in dep.sources])


# -- advancing ----------------------------------------------------------------------------------
def advance(em: Emulation, ecs: Any) -> None:
    """Apply every step whose time has come, in order, for every deployment in the region."""
    with _LOCK:
        now = em.now()
        for dep in list(_deployments(ecs).values()):
            if dep.status in TERMINAL:
                continue
            # not a deployment an alarm failed (_alarm_failed marks its tasks' rollout FAILED too, and
            # rolls back with its own reason)
            external = dep.target.legacy.get("rolloutState") == "FAILED" and not dep.tripped and not dep.triggered
            if external:  # the IAM emulation failed the tasks (_tasks_start): the breaker trips now
                dep.failing_since = dep.failing_since if dep.failing_since is not None else now
                dep.target.healthy = False
                dep.target.failure = dep.target.failure or "secrets"
                _trip(dep, now)
            evaluate_alarms(em, dep.account, dep.region)  # CloudWatch's periods that ended meanwhile
            fired = _alarm_fired(dep)
            while dep.steps and dep.steps[0][0] <= now:
                if fired is not None and fired[0] <= dep.steps[0][0] and dep.status in ("PENDING", "IN_PROGRESS"):
                    break  # the alarm came first
                at, step = dep.steps.pop(0)
                step(at)
            if fired is not None and fired[0] <= now and dep.status in ("PENDING", "IN_PROGRESS"):
                _alarm_failed(dep, max(fired[0], dep.created), fired[1])
                while dep.steps and dep.steps[0][0] <= now:  # the rollback's own steps
                    at, step = dep.steps.pop(0)
                    step(at)


def _watched(dep: Deployment) -> list[str]:
    alarms = dep.config.get("alarms") or {}
    return list(alarms.get("alarmNames") or []) if alarms.get("enable") else []


def _alarm_fired(dep: Deployment) -> tuple[float, list[str]] | None:
    """When the first of the deployment's alarms went into ALARM after it was created (and which
    did then), or None."""
    from .cloudwatch import entered_alarm

    watched = _watched(dep)
    if not watched:
        return None
    entries = entered_alarm(dep.account, dep.region)
    times = {n: min((t for t in entries.get(n, []) if t > dep.created), default=None) for n in watched}
    first = min((t for t in times.values() if t is not None), default=None)
    if first is None:
        return None
    return first, [n for n, t in times.items() if t == first]


def _alarm_failed(dep: Deployment, t: float, names: list[str]) -> None:
    """An alarm went into ALARM: the deployment fails; with rollback, ECS rolls it back."""
    dep.cancel()
    dep.triggered = list(names)
    legacy = dep.target.legacy
    listed = ", ".join(names)
    legacy.update(rolloutState="FAILED", rolloutStateReason=f"ECS deployment detected triggered alarms: {listed}.")
    _event(
        dep.service,
        dep.wall(t),
        f"(service {dep.service.name}) (deployment {legacy.get('id')}) deployment failed: alarm detected.",
    )
    dep.target.pending = 0
    if (dep.config.get("alarms") or {}).get("rollback"):
        _begin_rollback(dep, t, ALARM_ROLLBACK.format(listed), requested=False)
    else:
        _sync(dep, t)
        _finish(dep, t, "STOPPED", ALARM_STOPPED.format(listed), stopped=True)


# -- the API's shapes ---------------------------------------------------------------------------
def _summary(dep: Deployment, rev: Revision, now: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "arn": rev.arn,
        "requestedTaskCount": rev.requested,
        "runningTaskCount": rev.running,
        "pendingTaskCount": rev.pending,
    }
    if dep.blue_green:
        if rev is dep.target:
            prod, test = dep.prod_weight, dep.test_weight
        elif rev is dep.live:
            prod, test = 100.0 - dep.prod_weight, 100.0 - dep.test_weight
        else:
            prod = test = 0.0
        out["requestedProductionTrafficWeight"] = prod
        out["requestedTestTrafficWeight"] = test
    return out


def _breaker_shape(dep: Deployment, now: float) -> dict[str, Any]:
    if not dep.breaker.get("enable"):
        return {"status": "DISABLED", "failureCount": dep.failures(now), "threshold": dep.threshold}
    if dep.tripped:
        status = "TRIGGERED"
    elif dep.status in TERMINAL:
        status = "MONITORING_COMPLETE"
    else:
        status = "MONITORING"
    return {"status": status, "failureCount": min(dep.failures(now), dep.threshold), "threshold": dep.threshold}


def _alarms_shape(dep: Deployment) -> dict[str, Any]:
    watched = _watched(dep)
    if not watched:
        return {"status": "DISABLED"}
    if dep.triggered:
        status = "TRIGGERED"
    elif dep.status in TERMINAL:
        status = "MONITORING_COMPLETE"
    else:
        status = "MONITORING"
    out: dict[str, Any] = {"status": status, "alarmNames": watched}
    if dep.triggered:
        out["triggeredAlarmNames"] = list(dep.triggered)
    return out


def describe(dep: Deployment, now: float) -> dict[str, Any]:
    if dep.frozen is not None:
        target, sources = dep.frozen
    else:
        target, sources = _summary(dep, dep.target, now), [_summary(dep, r, now) for r in dep.sources]
    out: dict[str, Any] = {
        "serviceDeploymentArn": dep.arn,
        "serviceArn": dep.service.arn,
        "clusterArn": dep.service.cluster_arn,
        "createdAt": dep.created_at,
        "startedAt": dep.started_at,
        "finishedAt": dep.finished_at,
        "stoppedAt": dep.stopped_at,
        "updatedAt": dep.updated_at,
        "sourceServiceRevisions": sources,
        "targetServiceRevision": target,
        "status": dep.status,
        "statusReason": dep.status_reason,
        "lifecycleStage": dep.stage,
        "deploymentConfiguration": dep.config,
        "rollback": dep.rollback,
        "deploymentCircuitBreaker": _breaker_shape(dep, now),
        "alarms": _alarms_shape(dep),
    }
    return {k: v for k, v in out.items() if v is not None}


def brief(dep: Deployment) -> dict[str, Any]:
    out = {
        "serviceDeploymentArn": dep.arn,
        "serviceArn": dep.service.arn,
        "clusterArn": dep.service.cluster_arn,
        "startedAt": dep.started_at,
        "createdAt": dep.created_at,
        "finishedAt": dep.finished_at or dep.stopped_at,
        "targetServiceRevisionArn": dep.target.arn,
        "status": dep.status,
        "statusReason": dep.status_reason,
    }
    return {k: v for k, v in out.items() if v is not None}


# -- hooks on moto's handlers -----------------------------------------------------------------
def create_service(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateService: validated as ECS does; keeps deploymentConfiguration (moto drops it); the
    service's first deployment and revision."""
    with _LOCK:
        account, region = resp.current_account, resp.region
        ecs = _ecs(account, region)
        advance(em, ecs)
        params = _params(resp)
        config = dict(params.get("deploymentConfiguration") or {})
        controller = (params.get("deploymentController") or {}).get("type", "ECS")
        validate(account, region, config, list(params.get("loadBalancers") or []), controller)
        validate_alarms(account, region, config)
        result = proceed()
        svc = result.result["service"]
        svc.deployment_configuration = with_defaults(config)
        if controller == "ECS" and svc.task_definition:
            _new_deployment(em, ecs, svc, initial=True)
        return result


def update_service(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """UpdateService: a new task definition (or load balancers, network configuration,
    forceNewDeployment) starts a service deployment; a desired count follows the one in progress."""
    with _LOCK:
        account, region = resp.current_account, resp.region
        ecs = _ecs(account, region)
        advance(em, ecs)
        params = _params(resp)
        try:
            svc = ecs._get_service(params.get("cluster") or "default", params.get("service") or "")
        except Exception:
            return proceed()  # moto answers ServiceNotFound / ClusterNotFound
        old_config = dict(getattr(svc, "deployment_configuration", None) or {})
        config = {**old_config, **(params.get("deploymentConfiguration") or {})}
        if params.get("deploymentConfiguration") and "strategy" not in params["deploymentConfiguration"]:
            config["strategy"] = old_config.get("strategy", "ROLLING")
        rolling_back = next(
            (d for d in _of_service(svc) if d.status in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")), None
        )
        if rolling_back is not None:
            # While ECS rolls a deployment back it owns the service: an UpdateService (a desired
            # count included) can be refused (the second round of the real-AWS review: destroy
            # must not depend on it). AWS documents no wording for it; this one is worded here.
            raise _invalid(
                f"Unable to update the service while its service deployment {rolling_back.arn} is rolling back. "
                "Try again once the rollback has completed."
            )
        lbs = params.get("loadBalancers")
        controller = (svc.deployment_controller or {}).get("type", "ECS")
        if params.get("deploymentConfiguration") is not None or lbs is not None:
            validate(account, region, config, list(lbs if lbs is not None else svc.load_balancers or []), controller)
        if (params.get("deploymentConfiguration") or {}).get("alarms") is not None:
            validate_alarms(account, region, config)
        before = {
            "taskDefinition": svc.task_definition,
            "loadBalancers": [dict(lb) for lb in svc.load_balancers or []],
            "networkConfiguration": svc.network_configuration,
            "desiredCount": svc.desired_count,
            "legacy": [(d, dict(d)) for d in svc.deployments],
        }
        result = proceed()
        svc = result.result["service"]
        for entry, copy in before["legacy"]:  # moto renames the primary deployment on forceNewDeployment
            entry.clear()
            entry.update(copy)
        if params.get("taskDefinition"):
            svc.task_definition = ecs.describe_task_definition(params["taskDefinition"]).arn
        svc.deployment_configuration = with_defaults(config)
        changed = (
            svc.task_definition != before["taskDefinition"]
            or bool(params.get("forceNewDeployment"))
            or (lbs is not None and lbs != before["loadBalancers"])
            or (
                params.get("networkConfiguration") is not None
                and params["networkConfiguration"] != before["networkConfiguration"]
            )
        )
        if controller == "ECS" and changed:
            _new_deployment(em, ecs, svc, initial=False)
        elif params.get("desiredCount") is not None and params["desiredCount"] != before["desiredCount"]:
            _desired_count_changed(em, svc)
        return result


def _desired_count_changed(em: Emulation, svc: Any) -> None:
    dep = _active(svc)
    if dep is None:
        current = _current(svc)
        if current is not None:
            current.requested, current.running, current.pending = svc.desired_count, svc.running_count, 0
            _register_targets(svc._account_id, svc.region_name, [current])
        return
    now = em.now()
    dep.desired = svc.desired_count
    target = dep.target
    target.requested = dep.desired
    if target.running:
        target.running = dep.desired
    elif target.pending:
        target.pending = dep.desired
    for rev in dep.sources:
        if rev.requested:
            rev.requested = dep.desired
        rev.running = min(rev.running, dep.desired)
    _sync(dep, now)


def delete_service(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeleteService: a deployment in progress ends (STOPPED)."""
    with _LOCK:
        ecs = _ecs(resp.current_account, resp.region)
        advance(em, ecs)
        result = proceed()
        svc = result.result["service"]
        now = em.now()
        for dep in _of_service(svc):
            if dep.status not in TERMINAL:
                dep.cancel()
                _finish(dep, now, "STOPPED", DELETED, stopped=True)
        _deregister_service_targets(svc)
        return result


def advances(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    advance(em, _ecs(resp.current_account, resp.region))
    return proceed()


# -- the API moto lacks ---------------------------------------------------------------------------
def _strict() -> Emulation:
    em = _emulation.ACTIVE
    if em is None or not em.strict:
        raise NotImplementedError("ECS service deployments are emulated only with ecsup's strict emulation active")
    return em


def _page(items: list[Any], max_results: Any, token: str | None, limit: int = 100) -> tuple[list[Any], str | None]:
    size = 20 if max_results is None else int(max_results)
    if not 1 <= size <= limit:
        raise _invalid(f"maxResults must be between 1 and {limit}.")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except Exception:
            raise _invalid("Invalid nextToken.") from None
    chunk = items[start : start + size]
    more = start + size < len(items)
    return chunk, base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None


def _naive(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value if isinstance(value, datetime) else None


def list_service_deployments(self: Any) -> Any:
    """ListServiceDeployments: status and createdAt filters; 20 a page unless maxResults (1-100)
    says otherwise (API reference); in no promised order (see below)."""
    from moto.core.responses import ActionResult

    em = _strict()
    with _LOCK:
        ecs = _ecs(self.current_account, self.region)
        advance(em, ecs)
        svc = ecs._get_service(self._get_param("cluster") or "default", self._get_param("service") or "")
        statuses = self._get_param("status") or []
        created = self._get_param("createdAt") or {}
        before, after = _naive(created.get("before")), _naive(created.get("after"))
        # Oldest first here: the API reference promises no order, so code that takes the first
        # page (or the first item) for the newest fails every time rather than sometimes.
        found = [
            d
            for d in _of_service(svc)
            if (not statuses or d.status in statuses)
            and (before is None or d.created_at < before)
            and (after is None or d.created_at > after)
        ]
        page, token = _page(found, self._get_param("maxResults"), self._get_param("nextToken"))
        out: dict[str, Any] = {"serviceDeployments": [brief(d) for d in page]}
        if token:
            out["nextToken"] = token
        return ActionResult(out)


def _arns(values: Any, name: str) -> list[str]:
    arns = list(values or [])
    if len(arns) > 20:
        raise _invalid(f"{name} can have at most 20 items.")
    return arns


def describe_service_deployments(self: Any) -> Any:
    from moto.core.responses import ActionResult

    em = _strict()
    with _LOCK:
        ecs = _ecs(self.current_account, self.region)
        advance(em, ecs)
        known = _deployments(ecs)
        found, failures = [], []
        for arn in _arns(self._get_param("serviceDeploymentArns"), "serviceDeploymentArns"):
            if arn in known:
                found.append(describe(known[arn], em.now()))
            else:
                failures.append({"arn": arn, "reason": "MISSING"})
        return ActionResult({"serviceDeployments": found, "failures": failures})


def describe_service_revisions(self: Any) -> Any:
    from moto.core.responses import ActionResult

    em = _strict()
    with _LOCK:
        ecs = _ecs(self.current_account, self.region)
        advance(em, ecs)
        known = _revisions(ecs)
        found, failures = [], []
        for arn in _arns(self._get_param("serviceRevisionArns"), "serviceRevisionArns"):
            if arn in known:
                found.append(dict(known[arn].body))
            else:
                failures.append({"arn": arn, "reason": "MISSING"})
        return ActionResult({"serviceRevisions": found, "failures": failures})


def _deployment(ecs: Any, arn: str) -> Deployment:
    dep = _deployments(ecs).get(arn)
    if dep is None:
        raise AwsFault("ServiceDeploymentNotFoundException", "The service deployment does not exist.")
    return dep


def stop_service_deployment(self: Any) -> Any:
    """StopServiceDeployment: ROLLBACK (and ABORT, undocumented: see the module's docstring)."""
    from moto.core.responses import ActionResult

    em = _strict()
    with _LOCK:
        ecs = _ecs(self.current_account, self.region)
        advance(em, ecs)
        arn = self._get_param("serviceDeploymentArn")
        stop_type = self._get_param("stopType") or "ROLLBACK"
        if stop_type not in ("ROLLBACK", "ABORT"):
            raise _invalid(f"Invalid stopType {stop_type}. Valid values are: ROLLBACK.")
        dep = _deployment(ecs, arn)
        if dep.status in TERMINAL:
            raise AwsFault(
                "ConflictException",
                "Stopping a service deployment is not allowed for service deployment in terminal states.",
            )
        now = em.now()
        if dep.status in ("PENDING", "IN_PROGRESS"):
            if stop_type == "ROLLBACK":
                _begin_rollback(dep, now, REQUESTED_ROLLBACK, requested=True)
            else:
                _abort(dep, now)
        # STOP_REQUESTED / ROLLBACK_REQUESTED / ROLLBACK_IN_PROGRESS: it continues as it is
        return ActionResult({"serviceDeploymentArn": dep.arn})


def continue_service_deployment(self: Any) -> Any:
    """ContinueServiceDeployment releases PAUSE lifecycle hooks, which are not emulated: the
    errors the troubleshooting guide documents."""
    em = _strict()
    with _LOCK:
        ecs = _ecs(self.current_account, self.region)
        advance(em, ecs)
        dep = _deployment(ecs, self._get_param("serviceDeploymentArn"))
        if dep.status in TERMINAL:
            raise _invalid("Continuing a service deployment is not allowed for service deployment in terminal states.")
        hook = str(self._get_param("hookId") or "")
        parts = hook.split("-")
        if len(parts) < 3 or parts[0] != "ecs":
            raise _invalid("Invalid hookId: hookId must follow the format: ecs-{hookType}-{id}")
        raise _invalid(
            "Provided hookId is either completed, unavailable, or not associated with the given Resource ARN"
        )


API = {
    "list_service_deployments": list_service_deployments,
    "describe_service_deployments": describe_service_deployments,
    "describe_service_revisions": describe_service_revisions,
    "stop_service_deployment": stop_service_deployment,
    "continue_service_deployment": continue_service_deployment,
}


def install(around: Callable[..., None]) -> None:
    """Register this module's hooks with the emulation's ``_around``, and add the ServiceDeployment
    API to moto's ECS handler. moto dispatches an action to the handler method named after it
    (``camelcase_to_underscores``; ``method_names_from_class`` lists the class's functions), both
    in-process (mock_aws) and as a server, so a function set on the class is found by both."""
    from moto.ecs.responses import EC2ContainerServiceResponse as ECS
    from moto.elbv2.responses import ELBV2Response as ELB

    for name, method in API.items():
        setattr(ECS, name, method)
    around(ECS, "create_service", create_service)
    around(ECS, "update_service", update_service)
    around(ECS, "delete_service", delete_service)
    for read in ("describe_services", "list_services"):
        around(ECS, read, advances)
    for read in ("describe_listeners", "describe_rules", "modify_rule", "modify_listener"):
        around(ELB, read, advances)


__all__ = ["Deployment", "Revision", "advance", "describe", "install", "traffic_steps", "validate", "with_defaults"]
