"""ECS's deployment controller (blue/green, linear, canary, rolling), which moto lacks.

Filled in by the emulation of ECS service deployments; see install()."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def install(around: Callable[..., None]) -> None:
    """Register this module's hooks with the emulation's ``_around``."""
