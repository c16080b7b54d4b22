"""Releases of every workload (release.py): `ecsup deploy --image` releases the web service with the
workers and jobs that follow its image, `rollback` takes them all back, `restart` restarts the
workers too, `scale --workload` scales a worker. On the strict layer (ECS's deployments emulated),
on the fake clock.

The workers' services and the jobs' state machines are made by `create` from ecsup.toml, as a user
makes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import BASE_CONFIG, Recorder, client, config_text, explain, fail_first, invoke

from ecsup import deploy, engine
from ecsup.context import SilentUI
from ecsup.errors import EXIT_CONFIG, EXIT_LOCKED, EXIT_ROLLED_BACK, EXIT_UNHEALTHY, EcsupError
from ecsup.lock import LockHeld
from ecsup.release import RECORD_TAG

IMAGE_1 = "public.ecr.aws/nginx/nginx:stable"
IMAGE_2 = "public.ecr.aws/nginx/nginx:1.27"
IMAGE_3 = "public.ecr.aws/nginx/nginx:1.28"
OWN_IMAGE = "public.ecr.aws/example/reports:7"

WORKLOADS = """
[workers.mailer]
command = ["bundle", "exec", "sidekiq"]

[workers.reports]
image = "public.ecr.aws/example/reports:7"
command = ["reports"]

