"""The files a submission folder holds, as pydantic models: the card, the checks and `submission.json`.

A submission is data from outside: every field is typed and bounded, unknown fields are refused,
and a file of the wrong shape is a one-line error naming the file and the field. The card says
how its metric is loaded (`loader`): a registered name, an installed `perceptbench.models` entry
point, or `module:factory` inside the installed distribution `package`; `model_kwargs` are JSON
scalars. Nothing here imports torch or model_zoo: the leaderboard reads these files too.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError, field_validator

SUBMISSION_FILE = "submission.json"
VERIFICATION_FILE = "verification.json"
RESULTS_DIR = "results"
VERIFICATION_DIR = "verification"
# 2: the card says how its metric is loaded (loader, package, model_kwargs); 3: the card no longer says whether the
# metric is randomised or how it preprocesses, its class does (`is_randomised`, `input_preprocessing`).
SUBMISSION_SCHEMA_VERSION: Final = 3
CARD_FIELDS = ("name", "authors", "link", "license", "weights", "loader", "package", "model_kwargs")
CLASS_FIELDS = ("randomised", "preprocessing")  # what schema-2 cards said and the metric's class says now
LOADERS = ("registered", "entry_point", "module")
MODULE_FACTORY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")

# A model keyword argument's value: JSON scalars only (a list or object could smuggle a structure a factory unpacks).
ScalarValue = StrictBool | StrictInt | StrictFloat | StrictStr | None
ShortText = Annotated[str, Field(max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeightsSpec(_Strict):
    """Where a submitted metric's weights come from; the sha256's format is checked by `check_weights`, with its fix."""

    kind: Literal["none", "package", "url", "hub", "unknown"]
    package: ShortText | None = None
    url: ShortText | None = None
    hub_id: ShortText | None = None
    filename: ShortText | None = None
    sha256: ShortText | None = None
    note: ShortText | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-style access for the checks that read one field."""
        value = getattr(self, key, default)
        return default if value is None else value


class SubmissionCard(_Strict):
    """What a submitted metric says about itself, and the one way its metric is loaded."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    authors: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=100)
    link: ShortText = ""  # paper or code
    license: Annotated[str, Field(max_length=200)] = ""
    weights: WeightsSpec | None = None
    loader: Literal["registered", "entry_point", "module"] = "registered"
    package: Annotated[str, Field(max_length=200)] | None = None  # the installed distribution that holds the metric
    model_kwargs: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], ScalarValue] = Field(default_factory=dict)

    @field_validator("authors", mode="before")
    @classmethod
    def _split_authors(cls, value: Any) -> Any:
        return [a.strip() for a in value.split(",") if a.strip()] if isinstance(value, str) else value

    @field_validator("model_kwargs")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"model_kwargs.{key} must be a finite number, got {item}")
        return value

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in submission.json."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Any, where: str = "card") -> SubmissionCard:
        """A card from its JSON form; a wrong shape is a one-line ValueError naming `where` and the field."""
        return validate(cls, data, where)


class CheckOutcome(_Strict):
    """The result of one submission check, with a message that names the fix when it failed."""

    name: Annotated[str, Field(max_length=100)]
    passed: StrictBool
    message: ShortText
    blocking: StrictBool = True  # a failed blocking check rejects the submission; a non-blocking one flags it

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in submission.json and the verification statement."""
        return self.model_dump(mode="json")


def _relative_json_path(value: str) -> str:
    """A result file named relative to the submission folder, that cannot leave it by its spelling."""
    path = PurePosixPath(value)
    if "\\" in value or path.is_absolute() or ".." in path.parts or not value.endswith(".json") or value != str(path):
        raise ValueError(f"'{value}' must be a relative path inside the folder ending in .json (no '..', '\\\\' or leading '/')")
    return value


class SubmissionRecord(_Strict):
    """submission.json: the card, the checks it passed, and the result files that make the claim."""

    card: SubmissionCard
    checks: list[CheckOutcome] = Field(max_length=100)
    smoke: StrictBool
    datasets: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=20)
    threats: list[Annotated[str, Field(pattern=r"^(linf|l2)$")]] = Field(min_length=1, max_length=2)
    results: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(max_length=200)
    environment: dict[str, Any]
    created_at: Annotated[str, Field(max_length=100)]
    flags: list[ShortText] = Field(default_factory=list, max_length=20)  # e.g. GRADIENT_FREE
    schema_version: Literal[3] = SUBMISSION_SCHEMA_VERSION

    @field_validator("results")
    @classmethod
    def _relative(cls, value: list[str]) -> list[str]:
        return [_relative_json_path(item) for item in value]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to submission.json."""
        return self.model_dump(mode="json")


def _field_name(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(top level)"


def validate(model: type[BaseModel], data: Any, where: str) -> Any:
    """`data` as `model`; a wrong shape is one line naming `where`, the first bad field and what it must be."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__ if data is not None else 'null'}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        given = first.get("input")
        shown = "" if first["type"] == "missing" or isinstance(given, (dict, list)) else f", got {str(given)[:60]!r}"
        raise ValueError(f"{where}: field {_field_name(first['loc'])}: {first['msg']}{shown}{more}") from None


def read_json(path: Path) -> Any:
    """A JSON file's content; an unreadable or invalid file is one line naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read it ({getattr(error, 'strerror', None) or error})") from None
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{path} is not valid JSON ({error})") from None


def read_submission(folder: str | Path) -> SubmissionRecord:
    """The SubmissionRecord of `folder`, validated; an error saying how to create it when it is missing."""
    path = Path(folder) / SUBMISSION_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; `bench submit --model NAME --output-dir {folder}` writes it")
    data = read_json(path)
    if isinstance(data, dict) and data.get("schema_version") == 1:
        raise ValueError(f"{path} is a schema-1 submission (its card does not say how its metric is loaded); submit it again")
    record: SubmissionRecord = validate(SubmissionRecord, _from_schema_2(data), str(path))
    return record


def _from_schema_2(data: Any) -> Any:
    """A schema-2 record as schema 3: its card's `randomised` and `preprocessing` dropped, the class says them.

    Nothing is lost: each result file records what the run used (`model_properties.is_randomised`, `protocol`).
    """
    if not isinstance(data, dict) or data.get("schema_version") != 2 or not isinstance(data.get("card"), dict):
        return data
    card = {key: value for key, value in data["card"].items() if key not in CLASS_FIELDS}
    return {**data, "card": card, "schema_version": SUBMISSION_SCHEMA_VERSION}


def contained(folder: Path, relative: str) -> Path:
    """`folder/relative`, refused when it resolves (through links) outside `folder`."""
    root = folder.resolve()
    path = (folder / relative).resolve()
    if not path.is_relative_to(root):
        raise ValueError(
            f"{folder / relative} resolves to {path}, outside the submission folder {root}; a submission names only its own files"
        )
    return path


def find_submissions(submissions_dir: str | Path) -> list[Path]:
    """Submission folders (those holding a submission.json) under `submissions_dir`, sorted."""
    root = Path(submissions_dir)
    if not root.is_dir():
        return []
    return sorted(path.parent for path in root.rglob(SUBMISSION_FILE))
