"""`ecsup exec` (issue 17): ECS Exec into a running task of the service, or a port-forwarding
session through it, handed to AWS's session-manager-plugin the way the AWS CLI does. The
emulation (ecsup/emulation/tasks.py) answers ExecuteCommand and SSM StartSession; a stand-in
plugin on PATH records what it was handed."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import client, config_text, explain, invoke

from ecsup import engine
from ecsup.errors import EXIT_NO_PLUGIN

EXEC_ON = config_text(replace={'health_check_path = "/health"': 'health_check_path = "/health"\nexec = true'})


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in session-manager-plugin on PATH: `--version` prints $PLUGIN_VERSION (default a
    plugin that reads the session from the environment); otherwise it writes its arguments and
    AWS_SSM_START_SESSION_RESPONSE to a file and exits with $PLUGIN_EXIT."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    out = tmp_path / "plugin-args.json"
    script = bindir / "session-manager-plugin"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "if sys.argv[1:] == ['--version']:\n"
        "    print(os.environ.get('PLUGIN_VERSION', '1.2.707.0'))\n"
        "    sys.exit(0)\n"
        "env = os.environ.get('AWS_SSM_START_SESSION_RESPONSE')\n"
        f"json.dump({{'argv': sys.argv[1:], 'env': env}}, open({str(out)!r}, 'w'))\n"
        "sys.exit(int(os.environ.get('PLUGIN_EXIT', '0')))\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return out


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ecsup.toml"
    path.write_text(text)
    return str(path)


def running_task() -> dict[str, Any]:
    ecs = client("ecs")
    arns = ecs.list_tasks(cluster="web-dev", serviceName="web-dev")["taskArns"]
    return dict(ecs.describe_tasks(cluster="web-dev", tasks=arns)["tasks"][0])


def test_exec_takes_a_new_deployment_then_hands_the_plugin_a_session(aws, make_ctx, tmp_path, plugin, monkeypatch):
    engine.create(make_ctx())  # exec off
    path = write(tmp_path, EXEC_ON)
    result = invoke("exec", "-c", path)
    assert result.exit_code == 2, explain(result)
    assert "was started without ECS Exec" in result.stderr and "ecsup create" in result.stderr
    # plan: the service needs a new deployment, the task role the ssmmessages permissions
    result = invoke("plan", "-c", path)
    assert "ECS Exec (new deployment)" in result.stdout and "exec policy" in result.stdout
    engine.create(make_ctx(EXEC_ON))
    svc = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    assert svc["enableExecuteCommand"] is True
    policy = client("iam").get_role_policy(RoleName="web-dev-task", PolicyName="ecsup-exec")["PolicyDocument"]
    assert sorted(policy["Statement"][0]["Action"]) == [
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    ]
    # a shell in a running task of the live revision
    seen: list[dict[str, Any]] = []
    aws.injectors.append(lambda svc, op, params: seen.append(dict(params)) if op == "ExecuteCommand" else None)
    result = invoke("exec", "-c", path)
    assert result.exit_code == 0, explain(result)
    task = running_task()
    assert task["taskDefinitionArn"] == svc["taskDefinition"]
    task_id = task["taskArn"].split("/")[-1]
    runtime = next(c["runtimeId"] for c in task["containers"] if c["name"] == "web")
    handed = json.loads(plugin.read_text())
    args = handed["argv"]
    # the session (and its token) in the environment, its variable's name in argv, as the AWS CLI does
    assert args[0] == "AWS_SSM_START_SESSION_RESPONSE"
    session = json.loads(handed["env"])
    assert set(session) == {"sessionId", "streamUrl", "tokenValue"}
    assert session["tokenValue"] not in json.dumps(args)
    assert args[1:4] == ["eu-west-1", "StartSession", ""]
    assert json.loads(args[4]) == {"Target": f"ecs:web-dev_{task_id}_{runtime}"}
    assert args[5].startswith("https://ecs.eu-west-1.amazonaws.com")
    assert seen[-1]["command"] == "/bin/sh" and seen[-1]["interactive"] is True and seen[-1]["container"] == "web"
    # a command in a given task; the plugin's exit code is ecsup's; an old plugin gets the JSON itself
    monkeypatch.setenv("PLUGIN_EXIT", "3")
    monkeypatch.setenv("PLUGIN_VERSION", "1.2.497.0")
    result = invoke("exec", "-c", path, "--task", task_id, "--", "ls", "-l", "/app")
    assert result.exit_code == 3, explain(result)
    assert seen[-1]["command"] == "ls -l /app" and seen[-1]["task"].endswith(task_id)
    handed = json.loads(plugin.read_text())
    assert handed["env"] is None and set(json.loads(handed["argv"][0])) == {"sessionId", "streamUrl", "tokenValue"}
    monkeypatch.setenv("PLUGIN_EXIT", "0")
    monkeypatch.delenv("PLUGIN_VERSION")
    # a tunnel: SSM StartSession with the remote-host port-forwarding document, on the same target
    result = invoke("exec", "-c", path, "--forward", "5432:db.internal:5432")
    assert result.exit_code == 0, explain(result)
    handed = json.loads(plugin.read_text())
    args = handed["argv"]
    assert args[0] == "AWS_SSM_START_SESSION_RESPONSE"
    assert set(json.loads(handed["env"])) == {"SessionId", "TokenValue", "StreamUrl"}
    assert json.loads(args[4]) == {
        "Target": f"ecs:web-dev_{task_id}_{runtime}",
        "DocumentName": "AWS-StartPortForwardingSessionToRemoteHost",
        "Parameters": {"host": ["db.internal"], "portNumber": ["5432"], "localPortNumber": ["5432"]},
    }
    assert args[5].startswith("https://ssm.eu-west-1.amazonaws.com")
    for bad in ("5432:db", "99999:db:5432", "x:db:1"):
        result = invoke("exec", "-c", path, "--forward", bad)
        assert result.exit_code == 2 and "--forward" in result.stderr, explain(result)


def test_exec_without_the_plugin_or_the_key_changes_nothing(aws, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no session-manager-plugin here
    result = invoke("exec", "-c", write(tmp_path, EXEC_ON))
    assert result.exit_code == EXIT_NO_PLUGIN, explain(result)
    assert "session-manager-plugin" in result.stderr and "docs.aws.amazon.com" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = invoke("exec", "-c", write(tmp_path, config_text()))
    assert result.exit_code == 2, explain(result)
    # a valid file with a feature off: not "invalid configuration", but how to turn it on
    assert "invalid configuration" not in result.stderr, explain(result)
    first, hint = result.stderr.strip().splitlines()
    assert first == "error: ECS Exec is not turned on for this service: ecsup exec needs `exec = true` under [service]"
    assert "`exec = true` under [service]" in hint and "`ecsup create`" in hint
    assert aws.calls == []  # not one AWS call, let alone a mutating one


def test_exec_into_a_task_that_is_not_running_says_so(aws, make_ctx, tmp_path, plugin):
    from ecsup.run import run

    engine.create(make_ctx(EXEC_ON))
    done = run(make_ctx(EXEC_ON), ["sh", "-c", "exit 0"])
    aws.reset()
    result = invoke("exec", "-c", write(tmp_path, EXEC_ON), "--task", done.task_id)
    assert result.exit_code == 6, explain(result)
    assert "STOPPED, not RUNNING" in result.stderr
    assert aws.mutating() == [] and not plugin.exists()
