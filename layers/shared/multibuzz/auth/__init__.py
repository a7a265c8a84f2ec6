"""Credentials: password hashing, JWT access tokens, API keys, request signatures."""
