"""Deterministic names and ownership tags, derived from app and env.

No other module builds a resource name by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

TAG_APP = "ecsup:app"
TAG_ENV = "ecsup:env"
TAG_MANAGED = "ManagedBy"
# The second owner: the shared part of a shared load balancer (ALB, its security group, its
# listeners) carries this tag, with the shared name as value, and no ecsup:app/ecsup:env.
TAG_SHARED = "ecsup:shared-lb"
MANAGED_VALUE = "ecsup"
# On a stack's rule on a shared load balancer: the ARN of the certificate the stack serves its
# hostname with (its own, or dns.certificate_arn), attached to the listener or not -- what a stack
# leaving the listener hands the default certificate over to.
TAG_CERTIFICATE = "ecsup:certificate"

ELB_NAME_LIMIT = 32
# Image tags ecsup moves in the app's ECR repository (Names.release_tag): the only mutable ones there.
RELEASE_TAG_PREFIX = "ecsup-"
# A preview (previews.py) is the stack <app>-<name>: env = the preview's name. Its marker
# parameter carries these besides the stack's tags; `preview list` and `gc` find previews by them.
TAG_PREVIEW = "ecsup:preview"  # the preview's name
TAG_PREVIEW_CREATED = "ecsup:preview-created"  # when its first `preview up` began (ISO 8601, UTC)
# On the previews' certificate for *.<domain>: the domain (and TAG_SHARED: the load balancer it is on)
TAG_PREVIEW_DOMAIN = "ecsup:preview-domain"
# On that certificate while the last preview out deletes it: a preview going up then requests another
TAG_RETIRING = "ecsup:retiring"
PREVIEWS_PATH = "/ecsup/previews"


@dataclass(frozen=True)
class Names:
    app: str
    env: str
    shared: str = ""  # [load_balancer] shared: the shared load balancer's name ("" = the stack's own)
    # Which of the stack's two pairs of target groups it uses (steps/move.py): an ALB target
    # group belongs to one load balancer at a time, so moving a stack between its own load
    # balancer and a shared one builds the other pair on the new one while the old one serves.
    pair: int = 1
    # [load_balancer] internal: the stack's own load balancer is internal, named <app>-<env>-int. A
    # load balancer's scheme cannot change, so changing the key moves the stack to the other name
    # (steps/move.py), as between an own and a shared load balancer.
    internal: bool = False

    @property
    def stack(self) -> str:
        return f"{self.app}-{self.env}"

    cluster = service = family = stack

    @property
    def alb(self) -> str:
        """The stack's own load balancer, or the shared one it joins."""
        return self.shared or self.own_alb

    @property
    def own_alb(self) -> str:
        return f"{self.stack}-int" if self.internal else self.stack

    def own(self, name: str) -> Names | None:
        """These names on the stack's own load balancer called ``name`` (internal or not); None when
        ``name`` is neither of its own."""
        for internal in (self.internal, not self.internal):
            if name == replace(self, shared="", internal=internal).own_alb:
                return replace(self, shared="", internal=internal)
        return None

    @property
    def rule(self) -> str:
        """How plan, status and destroy name the stack's rule on a shared load balancer."""
        return f"{self.shared} {self.stack}"

    @property
    def container(self) -> str:
        return self.app

    @property
    def tg_blue(self) -> str:
        return f"{self.stack}-blue" if self.pair == 1 else f"{self.stack}-blu2"

    @property
    def tg_green(self) -> str:
        # pair 2's names are shorter than pair 1's: the 32-character check of pair 1 covers both
        return f"{self.stack}-green" if self.pair == 1 else f"{self.stack}-grn2"

    @property
    def other_pair(self) -> int:
        return 2 if self.pair == 1 else 1

    def pair_of(self, target_group: str) -> int | None:
        """Which pair a target group name (or ARN) of this stack belongs to; None: not one of them."""
        name = target_group.split("/")[-2] if target_group.startswith("arn:") else target_group
        for pair in (1, 2):
            if name in (replace(self, pair=pair).tg_blue, replace(self, pair=pair).tg_green):
                return pair
        return None

    @property
    def execution_role(self) -> str:
        return f"{self.stack}-execution"

    @property
    def task_role(self) -> str:
        return f"{self.stack}-task"

    @property
    def infrastructure_role(self) -> str:
        """ECS's role for blue/green, linear and canary deployments (moves listener traffic)."""
        return f"{self.stack}-infrastructure"

    @property
    def github_deploy_role(self) -> str:
        """The role GitHub Actions assumes through OIDC (`ecsup ci bootstrap`): <app>-<env>-github-deploy."""
        from .policies import GITHUB_DEPLOY_SUFFIX

        return f"{self.stack}{GITHUB_DEPLOY_SUFFIX}"

    @property
    def execution_policy(self) -> str:
        return "ecsup-secrets"

    @property
    def exec_policy(self) -> str:
        """The task role's inline policy for ECS Exec ([service] exec = true)."""
        return "ecsup-exec"

    @property
    def sg_alb(self) -> str:
        return f"ecsup-shared-{self.shared}" if self.shared else f"{self.stack}-alb"

    @property
    def own_sg_alb(self) -> str:
        return f"{self.stack}-alb"

    @property
    def sg_tasks(self) -> str:
        return f"{self.stack}-tasks"

    @property
    def log_group(self) -> str:
        return f"/ecs/{self.stack}"

    def alarm(self, what: str) -> str:
        """ecsup's deployment alarms: ecsup-<app>-<env>-<what> (5xx, latency)."""
        return f"ecsup-{self.stack}-{what}"

    def elb_names(self) -> dict[str, str]:
        """Names limited to 32 characters by Elastic Load Balancing."""
        return {"load balancer": self.alb, "blue target group": self.tg_blue, "green target group": self.tg_green}

    @property
    def lock_parameter(self) -> str:
        return f"/ecsup/{self.stack}/lock"

    @property
    def generation_parameter(self) -> str:
        """Rewritten by every run that changed the stack, when it releases the lock."""
        return f"/ecsup/{self.stack}/generation"

    @property
    def shared_lock_parameter(self) -> str:
        return f"/ecsup/shared-lb/{self.shared}/lock"

    @property
    def shared_generation_parameter(self) -> str:
        """Written by earlier versions at each release of the shared lock (nothing reads it): the
        last stack out deletes any left (steps/shared.py, forget_shared)."""
        return f"/ecsup/shared-lb/{self.shared}/generation"

    def owner_marker(self) -> str:
        """Value of the TXT record that marks a DNS record as this stack's."""
        return f'"heritage=ecsup,ecsup:app={self.app},ecsup:env={self.env}"'

    def certificate_token(self) -> str:
        """ACM IdempotencyToken: letters and digits only, at most 32 characters."""
        return "".join(ch for ch in f"ecsup{self.app}{self.env}" if ch.isalnum())[:32]

    # -- workers and jobs (workloads.py) -------------------------------------
    def workload(self, name: str) -> str:
        """A worker's ECS service and task definition family, a job's family: <app>-<env>-<name>."""
        return f"{self.stack}-{name}"

    def schedule(self, job: str) -> str:
        """A job's EventBridge Scheduler schedule (in the stack's schedule group)."""
        return f"{self.stack}-{job}"

    @property
    def schedule_group(self) -> str:
        return self.stack

    @property
    def scheduler_role(self) -> str:
        """The role EventBridge Scheduler runs the jobs' tasks with."""
        return f"{self.stack}-scheduler"

    @property
    def jobs_role(self) -> str:
        """The role the jobs' Step Functions state machines run with (RunTask and what runTask.sync needs)."""
        return f"{self.stack}-jobs"

    @property
    def job_runs_rule(self) -> str:
        """The EventBridge rule that keeps the jobs' stopped tasks' state-change events."""
        return f"ecsup-{self.stack}-job-runs"

    @property
    def job_runs_log_group(self) -> str:
        """Where that rule delivers them: EventBridge's CloudWatch Logs targets must be under /aws/events/."""
        return f"/aws/events/ecsup/{self.stack}/job-runs"

    def job_alarm(self, job: str) -> str:
        return self.alarm(f"job-{job}-failed")

    # -- the app's image repository (build.py) --------------------------------
    @property
    def repository(self) -> str:
        """The app's ECR repository, shared by its environments: <app>."""
        return self.app

    def repository_tags(self) -> dict[str, str]:
        """The repository's owner: the app (no environment: every environment of the app uses it)."""
        return {TAG_APP: self.app, TAG_MANAGED: MANAGED_VALUE}

    def owns_repository(self, tags: Mapping[str, str]) -> bool:
        return all(tags.get(k) == v for k, v in self.repository_tags().items())

    def release_tag(self, which: str) -> str:
        """The image tags that mark what this environment runs (``live``) and ran before (``previous``):
        mutable (the repository's exclusion filter ecsup-*), kept by its lifecycle policy."""
        return f"{RELEASE_TAG_PREFIX}{self.env}-{which}"

    # -- previews (previews.py) -----------------------------------------------
    @property
    def preview_marker(self) -> str:
        """The SSM parameter that makes the stack a preview of its app (env = the preview's name)."""
        return f"{previews_path(self.app)}/{self.env}"

    # -- tags ---------------------------------------------------------------
    def tags(self) -> dict[str, str]:
        return {TAG_APP: self.app, TAG_ENV: self.env, TAG_MANAGED: MANAGED_VALUE}

    def tag_list(self, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
        return [{key: k, value: v} for k, v in self.tags().items()]

    def owns(self, tags: Mapping[str, str]) -> bool:
        return all(tags.get(k) == v for k, v in self.tags().items())

    def shared_tags(self) -> dict[str, str]:
        """The shared part's owner: the shared load balancer itself, no single stack."""
        return {TAG_SHARED: self.shared, TAG_MANAGED: MANAGED_VALUE}

    def shared_tag_list(self) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in self.shared_tags().items()]

    def owns_shared(self, tags: Mapping[str, str]) -> bool:
        return bool(self.shared) and all(tags.get(k) == v for k, v in self.shared_tags().items())