[jobs.nightly]
schedule = "cron(0 3 * * ? *)"
command = ["python", "manage.py", "cleanup"]
"""
TEXT = config_text(WORKLOADS)


# -- a revision of a workload's family made by hand (not a release's) ---------------------------------
def _task_definition(name: str, image: str, command: list[str]) -> str:
    ecs = client("ecs")
    web = ecs.describe_task_definition(taskDefinition="web-dev")["taskDefinition"]
    container = {
        "name": name,
        "image": image,
        "command": command,
        "essential": True,
        "environment": [{"name": "APP_ENV", "value": "dev"}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": "/ecs/web-dev", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": name},
        },
    }
    return str(
        ecs.register_task_definition(
            family=f"web-dev-{name}",
            taskRoleArn=web["taskRoleArn"],
            executionRoleArn=web["executionRoleArn"],
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="1024",
            containerDefinitions=[container],
            tags=[{"key": "ecsup:app", "value": "web"}, {"key": "ecsup:env", "value": "dev"}],
        )["taskDefinition"]["taskDefinitionArn"]
    )


@pytest.fixture
def workloads(aws: Recorder, make_ctx: Any) -> Recorder:
    """The stack with worker mailer (the service's image), worker reports (its own image) and job
    nightly (the service's image), all on their first revision, made by `create`."""
    engine.create(make_ctx(TEXT))
    assert runs("web-dev-mailer") == ("web-dev-mailer:1", IMAGE_1, ["bundle", "exec", "sidekiq"])
    assert runs("web-dev-reports") == ("web-dev-reports:1", OWN_IMAGE, ["reports"])
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)
    aws.reset()
    return aws


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ecsup.toml"
    path.write_text(TEXT)
    return path


# -- reading back ------------------------------------------------------------------------------------
def runs(service: str) -> tuple[str, str, list[str]]:
    """(family:revision, image, command) the service runs."""
    ecs = client("ecs")
    svc = ecs.describe_services(cluster="web-dev", services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    container = td["containerDefinitions"][0]
    return svc["taskDefinition"].split("/")[-1], container["image"], container.get("command", [])


def job_runs(name: str = "nightly") -> tuple[str, str]:
    """(family:revision, image) the job's state machine runs."""
    arn = f"arn:aws:states:eu-west-1:123456789012:stateMachine:web-dev-{name}"
    definition = json.loads(client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"])
    td_arn = definition["States"]["Run"]["Parameters"]["TaskDefinition"]
    td = client("ecs").describe_task_definition(taskDefinition=td_arn)["taskDefinition"]
    return td_arn.split("/")[-1], td["containerDefinitions"][0]["image"]


def deployments_of(service: str) -> list[dict[str, Any]]:
    return list(client("ecs").list_service_deployments(cluster="web-dev", service=service)["serviceDeployments"])


class States(SilentUI):
    def __init__(self) -> None:
        self.states: list[Any] = []

    def deploy_progress(self, state: Any) -> None:
        self.states.append(state)


def fail_tasks_of(monkeypatch: pytest.MonkeyPatch, service: str) -> None:
    """The tasks of IMAGE_2 never become healthy in ``service`` alone (in the others they do): the
    emulation's revision of that deployment fails as an unhealthy image's does."""
    from ecsup.emulation import deployments as emulated

    real = emulated._make_revision

    def make(ecs: Any, svc: Any, when: Any, legacy: Any) -> Any:
        rev = real(ecs, svc, when, legacy)
        images = [i.get("image") for i in rev.body.get("containerImages") or []]
        if svc.name == service and IMAGE_2 in images:
            rev.healthy, rev.failure = False, "health"
        return rev

    monkeypatch.setattr(emulated, "_make_revision", make)


@pytest.fixture
def failing_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    fail_tasks_of(monkeypatch, "web-dev-mailer")


# -- deploy ------------------------------------------------------------------------------------------
def test_a_release_moves_the_web_service_the_worker_and_then_the_job(workloads, make_ctx):
    ui = States()
    result = deploy.deploy(make_ctx(TEXT, ui=ui), IMAGE_2)

    assert result.status == "SUCCESSFUL"
    assert runs("web-dev")[:2] == ("web-dev:2", IMAGE_2)
    # the worker: its own revision, the new image, its own command kept
    assert runs("web-dev-mailer") == ("web-dev-mailer:2", IMAGE_2, ["bundle", "exec", "sidekiq"])
    assert deployments_of("web-dev-mailer")[0]["status"] == "SUCCESSFUL"
    assert job_runs() == ("web-dev-nightly:2", IMAGE_2)
    # a worker with its own image is not released by deploy --image
    assert runs("web-dev-reports") == ("web-dev-reports:1", OWN_IMAGE, ["reports"])
    assert len(deployments_of("web-dev-reports")) == 1
    # the web revision records the revisions released with it
    tags = client("ecs").describe_task_definition(taskDefinition="web-dev:2", include=["TAGS"])["tags"]
    record = {t["key"]: t["value"] for t in tags if t["key"].startswith(RECORD_TAG)}
    assert record == {RECORD_TAG + "mailer": "web-dev-mailer:2", RECORD_TAG + "nightly": "web-dev-nightly:2"}
    # one view: the worker's deployment was watched beside the web service's
    assert {s.workload for s in ui.states} == {"", "mailer"}
    assert [s for s in ui.states if s.workload == "mailer"][-1].status == "SUCCESSFUL"
    assert result.workloads["mailer"]["revision_after"] == "web-dev-mailer:2"
    assert result.workloads["nightly"]["status"] == "POINTED"


def test_the_job_moves_only_once_the_release_has_succeeded(workloads, make_ctx):
    started = deploy.deploy(make_ctx(TEXT), IMAGE_2, wait=False)
    assert "ecsup deploy --watch" in started.message and "nightly" in started.message
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)  # the release has not succeeded yet
    attached = deploy.attach(make_ctx(TEXT))
    assert attached.status == "SUCCESSFUL"
    assert job_runs() == ("web-dev-nightly:2", IMAGE_2)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:2", IMAGE_2)


def test_a_failing_worker_fails_the_release_and_rolls_back_the_web_service(
    workloads, config_file, failing_worker, plain_output
):
    result = invoke("deploy", "-c", str(config_file), "--image", IMAGE_2)

    assert result.exit_code == EXIT_ROLLED_BACK, explain(result)
    assert "worker mailer failed" in result.stderr and "Traceback" not in result.output
    assert "worker mailer:" in result.stdout  # its lines in the view
    # everything is back on the previous release; the job never moved
    assert runs("web-dev")[:2] == ("web-dev:1", IMAGE_1)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:1", IMAGE_1)
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)
    web = client("ecs").list_service_deployments(cluster="web-dev", service="web-dev")["serviceDeployments"]
    assert sorted(d["status"] for d in web) == ["ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]


def test_a_failing_web_service_rolls_back_the_worker(workloads, make_ctx, monkeypatch):
    fail_tasks_of(monkeypatch, "web-dev")
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(TEXT), IMAGE_2)
    assert err.value.exit_code == EXIT_ROLLED_BACK
    assert "web service's deployment failed" in err.value.message
    assert runs("web-dev")[:2] == ("web-dev:1", IMAGE_1)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:1", IMAGE_1)
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)


