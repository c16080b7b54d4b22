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
    "ecr:DescribeImages",  # [service] build: the app's ECR repository and its images (build.py)
    "ecr:DescribeRepositories",
    "ecr:GetLifecyclePolicy",
    "ecr:ListTagsForResource",
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
    "ssm:GetParametersByPath",  # [network] shared: the stacks on ecsup's network
    "ssm:ListTagsForResource",
    "states:DescribeExecution",  # status: a job's last runs
    "states:DescribeStateMachine",  # [jobs.*]: the state machines that run them; a release: the revision a job runs
    "states:ListExecutions",
    "states:ListStateMachines",
    "states:ListTagsForResource",
    "sts:GetCallerIdentity",
    "wafv2:GetWebACL",  # [load_balancer] waf_acl: the web ACL named exists
    "wafv2:GetWebACLForResource",  # which web ACL the load balancer has
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
    "ec2:AssociateRouteTable",  # [network] shared: ecsup's own network (steps/vpc.py)
    "ec2:AssociateSubnetCidrBlock",
    "ec2:AssociateVpcCidrBlock",
    "ec2:AttachInternetGateway",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateInternetGateway",
    "ec2:CreateRoute",
    "ec2:CreateRouteTable",
    "ec2:CreateSecurityGroup",
    "ec2:CreateSubnet",
    "ec2:CreateTags",
    "ec2:CreateVpc",
    "ec2:DeleteInternetGateway",
    "ec2:DeleteRouteTable",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteSubnet",
    "ec2:DeleteVpc",
    "ec2:DetachInternetGateway",
    "ec2:DisassociateRouteTable",
    "ec2:ModifySubnetAttribute",
    "ec2:ModifyVpcAttribute",
    "ec2:ReplaceRoute",
    "ec2:RevokeSecurityGroupIngress",
    # [network] egress on ecsup's own network: private subnets, their route table, a NAT gateway and
    # its Elastic IP, an egress-only gateway, VPC endpoints
    "ec2:AllocateAddress",
    "ec2:CreateEgressOnlyInternetGateway",
    "ec2:CreateNatGateway",
    "ec2:CreateVpcEndpoint",
    "ec2:DeleteEgressOnlyInternetGateway",
    "ec2:DeleteNatGateway",
    "ec2:DeleteVpcEndpoints",
    "ec2:ModifyVpcEndpoint",
    "ec2:ReleaseAddress",
    *(
        # [service] build: the app's repository, its release tags, and docker's push with ECR's token
        "ecr:BatchDeleteImage",
        "ecr:CreateRepository",
        "ecr:DeleteRepository",
        "ecr:PutImageScanningConfiguration",
        "ecr:PutImageTagMutability",
        "ecr:PutLifecyclePolicy",
        "ecr:TagResource",
    ),
    *(
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:CompleteLayerUpload",
        "ecr:GetAuthorizationToken",
        "ecr:GetDownloadUrlForLayer",
        "ecr:InitiateLayerUpload",
        "ecr:PutImage",
        "ecr:UploadLayerPart",
    ),
    "ecs:CreateCluster",
    "ecs:CreateService",
    "ecs:DeleteCluster",
    "ecs:DeleteService",
    "ecs:DeleteTaskDefinitions",
    "ecs:DeregisterTaskDefinition",
    "ecs:ExecuteCommand",  # ecsup exec
    "ecs:PutAccountSetting",  # [network] egress = "ipv6": dualStackIPv6 for the identity ecsup runs as
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
    "elasticloadbalancing:RemoveTags",  # [load_balancer] waf_acl removed: the tag recording ecsup's web ACL
    "elasticloadbalancing:SetIpAddressType",  # [network] ipv6: dual-stack, and back
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",  # drift repair of the load balancer's subnets
    "elasticloadbalancing:SetWebAcl",  # what AssociateWebACL/DisassociateWebACL need on a load balancer
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
    "wafv2:AssociateWebACL",  # [load_balancer] waf_acl
    "wafv2:DisassociateWebACL",
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


# What a deploy with [service] build does in the app's repository: look, push (docker), tag the release.
ECR_PUSH_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:DescribeRepositories",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetLifecyclePolicy",
    "ecr:InitiateLayerUpload",
    "ecr:ListTagsForResource",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)


