"""The management and reporting API (functions/api)."""