def test_a_worker_not_made_yet_refuses_the_release_before_any_change(aws, make_ctx):
    # the stack was created before [workers.mailer] was added to ecsup.toml (no `create` since)
    without_mailer = TEXT.replace('[workers.mailer]\ncommand = ["bundle", "exec", "sidekiq"]\n', "")
    assert "mailer" not in without_mailer
    engine.create(make_ctx(without_mailer))
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)
    aws.reset()
    with pytest.raises(deploy.StackMissing) as err:
        deploy.deploy(make_ctx(TEXT), IMAGE_2)
    assert err.value.exit_code == EXIT_UNHEALTHY and "worker mailer" in err.value.message
    assert aws.writes() == []


# -- rollback ----------------------------------------------------------------------------------------
def test_rollback_takes_every_workload_back_to_the_release_before(workloads, make_ctx):
    deploy.deploy(make_ctx(TEXT), IMAGE_2)
    # a revision of each family that belongs to no release (another tool's, or a hand's): the
    # rollback goes to the release's, not to the family's revision before the current one
    _task_definition("mailer", IMAGE_1, ["stray"])
    _task_definition("nightly", IMAGE_1, ["stray"])
    deploy.deploy(make_ctx(TEXT), IMAGE_3)
    assert job_runs() == ("web-dev-nightly:4", IMAGE_3)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:4", IMAGE_3)

    result = deploy.rollback(make_ctx(TEXT))  # to the release of IMAGE_2: its record names the revisions

    assert result.status == "SUCCESSFUL", result.message
    assert runs("web-dev")[:2] == ("web-dev:2", IMAGE_2)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:2", IMAGE_2)
    assert job_runs() == ("web-dev-nightly:2", IMAGE_2)
    assert runs("web-dev-reports")[0] == "web-dev-reports:1"  # not released, not rolled back
    assert "worker mailer as web-dev-mailer:2" in result.message


def test_rollback_of_the_first_release_goes_back_to_what_create_made(workloads, make_ctx):
    deploy.deploy(make_ctx(TEXT), IMAGE_2)
    deploy.rollback(make_ctx(TEXT))  # web-dev:1 has no record: each family's revision before the release's
    assert runs("web-dev")[:2] == ("web-dev:1", IMAGE_1)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:1", IMAGE_1)
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)


