"""Conversions: the ingestion endpoint, the consumer and the read API."""
