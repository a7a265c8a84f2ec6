"""Queue consumers: one message kind, one handler; dispatch reports partial batch failures."""
