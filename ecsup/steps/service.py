"""ECS: the service -- created behind the load balancer with ECS's own deployment
strategy (blue/green, linear, canary or rolling) on the two target groups, waited on until
stable, and converged without taking back what ECS and deploys own (the live target
group and its weights, the deployed image, a desired count changed on the live service)."""

from __future__ import annotations

from typing import Any

from .. import deployments as deploy
from .. import waiting
from ..context import Context
from ..deployments import failure_hint, service_failure, stopped_reasons
from ..errors import AwsError, WaitTimeout, doing, is_code
from ..plan import KNOWN_AFTER_APPLY, Action, Change
from . import Step, check_owner, foreign
from .autoscaling import policy_names, resource_id
from .ecs import (
    DESIRED_TAG,
    GRACE_PERIOD,
    IMAGE_TAG,
    _tags,
    ecs_tags,
    eventually_consistent,
    seen_service,
)
from .move import MOVE_TAG, follow, moving, when_serving
from .move import deployment_configuration as move_configuration

EXEC_CHANGE = "ECS Exec (new deployment)"


def network_configuration(ctx: Context) -> dict[str, Any]:
    return {
        "awsvpcConfiguration": {
            "subnets": ctx.facts["subnets"],
            "securityGroups": [ctx.facts["sg_tasks"]],
            "assignPublicIp": ctx.config.network.task_public_ip,
        }
    }


def production_rule(ctx: Context) -> str:
    """The HTTPS listener's default rule: ECS moves production traffic by rewriting its
    forward weights (it must be a pure forward to both groups; ECS API reference,
    AdvancedConfiguration.productionListenerRule)."""
    if not ctx.facts.get("production_rule_arn"):
        with doing("read the HTTPS listener's rules"):
            rules = ctx.client("elbv2").describe_rules(ListenerArn=ctx.facts["https_listener_arn"])["Rules"]
        ctx.facts["production_rule_arn"] = next(r["RuleArn"] for r in rules if r.get("IsDefault"))
    return str(ctx.facts["production_rule_arn"])


def load_balancers(ctx: Context) -> list[dict[str, Any]]:
    """Blue/green, linear, canary: the live group (blue unless a deploy made green live) and
    its alternate, the production rule and the infrastructure role ECS acts with. Rolling:
    the live group only."""
    live = ctx.facts.get("live_target_group_arn") or ctx.facts["tg_blue"]
    lb: dict[str, Any] = {
        "targetGroupArn": live,
        "containerName": ctx.names.container,
        "containerPort": ctx.config.service.container_port,
    }
    if ctx.config.service.deploy.shifts_traffic:
        other = ctx.facts["tg_green"] if live == ctx.facts["tg_blue"] else ctx.facts["tg_blue"]
        lb["advancedConfiguration"] = {
            "alternateTargetGroupArn": other,
            "productionListenerRule": production_rule(ctx),
            "roleArn": ctx.facts["infrastructure_role_arn"],
        }
    return [lb]


def _rule_of(arn: str) -> str:
    """A production rule named by its load balancer (arn:...:listener-rule/app/<lb>/<id>/...)."""
    parts = arn.split(":listener-rule/app/")
    return f"on {parts[1].split('/')[0]}" if len(parts) == 2 else arn or "-"


def deployment_configuration(ctx: Context) -> dict[str, Any]:
    """ECS API reference, DeploymentConfiguration: the circuit breaker with rollback always;
    the strategy and its bake times from [service.deploy]."""
    deploy = ctx.config.service.deploy
    config: dict[str, Any] = {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
        "strategy": deploy.api_strategy,
    }
    if deploy.shifts_traffic:
        config["bakeTimeInMinutes"] = deploy.bake_minutes
    config["alarms"] = deployment_alarms(ctx)
    if deploy.strategy == "linear":
        config["linearConfiguration"] = {
            "stepPercent": deploy.step_percent,
            "stepBakeTimeInMinutes": deploy.step_minutes,
        }
    if deploy.strategy == "canary":
        config["canaryConfiguration"] = {
            "canaryPercent": deploy.canary_percent,
            "canaryBakeTimeInMinutes": deploy.canary_minutes,
        }
    return config