def test_rollback_of_a_release_in_progress_stops_the_worker_too(workloads, make_ctx):
    deploy.deploy(make_ctx(TEXT), IMAGE_2, wait=False)
    result = deploy.rollback(make_ctx(TEXT))
    assert result.status == "ROLLBACK_SUCCESSFUL"
    assert runs("web-dev")[:2] == ("web-dev:1", IMAGE_1)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:1", IMAGE_1)
    assert sorted(d["status"] for d in deployments_of("web-dev-mailer")) == ["ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)


# -- restart and scale ---------------------------------------------------------------------------------
def test_restart_restarts_every_worker(workloads, make_ctx):
    result = deploy.restart(make_ctx(TEXT))
    assert result.status == "SUCCESSFUL"
    for worker in ("web-dev-mailer", "web-dev-reports"):
        found = deployments_of(worker)
        assert len(found) == 2 and all(d["status"] == "SUCCESSFUL" for d in found), worker
    assert runs("web-dev-mailer")[0] == "web-dev-mailer:1"  # the same revision, new tasks


def test_scale_workload_scales_the_worker_only(workloads, config_file):
    result = invoke("scale", "-c", str(config_file), "--workload", "mailer", "--count", "3")
    assert result.exit_code == 0, explain(result)
    assert "worker mailer desired count 1 -> 3" in result.stdout
    ecs = client("ecs")
    assert ecs.describe_services(cluster="web-dev", services=["web-dev-mailer"])["services"][0]["desiredCount"] == 3
    assert ecs.describe_services(cluster="web-dev", services=["web-dev"])["services"][0]["desiredCount"] == 1


@pytest.mark.parametrize("name, said", [("nope", "no such worker"), ("nightly", "a job runs on its schedule")])
def test_scale_of_an_unknown_workload_exits_2(workloads, config_file, name, said):
    result = invoke("scale", "-c", str(config_file), "--workload", name, "--count", "3")
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert said in result.stderr and "mailer" in result.stderr
    assert workloads.writes() == []


def test_the_default_config_still_deploys_alone(stack, make_ctx):
    result = deploy.deploy(make_ctx(BASE_CONFIG), IMAGE_2)
    assert result.status == "SUCCESSFUL" and result.workloads == {}


def test_a_release_and_its_rollback_need_only_what_the_ci_policy_allows(workloads, make_ctx):
    from ecsup import policies

    deploy.deploy(make_ctx(TEXT), IMAGE_2)
    deploy.rollback(make_ctx(TEXT))
    calls = set(workloads.calls)
    assert {("stepfunctions", "UpdateStateMachine"), ("ecs", "ListTaskDefinitions")} <= calls
    ci = policies.ci_deploy_policy()
    missing = {
        action
        for service, operation in calls
        for action in policies.iam_actions(service, operation)
        if not policies.allows(ci, action)
    }
    assert missing == set()


def test_cli_deploy_shows_a_line_per_workload(workloads, config_file, plain_output):
    result = invoke("deploy", "-c", str(config_file), "--image", IMAGE_2)
    assert result.exit_code == 0, explain(result)
    out = result.stdout
    assert "with worker mailer as web-dev-mailer:2, job nightly as web-dev-nightly:2" in out
    assert "worker mailer: SUCCESSFUL" in out  # the worker's own progress lines
    assert "traffic web-dev-blue 100% / web-dev-green 0%" in out  # the web service's, as before
    assert "worker mailer: web-dev-mailer:2 (SUCCESSFUL)" in out
    assert "job nightly: web-dev-nightly:2 (POINTED)" in out
    assert "reports" not in out


def test_the_live_view_has_a_line_per_worker():
    import io

    from ecsup.deployments import DeployState
    from ecsup.render import make_console, release_view

    web = DeployState("arn:web", "IN_PROGRESS", "BAKE_TIME", revision_after="web-dev:2", new_running=1, desired=1)
    worker = DeployState(
        "arn:w", "IN_PROGRESS", revision_before="web-dev-mailer:1", revision_after="web-dev-mailer:2", workload="mailer"
    )
    console = make_console(io.StringIO())
    console.print(release_view({"": web, "mailer": worker}))
    text = console.file.getvalue()
    assert "deployment" in text and "IN_PROGRESS · BAKE_TIME" in text
    assert "worker mailer" in text and "new web-dev-mailer:2: 0 running" in text and "old web-dev-mailer:1" in text


def test_the_running_image_is_released_again_only_for_a_worker_that_runs_another(workloads, make_ctx, clock):
    deploy.deploy(make_ctx(TEXT), IMAGE_2)
    workloads.reset()
    same = deploy.deploy(make_ctx(TEXT), IMAGE_2)  # everything runs it: nothing to do
    assert same.status == "UNCHANGED" and workloads.writes() == []

    # the worker was put back on its first revision (by hand, or built by `create` with service.image)
    client("ecs").update_service(cluster="web-dev", service="web-dev-mailer", taskDefinition="web-dev-mailer:1")
    for _ in range(60):  # let that deployment end (on the emulation's clock)
        ongoing = client("ecs").list_service_deployments(
            cluster="web-dev", service="web-dev-mailer", status=deploy.ONGOING
        )["serviceDeployments"]
        if not ongoing:
            break
        clock.sleep(5)
    result = deploy.deploy(make_ctx(TEXT), IMAGE_2)
    assert result.status == "SUCCESSFUL" and "released again for mailer" in result.message
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:3", IMAGE_2)


def test_rollback_goes_on_while_a_worker_alone_is_deploying(workloads, make_ctx):
    deploy.deploy(make_ctx(TEXT), IMAGE_2)
    client("ecs").update_service(cluster="web-dev", service="web-dev-mailer", forceNewDeployment=True)
    result = deploy.rollback(make_ctx(TEXT))  # the worker's deployment is superseded by the rollback's
    assert result.status == "SUCCESSFUL", result.message
    assert runs("web-dev")[:2] == ("web-dev:1", IMAGE_1)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:1", IMAGE_1)
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)


