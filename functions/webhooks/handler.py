"""functions/webhooks: Shopify webhooks.

HTTP (``POST /webhooks/shopify/{topic+}``): verify the HMAC first, resolve the shop, enqueue, answer 200
well inside Shopify's 5 s (multibuzz.commerce.shopify.webhooks.accept).
Queue (``webhooks``): each record stored once per webhook id and applied (raw + fact rows, conversions,
aggregates, uninstall, compliance topics); conversions go to the attribution queue after commit.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from multibuzz.bootstrap import get_container
from multibuzz.commerce.shopify import conversions, webhooks
from multibuzz.consumers.envelope import Envelope
from multibuzz.telemetry import correlation
from multibuzz.telemetry.invocation import begin, end, invocation

FUNCTION = "webhooks"

processor = BatchProcessor(event_type=EventType.SQS)
_ACCEPTED = json.dumps(webhooks.ACCEPTED)  # the answer to nearly every delivery, encoded once


def record_handler(record: SQSRecord) -> None:
    # The request id of the webhook's HTTP delivery (message attribute): on this record's log lines and on
    # the conversion messages it sends on.
    token = correlation.set_current(correlation.from_sqs_record(record.raw_event))
    try:
        container = get_container()
        envelope = Envelope.loads(record.body, correlation.current())
        after: list[Callable[[], None]] = []
        with container.session() as session:
            try:
                messages = webhooks.handle(envelope, session, container, after)
                session.commit()
            except Exception:
                session.rollback()
                raise
        try:
            for action in after:  # compliance topics: the privacy service's own transactions
                action()
        except Exception:
            webhooks.forget_delivery(container, envelope)  # so the redelivery acts again
            raise
        conversions.send(container.queue, messages)
    finally:
        correlation.reset(token)


def _http(event: dict[str, Any]) -> dict[str, Any]:
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    topic = str((event.get("pathParameters") or {}).get("topic") or headers.get("x-shopify-topic", ""))
    status, payload = webhooks.accept(get_container(), topic, headers, raw)
    text = _ACCEPTED if payload is webhooks.ACCEPTED else json.dumps(payload)
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": text}


class WebhooksHandler:
    """The Lambda entry point. ``await invoke(event, context)`` is the same HTTP invocation awaited on a
    running loop: the local gateway uses it (AWAITED_ROUTES) because the request side never waits on the
    network (HMAC, the shop from the per-process cache, one append to the queue journal), so a webhook
    skips the hand-off to a worker thread and back — which cost more than the work itself."""

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if "Records" in event:
            with invocation(FUNCTION, None, flush=True):
                return process_partial_response(
                    event=event, record_handler=record_handler, processor=processor, context=context
                )
        with invocation(FUNCTION, correlation.from_http_event(event)):
            return _http(event)

    async def invoke(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if "Records" in event:  # never routed here by the gateway; kept whole for any other caller
            return self(event, context)
        token = begin(FUNCTION, correlation.from_http_event(event))
        try:
            return _http(event)
        finally:
            end(token)


lambda_handler = WebhooksHandler()
