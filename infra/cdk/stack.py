"""The Multibuzz stack: composes one construct per concern, all generated from ``multibuzz.topology``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct
from multibuzz import topology

from infra.cdk import topology_check
from infra.cdk.components.common import camel
from infra.cdk.components.database import Database
from infra.cdk.components.edge import Edge
from infra.cdk.components.functions import Functions
from infra.cdk.components.http_api import HttpApi
from infra.cdk.components.migrations import Migrations
from infra.cdk.components.monitoring import Monitoring
from infra.cdk.components.network import Network
from infra.cdk.components.queues import Queues
from infra.cdk.components.runtime import FunctionRuntime, queue_url_setting
from infra.cdk.components.schedules import Schedules
from infra.cdk.components.secrets import AppSecrets
from infra.cdk.components.shared_layer import SharedLayer
from infra.cdk.components.storage import Storage
from infra.cdk.config import StageConfig
from infra.cdk.layer_bundle import REPO_ROOT, LayerAsset

FUNCTIONS_ROOT = REPO_ROOT / "functions"


class MultibuzzStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        layer: LayerAsset,
        functions_root: Path = FUNCTIONS_ROOT,
        **kwargs: Any,
    ) -> None:
        topology_check.check()
        super().__init__(scope, construct_id, description=f"Multibuzz attribution backend ({config.stage})", **kwargs)
        self.config = config
        storage = Storage(self, "Storage", config=config)
        network = Network(self, "Network", config=config, logs_bucket=storage.logs_bucket)
        database = Database(self, "Database", config=config, vpc=network.vpc)
        queues = Queues(self, "Queues")
        secrets = AppSecrets(self, "Secrets", config=config)
        shared = SharedLayer(self, "SharedLayer", asset=layer)

        functions_sg = ec2.SecurityGroup(
            self,
            "FunctionsSecurityGroup",
            vpc=network.vpc,
            description="Multibuzz functions: out to the database, AWS APIs and the internet (Shopify, Meta)",
            allow_all_outbound=True,
        )
        database.allow_from(functions_sg, "Multibuzz functions")
        runtime = FunctionRuntime(
            config=config,
            layer=shared.layer,
            vpc=network.vpc,
            security_group=functions_sg,
            database=database,
            queues=queues,
            exports_bucket_name=storage.exports_bucket.bucket_name,
            secrets=secrets,
        )
        functions = Functions(
            self,
            "Functions",
            runtime=runtime,
            exports_bucket=storage.exports_bucket,
            functions_root=str(functions_root),
        )
        self.migrations = Migrations(self, "Migrations", runtime=runtime, after=[database], before=list(functions.all))
        api = HttpApi(self, "Http", config=config, functions=dict(functions.by_name))
        Schedules(self, "Schedules", functions=dict(functions.by_name))

        monitoring = Monitoring(self, "Monitoring", config=config)
        for pair in queues.pairs.values():
            monitoring.watch_queue(pair)
        for spec in topology.FUNCTIONS:
            monitoring.watch_function(spec.name, functions.by_name[spec.name], serves_http=bool(spec.routes))
        monitoring.watch_api(api.api)
        monitoring.business_alarms()
        self.dashboard = monitoring.dashboard(dict(functions.by_name), list(queues.pairs.values()), api.api)

        redirect_base = api.url
        if config.cloudfront:
            edge = Edge(self, "Edge", config=config, api_id=api.api.api_id, logs_bucket=storage.logs_bucket)
            redirect_base = edge.url
            CfnOutput(self, "CloudFrontUrl", value=edge.url, description="CloudFront in front of /r/* (geo headers)")

        CfnOutput(self, "ApiUrl", value=api.url, description="HTTP API base URL")
        CfnOutput(self, "RedirectBaseUrl", value=redirect_base, description="Base URL for tracking links (/r/{code})")
        CfnOutput(self, "ExportsBucketName", value=storage.exports_bucket.bucket_name)
        for name, pair in queues.pairs.items():
            CfnOutput(self, f"{camel(name)}QueueUrl", value=pair.queue.queue_url, description=queue_url_setting(name))
            CfnOutput(self, f"{camel(name)}DlqUrl", value=pair.dlq.queue_url)
        CfnOutput(self, "DatabaseSecretArn", value=database.secret.secret_arn)
        CfnOutput(self, "DatabaseHost", value=database.host)
        CfnOutput(self, "MigratorFunctionName", value=self.migrations.function.function_name)
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn)