def test_watching_a_release_whose_worker_fails_leaves_the_job_and_exits_9(workloads, make_ctx, failing_worker):
    started = deploy.deploy(make_ctx(TEXT), IMAGE_2, wait=False)
    assert started.stage == "started"
    with pytest.raises(deploy.RolledBack) as err:
        deploy.attach(make_ctx(TEXT))
    assert err.value.exit_code == EXIT_ROLLED_BACK
    assert "worker mailer runs web-dev-mailer:1, not web-dev-mailer:2" in err.value.message
    assert "its deployment failed" in err.value.message
    assert "the release is rolled back (the web service back to web-dev:1" in err.value.message
    assert "`ecsup deploy --image ...` again" in str(err.value.hint)
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)  # the release failed: the job stays
    # the watch ends the release consistent: the web service is back on the release before, as deploy's own
    assert runs("web-dev")[:2] == ("web-dev:1", IMAGE_1)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:1", IMAGE_1)
    assert deployments_of("web-dev")[0]["status"] == "SUCCESSFUL"  # the deployment of web-dev:1, watched to its end


def test_watching_a_release_whose_worker_never_started_rolls_the_web_service_back(workloads, make_ctx, monkeypatch):
    """The run that started the release stopped between the web service's UpdateService and the
    workers' (a crash, a kill): `deploy --watch` says so, and takes the web service back."""
    from ecsup import release

    def crash(ctx: Any, released: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(release, "start_workers", crash)
        deploy.deploy(make_ctx(TEXT), IMAGE_2, wait=False)
    assert runs("web-dev")[:2] == ("web-dev:2", IMAGE_2) and runs("web-dev-mailer")[:2] == ("web-dev-mailer:1", IMAGE_1)

    with pytest.raises(deploy.RolledBack) as err:
        deploy.attach(make_ctx(TEXT))
    assert err.value.exit_code == EXIT_ROLLED_BACK
    assert "worker mailer runs web-dev-mailer:1, not web-dev-mailer:2" in err.value.message
    assert "was never started" in err.value.message and "failed" not in err.value.message
    assert "the release is rolled back (the web service" in err.value.message
    assert runs("web-dev")[:2] == ("web-dev:1", IMAGE_1)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:1", IMAGE_1)
    assert len(deployments_of("web-dev-mailer")) == 1  # never deployed by the release, nor by its undo
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)


TWO_WORKERS = config_text(WORKLOADS + '\n[workers.sender]\ncommand = ["send"]\n')


def test_a_failed_update_of_the_second_worker_rolls_back_what_started(aws, make_ctx):
    engine.create(make_ctx(TWO_WORKERS))
    aws.injectors.append(
        fail_first("ecs", "UpdateService", "AccessDeniedException", 1, match={"service": "web-dev-sender"})
    )
    with pytest.raises(EcsupError) as err:
        deploy.deploy(make_ctx(TWO_WORKERS), IMAGE_2)
    assert "update service web-dev-sender" in err.value.message
    assert "the release is rolled back" in err.value.message and "worker mailer back to web-dev-mailer:1" in (
        err.value.message
    )
    # nothing of the release keeps going: every workload runs what it ran before
    assert runs("web-dev")[:2] == ("web-dev:1", IMAGE_1)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:1", IMAGE_1)
    assert runs("web-dev-sender")[:2] == ("web-dev-sender:1", IMAGE_1)
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)
    assert all(d["status"] not in ("PENDING", "IN_PROGRESS") for d in deployments_of("web-dev"))
    assert all(d["status"] not in ("PENDING", "IN_PROGRESS") for d in deployments_of("web-dev-mailer"))