def deployment_alarms(ctx: Context) -> dict[str, Any]:
    """deploymentConfiguration.alarms: every alarm of steps/alarms.py (ecsup's and the user's),
    watched by ECS with rollback, for every strategy; none: switched off (an UpdateService that
    leaves ``alarms`` out keeps the ones set before)."""
    from .alarms import watched_names

    names = watched_names(ctx)
    return {"alarmNames": names, "enable": bool(names), "rollback": bool(names)}


def _alarms_summary(config: dict[str, Any]) -> str:
    alarms = config.get("alarms") or {}
    if not alarms.get("enable") or not alarms.get("alarmNames"):
        return "off"
    return ", ".join(sorted(alarms["alarmNames"])) + (" (rollback)" if alarms.get("rollback") else " (no rollback)")


def first_deployment_configuration(ctx: Context) -> dict[str, Any]:
    """CreateService's: ECS runs a new BLUE_GREEN, LINEAR or CANARY service's first deployment
    through the whole lifecycle (its tasks go to the alternate group, production shifts to it,
    then the bake), but a first deployment has nothing to roll back to: it shifts all at once
    and does not bake. The configured strategy is set once it has succeeded (UpdateService with
    deploymentConfiguration alone starts no deployment), and applies from the next one on."""
    config = deployment_configuration(ctx)
    if not ctx.config.service.deploy.shifts_traffic:
        return config
    config = {k: v for k, v in config.items() if k not in ("linearConfiguration", "canaryConfiguration")}
    return dict(config, strategy="BLUE_GREEN", bakeTimeInMinutes=0)


def capacity_strategy(ctx: Context) -> list[dict[str, Any]]:
    """The capacity the config asks for, always as a capacity provider strategy (FARGATE on
    demand too: see ecs.needs_providers)."""
    return ctx.config.service.capacity_provider_strategy or [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]


def _capacity_summary(strategy: list[dict[str, Any]] | None, launch_type: str | None = "FARGATE") -> str:
    items = strategy or ([{"capacityProvider": launch_type, "weight": 1, "base": 0}] if launch_type else [])
    return ", ".join(
        f"{i.get('capacityProvider')}"
        + (f" base {i['base']}" if i.get("base") else "")
        + f" weight {i.get('weight', 0)}"
        for i in sorted(items, key=lambda i: str(i.get("capacityProvider")))
    )


def _strategy_summary(config: dict[str, Any]) -> str:
    parts = [str(config.get("strategy") or "ROLLING")]
    if config.get("bakeTimeInMinutes") is not None and parts[0] != "ROLLING":
        parts.append(f"bake {config['bakeTimeInMinutes']} min")
    linear = config.get("linearConfiguration") or {}
    if linear and parts[0] == "LINEAR":
        parts.append(f"{linear.get('stepPercent'):g}% every {linear.get('stepBakeTimeInMinutes')} min")
    canary = config.get("canaryConfiguration") or {}
    if canary and parts[0] == "CANARY":
        parts.append(f"{canary.get('canaryPercent'):g}% for {canary.get('canaryBakeTimeInMinutes')} min")
    return ", ".join(parts)


