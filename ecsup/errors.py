"""One exception hierarchy for every expected failure.

Each class carries the process exit code the CLI uses and an optional hint (the
"what to do next" line). Only ``cli.py`` turns these into output; library code
raises them. An exception that is not an ``EcsupError`` is a bug and shows a
traceback.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# Documented in docs/exit-codes.md; keep both in step.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_AWS = 3
EXIT_CONFLICT = 4
EXIT_TIMEOUT = 5
EXIT_UNHEALTHY = 6
EXIT_REFUSED = 7
EXIT_LOCKED = 8
EXIT_ROLLED_BACK = 9
EXIT_BEFORE_FAILED = 10  # the [service.deploy] before task failed: the release was not started
EXIT_NO_PLUGIN = 11  # `exec`: AWS's session-manager-plugin is not installed
EXIT_BUILD = 12  # [service] build / deploy --build: Docker is missing, or the build or the push failed
EXIT_TASK_NOT_RUN = 125  # `run`: the task did not start or stopped without an exit code (docker run's 125)
EXIT_INTERRUPTED = 130


class EcsupError(Exception):
    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, `kill`): handled as Ctrl-C is (cli.py), exit 130."""


class ConfigError(EcsupError):
    """The configuration (or a value it needs) is wrong: nothing was changed."""

    exit_code = EXIT_CONFIG

    def __init__(self, problems: Sequence[tuple[str, str]], hint: str | None = None) -> None:
        self.problems = list(problems)
        lines = [f"{key}: {msg}" if key else msg for key, msg in self.problems]
        super().__init__("; ".join(lines), hint)
        self.lines = lines


class ConfigMissing(EcsupError):
    """The configuration file does not exist: nothing was changed."""

    exit_code = EXIT_CONFIG


class OptionError(EcsupError):
    """A command-line option is missing or malformed: nothing was changed."""

    exit_code = EXIT_CONFIG


class AwsError(EcsupError):
    """AWS refused a call, or could not be reached."""

    exit_code = EXIT_AWS

    def __init__(self, message: str, code: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.code = code


class OwnershipConflict(EcsupError):
    """A resource with an ecsup name exists but is not ecsup's for this app/env."""

    exit_code = EXIT_CONFLICT


class WaitTimeout(EcsupError):
    exit_code = EXIT_TIMEOUT


class Refused(EcsupError):
    """The user did not confirm (or could not be asked)."""

    exit_code = EXIT_REFUSED


class BuildFailed(EcsupError):
    """Docker is not on PATH, or `docker build` / `docker push` / the registry login failed."""

    exit_code = EXIT_BUILD


class Unhealthy(EcsupError):
    """``status`` found the stack missing pieces or unhealthy."""

    exit_code = EXIT_UNHEALTHY


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (or of an AwsError made from one), else None."""
    if isinstance(exc, AwsError):
        return exc.code
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def is_code(exc: BaseException, *codes: str) -> bool:
    return error_code(exc) in codes


_CREDENTIAL_HINT = (
    "configure credentials: `aws configure`, `aws sso login --profile NAME` with --profile NAME, "
    "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
)
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "AuthFailure",
}


def translate(exc: BaseException, doing: str) -> EcsupError | None:
    """Turn a botocore exception into an expected error saying what was being done."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return AwsError(f"{doing}: no AWS credentials found", "NoCredentials", _CREDENTIAL_HINT)
    if isinstance(exc, bx.TokenRetrievalError | bx.SSOTokenLoadError):
        return AwsError(
            f"{doing}: the SSO token is missing or expired",
            "ExpiredToken",
            "run `aws sso login` for this profile, then retry",
        )
    if isinstance(exc, bx.NoRegionError):
        return AwsError(
            f"{doing}: no AWS region configured",
            "NoRegion",
            "set `region` in ecsup.toml, pass --region, or export AWS_REGION",
        )
    if isinstance(exc, bx.ProfileNotFound):
        return AwsError(str(exc), "ProfileNotFound", "check --profile / AWS_PROFILE against ~/.aws/config")
    if isinstance(
        exc, bx.EndpointConnectionError | bx.ConnectionClosedError | bx.ReadTimeoutError | bx.ConnectTimeoutError
    ):
        return AwsError(
            f"{doing}: cannot reach AWS ({exc})",
            "EndpointConnectionError",
            "check the network, the region and --endpoint-url; re-running `ecsup create` resumes",
        )
    if isinstance(exc, bx.ClientError):
        code = error_code(exc) or "Unknown"
        message = exc.response.get("Error", {}).get("Message", "")
        hint = None
        if code in _EXPIRED:
            hint = "the credentials have expired: " + _CREDENTIAL_HINT
        elif code in _DENIED:
            import re

            # AWS names the IAM action in the message ("... is not authorized to perform: iam:CreateRole ...")
            found = re.search(r"perform: ([\w-]+:[\w*]+)", message)
            action = found.group(1) if found else getattr(exc, "operation_name", "the operation")
            hint = f"the credentials in use may not perform {action}: grant it in IAM, or use another profile"
        elif "LimitExceeded" in code or "Quota" in code or code.startswith("TooMany"):
            hint = "an account quota was reached: raise it in Service Quotas or free some resources"
        else:
            hint = "re-running the command resumes where it stopped"
        return AwsError(f"{doing}: {code}: {message}".rstrip(": "), code, hint)
    return None


@contextmanager
def doing(what: str) -> Iterator[None]:
    """Run a block of AWS calls; an AWS failure becomes an AwsError naming ``what``."""
    try:
        yield
    except EcsupError:
        raise
    except Exception as exc:
        translated = translate(exc, what)
        if translated is None:
            raise
        raise translated from exc
