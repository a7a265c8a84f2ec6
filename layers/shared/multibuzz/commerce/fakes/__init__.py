"""Small real HTTP servers that behave like the third parties (Shopify, Meta) for tests and the demo."""
