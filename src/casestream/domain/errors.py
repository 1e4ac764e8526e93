"""Domain errors: what the case history refuses, and why. None carries an HTTP code."""

from __future__ import annotations


class CaseError(Exception):
    """Base of every refusal by the domain or the application."""


class InvalidInput(CaseError, ValueError):
    """Raised when a value is malformed or outside its enumeration."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ReasonRequired(InvalidInput):
    """Raised when a correction, void, override, transfer, closure or reopening has no reason."""

    def __init__(self, what: str) -> None:
        super().__init__("reason", f"a reason is required for {what}")


class InvalidEffectiveTime(InvalidInput):
    """Raised when an entry's effective time is in the future or before the case opened."""

    def __init__(self, message: str) -> None:
        super().__init__("effective_at", message)


class NotEntitled(CaseError):
    """Raised when the actor's role lacks the authority a command needs (an incentive
    above its level, countersigning a plan, or countersigning one's own plan)."""


class NotFound(CaseError):
    """Base of errors for something that does not exist."""


class CaseNotFound(NotFound):
    """Raised when no probationer has the given id."""


class PartnerNotFound(NotFound):
    """Raised when no community partner has the given id."""


class UnknownOfficer(InvalidInput):
    """Raised when a case is opened for, or transferred to, an officer the directory
    does not list."""


class UnknownUnit(InvalidInput):
    """Raised when a case or an officer names a unit the directory does not list."""


class UnknownEntry(InvalidInput):
    """Raised when a command names an entry (referral, violation, goal…) the case lacks."""

    def __init__(self, kind: str, entry_id: str) -> None:
        super().__init__(f"{kind}_id", f"no {kind} {entry_id!r} on this case")
        self.kind = kind
        self.entry_id = entry_id


class StateConflict(CaseError):
    """Base of refusals that depend on the current state (mapped to 409)."""


class CaseClosed(StateConflict):
    """Raised when an entry is added to a closed case (only a reopening is allowed)."""


class CaseSealedError(StateConflict):
    """Raised when an entry is added to a case a court has sealed."""


class CaseErasedError(StateConflict):
    """Raised when anything is recorded on a case whose personal data was erased."""


class ErasureUnavailable(StateConflict):
    """Raised when a case cannot be erased by destroying its key: the store has no
    master key, or the case has events written in clear before encryption."""


class CaseAlreadyOpen(StateConflict):
    """Raised when an open case is reopened."""


class InvalidTransition(StateConflict):
    """Raised when a referral or goal is moved along a path its lifecycle forbids."""


class EntryAlreadyVoided(StateConflict):
    """Raised when a voided entry is corrected or voided again."""


class StaleEntryVersion(StateConflict):
    """Raised when a correction targets a version of an entry that is not its latest."""


class PartnerInactive(StateConflict):
    """Raised when a referral names a deactivated partner or one without the service."""


class AlreadyRegistered(StateConflict):
    """Raised when an officer or unit id is registered a second time."""


class ConcurrencyConflict(StateConflict):
    """Raised when a command was based on a version of the case that is no longer current."""


class IdempotencyKeyReused(InvalidInput):
    """Raised when an idempotency key comes back with a different request."""

    def __init__(self, key: str) -> None:
        super().__init__(
            "Idempotency-Key", f"key {key!r} was already used for a different request"
        )


class IntegrityBroken(StateConflict):
    """Raised when a command targets a case whose stored history fails its checks:
    nothing is written on top of a history that may have been tampered with."""


class NotYetCheckpointed(StateConflict):
    """Raised when a certified export is asked for a case whose latest entries no
    signed checkpoint covers yet (an export proves inclusion, it does not sign anew)."""


class NotCheckpointedThen(StateConflict):
    """Raised when the record as it stood at a past time is asked for, but the case
    changed again before the next signed checkpoint: no stored checkpoint holds that
    moment's head, so nothing can prove the shorter record (and an export never signs)."""


class PossibleDuplicate(StateConflict):
    """Raised when a case is opened for a CRN, or a court and case number, that an
    open case already has, and the request did not confirm a second case is right."""

    def __init__(self, existing: list[str], detail: str) -> None:
        super().__init__(detail)
        self.existing = existing
        # Set by the API only when the caller may see the existing case.
        self.existing_id: str | None = None
