"""The IAM policies ecsup's commands need, in one place.

docs/iam.md and docs/releasing.md show what these functions return (tests/test_iam_policies.py
checks it, and checks that every AWS call each command makes on the strict layer is allowed by
the policy documented for it); `python -m ecsup.policies --write-docs` rewrites the documented
blocks from here. The same functions are what a CI bootstrap creates the deploy role with.

Each policy is plain data (a dict ready for json.dumps). ecsup finds its resources by names and
tags, so its Describe/List calls cannot be narrowed to resources; its writes are on resources
named ``<app>-<env>...`` (and the shared load balancer's), most checked against the tags ecsup
gives at creation.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Policy = dict[str, Any]

VERSION = "2012-10-17"

# -- the operator: create, plan, status, cost, logs, deploy, rollback, run, exec, destroy ----------
READ_ACTIONS = (
    "acm:DescribeCertificate",
    "acm:ListCertificates",
    "acm:ListTagsForCertificate",
    "application-autoscaling:Describe*",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource",
    "ec2:Describe*",
    "ecs:Describe*",
    "ecs:List*",
    "elasticloadbalancing:Describe*",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "kms:DescribeKey",
    "logs:DescribeLogGroups",
    "logs:FilterLogEvents",  # ecsup logs
    "logs:GetLogEvents",  # run and the before task: the task's own log stream
    "logs:ListTagsForResource",
    "pricing:GetProducts",  # ecsup cost
    "route53:GetChange",
    "route53:ListHostedZones",
    "route53:ListHostedZonesByName",
    "route53:ListResourceRecordSets",
    "scheduler:GetSchedule",  # [jobs.*]: the schedules and their group
    "scheduler:GetScheduleGroup",
    "scheduler:ListSchedules",
    "scheduler:ListTagsForResource",
    "ssm:DescribeParameters",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:ListTagsForResource",
    "states:DescribeExecution",  # status: a job's last runs
    "states:DescribeStateMachine",  # [jobs.*]: the state machines that run them; a release: the revision a job runs
    "states:ListExecutions",
    "states:ListStateMachines",
    "states:ListTagsForResource",
    "sts:GetCallerIdentity",
)

WRITE_ACTIONS = (
    "acm:AddTagsToCertificate",
    "acm:DeleteCertificate",
    "acm:RemoveTagsFromCertificate",  # preview down: the previews' certificate kept after all
    "acm:RequestCertificate",
    "application-autoscaling:DeleteScalingPolicy",
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:RegisterScalableTarget",
    "application-autoscaling:TagResource",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:TagResource",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateSecurityGroup",
    "ec2:CreateTags",
    "ec2:DeleteSecurityGroup",
    "ec2:RevokeSecurityGroupIngress",
    "ecs:CreateCluster",
    "ecs:CreateService",
    "ecs:DeleteCluster",
    "ecs:DeleteService",
    "ecs:DeleteTaskDefinitions",
    "ecs:DeregisterTaskDefinition",
    "ecs:ExecuteCommand",  # ecsup exec
    "ecs:PutClusterCapacityProviders",
    "ecs:RegisterTaskDefinition",
    "ecs:RunTask",  # ecsup run, the [service.deploy] before task
    "ecs:StopServiceDeployment",  # ecsup rollback of a deployment in progress
    "ecs:StopTask",  # run --timeout, Ctrl-C; destroy stops one-off tasks still running
    "ecs:TagResource",
    "ecs:UntagResource",
    "ecs:UpdateCluster",
    "ecs:UpdateService",
    "elasticloadbalancing:AddListenerCertificates",  # [load_balancer] shared
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateRule",  # [load_balancer] shared: the stack's host rule
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:SetSecurityGroups",
    "logs:AssociateKmsKey",
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:DisassociateKmsKey",
    "logs:PutRetentionPolicy",
    "logs:TagResource",
    "route53:ChangeResourceRecordSets",
    "scheduler:CreateSchedule",  # [jobs.*]
    "scheduler:CreateScheduleGroup",
    "scheduler:DeleteSchedule",
    "scheduler:DeleteScheduleGroup",
    "scheduler:TagResource",
    "scheduler:UpdateSchedule",
    "ssm:AddTagsToResource",
    "ssm:DeleteParameter",
    "ssm:PutParameter",
    "ssm:StartSession",  # ecsup exec --forward
    "states:CreateStateMachine",  # [jobs.*]
    "states:DeleteStateMachine",
    "states:TagResource",
    "states:UpdateStateMachine",  # also a release, pointing a job at its new revision
)

ROLE_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PassRole",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
)

ACCESS_LOG_BUCKET_ACTIONS = (
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketTagging",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketTagging",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
)


def operator_policy(stack: str = "web-dev", account: str = "123456789012", partition: str = "aws") -> Policy:
    """What the credentials of a person (or a pipeline) running every command need: create, plan,
    status, cost, logs, deploy, rollback, run, exec and destroy, with every feature on
    ([load_balancer] access_logs or shared, alarms, auto scaling, the before task, exec, jobs)."""
    return {
        "Version": VERSION,
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Resource": "*", "Action": list(READ_ACTIONS)},
            {"Sid": "Write", "Effect": "Allow", "Resource": "*", "Action": list(WRITE_ACTIONS)},
            {
                "Sid": "Roles",
                "Effect": "Allow",
                "Resource": f"arn:{partition}:iam::{account}:role/{stack}-*",
                "Action": list(ROLE_ACTIONS),
            },
            {
                "Sid": "AccessLogBucket",
                "Effect": "Allow",
                "Resource": f"arn:{partition}:s3:::{stack}-logs-*",
                "Action": list(ACCESS_LOG_BUCKET_ACTIONS),
            },
            {
                "Sid": "EcsServiceLinkedRole",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": f"arn:{partition}:iam::*:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
                "Condition": {"StringLike": {"iam:AWSServiceName": "ecs.amazonaws.com"}},
            },
        ],
    }


# -- CI: deploy and rollback only ------------------------------------------------------------------
CI_CLUSTER_ACTIONS = (
    "ecs:DescribeServices",
    "ecs:UpdateService",
    "ecs:ListServiceDeployments",
    "ecs:DescribeServiceDeployments",
    "ecs:DescribeServiceRevisions",
    "ecs:StopServiceDeployment",
    "ecs:ListTasks",
    "ecs:DescribeTasks",
    "ecs:RunTask",  # the [service.deploy] before task
    "ecs:StopTask",  # ... stopped when before_timeout runs out
)


def ci_deploy_policy(
    stack: str = "web-prod", account: str = "123456789012", region: str = "eu-west-1", partition: str = "aws"
) -> Policy:
    """The least a CI job needs for `ecsup deploy` and `ecsup rollback` (the before task
    included): the ECS calls on the stack's cluster, a revision of its task definition, the
    roles passed with it, the reads of the watch, the before task's log stream, the stack lock."""
    role = f"arn:{partition}:iam::{account}:role/{stack}"
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": list(CI_CLUSTER_ACTIONS),
                "Resource": "*",
                "Condition": {"ArnLike": {"ecs:cluster": f"arn:{partition}:ecs:{region}:{account}:cluster/{stack}"}},
            },
            {
                "Effect": "Allow",
                # ListTaskDefinitions: a rollback to a revision with no release record looks for the
                # revision before in each worker's and job's family
                "Action": [
                    "ecs:DescribeTaskDefinition",
                    "ecs:RegisterTaskDefinition",
                    "ecs:TagResource",
                    "ecs:ListTaskDefinitions",
                ],
                "Resource": "*",
            },
            {
                # a release points each job's state machine at its new revision (release.py)
                "Effect": "Allow",
                "Action": ["states:DescribeStateMachine", "states:UpdateStateMachine"],
                "Resource": f"arn:{partition}:states:{region}:{account}:stateMachine:{stack}-*",
            },
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": [f"{role}-execution", f"{role}-task"],
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"{role}-infrastructure",
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}},
            },
            {"Effect": "Allow", "Action": "elasticloadbalancing:DescribeRules", "Resource": "*"},
            {"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "logs:GetLogEvents",
                "Resource": f"arn:{partition}:logs:{region}:{account}:log-group:/ecs/{stack}:*",
            },
            {
                "Effect": "Allow",
                # the stack lock: a parameter created with tags, and PutParameter with Tags needs
                # ssm:AddTagsToResource too (AWS::SSM::Parameter reference: "you must have
                # ssm:PutParameter and ssm:AddTagsToResource"; pepperize/cdk-ssm-parameters-cross-region#442
                # shows the AccessDenied without it)
                "Action": ["ssm:GetParameter", "ssm:PutParameter", "ssm:AddTagsToResource", "ssm:DeleteParameter"],
                "Resource": f"arn:{partition}:ssm:{region}:{account}:parameter/ecsup/{stack}/*",
            },
        ],
    }


