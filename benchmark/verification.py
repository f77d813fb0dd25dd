"""Signed verification statements: a "verified" badge that cannot be written by hand, edited after the fact or outlived.

`bench verify-submission` writes `verification.json` as an envelope `{"statement", "signature",
"public_key"}`. The statement binds the sha256 of `submission.json` and of every result file and
per-sample sidecar it verified, the re-run subset's sample ids, the re-run scores and the verifier's
version; the signature is Ed25519 over the statement's canonical JSON (sorted keys, no spaces, UTF-8).

Threat model. The signature proves that the holder of a private key verified exactly these bytes.
A reader trusts only the keys it is given: this machine's own key (created on first use in the
cache folder, `$PERCEPTBENCH_CACHE/verifier/`, or the file `$PERCEPTBENCH_VERIFIER_KEY` names) and any
public key passed as `--trusted-key` (maintainers publish theirs). So a hand-written or re-signed
statement by an unknown key reads "submitted (not verified)", and any byte changed in a bound file
after signing reads "flagged: changed after verification". It does not prove that the verifier's
machine was honest, nor that the data it ran on were the real datasets; a local key proves only
that this machine verified it.

This module imports no torch, so the leaderboard can check statements.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

STATEMENT_VERSION = 1
VERIFICATION_FILE = "verification.json"
SUBMISSION_FILE = "submission.json"
KEY_ENVIRONMENT = "PERCEPTBENCH_VERIFIER_KEY"
NOT_VERIFIED = "submitted (not verified)"
CHANGED = "flagged: changed after verification"


class ClaimRecord(BaseModel):
    """One claimed score beside its re-run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    result_file: str
    dataset: str
    split: str | None
    threat: str
    score: Literal["clean", "robust"]
    claimed: float = Field(ge=0, le=1, allow_inf_nan=False)
    rerun: float = Field(ge=0, le=1, allow_inf_nan=False)
    n: int = Field(ge=0)
    interval: tuple[float, float]
    accepted: bool


class VerificationStatement(BaseModel):
    """What a verifier signs: the bytes it verified, the samples it re-ran, and its verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    statement_version: int
    verifier: str  # "perceptbench <version>"
    status: Literal["verified", "flagged"]
    reasons: list[str]
    files: dict[str, str]  # path relative to the submission folder -> sha256; submission.json included
    subset_seed: int
    subset_size: int = Field(ge=1)
    subset_sample_ids: dict[str, list[str]]  # claimed result file -> the sample ids re-run
    confidence: float = Field(gt=0, lt=1)
    full: bool
    n: int = Field(ge=0)
    claims: list[ClaimRecord]
    created_at: str


class SignedStatement(BaseModel):
    """verification.json: the statement, its Ed25519 signature and the signing public key (base64)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    statement: VerificationStatement
    signature: str
    public_key: str


