"""casestream: an event-sourced case history for probation case management."""
