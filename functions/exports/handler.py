"""functions/exports: report exports to S3 with presigned URLs. Not built yet (no open issue).

The object-store adapters it will use (S3 with presigned URLs, local folder with
signed URLs) exist and are tested; the export endpoints answer a clear 501.
"""

import json
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "Records" in event:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
    return {
        "statusCode": 501,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"error": "not_implemented", "message": "exports are not available yet"}),
    }
