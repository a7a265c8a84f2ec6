"""Small real HTTP servers that behave like the third parties (tests and the demo mode use them)."""
