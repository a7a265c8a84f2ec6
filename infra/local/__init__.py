"""The local runner: the same Lambda handlers, wired on one machine by adapters.

HTTP request → API Gateway HTTP API v2 event → the function's ``lambda_handler``;
local-queue message → SQS event → the consumer's ``lambda_handler``;
schedule tick → EventBridge event → functions/sync. Nothing is re-implemented.
"""
