"""CDK assertions on the synthesized template: functions, layer, queues, event sources, bucket, API, alarms."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from multibuzz import topology
from multibuzz.settings import Settings

from infra.cdk.components.edge import REDIRECT_HEADERS, REDIRECT_PATH
from infra.cdk.components.functions import consumer_max_concurrency
from infra.cdk.components.migrations import MIGRATOR_HANDLER
from infra.cdk.components.queues import visibility_timeout_seconds
from infra.cdk.components.runtime import queue_url_setting
from tests.infra import cfn
from tests.infra.conftest import Synthesized


def _function(template: dict[str, Any], name: str) -> dict[str, Any]:
    return cfn.props(template["Resources"][cfn.function_logical_id(template, name)])


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.name)
def test_function_matches_its_spec(template: dict[str, Any], spec: topology.FunctionSpec) -> None:
    fn = _function(template, spec.name)
    assert fn["Runtime"] == "python3.12"
    assert fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "handler.lambda_handler"
    assert fn["MemorySize"] == spec.memory_mb
    assert fn["Timeout"] == spec.timeout_seconds
    assert fn.get("ReservedConcurrentExecutions") == spec.reserved_concurrency
    layers = cfn.resources(template, "AWS::Lambda::LayerVersion")
    assert len(layers) == 1
    assert [cfn.ref_target(layer) for layer in fn["Layers"]] == list(layers)
    assert ("VpcConfig" in fn) == spec.uses_database


def test_layer_targets_the_function_runtime_and_architecture(template: dict[str, Any]) -> None:
    (layer,) = cfn.resources(template, "AWS::Lambda::LayerVersion").values()
    assert cfn.props(layer)["CompatibleRuntimes"] == ["python3.12"]
    assert cfn.props(layer)["CompatibleArchitectures"] == ["arm64"]


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.name)
def test_function_settings_use_the_local_runner_names_and_no_plaintext_secrets(
    template: dict[str, Any], spec: topology.FunctionSpec
) -> None:
    env = _function(template, spec.name)["Environment"]["Variables"]
    known = {f"MULTIBUZZ_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= known, f"not settings: {set(env) - known}"
    assert env["MULTIBUZZ_STAGE"] in ("dev", "prod")
    assert env["MULTIBUZZ_QUEUE_BACKEND"] == "sqs"
    assert env["MULTIBUZZ_OBJECT_STORE"] == "s3"
    for queue in topology.QUEUES:
        assert queue_url_setting(queue.name) in env
    for secret in ("MULTIBUZZ_JWT_SECRET", "MULTIBUZZ_ENCRYPTION_KEY", "MULTIBUZZ_PRIVACY_HASH_KEY"):
        rendered = json.dumps(env[secret])
        assert "{{resolve:secretsmanager:" in rendered, secret
    if spec.uses_database:
        assert {"MULTIBUZZ_DATABASE_SECRET_ARN", "MULTIBUZZ_DATABASE_HOST", "MULTIBUZZ_DATABASE_NAME"} <= set(env)


def test_template_holds_no_generated_secret_values(template: dict[str, Any]) -> None:
    for secret in cfn.resources(template, "AWS::SecretsManager::Secret").values():
        assert "SecretString" not in cfn.props(secret)
        assert "GenerateSecretString" in cfn.props(secret)


@pytest.mark.parametrize("queue", topology.QUEUES, ids=lambda q: q.name)
def test_queue_has_a_dlq_redrive_and_encryption(template: dict[str, Any], queue: topology.QueueSpec) -> None:
    main_id = next(k for k, v in cfn.queue_names(template).items() if v == queue.name)
    dlq_id = next(k for k, v in cfn.dlq_names(template).items() if v == queue.name)
    main, dlq = cfn.props(template["Resources"][main_id]), cfn.props(template["Resources"][dlq_id])
    assert cfn.ref_target(main["RedrivePolicy"]["deadLetterTargetArn"]) == dlq_id
    assert main["RedrivePolicy"]["maxReceiveCount"] == queue.max_receive_count
    assert main["MessageRetentionPeriod"] == queue.retention_days * 86400
    assert main["VisibilityTimeout"] == visibility_timeout_seconds(queue)
    assert main["SqsManagedSseEnabled"] and dlq["SqsManagedSseEnabled"]
    assert dlq["MessageRetentionPeriod"] == 14 * 86400
    assert bool(main.get("FifoQueue")) == bool(dlq.get("FifoQueue")) == queue.fifo


def test_visibility_timeout_covers_every_consumer(template: dict[str, Any]) -> None:
    # Lambda refuses an SQS event source whose visibility timeout is shorter than the function timeout.
    for fn in topology.FUNCTIONS:
        for consumer in fn.consumes:
            assert visibility_timeout_seconds(topology.queue(consumer.queue)) >= fn.timeout_seconds


def test_ingest_queue_is_high_throughput_fifo_without_content_dedupe(template: dict[str, Any]) -> None:
    Template.from_json(template).has_resource_properties(
        "AWS::SQS::Queue",
        {
            "FifoQueue": True,
            "ContentBasedDeduplication": False,
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
            "Tags": Match.array_with([{"Key": "multibuzz:queue", "Value": "ingest"}]),
        },
    )


def test_queues_refuse_plain_http(template: dict[str, Any]) -> None:
    policies = cfn.resources(template, "AWS::SQS::QueuePolicy").values()
    covered = set()
    for policy in policies:
        for statement in cfn.props(policy)["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}:
                covered |= {cfn.ref_target(q) for q in cfn.props(policy)["Queues"]}
    assert covered == set(cfn.resources(template, "AWS::SQS::Queue"))


def test_event_sources_report_batch_item_failures(template: dict[str, Any]) -> None:
    mappings = cfn.resources(template, "AWS::Lambda::EventSourceMapping").values()
    assert len(mappings) == sum(len(fn.consumes) for fn in topology.FUNCTIONS)
    for mapping in mappings:
        assert cfn.props(mapping)["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_event_source_concurrency_stays_within_reserved_concurrency(template: dict[str, Any]) -> None:
    functions = cfn.function_names(template)
    for mapping in cfn.resources(template, "AWS::Lambda::EventSourceMapping").values():
        spec = topology.function(functions[cfn.ref_target(cfn.props(mapping)["FunctionName"])])
        scaling = cfn.props(mapping).get("ScalingConfig", {}).get("MaximumConcurrency")
        assert scaling == consumer_max_concurrency(spec)
        if spec.reserved_concurrency:
            assert scaling * len(spec.consumes) <= spec.reserved_concurrency


def test_schedules_target_the_sync_function_with_the_topology_detail_type(template: dict[str, Any]) -> None:
    rules = cfn.resources(template, "AWS::Events::Rule").values()
    assert len(rules) == sum(len(fn.schedules) for fn in topology.FUNCTIONS)
    for rule in rules:
        (target,) = cfn.props(rule)["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
        assert json.loads(target["Input"])["detail"] == {}


def test_exports_bucket_is_private_encrypted_tls_only_and_expiring(template: dict[str, Any]) -> None:
    t = Template.from_json(template)
    t.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with([Match.object_like({"Id": "expire-exports", "Status": "Enabled"})])
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "s3-access/exports/"}),
        },
    )
    for policy in cfn.resources(template, "AWS::S3::BucketPolicy").values():
        statements = cfn.props(policy)["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_api_has_access_logs_and_throttling(template: dict[str, Any]) -> None:
    (stage,) = cfn.resources(template, "AWS::ApiGatewayV2::Stage").values()
    p = cfn.props(stage)
    assert p["StageName"] == "$default" and p["AutoDeploy"] is True
    assert "requestId" in json.loads(p["AccessLogSettings"]["Format"])
    assert p["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0


def test_alarms_cover_dlqs_functions_throttles_and_api_5xx(template: dict[str, Any]) -> None:
    alarms = [cfn.props(a) for a in cfn.resources(template, "AWS::CloudWatch::Alarm").values()]
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for alarm in alarms:
        by_metric.setdefault(alarm["MetricName"], []).append(alarm)
        assert alarm["AlarmActions"], "every alarm notifies the topic"
    dlqs = set(cfn.dlq_names(template))
    dlq_alarms = {cfn.ref_target(a["Dimensions"][0]["Value"]) for a in by_metric["ApproximateNumberOfMessagesVisible"]}
    assert dlq_alarms == dlqs
    functions = {cfn.function_logical_id(template, s.name) for s in topology.FUNCTIONS}
    for metric in ("Errors", "Throttles"):
        assert {cfn.ref_target(a["Dimensions"][0]["Value"]) for a in by_metric[metric]} == functions
    (api_5xx,) = by_metric["5xx"]
    assert api_5xx["Namespace"] == "AWS/ApiGateway"


def test_outputs_expose_api_bucket_and_queue_urls(template: dict[str, Any]) -> None:
    outputs = set(template["Outputs"])
    assert {"ApiUrl", "ExportsBucketName", "MigratorFunctionName", "RedirectBaseUrl"} <= outputs
    for queue in topology.QUEUES:
        assert any(o.endswith("QueueUrl") and o.lower().startswith(queue.name) for o in outputs), queue.name


def test_database_is_aurora_mysql_3_serverless_v2_behind_a_proxy(template: dict[str, Any]) -> None:
    (cluster,) = cfn.resources(template, "AWS::RDS::DBCluster").values()
    p = cfn.props(cluster)
    assert p["Engine"] == "aurora-mysql"
    assert p["EngineVersion"].startswith("8.0.mysql_aurora.3.")
    assert p["StorageEncrypted"] is True
    assert p["ServerlessV2ScalingConfiguration"]["MinCapacity"] >= 0.5
    instances = cfn.resources(template, "AWS::RDS::DBInstance").values()
    assert instances and all(cfn.props(i)["DBInstanceClass"] == "db.serverless" for i in instances)
    assert all(cfn.props(i)["PubliclyAccessible"] is False for i in instances)
    (proxy,) = cfn.resources(template, "AWS::RDS::DBProxy").values()
    assert cfn.props(proxy)["EngineFamily"] == "MYSQL"
    host = _function(template, "attribution")["Environment"]["Variables"]["MULTIBUZZ_DATABASE_HOST"]
    assert cfn.ref_target(host) == next(iter(cfn.resources(template, "AWS::RDS::DBProxy")))


def test_migrations_run_after_the_database_and_before_every_function(template: dict[str, Any]) -> None:
    (trigger_id,) = cfn.resources(template, "Custom::Trigger")
    trigger = template["Resources"][trigger_id]
    assert cfn.props(trigger)["ExecuteOnHandlerChange"] is True
    version = template["Resources"][cfn.ref_target(cfn.props(trigger)["HandlerArn"])]
    migrator = cfn.ref_target(cfn.props(version)["FunctionName"])
    assert cfn.props(template["Resources"][migrator])["Handler"] == MIGRATOR_HANDLER
    depends = set(trigger["DependsOn"])
    assert set(cfn.resources(template, "AWS::RDS::DBCluster")) <= depends
    assert set(cfn.resources(template, "AWS::RDS::DBInstance")) <= depends
    assert set(cfn.resources(template, "AWS::RDS::DBProxyTargetGroup")) <= depends
    for spec in topology.FUNCTIONS:
        assert trigger_id in template["Resources"][cfn.function_logical_id(template, spec.name)]["DependsOn"]


def test_cloudfront_only_in_prod_and_forwards_viewer_geo_headers(synthesized: Synthesized) -> None:
    assert not cfn.resources(synthesized.templates["dev"], "AWS::CloudFront::Distribution")
    prod = synthesized.templates["prod"]
    (distribution,) = cfn.resources(prod, "AWS::CloudFront::Distribution").values()
    (behavior,) = cfn.props(distribution)["DistributionConfig"]["CacheBehaviors"]
    assert behavior["PathPattern"] == REDIRECT_PATH
    policy = prod["Resources"][cfn.ref_target(behavior["OriginRequestPolicyId"])]
    headers = cfn.props(policy)["OriginRequestPolicyConfig"]["HeadersConfig"]["Headers"]
    assert {"CloudFront-Viewer-Country", "CloudFront-Viewer-City"} <= set(headers) == set(REDIRECT_HEADERS)
    assert "Host" not in headers


def test_prod_is_protected_and_dev_is_cheap(synthesized: Synthesized) -> None:
    dev, prod = synthesized.templates["dev"], synthesized.templates["prod"]
    (dev_cluster,) = cfn.resources(dev, "AWS::RDS::DBCluster").values()
    (prod_cluster,) = cfn.resources(prod, "AWS::RDS::DBCluster").values()
    assert cfn.props(prod_cluster)["DeletionProtection"] is True
    assert not cfn.props(dev_cluster).get("DeletionProtection")
    assert len(cfn.resources(dev, "AWS::EC2::NatGateway")) == 1
    assert len(cfn.resources(prod, "AWS::EC2::NatGateway")) == 2
    assert len(cfn.resources(prod, "AWS::RDS::DBInstance")) == 2  # writer + reader in another AZ


def test_new_shared_code_reruns_the_migration_trigger(synthesized: Synthesized, tmp_path_factory: Any) -> None:
    """recognizeLayerVersion: the migrator's version (what the trigger watches) changes with the layer."""
    from infra.cdk.app import build_app
    from infra.cdk.layer_bundle import PACKAGE_SRC

    changed = tmp_path_factory.mktemp("layer-changed")
    target = changed / "python" / "multibuzz"
    shutil.copytree(PACKAGE_SRC, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (target / "db" / "migrations" / "versions" / "9999_new_migration.py").write_text('revision = "9999"\n')
    app, (stack,) = build_app(
        outdir=str(tmp_path_factory.mktemp("cdk.out.changed")), layer_dir=changed, stages=("dev",), nag_checks=False
    )
    template = app.synth().get_stack_artifact(stack.artifact_id).template

    def handler_version(t: dict[str, Any]) -> str:
        (trigger,) = cfn.resources(t, "Custom::Trigger").values()
        return cfn.ref_target(cfn.props(trigger)["HandlerArn"])

    assert handler_version(template) != handler_version(synthesized.templates["dev"])