def wait_stable(ctx: Context, service: str = "", want: str | None = None) -> str:
    """Wait until a service of the stack (the web service unless ``service``: a worker's) runs its
    desired count with one deployment, COMPLETED; a failed rollout (the circuit breaker's rollback,
    or the service back on another revision than ``want``) raises, with the stopped tasks' reasons."""
    ecs = ctx.client("ecs")
    seen: set[str] = set()
    last: dict[str, Any] = {}
    name = service or ctx.names.service

    def check() -> tuple[bool, str]:
        with doing(f"read the state of service {name}"):
            found = ecs.describe_services(cluster=ctx.names.cluster, services=[name])["services"]
        if not found:  # just created: DescribeServices may still report it MISSING
            return False, "not visible yet"
        svc = found[0]
        last["service"] = svc
        for event in reversed(svc.get("events", [])[:10]):
            if event["id"] not in seen:
                seen.add(event["id"])
                ctx.ui.event(event["message"])
        deployments = svc.get("deployments", [])
        primary: dict[str, Any] = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
        failed = next((d for d in deployments if d.get("rolloutState") == "FAILED"), None)
        wanted = want if service else ctx.facts.get("task_definition_arn")
        rolled_back = bool(wanted) and svc.get("taskDefinition") != wanted  # the breaker put the old revision back
        if failed is not None or rolled_back:
            diagnosis = service_failure(ctx, svc, stopped_reasons(ctx, name) if service else None)
            reason = (failed or {}).get("rolloutStateReason") or (
                f"the service runs {str(svc.get('taskDefinition', '?')).split('/')[-1]} again, "
                f"not {str(wanted).split('/')[-1]}"
            )
            raise AwsError(
                f"the deployment of service {name} failed and was rolled back: {reason}; {diagnosis}",
                "DeploymentFailed",
                hint=failure_hint(diagnosis),
            )
        running, desired = svc.get("runningCount", 0), svc.get("desiredCount", 0)
        state = f"running {running}/{desired}" + (f", {len(deployments)} deployments" if len(deployments) > 1 else "")
        done = running == desired and len(deployments) <= 1 and primary.get("rolloutState", "COMPLETED") == "COMPLETED"
        return done, state

    def timeout(state: str) -> WaitTimeout:
        diagnosis = service_failure(ctx, last.get("service"), stopped_reasons(ctx, name) if service else None)
        return WaitTimeout(
            f"service {name} not stable after {int(ctx.timeouts.service)} s ({state}); {diagnosis}",
            hint=failure_hint(diagnosis),
        )

    return waiting.poll(
        ctx,
        f"service {name} to become stable",
        check,
        ctx.timeouts.service,
        on_timeout=timeout,
        first=1.0,  # DescribeServices is cheap: notice the steady state within a second
        cap=3.0,  # and within 3 s after minutes of waiting (a 10 s cap was 5 % of a 3-minute create)
    )


def permissions_settle(ctx: Context) -> None:
    """Tasks started right after this run changed their execution role's permissions could
    fail to read their secrets (IAM applies changes within seconds, with no way to ask when),
    and failed tasks count toward the circuit breaker's rollback; a traffic shift right after a
    change to the infrastructure role's fails and rolls back: let the change settle first."""
    changed = ctx.facts.get("permissions_changed_at")
    if changed is not None:
        waiting.settle(ctx, "IAM to apply the roles' new permissions", changed + ctx.timeouts.iam_settle)


def _guard_release(ctx: Context) -> None:
    """Before a deployment starts: an alarm it will be watched by (the configured ones, which
    this run sets) that is in ALARM already would not guard it (alarm_guard.py)."""
    from ..alarm_guard import guard_release

    guard_release(ctx)


def _before_rollout(ctx: Context) -> None:
    """[service.deploy] before, with the revision about to be rolled out, where the service's
    tasks will run: a failure stops here, before CreateService / UpdateService (run.py)."""
    from ..run import Placement, before_rollout

    placement = Placement(network_configuration(ctx), capacity_strategy(ctx))
    before_rollout(ctx, ctx.facts["task_definition_arn"], placement)


def scaling_resource(ctx: Context) -> str:
    return resource_id(ctx)


def scaling_policies(ctx: Context) -> list[str]:
    return sorted(policy_names(ctx).values())