def ci_trust_policy(
    repository: str = "org/web",
    branch: str = "main",
    account: str = "123456789012",
    partition: str = "aws",
) -> Policy:
    """The deploy role's trust policy: GitHub's OIDC provider, this repository's branch only."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Federated": f"arn:{partition}:iam::{account}:oidc-provider/token.actions.githubusercontent.com"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                        "token.actions.githubusercontent.com:sub": f"repo:{repository}:ref:refs/heads/{branch}",
                    }
                },
            }
        ],
    }


# -- which IAM actions an AWS call needs --------------------------------------------------------------
# botocore's service name -> the IAM service prefix, where they differ
SERVICE_PREFIX = {"elbv2": "elasticloadbalancing", "stepfunctions": "states"}
# operations whose IAM action is named otherwise (S3's, mostly: Service Authorization Reference)
RENAMED: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    ("s3", "GetBucketEncryption"): ("s3:GetEncryptionConfiguration",),
    ("s3", "PutBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "DeleteBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "GetBucketLifecycleConfiguration"): ("s3:GetLifecycleConfiguration",),
    ("s3", "PutBucketLifecycleConfiguration"): ("s3:PutLifecycleConfiguration",),
    ("s3", "DeleteBucketLifecycle"): ("s3:PutLifecycleConfiguration",),
    ("s3", "GetPublicAccessBlock"): ("s3:GetBucketPublicAccessBlock",),
    ("s3", "PutPublicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "DeletePublicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "DeleteBucketTagging"): ("s3:PutBucketTagging",),
}
# what a call needs besides its own action: tags given at creation (the tagging action is
# authorized too) and the roles a task definition, a task or a service is given (iam:PassRole)
IMPLIED: dict[str, tuple[str, ...]] = {
    "acm:RequestCertificate": ("acm:AddTagsToCertificate",),
    "application-autoscaling:RegisterScalableTarget": ("application-autoscaling:TagResource",),
    "cloudwatch:PutMetricAlarm": ("cloudwatch:TagResource",),
    "ec2:CreateSecurityGroup": ("ec2:CreateTags",),
    "ecs:CreateCluster": ("ecs:TagResource",),
    "ecs:CreateService": ("ecs:TagResource", "iam:PassRole"),
    "ecs:RegisterTaskDefinition": ("ecs:TagResource", "iam:PassRole"),
    "ecs:RunTask": ("ecs:TagResource", "iam:PassRole"),
    "elasticloadbalancing:CreateLoadBalancer": ("elasticloadbalancing:AddTags",),
    "elasticloadbalancing:CreateTargetGroup": ("elasticloadbalancing:AddTags",),
    "elasticloadbalancing:CreateListener": ("elasticloadbalancing:AddTags",),
    "elasticloadbalancing:CreateRule": ("elasticloadbalancing:AddTags",),
    "iam:CreateRole": ("iam:TagRole",),
    "logs:CreateLogGroup": ("logs:TagResource",),
    "ssm:PutParameter": ("ssm:AddTagsToResource",),
    # [jobs.*]: a state machine is given its role, a schedule the scheduler role
    "scheduler:CreateSchedule": ("iam:PassRole",),
    "scheduler:UpdateSchedule": ("iam:PassRole",),
    "scheduler:CreateScheduleGroup": ("scheduler:TagResource",),
    "states:CreateStateMachine": ("states:TagResource", "iam:PassRole"),
    "states:UpdateStateMachine": ("iam:PassRole",),
}


def iam_actions(service: str, operation: str) -> tuple[str, ...]:
    """The IAM actions an API call (botocore's service name and operation name) needs."""
    own = RENAMED.get((service, operation)) or (f"{SERVICE_PREFIX.get(service, service)}:{operation}",)
    return own + tuple(implied for action in own for implied in IMPLIED.get(action, ()))


def allows(policy: Policy, action: str) -> bool:
    """Whether an Allow statement of the policy names the action (wildcards * and ?, case
    insensitive as IAM compares actions). Resources and conditions are not evaluated."""
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        names = statement.get("Action", [])
        for pattern in [names] if isinstance(names, str) else names:
            if fnmatch.fnmatchcase(action.lower(), pattern.lower()):
                return True
    return False


# -- the documented blocks ------------------------------------------------------------------------------
# docs page -> (marker, the policy): a ```json block right after `<!-- policy: NAME -->`
DOCUMENTED: dict[str, tuple[str, Callable[[], Policy]]] = {
    "operator": ("iam.md", operator_policy),
    "ci-trust": ("releasing.md", ci_trust_policy),
    "ci-deploy": ("releasing.md", ci_deploy_policy),
}
_BLOCK = re.compile(r"(<!-- policy: (?P<name>[\w-]+) -->\n```json\n)(?P<body>.*?)(\n```)", re.S)


def render(policy: Policy) -> str:
    """A policy as the docs show it: one statement a line or a few, actions wrapped."""
    lines = ['{"Version": ' + json.dumps(policy["Version"]) + ', "Statement": [']
    statements = policy["Statement"]
    for i, statement in enumerate(statements):
        head = {k: v for k, v in statement.items() if k != "Action"}
        actions = statement.get("Action")
        text = "  " + json.dumps(head)[:-1]
        if isinstance(actions, list) and len(actions) > 3:
            text += ', "Action": ['
            row = "     "
            chunks = []
            for j, action in enumerate(actions):
                item = json.dumps(action) + ("," if j < len(actions) - 1 else "")
                if len(row) + len(item) + 1 > 110 and row.strip():
                    chunks.append(row.rstrip())
                    row = "     "
                row += item + " "
            chunks.append(row.rstrip())
            text += "\n" + "\n".join(chunks) + "]}"
        elif actions is not None:
            text += ', "Action": ' + json.dumps(actions) + "}"
        else:
            text += "}"
        lines.append(text + ("," if i < len(statements) - 1 else "]}"))
    return "\n".join(lines)


def documented_blocks(text: str) -> dict[str, str]:
    """NAME -> the JSON text of each `<!-- policy: NAME -->` block of a docs page."""
    return {m.group("name"): m.group("body") for m in _BLOCK.finditer(text)}


def write_docs(docs: Path) -> list[str]:
    """Rewrite each documented policy block from the functions above; the pages changed."""
    changed = []
    for page in sorted({page for page, _ in DOCUMENTED.values()}):
        path = docs / page
        text = path.read_text(encoding="utf-8")

        def block(m: re.Match[str]) -> str:
            _, make = DOCUMENTED[m.group("name")]
            return m.group(1) + render(make()) + m.group(4)

        new = _BLOCK.sub(block, text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed


if __name__ == "__main__":  # python -m ecsup.policies [--write-docs [DOCS_DIR]]
    if sys.argv[1:2] == ["--write-docs"]:
        where = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parent.parent / "docs"
        for page in write_docs(where):
            print(f"rewrote {where / page}")
    else:
        for name, (_, make) in DOCUMENTED.items():
            print(f"# {name}\n{render(make())}\n")
