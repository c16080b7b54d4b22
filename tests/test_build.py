"""[service] build: the app's ECR repository, docker build and push, create's first image, deploy
--build, destroy keeping (or --purge deleting) the repository.

No Docker daemon: a stand-in ``docker`` on PATH (written here) records its arguments and stdin,
and simulates a push with ECR's PutImage against moto running as a server in this process (the
stand-in is another process: it reaches ECR over HTTP, as docker reaches the registry), so the
pushed tag has a digest afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import REGION, SECRET_VALUE, ZONE, config_text, explain, invoke

from ecsup import engine
from ecsup.build import EXCLUSION_FILTERS, KEEP_IMAGES, lifecycle_policy
from ecsup.config import parse
from ecsup.errors import EXIT_BUILD

STAND_IN = """#!{python}
import hashlib, json, os, sys
argv = sys.argv[1:]
stdin = sys.stdin.read() if argv[:1] == ["login"] else ""
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps({{"argv": argv, "stdin": stdin}}) + "\\n")
if argv[:2] == ["buildx", "version"]:
    sys.exit(1 if os.environ.get("FAKE_DOCKER_NO_BUILDX") else 0)
if argv[:1] == ["login"]:
    print("Login Succeeded")
    sys.exit(0)
building = argv[:1] == ["build"] or argv[:2] == ["buildx", "build"]
if building:
    print("#1 [internal] load build definition from Dockerfile")
    print("#5 [2/3] RUN make")
    print("#5 0.123 compiling...")
    if os.environ.get("FAKE_DOCKER_RACE"):  # another run pushes the same tag first: this push is refused
        import boto3
        uri, tag = argv[argv.index("-t") + 1].rsplit(":", 1)
        other = {{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                  "config": {{"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                             "digest": "sha256:" + "ab" * 32}}, "layers": []}}
        ecr = boto3.client("ecr")
        ecr.put_image(repositoryName=uri.split("/", 1)[1], imageManifest=json.dumps(other), imageTag=tag)
        print("ERROR: failed to push: tag invalid: The image tag '" + tag + "' already exists")
        sys.exit(1)
    if os.environ.get("FAKE_DOCKER_FAIL"):
        print('ERROR: failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2')
        sys.exit(1)
ref = None
if building and "--push" in argv:
    ref = argv[argv.index("-t") + 1]
elif argv[:1] == ["push"]:
    ref = argv[1]
if ref:
    import boto3
    uri, tag = ref.rsplit(":", 1)
    seed = hashlib.sha256((ref + os.environ.get("FAKE_DOCKER_SEED", "")).encode()).hexdigest()
    manifest = {{
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {{"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
                    "digest": "sha256:" + seed}},
        "layers": [{{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 3000,
                     "digest": "sha256:" + hashlib.sha256(seed.encode()).hexdigest()}}],
    }}
    boto3.client("ecr").put_image(repositoryName=uri.split("/", 1)[1], imageManifest=json.dumps(manifest), imageTag=tag)
    print("#9 pushing layers 0.1s done")
    print(tag + ": digest: sha256:" + seed + " size: 528")
"""


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto as a server in this process (the stand-in docker pushes to it), with the test zone."""
    from moto import settings
    from moto.server import ThreadedMotoServer

    old_wait = settings.ACM_VALIDATION_WAIT
    settings.ACM_VALIDATION_WAIT = 0
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    url = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    try:
        urllib.request.urlopen(reset).close()  # a server shares moto's backends with the process: start empty
        aws("route53").create_hosted_zone(Name=ZONE, CallerReference="tests")
        yield url
    finally:
        urllib.request.urlopen(reset).close()
        srv.stop()
        settings.ACM_VALIDATION_WAIT = old_wait


def aws(service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


@pytest.fixture
def docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in docker on PATH; returns its log (one JSON line a call)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(STAND_IN.format(python=sys.executable))
    script.chmod(0o755)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def project(tmp_path: Path, extra: str = "", git: bool = True, env: str = "dev", arm: bool = False) -> Path:
    """A repository with a Dockerfile and ecsup.toml (build = "."), committed."""
    root = tmp_path / f"app-{env}"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM public.ecr.aws/docker/library/python:3.12-slim\nRUN make\n")
    swap = {
        'image = "public.ecr.aws/nginx/nginx:stable"': 'build = "."',
        'env = "dev"': f'env = "{env}"',
        f'hostname = "www.{ZONE}"': f'hostname = "{env}.{ZONE}"',
    }
    if arm:
        swap["cpu = 512"] = 'cpu = 512\ncpu_architecture = "ARM64"'
    text = config_text(extra, replace=swap)
    (root / "ecsup.toml").write_text(text)
    if git:
        run = {"cwd": root, "check": True, "capture_output": True}
        subprocess.run(["git", "init", "-q"], **run)  # type: ignore[call-overload]
        subprocess.run(["git", "add", "."], **run)  # type: ignore[call-overload]
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "first"],
            **run,  # type: ignore[call-overload]
        )
    return root


def head(root: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True)
    return out.stdout.strip()


def ctx_for(make_ctx: Any, root: Path) -> Any:
    path = root / "ecsup.toml"
    return make_ctx(parse(path.read_text(), str(path)))


def web_image(service: str = "web-dev") -> str:
    ecs = aws("ecs")
    svc = ecs.describe_services(cluster="web-dev", services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"])


def test_create_builds_pushes_and_deploys_the_first_image_by_digest(
    server: str, docker: Path, tmp_path: Path, make_ctx: Any
) -> None:
    root = project(tmp_path, arm=True, extra='\n[workers.mailer]\ncommand = ["sidekiq"]\n')
    engine.create(ctx_for(make_ctx, root))

    sha = head(root)
    made = calls(docker)
    build = next(c["argv"] for c in made if c["argv"][:2] == ["buildx", "build"])
    assert build[build.index("--platform") + 1] == "linux/arm64"
    uri = aws("ecr").describe_repositories(repositoryNames=["web"])["repositories"][0]["repositoryUri"]
    assert build[build.index("-t") + 1] == f"{uri}:{sha}"
    assert build[-1] == str(root) and "--push" in build
    # login: the password on stdin, never on argv
    login = next(c for c in made if c["argv"][:1] == ["login"])
    assert login["argv"] == ["login", "--username", "AWS", "--password-stdin", uri.split("/")[0]]
    password = login["stdin"]
    assert password and all(password not in " ".join(c["argv"]) for c in made)
    digest = aws("ecr").describe_images(repositoryName="web", imageIds=[{"imageTag": sha}])["imageDetails"][0][
        "imageDigest"
    ]
    assert web_image() == f"{uri}@{digest}"
    assert web_image("web-dev-mailer") == f"{uri}@{digest}"  # a worker without an image of its own: the built one
    # the release tag the lifecycle policy keeps
    live = aws("ecr").describe_images(repositoryName="web", imageIds=[{"imageTag": "ecsup-dev-live"}])
    assert live["imageDetails"][0]["imageDigest"] == digest


def test_the_repository_is_the_apps_with_immutable_tags_scanning_and_a_lifecycle_policy(
    server: str, docker: Path, tmp_path: Path, make_ctx: Any
) -> None:
    root = project(tmp_path)
    engine.create(ctx_for(make_ctx, root))
    ecr = aws("ecr")
    repo = ecr.describe_repositories(repositoryNames=["web"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == EXCLUSION_FILTERS
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["encryptionConfiguration"]["encryptionType"] == "AES256"
    tags = {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]}
    assert tags == {"ecsup:app": "web", "ManagedBy": "ecsup"}
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName="web")["lifecyclePolicyText"])
    assert policy == lifecycle_policy()
    rules = sorted(policy["rules"], key=lambda r: r["rulePriority"])
    assert rules[0]["selection"]["tagPrefixList"] == ["ecsup-"] and rules[0]["selection"]["countNumber"] >= 9999
    assert rules[-1]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": KEEP_IMAGES}
    # a second create builds nothing: the service has its image
    before = len(calls(docker))
    outcome = engine.create(ctx_for(make_ctx, root))
    assert len(calls(docker)) == before and not outcome.changes()
    status = invoke("status", "-c", str(root / "ecsup.toml"))
    assert status.exit_code == 0, explain(status)
    assert "ECR repository" in status.stdout and "web" in status.stdout


def test_a_dirty_tree_is_tagged_dirty_and_a_clean_rebuild_reuses_the_pushed_tag(
    server: str, docker: Path, tmp_path: Path, make_ctx: Any
) -> None:
    from ecsup.build import build_image

    root = project(tmp_path)
    sha = head(root)
    ctx = ctx_for(make_ctx, root)
    first = build_image(ctx)
    assert first.tag == sha and not first.reused
    again = build_image(ctx_for(make_ctx, root))
    assert again.reused and again.image == first.image  # the same commit: not built again
    assert sum(c["argv"][:2] == ["buildx", "build"] for c in calls(docker)) == 1
    (root / "app.py").write_text("print('changed')\n")
    dirty = build_image(ctx_for(make_ctx, root))
    assert dirty.tag == f"{sha}-dirty" and not dirty.reused
    dirtier = build_image(ctx_for(make_ctx, root))  # the dirty tag is taken (immutable): a timestamp suffix
    assert dirtier.tag.startswith(f"{sha}-dirty-") and not dirtier.reused


def test_outside_git_the_tag_is_a_timestamp_and_without_buildx_docker_build_then_push(
    server: str, docker: Path, tmp_path: Path, make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecsup.build import build_image

    monkeypatch.setenv("FAKE_DOCKER_NO_BUILDX", "1")
    root = project(tmp_path, git=False, extra='\n[service.build_args]\nRUBY_VERSION = "3.3"\n')
    built = build_image(ctx_for(make_ctx, root))
    assert built.tag.startswith("build-") and built.tag[6:].isdigit()
    argvs = [c["argv"] for c in calls(docker)]
    build = next(a for a in argvs if a[:1] == ["build"])
    assert build[build.index("--platform") + 1] == "linux/amd64"
    assert build[build.index("--build-arg") : build.index("--build-arg") + 2] == ["--build-arg", "RUBY_VERSION=3.3"]
    assert ["push", built.image.split("@")[0] + ":" + built.tag] in argvs


def test_without_docker_create_exits_12_and_changes_nothing(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    empty = tmp_path / "nobin"
    empty.mkdir()
    git = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True).stdout.strip()
    (empty / "git").symlink_to(git)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("ECSUP_SECRET_DB_PASSWORD", SECRET_VALUE)
    result = invoke("create", "-c", str(root / "ecsup.toml"))
    assert result.exit_code == EXIT_BUILD, explain(result)
    assert "docker is not on PATH" in result.stderr and "Traceback" not in result.stderr
    assert aws("ecr").describe_repositories()["repositories"] == []
    assert aws("ecs").list_clusters()["clusterArns"] == []
    assert aws("elbv2").describe_load_balancers()["LoadBalancers"] == []


def test_a_failed_build_exits_12_leaving_only_the_repository(
    server: str, docker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    monkeypatch.setenv("FAKE_DOCKER_FAIL", "1")
    monkeypatch.setenv("ECSUP_SECRET_DB_PASSWORD", SECRET_VALUE)
    result = invoke("create", "-c", str(root / "ecsup.toml"))
    assert result.exit_code == EXIT_BUILD, explain(result)
    assert "did not complete successfully" in result.stderr
    assert "only the ECR repository was created" in result.stderr
    assert [r["repositoryName"] for r in aws("ecr").describe_repositories()["repositories"]] == ["web"]
    assert aws("ecs").list_clusters()["clusterArns"] == []
    assert aws("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert "#5 [2/3] RUN make" in result.stdout  # docker's steps, condensed
    assert "compiling" not in result.stdout


def test_deploy_builds_pushes_and_ships_the_new_commit_by_digest(
    server: str, docker: Path, tmp_path: Path, make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    engine.create(ctx_for(make_ctx, root))
    first = web_image()
    (root / "app.py").write_text("print('v2')\n")
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "v2"], cwd=root, check=True
    )
    result = invoke("deploy", "-c", str(root / "ecsup.toml"), "--no-wait", "--json")
    assert result.exit_code == 0, explain(result)
    sha = head(root)
    doc = json.loads(result.stdout)
    assert doc["build"]["tag"] == sha and doc["build"]["reused"] is False
    assert doc["image_after"] == doc["build"]["image"]
    assert "#5 [2/3] RUN make" in result.stderr  # docker's steps beside the JSON, on stderr
    ecr = aws("ecr")
    digest = ecr.describe_images(repositoryName="web", imageIds=[{"imageTag": sha}])["imageDetails"][0]["imageDigest"]
    ecs = aws("ecs")
    svc = ecs.describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert td["containerDefinitions"][0]["image"].endswith(f"/web@{digest}")
    assert first.split("@")[1] != digest
    # the release tags: live on the new image, previous on the first
    tagged = {
        tag: image["imageDigest"]
        for image in ecr.describe_images(repositoryName="web")["imageDetails"]
        for tag in image.get("imageTags", [])
    }
    assert tagged["ecsup-dev-live"] == digest and tagged["ecsup-dev-previous"] == first.split("@")[1]


def test_deploy_build_path_overrides_the_context_and_refuses_image_with_it(
    server: str, docker: Path, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "Dockerfile").write_text("FROM scratch\n")
    cfg = tmp_path / "ecsup.toml"
    cfg.write_text(config_text())
    both = invoke("deploy", "-c", str(cfg), "--build", str(other), "--image", "x:1")
    assert both.exit_code == 2 and "--build builds the image" in both.stderr
    missing = invoke("deploy", "-c", str(cfg), "--build", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "not a directory" in missing.stderr
    alone = invoke("deploy", "-c", str(cfg), str(other))
    assert alone.exit_code == 2 and "goes with --build" in alone.stderr
    watching = invoke("deploy", "-c", str(cfg), "--watch", "--build")
    assert watching.exit_code == 2 and "--watch ships nothing" in watching.stderr
    assert calls(docker) == []


def _destroy(make_ctx: Any, root: Path, purge: bool) -> list[Any]:
    ctx = ctx_for(make_ctx, root)
    outcome = engine.plan_destroy(ctx, purge=purge)
    with engine.destroy_locked(ctx):
        engine.destroy(ctx, outcome)
    return [a for a in outcome.actions if a.resource in ("ECR repository", "image tags")]


def test_destroy_keeps_the_repository_and_purge_deletes_it_only_when_no_other_environment_uses_it(
    server: str, docker: Path, tmp_path: Path, make_ctx: Any
) -> None:
    dev, prod = project(tmp_path), project(tmp_path, env="prod")
    engine.create(ctx_for(make_ctx, dev))
    engine.create(ctx_for(make_ctx, prod))
    ecr = aws("ecr")

    def tags() -> set[str]:
        return {t for i in ecr.describe_images(repositoryName="web")["imageDetails"] for t in i.get("imageTags", [])}

    assert {"ecsup-dev-live", "ecsup-prod-live"} <= tags()
    kept = _destroy(make_ctx, dev, purge=True)  # prod deploys from it: kept, dev's release tags removed
    assert [(a.kind, a.resource) for a in kept] == [("delete", "image tags"), ("keep", "ECR repository")]
    assert "prod" in kept[-1].detail
    assert ecr.describe_repositories(repositoryNames=["web"])["repositories"]
    assert "ecsup-dev-live" not in tags() and "ecsup-prod-live" in tags()
    assert head(dev) in tags()  # the image stays: only the release tag went

    plain = _destroy(make_ctx, prod, purge=False)  # without --purge: kept, whoever uses it
    assert [a.kind for a in plain] == ["delete", "keep"] and "--purge" in plain[-1].detail
    assert ecr.describe_repositories(repositoryNames=["web"])["repositories"]

    purged = _destroy(make_ctx, prod, purge=True)  # no environment left: deleted, images and all
    assert [(a.kind, a.resource) for a in purged] == [("delete", "ECR repository")]
    assert ecr.describe_repositories()["repositories"] == []


def test_a_foreign_repository_named_after_the_app_is_a_conflict(
    server: str, docker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws("ecr").create_repository(repositoryName="web", tags=[{"Key": "team", "Value": "other"}])
    root = project(tmp_path)
    monkeypatch.setenv("ECSUP_SECRET_DB_PASSWORD", SECRET_VALUE)
    result = invoke("plan", "-c", str(root / "ecsup.toml"))
    assert result.exit_code == 4, explain(result)
    assert "ECR repository 'web' exists but does not carry ecsup's tags" in result.stderr
    created = invoke("create", "-c", str(root / "ecsup.toml"))
    assert created.exit_code == 4, explain(created)
    assert calls(docker) == [] and aws("ecs").list_clusters()["clusterArns"] == []


def test_plan_shows_the_repository_and_the_build_and_repairs_a_changed_lifecycle_policy(
    server: str, docker: Path, tmp_path: Path, make_ctx: Any
) -> None:
    root = project(tmp_path)
    ctx = ctx_for(make_ctx, root)
    ctx.mode = "plan"
    planned = {(a.kind, a.resource, a.name) for a in engine.make_plan(ctx).actions}
    assert ("create", "ECR repository", "web") in planned
    assert ("create", "image", f"web:{head(root)}") in planned
    assert calls(docker) == []  # a plan builds nothing
    engine.create(ctx_for(make_ctx, root))
    aws("ecr").put_lifecycle_policy(
        repositoryName="web",
        lifecyclePolicyText=json.dumps(
            {
                "rules": [
                    {
                        "rulePriority": 1,
                        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
                        "action": {"type": "expire"},
                    }
                ]
            }
        ),
    )
    outcome = engine.create(ctx_for(make_ctx, root))
    assert [(a.kind, a.resource) for a in outcome.changes()] == [("update", "ECR repository")]
    assert (
        json.loads(aws("ecr").get_lifecycle_policy(repositoryName="web")["lifecyclePolicyText"]) == lifecycle_policy()
    )


@pytest.mark.parametrize(
    ("service", "key", "says"),
    [
        ('image = "x:1"\nbuild = "."', "service.build", "cannot be combined with service.image"),
        ("exec = false", "service.image", "is required: an image reference"),
        ('build = "."\nbuild_args = { DB_PASSWORD = "x" }', "service.build_args.DB_PASSWORD", "docker build --secret"),
        ('image = "x:1"\nbuild_dockerfile = "Dockerfile"', "service.build_dockerfile", "only with service.build"),
    ],
)
def test_build_keys_are_validated_with_their_key_paths(service: str, key: str, says: str) -> None:
    from ecsup.errors import ConfigError

    text = config_text(replace={'image = "public.ecr.aws/nginx/nginx:stable"': service})
    with pytest.raises(ConfigError) as exc:
        parse(text)
    assert any(k == key and says in why for k, why in exc.value.problems), exc.value.problems
    assert exc.value.exit_code == 2


def test_init_writes_build_commented_and_uncommented_it_replaces_image(tmp_path: Path) -> None:
    from conftest import ZONE as zone

    from ecsup.config import load

    path = tmp_path / "ecsup.toml"
    result = invoke("init", "-c", str(path), "--app", "web", "--env", "dev", "--zone", zone, "--image", "nginx:1")
    assert result.exit_code == 0, explain(result)
    text = path.read_text()
    assert '# build = "."' in text and "# build_args = " in text and "docker build --secret" in text
    path.write_text(text.replace('image = "nginx:1"', "").replace('# build = "."', 'build = "."'))
    cfg = load(path)
    assert cfg.service.build == "." and cfg.service.image == ""


def test_every_call_of_a_build_s_create_deploy_and_destroy_is_allowed_by_the_documented_policies(
    server: str, docker: Path, tmp_path: Path, make_ctx: Any, recorder: Any
) -> None:
    from ecsup import deploy, policies
    from ecsup.build import build_image, digest_of, protect

    root = project(tmp_path)
    made: dict[str, set[tuple[str, str]]] = {}
    recorder.reset()
    engine.create(ctx_for(make_ctx, root))
    made["create"] = set(recorder.calls)
    (root / "v2.txt").write_text("2\n")
    recorder.reset()
    ctx = ctx_for(make_ctx, root)
    built = build_image(ctx)
    deploy.deploy(ctx, built.image, wait=False)
    protect(ctx, digest_of(built.image) or "")
    made["deploy"] = set(recorder.calls)
    recorder.reset()
    _destroy(make_ctx, root, purge=True)
    made["destroy"] = set(recorder.calls)
    assert ("ecr", "CreateRepository") in made["create"] and ("ecr", "GetAuthorizationToken") in made["deploy"]
    assert ("ecr", "PutImage") in made["deploy"] and ("ecr", "DeleteRepository") in made["destroy"]
    operator, ci = policies.operator_policy(), policies.ci_deploy_policy("web-dev")
    for name, seen in made.items():
        missing = {f"{s}:{o}" for s, o in seen for a in policies.iam_actions(s, o) if not policies.allows(operator, a)}
        assert not missing, (name, missing)
    ci_missing = {a for s, o in made["deploy"] for a in policies.iam_actions(s, o) if not policies.allows(ci, a)}
    assert not ci_missing


def test_a_clean_commit_pushed_by_another_run_meanwhile_is_used_not_a_failure(
    server: str, docker: Path, tmp_path: Path, make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecsup.build import build_image

    root = project(tmp_path)
    monkeypatch.setenv("FAKE_DOCKER_RACE", "1")
    built = build_image(ctx_for(make_ctx, root))
    pushed = aws("ecr").describe_images(repositoryName="web", imageIds=[{"imageTag": head(root)}])["imageDetails"]
    assert built.image.endswith("@" + pushed[0]["imageDigest"])
    (root / "dirty.txt").write_text("x\n")  # a dirty tree's refused push is a failure: its tag may hold other changes
    from ecsup.errors import BuildFailed

    with pytest.raises(BuildFailed) as exc:
        build_image(ctx_for(make_ctx, root))
    assert "already exists" in exc.value.message and exc.value.exit_code == EXIT_BUILD


def test_a_missing_dockerfile_stops_the_plan_with_the_key(
    aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "ecsup.toml").write_text(
        config_text(replace={'image = "public.ecr.aws/nginx/nginx:stable"': 'build = "."'})
    )
    monkeypatch.setenv("ECSUP_SECRET_DB_PASSWORD", SECRET_VALUE)
    result = invoke("plan", "-c", str(root / "ecsup.toml"))
    assert result.exit_code == 2, explain(result)
    assert "service.build: there is no Dockerfile at" in result.stderr
    assert aws.mutating() == []


def test_another_environment_is_told_apart_by_its_whole_release_tag(
    make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecsup import build

    ctx = make_ctx(config_text())  # env dev
    listed = [
        {"imageTags": ["abc", "ecsup-dev-live"]},
        {"imageTags": ["def", "ecsup-dev-previous", "ecsup-dev-2-live"]},
        {"imageTags": ["ecsup-staging-previous", "ecsup-notes"]},
    ]
    monkeypatch.setattr(build, "images", lambda ctx: listed)
    assert build.release_tags_of_others(ctx) == {"dev-2", "staging"}


def test_a_create_the_plan_stops_builds_nothing_and_makes_no_repository(
    server: str, docker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    monkeypatch.delenv("ECSUP_SECRET_DB_PASSWORD", raising=False)  # the plan stops on the missing secret
    result = invoke("create", "-c", str(root / "ecsup.toml"))
    assert result.exit_code == 2, explain(result)
    assert "ECSUP_SECRET_DB_PASSWORD" in result.stderr
    assert calls(docker) == []
    assert aws("ecr").describe_repositories()["repositories"] == []
