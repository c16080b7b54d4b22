"""The emulation's assumptions about AWS that a real account can settle, in one place.

Each entry says what the emulation (and so every test and the sandbox) takes AWS to do, where
that comes from, which emulation module plays it, and which check of the acceptance kit
(``scripts/acceptance``, ``ecsup/acceptance/``) observes it in a real account. When a run in a
real account finds otherwise, the finding changes the entry here (its statement and sources)
and the emulation module it names -- not a guess somewhere in the code. docs/acceptance.md
lists the same entries (tests/test_acceptance.py checks that the page and this registry agree,
and that every check of the kit verifies an entry).

Pure data: importing it needs nothing but this package.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assumption:
    id: str
    title: str
    statement: str  # what the emulation takes AWS to do
    sources: tuple[str, ...]  # AWS documentation pages, trackers, live observations
    emulation: str  # the module (and function) that plays it
    check: str  # the acceptance kit's check that observes it (ecsup/acceptance/checks.py); "" for none
    deciding: bool = False  # releases depend on it and no document settles it
    # with no check: why the kit does not observe it (what observing it would take)
    unchecked: str = ""


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption(
        id="shared-listener-blue-green",
        title="Blue/green on a listener with a fixed-response default and other rules",
        statement=(
            "ECS's built-in blue/green deployment succeeds when its production listener rule is a host rule on "
            "a listener whose default action is a fixed-response (404) and which has other stacks' rules; ECS "
            "rewrites only that rule's weights."
        ),
        sources=(
            "ECS Developer Guide, 'Application Load Balancer resources for blue/green deployments' "
            "(docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html): the English "
            "page lists no limitation; the German, Indonesian and other translated pages list one ('not supported "
            "when listeners have multiple action types configured with non-forward actions')",
            "ECS API reference, AdvancedConfiguration.productionListenerRule",
        ),
        emulation="emulation/deployments.py (_validate_advanced, _network_problem: only the production rule is read)",
        check="shared_blue_green",
        deciding=True,
    ),
    Assumption(
        id="default-rule-production",
        title="The listener's default rule as the production rule",
        statement=(
            "ECS accepts an HTTPS listener's default rule (DescribeRules IsDefault) as the productionListenerRule "
            "of a blue/green service, and a deployment rewrites that rule's forward weights."
        ),
        sources=(
            "ECS API reference, AdvancedConfiguration.productionListenerRule (a rule ARN; the default rule has one)",
            "ECS Developer Guide, 'Application Load Balancer resources for blue/green deployments'",
        ),
        emulation="emulation/deployments.py (_find_rule: a listener's default rule is found by its ARN; _shift)",
        check="default_rule",
        deciding=True,
    ),
    Assumption(
        id="move-load-balancers",
        title="UpdateService(loadBalancers) under blue/green: a move between load balancers",
        statement=(
            "An UpdateService that changes a BLUE_GREEN service's load balancers starts a deployment: the new "
            "tasks register in the new load balancer's target group, the old tasks keep serving the old load "
            "balancer's group through the bake, and leave it at clean-up."
        ),
        sources=(
            "ECS API reference, UpdateService loadBalancers ('Amazon ECS starts new tasks with the updated "
            "Elastic Load Balancing configuration, and then stops the old tasks when the new tasks are running')",
            "ECS Developer Guide, 'View service history using Amazon ECS service deployments'",
        ),
        emulation="emulation/deployments.py (update_service, _new_deployment: sources keep their group)",
        check="move_bake",
        deciding=True,
    ),
    Assumption(
        id="move-rollback",
        title="What a rollback of a move restores",
        statement=(
            "When a move's deployment is rolled back, ECS restores the service revision before it whole, load "
            "balancers included: the service names the old target groups again and the old tasks serve the old "
            "load balancer; the new group is left without targets."
        ),
        sources=(
            "ECS API reference, ServiceRevision (a revision carries its loadBalancers)",
            "ECS Developer Guide, 'Amazon ECS blue/green service deployments workflow' (rollback)",
        ),
        emulation="emulation/deployments.py (_rolling_back: the source revision's load balancers come back)",
        check="move_rollback",
        deciding=True,
    ),
    Assumption(
        id="execution-role-source-account",
        title="The execution role's aws:SourceAccount trust condition",
        statement=(
            "ECS satisfies a StringEquals aws:SourceAccount condition in the task execution role's trust policy "
            "when it assumes the role: the tasks start and read their secrets."
        ),
        sources=(
            "ECS Developer Guide, 'Amazon ECS task execution IAM role' and 'Amazon ECS task IAM role' (confused "
            "deputy conditions)",
            "IAM User Guide, 'The confused deputy problem'",
        ),
        emulation="emulation/iam.py (trust conditions are not evaluated: the role is always assumed)",
        check="execution_role",
        deciding=True,
    ),
    Assumption(
        id="configuration-only-update",
        title="An UpdateService of the deployment configuration alone",
        statement=(
            "An UpdateService that changes only deploymentConfiguration (the strategy switch after the first "
            "deployment, alarms) starts no service deployment."
        ),
        sources=(
            "ECS Developer Guide, 'View service history using Amazon ECS service deployments' (what starts a "
            "deployment)",
        ),
        emulation="emulation/deployments.py (update_service: only the task definition, load balancers, network "
        "configuration or forceNewDeployment start one)",
        check="configuration_only",
        deciding=True,
    ),
    Assumption(
        id="deployment-configuration-merge",
        title="An UpdateService's deploymentConfiguration is merged into the service's",
        statement=(
            "UpdateService merges the deploymentConfiguration it is given into the service's, field by field: a "
            "linearConfiguration set before stays when the update leaves it out, so a switch from LINEAR to CANARY "
            "that leaves it out is refused (InvalidParameterException: linearConfiguration is only valid with the "
            "LINEAR deployment strategy)."
        ),
        sources=(
            "ECS API reference, UpdateService deploymentConfiguration and DeploymentConfiguration (silent on "
            "fields left out)",
            "hashicorp/terraform-provider-aws#44842 (TestAccECSService_CanaryDeployment_changeStrategy sends the "
            "whole block)",
        ),
        emulation="emulation/deployments.py (update_service: {**old, **given}, then validate)",
        check="strategy_switch",
        deciding=True,
    ),
    Assumption(
        id="alarms-linear",
        title="Deployment alarms under the linear strategy",
        statement=(
            "An alarm of deploymentConfiguration.alarms that goes into ALARM during a LINEAR deployment fails it, "
            "and ECS rolls it back (ROLLBACK_SUCCESSFUL, alarms TRIGGERED)."
        ),
        sources=(
            "ECS Developer Guide, 'How CloudWatch alarms detect Amazon ECS deployment failures' (names rolling and "
            "blue/green only)",
        ),
        emulation="emulation/deployments.py (_alarm_fired, _alarm_failed: every strategy)",
        check="alarms_linear",
        deciding=True,
    ),
    Assumption(
        id="alarms-canary",
        title="Deployment alarms under the canary strategy",
        statement=(
            "An alarm of deploymentConfiguration.alarms that goes into ALARM during a CANARY deployment fails it, "
            "and ECS rolls it back (ROLLBACK_SUCCESSFUL, alarms TRIGGERED)."
        ),
        sources=(
            "ECS Developer Guide, 'How CloudWatch alarms detect Amazon ECS deployment failures' (names rolling and "
            "blue/green only)",
        ),
        emulation="emulation/deployments.py (_alarm_fired, _alarm_failed: every strategy)",
        check="alarms_canary",
        deciding=True,
    ),
    Assumption(
        id="alarm-in-alarm-at-start",
        title="An alarm already in ALARM when a deployment starts",
        statement=(
            "ECS fails a deployment for an alarm of deploymentConfiguration.alarms only when the alarm goes into "
            "ALARM after the deployment started: one already in ALARM when it starts, and never changed during "
            "it, does not fail it."
        ),
        sources=(
            "aws/copilot-cli#4512 ('the rollback setting is ignored if the alarms are already in alarm state')",
            "ECS Developer Guide, 'How CloudWatch alarms detect Amazon ECS deployment failures'",
        ),
        emulation="emulation/deployments.py (_alarm_fired: only entries into ALARM after the deployment was "
        "created) and emulation/cloudwatch.py (when an alarm entered ALARM)",
        check="alarm_at_start",
        deciding=True,
    ),
    Assumption(
        id="breaker-linear",
        title="The circuit breaker under the linear strategy",
        statement=(
            "With deploymentCircuitBreaker {enable, rollback}, a LINEAR deployment whose tasks fail is rolled back "
            "by ECS (ROLLBACK_SUCCESSFUL, circuit breaker TRIGGERED)."
        ),
        sources=(
            "ECS Developer Guide, 'How the Amazon ECS deployment circuit breaker detects failures' (names rolling "
            "and blue/green only)",
            "ECS API reference, DeploymentCircuitBreaker",
        ),
        emulation="emulation/deployments.py (_failing, _trip: every strategy)",
        check="breaker_linear",
        deciding=True,
    ),
    Assumption(
        id="breaker-canary",
        title="The circuit breaker under the canary strategy",
        statement=(
            "With deploymentCircuitBreaker {enable, rollback}, a CANARY deployment whose tasks fail is rolled back "
            "by ECS (ROLLBACK_SUCCESSFUL, circuit breaker TRIGGERED)."
        ),
        sources=(
            "ECS Developer Guide, 'How the Amazon ECS deployment circuit breaker detects failures' (names rolling "
            "and blue/green only)",
            "ECS API reference, DeploymentCircuitBreaker",
        ),
        emulation="emulation/deployments.py (_failing, _trip: every strategy)",
        check="breaker_canary",
        deciding=True,
    ),
    Assumption(
        id="first-deployment-lifecycle",
        title="A blue/green service's first deployment",
        statement=(
            "CreateService with the BLUE_GREEN strategy runs the whole lifecycle: its tasks go to the alternate "
            "target group, production shifts to it, and the deployment ends SUCCESSFUL with the alternate group "
            "live."
        ),
        sources=(
            "go-to-k/cdk-real-drift#1730 ('green=100/blue=0 after the initial deployment', observed live)",
            "hashicorp/terraform-provider-aws#43434 (waits for the first deployment's SUCCESSFUL)",
        ),
        emulation="emulation/deployments.py (_new_deployment: initial blue/green deployments run _start)",
        check="first_deployment",
    ),
    Assumption(
        id="production-weights",
        title="ECS rewrites the production rule's weights",
        statement=(
            "At the end of every successful blue/green, linear or canary deployment the production listener rule "
            "forwards 100 to the target group of the new tasks and 0 to the other."
        ),
        sources=(
            "ECS Developer Guide, 'Amazon ECS blue/green deployments'",
            "go-to-k/cdk-real-drift#1730 (weights rewritten on the rule, observed live)",
        ),
        emulation="emulation/deployments.py (_shift, _rewrite)",
        check="production_weights",
    ),
    Assumption(
        id="stop-rollback",
        title="StopServiceDeployment(ROLLBACK) during the bake",
        statement=(
            "StopServiceDeployment with stopType ROLLBACK on a deployment in its bake moves production back to "
            "the old target group and ends ROLLBACK_SUCCESSFUL, the service on its previous task definition."
        ),
        sources=(
            "ECS API reference, StopServiceDeployment",
            "ECS Developer Guide, 'Stopping Amazon ECS service deployments'",
        ),
        emulation="emulation/deployments.py (stop_service_deployment, _rolling_back)",
        check="probe_rollback",
    ),
    Assumption(
        id="one-off-task-exit-code",
        title="A one-off task's exit code and logs",
        statement=(
            "RunTask of the service's revision with a command override stops with EssentialContainerExited, the "
            "container's exit code, and its output in the awslogs stream `<prefix>/<container>/<task id>`."
        ),
        sources=(
            "ECS Developer Guide, 'Amazon ECS task lifecycle' and 'Using the awslogs log driver'",
            "ECS API reference, Container.exitCode",
        ),
        emulation="emulation/tasks.py (run_task, advance, _write_lines)",
        check="one_off_task",
    ),
    Assumption(
        id="acm-validation-record",
        title="ACM's validation record is the same in every region",
        statement=(
            "DNS validation of the same names gives the same CNAME (name and value) for a certificate in the "
            "stack's region and for one in us-east-1."
        ),
        sources=(
            "ACM User Guide, 'DNS validation' (the CNAME is per domain name and account)",
            "hashicorp/terraform-provider-aws (aws_acm_certificate: validation records shared across regions)",
        ),
        emulation="moto's ACM (a record derived from the name alone, whatever the region), kept by emulation/acm.py",
        check="acm_validation_record",
    ),
    Assumption(
        id="service-draining",
        title="A deleted service is DRAINING",
        statement=(
            "DeleteService (after scaling to 0) answers a service in status DRAINING, and DescribeServices keeps "
            "reporting it DRAINING (then INACTIVE) while its tasks stop."
        ),
        sources=(
            "ECS API reference, DeleteService",
            "hashicorp/terraform#9521 (DRAINING for minutes)",
        ),
        emulation="emulation/ecs.py (deleted services DRAINING for Delays.service_draining)",
        check="service_draining",
    ),
    Assumption(
        id="elb-503-without-a-target",
        title="The load balancer answers 503 itself for a group with no target",
        statement=(
            "A request forwarded to a target group with no registered target is answered 503 by the load "
            "balancer itself: HTTPCode_ELB_5XX_Count and HTTPCode_ELB_503_Count (dimension LoadBalancer) count "
            "it, and the group's RequestCount (TargetGroup + LoadBalancer) does not. A group whose registered "
            "targets are all unhealthy fails open instead (its targets get the requests). ecsup's 5xx alarm "
            "reads such an outage from these metrics."
        ),
        sources=(
            "ELB User Guide, 'Troubleshoot your Application Load Balancers' (HTTP 503: Service unavailable -- "
            "the target groups for the load balancer have no registered targets)",
            "ELB User Guide, 'CloudWatch metrics for your Application Load Balancer' (RequestCount: only "
            "incremented for requests where the load balancer node was able to choose a target; "
            "HTTPCode_ELB_5XX_Count per load balancer)",
            "ELB User Guide, 'Health checks for Application Load Balancer target groups' (fail open)",
            "aws/containers-roadmap#2853 (an error-rate alarm reading 0 % during such an outage)",
        ),
        emulation="emulation/traffic.py (requests: a group with no registered target is refused, per load balancer)",
        check="",
        unchecked=(
            "needs a group emptied of its targets on a live stack (its service scaled to 0 and the targets "
            "drained) before traffic is sent, then minutes of CloudWatch metrics"
        ),
    ),
    Assumption(
        id="healthy-host-count-per-group",
        title="HealthyHostCount per target group, in the minutes requests flow",
        statement=(
            "ELB publishes HealthyHostCount (and UnHealthyHostCount) with the dimensions TargetGroup + "
            "LoadBalancer for every target group attached to the load balancer, each minute requests flow "
            "through it, 0 included when no target is healthy; a minute without requests has no datapoint. "
            "ecsup's 5xx alarm on a shared load balancer takes a published 0 as the stack's outage, and a missing "
            "point as unknown (not 0)."
        ),
        sources=(
            "ELB User Guide, 'CloudWatch metrics for your Application Load Balancer' (HealthyHostCount: "
            "'Reported if health checks are enabled', dimensions TargetGroup, LoadBalancer; metrics are reported "
            "'only when requests are flowing through the load balancer', in 60-second intervals, and not when "
            "there is no data for a metric)",
        ),
        emulation="emulation/traffic.py (requests: HealthyHostCount for every group of the load balancer)",
        check="healthy_host_metric",
    ),
)

# the assumptions the kit observes (each names its check; the others say why they are not observed)
CHECKED: tuple[Assumption, ...] = tuple(a for a in ASSUMPTIONS if a.check)


def by_id() -> dict[str, Assumption]:
    """The assumptions the kit observes, by id."""
    return {a.id: a for a in CHECKED}


DOCS_START = "<!-- assumptions: generated from ecsup/emulation/assumptions.py by `scripts/acceptance --assumptions` -->"
DOCS_END = "<!-- end of assumptions -->"


def markdown() -> str:
    """The assumptions as docs/acceptance.md lists them (between DOCS_START and DOCS_END)."""
    out = [DOCS_START, ""]
    for a in ASSUMPTIONS:
        deciding = " Releases depend on it and no document settles it." if a.deciding else ""
        out += [
            f"### `{a.id}`: {a.title}",
            "",
            f"{a.statement}{deciding}",
            "",
            "- sources: " + "; ".join(a.sources),
            f"- played by: {a.emulation}",
            f"- checked by: `{a.check}`" if a.check else f"- not checked by the kit: {a.unchecked}",
            "",
        ]
    out.append(DOCS_END)
    return "\n".join(out) + "\n"
