"""[service] build: the app's ECR repository, the image built with Docker and pushed to it, and the
reference deploys ship (by digest).

Not a step: building is an operation on the user's machine (like a deploy), run once the stack's plan
passed its checks and before anything else changes (``build_first_image``: ``create`` builds the first
image when the service has none yet, then plans again with its digest) or before a release
(``build_image``: ``deploy`` with ``build`` set, or ``deploy --build``). The
repository itself is also planned, converged and destroyed by the pipeline's RepositoryStep
(steps/repository.py), which reads and writes it through the functions here.

The repository, ``<app>``, belongs to the app (tags ``ecsup:app`` and ``ManagedBy``, no
environment): every environment of the app pushes to it and deploys from it.

- Tags are immutable (``IMMUTABLE_WITH_EXCLUSION``): a pushed ``<git sha>`` tag always names the
  same image. The exception is ``ecsup-*``: ecsup moves ``ecsup-<env>-live`` and
  ``ecsup-<env>-previous`` to the images each environment's last two releases shipped (``protect``).
- The lifecycle policy keeps every image carrying an ``ecsup-`` tag (a rule that selects them and
  expires only past 9,999 of them, which two tags per environment never reach: an image matching a
  higher-priority rule's tags cannot be expired by a lower one, ECR's evaluation rules), and of the
  others the last ``KEEP_IMAGES`` pushed. Its limit: an environment's revision older than its last
  two releases (a rollback past the previous one) is protected only while among the last
  ``KEEP_IMAGES`` pushes. ECR lifecycle rules cannot express "used by a task definition".
- Scan on push, AES256 encryption (ECR's default, stated explicitly).

Docker is run with its output streamed, condensed, to the UI (render.py prints); the registry login
hands the password to ``docker login --password-stdin`` on stdin, never on argv.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .context import Context
from .errors import BuildFailed, ConfigError, OptionError, OwnershipConflict, doing, is_code
from .names import RELEASE_TAG_PREFIX

KEEP_IMAGES = 30  # the lifecycle policy keeps the last 30 images pushed (besides the environments')
PROTECTED_LIMIT = 9999  # "never" for the images carrying an ecsup- tag (two per environment)
TAG_MUTABILITY = "IMMUTABLE_WITH_EXCLUSION"
EXCLUSION_FILTERS = [{"filterType": "WILDCARD", "filter": f"{RELEASE_TAG_PREFIX}*"}]
ENCRYPTION = {"encryptionType": "AES256"}
PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
RELEASES = ("live", "previous")  # the release tags of each environment (Names.release_tag)


# -- the repository -----------------------------------------------------------------------------
def lifecycle_policy() -> dict[str, Any]:
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": "ecsup: keep the images the app's environments run and ran before (tags ecsup-*)",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [RELEASE_TAG_PREFIX],
                    "countType": "imageCountMoreThan",
                    "countNumber": PROTECTED_LIMIT,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"ecsup: keep the last {KEEP_IMAGES} images pushed",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": KEEP_IMAGES},
                "action": {"type": "expire"},
            },
        ]
    }


def lifecycle_text() -> str:
    return json.dumps(lifecycle_policy(), sort_keys=True, separators=(",", ":"))


@dataclass
class Repository:
    name: str
    uri: str
    arn: str
    tags: dict[str, str]
    mutability: str
    exclusions: list[dict[str, str]]
    scan_on_push: bool
    encryption: dict[str, Any]
    lifecycle: dict[str, Any] | None

    @property
    def registry(self) -> str:
        return self.uri.split("/", 1)[0]


def find_repository(ctx: Context) -> Repository | None:
    """The app's repository as it is, or None."""
    ecr = ctx.client("ecr")
    name = ctx.names.repository
    with doing(f"look up ECR repository {name}"):
        try:
            found = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        except Exception as exc:
            if is_code(exc, "RepositoryNotFoundException"):
                return None
            raise
        tags = {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=found["repositoryArn"])["tags"]}
        try:
            text = ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
            lifecycle = json.loads(text)
        except Exception as exc:
            if not is_code(exc, "LifecyclePolicyNotFoundException"):
                raise
            lifecycle = None
    return Repository(
        name=name,
        uri=str(found["repositoryUri"]),
        arn=str(found["repositoryArn"]),
        tags=tags,
        mutability=str(found.get("imageTagMutability", "")),
        exclusions=list(found.get("imageTagMutabilityExclusionFilters") or []),
        scan_on_push=bool((found.get("imageScanningConfiguration") or {}).get("scanOnPush")),
        encryption=dict(found.get("encryptionConfiguration") or {}),
        lifecycle=lifecycle,
    )


