"""Ingestion (functions/events): authenticate, validate, enqueue. Nothing else on the request path."""
