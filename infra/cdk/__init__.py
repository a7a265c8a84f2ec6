"""AWS CDK v2 app for Multibuzz, generated from ``multibuzz.topology`` (the one list of what exists)."""