def drift(repo: Repository) -> list[tuple[str, str, str]]:
    """What differs from ecsup's settings: (attribute, have, want)."""
    out = []
    if repo.mutability != TAG_MUTABILITY or repo.exclusions != EXCLUSION_FILTERS:
        out.append(("tag mutability", f"{repo.mutability} {repo.exclusions}", f"{TAG_MUTABILITY} {EXCLUSION_FILTERS}"))
    if not repo.scan_on_push:
        out.append(("scan on push", "false", "true"))
    if repo.lifecycle != lifecycle_policy():
        out.append(
            ("lifecycle policy", "none" if repo.lifecycle is None else "other rules", f"ecsup's (keep {KEEP_IMAGES})")
        )
    return out


def foreign_message(ctx: Context) -> str:
    return (
        f"ECR repository {ctx.names.repository!r} exists but does not carry ecsup's tags for app="
        f"{ctx.names.app} (ecsup:app, ManagedBy=ecsup)"
    )


def create_repository(ctx: Context) -> Repository:
    """Create the repository with ecsup's settings and lifecycle policy; one made meanwhile (by another
    environment's run) is used when it is the app's."""
    ecr = ctx.client("ecr")
    name = ctx.names.repository
    with doing(f"create ECR repository {name}"):
        try:
            ecr.create_repository(
                repositoryName=name,
                imageTagMutability=TAG_MUTABILITY,
                imageTagMutabilityExclusionFilters=EXCLUSION_FILTERS,
                imageScanningConfiguration={"scanOnPush": True},
                encryptionConfiguration=ENCRYPTION,
                tags=[{"Key": k, "Value": v} for k, v in ctx.names.repository_tags().items()],
            )
        except Exception as exc:
            if not is_code(exc, "RepositoryAlreadyExistsException"):
                raise
    repo = find_repository(ctx)
    if repo is None or not ctx.names.owns_repository(repo.tags):
        raise OwnershipConflict(foreign_message(ctx), hint=_FOREIGN_HINT)
    return converge_repository(ctx, repo)


_FOREIGN_HINT = (
    "ecsup pushes [service] build's images to a repository named after the app, which it owns: rename or "
    "remove the other repository, or set service.image to an image you push yourself. Nothing was changed"
)


def converge_repository(ctx: Context, repo: Repository) -> Repository:
    """Put ecsup's settings and lifecycle policy back where they differ."""
    ecr = ctx.client("ecr")
    with doing(f"configure ECR repository {repo.name}"):
        if repo.mutability != TAG_MUTABILITY or repo.exclusions != EXCLUSION_FILTERS:
            ecr.put_image_tag_mutability(
                repositoryName=repo.name,
                imageTagMutability=TAG_MUTABILITY,
                imageTagMutabilityExclusionFilters=EXCLUSION_FILTERS,
            )
        if not repo.scan_on_push:
            ecr.put_image_scanning_configuration(
                repositoryName=repo.name, imageScanningConfiguration={"scanOnPush": True}
            )
        if repo.lifecycle != lifecycle_policy():
            ecr.put_lifecycle_policy(repositoryName=repo.name, lifecyclePolicyText=lifecycle_text())
    repo.mutability, repo.exclusions, repo.scan_on_push, repo.lifecycle = (
        TAG_MUTABILITY,
        list(EXCLUSION_FILTERS),
        True,
        lifecycle_policy(),
    )
    return repo