def _taken_by_another_run() -> None:
    client("ssm").put_parameter(
        Name="/ecsup/web-dev/lock",
        Type="String",
        Value=json.dumps(
            {"host": "elsewhere", "pid": 1, "command": "create", "run": "other", "since": "2026-11-27T01:02:03Z"}
        ),
    )


@pytest.mark.parametrize("watched", [False, True], ids=["deploy", "deploy --watch"])
def test_the_jobs_move_only_under_the_stack_lock(workloads, make_ctx, monkeypatch, watched):
    """Pointing a job at its revision rewrites its state machine's definition: a `create` holding
    the lock meanwhile refuses the move (exit 8, as deploy), and the job stays where it was."""
    from ecsup import release

    real = release.watch_together

    def then_locked(*args: Any, **kwargs: Any) -> Any:
        outcome = real(*args, **kwargs)
        _taken_by_another_run()  # another run takes the lock while the release is watched
        return outcome

    monkeypatch.setattr(release, "watch_together", then_locked)
    with pytest.raises(LockHeld) as err:
        if watched:
            deploy.deploy(make_ctx(TEXT), IMAGE_2, wait=False)
            deploy.attach(make_ctx(TEXT))
        else:
            deploy.deploy(make_ctx(TEXT), IMAGE_2)
    assert err.value.exit_code == EXIT_LOCKED
    assert "the release succeeded, but its jobs stay on their revisions" in err.value.message
    assert f"`ecsup deploy --image {IMAGE_2}` moves them" in str(err.value.hint)
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:2", IMAGE_2)


# -- create after day-two changes: a worker's live count, a release ------------------------------------
def desired(service: str) -> int:
    return int(client("ecs").describe_services(cluster="web-dev", services=[service])["services"][0]["desiredCount"])


def test_a_worker_s_count_set_by_scale_is_kept_by_create_until_the_file_changes(workloads, config_file, make_ctx):
    result = invoke("scale", "-c", str(config_file), "--workload", "mailer", "--count", "3")
    assert result.exit_code == 0, explain(result)
    assert "`create` keeps the live count" in result.stdout

    ctx = make_ctx(TEXT)
    engine.create(ctx)  # ecsup.toml still says 1, as create applied it: the live count is kept
    assert desired("web-dev-mailer") == 3
    assert "service web-dev-mailer: desired count 3 was changed on the live service (config says 1)" in " ".join(
        ctx.notes
    )
    status = invoke("status", "-c", str(config_file))
    scale_rows = [line for line in status.stdout.splitlines() if line.split()[1:3] == ["scale", "web-dev-mailer"]]
    assert len(scale_rows) == 1 and "desired count 3 set on the live service" in scale_rows[0], explain(status)
    as_json = json.loads(invoke("status", "-c", str(config_file), "--json").stdout)
    mailer = next(w for w in as_json["workers"] if w["name"] == "mailer")
    assert (mailer["desired"], mailer["desired_in_config"]) == (3, 1)

    # the file's value changes: the next create applies it (as the web service's)
    two = TEXT.replace(
        'command = ["bundle", "exec", "sidekiq"]\n', 'command = ["bundle", "exec", "sidekiq"]\ndesired_count = 2\n'
    )
    assert two != TEXT
    engine.create(make_ctx(two))
    assert desired("web-dev-mailer") == 2
    assert desired("web-dev-reports") == 1 and desired("web-dev") == 1
    workloads.reset()
    engine.create(make_ctx(two))  # applied and recorded: nothing more to do
    assert workloads.writes() == []
    config_file.write_text(two)
    status = invoke("status", "-c", str(config_file))
    assert status.exit_code == 0 and "set on the live service" not in status.stdout, explain(status)