def ci_deploy_policy(
    stack: str = "web-prod",
    account: str = "123456789012",
    region: str = "eu-west-1",
    partition: str = "aws",
    app: str = "",
) -> Policy:
    """The least a CI job needs for `ecsup deploy` and `ecsup rollback` (the before task
    included): the ECS calls on the stack's cluster, a revision of its task definition, the
    roles passed with it, the reads of the watch, the before task's log stream, the stack lock."""
    role = f"arn:{partition}:iam::{account}:role/{stack}"
    # the app's repository (<app>): given by the caller, which knows it (an env may have hyphens,
    # pr-123); the stack's name up to its last hyphen only for the documented example
    repository = app or stack.rsplit("-", 1)[0]
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
                # [service] build: `deploy` builds and pushes to the app's repository (<app>)
                "Effect": "Allow",
                "Action": list(ECR_PUSH_ACTIONS),
                "Resource": f"arn:{partition}:ecr:{region}:{account}:repository/{repository}",
            },
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
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


# -- CI: GitHub Actions' OIDC provider and the deploy role `ecsup ci bootstrap` makes -------------
GITHUB_ISSUER = "token.actions.githubusercontent.com"
GITHUB_AUDIENCE = "sts.amazonaws.com"
GITHUB_DEPLOY_SUFFIX = "-github-deploy"  # the deploy role: <app>-<env>-github-deploy (names.py)


def github_subjects(
    repository: str = "org/web",
    branch: str = "main",
    environment: str = "",
    ids: tuple[str, str] | None = ("1234567", "890123456"),
    pull_requests: bool = True,
) -> list[str]:
    """The `sub` claims the deploy role admits: the branch's pushes, the repository's pull requests
    and, when given, a GitHub environment's jobs -- each in both forms GitHub issues. The name form
    `repo:OWNER/REPO:<context>`; the immutable form `repo:OWNER@OWNER_ID/REPO@REPO_ID:<context>`,
    the default `sub` of repositories created (or renamed) on or after 15 July 2026 and of older
    ones that opt in (aws-actions/configure-aws-credentials#1889 and its README: "append the numeric
    org and repository IDs after each name, separated by `@`, e.g.
    `repo:org@123456/repo@789012:ref:refs/heads/main`"; github/docs#45221). ``ids`` = (owner id,
    repository id), None: the name form only. ``pull_requests``: admit the pull requests' jobs (the
    plan's comment, previews) too."""
    owner, name = repository.split("/", 1)
    contexts = [f"ref:refs/heads/{branch}"] + (["pull_request"] if pull_requests else [])
    contexts += [f"environment:{environment}"] if environment else []
    prefixes = [f"repo:{owner}/{name}"] + ([f"repo:{owner}@{ids[0]}/{name}@{ids[1]}"] if ids else [])
    return [f"{prefix}:{context}" for prefix in prefixes for context in contexts]


