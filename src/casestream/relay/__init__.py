"""Relays that carry the event feed to message brokers, for fan-out beyond one store."""
