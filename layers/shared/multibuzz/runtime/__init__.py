"""Lambda runtime helpers shared by the handlers."""
