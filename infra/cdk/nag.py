"""cdk-nag (v3): AwsSolutions checks, and every acknowledged finding with the reason it is acceptable."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

# Every acknowledged AwsSolutions finding, with why it is acceptable here. Acknowledgments are attached to the
# narrowest construct that needs them (see the ``acknowledge`` calls in infra/cdk/components).
REASONS: dict[str, str] = {
    "AwsSolutions-L1": (
        "Python 3.12 is the runtime this project targets (issue 6) and the shared layer's wheels are built for; "
        "moving to a newer runtime is a deliberate upgrade (rebuild the layer, rerun the suite), not a drive-by."
    ),
    "AwsSolutions-IAM5[Resource::*]": (
        "Only the VPC ENI actions (ec2:CreateNetworkInterface, DescribeNetworkInterfaces, DeleteNetworkInterface, "
        "Assign/UnassignPrivateIpAddresses) are granted on *: EC2 supports no resource-level scoping for them and "
        "Lambda needs them to attach the function to the VPC (the same grant as AWSLambdaVPCAccessExecutionRole); "
        "and X-Ray's xray:PutTraceSegments and xray:PutTelemetryRecords, which active tracing needs and which "
        "X-Ray does not scope to resources either (the same grant as AWSXRayDaemonWriteAccess)."
    ),
    "AwsSolutions-IAM5[exports-objects]": (
        "Export object keys are generated per export, so the exports function gets s3:GetObject and s3:PutObject "
        "(no list, no delete) on the objects of its own bucket only."
    ),
    "AwsSolutions-APIG4": (
        "Authorization happens in the functions: API keys (sk_live/sk_test, stored hashed) for ingestion, JWT for "
        "the management API, Shopify HMAC for webhooks; tracking-link redirects are public by design. The mbuzz "
        "wire format fixes these schemes, so an API Gateway authorizer would only duplicate them."
    ),
    "AwsSolutions-RDS10": (
        "Dev stage only: the dev database is disposable and is torn down with its stack; prod enables deletion "
        "protection (StageConfig.deletion_protection) and the cluster always keeps a final snapshot."
    ),
    "AwsSolutions-RDS11": (
        "A non-default port is obscurity, not security: the cluster sits in isolated subnets and only the "
        "proxy's (or functions') security group may reach it."
    ),
    "AwsSolutions-RDS14": (
        "Backtrack is not offered for Aurora Serverless v2 clusters; point-in-time restore from automated "
        "backups covers recovery."
    ),
    "AwsSolutions-SMG4": (
        "No automatic rotation yet: the functions read these secrets once per execution environment, so a "
        "rotation would break warm functions until they recycle (database), log everyone out (JWT) or orphan "
        "encrypted tokens (encryption key). Rotate by hand in a maintenance window (DEPLOY.md)."
    ),
    "AwsSolutions-EC23": (
        "Interface endpoint security groups admit HTTPS from the VPC CIDR only; the rule cannot resolve the "
        "CIDR token at synth time, so it reports an unverifiable value rather than an open ingress."
    ),
    "AwsSolutions-CFR1": "Tracking links are clicked worldwide; geo restriction would drop legitimate clicks.",
    "AwsSolutions-CFR2": (
        "No WAF in front of the redirect: it only answers 302 and enqueues, API Gateway throttling caps the "
        "rate, and a web ACL costs ~$5/month plus request fees; revisit if abusive traffic appears."
    ),
    "AwsSolutions-CFR4": (
        "The distribution uses the default *.cloudfront.net certificate, for which CloudFront fixes the minimum "
        "protocol; attach a custom domain with an ACM certificate (TLSv1.2_2021) for branded links."
    ),
}


def enable(scope: IConstruct) -> None:
    """Run the AwsSolutions pack as a CDK policy-validation plugin: synth fails on any unacknowledged finding."""
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope, verbose=True))


def acknowledge(construct: IConstruct, rule: str, *, reason_key: str | None = None) -> None:
    """Acknowledge ``rule`` (or one finding, ``AwsSolutions-IAM5[Resource::*]``) on a construct and its children,
    with the reason recorded in ``REASONS`` under ``reason_key`` (default: the rule itself)."""
    reason = REASONS[reason_key or rule]
    if len(reason.split()) < 10:
        raise ValueError(f"the reason for acknowledging {rule} must explain itself: {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
