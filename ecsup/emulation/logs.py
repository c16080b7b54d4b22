"""CloudWatch Logs: only the retention periods CloudWatch accepts; GetLogEvents pages that are
empty while events remain; FilterLogEvents' logStreamNamePrefix."""

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


# GetLogEvents (CloudWatch Logs API reference): "A returned page might only be partially full, or
# even empty. ... Partially full or empty pages don't necessarily mean that pagination is
# finished. As long as the nextBackwardToken or nextForwardToken returned is NOT equal to the
# nextToken that you passed into the API call, there might be more log events available." and
# "If you have reached the end of the stream, it returns the same token you passed in."
# Emulated strictly: a forward read that would return events first answers an empty page with a
# new forward token for the same position; the events come with that token. A reader that stops
# at an empty page instead of at an unchanged token loses whatever was left (moto's own tokens are
# "f/" and 56 digits; the new token is the same position unpadded, which moto reads alike).
_MOTO_TOKEN_LENGTH = 58


def pages_can_be_empty_while_events_remain(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    import json

    token = resp._get_param("nextToken")
    forward = token.startswith("f/") if token else bool(resp._get_param("startFromHead"))
    answer = proceed()
    if not forward or resp._get_param("startTime") is not None or resp._get_param("endTime") is not None:
        return answer
    if token is not None and len(token) != _MOTO_TOKEN_LENGTH:
        return answer  # the token of an empty page: the events it held back
    page = json.loads(answer) if isinstance(answer, str | bytes) else None
    if not page or not page.get("events"):
        return answer
    position = int(token[2:]) if token else -1  # moto: the index of the last event already read
    return json.dumps({"events": [], "nextBackwardToken": f"b/{position + 1}", "nextForwardToken": f"f/{position}"})


# FilterLogEvents (CloudWatch Logs API reference): "logStreamNamePrefix: Filters the results to
# include only events from log streams that have names starting with this prefix. If you specify a
# value for both logStreamNamePrefix and logStreamNames, the action returns an
# InvalidParameterException error." moto ignores the prefix and returns every stream's events.
def filter_by_stream_name_prefix(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    import json

    prefix = resp._get_param("logStreamNamePrefix")
    if prefix and resp._get_param("logStreamNames"):
        raise AwsFault(
            "InvalidParameterException", "logStreamNames and logStreamNamePrefix cannot be specified together"
        )
    answer = proceed()
    if not prefix:
        return answer
    page = json.loads(answer)
    page["events"] = [e for e in page.get("events", []) if str(e.get("logStreamName", "")).startswith(prefix)]
    page["searchedLogStreams"] = [
        s for s in page.get("searchedLogStreams", []) if str(s.get("logStreamName", "")).startswith(prefix)
    ]
    return json.dumps(page)


def install(around: Callable[..., None]) -> None:
    from moto.logs.responses import LogsResponse as LOGS

    around(LOGS, "put_retention_policy", retention_must_be_a_value_cloudwatch_accepts)
    around(LOGS, "get_log_events", pages_can_be_empty_while_events_remain)
    around(LOGS, "filter_log_events", filter_by_stream_name_prefix)
