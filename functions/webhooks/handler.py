"""functions/webhooks: Shopify webhooks. Not built yet: no open issue covers Shopify ingestion.

It is wired (routes, queue) so the topology is complete; every request gets a
clear 501 JSON answer rather than a silent accept that would lose orders.
"""

import json
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "Records" in event:  # queue side: nothing is enqueued yet; fail loudly if anything arrives
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
    return {
        "statusCode": 501,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"error": "not_implemented", "message": "Shopify webhooks are not available yet"}),
    }
