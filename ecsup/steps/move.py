"""Moving a stack between its own load balancer and a shared one -- or back, or between two
shared ones -- as a planned change of `create` ([load_balancer] shared set, removed or changed).

An ALB target group belongs to one load balancer at a time ("TargetGroupAssociationLimit": ELB
API reference), so the stack has two pairs of target groups (names.py, ``Names.pair``): the move
builds the other pair on the new load balancer (with the stack's rule or listeners there) while
the old pair keeps serving on the old one. Then, in this order:

1. the service's load balancers change (UpdateService), which ECS makes a deployment: "When you
   add, update, or remove a load balancer configuration, Amazon ECS starts new tasks with the
   updated Elastic Load Balancing configuration, and then stops the old tasks when the new tasks
   are running" (ECS API reference, UpdateService ``loadBalancers``). The old tasks keep serving
   the old load balancer until the deployment's clean-up; for blue/green, linear and canary the
   move's deployment bakes at least MOVE_BAKE_MINUTES, so that lasts beyond DNS caches;
2. once production traffic is on the new revision behind the new load balancer, the DNS record
   moves to it (the new rule serves before the record moves);
3. once the deployment is over, the old side goes: the old pair, the old listeners and load
   balancer (its own) or the stack's rule and certificate there (a shared one, which goes too
   when the stack was the last on it), and the old load balancer's security group's access to
   the tasks.

The service carries the tag MOVE_TAG (the load balancer it leaves) from just before its
UpdateService until the old side is gone: a run that stopped in between finds it and finishes
the move; `destroy` removes both sides whatever the point reached.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from ..context import Context
from ..errors import ConfigError, doing, is_code
from ..facts import Facts
from ..names import TAG_SHARED, Names
from ..plan import Action
from . import Step, both
from .dns import RECORD_TTL, _current, _points_at, point_record

MOVE_TAG = "ecsup:moving-from"
# The move's deployment bakes at least this long: the old load balancer keeps its tasks while the
# DNS change reaches Route53's servers (about a minute, "PENDING" to "INSYNC") and resolvers forget
# the old answer (RECORD_TTL).
MOVE_BAKE_MINUTES = 3


@dataclass(frozen=True)
class Move:
    source: str  # the load balancer the stack leaves (its own, or a shared one's name)
    old: Names  # the stack's names there: its shared name ("" for its own) and its pair
    finishing: bool  # the service moved already (a run stopped before the clean-up)
    service: bool  # a service whose traffic moves
    source_dns: str = ""  # the old load balancer's DNS name ("" once gone)
    source_zone: str = ""

    @property
    def label(self) -> str:
        return f"shared load balancer {self.source}" if self.old.shared else f"its own load balancer {self.source}"


def moving(ctx: Context) -> Move | None:
    move = ctx.facts.get("move")
    return move if isinstance(move, Move) else None


# -- finding a move ----------------------------------------------------------------------------
def _service(ctx: Context) -> dict[str, Any] | None:
    """DescribeServices once for the whole plan (ecs.seen_service reads it from here)."""
    from .ecs import find_service

    return find_service(ctx, unseen_cluster=True)


def _groups_by_arn(ctx: Context, arns: list[str]) -> dict[str, dict[str, Any]] | None:
    """The target groups the service names, in one call; None when one of them is gone."""
    with doing("look up the service's target groups"):
        try:
            found = ctx.client("elbv2").describe_target_groups(TargetGroupArns=arns)["TargetGroups"]
        except Exception as exc:
            if is_code(exc, "TargetGroupNotFound"):
                return None
            raise
    return {g["TargetGroupName"]: g for g in found}


def _first_pair(ctx: Context) -> dict[str, dict[str, Any]] | None:
    """Pair 1 by name, one call; None when one of them is missing (looked at one by one later)."""
    with doing("look up target groups"):
        try:
            groups = ctx.client("elbv2").describe_target_groups(Names=[ctx.names.tg_blue, ctx.names.tg_green])
        except Exception as exc:
            if is_code(exc, "TargetGroupNotFound"):
                return None
            raise
    return {g["TargetGroupName"]: g for g in groups["TargetGroups"]}


def detect(ctx: Context) -> None:
    """Before a plan: which pair of target groups the stack uses, and whether it is moving.

    The pair is the one the service's load balancers name; without a service, pair 1, or pair 2
    when only that one exists (a stack that moved once, its service deleted). When the pair's
    target groups are on a load balancer other than the one the config names, the stack moves:
    the other pair is built on the new one (ctx.names becomes that pair) and ctx.facts["move"]
    says where from. A service tagged MOVE_TAG whose groups are where the config wants them has
    moved but not cleaned up: the move is finishing."""
    from .ecs import _tags
    from .loadbalancer import find_target_groups

    ctx.names = replace(ctx.config.names, pair=1)
    # at once: the service, and the first pair by name in one call (most stacks never moved)
    svc, first = both(ctx, partial(_service, ctx), partial(_first_pair, ctx))
    ctx.facts["service_seen"] = svc
    active = svc is not None and svc.get("status") == "ACTIVE"
    tgs: dict[str, dict[str, Any]] | None = None
    for lb in (svc or {}).get("loadBalancers") or [] if active else []:
        arns = [
            str(lb.get("targetGroupArn") or ""),
            str((lb.get("advancedConfiguration") or {}).get("alternateTargetGroupArn") or ""),
        ]
        pair = ctx.names.pair_of(arns[0]) if arns[0] else None
        if pair is None:
            continue
        ctx.names = replace(ctx.names, pair=pair)
        if pair == 1 and first is not None:
            tgs = first
        elif all(arns):  # both groups named (blue/green): read them by ARN, one call
            tgs = _groups_by_arn(ctx, arns)
        break
    if tgs is None and ctx.names.pair == 1 and first is not None:
        tgs = first
    if tgs is None:
        tgs = find_target_groups(ctx, batch_failed=first is None and ctx.names.pair == 1)
        if not active and not tgs:
            # a stack that moved once whose service is gone (a destroy stopped after it): its second
            # pair -- one by one only for destroy, which must find a pair half deleted
            ctx.names = replace(ctx.names, pair=2)
            tgs = find_target_groups(ctx, one_by_one=ctx.mode == "destroy")
            if not tgs:
                ctx.names = replace(ctx.names, pair=1)
    n = ctx.names
    ctx.facts["target_groups_seen"] = (n.pair, tgs)
    elsewhere = sorted(
        {(arn.split("/")[-2], arn) for tg in tgs.values() for arn in tg.get("LoadBalancerArns", [])}
        - {(n.alb, arn) for tg in tgs.values() for arn in tg.get("LoadBalancerArns", [])}
    )
    tags = _tags(svc.get("tags")) if svc else {}
    earlier = tags.get(MOVE_TAG, "")
    if elsewhere:
        source, source_arn = elsewhere[0]
        if active and earlier and earlier not in (source, n.alb):
            # the other pair is still on the load balancer an unfinished move left: it cannot go to a third
            back = f'load_balancer.shared = "{source}"' if n.own(source) is None else "no load_balancer.shared"
            raise ConfigError(
                [
                    (
                        "load_balancer.shared",
                        f"{n.stack}'s move from {earlier} to {source} is not finished: it cannot move to "
                        f"{n.alb} before",
                    )
                ],
                hint=f"run `ecsup create` with {back} to finish it, then change the key; nothing was changed",
            )
        old = _source_names(ctx, tgs, source, source_arn)
        if old is None:
            return
        lb = _describe(ctx, source_arn=source_arn)
        ctx.names = replace(n, pair=n.other_pair)
        del ctx.facts["target_groups_seen"]  # the new pair's are LoadBalancerStep's to read
        ctx.facts["move"] = Move(
            source,
            old,
            finishing=False,
            service=active,
            source_dns=str((lb or {}).get("DNSName", "")),
            source_zone=str((lb or {}).get("CanonicalHostedZoneId", "")),
        )
    elif earlier and earlier != n.alb and active:
        lb = _describe(ctx, name=earlier)
        ctx.facts["move"] = Move(
            earlier,
            replace(n.own(earlier) or replace(n, shared=earlier), pair=n.other_pair),
            finishing=True,
            service=True,
            source_dns=str((lb or {}).get("DNSName", "")),
            source_zone=str((lb or {}).get("CanonicalHostedZoneId", "")),
        )


def _source_names(ctx: Context, tgs: dict[str, dict[str, Any]], source: str, source_arn: str) -> Names | None:
    """The stack's names on the load balancer its groups are on: its own (shared ""), or an ecsup
    shared load balancer's; None (and a conflict) for anything else, or groups not ecsup's."""
    from .loadbalancer import elb_tags

    n = ctx.names
    found = elb_tags(ctx, [source_arn, *(tg["TargetGroupArn"] for tg in tgs.values())])
    if not all(n.owns(found.get(tg["TargetGroupArn"], {})) for tg in tgs.values()):
        return None  # LoadBalancerStep reports the groups that are not this stack's
    lb_tags = found.get(source_arn, {})
    own = n.own(source)  # its own, internal or not ([load_balancer] internal changed: a new one)
    if own is not None and n.owns(lb_tags):
        return own
    if lb_tags.get(TAG_SHARED) == source:
        return replace(n, shared=source)
    ctx.conflicts.append(
        f"target groups {', '.join(sorted(tgs))} are on load balancer {source}, which is neither this stack's own "
        "nor an ecsup shared load balancer: ecsup will not move the stack off it"
    )
    return None


def _describe(ctx: Context, name: str = "", source_arn: str = "") -> dict[str, Any] | None:
    with doing(f"look up load balancer {name or source_arn.split('/')[-2]}"):
        try:
            kwargs: dict[str, Any] = {"Names": [name]} if name else {"LoadBalancerArns": [source_arn]}
            lbs = ctx.client("elbv2").describe_load_balancers(**kwargs)["LoadBalancers"]
        except Exception as exc:
            if is_code(exc, "LoadBalancerNotFound"):
                return None
            raise
    return lbs[0] if lbs else None


# -- the move's deployment ---------------------------------------------------------------------
def deployment_configuration(ctx: Context, config: dict[str, Any]) -> dict[str, Any]:
    """The move's deployment: all at once, baking at least MOVE_BAKE_MINUTES (linear or canary
    steps would only delay it: no client reaches the new load balancer before the record moves)."""
    if not ctx.config.service.deploy.shifts_traffic:
        return config
    config = {k: v for k, v in config.items() if k not in ("linearConfiguration", "canaryConfiguration")}
    return dict(
        config,
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=max(int(config.get("bakeTimeInMinutes") or 0), MOVE_BAKE_MINUTES),
    )


def serving(ctx: Context) -> tuple[bool, str]:
    """Whether the new load balancer serves the stack: its production rule forwards to a group
    with as many healthy targets as the service wants."""
    from .loadbalancer import forward_weights, serving_targets
    from .service import production_rule

    with doing(f"read the production rule of {ctx.names.stack} on {ctx.names.alb}"):
        found = ctx.client("elbv2").describe_rules(RuleArns=[production_rule(ctx)])["Rules"]
    weights = forward_weights(found[0].get("Actions", [])) if found else {}
    if not weights:
        return False, "no forward"
    live = max(weights, key=lambda arn: weights[arn])
    healthy = serving_targets(ctx, live)
    wanted = max(1, ctx.config.service.desired_count)
    return healthy >= wanted, f"{healthy}/{wanted} healthy in {live.split('/')[-2]}"


def follow(ctx: Context, arn: str) -> str:
    """Watch the move's deployment; point the record at the new load balancer once production
    traffic is on the new tasks there (rolling: once they are healthy in the new group, before
    the old ones stop); watch it to its end. If ECS rolls it back after the record moved, the
    record goes back to the old load balancer, where the old tasks serve again."""
    from .. import deployments as deploy

    move = moving(ctx)
    assert move is not None
    start = ctx.clock()
    rolling = not ctx.config.service.deploy.shifts_traffic

    def ready(state: deploy.DeployState) -> bool:
        if state.ended:
            return True
        return (rolling or state.production_moved) and serving(ctx)[0]

    result = deploy.watch(ctx, arn, ctx.timeouts.service, until=ready)
    moved = point_record(ctx)
    ctx.ui.event(f"DNS {ctx.config.dns.hostname}: {moved} (production traffic is on {ctx.names.alb})")
    if result.status != "SUCCESSFUL":
        try:
            result = deploy.watch(ctx, arn, ctx.timeouts.service, since=start)
        except deploy.RolledBack:
            if move.source_dns:
                back = point_record(ctx, (move.source_dns, move.source_zone))
                ctx.ui.event(f"DNS {ctx.config.dns.hostname}: {back} (ECS rolled the move back)")
            raise
    return f"moved to {ctx.names.alb}: {result.summary()}; DNS {moved}"


def when_serving(ctx: Context) -> str:
    """The move's deployment was not found (ECS lists it late): wait until the new load balancer
    serves, point the record at it, then wait for the service to be stable."""
    from .. import waiting
    from .service import wait_stable

    waiting.poll(ctx, f"{ctx.names.alb} to serve {ctx.names.stack}", lambda: serving(ctx), ctx.timeouts.service)
    moved = point_record(ctx)
    return f"moved to {ctx.names.alb}: {wait_stable(ctx)}; DNS {moved}"


def finish_traffic(ctx: Context) -> str:
    """MoveStep's record: when the service's deployment did not move it (a run stopped during it,
    or a stack without a service), follow the deployment still under way, or point it now."""
    from .. import deployments as deploy

    move = moving(ctx)
    if move is not None and move.service:
        arn = deploy.ongoing(ctx)
        if arn is not None:
            return follow(ctx, arn)
    return point_record(ctx)


# -- finishing: the old side ---------------------------------------------------------------------
def old_view(ctx: Context, move: Move) -> Context:
    """The stack as it is on the load balancer it leaves: its names there, and only the facts
    that do not depend on the load balancer (network, zone, the stack's certificate)."""
    old = copy.copy(ctx)
    old.names = move.old
    old.facts = Facts.of({k: ctx.facts[k] for k in ("vpc_id", "subnets", "alb_subnets", "zone_id") if k in ctx.facts})
    certs = list(ctx.facts.get("owned_cert_arns", []))
    if ctx.facts.get("cert_arn") and ctx.facts["cert_arn"] not in certs:
        certs.append(ctx.facts["cert_arn"])
    old.facts["owned_cert_arns"] = certs  # the stack's certificate comes off a shared listener it leaves
    return old


def _revoke(ctx: Context, old_group: str) -> str:
    from .network import _permissions

    port = ctx.config.service.container_port
    with doing(f"remove the ingress from {old_group} to the tasks' security group"):
        try:
            ctx.client("ec2").revoke_security_group_ingress(
                GroupId=ctx.facts["sg_tasks"], IpPermissions=_permissions({("tcp", port, port, old_group)})
            )
        except Exception as exc:
            if not is_code(exc, "InvalidPermission.NotFound"):
                raise
    return "removed"


def old_side(ctx: Context, move: Move, destroying: bool) -> list[Action]:
    """What goes once the stack has left (or is destroyed): in the order it can go."""
    from .loadbalancer import LoadBalancerStep
    from .network import SecurityGroupsStep, _rules
    from .shared import SharedLoadBalancerStep, SharedRuleStep, find_shared_group

    old = old_view(ctx, move)
    actions: list[Action] = []
    group: dict[str, Any] | None
    if move.old.shared:
        leave = SharedLoadBalancerStep().plan_destroy(old)  # reads the shared part (facts for the rule's)
        actions += SharedRuleStep().plan_destroy(old)
        actions += LoadBalancerStep().plan_destroy(old)  # the old pair
        group = find_shared_group(old) if old.facts.get("vpc_id") else None
        tail = leave
    else:
        actions += LoadBalancerStep().plan_destroy(old)  # listeners, the old pair, the load balancer
        _say_deletion_protection(old, actions)
        groups = SecurityGroupsStep()._groups(old) if old.facts.get("vpc_id") else {}
        group = groups.get(move.old.sg_alb)
        tail = [a for a in SecurityGroupsStep().plan_destroy(old) if a.name == move.old.sg_alb]
        if move.old.sg_alb == ctx.names.sg_alb:  # own to own (internal changed): one group, kept for the new
            group, tail = None, []
    tasks = ctx.facts.get("sg_tasks")
    if not destroying and group is not None and tasks:
        port = ctx.config.service.container_port
        with doing(f"read security group {tasks}"):
            found = ctx.client("ec2").describe_security_groups(GroupIds=[tasks])["SecurityGroups"]
        if found and ("tcp", port, port, group["GroupId"]) in _rules(found[0]):
            actions.append(
                Action(
                    "update",
                    "security group",
                    ctx.names.sg_tasks,
                    f"ingress from {move.old.sg_alb} ({group['GroupId']}) removed",
                    run=partial(_revoke, ctx, group["GroupId"]),
                )
            )
    return actions + tail


def _say_deletion_protection(old: Context, actions: list[Action]) -> None:
    """The old own load balancer's deletion protection is turned off to delete it (as destroy
    does): the plan says so when it is on (ecsup's own key cannot be, with `shared`)."""
    arn = old.facts.get("alb_arn")
    doomed = [a for a in actions if a.kind == "delete" and a.resource == "load balancer"]
    if not arn or not doomed:
        return
    with doing(f"read the attributes of load balancer {old.names.alb}"):
        attrs = old.client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    if any(a["Key"] == "deletion_protection.enabled" and a["Value"] == "true" for a in attrs):
        doomed[0].detail += ", its deletion protection is on: turned off first"


def _untag(ctx: Context) -> str:
    svc = ctx.facts.get("service_seen") or {}
    arn = svc.get("serviceArn") or (
        f"arn:aws:ecs:{ctx.region}:{ctx.account_id}:service/{ctx.names.cluster}/{ctx.names.service}"
    )
    with doing(f"untag service {ctx.names.service}"):
        ctx.client("ecs").untag_resource(resourceArn=arn, tagKeys=[MOVE_TAG])
    return "the move is done"


def interruption(ctx: Context, move: Move) -> str:
    """What the plan says of the traffic while the stack moves."""
    host = ctx.config.dns.hostname
    if ctx.names.shared:
        head = f"{ctx.names.stack} moves from {move.label} to shared load balancer {ctx.names.shared}"
    else:
        head = f"{ctx.names.stack} moves from {move.label} to its own load balancer {ctx.names.alb}"
    if not ctx.names.shared and not move.old.shared and move.old.internal != ctx.names.internal:
        head += (
            " (an internal one: from then on the service is reachable only inside the VPC and networks connected "
            "to it; a new DNS name, the record switched in one UPSERT)"
            if ctx.names.internal
            else " (internet-facing: a new DNS name, the record switched in one UPSERT)"
        )
    if move.finishing:
        return (
            f"{head}: the service moved already; {host} follows once production traffic is on the new load "
            "balancer (a deployment still under way is followed), then the old side goes"
        )
    if not move.service:
        return f"{head}: no service serves yet, so no traffic is interrupted"
    if not ctx.config.service.deploy.shifts_traffic:
        return (
            f"{head}: TRAFFIC MAY BE INTERRUPTED for up to about 2 minutes: a rolling deployment stops the old "
            f"tasks as soon as the new ones are healthy, while the record's change reaches Route53's servers and "
            f"resolvers that looked up {host} in the last {RECORD_TTL} s still send clients to {move.source} (a "
            "blue/green, linear or canary strategy moves without interruption)"
        )
    return (
        f"{head}: without interruption: a deployment starts the tasks behind the new rule; {host} moves once "
        f"production traffic is on them there, and {move.source} keeps its tasks for the {MOVE_BAKE_MINUTES}+ "
        f"minute bake after that (DNS answers live {RECORD_TTL} s), then is removed"
    )


class MoveStep(Step):
    """The end of a move: the record (when the service's deployment did not move it), the old
    side, and the service's MOVE_TAG."""

    title = "move"
    # not declared: after every step before it (the record, the service's deployment, then the old side)

    def plan(self, ctx: Context) -> list[Action]:
        move = moving(ctx)
        if move is None:
            return []
        ctx.notes.append(interruption(ctx, move))
        actions = []
        current = _current(ctx)
        if current is None or not _points_at(current, ctx.facts.get("alb_dns") or ""):
            when = "once the new load balancer serves" + (" (during the service's deployment)" if move.service else "")
            actions.append(
                Action(
                    "update",
                    "DNS record",
                    ctx.config.dns.hostname,
                    f"to {ctx.names.alb}, {when}",
                    run=lambda: finish_traffic(ctx),
                )
            )
        actions += old_side(ctx, move, destroying=False)
        # the service has the tag from its UpdateService, or from its CreateService (no service before)
        actions.append(
            Action("update", "ECS service", ctx.names.service, f"tag {MOVE_TAG} removed", run=lambda: _untag(ctx))
        )
        return actions

    def plan_destroy(self, ctx: Context) -> list[Action]:
        move = moving(ctx)
        return [] if move is None else old_side(ctx, move, destroying=True)
