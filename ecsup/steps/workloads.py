"""The task definition of a worker or a job: one function every workload step builds it with.

Owned by the workers branch (its version replaces this one when the branches are merged); this is
the minimal version the jobs are written against, with exactly its signature.
"""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..workloads import Workload


def workload_task_definition(ctx: Context, workload: Workload, image: str) -> dict[str, Any]:
    """RegisterTaskDefinition's arguments (tags aside) for a worker's or a job's family
    ``Names.workload(name)``: the stack's roles and log group (stream prefix: the workload's
    name), one container named after the workload with ``image``, its command, its environment
    and secrets (already merged with [service]'s), its size and architecture.

    The workers branch owns this function; this version is the one the jobs are written against
    until it lands."""
    from .ecs import AWSLOGS_BUFFER
    from .secrets import parameter_arn

    container: dict[str, Any] = {
        "name": workload.name,
        "image": image,
        "essential": True,
        "environment": [{"name": k, "value": v} for k, v in workload.environment],
        "secrets": [{"name": var, "valueFrom": parameter_arn(ctx, name)} for var, name in workload.secrets],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": ctx.names.log_group,
                "awslogs-region": ctx.region,
                "awslogs-stream-prefix": workload.name,
                "mode": "non-blocking",
                "max-buffer-size": AWSLOGS_BUFFER,
            },
        },
    }
    if workload.command:
        container["command"] = list(workload.command)
    stop_timeout = getattr(workload, "stop_timeout", None)
    if stop_timeout is not None:
        container["stopTimeout"] = stop_timeout
    return {
        "family": ctx.names.workload(workload.name),
        "taskRoleArn": ctx.facts["task_role_arn"],
        "executionRoleArn": ctx.facts["execution_role_arn"],
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(workload.cpu),
        "memory": str(workload.memory),
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": workload.cpu_architecture},
        "containerDefinitions": [container],
    }
