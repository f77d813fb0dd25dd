"""Signed verification statements: what `bench verify-submission` re-ran, bound to the files it read.

`verification.json` is a `SignedStatement`: a `VerificationStatement` (the sha256 of submission.json
and of every result and per-sample sidecar, the re-run subset's sample ids, the re-run scores and
verdict, the verifier's version) and its Ed25519 signature over the statement's canonical JSON
(keys sorted, no spaces, UTF-8). The leaderboard's status (`submission_status`) believes a statement
only when its signature verifies under a trusted key (the local key, plus any `--trusted-key`), it is
of the current statement version and verifier, and every file still has the hash it was verified with.

Keys: `$PERCEPTBENCH_SIGNING_KEY` names a PEM Ed25519 private key; else the local key
`<cache>/verification/ed25519.key` is created on first use (mode 0600) beside its public half
`ed25519.pub`, the file others pass as `--trusted-key`.
What a signature proves: the holder of that key ran this verifier on exactly these files. What it
does not: that the holder is honest; a local key proves only that this machine verified it.

No torch and no model_zoo here: the leaderboard imports this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..runtime.atomic import atomic_write_text
from .schema import SUBMISSION_FILE, VERIFICATION_FILE, read_json, read_submission

STATEMENT_VERSION: Final = 1
# Statements by an older verifier are outdated: raise this whenever what verification checks changes.
MIN_VERIFIER_VERSION = "0.1.0"
SIGNING_KEY_ENV = "PERCEPTBENCH_SIGNING_KEY"
KEY_FILE, PUBLIC_KEY_FILE = "ed25519.key", "ed25519.pub"
CHANGED = "flagged: changed after verification"
NOT_VERIFIED = "submitted (not verified)"

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Score = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


# What a smoke submission's status says after it, on the site and in `bench verify-submission`: never taken for a full one.
SMOKE_LABEL = " [smoke: demo only]"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClaimCheck(_Strict):
    """One claimed score against its re-run: accepted when it lies in the re-run's Wilson interval."""

    result_file: str
    dataset: str
    split: str | None
    threat: str  # "linf 4/255"
    attack: str
    score: Literal["clean", "robust"]
    claimed: Annotated[float, Field(allow_inf_nan=False)] | None  # None: the file's score is not a finite number
    rerun: Score
    n: Annotated[int, Field(ge=0)]  # samples re-run
    interval: tuple[Score, Score]
    accepted: bool


class SubsetRecord(_Strict):
    """Which samples of one result file were re-run: the seed of the draw and their ids."""

    result_file: str
    seed: int
    sample_ids: list[str]


class CheckRecord(_Strict):
    """A submission check as the verifier ran it (benchmark/submissions/submission.py's checks)."""

    name: str
    passed: bool
    message: str
    blocking: bool = True


