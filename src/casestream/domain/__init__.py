"""The case-history domain: aggregates, values, policies and errors. No I/O here."""
