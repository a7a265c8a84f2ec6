"""Importing this module registers every message handler the attribution function serves."""