def ensure_repository(ctx: Context) -> tuple[Repository, bool]:
    """The app's repository, made (or converged) if needed; True when this run created it. A foreign
    one: OwnershipConflict (exit 4), before any change."""
    repo = find_repository(ctx)
    if repo is None:
        return create_repository(ctx), True
    if not ctx.names.owns_repository(repo.tags):
        raise OwnershipConflict(foreign_message(ctx), hint=_FOREIGN_HINT)
    return (converge_repository(ctx, repo) if drift(repo) else repo), False


def image_digest(ctx: Context, tag: str) -> str | None:
    """The digest of ``tag`` in the repository, or None."""
    with doing(f"look up image {ctx.names.repository}:{tag}"):
        try:
            found = ctx.client("ecr").describe_images(repositoryName=ctx.names.repository, imageIds=[{"imageTag": tag}])
        except Exception as exc:
            if is_code(exc, "ImageNotFoundException", "RepositoryNotFoundException"):
                return None
            raise
    details = found.get("imageDetails") or []
    return str(details[0]["imageDigest"]) if details else None


def images(ctx: Context) -> list[dict[str, Any]]:
    """Every image of the repository (DescribeImages, every page)."""
    out: list[dict[str, Any]] = []
    with doing(f"list the images of ECR repository {ctx.names.repository}"):
        for page in ctx.client("ecr").get_paginator("describe_images").paginate(repositoryName=ctx.names.repository):
            out.extend(page.get("imageDetails") or [])
    return out


def protect(ctx: Context, digest: str) -> None:
    """Mark ``digest`` as what this environment runs: ``ecsup-<env>-live`` moves to it, and
    ``ecsup-<env>-previous`` to what ``live`` named before (the lifecycle policy keeps both)."""
    ecr = ctx.client("ecr")
    name = ctx.names.repository
    live, previous = ctx.names.release_tag("live"), ctx.names.release_tag("previous")
    before = image_digest(ctx, live)
    if before == digest:
        return
    with doing(f"tag image {name}@{digest} as {live}"):
        moves = ([(previous, before)] if before else []) + [(live, digest)]
        for tag, target in moves:
            got = ecr.batch_get_image(
                repositoryName=name,
                imageIds=[{"imageDigest": target}],
                acceptedMediaTypes=[
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.oci.image.index.v1+json",
                ],
            )["images"]
            if not got:
                continue
            try:
                ecr.put_image(
                    repositoryName=name,
                    imageManifest=got[0]["imageManifest"],
                    imageManifestMediaType=got[0].get("imageManifestMediaType")
                    or json.loads(got[0]["imageManifest"]).get("mediaType"),
                    imageTag=tag,
                    imageDigest=target,
                )
            except Exception as exc:
                if not is_code(exc, "ImageAlreadyExistsException"):  # it is there already
                    raise


def release_tags_of_others(ctx: Context) -> set[str]:
    """The other environments whose live or previous release is in the repository (its ecsup- tags)."""
    mine = {ctx.names.release_tag(which) for which in RELEASES}
    envs = set()
    for image in images(ctx):
        for tag in image.get("imageTags") or []:
            env, _, which = tag[len(RELEASE_TAG_PREFIX) :].rpartition("-")
            # whole tags compared: environment "dev-2" (ecsup-dev-2-live) is not "dev"'s
            if tag.startswith(RELEASE_TAG_PREFIX) and which in RELEASES and env and tag not in mine:
                envs.add(env)
    return envs


def families_of_others(ctx: Context, uri: str) -> set[str]:
    """Other environments of the app whose ACTIVE task definitions name an image of the repository
    (their family's latest revision, with its ecsup:env tag)."""
    from .names import TAG_APP, TAG_ENV

    ecs = ctx.client("ecs")
    envs: set[str] = set()
    with doing(f"list the task definition families of app {ctx.names.app}"):
        families: list[str] = []
        for page in ecs.get_paginator("list_task_definition_families").paginate(
            familyPrefix=f"{ctx.names.app}-", status="ACTIVE"
        ):
            families.extend(page.get("families") or [])
        for family in families:
            try:
                found = ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
            except Exception as exc:
                if is_code(exc, "ClientException"):
                    continue
                raise
            tags = {t["key"]: t["value"] for t in found.get("tags") or []}
            if tags.get(TAG_APP) != ctx.names.app or tags.get(TAG_ENV) in (None, ctx.names.env):
                continue
            containers = found["taskDefinition"].get("containerDefinitions") or []
            if any(
                str(c.get("image", "")).startswith(uri + "@") or str(c.get("image", "")).startswith(uri + ":")
                for c in containers
            ):
                envs.add(str(tags[TAG_ENV]))
    return envs


