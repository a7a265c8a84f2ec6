"""CloudWatch alarms (DLQ depth, queue age, function errors and throttles, API 5xx) to an encrypted SNS topic."""

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
