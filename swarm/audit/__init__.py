"""defai_swarm.audit: tamper-evident audit log (RFC 9162 Merkle trees, C2SP signed checkpoints).

Every step of a run is appended (durably, before the caller acts on it) to a
per-run Merkle tree; a signed checkpoint commits to the tree head, and the
SHA-256 of that note is what gets anchored on-chain. `export_bundle` and
`verify_bundle` let a third party check a run without trusting the operator's
database.

This package knows no database server, agent or chain: the storage (`AuditStorage`; a SQLite file by default),
the replay plugins and the anchor checker (`AnchorChecker`, which each chain adapter hands out) are passed in.
"""
from defai_swarm.audit.canonical import dumps as canonical_json
from defai_swarm.audit.checkpoint import (
    DEFAULT_KEY_NAME,
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    checkpoint_hash,
    origin_for_run,
    sign_checkpoint,
    verify_checkpoint,
)
from defai_swarm.audit.keys import KeyFileError, SigningKey, default_key_path, load_or_create_signing_key
from defai_swarm.audit.log import KINDS, AuditEntry, AuditLog, StoredCheckpoint, default_db_path
from defai_swarm.audit.merkle import EMPTY_ROOT, MerkleTree, leaf_hash, node_hash, verify_consistency, verify_inclusion
from defai_swarm.audit.redact import SecretGuard, SecretLeakError
from defai_swarm.audit.storage import AuditStorage, SqliteAuditStorage
from defai_swarm.audit.verify import (
    AnchorChecker,
    BundleError,
    Check,
    VerifyReport,
    export_bundle,
    verify_bundle,
    verify_bundle_file,
    verify_log,
)

__all__ = [
    "AnchorChecker", "AuditEntry", "AuditLog", "AuditStorage", "BundleError", "Check", "Checkpoint",
    "DEFAULT_KEY_NAME", "EMPTY_ROOT", "KINDS", "KeyFileError", "MerkleTree", "NoteError",
    "SecretGuard", "SecretLeakError", "Signer", "SigningKey", "SqliteAuditStorage", "StoredCheckpoint", "Verifier",
    "VerifyReport", "canonical_json", "checkpoint_hash", "default_db_path", "default_key_path",
    "export_bundle", "leaf_hash", "load_or_create_signing_key", "node_hash", "origin_for_run",
    "sign_checkpoint", "verify_bundle", "verify_bundle_file", "verify_checkpoint", "verify_consistency",
    "verify_inclusion", "verify_log",
]

from defai_swarm.audit.anchor import AnchorError, AnchorRef, memo_text  # noqa: E402  (the chain anchors: tools.*.anchor)

__all__ += ["AnchorError", "AnchorRef", "memo_text"]
