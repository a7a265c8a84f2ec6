"""Commerce: third-party integrations (Shopify stores, Meta ad accounts), their syncs and daily aggregates."""
