"""How the tasks of ecsup's own network reach the internet and AWS ([network] egress).

A stand-in with the "public" layout only (the tasks in the public subnets, each with a public
IPv4): the interface steps/vpc.py calls. The full module (private subnets, NAT gateway, egress-only
internet gateway, VPC endpoints) replaces it."""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..plan import Action


def plan_egress(ctx: Context, vpc: dict[str, Any] | None, public_subnets: list[dict[str, Any]]) -> list[Action]:
    """What is missing for the tasks' egress ("public": nothing beyond the public subnets)."""
    return []


def ensure_egress(ctx: Context, vpc_id: str, public_subnets: list[dict[str, Any]]) -> list[str]:
    """Make what is missing and return the tasks' subnet ids ("public": the public subnets)."""
    return [s["SubnetId"] for s in public_subnets]


def plan_delete_egress(ctx: Context, vpc_id: str) -> list[Action]:
    return []


def delete_egress(ctx: Context, vpc_id: str) -> None:
    """Everything egress made in the VPC, in AWS's order ("public": nothing)."""
