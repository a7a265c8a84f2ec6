"""Adapters to the outside world, chosen by settings: queues, object stores."""
