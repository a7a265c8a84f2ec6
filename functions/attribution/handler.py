"""functions/attribution: the queue consumer (ingest FIFO queue and clicks queue).

Each record is one envelope; its kind selects the handler. Partial batch
failures are reported so only failed records are retried.
"""

from typing import Any

import multibuzz.consumers.handlers  # noqa: F401 - registers the message handlers
from multibuzz.consumers.process import handle_sqs_batch


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_sqs_batch(event, context)