class ServiceStep(Step):
    title = "service"
    reads = (
        "task_definition_arn",
        "cluster_arn",
        "subnets",
        "sg_tasks",
        "tg_blue",
        "tg_green",
        "https_listener_arn",  # ECS takes a target group once a listener forwards to it
        "production_rule_arn",
        "live_target_group_arn",
        "infrastructure_role_arn",
        "permissions_changed_at",
        "log_group",  # the tasks log there
        "alarms",  # the deployment names them: they exist first
        "service_seen",
        "move",
    )
    provides = ("service",)

    def plan(self, ctx: Context) -> list[Action]:
        svc_cfg = ctx.config.service
        name = ctx.names.service
        svc = seen_service(ctx)
        strategy = _strategy_summary(deployment_configuration(ctx))
        if svc is not None and svc.get("status") == "DRAINING":
            return [
                Action(
                    "create",
                    "ECS service",
                    name,
                    "previous one still draining: wait, then create",
                    run=lambda: self._create(ctx, wait_inactive=True),
                )
            ]
        if svc is None:
            return [
                Action(
                    "create",
                    "ECS service",
                    name,
                    f"FARGATE, {svc_cfg.desired_count} task(s), "
                    + (
                        f"first deployment to {ctx.names.tg_green} without bake (nothing to roll back to), "
                        f"then {strategy}"
                        if svc_cfg.deploy.shifts_traffic
                        else f"behind {ctx.names.tg_blue}, {strategy}"
                    ),
                    run=lambda: self._create(ctx),
                )
            ]
        tags = _tags(svc.get("tags"))
        if not check_owner(ctx, "ECS service", name, tags):
            return []
        ctx.facts["service"] = svc  # what status reports on
        changes = self._changes(ctx, svc, tags)
        detail = f"running {svc.get('runningCount')}/{svc.get('desiredCount')}"
        if svc.get("desiredCount") != svc_cfg.desired_count and str(svc_cfg.desired_count) == tags.get(DESIRED_TAG):
            ctx.notes.append(
                f"service {name}: desired count {svc.get('desiredCount')} was changed on the live "
                f"service (config says {svc_cfg.desired_count}); left as it is"
            )
        if not changes:
            return [Action("noop", "ECS service", name, detail)]
        return [Action("update", "ECS service", name, detail, changes, run=lambda: self._update(ctx, svc, changes))]

    def _changes(self, ctx: Context, svc: dict[str, Any], tags: dict[str, str]) -> list[Change]:
        changes = []
        want_td = ctx.facts.get("task_definition_arn", KNOWN_AFTER_APPLY)
        if svc.get("taskDefinition") != want_td:
            changes.append(
                Change("task definition", svc.get("taskDefinition", "-").split("/")[-1], want_td.split("/")[-1])
            )
        want_count = ctx.config.service.desired_count
        if str(want_count) != tags.get(DESIRED_TAG) and svc.get("desiredCount") != want_count:
            changes.append(Change("desired count", str(svc.get("desiredCount")), str(want_count)))
        elif str(want_count) != tags.get(DESIRED_TAG):
            changes.append(Change(f"tag {DESIRED_TAG}", str(tags.get(DESIRED_TAG)), str(want_count)))
        if tags.get(IMAGE_TAG) != ctx.config.service.image:
            changes.append(Change(f"tag {IMAGE_TAG}", str(tags.get(IMAGE_TAG)), ctx.config.service.image))
        have_net = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
        want_net = {
            "subnets": ctx.facts["subnets"],
            "securityGroups": [ctx.facts.get("sg_tasks", KNOWN_AFTER_APPLY)],
            "assignPublicIp": ctx.config.network.task_public_ip,
        }
        if (
            sorted(have_net.get("subnets", [])) != want_net["subnets"]
            or have_net.get("securityGroups") != want_net["securityGroups"]
            or have_net.get("assignPublicIp", "DISABLED") != want_net["assignPublicIp"]
        ):
            changes.append(Change("network", str(have_net), str(want_net)))
        have_capacity = _capacity_summary(svc.get("capacityProviderStrategy"), svc.get("launchType"))
        want_capacity = _capacity_summary(capacity_strategy(ctx))
        if have_capacity != want_capacity and not svc.get("capacityProviderStrategy"):
            # made by an earlier ecsup with launch type FARGATE: AWS does not move a service from the
            # Fargate launch type to a capacity provider strategy (UpdateService reference)
            ctx.conflicts.append(
                f"ECS service {ctx.names.service} runs on the FARGATE launch type, which AWS cannot switch to "
                f"service.capacity = {ctx.config.service.capacity!r} in place; run `ecsup destroy` and "
                '`ecsup create` to recreate the stack with it, or keep capacity = "FARGATE"'
            )
        elif have_capacity != want_capacity:  # needs a new deployment (forceNewDeployment)
            changes.append(Change("capacity (new deployment)", have_capacity, want_capacity))
        want_exec = ctx.config.service.exec
        if bool(svc.get("enableExecuteCommand")) != want_exec:  # tasks started after it only: a new deployment
            changes.append(
                Change(EXEC_CHANGE, "on" if svc.get("enableExecuteCommand") else "off", "on" if want_exec else "off")
            )
        have_lb, want_lb = self._load_balancer_view(ctx, svc)
        if have_lb != want_lb:
            changes.append(Change("load balancer", have_lb, want_lb))
        # AWS always reports these; moto does not store them, so compare only what is reported.
        grace = svc.get("healthCheckGracePeriodSeconds")
        if grace is not None and grace != GRACE_PERIOD:
            changes.append(Change("health check grace period", str(grace), str(GRACE_PERIOD)))
        deployment = svc.get("deploymentConfiguration")
        if deployment is not None:
            breaker = deployment.get("deploymentCircuitBreaker") or {}
            if not (breaker.get("enable") and breaker.get("rollback")):
                changes.append(Change("circuit breaker", str(breaker or "off"), "enabled with rollback"))
            have, want = _strategy_summary(deployment), _strategy_summary(deployment_configuration(ctx))
            if have != want:
                changes.append(Change("deployment strategy", have, want))
            have, want = _alarms_summary(deployment), _alarms_summary(deployment_configuration(ctx))
            if have != want:  # UpdateService with deploymentConfiguration alone starts no deployment
                changes.append(Change("deployment alarms", have, want))
        return changes

    def _load_balancer_view(self, ctx: Context, svc: dict[str, Any]) -> tuple[str, str]:
        """The service's load balancer settings as (have, want), ignoring which of blue and green
        is live: under blue/green that is ECS's to decide (it moves production between them)."""
        # groups still to be made (a move's) are shown by name
        blue, green = ctx.facts.get("tg_blue", ctx.names.tg_blue), ctx.facts.get("tg_green", ctx.names.tg_green)
        names = {blue: ctx.names.tg_blue, green: ctx.names.tg_green}
        https = ctx.facts.get("https_listener_arn", "")
        infra = ctx.facts.get("infrastructure_role_arn", KNOWN_AFTER_APPLY)

        rule_label = f"of {ctx.names.rule}" if ctx.names.shared else "of HTTPS:443"

        def view(lbs: list[dict[str, Any]]) -> str:
            out = []
            for lb in lbs:
                adv = lb.get("advancedConfiguration") or {}
                groups = sorted(  # by name: another pair's ARNs too (a move, steps/move.py)
                    names.get(a, a.split("/")[-2] if a.startswith("arn:") else a)
                    for a in (lb.get("targetGroupArn"), adv.get("alternateTargetGroupArn"))
                    if a
                )
                rule = str(adv.get("productionListenerRule") or "")
                on_https = bool(https) and rule.startswith(https.replace(":listener/", ":listener-rule/") + "/")
                if ctx.names.shared:  # its own host rule on the shared listener
                    on_https = bool(rule) and rule == ctx.facts.get("production_rule_arn")
                out.append(
                    f"{'+'.join(groups)} {lb.get('containerName')}:{lb.get('containerPort')}"
                    + (
                        f", production rule {rule_label if on_https else _rule_of(rule)}, role {adv.get('roleArn')}"
                        if adv
                        else ""
                    )
                )
            return "; ".join(out)

        want: dict[str, Any] = {
            "targetGroupArn": ctx.facts.get("live_target_group_arn") or blue,
            "containerName": ctx.names.container,
            "containerPort": ctx.config.service.container_port,
        }
        if ctx.config.service.deploy.shifts_traffic:
            want["advancedConfiguration"] = {
                "alternateTargetGroupArn": green if want["targetGroupArn"] == blue else blue,
                "productionListenerRule": (
                    ctx.facts.get("production_rule_arn", KNOWN_AFTER_APPLY)
                    if ctx.names.shared
                    else (https.replace(":listener/", ":listener-rule/") + "/default")
                    if https
                    else ""
                ),
                "roleArn": infra,
            }
        return view(svc.get("loadBalancers", [])), view([want])

    def _create(self, ctx: Context, wait_inactive: bool = False) -> str:
        ecs = ctx.client("ecs")
        if wait_inactive:
            self._wait_inactive(ctx)
        if ctx.config.service.deploy.shifts_traffic:
            production_rule(ctx)  # read while IAM settles, not after
        permissions_settle(ctx)
        _guard_release(ctx)
        _before_rollout(ctx)
        count = ctx.config.service.desired_count
        move = moving(ctx)  # a stack moving without a service: the next run finishes what this one leaves
        moved_from = {MOVE_TAG: move.source} if move is not None else {}
        # a capacity provider strategy, never the launch type: every later switch stays allowed
        placement: dict[str, Any] = {"capacityProviderStrategy": capacity_strategy(ctx)}
        with doing(f"create service {ctx.names.service}"):
            waiting.retry(
                ctx,
                "the new IAM roles and target group to be usable by ECS",
                lambda: ecs.create_service(
                    cluster=ctx.names.cluster,
                    serviceName=ctx.names.service,
                    taskDefinition=ctx.facts["task_definition_arn"],
                    desiredCount=count,
                    **placement,
                    platformVersion="LATEST",
                    networkConfiguration=network_configuration(ctx),
                    loadBalancers=load_balancers(ctx),
                    healthCheckGracePeriodSeconds=GRACE_PERIOD,
                    deploymentConfiguration=first_deployment_configuration(ctx),
                    deploymentController={"type": "ECS"},
                    propagateTags="SERVICE",
                    enableECSManagedTags=True,
                    enableExecuteCommand=ctx.config.service.exec,
                    tags=ecs_tags(ctx, {DESIRED_TAG: str(count), IMAGE_TAG: ctx.config.service.image} | moved_from),
                ),
                eventually_consistent,
                ctx.timeouts.propagation,
            )
        state = wait_stable(ctx)
        if first_deployment_configuration(ctx) != deployment_configuration(ctx):
            with doing(f"set the deployment strategy of service {ctx.names.service}"):
                ecs.update_service(
                    cluster=ctx.names.cluster,
                    service=ctx.names.service,
                    deploymentConfiguration=deployment_configuration(ctx),
                )
            state += f"; then {_strategy_summary(deployment_configuration(ctx))}"
        return state

    def _update(self, ctx: Context, svc: dict[str, Any], changes: list[Change]) -> str:
        ecs = ctx.client("ecs")
        attrs = {c.attribute for c in changes}
        kwargs: dict[str, Any] = {}
        if "task definition" in attrs:
            kwargs["taskDefinition"] = ctx.facts["task_definition_arn"]
        if "desired count" in attrs:
            kwargs["desiredCount"] = ctx.config.service.desired_count
        if "network" in attrs:
            kwargs["networkConfiguration"] = network_configuration(ctx)
        if "load balancer" in attrs:
            kwargs["loadBalancers"] = load_balancers(ctx)
        if "health check grace period" in attrs:
            kwargs["healthCheckGracePeriodSeconds"] = GRACE_PERIOD
        if attrs & {"circuit breaker", "deployment strategy", "deployment alarms"}:
            kwargs["deploymentConfiguration"] = deployment_configuration(ctx)
        move = moving(ctx) if "loadBalancers" in kwargs else None
        if move is not None:  # the move's own deployment (steps/move.py); the strategy is set back after it
            kwargs["deploymentConfiguration"] = move_configuration(ctx, deployment_configuration(ctx))
        if EXEC_CHANGE in attrs:  # ECS Exec applies to tasks started afterwards: a new deployment
            kwargs["enableExecuteCommand"] = ctx.config.service.exec
            kwargs["forceNewDeployment"] = True
        if "capacity (new deployment)" in attrs:  # ECS moves the tasks only with a new deployment
            kwargs["capacityProviderStrategy"] = capacity_strategy(ctx)
            kwargs["forceNewDeployment"] = True
        if kwargs:
            permissions_settle(ctx)
        if kwargs.keys() & {"taskDefinition", "networkConfiguration", "loadBalancers", "forceNewDeployment"}:
            _guard_release(ctx)  # a deployment starts
        if "taskDefinition" in kwargs:
            _before_rollout(ctx)
        updated: dict[str, Any] = {}
        with doing(f"update service {ctx.names.service}"):
            if move is not None:  # before the change: a run that stops after it finishes the move
                ecs.tag_resource(resourceArn=svc["serviceArn"], tags=[{"key": MOVE_TAG, "value": move.source}])
            if kwargs:
                updated = waiting.retry(
                    ctx,
                    "the new IAM roles and target group to be usable by ECS",
                    lambda: ecs.update_service(cluster=ctx.names.cluster, service=ctx.names.service, **kwargs),
                    eventually_consistent,
                    ctx.timeouts.propagation,
                )
            ecs.tag_resource(
                resourceArn=svc["serviceArn"],
                tags=[
                    {"key": DESIRED_TAG, "value": str(ctx.config.service.desired_count)},
                    {"key": IMAGE_TAG, "value": ctx.config.service.image},
                ],
            )
        if not kwargs:
            return "tagged"
        if kwargs.keys() & {"taskDefinition", "networkConfiguration", "loadBalancers", "forceNewDeployment"}:
            # a new deployment, with the service's strategy: watched like `ecsup deploy` watches it
            arn = deploy.started_deployment(ctx, updated.get("service") or {}, kwargs.get("taskDefinition"))
            if move is not None:
                moved = follow(ctx, arn) if arn is not None else when_serving(ctx)
                if kwargs["deploymentConfiguration"] != deployment_configuration(ctx):
                    with doing(f"set the deployment strategy of service {ctx.names.service}"):
                        ecs.update_service(
                            cluster=ctx.names.cluster,
                            service=ctx.names.service,
                            deploymentConfiguration=deployment_configuration(ctx),
                        )
                return moved
            if arn is not None:
                return deploy.watch(ctx, arn, ctx.timeouts.service).summary()
        finishing = moving(ctx)
        if finishing is not None and finishing.finishing:
            return "updated (the move's deployment, if still under way, is followed below)"
        return wait_stable(ctx)

    def _wait_inactive(self, ctx: Context) -> None:
        ecs = ctx.client("ecs")

        def check() -> tuple[bool, str]:
            with doing(f"read the state of service {ctx.names.service}"):
                services = ecs.describe_services(cluster=ctx.names.cluster, services=[ctx.names.service])["services"]
            status = services[0]["status"] if services else "INACTIVE"
            return status == "INACTIVE", status

        waiting.poll(ctx, f"service {ctx.names.service} to finish draining", check, ctx.timeouts.service)

    def plan_destroy(self, ctx: Context) -> list[Action]:
        svc = seen_service(ctx)  # as move.detect read it, before the plan
        if svc is None:
            return []
        if not ctx.names.owns(_tags(svc.get("tags"))):
            return [foreign(ctx, "ECS service", ctx.names.service)]
        return [
            Action(
                "delete",
                "ECS service",
                ctx.names.service,
                f"scale to 0, delete, wait until inactive ({svc.get('status')})",
                run=lambda: self._delete(ctx, svc),
                # auto scaling goes first (it would scale the service back up)
                after=(
                    f"scalable target {scaling_resource(ctx)}",
                    *(f"scaling policy {p}" for p in scaling_policies(ctx)),
                ),
            )
        ]

    def _delete(self, ctx: Context, svc: dict[str, Any]) -> str:
        ecs = ctx.client("ecs")
        stopped = deploy.stop_for_destroy(ctx) if svc.get("status") == "ACTIVE" else ""
        with doing(f"delete service {ctx.names.service}"):
            try:
                if svc.get("status") == "ACTIVE":
                    # force: deleted with its tasks, without scaling it to 0 first (an UpdateService
                    # that AWS may refuse while a deployment rolls back -- DeleteService API reference)
                    ecs.delete_service(cluster=ctx.names.cluster, service=ctx.names.service, force=True)
            except Exception as exc:
                if not is_code(
                    exc, "ServiceNotFoundException", "ServiceNotActiveException", "ClusterNotFoundException"
                ):
                    raise
            self._wait_inactive(ctx)
        return "deleted" + (f" ({stopped})" if stopped else "")
