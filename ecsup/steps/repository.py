"""[service] build: the app's ECR repository (build.py has its settings and calls).

Planned with the stack: missing (a plan of a new stack: create builds into it first), its settings
or lifecycle policy changed by hand (put back), or a same-named repository that is not the app's
(a conflict, exit 4). Destroy keeps it (the app's other environments push to and deploy from it):
it removes only this environment's release tags, and with ``--purge`` deletes it, images and all,
when no other environment of the app uses it (their release tags in it, their task definitions).
"""

from __future__ import annotations

from .. import build
from ..context import Context
from ..plan import Action, Change
from . import Step, foreign, service_ref

RESOURCE = "ECR repository"


class RepositoryStep(Step):
    title = "ECR repository"
    reads = ()

    def plan(self, ctx: Context) -> list[Action]:
        if not ctx.config.service.build:
            return []
        name = ctx.names.repository
        repo = build.find_repository(ctx)
        planned = ctx.facts.get(build.PLANNED_BUILD)
        image = (
            [Action("create", "image", planned.rsplit("/", 1)[-1], "built with docker, pushed, deployed by digest")]
            if planned
            else []
        )
        if repo is None:
            detail = (
                f"tags immutable (but {build.RELEASE_TAG_PREFIX}*), scan on push, keeps the last {build.KEEP_IMAGES}"
            )
            return [Action("create", RESOURCE, name, detail, run=lambda: self._create(ctx)), *image]
        if not ctx.names.owns_repository(repo.tags):
            ctx.conflicts.append(build.foreign_message(ctx))
            return []
        changes = [Change(what, have, want) for what, have, want in build.drift(repo)]
        if changes:
            return [
                Action("update", RESOURCE, name, "ecsup's settings", changes, run=lambda: self._converge(ctx)),
                *image,
            ]
        return [Action("noop", RESOURCE, name, repo.uri), *image]

    def _create(self, ctx: Context) -> str:
        return build.create_repository(ctx).uri

    def _converge(self, ctx: Context) -> str:
        repo = build.find_repository(ctx)
        if repo is None:
            return self._create(ctx)
        return build.converge_repository(ctx, repo).uri

    def plan_destroy(self, ctx: Context) -> list[Action]:
        if not ctx.config.service.build:
            return []
        repo = build.find_repository(ctx)
        if repo is None:
            return []
        name = ctx.names.repository
        if not ctx.names.owns_repository(repo.tags):
            return [foreign(ctx, RESOURCE, name)]
        after = (service_ref(ctx),)  # the service's tasks pull from it until they are gone
        mine = [ctx.names.release_tag(w) for w in ("live", "previous")]
        tagged = any(tag in mine for image in build.images(ctx) for tag in image.get("imageTags") or [])
        untag = (
            [
                Action(
                    "delete",
                    "image tags",
                    f"{name}:{build.RELEASE_TAG_PREFIX}{ctx.names.env}-*",
                    run=lambda: self._untag(ctx),
                    after=after,
                )
            ]
            if tagged
            else []
        )
        if not ctx.facts.get("purge"):
            why = (
                "shared by the app's environments; `ecsup destroy --purge` deletes it when no other environment uses it"
            )
            return [*untag, Action("keep", RESOURCE, name, why)]
        others = sorted(build.release_tags_of_others(ctx) | build.families_of_others(ctx, repo.uri))
        if others:
            why = f"environment(s) {', '.join(others)} of app {ctx.names.app} use it: kept"
            return [*untag, Action("keep", RESOURCE, name, why)]
        return [
            Action("delete", RESOURCE, name, "with its images", run=lambda: build.delete_repository(ctx), after=after)
        ]

    def _untag(self, ctx: Context) -> str:
        build.untag_release(ctx)
        return "removed (the images stay)"
