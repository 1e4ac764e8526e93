"""Recompute the hash chains, the signed checkpoints and the witness copies of a store,
and name every case where they break."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from casestream import chain
from casestream.checkpoints import read_witness, signature_valid
from casestream.integrity import check_rows
from casestream.persistence import Checkpoint, RecordedAtRecorder
from casestream.persistence.snapshots import SealedSnapshotRecorder


@dataclass(frozen=True)
class CaseVerdict:
    """Whether one aggregate's stored history is exactly as written."""

    originator_id: str
    versions: int
    intact: bool
    broken_at: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class CheckpointVerdict:
    position: int
    cases: int
    intact: bool
    problem: str | None = None
    broken_cases: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoreVerdict:
    cases: list[CaseVerdict]
    checkpoints: list[CheckpointVerdict]
    witness: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return (
            all(c.intact for c in self.cases)
            and all(c.intact for c in self.checkpoints)
            and not self.witness
        )


def verify_case(
    store: RecordedAtRecorder,
    originator_id: UUID,
    snapshots: SealedSnapshotRecorder | None = None,
) -> CaseVerdict:
    """Walk the chain from genesis, compare the case with every checkpoint that
    covered it and, given the snapshot store, check its snapshots' seals."""
    oid = str(originator_id)
    rows = store.case_rows(originator_id)
    versions = len(rows.events)

    def broken(version: int | None, problem: str | None) -> CaseVerdict:
        return CaseVerdict(oid, versions, False, version, problem)

    integrity = check_rows(originator_id, rows)
    if not integrity.intact:
        return broken(integrity.broken_at, integrity.problem)
    links = {e.stored.originator_version: e.link for e in rows.events}
    for position, version, link in store.checkpointed_heads(originator_id):
        if links.get(version) != link:
            return broken(
                version,
                f"version {version} differs from the checkpoint at position "
                f"{position}: re-chained or cut after it",
            )
    if snapshots is not None and snapshots.key is not None:
        for row in snapshots.inner.select_events(originator_id):
            opened = snapshots.open(row)
            version = row.originator_version
            if opened is None:
                return broken(version, f"snapshot at version {version} is forged")
            if links.get(version) != opened.link:
                return broken(
                    version, f"snapshot at version {version} seals another chain"
                )
    return CaseVerdict(oid, versions, True)


def verify_checkpoint(
    store: RecordedAtRecorder, cp: Checkpoint, public_key: bytes | None
) -> CheckpointVerdict:
    """The signature, the heads stored with it, and today's chain at its position."""

    def broken(problem: str, names: list[str] | None = None) -> CheckpointVerdict:
        return CheckpointVerdict(cp.position, cp.cases, False, problem, names or [])

    if public_key is None:
        return broken("signature not checked: no agency public key given")
    if not signature_valid(cp, public_key):
        return broken("its signature is not the agency's: the checkpoint was forged")
    stored = store.checkpoint_leaves(cp.position)
    stored_root = chain.merkle_root([chain.leaf(o, v, h) for o, v, h in stored])
    if stored_root != cp.root or len(stored) != cp.cases:
        return broken(
            "the heads stored with it do not give its signed root: checkpoint rows "
            "were altered"
        )
    now = {o: (v, h) for o, v, h in store.chain_heads(cp.position)}
    then = {o: (v, h) for o, v, h in stored}
    names = sorted(o for o in set(now) | set(then) if now.get(o) != then.get(o))
    if names:
        details = "; ".join(_difference(o, then.get(o), now.get(o)) for o in names)
        return broken(
            f"{len(names)} case(s) differ from the checkpoint at position "
            f"{cp.position}: {details}",
            names,
        )
    return CheckpointVerdict(cp.position, cp.cases, True)


def _difference(
    oid: str, then: tuple[int, bytes] | None, now: tuple[int, bytes] | None
) -> str:
    if then is None:
        return f"case {oid} was not in it"
    if now is None:
        return f"case {oid} was removed"
    if now[0] < then[0]:
        return f"case {oid} was cut from version {then[0]} to {now[0]}"
    return f"case {oid} was changed or re-chained at version {then[0]}"


def verify_witness(
    store: RecordedAtRecorder, directory: Path, public_key: bytes | None
) -> list[str]:
    """Problems found by comparing the database's checkpoints with the witness."""
    problems = []
    stored = {c.position: c for c in store.checkpoints()}
    copies = read_witness(directory)
    if not copies:
        problems.append(f"the witness {directory} holds no checkpoints")
    for copy in copies:
        if public_key is not None and not signature_valid(copy, public_key):
            problems.append(
                f"witness checkpoint {copy.position} is not signed by the agency's key"
            )
            continue
        found = stored.get(copy.position)
        if found is None:
            problems.append(
                f"checkpoint {copy.position} is in the witness but not in the database"
            )
        elif (found.root, found.signature) != (copy.root, copy.signature):
            problems.append(
                f"checkpoint {copy.position} in the database differs from the witness"
            )
    return problems


def verify_store(
    store: RecordedAtRecorder,
    only: UUID | None = None,
    *,
    public_key: bytes | None = None,
    snapshots: SealedSnapshotRecorder | None = None,
    witness: Path | None = None,
) -> StoreVerdict:
    ids = [only] if only is not None else store.originator_ids()
    return StoreVerdict(
        cases=[verify_case(store, i, snapshots) for i in ids],
        checkpoints=[]
        if only
        else [verify_checkpoint(store, c, public_key) for c in store.checkpoints()],
        witness=verify_witness(store, witness, public_key) if witness else [],
    )
