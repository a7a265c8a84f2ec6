"""CloudWatch alarms to an encrypted SNS topic, and the stage's operations dashboard.

Infrastructure alarms: DLQ depth, queue age, function errors and throttles, API 5xx. Business alarms on the
``Multibuzz`` EMF metrics (multibuzz.telemetry.metrics): attribution lag p99, accounts gone silent (the
watchdog job), sync data older than its schedule allows. One dashboard per stage answers "is ingestion
flowing, is attribution keeping up, are redirects fast, are queues draining, are syncs fresh, what fails".
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk.aws_apigatewayv2 import HttpApi
from constructs import Construct

from infra.cdk.components.common import camel
from infra.cdk.components.queues import QueuePair
from infra.cdk.config import StageConfig

PERIOD = Duration.minutes(5)
API_5XX_THRESHOLD = 5  # per 5 minutes: a handful of 5xx is an incident, one can be a client's timeout
HTTP_ERROR_THRESHOLD = 5
BACKGROUND_ERROR_THRESHOLD = 1  # consumers and jobs: any failure deserves a look
OLDEST_MESSAGE_AGE = Duration.minutes(15)
NAMESPACE = "Multibuzz"
ATTRIBUTION_LAG_P99_MS = 10 * 60 * 1000  # a conversion waits 10 minutes for its attribution: something is stuck
SILENT_ACCOUNTS_THRESHOLD = 1
# Sync types (the Shopify/Meta feature emits SyncAge per type) and how old their data may get: two schedule
# intervals (one missed run is tolerated, two are an incident).
SYNC_MAX_AGE: dict[str, Duration] = {
    "shopify_orders": Duration.hours(2),
    "meta_insights": Duration.hours(48),
}
DASHBOARD_WIDGETS = (
    "Ingest rate and rejects",
    "Attribution lag (p50 / p99)",
    "Conversions",
    "Redirect latency",
    "Redirect cache hit ratio",
    "Queue age (oldest message)",
    "Dead-letter queue depth",
    "Sync freshness per type",
    "Errors",
    "Consumer batches",
)


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(
            self,
            "AlarmKey",
            description="Multibuzz alarm topic encryption",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch must be able to publish to the encrypted topic (the AWS-managed SNS key would refuse it).
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name=f"{config.prefix} alarms", master_key=key, enforce_ssl=True
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.stage = config.stage
        self.prefix = config.prefix

    def business_metric(
        self, name: str, function: str, statistic: str = "Sum", period: Duration = Duration.minutes(1), **extra: str
    ) -> cloudwatch.Metric:
        """One of the EMF metrics, as its dimensions are written: function, stage, then any extra one."""
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=name,
            dimensions_map={"function": function, "stage": self.stage, **extra},
            statistic=statistic,
            period=period,
        )

    def business_alarms(self) -> None:
        self._alarm(
            "AttributionLagP99",
            self.business_metric("AttributionLag", "attribution", statistic="p99", period=PERIOD),
            ATTRIBUTION_LAG_P99_MS,
            "Conversions wait more than 10 minutes (p99) for their attribution: check the ingest queue's age, "
            "the attribution function's errors and the database.",
        )
        self._alarm(
            "SilentAccounts",
            self.business_metric("SilentAccounts", "sync", statistic="Maximum", period=Duration.minutes(15)),
            SILENT_ACCOUNTS_THRESHOLD,
            "An account that normally sends events sent none for an hour (ids in the sync function's log: "
            "'accounts went silent').",
        )
        for sync_type, max_age in SYNC_MAX_AGE.items():
            self._alarm(
                f"SyncStale{''.join(part.title() for part in sync_type.split('_'))}",
                self.business_metric("SyncAge", "sync", statistic="Maximum", period=PERIOD, sync_type=sync_type),
                max_age.to_seconds(),
                f"{sync_type} data is older than its schedule allows ({max_age.to_hours():g} h).",
            )

    def dashboard(
        self,
        functions: dict[str, lambda_.IFunction],
        queues: list[QueuePair],
        api: HttpApi,
    ) -> cloudwatch.Dashboard:
        """The stage's operations dashboard (widget titles: ``DASHBOARD_WIDGETS``)."""
        m = self.business_metric
        ingest = cloudwatch.GraphWidget(
            title=DASHBOARD_WIDGETS[0],
            left=[
                m("EventsAccepted", "events"),
                m("EventsRejected", "events", reason="validation"),
                m("EventsRejected", "events", reason="queue"),
                m("SessionsStarted", "attribution"),
                m("EventsStored", "attribution"),
            ],
            width=12,
        )
        lag = cloudwatch.GraphWidget(
            title=DASHBOARD_WIDGETS[1],
            left=[
                m("AttributionLag", "attribution", statistic="p50").with_(label="p50"),
                m("AttributionLag", "attribution", statistic="p99").with_(label="p99"),
            ],
            left_annotations=[cloudwatch.HorizontalAnnotation(value=ATTRIBUTION_LAG_P99_MS, label="alarm")],
            width=12,
        )
        conversions = cloudwatch.GraphWidget(
            title=DASHBOARD_WIDGETS[2],
            left=[
                m("ConversionsAccepted", "events"),
                m("ConversionsAttributed", "attribution"),
                m("ConversionsFailed", "attribution"),
            ],
            width=12,
        )
        redirect = functions["redirect"]
        latency = cloudwatch.GraphWidget(
            title=DASHBOARD_WIDGETS[3],
            left=[
                redirect.metric_duration(statistic="p50", period=Duration.minutes(1)).with_(label="p50"),
                redirect.metric_duration(statistic="p99", period=Duration.minutes(1)).with_(label="p99"),
            ],
            right=[m("Redirects", "redirect"), m("ClicksRecorded", "attribution"), m("ClicksSpooled", "redirect")],
            width=12,
        )
        hit_ratio = cloudwatch.GraphWidget(
            title=DASHBOARD_WIDGETS[4],
            left=[
                cloudwatch.MathExpression(
                    expression="100 * hits / (hits + misses)",
                    using_metrics={
                        "hits": m("RedirectCacheHits", "redirect"),
                        "misses": m("RedirectCacheMisses", "redirect"),
                    },
                    label="cache hit %",
                    period=Duration.minutes(1),
                )
            ],
            width=12,
        )
        age = cloudwatch.GraphWidget(
            title=DASHBOARD_WIDGETS[5],
            left=[
                pair.queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(1), statistic="Maximum")
                for pair in queues
            ],
            width=12,
        )
        dlq = cloudwatch.GraphWidget(
            title=DASHBOARD_WIDGETS[6],
            left=[
                pair.dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum")
                for pair in queues
            ],
            width=12,
        )
        freshness = cloudwatch.GraphWidget(
            title=DASHBOARD_WIDGETS[7],
            left=[
                m("SyncAge", "sync", statistic="Maximum", period=PERIOD, sync_type=sync_type).with_(label=sync_type)
                for sync_type in SYNC_MAX_AGE
            ],
            right=[m("SilentAccounts", "sync", statistic="Maximum", period=Duration.minutes(15))],
            width=12,
        )
        errors = cloudwatch.GraphWidget(
            title=DASHBOARD_WIDGETS[8],
            left=[
                function.metric_errors(period=Duration.minutes(1), statistic="Sum").with_(label=name)
                for name, function in functions.items()
            ],
            right=[api.metric_server_error(period=Duration.minutes(1), statistic="Sum").with_(label="API 5xx")],
            width=12,
        )
        batches = cloudwatch.GraphWidget(
            title=DASHBOARD_WIDGETS[9],
            left=[
                m("BatchSize", "attribution", statistic="Average", queue=queue).with_(label=f"{queue} batch size")
                for queue in ("ingest", "clicks")
            ],
            right=[
                m("BatchPartialFailures", "attribution", queue=queue).with_(label=f"{queue} failed records")
                for queue in ("ingest", "clicks")
            ]
            + [m("ColdStarts", name).with_(label=f"{name} cold starts") for name in functions],
            width=12,
        )
        return cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{self.prefix}-operations",
            widgets=[[ingest, lag], [conversions, latency], [hit_ratio, age], [dlq, freshness], [errors, batches]],
        )

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms[construct_id] = alarm

    def watch_queue(self, pair: QueuePair) -> None:
        name = camel(pair.spec.name)
        self._alarm(
            f"{name}DlqDepth",
            pair.dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum"),
            1,
            f"Messages in the {pair.spec.name} dead-letter queue: inspect, fix, then redrive.",
        )
        self._alarm(
            f"{name}OldestMessage",
            pair.queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            OLDEST_MESSAGE_AGE.to_seconds(),
            f"The {pair.spec.name} queue is falling behind (oldest message over 15 minutes).",
        )

    def watch_function(self, name: str, function: lambda_.IFunction, *, serves_http: bool) -> None:
        base = camel(name)
        threshold = HTTP_ERROR_THRESHOLD if serves_http else BACKGROUND_ERROR_THRESHOLD
        self._alarm(
            f"{base}Errors",
            function.metric_errors(period=PERIOD, statistic="Sum"),
            threshold,
            f"The {name} function is failing.",
        )
        self._alarm(
            f"{base}Throttles",
            function.metric_throttles(period=PERIOD, statistic="Sum"),
            1,
            f"The {name} function is throttled (reserved or account concurrency exhausted).",
        )

    def watch_api(self, api: HttpApi) -> None:
        self._alarm(
            "Api5xx",
            api.metric_server_error(period=PERIOD, statistic="Sum"),
            API_5XX_THRESHOLD,
            "The HTTP API answers 5xx.",
        )