def previews_path(app: str) -> str:
    """Where the markers of an app's previews are (one level: /ecsup/previews/<app>/<name>)."""
    return f"{PREVIEWS_PATH}/{app}"


def tag_dict(tags: Iterable[Mapping[str, str]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in tags or []}


# -- ecsup's own network ([network] shared; steps/vpc.py) --------------------------------------
# Everything of the network carries ecsup:network = its name and ManagedBy = ecsup (no ecsup:app /
# ecsup:env: the network is no single stack's); it is found by these tags, never by its Name alone.
# What the egress layouts add (steps/egress.py) carries ecsup:egress too, naming its part, so that
# deleting them never touches the VPC's own.
TAG_NETWORK = "ecsup:network"
TAG_EGRESS = "ecsup:egress"


def network_tags(name: str) -> dict[str, str]:
    return {TAG_NETWORK: name, TAG_MANAGED: MANAGED_VALUE}


def network_resource(name: str, what: str = "") -> str:
    """ecsup-net-<name> (the VPC), ecsup-net-<name>-<what> (its parts): subnets
    ecsup-net-<name>-public-<zone> / -private-<zone>."""
    return f"ecsup-net-{name}" + (f"-{what}" if what else "")


def network_tag_list(name: str, resource_name: str = "") -> list[dict[str, str]]:
    """The network's tags, and a Name tag when ``resource_name`` is given (how consoles show it)."""
    tags = [{"Key": k, "Value": v} for k, v in network_tags(name).items()]
    return tags + ([{"Key": "Name", "Value": resource_name}] if resource_name else [])


def owns_network(name: str, tags: Mapping[str, str]) -> bool:
    return bool(name) and all(tags.get(k) == v for k, v in network_tags(name).items())


def network_vpc(name: str) -> str:
    """The VPC's (and its internet gateway's, route tables' base) Name: ecsup-net-<name>."""
    return network_resource(name)


def network_subnet(name: str, kind: str, zone: str) -> str:
    """A subnet's Name: ecsup-net-<name>-public-<zone> / -private-<zone> (zone: its zone name)."""
    return network_resource(name, f"{kind}-{zone}")


def network_lock_parameter(name: str) -> str:
    return f"/ecsup/network/{name}/lock"


def network_member_parameter(name: str, stack: str) -> str:
    """The marker a stack on the network keeps while it uses it (written and deleted under the
    network's lock): the last stack out is the one that finds no other marker."""
    return f"/ecsup/network/{name}/stacks/{stack}"


def network_members_path(name: str) -> str:
    return f"/ecsup/network/{name}/stacks"