class VerificationStatement(_Strict):
    """What the verifier re-ran and concluded, bound by hash to every file it read."""

    statement_version: Literal[1] = STATEMENT_VERSION
    verifier: Literal["perceptbench"] = "perceptbench"
    verifier_version: str
    submission: str  # the card's name
    status: Literal["verified", "flagged"]
    reasons: list[str]
    files: dict[str, Sha256]  # path relative to the submission folder -> sha256
    subsets: list[SubsetRecord]
    claims: list[ClaimCheck]
    checks: list[CheckRecord]
    subset_size: Annotated[int, Field(ge=1)]  # samples requested per result file
    subset_seed: int
    confidence: Annotated[float, Field(gt=0.0, lt=1.0)]
    interval: Literal["Wilson score"] = "Wilson score"
    full: bool  # every re-run covered its whole claimed set
    n: Annotated[int, Field(ge=0)]  # fewest samples any result file was re-run on
    environment: dict[str, Any]
    created_at: str

    @property
    def label(self) -> str:
        """'verified (full)', 'verified (subset, n=200)' or 'flagged'."""
        if self.status != "verified":
            return self.status
        return "verified (full)" if self.full else f"verified (subset, n={self.n})"

    def canonical_bytes(self) -> bytes:
        """The bytes that are signed: the statement's JSON with sorted keys and no spaces."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


class SignedStatement(_Strict):
    """verification.json: a statement, the public key that signed it and the signature (both base64)."""

    algorithm: Literal["ed25519"] = "ed25519"
    public_key: Annotated[str, Field(max_length=100)]  # raw 32-byte key, base64
    signature: Annotated[str, Field(max_length=200)]  # 64 bytes, base64
    statement: VerificationStatement


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digests(folder: Path, relative_paths: Iterable[str]) -> dict[str, str]:
    """{relative path: sha256} of the files the statement binds."""
    return {relative: sha256_file(folder / relative) for relative in relative_paths}


# -- keys ----------------------------------------------------------------------------------------------


def _cache_dir() -> Path:
    """The cache folder. The rule is model_zoo.weights.perceptbench_cache_dir's, restated because this module must
    not import model_zoo (which imports torch); tests/benchmark/test_verification.py holds the two to agreement."""
    configured = os.environ.get("PERCEPTBENCH_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "perceptbench"


def local_key_path() -> Path:
    """The signing key this machine uses: `$PERCEPTBENCH_SIGNING_KEY`, else `<cache>/verification/ed25519.key`."""
    configured = os.environ.get(SIGNING_KEY_ENV)
    return Path(configured).expanduser() if configured else _cache_dir() / "verification" / KEY_FILE


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise ValueError(f"cannot read the signing key {path} ({error.strerror or error})") from None
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path} is not an unencrypted PEM private key ({error}); remove it to have a new key created") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is a {type(key).__name__}, not an Ed25519 key; give an Ed25519 key in ${SIGNING_KEY_ENV}")
    return key


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def signing_key(create: bool = True) -> Ed25519PrivateKey | None:
    """This machine's signing key; the local key is created on first use (mode 0600) when `create`."""
    path = local_key_path()
    if path.is_file():
        return _read_private_key(path)
    if os.environ.get(SIGNING_KEY_ENV):
        raise ValueError(f"${SIGNING_KEY_ENV} names {path}, which does not exist; point it at a PEM Ed25519 private key or unset it")
    if not create:
        return None
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        atomic_write_text(path.with_name(PUBLIC_KEY_FILE), _public_pem(key.public_key()).decode())
    except FileExistsError:  # another process created it first
        return _read_private_key(path)
    except OSError as error:
        raise ValueError(
            f"cannot create the signing key {path} ({error.strerror or error}); set ${SIGNING_KEY_ENV} to a key file"
        ) from None
    return key


def describe_signing_key() -> str:
    """Where this machine's signing key is and what others pass as --trusted-key to believe it."""
    path, key = local_key_path(), signing_key(create=False)
    if key is None:
        return f"no signing key yet ({path} is created on first verification)"
    public = path.with_name(PUBLIC_KEY_FILE)
    shared = f"share {public}" if public.is_file() else f"share the public key {public_key_text(key.public_key())}"
    return f"signed with {path}; {shared} for others' --trusted-key"


def public_key_text(key: Ed25519PublicKey) -> str:
    """A public key as the statement records it: its raw 32 bytes, base64."""
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def read_public_key(path: str | Path) -> str:
    """A trusted key file (PEM public key, as `ed25519.pub`, or one line of base64) as the statement records keys."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read the trusted key {path} ({error.strerror or error})") from None
    try:
        if b"BEGIN" in data:
            key = serialization.load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError(f"a {type(key).__name__}")
            return public_key_text(key)
        return public_key_text(Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True)))
    except (ValueError, TypeError, binascii.Error) as error:
        raise ValueError(f"{path} is not an Ed25519 public key ({error}); give a PEM public key such as ed25519.pub") from None


def trusted_keys(extra: Iterable[str | Path] = ()) -> frozenset[str]:
    """The keys whose statements the leaderboard believes: this machine's key (if it has one) and the `extra` key files."""
    keys = {read_public_key(path) for path in extra}
    local = signing_key(create=False)
    if local is not None:
        keys.add(public_key_text(local.public_key()))
    return frozenset(keys)


# -- signing and checking ------------------------------------------------------------------------------


def sign_statement(statement: VerificationStatement, key: Ed25519PrivateKey | None = None) -> SignedStatement:
    """The statement signed with `key` (default: this machine's signing key, created on first use)."""
    key = key or signing_key()
    assert key is not None
    signature = key.sign(statement.canonical_bytes())
    return SignedStatement(
        public_key=public_key_text(key.public_key()), signature=base64.b64encode(signature).decode(), statement=statement
    )


