"""Aurora MySQL 3 Serverless v2, credentials in Secrets Manager, and an RDS Proxy in front for the functions."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.cdk import nag
from infra.cdk.components.common import retention
from infra.cdk.components.network import DATA_SUBNETS
from infra.cdk.config import StageConfig

DATABASE_NAME = "multibuzz"
ADMIN_USER = "multibuzz_admin"
ENGINE_VERSION = rds.AuroraMysqlEngineVersion.VER_3_10_0  # an Aurora MySQL 3 (MySQL 8.0) LTS release
EXPORTED_LOGS = ("error", "slowquery")
MYSQL_PORT = 3306


class Database(Construct):
    """``host`` is what functions connect to (the proxy endpoint, or the writer when the proxy is off)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, vpc: ec2.IVpc) -> None:
        super().__init__(scope, construct_id)
        cluster_id = f"{config.prefix}-aurora"
        # Pre-created so the retention is ours (RDS would create them without one, and CDK would need a
        # custom-resource Lambda to set it).
        log_groups = [
            logs.LogGroup(
                self,
                f"{name.capitalize()}Logs",
                log_group_name=f"/aws/rds/cluster/{cluster_id}/{name}",
                retention=retention(config.log_retention_days),
                removal_policy=RemovalPolicy.DESTROY,
            )
            for name in EXPORTED_LOGS
        ]
        engine = rds.DatabaseClusterEngine.aurora_mysql(version=ENGINE_VERSION)
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="Multibuzz Aurora MySQL cluster parameters",
            parameters={
                "slow_query_log": "1",
                "long_query_time": "2",
                "time_zone": "UTC",
                "character_set_server": "utf8mb4",
                "collation_server": "utf8mb4_0900_ai_ci",
            },
        )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            cluster_identifier=cluster_id,
            engine=engine,
            parameter_group=parameters,
            credentials=rds.Credentials.from_generated_secret(
                ADMIN_USER, exclude_characters=" %+~`#$&*()|[]{}:;<>?!'/@\"\\"
            ),
            default_database_name=DATABASE_NAME,
            writer=rds.ClusterInstance.serverless_v2("Writer", publicly_accessible=False),
            readers=[
                rds.ClusterInstance.serverless_v2(f"Reader{i + 1}", scale_with_writer=True, publicly_accessible=False)
                for i in range(config.db_readers)
            ],
            serverless_v2_min_capacity=config.db_min_acu,
            serverless_v2_max_capacity=config.db_max_acu,
            vpc=vpc,
            vpc_subnets=DATA_SUBNETS,
            storage_encrypted=True,
            iam_authentication=True,
            backup=rds.BackupProps(retention=Duration.days(config.db_backup_days), preferred_window="03:00-04:00"),
            preferred_maintenance_window="sun:04:30-sun:05:30",
            deletion_protection=config.deletion_protection,
            removal_policy=RemovalPolicy.SNAPSHOT,
            cloudwatch_logs_exports=list(EXPORTED_LOGS),
        )
        for group in log_groups:
            self.cluster.node.add_dependency(group)
        assert self.cluster.secret is not None  # generated above
        self.secret: secretsmanager.ISecret = self.cluster.secret
        for rule in ("AwsSolutions-RDS11", "AwsSolutions-RDS14", "AwsSolutions-SMG4"):
            nag.acknowledge(self.cluster, rule)
        if not config.deletion_protection:
            nag.acknowledge(self.cluster, "AwsSolutions-RDS10")

        self.proxy: rds.DatabaseProxy | None = None
        if config.use_proxy:
            self.proxy = rds.DatabaseProxy(
                self,
                "Proxy",
                proxy_target=rds.ProxyTarget.from_cluster(self.cluster),
                secrets=[self.secret],
                vpc=vpc,
                vpc_subnets=DATA_SUBNETS,
                # The functions connect with pymysql without TLS today (see DEPLOY.md: "Database TLS").
                require_tls=False,
                idle_client_timeout=Duration.minutes(15),
                max_connections_percent=90,
                borrow_timeout=Duration.seconds(30),
            )
            self.cluster.connections.allow_from(self.proxy, ec2.Port.tcp(MYSQL_PORT), "RDS Proxy to Aurora")
            self.host = self.proxy.endpoint
            self._entry: ec2.IConnectable = self.proxy
        else:
            self.host = self.cluster.cluster_endpoint.hostname
            self._entry = self.cluster

    def allow_from(self, peer: ec2.IConnectable, description: str) -> None:
        """Let ``peer`` reach the database entry point (proxy, or cluster) on the MySQL port."""
        self._entry.connections.allow_from(peer, ec2.Port.tcp(MYSQL_PORT), description)
