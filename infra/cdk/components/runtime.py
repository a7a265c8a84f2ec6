"""What every Multibuzz Lambda shares: runtime, architecture, layer, network, settings and a least-privilege role."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from multibuzz import topology

from infra.cdk import nag
from infra.cdk.components.common import retention
from infra.cdk.components.database import DATABASE_NAME, Database
from infra.cdk.components.network import APP_SUBNETS
from infra.cdk.components.queues import Queues
from infra.cdk.components.secrets import AppSecrets
from infra.cdk.components.shared_layer import ARCHITECTURE, RUNTIME
from infra.cdk.config import StageConfig

FUNCTION_TAG = "multibuzz:function"
# ENI management for functions in a VPC; EC2 offers no resource-level scoping for these actions.
VPC_ACCESS_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
# What active tracing grants (CDK adds it with tracing=ACTIVE); X-Ray has no resource-level scoping either.
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


def queue_url_setting(queue_name: str) -> str:
    return f"MULTIBUZZ_{queue_name.upper()}_QUEUE_URL"


def dlq_url_setting(queue_name: str) -> str:
    return f"MULTIBUZZ_{queue_name.upper()}_DLQ_URL"


@dataclass(frozen=True)
class FunctionOptions:
    name: str
    description: str
    code: lambda_.Code
    handler: str
    memory_mb: int
    timeout_seconds: int
    uses_database: bool
    reserved_concurrency: int | None = None


@dataclass
class FunctionRuntime:
    config: StageConfig
    layer: lambda_.ILayerVersion
    vpc: ec2.IVpc
    security_group: ec2.ISecurityGroup
    database: Database
    queues: Queues
    exports_bucket_name: str
    secrets: AppSecrets

    def environment(self, uses_database: bool) -> dict[str, str]:
        """The same ``MULTIBUZZ_*`` settings names the local runner uses (see multibuzz.settings)."""
        env = {
            "MULTIBUZZ_STAGE": self.config.stage,
            "MULTIBUZZ_AWS_REGION": Aws.REGION,
            "MULTIBUZZ_QUEUE_BACKEND": "sqs",
            "MULTIBUZZ_OBJECT_STORE": "s3",
            "MULTIBUZZ_EXPORTS_BUCKET": self.exports_bucket_name,
            # An export's expiry in the database matches the bucket's lifecycle rule (storage.py).
            "MULTIBUZZ_EXPORT_RETENTION_DAYS": str(self.config.export_expiry_days),
            "MULTIBUZZ_LOG_LEVEL": "INFO",
            **{queue_url_setting(name): pair.queue.queue_url for name, pair in self.queues.pairs.items()},
            **{dlq_url_setting(name): pair.dlq.queue_url for name, pair in self.queues.pairs.items()},
            **self.secrets.environment(),
        }
        if self.config.public_base_url:
            env["MULTIBUZZ_PUBLIC_BASE_URL"] = self.config.public_base_url
        if uses_database:
            env |= {
                "MULTIBUZZ_DATABASE_SECRET_ARN": self.database.secret.secret_arn,
                "MULTIBUZZ_DATABASE_HOST": self.database.host,
                "MULTIBUZZ_DATABASE_NAME": DATABASE_NAME,
                # One request per execution environment: two pooled connections are plenty, and keep the
                # proxy's client connection count proportional to concurrency.
                "MULTIBUZZ_DATABASE_POOL_SIZE": "2",
            }
        return env

    def create(self, scope: Construct, construct_id: str, options: FunctionOptions) -> lambda_.Function:
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            retention=retention(self.config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Multibuzz {options.name} function",
        )
        # Logs: only its own log group (no AWSLambdaBasicExecutionRole and its logs:* on every group).
        log_group.grant_write(role)
        in_vpc = options.uses_database
        if in_vpc:
            role.add_to_principal_policy(iam.PolicyStatement(actions=list(VPC_ACCESS_ACTIONS), resources=["*"]))
            self.database.secret.grant_read(role)
        # Active tracing adds xray:PutTraceSegments/PutTelemetryRecords on * (X-Ray has no resource scoping).
        nag.acknowledge(role, "AwsSolutions-IAM5[Resource::*]")
        reserved = options.reserved_concurrency if self.config.reserved_concurrency else None
        function = lambda_.Function(
            scope,
            construct_id,
            description=options.description[:256],
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=options.code,
            handler=options.handler,
            layers=[self.layer],
            memory_size=options.memory_mb,
            timeout=Duration.seconds(options.timeout_seconds),
            reserved_concurrent_executions=reserved,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,  # X-Ray: Lambda's segments; Powertools Tracer adds subsegments
            environment=self.environment(options.uses_database),
            vpc=self.vpc if in_vpc else None,
            vpc_subnets=APP_SUBNETS if in_vpc else None,
            security_groups=[self.security_group] if in_vpc else None,
        )
        Tags.of(function).add(FUNCTION_TAG, options.name)
        nag.acknowledge(function, "AwsSolutions-L1")
        return function


def function_code(spec: topology.FunctionSpec, functions_root: str) -> lambda_.Code:
    """``functions/<name>/`` as the code asset; the shared code comes from the layer."""
    return lambda_.Code.from_asset(f"{functions_root}/{spec.name}", exclude=["__pycache__", "*.pyc", "tests"])
