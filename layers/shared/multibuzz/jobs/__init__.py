"""Scheduled jobs (functions/sync), keyed by the EventBridge detail-type."""
