"""Migrations on deploy: a CDK Trigger runs the migrator (Alembic) after the database and before the functions.

The migrator's code is the shared layer (``multibuzz.runtime.migrator``). With the
``@aws-cdk/aws-lambda:recognizeLayerVersion`` flag the function's version hash covers the layer, so every
deployment that ships new shared code (and so possibly new migrations) runs it again.
"""

from __future__ import annotations

from aws_cdk import Duration, triggers
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.cdk.components.runtime import FunctionOptions, FunctionRuntime

MIGRATOR_HANDLER = "multibuzz.runtime.migrator.lambda_handler"
MIGRATOR_TIMEOUT = Duration.minutes(10)
# Lambda needs a code package; the handler itself is imported from the layer on /opt/python.
PLACEHOLDER_CODE = '"""The migrator lives in the shared layer: multibuzz.runtime.migrator."""\n'


class Migrations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: FunctionRuntime,
        after: list[Construct],
        before: list[Construct],
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = runtime.create(
            self,
            "Migrator",
            FunctionOptions(
                name="migrator",
                description="Runs Alembic migrations on deploy; creates the first admin on request",
                code=lambda_.Code.from_inline(PLACEHOLDER_CODE),
                handler=MIGRATOR_HANDLER,
                memory_mb=512,
                timeout_seconds=int(MIGRATOR_TIMEOUT.to_seconds()),
                uses_database=True,
                reserved_concurrency=None,
            ),
        )
        self.trigger = triggers.Trigger(
            self,
            "Migrate",
            handler=self.function,
            timeout=MIGRATOR_TIMEOUT,
            invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
            execute_on_handler_change=True,
            execute_after=after,
            execute_before=before,
        )
