"""The scripted life of the kit's stacks, through ecsup's own code paths (what `ecsup create`,
`deploy`, `run` and `destroy` call), and the checks that read what AWS reports along the way.

Three small stacks (256 cpu units, 512 MiB, one task, nginx from ECR Public): ``own`` on its own
load balancer, ``shop`` and ``blog`` on a shared one. Each check records one Outcome for an
assumption of ecsup/emulation/assumptions.py (CHECKS maps each check to it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..context import Context
from ..errors import EcsupError
from ..names import Names
from ..render import ConsoleUI
from .report import FAIL, PASS, SKIP, Outcome, Report

# Images: nginx from ECR Public (pullable without credentials, listens on 80, has sh). The
# failing one is a tag that does not exist: on AWS its tasks cannot be pulled, in the sandbox an
# image whose reference says "unhealthy" never passes its health checks; either way they fail.
GOOD_IMAGES = (
    "public.ecr.aws/nginx/nginx:stable",
    "public.ecr.aws/nginx/nginx:mainline",
    "public.ecr.aws/nginx/nginx:stable-alpine",
    "public.ecr.aws/nginx/nginx:mainline-alpine",
)
FAILING_IMAGE = "public.ecr.aws/nginx/nginx:ecsup-acceptance-unhealthy"
PROBE_PATH = "/ecsup-acceptance-no-such-page"  # nginx answers 404: the probe fails
DEPLOY_TIMEOUT = 1800.0  # seconds a deployment of the kit may take before the kit ends it itself
EVIDENCE = ("status", "statusReason", "lifecycleStage", "alarms", "deploymentCircuitBreaker", "rollback")
TRAFFIC_STAGES = ("PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME")

# check -> the assumption it observes (ecsup/emulation/assumptions.py names the check back)
CHECKS = {
    "shared_blue_green": "shared-listener-blue-green",
    "move_bake": "move-load-balancers",
    "move_rollback": "move-rollback",
    "execution_role": "execution-role-source-account",
    "configuration_only": "configuration-only-update",
    "alarms_linear": "alarms-linear",
    "alarms_canary": "alarms-canary",
    "breaker_linear": "breaker-linear",
    "breaker_canary": "breaker-canary",
    "first_deployment": "first-deployment-lifecycle",
    "production_weights": "production-weights",
    "probe_rollback": "stop-rollback",
    "one_off_task": "one-off-task-exit-code",
    "acm_validation_record": "acm-validation-record",
    "service_draining": "service-draining",
    "strategy_switch": "deployment-configuration-merge",
    "alarm_at_start": "alarm-in-alarm-at-start",
    "default_rule": "default-rule-production",
    "healthy_host_metric": "healthy-host-count-per-group",
}
LB_NAMESPACE = "AWS/ApplicationELB"
TRAFFIC_MINUTES = 3  # minutes of requests the kit sends through the shared load balancer
METRICS_WAIT = 900.0  # seconds for CloudWatch to show ELB's datapoints (minutes on AWS)


@dataclass
class Stack:
    key: str
    app: str
    env: str
    zone: str
    region: str
    directory: Path
    shared: str = ""
    secret: bool = False
    cloudfront: bool = False
    strategy: str = "blue_green"
    verify_url: str = ""

    @property
    def name(self) -> str:
        return f"{self.app}-{self.env}"

    @property
    def hostname(self) -> str:
        return f"{self.name}.{self.zone}"

    @property
    def path(self) -> Path:
        return self.directory / f"{self.env}.toml"

    @property
    def names(self) -> Names:
        return Names(self.app, self.env, self.shared)

    def text(self) -> str:
        lines = [
            f"# written by the ecsup acceptance kit: stack {self.key}",
            f'app = "{self.app}"',
            f'env = "{self.env}"',
            f'region = "{self.region}"',
            "",
            "[dns]",
            f'zone = "{self.zone}"',
            f'hostname = "{self.hostname}"',
            f"cloudfront_certificate = {'true' if self.cloudfront else 'false'}",
            "",
        ]
        if self.shared:
            lines += ["[load_balancer]", f'shared = "{self.shared}"', ""]
        lines += [
            "[service]",
            f'image = "{GOOD_IMAGES[0]}"',
            "cpu = 256",
            "memory = 512",
            "desired_count = 1",
            "",
            "[service.deploy]",
            f'strategy = "{self.strategy}"',
        ]
        if self.strategy != "rolling":
            lines.append("bake_minutes = 1")
        if self.strategy == "linear":
            lines += ["step_percent = 50.0", "step_minutes = 1"]
        if self.strategy == "canary":
            lines += ["canary_percent = 10.0", "canary_minutes = 1"]
        lines += ["", "[service.deploy.verify]"]
        if self.verify_url:
            lines += [f'url = "{self.verify_url}"', "requests = 2", "seconds = 2"]
        else:
            lines.append("enabled = false  # the kit probes once, on purpose, where it checks a probe's rollback")
        if self.secret:
            lines += ["", "[service.secrets]", f'ACCEPTANCE_TOKEN = "/{self.app}/{self.env}/ACCEPTANCE_TOKEN"']
        return "\n".join(lines) + "\n"

    def write(self) -> Path:
        self.path.write_text(self.text())
        return self.path


class KitUI(ConsoleUI):
    """ecsup's console output, plus hooks the kit runs on each look at a deployment (to set an
    alarm at the right moment, or observe target health during a bake)."""

    def __init__(self, console: Any, redact: Any = None) -> None:
        super().__init__(console, redact, interactive=False)
        self.hooks: list[Callable[[Any], None]] = []
        self.log_lines: list[str] = []

    def deploy_progress(self, state: Any) -> None:
        super().deploy_progress(state)
        for hook in list(self.hooks):
            hook(state)

    def task_log(self, task_id: str, message: str) -> None:
        self.log_lines.append(message)
        super().task_log(task_id, message)


@dataclass
class Target:
    """Where the kit runs: what every Context it makes gets."""

    region: str
    zone: str
    profile: str | None = None
    endpoint_url: str | None = None
    credentials: dict[str, str] | None = None
    sandbox: bool = False
    clock: Any = None  # a virtual clock in the embedded sandbox
    probe_url: str = ""  # where the failing probe asks ("": https://<hostname>/ecsup-acceptance-no-such-page)
    secret: str = field(default="", repr=False)


def tg_name(arn: str) -> str:
    parts = str(arn).split("/")
    return parts[-2] if len(parts) >= 2 else str(arn)


class Life:
    def __init__(self, target: Target, stacks: list[Stack], report: Report, console: Any) -> None:
        self.target = target
        self.stacks = {s.key: s for s in stacks}
        self.report = report
        self.console = console
        self._lookers: dict[str, Context] = {}
        self.images: dict[str, str] = {s.key: GOOD_IMAGES[0] for s in stacks}
        self.drained: dict[str, dict[str, Any]] = {}

    # -- contexts ----------------------------------------------------------------------------------
    def context(self, stack: Stack) -> tuple[Context, KitUI]:
        from ..config import load

        stack.write()
        ctx = Context(
            load(stack.path),
            profile=self.target.profile,
            endpoint_url=self.target.endpoint_url,
            credentials=dict(self.target.credentials) if self.target.credentials else None,
            secret_source=lambda _var: self.target.secret,
            clock=self.target.clock,
            sleep=self.target.clock.sleep if self.target.clock is not None else None,
        )
        ui = KitUI(self.console, redact=ctx.redact)
        ctx.ui = ui
        return ctx, ui

    def look(self, stack: Stack) -> Context:
        """A Context for the kit's own reads (not counted in ecsup's calls)."""
        if stack.key not in self._lookers:
            self._lookers[stack.key] = self.context(stack)[0]
        return self._lookers[stack.key]

    def client(self, stack: Stack, service: str, region: str | None = None) -> Any:
        ctx = self.look(stack)
        return ctx.client(service, region) if region else ctx.client(service)

    def step(self, title: str, body: Callable[[], Any]) -> Any:
        from rich.markup import escape

        self.console.print(f"[bold]$ {escape(title)}[/]", highlight=False)
        start = time.monotonic()
        clock = self.target.clock
        virtual = clock() if clock is not None else None
        entry: dict[str, Any] = {"step": title}
        self.report.steps.append(entry)
        try:
            result = body()
            entry["result"] = "done"
            return result
        except BaseException as exc:
            entry["result"] = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
            raise
        finally:
            entry["seconds"] = round(time.monotonic() - start, 1)
            if virtual is not None:
                entry["aws_seconds"] = round(clock() - virtual, 1)  # on the sandbox's virtual clock

    def record(self, check: str, outcome: str, observed: str, **evidence: Any) -> None:
        assumption = CHECKS[check]
        self.report.record(Outcome(assumption, check, outcome, observed, evidence))
        self.console.print(f"  [{outcome.upper()}] {assumption}: {observed}", highlight=False, markup=False)

    # -- reads --------------------------------------------------------------------------------------
    def service(self, stack: Stack) -> dict[str, Any]:
        names = stack.names
        found = self.client(stack, "ecs").describe_services(cluster=names.cluster, services=[names.service])
        services = found.get("services") or []
        return dict(services[0]) if services else {}

    def deployments(self, stack: Stack) -> list[dict[str, Any]]:
        ecs = self.client(stack, "ecs")
        names = stack.names
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"cluster": names.cluster, "service": names.service}
            if token:
                kwargs["nextToken"] = token
            page = ecs.list_service_deployments(**kwargs)
            out += page.get("serviceDeployments") or []
            token = page.get("nextToken")
            if not token:
                return out

    def deployment(self, stack: Stack, arn: str | None) -> dict[str, Any]:
        if not arn:
            return {}
        found = self.client(stack, "ecs").describe_service_deployments(serviceDeploymentArns=[arn])
        items = found.get("serviceDeployments") or []
        return dict(items[0]) if items else {}

    def production_rule(self, stack: Stack, svc: dict[str, Any] | None = None) -> str:
        svc = svc if svc is not None else self.service(stack)
        for lb in svc.get("loadBalancers") or []:
            rule = (lb.get("advancedConfiguration") or {}).get("productionListenerRule")
            if rule:
                return str(rule)
        return ""

    def rule(self, stack: Stack, arn: str) -> dict[str, Any]:
        rules = self.client(stack, "elbv2").describe_rules(RuleArns=[arn]).get("Rules") or []
        return dict(rules[0]) if rules else {}

    def weights(self, stack: Stack, svc: dict[str, Any] | None = None) -> dict[str, int]:
        arn = self.production_rule(stack, svc)
        if not arn:
            return {}
        return forward_weights(self.rule(stack, arn).get("Actions") or [])

    def healthy(self, stack: Stack, group_arn: str) -> int | str:
        try:
            found = self.client(stack, "elbv2").describe_target_health(TargetGroupArn=group_arn)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            return f"gone ({code})"
        states = [d.get("TargetHealth", {}).get("State") for d in found.get("TargetHealthDescriptions") or []]
        return sum(1 for s in states if s == "healthy")

    def service_groups(self, svc: dict[str, Any]) -> list[str]:
        out = []
        for lb in svc.get("loadBalancers") or []:
            out.append(str(lb.get("targetGroupArn")))
            alt = (lb.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")
            if alt:
                out.append(str(alt))
        return out

    # -- the operations (ecsup's own code paths) ----------------------------------------------------
    def create(self, stack: Stack, hooks: list[Callable[[Any], None]] | None = None) -> Any:
        from ..cli import run_create

        ctx, ui = self.context(stack)
        ui.hooks += hooks or []
        return run_create(ctx, ui)

    def deploy(
        self, stack: Stack, image: str, hooks: list[Callable[[Any], None]] | None = None
    ) -> tuple[dict[str, Any] | None, Any]:
        """(the deploy's result document, or None; the RolledBack it raised, or None)."""
        from ..cli import run_release
        from ..deploy import RolledBack
        from ..deploy import deploy as ship
        from ..errors import WaitTimeout

        ctx, ui = self.context(stack)
        ui.hooks += hooks or []
        try:
            doc = run_release(ctx, ui, lambda: ship(ctx, image, timeout=DEPLOY_TIMEOUT), False, "deployed")
        except RolledBack as exc:
            self.console.print(f"  ECS rolled it back: {exc.message}", highlight=False, markup=False)
            self._after_deploy(stack)
            return (exc.result.as_dict() if exc.result else None), exc
        except WaitTimeout:
            return self._timed_out(stack), None
        self.images[stack.key] = image
        return doc, None

    def _timed_out(self, stack: Stack) -> dict[str, Any]:
        """A deployment that did not end in DEPLOY_TIMEOUT (what AWS did is the finding): what it
        reported then; then `ecsup rollback` ends it, so that the life goes on."""
        from ..cli import run_release
        from ..deploy import rollback
        from ..deployments import ongoing

        ctx, ui = self.context(stack)
        arn = ongoing(ctx)
        then = self.deployment(stack, arn)
        self.console.print(f"  still {then.get('status')} after {DEPLOY_TIMEOUT:.0f}s: rolling it back", markup=False)
        if arn:
            run_release(ctx, ui, lambda: rollback(ctx, timeout=DEPLOY_TIMEOUT), False, "rolled back")
        self._after_deploy(stack)
        return {"deployment_arn": arn, "timed_out": True, "at_timeout": {k: then.get(k) for k in EVIDENCE}}

    def _after_deploy(self, stack: Stack) -> None:
        """After a rollback: the image the service runs now."""
        from ..deployments import describe_task_definition, image_of

        ctx = self.look(stack)
        svc = self.service(stack)
        if svc.get("taskDefinition"):
            self.images[stack.key] = image_of(ctx, describe_task_definition(ctx, svc["taskDefinition"])[0])

    def next_image(self, stack: Stack) -> str:
        now = self.images[stack.key]
        return next(i for i in GOOD_IMAGES[1:] + GOOD_IMAGES[:1] if i != now)

    def set_alarm(self, stack: Stack, state: str, reason: str) -> None:
        self.client(stack, "cloudwatch").set_alarm_state(
            AlarmName=stack.names.alarm("5xx"), StateValue=state, StateReason=reason
        )

    # -- the life -------------------------------------------------------------------------------------
    def run(self) -> None:
        own, shop, blog = self.stacks["own"], self.stacks["shop"], self.stacks["blog"]
        self.step(f"ecsup create -c {own.path.name}   # its own load balancer", lambda: self.create(own))
        self.check_first_deployment(own)
        self.check_execution_role(own)
        self.check_acm(own)
        for s in (shop, blog):
            self.step(
                f"ecsup create -c {s.path.name}   # on the shared load balancer {s.shared}", partial0(self.create, s)
            )
        self.step(
            f"requests to https://{shop.hostname}/ for {TRAFFIC_MINUTES} minutes, then ELB's HealthyHostCount",
            lambda: self.healthy_host_metric(shop),
        )
        self.step(
            f"ecsup deploy -c {shop.path.name}   # blue/green on the shared listener",
            lambda: self.shared_deploy(shop, blog),
        )
        self.step(f"ecsup deploy -c {shop.path.name}   # with a probe that fails", lambda: self.probe_failure(shop))
        self.step(f"ecsup run -c {blog.path.name} -- sh -c 'echo ...; exit 3'", lambda: self.one_off(blog))
        self.step(f"ecsup deploy -c {own.path.name}   # blue/green", lambda: self.default_rule_deploy(own))
        edge = shop.shared
        self.step(
            f"ecsup create -c {own.path.name}   # shared = {edge!r}: own -> shared",
            lambda: self.move(own, edge, rollback=False),
        )
        self.step(
            f"ecsup create -c {own.path.name}   # shared removed: shared -> own, its alarm set to ALARM in the bake",
            lambda: self.move(own, "", rollback=True),
        )
        self.step(
            f"ecsup create -c {own.path.name}   # shared -> own again", lambda: self.move(own, "", rollback=False)
        )
        for stack, strategy in ((shop, "linear"), (blog, "canary")):
            self.step(
                f"ecsup create -c {stack.path.name}   # strategy = {strategy!r}: the deployment configuration alone",
                partial0(self.switch, stack, strategy),
            )
            self.step(f"ecsup deploy -c {stack.path.name}   # {strategy}", partial0(self.deploy_ok, stack))
            self.step(
                f"ecsup deploy -c {stack.path.name}   # {strategy}, its 5xx alarm set to ALARM during the shift",
                partial0(self.alarm_rollback, stack, strategy),
            )
            self.step(
                f"ecsup deploy -c {stack.path.name} --image {FAILING_IMAGE}   # {strategy}, tasks that fail",
                partial0(self.breaker_rollback, stack, strategy),
            )
        self.step(
            f"ecsup create -c {shop.path.name}   # strategy = 'canary' after 'linear'",
            lambda: self.switch_from_linear(shop),
        )
        self.step(
            f"ecsup deploy -c {own.path.name}   # its 5xx alarm in ALARM before the deployment starts",
            lambda: self.alarm_at_start(own),
        )
        self.step(
            f"ecsup create -c {own.path.name}   # strategy = 'rolling'",
            lambda: self.switch(own, "rolling", observe=False),
        )
        self.step(f"ecsup deploy -c {own.path.name}   # rolling", lambda: self.deploy_ok(own))

    # -- moves ------------------------------------------------------------------------------------------
    def move(self, stack: Stack, shared: str, rollback: bool) -> None:
        """`create` with [load_balancer] shared changed: ECS deploys the service onto the other load
        balancer's target groups. In its bake, the kit reads the target health of both sides; with
        ``rollback``, it then holds the stack's alarm in ALARM, and reads what the rollback restored."""
        from ..deployments import RolledBack

        svc = self.service(stack)
        old_groups = self.service_groups(svc)
        stack.shared = shared
        seen: dict[str, Any] = {}

        def observe(state: Any) -> None:
            if state.ended:
                return
            if "bake" not in seen and state.stage == "BAKE_TIME":
                new_groups = [g for g in self.service_groups(self.service(stack)) if g not in old_groups]
                seen["bake"] = {
                    "old": {tg_name(g): self.healthy(stack, g) for g in old_groups},
                    "new": {tg_name(g): self.healthy(stack, g) for g in new_groups},
                }
                seen["deployment"] = state.arn
                seen["new_groups"] = new_groups
            if rollback and "bake" in seen:
                self.set_alarm(stack, "ALARM", "Threshold Crossed: set by the ecsup acceptance kit")

        rolled: Any = None
        try:
            self.create(stack, hooks=[observe])
        except RolledBack as exc:
            rolled = exc
            self.console.print(f"  ECS rolled the move back: {exc.message}", highlight=False, markup=False)
        finally:
            if rollback:
                self.set_alarm(stack, "OK", "reset by the ecsup acceptance kit")
        dep = self.deployment(stack, seen.get("deployment"))
        after = self.service(stack)
        groups_after = self.service_groups(after)
        evidence: dict[str, Any] = {
            "to": shared or "its own load balancer",
            "status": dep.get("status"),
            "statusReason": dep.get("statusReason"),
            "during_bake": seen.get("bake"),
            "groups_before": [tg_name(g) for g in old_groups],
            "groups_after": [tg_name(g) for g in groups_after],
        }
        if "bake" not in seen:
            check = "move_rollback" if rollback else "move_bake"
            self.record(check, SKIP, "the kit never saw the move's deployment in its bake", **evidence)
            if rolled is not None:
                raise rolled
            return
        bake = seen["bake"]
        old_serving = any(isinstance(n, int) and n > 0 for n in bake["old"].values())
        new_serving = any(isinstance(n, int) and n > 0 for n in bake["new"].values())
        if not rollback:
            if rolled is not None:
                raise rolled
            evidence["old_after"] = {tg_name(g): self.healthy(stack, g) for g in old_groups}
            if dep.get("status") == "SUCCESSFUL" and old_serving and new_serving:
                self.record(
                    "move_bake",
                    PASS,
                    "in the bake the old tasks served the old load balancer and the new ones the new; SUCCESSFUL",
                    **evidence,
                )
            else:
                self.record(
                    "move_bake",
                    FAIL,
                    f"in the bake: old {bake['old']}, new {bake['new']}; {dep.get('status')}",
                    **evidence,
                )
            return
        evidence["old_after"] = {tg_name(g): self.healthy(stack, g) for g in old_groups}
        evidence["new_after"] = {tg_name(g): self.healthy(stack, g) for g in seen["new_groups"]}
        restored = sorted(groups_after) == sorted(old_groups)
        old_back = any(isinstance(n, int) and n > 0 for n in evidence["old_after"].values())
        new_empty = all(not (isinstance(n, int) and n > 0) for n in evidence["new_after"].values())
        if rolled is None:
            self.record("move_rollback", SKIP, f"the move was not rolled back ({dep.get('status')})", **evidence)
        elif dep.get("status") == "ROLLBACK_SUCCESSFUL" and restored and old_back and new_empty:
            self.record(
                "move_rollback",
                PASS,
                "ROLLBACK_SUCCESSFUL: the service names its old target groups again, the old "
                "tasks serve them, the new groups are empty",
                **evidence,
            )
        else:
            self.record(
                "move_rollback",
                FAIL,
                f"{dep.get('status')}: groups restored {restored}, old serving {old_back}, new empty {new_empty}",
                **evidence,
            )

    def switch_from_linear(self, stack: Stack) -> None:
        """LINEAR -> CANARY through `create`, whose UpdateService leaves linearConfiguration out."""
        try:
            self.switch(stack, "canary", observe=False)
            refused = ""
        except EcsupError as exc:
            refused = exc.message
        config = self.service(stack).get("deploymentConfiguration") or {}
        evidence = {"refused": refused, "deploymentConfiguration": config}
        if refused and "linearConfiguration" in refused:
            stack.strategy = "linear"
            self.record("strategy_switch", PASS, "refused: the linearConfiguration set before was kept", **evidence)
        elif not refused:
            self.record(
                "strategy_switch",
                FAIL,
                f"accepted: the service is {config.get('strategy')} "
                f"(linearConfiguration {'kept' if 'linearConfiguration' in config else 'dropped'})",
                **evidence,
            )
        else:
            self.record("strategy_switch", FAIL, f"refused otherwise: {refused}", **evidence)

    # -- checks ---------------------------------------------------------------------------------------
    def check_first_deployment(self, stack: Stack) -> None:
        deps = self.deployments(stack)
        first = min(deps, key=lambda d: str(d.get("createdAt", "")), default={})  # the order is not promised
        first = self.deployment(stack, first.get("serviceDeploymentArn"))
        svc = self.service(stack)
        weights = self.weights(stack, svc)
        live = max(weights, key=lambda g: weights[g]) if weights else ""
        evidence = {
            "deployments": len(deps),
            "status": first.get("status"),
            "statusReason": first.get("statusReason"),
            "strategy": (first.get("deploymentConfiguration") or {}).get("strategy"),
            "weights": weights,
        }
        if first.get("status") == "SUCCESSFUL" and live.endswith("-green") and weights.get(live) == 100:
            self.record("first_deployment", PASS, f"first deployment SUCCESSFUL, {live} live at 100", **evidence)
        else:
            self.record(
                "first_deployment", FAIL, f"first deployment {first.get('status')}, weights {weights}", **evidence
            )

    def check_execution_role(self, stack: Stack) -> None:
        import json
        import urllib.parse

        names = stack.names
        role = self.client(stack, "iam").get_role(RoleName=names.execution_role)["Role"]
        policy = role.get("AssumeRolePolicyDocument")
        if isinstance(policy, str):
            policy = json.loads(urllib.parse.unquote(policy))
        conditions = [s.get("Condition") for s in (policy or {}).get("Statement", []) if s.get("Condition")]
        source_account = any("aws:SourceAccount" in str(c) for c in conditions)
        svc = self.service(stack)
        ecs = self.client(stack, "ecs")
        arns = ecs.list_tasks(cluster=names.cluster, serviceName=names.service, desiredStatus="RUNNING").get(
            "taskArns", []
        )
        tasks = ecs.describe_tasks(cluster=names.cluster, tasks=arns).get("tasks", []) if arns else []
        running = [t for t in tasks if t.get("lastStatus") == "RUNNING"]
        td = ecs.describe_task_definition(taskDefinition=svc.get("taskDefinition", ""))["taskDefinition"]
        secrets = [s["name"] for c in td.get("containerDefinitions", []) for s in c.get("secrets") or []]
        evidence = {"trust_conditions": conditions, "running_tasks": len(running), "secrets": secrets}
        if not source_account:
            self.record("execution_role", SKIP, "the execution role has no aws:SourceAccount condition", **evidence)
        elif running and secrets:
            self.record(
                "execution_role",
                PASS,
                f"{len(running)} task(s) RUNNING with the secret {', '.join(secrets)}, role trust conditioned on "
                "aws:SourceAccount",
                **evidence,
            )
        else:
            self.record("execution_role", FAIL, f"{len(running)} task(s) running (secrets {secrets})", **evidence)

    def check_acm(self, stack: Stack) -> None:
        from ..names import tag_dict

        if stack.region == "us-east-1":
            self.record("acm_validation_record", SKIP, "the stacks are in us-east-1: one region, nothing to compare")
            return
        records: dict[str, list[tuple[str, str]]] = {}
        for region in (stack.region, "us-east-1"):
            acm = self.client(stack, "acm", region)
            found: list[tuple[str, str]] = []
            for page in acm.get_paginator("list_certificates").paginate():
                for summary in page.get("CertificateSummaryList") or []:
                    arn = summary["CertificateArn"]
                    tags = tag_dict(acm.list_tags_for_certificate(CertificateArn=arn).get("Tags"))
                    if not stack.names.owns(tags):
                        continue
                    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
                    for option in cert.get("DomainValidationOptions") or []:
                        rr = option.get("ResourceRecord") or {}
                        if rr:
                            found.append((rr.get("Name", ""), rr.get("Value", "")))
            records[region] = sorted(set(found))
        here, there = records[stack.region], records["us-east-1"]
        evidence = {"records": {k: [list(r) for r in v] for k, v in records.items()}}
        if not here or not there:
            self.record("acm_validation_record", SKIP, "a certificate or its records were not found", **evidence)
        elif here == there:
            self.record("acm_validation_record", PASS, f"the same {len(here)} CNAME(s) in both regions", **evidence)
        else:
            self.record("acm_validation_record", FAIL, "the validation CNAMEs differ between regions", **evidence)

    def check_weights(self, stack: Stack, before: dict[str, int], status: str) -> None:
        after = self.weights(stack)
        live_before = max(before, key=lambda g: before[g]) if before else ""
        live_after = max(after, key=lambda g: after[g]) if after else ""
        evidence = {"before": before, "after": after, "status": status}
        if status != "SUCCESSFUL" or not before:
            return
        if live_after and live_after != live_before and after[live_after] == 100 and sum(after.values()) == 100:
            self.record("production_weights", PASS, f"{live_before} -> {live_after} at 100 ({stack.name})", **evidence)
        else:
            self.record("production_weights", FAIL, f"weights after the deployment: {after}", **evidence)

    def deploy_ok(self, stack: Stack) -> None:
        before = self.weights(stack)
        doc, rolled = self.deploy(stack, self.next_image(stack))
        status = (doc or {}).get("status", "")
        if rolled is not None:
            raise EcsupError(f"the deployment of {stack.name} was rolled back: {rolled.message}")
        self.check_weights(stack, before, status)

    def default_rule_deploy(self, stack: Stack) -> None:
        """A blue/green deploy of a stack on its own load balancer, whose production rule is the
        HTTPS listener's default rule."""
        rule_arn = self.production_rule(stack)
        rule = self.rule(stack, rule_arn) if rule_arn else {}
        before = forward_weights(rule.get("Actions") or [])
        doc, rolled = self.deploy(stack, self.next_image(stack))
        dep = self.deployment(stack, (doc or {}).get("deployment_arn"))
        after = forward_weights(self.rule(stack, rule_arn).get("Actions") or []) if rule_arn else {}
        evidence = {
            "production_rule_is_default": rule.get("IsDefault"),
            "status": dep.get("status"),
            "statusReason": dep.get("statusReason"),
            "weights_before": before,
            "weights_after": after,
        }
        if not rule.get("IsDefault"):
            self.record("default_rule", SKIP, "the production rule is not the listener's default rule", **evidence)
        elif rolled is None and dep.get("status") == "SUCCESSFUL" and after != before:
            self.record("default_rule", PASS, "SUCCESSFUL; ECS rewrote the default rule's weights", **evidence)
        else:
            self.record("default_rule", FAIL, f"the deployment ended {dep.get('status')}", **evidence)
        if rolled is not None:
            raise EcsupError(f"the deployment of {stack.name} was rolled back: {rolled.message}")
        self.check_weights(stack, before, str(dep.get("status")))

    def shared_deploy(self, stack: Stack, other: Stack) -> None:
        svc = self.service(stack)
        rule_arn = self.production_rule(stack, svc)
        rule = self.rule(stack, rule_arn) if rule_arn else {}
        listener = rule_arn.replace(":listener-rule/", ":listener/").rsplit("/", 1)[0] if rule_arn else ""
        elb = self.client(stack, "elbv2")
        default = elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"] if listener else []
        rules_before = elb.describe_rules(ListenerArn=listener)["Rules"] if listener else []
        other_rule = self.production_rule(other)
        other_before = forward_weights(self.rule(other, other_rule).get("Actions") or []) if other_rule else {}
        before = forward_weights(rule.get("Actions") or [])
        doc, rolled = self.deploy(stack, self.next_image(stack))
        dep = self.deployment(stack, (doc or {}).get("deployment_arn"))
        after = self.weights(stack)
        other_after = forward_weights(self.rule(other, other_rule).get("Actions") or []) if other_rule else {}
        default_after = (
            elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"] if listener else []
        )
        unchanged_default = [a.get("Type") for a in default_after] == [a.get("Type") for a in default]
        evidence = {
            "status": dep.get("status"),
            "statusReason": dep.get("statusReason"),
            "listener_default_action": [a.get("Type") for a in default],
            "listener_default_action_after": [a.get("Type") for a in default_after],
            "listener_rules": len(rules_before),
            "weights_before": before,
            "weights_after": after,
            "other_stack_weights": [other_before, other_after],
        }
        mixed = any(a.get("Type") != "forward" for a in default) and len(rules_before) > 2
        if not mixed:
            self.record(
                "shared_blue_green", SKIP, "the listener had no fixed-response default and other rules", **evidence
            )
        elif (
            rolled is None
            and dep.get("status") == "SUCCESSFUL"
            and after != before
            and other_after == other_before
            and unchanged_default
        ):
            self.record(
                "shared_blue_green",
                PASS,
                f"SUCCESSFUL on a listener with a {default[0].get('Type')} default and {len(rules_before) - 1} "
                "host rules; only this stack's rule changed",
                **evidence,
            )
        else:
            self.record("shared_blue_green", FAIL, f"the deployment ended {dep.get('status')}", **evidence)
        self.check_weights(stack, before, str(dep.get("status")))

    def probe_failure(self, stack: Stack) -> None:
        stack.verify_url = self.probe_url(stack)
        try:
            svc = self.service(stack)
            before = self.weights(stack, svc)
            doc, rolled = self.deploy(stack, self.next_image(stack))
        finally:
            stack.verify_url = ""
        dep = self.deployment(stack, (doc or {}).get("deployment_arn"))
        after_svc = self.service(stack)
        after = self.weights(stack, after_svc)
        evidence = {
            "status": dep.get("status"),
            "statusReason": dep.get("statusReason"),
            "rollback": dep.get("rollback"),
            "weights_before": before,
            "weights_after": after,
            "task_definition": [svc.get("taskDefinition"), after_svc.get("taskDefinition")],
        }
        if rolled is None:
            self.record("probe_rollback", SKIP, "the probe passed: nothing was rolled back", **evidence)
        elif (
            dep.get("status") == "ROLLBACK_SUCCESSFUL"
            and after == before
            and (svc.get("taskDefinition") == after_svc.get("taskDefinition"))
        ):
            self.record(
                "probe_rollback", PASS, "ROLLBACK_SUCCESSFUL, production and the task definition back", **evidence
            )
        else:
            self.record("probe_rollback", FAIL, f"the deployment ended {dep.get('status')}", **evidence)

    def probe_url(self, stack: Stack) -> str:
        return self.target.probe_url or f"https://{stack.hostname}{PROBE_PATH}"

    def one_off(self, stack: Stack) -> None:
        from ..run import run

        marker = f"ecsup-acceptance-{self.report.run_id}"
        ctx, ui = self.context(stack)
        result = run(ctx, ["sh", "-c", f"echo {marker}; exit 3"], timeout=900)
        evidence = {
            "exit_code": result.exit_code,
            "stop_code": result.stop_code,
            "stopped_reason": result.stopped_reason,
            "lines": result.last_lines[-5:],
        }
        seen = any(marker in line for line in result.last_lines + ui.log_lines)
        if result.exit_code == 3 and result.stop_code == "EssentialContainerExited" and seen:
            self.record("one_off_task", PASS, "exit code 3, EssentialContainerExited, its line in the logs", **evidence)
        else:
            self.record(
                "one_off_task", FAIL, f"exit code {result.exit_code}, {result.stop_code}, line seen: {seen}", **evidence
            )

    def switch(self, stack: Stack, strategy: str, observe: bool = True) -> None:
        before = len(self.deployments(stack))
        stack.strategy = strategy
        ctx, ui = self.context(stack)
        sent: list[dict[str, Any]] = []

        def record(params: dict[str, Any], **_: Any) -> None:
            sent.append({k: v for k, v in params.items() if k not in ("cluster", "service")})

        ctx.session.events.register("provide-client-params.ecs.UpdateService", record)
        from ..cli import run_create

        run_create(ctx, ui)
        after = len(self.deployments(stack))
        keys = sorted({k for p in sent for k in p})
        if not observe:
            return
        evidence = {"deployments_before": before, "deployments_after": after, "update_service_keys": keys}
        if not sent:
            self.record("configuration_only", SKIP, "create sent no UpdateService", **evidence)
        elif keys != ["deploymentConfiguration"]:
            self.record("configuration_only", SKIP, f"create's UpdateService changed more: {keys}", **evidence)
        elif after == before:
            self.record(
                "configuration_only",
                PASS,
                f"to {strategy.upper()}: no new deployment ({before} before and after)",
                **evidence,
            )
        else:
            self.record("configuration_only", FAIL, f"{after - before} deployment(s) started", **evidence)

    def alarm_rollback(self, stack: Stack, strategy: str) -> None:
        check = f"alarms_{strategy}"
        seen: dict[str, Any] = {}

        def fire(state: Any) -> None:
            if state.ended:
                return
            if not seen and state.stage in TRAFFIC_STAGES:
                seen.update(stage=state.stage, traffic=dict(state.traffic))
            if seen:  # held in ALARM until ECS acts, as sustained errors would (CloudWatch re-evaluates it)
                self.set_alarm(stack, "ALARM", "Threshold Crossed: set by the ecsup acceptance kit")

        try:
            doc, _rolled = self.deploy(stack, self.next_image(stack), hooks=[fire])
        finally:
            self.set_alarm(stack, "OK", "reset by the ecsup acceptance kit")
        dep = self.deployment(stack, (doc or {}).get("deployment_arn"))
        evidence = {
            "timed_out": (doc or {}).get("at_timeout"),
            "set_at": seen,
            "status": dep.get("status"),
            "statusReason": dep.get("statusReason"),
            "alarms": dep.get("alarms"),
            "strategy": (dep.get("deploymentConfiguration") or {}).get("strategy"),
        }
        triggered = (dep.get("alarms") or {}).get("status") == "TRIGGERED"
        if not seen:
            self.record(check, SKIP, "the deployment never showed a traffic stage to set the alarm in", **evidence)
        elif dep.get("status") == "ROLLBACK_SUCCESSFUL" and triggered:
            self.record(check, PASS, f"ROLLBACK_SUCCESSFUL, alarms TRIGGERED (set in {seen['stage']})", **evidence)
        else:
            self.record(
                check, FAIL, f"the deployment ended {dep.get('status')} (alarm set in {seen['stage']})", **evidence
            )

    def alarm_at_start(self, stack: Stack) -> None:
        """A deployment started while the stack's alarm is in ALARM, never set again during it. The
        deploy's own steps below `ecsup deploy` (register the revision, UpdateService, watch), so
        that nothing of ecsup's stands between the alarm and ECS."""
        from .. import lock
        from ..deploy import register_revision, start
        from ..deployments import RolledBack, describe_task_definition, watch
        from ..deployments import service as live_service

        ctx, ui = self.context(stack)
        cloudwatch = self.client(stack, "cloudwatch")
        name = stack.names.alarm("5xx")
        image = self.next_image(stack)
        self.set_alarm(stack, "ALARM", "Threshold Crossed: set by the ecsup acceptance kit before the deployment")
        at_start = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
        rolled: Any = None
        arn: str | None = None
        try:
            with lock.held(ctx, "deploy"):
                svc = live_service(ctx)
                td, tags = describe_task_definition(ctx, svc["taskDefinition"])
                arn = start(ctx, register_revision(ctx, td, tags, image), svc)
            if arn:
                ui.release_started(f"deploying {image} with {name} in {at_start}")
                try:
                    watch(ctx, arn, DEPLOY_TIMEOUT)
                    self.images[stack.key] = image
                except RolledBack as exc:
                    rolled = exc
                    self._after_deploy(stack)
        finally:
            at_end = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
            self.set_alarm(stack, "OK", "reset by the ecsup acceptance kit")
        dep = self.deployment(stack, arn)
        evidence = {
            "alarm_at_start": at_start,
            "alarm_at_end": at_end,  # CloudWatch may have re-evaluated it meanwhile (no data: OK)
            "status": dep.get("status"),
            "statusReason": dep.get("statusReason"),
            "alarms": dep.get("alarms"),
        }
        if at_start != "ALARM" or not arn:
            self.record("alarm_at_start", SKIP, f"the alarm was {at_start} at the start", **evidence)
        elif rolled is None and dep.get("status") == "SUCCESSFUL":
            self.record("alarm_at_start", PASS, f"SUCCESSFUL although {name} was in ALARM when it started", **evidence)
        else:
            self.record("alarm_at_start", FAIL, f"the deployment ended {dep.get('status')}", **evidence)

    def breaker_rollback(self, stack: Stack, strategy: str) -> None:
        check = f"breaker_{strategy}"
        doc, _rolled = self.deploy(stack, FAILING_IMAGE)
        dep = self.deployment(stack, (doc or {}).get("deployment_arn"))
        breaker = dep.get("deploymentCircuitBreaker") or {}
        evidence = {
            "timed_out": (doc or {}).get("at_timeout"),
            "status": dep.get("status"),
            "statusReason": dep.get("statusReason"),
            "deploymentCircuitBreaker": breaker,
            "strategy": (dep.get("deploymentConfiguration") or {}).get("strategy"),
        }
        if dep.get("status") == "ROLLBACK_SUCCESSFUL" and breaker.get("status") == "TRIGGERED":
            self.record(check, PASS, "ROLLBACK_SUCCESSFUL, circuit breaker TRIGGERED", **evidence)
        else:
            self.record(check, FAIL, f"the deployment ended {dep.get('status')}", **evidence)

    # -- destroy ----------------------------------------------------------------------------------------
    def destroy(self, stack: Stack) -> dict[str, Any]:
        from ..cli import run_destroy
        from ..lock import LockHeld

        ctx, ui = self.context(stack)
        looker = self.look(stack)

        def deleted(parsed: dict[str, Any], **_: Any) -> None:
            names = stack.names
            status = (parsed.get("service") or {}).get("status")
            svc = looker.client("ecs").describe_services(cluster=names.cluster, services=[names.service])
            after = [s.get("status") for s in svc.get("services") or []]
            self.drained[stack.key] = {"delete_service": status, "describe_right_after": after}

        ctx.session.events.register("after-call.ecs.DeleteService", deleted)
        try:
            return run_destroy(ctx, ui, purge=True)
        except LockHeld:  # a run of ours that was interrupted: the holder is this process
            ctx, ui = self.context(stack)
            ctx.session.events.register("after-call.ecs.DeleteService", deleted)
            return run_destroy(ctx, ui, purge=True, force_unlock=True)

    # -- ELB's metrics -------------------------------------------------------------------------------
    def send_requests(self, stack: Stack, count: int) -> None:
        """``count`` requests for the stack's hostname: HTTPS on AWS (whatever the answer), the
        emulated load balancer's routing in the sandbox (emulation/traffic.py)."""
        if self.target.sandbox:
            from .. import emulation
            from ..emulation import traffic

            account = self.client(stack, "sts").get_caller_identity()["Account"]
            assert emulation.ACTIVE is not None
            traffic.requests(emulation.ACTIVE, account, stack.region, stack.hostname, count)
            return
        import urllib.error
        import urllib.request

        for _ in range(count):
            try:
                with urllib.request.urlopen(f"https://{stack.hostname}/", timeout=10) as answer:
                    answer.read()
            except (urllib.error.URLError, OSError):
                pass  # an error answer is a request through the load balancer too

    def sleep(self, seconds: float) -> None:
        if self.target.clock is not None:
            self.target.clock.sleep(seconds)
        else:
            time.sleep(seconds)

    def healthy_host_metric(self, stack: Stack) -> None:
        """HealthyHostCount with the dimensions TargetGroup + LoadBalancer for each of the stack's
        groups on the shared load balancer, in the minutes requests flowed (GetMetricStatistics,
        Maximum per minute): what the 5xx alarm on a shared load balancer reads."""
        from datetime import UTC, datetime, timedelta

        elb, cw = self.client(stack, "elbv2"), self.client(stack, "cloudwatch")
        lb = elb.describe_load_balancers(Names=[stack.shared])["LoadBalancers"][0]
        lb_dim = str(lb["LoadBalancerArn"]).split(":loadbalancer/", 1)[1]
        names = stack.names
        groups = elb.describe_target_groups(Names=[names.tg_blue, names.tg_green])["TargetGroups"]
        began = datetime.now(UTC) - timedelta(minutes=2)
        for _ in range(TRAFFIC_MINUTES):
            self.send_requests(stack, 20)
            self.sleep(60)

        def datapoints() -> dict[str, list[float]]:
            out: dict[str, list[float]] = {}
            for tg in groups:
                dims = [
                    {"Name": "TargetGroup", "Value": str(tg["TargetGroupArn"]).split(":", 5)[5]},
                    {"Name": "LoadBalancer", "Value": lb_dim},
                ]
                found = cw.get_metric_statistics(
                    Namespace=LB_NAMESPACE,
                    MetricName="HealthyHostCount",
                    Dimensions=dims,
                    StartTime=began,
                    EndTime=datetime.now(UTC) + timedelta(minutes=1),
                    Period=60,
                    Statistics=["Maximum"],
                )["Datapoints"]
                out[str(tg["TargetGroupName"])] = [float(p["Maximum"]) for p in found]
            return out

        waited = 0.0
        seen = datapoints()
        while not all(seen.values()) and waited < METRICS_WAIT:  # ELB's metrics show up minutes later
            self.sleep(30)
            waited += 30
            seen = datapoints()
        evidence = {"load_balancer": lb_dim, "datapoints": seen, "waited_seconds": waited}
        if all(seen.values()):
            self.record(
                "healthy_host_metric",
                PASS,
                "HealthyHostCount per TargetGroup + LoadBalancer for each group: "
                + ", ".join(f"{g} {len(v)} point(s)" for g, v in sorted(seen.items())),
                **evidence,
            )
        else:
            missing = sorted(g for g, v in seen.items() if not v)
            self.record(
                "healthy_host_metric",
                FAIL,
                f"no HealthyHostCount datapoint for {', '.join(missing)} after {TRAFFIC_MINUTES} minutes of requests",
                **evidence,
            )

    def check_draining(self) -> None:
        if not self.drained:
            return
        draining = {
            k: v
            for k, v in self.drained.items()
            if v["delete_service"] == "DRAINING" and set(v["describe_right_after"]) <= {"DRAINING", "INACTIVE"}
        }
        evidence = {"services": self.drained}
        if len(draining) == len(self.drained):
            self.record(
                "service_draining", PASS, f"DeleteService answered DRAINING for {len(draining)} service(s)", **evidence
            )
        else:
            self.record("service_draining", FAIL, "DeleteService did not answer DRAINING", **evidence)


def forward_weights(actions: list[dict[str, Any]]) -> dict[str, int]:
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return {tg_name(g["TargetGroupArn"]): int(g.get("Weight", 1)) for g in groups}
        if action.get("TargetGroupArn"):
            return {tg_name(action["TargetGroupArn"]): 100}
    return {}


def partial0(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: fn(*args)


class ProbeServer:
    """In the sandbox, the stack's hostname leads nowhere: the failing probe asks this loopback
    server instead, which answers 404 as nginx does for a page it does not have."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class NotFound(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"404 Not Found (ecsup acceptance kit)\n"
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}{PROBE_PATH}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
