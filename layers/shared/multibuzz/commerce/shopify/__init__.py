"""Shopify: connect (OAuth or a pasted Admin API token), webhooks, order syncs and the order facts."""