def untag_release(ctx: Context) -> None:
    """Remove this environment's ecsup- tags (its destroy): the images stay (each keeps its build tag)."""
    tags = [{"imageTag": ctx.names.release_tag(which)} for which in ("live", "previous")]
    with doing(f"remove the tags of environment {ctx.names.env} in ECR repository {ctx.names.repository}"):
        try:
            ctx.client("ecr").batch_delete_image(repositoryName=ctx.names.repository, imageIds=tags)
        except Exception as exc:
            if not is_code(exc, "RepositoryNotFoundException"):
                raise


def delete_repository(ctx: Context) -> str:
    with doing(f"delete ECR repository {ctx.names.repository}"):
        try:
            ctx.client("ecr").delete_repository(repositoryName=ctx.names.repository, force=True)
        except Exception as exc:
            if not is_code(exc, "RepositoryNotFoundException"):
                raise
    return "deleted with its images"


# -- the tag --------------------------------------------------------------------------------------
def _stamp(ctx: Context) -> str:
    return datetime.fromtimestamp(ctx.wall(), UTC).strftime("%Y%m%d%H%M%S")


def git_tag(ctx: Context, context: Path) -> tuple[str, bool]:
    """(tag, dirty): the commit (12 hex digits), ``-dirty`` with uncommitted changes; outside a git
    repository (or without git): ``build-<UTC timestamp>``."""
    git = shutil.which("git")
    if git is None:
        return f"build-{_stamp(ctx)}", False
    head = subprocess.run(
        [git, "-C", str(context), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=False
    )
    if head.returncode != 0 or not head.stdout.strip():
        return f"build-{_stamp(ctx)}", False
    status = subprocess.run(
        [git, "-C", str(context), "status", "--porcelain"], capture_output=True, text=True, check=False
    )
    dirty = bool(status.stdout.strip())
    sha = head.stdout.strip()
    return (f"{sha}-dirty" if dirty else sha), dirty


# -- the build ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    context: Path
    dockerfile: Path
    args: tuple[tuple[str, str], ...]
    platform: str


def source(ctx: Context, path: str | None = None) -> Source:
    """Where the build is: ``path`` (deploy --build PATH, relative to the working directory), else
    [service] build (relative to ecsup.toml's directory); the Dockerfile likewise."""
    svc = ctx.config.service
    base = Path(ctx.config.path or "ecsup.toml").resolve().parent
    if path is not None:
        context = Path(path).resolve()
        if not context.is_dir():
            raise OptionError(f"--build {path}: not a directory (a Docker build context)", hint="e.g. --build .")
    else:
        context = (base / svc.build).resolve()
        if not context.is_dir():
            raise ConfigError([("service.build", f"{svc.build!r} is not a directory (from {base})")])
    dockerfile = (base / svc.build_dockerfile).resolve() if svc.build_dockerfile else context / "Dockerfile"
    if not dockerfile.is_file():
        key = "service.build_dockerfile" if svc.build_dockerfile else "service.build"
        raise ConfigError([(key, f"there is no Dockerfile at {dockerfile}")])
    return Source(context, dockerfile, svc.build_args, PLATFORMS.get(svc.cpu_architecture, "linux/amd64"))


def docker() -> str:
    found = shutil.which("docker")
    if found is None:
        raise BuildFailed(
            "docker is not on PATH: [service] build needs Docker to build the image; nothing was changed",
            hint="install Docker (or start Docker Desktop), or set service.image to an image pushed elsewhere",
        )
    return found


def _run(ctx: Context, argv: list[str], stage: str, stdin: str | None = None) -> tuple[int, list[str]]:
    """Run docker, its output streamed to the UI line by line; (exit code, the last lines)."""
    tail: list[str] = []
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    assert proc.stdout is not None
    for line in _lines(proc.stdout):
        tail = [*tail, line][-20:]
        ctx.ui.build_progress(stage, line)
    return proc.wait(), tail


def _lines(stream: Any) -> Iterator[str]:
    for raw in stream:
        line = raw.rstrip()
        if line:
            yield line


def _failed(what: str, code: int, tail: list[str], created: bool) -> BuildFailed:
    last = next((line for line in reversed(tail) if "error" in line.lower()), tail[-1] if tail else "")
    made = (
        "only the ECR repository was created (it is kept: the next build pushes to it)"
        if created
        else "nothing was changed in AWS"
    )
    return BuildFailed(f"{what} failed (exit {code}): {last.strip()[:300]}; {made}", hint=_BUILD_HINT)


_BUILD_HINT = "fix the build (the lines above are docker's), then run the command again"


def _has_buildx(binary: str) -> bool:
    return subprocess.run([binary, "buildx", "version"], capture_output=True, check=False).returncode == 0


def login(ctx: Context, binary: str, registry: str) -> None:
    """docker login to the registry with ecr:GetAuthorizationToken's password, on stdin."""
    with doing("get an ECR authorization token"):
        data = ctx.client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    ctx.secret_values.add(password)  # never printed (context.redact)
    code, tail = _run(ctx, [binary, "login", "--username", user, "--password-stdin", registry], "login", password)
    if code != 0:
        raise BuildFailed(f"docker login to {registry} failed (exit {code}): {(tail or [''])[-1][:300]}")


@dataclass
class Built:
    image: str  # <uri>@sha256:...
    tag: str
    reused: bool  # the tag was in the repository already: nothing was built
    created_repository: bool = False


def build_image(ctx: Context, path: str | None = None) -> Built:
    """Build the image for the service's architecture, push it to the app's repository (made if
    missing), and return its reference by digest. A tag pushed already (the same commit, clean) is
    used as it is: the tags are immutable, and the commit names the image. A dirty tree's tag pushed
    already gets a timestamp suffix."""
    src = source(ctx, path)
    binary = docker()
    tag, dirty = git_tag(ctx, src.context)
    repo, created = ensure_repository(ctx)
    digest = image_digest(ctx, tag)
    if digest is not None and not dirty:
        ctx.ui.build_progress("build", f"{repo.uri}:{tag} is in the repository already ({digest}): not built again")
        return Built(f"{repo.uri}@{digest}", tag, True, created)
    if digest is not None:
        tag = f"{tag}-{_stamp(ctx)}"
    login(ctx, binary, repo.registry)
    ref = f"{repo.uri}:{tag}"
    args = [a for k, v in src.args for a in ("--build-arg", f"{k}={v}")]
    if _has_buildx(binary):
        # --provenance=false: one image manifest (no attestation index), as ECS and the lifecycle policy see it
        argv = [binary, "buildx", "build", "--platform", src.platform, "--provenance=false", "--progress=plain"]
        argv += ["-t", ref, "-f", str(src.dockerfile), *args, "--push", str(src.context)]
        code, tail = _run(ctx, argv, "build")
        if code != 0 and not _pushed_meanwhile(ctx, tag, dirty):
            raise _failed("docker buildx build --push", code, tail, created)
    else:
        argv = [binary, "build", "--platform", src.platform, "-t", ref, "-f", str(src.dockerfile), *args]
        code, tail = _run(ctx, [*argv, str(src.context)], "build")
        if code != 0:
            raise _failed("docker build", code, tail, created)
        code, tail = _run(ctx, [binary, "push", ref], "push")
        if code != 0 and not _pushed_meanwhile(ctx, tag, dirty):
            raise _failed("docker push", code, tail, created)
    digest = image_digest(ctx, tag)
    if digest is None:
        raise BuildFailed(
            f"the push reported success but {ref} is not in ECR repository {repo.name}",
            hint="check that docker pushes to this account and region, then run the command again",
        )
    ctx.ui.build_progress("push", f"pushed {ref} ({digest})")
    return Built(f"{repo.uri}@{digest}", tag, False, created)


def _pushed_meanwhile(ctx: Context, tag: str, dirty: bool) -> bool:
    """A push refused because the tag exists now: another run (another environment's create, a CI
    job) pushed the same clean commit meanwhile. Its image is the commit's: use it."""
    if dirty or image_digest(ctx, tag) is None:
        return False
    ctx.ui.build_progress("push", f"{tag} was pushed by another run meanwhile: using that image (the same commit)")
    return True


def registry_uri(ctx: Context) -> str:
    """The repository's URI before it exists (for a plan)."""
    suffix = "amazonaws.com.cn" if ctx.region.startswith("cn-") else "amazonaws.com"
    return f"{ctx.account_id}.dkr.ecr.{ctx.region}.{suffix}/{ctx.names.repository}"


def digest_of(image: str) -> str | None:
    return image.split("@", 1)[1] if "@" in image else None


# -- create and plan ------------------------------------------------------------------------------
def service_image(ctx: Context) -> str | None:
    """The image this stack's ECS service was last given by `create` (its ecsup:image tag), else the
    one it runs; None when no ACTIVE service of this stack exists (create then builds the first)."""
    from .names import tag_dict
    from .steps.ecs import IMAGE_TAG, find_service

    svc = find_service(ctx, unseen_cluster=True)
    if svc is None or svc.get("status") != "ACTIVE":
        return None
    tags = tag_dict(svc.get("tags"), "key", "value")
    if not ctx.names.owns(tags):
        return None
    if tags.get(IMAGE_TAG):
        return str(tags[IMAGE_TAG])
    with doing(f"describe task definition {str(svc.get('taskDefinition', '')).split('/')[-1]}"):
        td = ctx.client("ecs").describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    images = [str(c.get("image")) for c in td.get("containerDefinitions") or [] if c.get("name") == ctx.names.container]
    return images[0] if images else None


def _use(ctx: Context, image: str) -> None:
    """The image this run gives the service (config.service.image stands for it from here on)."""
    from dataclasses import replace

    ctx.config = replace(ctx.config, service=replace(ctx.config.service, image=image))


PLANNED_BUILD = "build_planned"  # ctx.facts: the image a plan would build (steps/repository.py shows it)


def plan_image(ctx: Context) -> None:
    """Planning with [service] build: the image the stack is given -- the service's (a create builds
    nothing then), else ``<repository>:<tag>`` as the build would push it (its digest is known only
    after the push: ``build_first_image``). Read-only; a create that will build checks here, with the
    plan's other checks, that Docker is there (exit 12 before any change)."""
    if not ctx.config.service.build or ctx.config.service.image:
        return
    running = service_image(ctx)
    if running is not None:
        _use(ctx, running)
        return
    try:
        tag = git_tag(ctx, source(ctx).context)[0]
    except ConfigError:
        if ctx.mode != "status":
            raise
        tag = "(not built)"
    if ctx.mode == "apply":
        docker()
    image = f"{registry_uri(ctx)}:{tag}"
    ctx.facts[PLANNED_BUILD] = image
    _use(ctx, image)


def build_first_image(ctx: Context, report: Any = None) -> bool:
    """`create` of a stack whose service does not exist yet, with [service] build: once the plan (all
    its checks) passed, build and push the first image, and give the stack its reference by digest.
    True when it did: the stack is then planned again with it. Before anything else is changed, so a
    failed build changes nothing but the repository (when this run made it). ``report``: the engine's
    reporter, for the repository's and the image's lines."""
    from .plan import Action

    if ctx.mode != "apply" or not ctx.facts.get(PLANNED_BUILD):
        return False
    built = build_image(ctx)
    digest = digest_of(built.image)
    if report is not None:
        if built.created_repository:
            report(Action("create", "ECR repository", ctx.names.repository, result="tags immutable, scan on push"))
        verb: Literal["noop", "create"] = "noop" if built.reused else "create"
        report(Action(verb, "image", f"{ctx.names.repository}:{built.tag}", digest or "", result=digest))
    if digest:
        protect(ctx, digest)
    _use(ctx, built.image)
    return True
