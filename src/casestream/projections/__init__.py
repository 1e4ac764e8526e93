"""Read models built from the event store: caseload, audit trail, outcomes."""
