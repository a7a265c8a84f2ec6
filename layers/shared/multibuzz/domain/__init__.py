"""Pure domain rules: no I/O, no framework. Easy to test without a database."""
