"""CloudWatch Logs: only the retention periods CloudWatch accepts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import LOG_RETENTION_DAYS
from . import (
    AwsFault,
    Emulation,
)


# -- CloudWatch Logs ---------------------------------------------------------------------------
def retention_must_be_a_value_cloudwatch_accepts(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    days = resp._get_param("retentionInDays")
    if days not in LOG_RETENTION_DAYS:
        raise AwsFault(
            "InvalidParameterException",
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
            "Member must satisfy enum value set: [" + ", ".join(map(str, LOG_RETENTION_DAYS)) + "]",
        )
    return proceed()


def install(around: Callable[..., None]) -> None:
    from moto.logs.responses import LogsResponse as LOGS

    around(LOGS, "put_retention_policy", retention_must_be_a_value_cloudwatch_accepts)