def ci_trust_policy(
    subjects: list[str] | None = None,
    account: str = "123456789012",
    partition: str = "aws",
) -> Policy:
    """The deploy role's trust policy: GitHub's OIDC provider, the audience STS, and a `sub` among
    ``subjects`` (github_subjects: this repository only). StringLike so that a branch may be a
    pattern (`release/*`); the subjects are otherwise exact."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:{partition}:iam::{account}:oidc-provider/{GITHUB_ISSUER}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{GITHUB_ISSUER}:aud": GITHUB_AUDIENCE},
                    "StringLike": {f"{GITHUB_ISSUER}:sub": subjects if subjects is not None else github_subjects()},
                },
            }
        ],
    }


def ci_role_policy(
    stack: str = "web-dev", account: str = "123456789012", partition: str = "aws", previews: str = ""
) -> Policy:
    """The deploy role's permissions: what create, deploy and destroy (and every other command) need
    for this stack -- the operator policy -- and nothing on the deploy role itself: the operator's
    role actions cover `role/<app>-<env>-*`, which would let a workflow rewrite its own role's trust
    or permissions (or pass it to a task). ``previews`` (`<app>-pr`, with a [preview] section): the
    previews' stacks `<app>-pr-<number>` (the Action's default names) have roles of their own."""
    policy = operator_policy(stack, account, partition)
    if previews:
        policy["Statement"].append(
            {
                "Sid": "PreviewRoles",
                "Effect": "Allow",
                "Resource": f"arn:{partition}:iam::{account}:role/{previews}-*",
                "Action": list(ROLE_ACTIONS),
            }
        )
    policy["Statement"].append(
        {
            "Sid": "NotItsOwnRole",
            "Effect": "Deny",
            "Resource": f"arn:{partition}:iam::{account}:role/{stack}{GITHUB_DEPLOY_SUFFIX}",
            "Action": list(ROLE_ACTIONS),
        }
    )
    return policy


# IAM's quotas on a role's policies (IAM User Guide, "IAM and AWS STS quotas"): all inline policies
# of a role together 10,240 characters, a managed policy 6,144; whitespace is not counted.
INLINE_ROLE_POLICY_QUOTA = 10_240
MANAGED_POLICY_QUOTA = 6_144


def policy_size(policy: Policy) -> int:
    """The characters IAM counts against its quotas (the JSON without whitespace)."""
    return len(json.dumps(policy, separators=(",", ":")))


CI_BOOTSTRAP_ACTIONS = (
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:GetOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
)


def ci_bootstrap_policy(stack: str = "web-dev", account: str = "123456789012", partition: str = "aws") -> Policy:
    """What `ecsup ci bootstrap` (and `--delete`) needs, run once by an administrator: GitHub's OIDC
    provider, and the deploy role with its inline policy. ListRoles: `--delete` keeps the provider
    while another role trusts it."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "GitHubProvider",
                "Effect": "Allow",
                "Resource": f"arn:{partition}:iam::{account}:oidc-provider/{GITHUB_ISSUER}",
                "Action": list(CI_BOOTSTRAP_ACTIONS),
            },
            {
                "Sid": "DeployRole",
                "Effect": "Allow",
                "Resource": f"arn:{partition}:iam::{account}:role/{stack}{GITHUB_DEPLOY_SUFFIX}",
                "Action": [
                    "iam:CreateRole",
                    "iam:DeleteRole",
                    "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy",
                    "iam:GetRole",
                    "iam:GetRolePolicy",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListRolePolicies",
                    "iam:PutRolePolicy",
                    "iam:TagRole",
                    "iam:UpdateAssumeRolePolicy",
                ],
            },
            {"Sid": "Look", "Effect": "Allow", "Resource": "*", "Action": ["iam:ListRoles", "sts:GetCallerIdentity"]},
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
    "ec2:AllocateAddress": ("ec2:CreateTags",),
    "ec2:CreateEgressOnlyInternetGateway": ("ec2:CreateTags",),
    "ec2:CreateNatGateway": ("ec2:CreateTags",),
    "ec2:CreateRouteTable": ("ec2:CreateTags",),
    "ec2:CreateSubnet": ("ec2:CreateTags",),
    "ec2:CreateVpcEndpoint": ("ec2:CreateTags",),
    "ecr:CreateRepository": ("ecr:TagResource",),
    "ec2:CreateInternetGateway": ("ec2:CreateTags",),
    "ec2:CreateVpc": ("ec2:CreateTags",),
    "ecs:CreateCluster": ("ecs:TagResource",),
    "ecs:CreateService": ("ecs:TagResource", "iam:PassRole"),
    "ecs:RegisterTaskDefinition": ("ecs:TagResource", "iam:PassRole"),
    "ecs:RunTask": ("ecs:TagResource", "iam:PassRole"),
    "elasticloadbalancing:CreateLoadBalancer": ("elasticloadbalancing:AddTags",),
    "elasticloadbalancing:CreateTargetGroup": ("elasticloadbalancing:AddTags",),
    "elasticloadbalancing:CreateListener": ("elasticloadbalancing:AddTags",),
    "elasticloadbalancing:CreateRule": ("elasticloadbalancing:AddTags",),
    "iam:CreateRole": ("iam:TagRole",),
    "iam:CreateOpenIDConnectProvider": ("iam:TagOpenIDConnectProvider",),
    "logs:CreateLogGroup": ("logs:TagResource",),
    "ssm:PutParameter": ("ssm:AddTagsToResource",),
    # [jobs.*]: a state machine is given its role, a schedule the scheduler role
    "scheduler:CreateSchedule": ("iam:PassRole",),
    "scheduler:UpdateSchedule": ("iam:PassRole",),
    "scheduler:CreateScheduleGroup": ("scheduler:TagResource",),
    "states:CreateStateMachine": ("states:TagResource", "iam:PassRole"),
    "states:UpdateStateMachine": ("iam:PassRole",),
    # "Permissions for AssociateWebACL" (WAF Developer Guide): an Application Load Balancer also
    # needs elasticloadbalancing:SetWebAcl, for associating and for disassociating
    "wafv2:AssociateWebACL": ("elasticloadbalancing:SetWebAcl",),
    "wafv2:DisassociateWebACL": ("elasticloadbalancing:SetWebAcl",),
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
    "ci-trust": ("releasing.md", lambda: ci_trust_policy(github_subjects(pull_requests=False))),
    "ci-deploy": ("releasing.md", ci_deploy_policy),
    "ci-bootstrap": ("iam.md", ci_bootstrap_policy),
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
