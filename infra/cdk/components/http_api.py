"""The HTTP API: one route per ``topology`` route key, each integrated with its function (payload format 2.0)."""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from multibuzz import topology

from infra.cdk import nag
from infra.cdk.components.common import retention
from infra.cdk.config import StageConfig

ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "userAgent": "$context.identity.userAgent",
}


def parse_route_key(route_key: str) -> tuple[apigw.HttpMethod, str]:
    method, path = route_key.split(" ", 1)
    return apigw.HttpMethod[method.upper()], path


class HttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: dict[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigw.HttpApi(
            self,
            "Api",
            api_name=f"{config.prefix}-api",
            description="Multibuzz: redirects, ingestion, webhooks, exports, management API",
            create_default_stage=False,
        )
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=config.api_rate_limit, burst_limit=config.api_burst_limit),
        )
        cfn_stage = self.stage.node.default_child
        assert isinstance(cfn_stage, apigw.CfnStage)
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn, format=json.dumps(ACCESS_LOG_FORMAT)
        )
        integration_for = {
            name: integrations.HttpLambdaIntegration(f"{name}-integration", function)
            for name, function in functions.items()
        }
        self.routes: dict[str, apigw.HttpRoute] = {}
        for route_key, function_name in topology.all_routes():
            method, path = parse_route_key(route_key)
            # Id from the key itself: adding a route never renames (and so replaces) the others.
            self.routes[route_key] = apigw.HttpRoute(
                self,
                f"Route {route_key.replace('/', '|')}",
                http_api=self.api,
                route_key=apigw.HttpRouteKey.with_(path, method),
                integration=integration_for[function_name],
            )

        nag.acknowledge(self, "AwsSolutions-APIG4")

    @property
    def url(self) -> str:
        url = self.stage.url
        assert url is not None
        return url
