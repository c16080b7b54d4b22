"""CloudWatch Logs: the log group /ecs/<app>-<env> and its retention."""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..errors import doing, is_code
from ..plan import Action, Change
from . import Step, check_owner, service_ref


def find_log_group(ctx: Context) -> dict[str, Any] | None:
    name = ctx.names.log_group
    with doing(f"look up log group {name}"):
        for page in ctx.client("logs").get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name):
            for group in page["logGroups"]:
                if group["logGroupName"] == name:
                    return dict(group)
    return None


def group_tags(ctx: Context, group: dict[str, Any]) -> dict[str, str]:
    arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
    with doing(f"read tags of log group {group['logGroupName']}"):
        return dict(ctx.client("logs").list_tags_for_resource(resourceArn=arn).get("tags", {}))


class LogsStep(Step):
    title = "log group"
    reads = ("purge",)
    provides = ("log_group",)  # the tasks' logs go there: it exists before they start

    def plan(self, ctx: Context) -> list[Action]:
        name = ctx.names.log_group
        days = ctx.config.service.log_retention_days
        group = find_log_group(ctx)
        if group is None:
            return [Action("create", "log group", name, f"retention {days} days", run=lambda: self._create(ctx))]
        if not check_owner(ctx, "log group", name, group_tags(ctx, group)):
            return []
        have = group.get("retentionInDays")
        changes = []
        if have != days:
            changes.append(Change("retention (days)", str(have or "never expire"), str(days)))
        key, have_key = ctx.config.service.log_kms_key, group.get("kmsKeyId") or ""
        if key != have_key:
            changes.append(Change("KMS key", have_key or "none (CloudWatch's own)", key or "none (CloudWatch's own)"))
        if changes:
            return [Action("update", "log group", name, "", changes, run=lambda: self._converge(ctx, have_key))]
        return [Action("noop", "log group", name, f"retention {days} days" + (f", KMS key {key}" if key else ""))]

    def _converge(self, ctx: Context, have_key: str) -> str:
        done = self._retention(ctx)
        key, logs = ctx.config.service.log_kms_key, ctx.client("logs")
        if key != have_key:
            # AssociateKmsKey: the key's policy must allow logs.<region>.amazonaws.com (docs/configuration.md)
            with doing(f"set the KMS key of log group {ctx.names.log_group}"):
                if key:
                    logs.associate_kms_key(logGroupName=ctx.names.log_group, kmsKeyId=key)
                else:
                    logs.disassociate_kms_key(logGroupName=ctx.names.log_group)
            done += f", KMS key {key or 'none'}"
        return done

    def _create(self, ctx: Context) -> str:
        with doing(f"create log group {ctx.names.log_group}"):
            try:
                kwargs = {"kmsKeyId": ctx.config.service.log_kms_key} if ctx.config.service.log_kms_key else {}
                ctx.client("logs").create_log_group(logGroupName=ctx.names.log_group, tags=ctx.names.tags(), **kwargs)
            except Exception as exc:
                if not is_code(exc, "ResourceAlreadyExistsException"):
                    raise
        return self._retention(ctx)

    def _retention(self, ctx: Context) -> str:
        days = ctx.config.service.log_retention_days
        with doing(f"set retention of log group {ctx.names.log_group}"):
            ctx.client("logs").put_retention_policy(logGroupName=ctx.names.log_group, retentionInDays=days)
        return f"retention {days} days"

    def plan_destroy(self, ctx: Context) -> list[Action]:
        from .workloads import worker_service_refs

        group = find_log_group(ctx)
        name = ctx.names.log_group
        if group is None:
            return []
        if not ctx.facts.get("purge"):
            return [Action("keep", "log group", name, "holds logs (use --purge to delete)")]
        if not ctx.names.owns(group_tags(ctx, group)):
            return [Action("keep", "log group", name, "not created by ecsup: left alone")]
        return [
            Action(
                "delete",
                "log group",
                name,
                "--purge",
                run=lambda: self._delete(ctx),
                after=(service_ref(ctx), *worker_service_refs(ctx)),  # every workload logs to it
            )
        ]

    def _delete(self, ctx: Context) -> str:
        with doing(f"delete log group {ctx.names.log_group}"):
            try:
                ctx.client("logs").delete_log_group(logGroupName=ctx.names.log_group)
            except Exception as exc:
                if is_code(exc, "ResourceNotFoundException"):
                    return "already gone"
                raise
        return "deleted"