def canonical_bytes(statement: VerificationStatement) -> bytes:
    """The bytes that are signed: the statement as sorted, compact UTF-8 JSON."""
    return json.dumps(statement.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inside(folder: Path, relative: str) -> Path:
    """`folder/relative`, refused unless it stays inside `folder` once links are resolved."""
    path = (folder / relative).resolve()
    if Path(relative).is_absolute() or "\\" in relative or not path.is_relative_to(folder.resolve()):
        raise ValueError(f"'{relative}' points outside the submission folder {folder}; a statement names files inside it only")
    return path


# -- keys -------------------------------------------------------------------------------------------


def default_key_path() -> Path:
    """The signing key: `$PERCEPTBENCH_VERIFIER_KEY`, else `<cache>/verifier/ed25519.key` (created on first use)."""
    configured = os.environ.get(KEY_ENVIRONMENT)
    if configured:
        return Path(configured).expanduser()
    from model_zoo.weights import perceptbench_cache_dir

    return perceptbench_cache_dir() / "verifier" / "ed25519.key"


def load_or_create_signing_key(path: Path | None = None):
    """The Ed25519 private key at `path` (raw 32 bytes, base64), created with mode 0600 when missing."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = path or default_key_path()
    if path.is_file():
        try:
            return Ed25519PrivateKey.from_private_bytes(base64.b64decode(path.read_text().strip(), validate=True))
        except ValueError as error:
            raise ValueError(f"{path} is not an Ed25519 key (base64 of 32 bytes): {error}; remove it to create a new one") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(raw).decode() + "\n")
    path.with_suffix(".pub").write_text(public_key_text(key) + "\n")
    return key


def public_key_text(private_key) -> str:
    """The base64 raw public key of a private key: what `--trusted-key` files hold."""
    from cryptography.hazmat.primitives import serialization

    return base64.b64encode(private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def trusted_keys(extra: list[str | Path] | tuple[str | Path, ...] = ()) -> frozenset[str]:
    """This machine's own public key (when it has one) and the public keys in the `--trusted-key` files."""
    keys = set()
    own = default_key_path()
    if own.is_file():
        keys.add(public_key_text(load_or_create_signing_key(own)))
    for item in extra:
        path = Path(item)
        try:
            text = path.read_text().strip()
            if len(base64.b64decode(text, validate=True)) != 32:
                raise ValueError("not 32 bytes")
        except (OSError, ValueError) as error:
            raise ValueError(f"--trusted-key {path}: not a public key file (base64 of a raw 32-byte Ed25519 key): {error}") from None
        keys.add(text)
    return frozenset(keys)


# -- writing and checking ---------------------------------------------------------------------------


def sign(statement: VerificationStatement, key=None) -> SignedStatement:
    """The statement signed with `key` (default: this machine's)."""
    key = key or load_or_create_signing_key()
    signature = base64.b64encode(key.sign(canonical_bytes(statement))).decode()
    return SignedStatement(statement=statement, signature=signature, public_key=public_key_text(key))


def bound_files(folder: Path, result_files: list[str], sidecar_suffix: str) -> dict[str, str]:
    """sha256 of submission.json and of each result file and its sidecar (when present), by relative path."""
    names = [SUBMISSION_FILE]
    for relative in result_files:
        names.append(relative)
        sidecar = relative.removesuffix(".json") + sidecar_suffix
        if inside(folder, sidecar).is_file():
            names.append(sidecar)
    return {name: sha256_file(inside(folder, name)) for name in names}


@dataclass(frozen=True)
class StatementCheck:
    """What a reader may believe of a submission's verification: status, the label shown, and why."""

    status: str  # verified | flagged | submitted
    label: str
    reasons: tuple[str, ...] = ()


def _verify_signature(signed: SignedStatement) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(signed.public_key, validate=True))
        key.verify(base64.b64decode(signed.signature, validate=True), canonical_bytes(signed.statement))
    except (InvalidSignature, ValueError):
        return False
    return True


def check_statement(folder: str | Path, result_files: list[str], trusted: frozenset[str]) -> StatementCheck:
    """Read `folder/verification.json` and say what it proves, recomputing every hash it binds."""
    folder = Path(folder)
    path = folder / VERIFICATION_FILE
    if not path.is_file():
        return StatementCheck("submitted", NOT_VERIFIED, ("never verified",))
    try:
        signed = SignedStatement.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        return StatementCheck("submitted", NOT_VERIFIED, (f"{VERIFICATION_FILE} is not a signed statement ({first})",))
    statement = signed.statement
    if statement.statement_version != STATEMENT_VERSION:
        return StatementCheck(
            "submitted", NOT_VERIFIED, (f"statement version {statement.statement_version} is not {STATEMENT_VERSION}: verify again",)
        )
    if signed.public_key not in trusted:
        return StatementCheck("submitted", NOT_VERIFIED, ("signed by a key this leaderboard does not trust (pass it with --trusted-key)",))
    if not _verify_signature(signed):
        return StatementCheck("submitted", NOT_VERIFIED, ("the signature does not match the statement",))
    changed = []
    for relative, digest in statement.files.items():
        try:
            actual = sha256_file(inside(folder, relative))
        except (OSError, ValueError):
            actual = None
        if actual != digest:
            changed.append(relative)
    changed += [f for f in result_files if f not in statement.files]
    if changed:
        return StatementCheck("flagged", CHANGED, tuple(f"{name} changed after verification" for name in changed))
    if statement.status != "verified":
        return StatementCheck("flagged", "flagged", tuple(statement.reasons))
    label = "verified (full)" if statement.full else f"verified (subset, n={statement.n})"
    return StatementCheck("verified", label)


def statement_fields() -> dict[str, Any]:
    """The JSON Schema of verification.json (for `bench schema verification`)."""
    return SignedStatement.model_json_schema()