def test_create_after_a_release_leaves_every_workload_on_its_revision(workloads, make_ctx):
    deploy.deploy(make_ctx(TEXT), IMAGE_2)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:2", IMAGE_2)
    assert job_runs() == ("web-dev-nightly:2", IMAGE_2)
    workloads.reset()

    engine.create(make_ctx(TEXT))  # no change in ecsup.toml: the release stays

    assert workloads.writes() == []
    assert runs("web-dev")[:2] == ("web-dev:2", IMAGE_2)
    assert runs("web-dev-mailer") == ("web-dev-mailer:2", IMAGE_2, ["bundle", "exec", "sidekiq"])
    assert runs("web-dev-reports") == ("web-dev-reports:1", OWN_IMAGE, ["reports"])
    assert job_runs() == ("web-dev-nightly:2", IMAGE_2)


def test_a_config_change_of_a_worker_and_a_job_after_a_release_keeps_the_released_image(workloads, make_ctx):
    deploy.deploy(make_ctx(TEXT), IMAGE_2)
    changed = TEXT.replace(
        'command = ["bundle", "exec", "sidekiq"]\n',
        'command = ["bundle", "exec", "sidekiq"]\n[workers.mailer.environment]\nQUEUES = "mailers"\n',
    ).replace('command = ["python", "manage.py", "cleanup"]', 'command = ["python", "manage.py", "purge"]')
    assert "QUEUES" in changed and "purge" in changed
    workloads.reset()

    engine.create(make_ctx(changed))

    # a new revision of each changed family, on the released image; the web service is not touched
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:3", IMAGE_2)
    td = client("ecs").describe_task_definition(taskDefinition="web-dev-mailer:3")["taskDefinition"]
    assert {"name": "QUEUES", "value": "mailers"} in td["containerDefinitions"][0]["environment"]
    assert job_runs() == ("web-dev-nightly:3", IMAGE_2)
    nightly = client("ecs").describe_task_definition(taskDefinition="web-dev-nightly:3")["taskDefinition"]
    assert nightly["containerDefinitions"][0]["command"] == ["python", "manage.py", "purge"]
    assert runs("web-dev")[:2] == ("web-dev:2", IMAGE_2)
    assert runs("web-dev-reports")[0] == "web-dev-reports:1"
    registered = [c for c in workloads.writes() if c[1] == "RegisterTaskDefinition"]
    assert len(registered) == 2


# -- create while a release is under way -------------------------------------------------------------
NEW_JOB = '\n[jobs.weekly]\nschedule = "cron(0 4 ? * MON *)"\ncommand = ["python", "manage.py", "report"]\n'
NEW_WORKER = '\n[workers.pdf]\ncommand = ["pdf-worker"]\n'


def test_create_during_a_release_leaves_the_jobs_on_their_revision(workloads, make_ctx, failing_worker):
    """`create` while a release (started with --no-wait) is under way: the job stays on the revision
    its state machine names, and a job and a worker added now start with the image the web service
    ran before the release -- the release then fails (its worker does): none is left on its image."""
    deploy.deploy(make_ctx(TEXT), IMAGE_2, wait=False)
    more = TEXT + NEW_JOB + NEW_WORKER

    engine.create(make_ctx(more))

    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)
    assert job_runs("weekly") == ("web-dev-weekly:1", IMAGE_1)
    assert runs("web-dev-pdf")[:2] == ("web-dev-pdf:1", IMAGE_1)
    with pytest.raises(deploy.RolledBack):
        deploy.attach(make_ctx(more))
    assert job_runs() == ("web-dev-nightly:1", IMAGE_1)
    assert runs("web-dev-mailer")[:2] == ("web-dev-mailer:1", IMAGE_1)


def test_a_job_that_follows_the_service_image_again_takes_the_web_service_s(workloads, make_ctx):
    own = TEXT.replace(
        'command = ["python", "manage.py", "cleanup"]',
        f'command = ["python", "manage.py", "cleanup"]\nimage = "{OWN_IMAGE}"',
    )
    engine.create(make_ctx(own))
    assert job_runs() == ("web-dev-nightly:2", OWN_IMAGE)

    engine.create(make_ctx(TEXT))  # `image` removed: the job follows the web service's image again

    assert job_runs() == ("web-dev-nightly:3", IMAGE_1)