def write_statement(folder: str | Path, signed: SignedStatement) -> Path:
    """Write verification.json atomically."""
    return atomic_write_text(Path(folder) / VERIFICATION_FILE, json.dumps(signed.model_dump(mode="json"), indent=2) + "\n")


def signature_valid(signed: SignedStatement) -> bool:
    """Whether the signature verifies under the public key it names (trust in that key is asked separately)."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(signed.public_key, validate=True))
        key.verify(base64.b64decode(signed.signature, validate=True), signed.statement.canonical_bytes())
    except (ValueError, binascii.Error, InvalidSignature):
        return False
    return True


def _outdated(statement: VerificationStatement) -> bool:
    try:
        return Version(statement.verifier_version) < Version(MIN_VERIFIER_VERSION)
    except InvalidVersion:
        return True


def changed_files(folder: Path, statement: VerificationStatement, claimed: Iterable[str]) -> list[str]:
    """Files whose hash differs from the statement's (or that it does not cover: submission.json, each claimed result)."""
    changed = [relative for relative in (SUBMISSION_FILE, *claimed) if relative not in statement.files]
    for relative, expected in statement.files.items():
        path = folder / relative
        try:
            inside = path.resolve().is_relative_to(folder.resolve())
            if not inside or not path.is_file() or sha256_file(path) != expected:
                changed.append(relative)
        except OSError:
            changed.append(relative)
    return sorted(set(changed))


@dataclass(frozen=True)
class SubmissionStatus:
    """Where a submission stands: submitted (not verified), verified (a trusted signed statement) or flagged (with reasons)."""

    status: str
    label: str
    reasons: tuple[str, ...] = ()
    smoke: bool = False


def read_statement(folder: Path) -> tuple[SignedStatement | None, str]:
    """(the signed statement, '') or (None, why it is not one); (None, '') when there is no verification.json."""
    path = folder / VERIFICATION_FILE
    if not path.is_file():
        return None, ""
    try:
        data = read_json(path)
        if not isinstance(data, dict) or "signature" not in data:
            return None, f"{VERIFICATION_FILE} is not signed"
        return SignedStatement.model_validate(data), ""
    except (ValueError, ValidationError) as error:
        first = error.errors()[0] if isinstance(error, ValidationError) else None
        field = ".".join(str(p) for p in first["loc"]) + f": {first['msg']}" if first else str(error)
        return None, f"{VERIFICATION_FILE} is not a statement this verifier reads ({field})"


def submission_status(folder: str | Path, trusted: frozenset[str] | None = None) -> SubmissionStatus:
    """Where the submission in `folder` stands, from its files and the `trusted` keys (default: `trusted_keys()`)."""
    folder = Path(folder)
    record = read_submission(folder)
    trusted = trusted_keys() if trusted is None else trusted
    signed, problem = read_statement(folder)
    reasons = list(record.flags)
    if signed is None or problem:
        status, label = ("flagged", "flagged") if reasons else ("submitted", NOT_VERIFIED)
        reasons += [problem] if problem else []
    elif signed.public_key not in trusted or not signature_valid(signed):
        why = "its signature does not verify" if signed.public_key in trusted else "it is signed by a key not trusted here (--trusted-key)"
        status, label = "submitted", NOT_VERIFIED
        reasons.append(f"{VERIFICATION_FILE} is not believed: {why}")
    elif _outdated(signed.statement):
        status, label = "submitted", NOT_VERIFIED
        reasons.append(f"verified by perceptbench {signed.statement.verifier_version}, older than {MIN_VERIFIER_VERSION}; verify again")
    elif changed := changed_files(folder, signed.statement, record.results):
        status, label = "flagged", CHANGED
        reasons.append(f"changed after verification: {', '.join(changed)}")
    else:
        statement = signed.statement
        reasons += [r for r in statement.reasons if r not in reasons and not r.startswith("gradients:")]
        status, label = ("verified", statement.label) if statement.status == "verified" and not reasons else ("flagged", "flagged")
    if record.smoke:
        label += SMOKE_LABEL
    return SubmissionStatus(status, label, tuple(reasons), record.smoke)
