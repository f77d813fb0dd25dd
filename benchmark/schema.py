"""The one schema of the files perceptbench reads from outside: pydantic v2 models, published as JSON Schema.

A result file (schema 2, benchmark/results.py; schema-1 files are migrated first) and the model card it
records (model_zoo/card.py) are validated here and nowhere else: types are strict (a score is a number,
never the text "0.9"; a flag is a bool, never 1), ranges are checked (scores finite and in [0, 1], `n >= 1`,
`weights` from its enum), nesting is bounded, and the copies of what the leaderboard displays (model,
dataset, split, threat, eps, attack, weights) must agree with the configuration that was run, so what is
shown is what was run. `bench schema results` prints the JSON Schema (benchmark/cli/schema.py).

Importing this module loads pydantic only; what needs the attack code (eps parsing, attack names) is
imported when a file is validated.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from attacks.defaults import N_ITER, N_RESTARTS, SQUARE_QUERIES, STANDARD

MAX_DEPTH = 32  # a result file is about 5 levels deep; anything deeper is not one of ours
WEIGHTS_KINDS = ("pretrained", "random", "none", "unknown")  # model_zoo/registry.py's _weights_kind
NO_ATTACK = "none"  # `config.attack` of a clean-only run (benchmark/runner.py's NO_ATTACK)

# A name shown in a table (model, dataset, split, task, attack): one line of printable text.
Name = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]+$")]
Text = Annotated[str, StringConstraints(max_length=20_000)]
Score = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1)]
Index = Annotated[int, Field(ge=0)]
Weights = Literal["pretrained", "random", "none", "unknown"]
Norm = Literal["linf", "l2"]  # attacks/threat.py's NORMS (a test holds the two together)
HttpUrl = Annotated[str, StringConstraints(max_length=2_000, pattern=r"^https?://[^\s]+$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def _not_a_dot_name(name: str) -> str:
    if name in (".", ".."):
        raise ValueError(f"'{name}' is not a file name")
    return name


# A sidecar beside its result: a bare file name, never a path out of the folder.
FileName = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^/\\\x00-\x1f]+$"), AfterValidator(_not_a_dot_name)]
# A similarity range [low, high]; null where it is unbounded on that side.
SimRange = Annotated[list[Finite | None], Field(min_length=2, max_length=2)]
JsonObject = dict[str, Any]  # free-form records (environment, protocol, ...): any JSON, depth bounded by `check_depth`

_PROTOCOL_KEY = re.compile(r"^map_(?P<protocol>[a-z0-9]+)_(?P<kind>clean|robust)$")  # as benchmark/results.py writes them


class SchemaError(ValueError):
    """A file does not follow its schema; the message names the field."""


class _Record(BaseModel):
    """Strict types, unknown keys refused."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _OpenRecord(_Record):
    """Strict types; keys this version does not know are kept (their nesting is still bounded)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


# -- the model card as recorded in a result -------------------------------------------------------------


class WeightsRecord(_Record):
    """model_zoo/card.py's WeightsSource: where pretrained weights live."""

    hub_id: Name | None = None
    url: HttpUrl | None = None  # only http(s) links are ever shown as links
    sha256: Sha256 | None = None
    filename: FileName | None = None
    package: Name | None = None
    note: Text = ""

    @property
    def declares_weights(self) -> bool:
        """Whether the card names weights to load (a hub id, a URL, a package or a checksum)."""
        return any((self.hub_id, self.url, self.package, self.sha256))


class CardRecord(_OpenRecord):
    """model_zoo/card.py's ModelCard as data: provenance shown on the leaderboard. Only `name` is required."""

    name: Name
    family: Name | None = None
    backbone: Text | None = None
    robust_training: Text | None = None
    robust_eps: Text | None = None
    finetuning: Text | None = None
    weights: WeightsRecord = WeightsRecord()
    license: Text | None = None
    paper: Text | None = None
    image_size: Count | None = None
    preprocessing: JsonObject = {}
    parameters: Index | None = None
    notes: Text | None = None
    extra: JsonObject = {}
    # Schema 1 kept the metric's behaviour on the card.
    has_embedding: bool | None = None
    sim_range: SimRange | None = None


# -- the parts of a result ------------------------------------------------------------------------------


class ThreatRecord(_Record):
    """attacks/threat.py's ThreatModel: the radius as a number and as written; the two must agree."""

    norm: Norm
    eps: NonNegative
    eps_text: Name

    @model_validator(mode="after")
    def _eps_text_is_eps(self) -> ThreatRecord:
        from attacks.threat import parse_eps

        try:
            parsed = parse_eps(self.eps_text)
        except ValueError:
            raise ValueError(f"eps_text '{self.eps_text}' is not a radius such as 4/255 or 3.0") from None
        if not math.isclose(parsed, self.eps, rel_tol=1e-6, abs_tol=1e-12):
            raise ValueError(f"eps {self.eps} disagrees with eps_text '{self.eps_text}' ({parsed})")
        if self.norm == "linf" and self.eps > 1:
            raise ValueError(f"a linf eps of {self.eps} exceeds the pixel range [0, 1]")
        return self


class AttackRecord(_OpenRecord):
    """attacks/config.py's AttackConfig as run."""

    name: Name
    norm: Norm
    eps: NonNegative
    eps_text: Name
    n_iter: Index = N_ITER
    n_restarts: Count = N_RESTARTS
    random_init: bool = True
    seed: Index = 0
    square_queries: Index = SQUARE_QUERIES

    @field_validator("name")
    @classmethod
    def _known_attack(cls, name: str) -> str:
        from attacks.registry import list_attacks

        if name not in list_attacks():
            raise ValueError(f"unknown attack '{name}' (known: {', '.join(list_attacks())})")
        return name


INTERVAL_METHODS = ("wilson", "bootstrap", "stratified-bootstrap")  # benchmark/statistics.py's score_interval


class IntervalRecord(_Record):
    """benchmark/statistics.py's Interval as a result stores it: the bounds of the score it sits beside."""

    lo: Score
    hi: Score
    method: Literal["wilson", "bootstrap", "stratified-bootstrap"]
    level: Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)]
    seed: Index | None = None
    resamples: Count | None = None


_INTERVAL_SLACK = 1e-9  # the headline and the interval's estimate are sums in another order


class ScoresRecord(_OpenRecord):
    """benchmark/results.py's Scores: fractions in [0, 1]; retrieval's `map_<protocol>_<kind>` keys are scores too.

    `intervals` (absent in files written before them) holds, per score key, bounds with lo <= score <= hi.
    """

    clean: Score | None = None
    robust: Score | None = None
    n: Count | None = None
    per_split: dict[Name, ScoresRecord] = {}
    intervals: dict[Name, IntervalRecord] = {}

    @model_validator(mode="after")
    def _protocol_scores_are_scores(self) -> ScoresRecord:
        for key, value in (self.__pydantic_extra__ or {}).items():
            if _PROTOCOL_KEY.match(key) and value is not None and not _is_score(value):
                raise ValueError(f"{key} must be a finite number in [0, 1] or null, got {_shown(value)}")
        return self

    @model_validator(mode="after")
    def _intervals_hold_their_scores(self) -> ScoresRecord:
        extra = self.__pydantic_extra__ or {}
        for key, interval in self.intervals.items():
            if key in ("clean", "robust"):
                score = getattr(self, key)
            elif _PROTOCOL_KEY.match(key):
                score = extra.get(key)
            else:
                raise ValueError(f"intervals.{key}: no such score (an interval sits beside clean, robust or map_<protocol>_<kind>)")
            if score is None:
                raise ValueError(f"intervals.{key}: an interval of a score the file does not give")
            if not interval.lo - _INTERVAL_SLACK <= score <= interval.hi + _INTERVAL_SLACK:
                raise ValueError(f"intervals.{key}: [{interval.lo:.6g}, {interval.hi:.6g}] does not hold the score {score:.6g}")
        return self


class CheckRecord(_OpenRecord):
    """benchmark/results.py's CheckResult: the verdict, a sentence, and numbers (kept as extra keys)."""

    passed: bool | None = None
    detail: Text = ""


class MetricRecord(_Record):
    """benchmark/results.py's MetricProperties."""

    has_embedding: bool
    higher_is_better: bool
    is_differentiable: bool
    sim_range: SimRange
    is_randomised: bool


class CertifiedRadiusRecord(_Record):
    """benchmark/results.py's CertifiedRadius: certified accuracy at one L2 radius."""

    eps: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    eps_text: Name
    accuracy: Score
    source: Literal["run", "lipsim"]
    covers: Name | None = None


class CertifiedRecord(_Record):
    """benchmark/results.py's CertifiedScores: `--certify`'s summary over the certified subset."""

    method: Literal["lipschitz", "smoothing"]  # benchmark/certification.py's CERTIFY_METHODS
    parameters: JsonObject = {}
    n: Count
    abstained: Index = 0
    radii: list[CertifiedRadiusRecord] = Field(default=[], max_length=100)
    clean: Score
    robust: Score
    seconds: NonNegative = 0.0

    @model_validator(mode="after")
    def _counts_agree(self) -> CertifiedRecord:
        if self.abstained > self.n:
            raise ValueError(f"abstained {self.abstained} exceeds the {self.n} certified samples")
        return self


class GalleryExampleRecord(_Record):
    """One saved adversarial example (benchmark/gallery.py): its images, by bare file name inside the gallery folder, and the decisions."""

    rank: Count
    position: Index
    sample_id: Name | None = None
    split: Name | None = None
    judge: Score
    humans_choice: Literal[0, 1]
    sims_before: Annotated[list[Finite], Field(min_length=2, max_length=2)]
    sims_after: Annotated[list[Finite], Field(min_length=2, max_length=2)]
    sims_after_png: Annotated[list[Finite], Field(min_length=2, max_length=2)]
    choice_before: Literal[0, 1]
    choice_after: Literal[0, 1]
    choice_after_png: Literal[0, 1]
    margin_change: Finite
    perturbation_norm: NonNegative
    amplification: NonNegative
    images: dict[Literal["reference", "adversarial", "perturbation", "x0", "x1"], FileName]


class GalleryRecord(_Record):
    """The `examples.json` of a gallery folder: the run it comes from and its examples, worst first."""

    model: Name
    dataset: Name
    threat: Name
    selection: Text = ""
    examples: list[GalleryExampleRecord] = Field(default=[], max_length=10_000)


def validate_gallery(data: Any) -> GalleryRecord:
    """A gallery's examples.json checked against the schema; `SchemaError` names the first bad field."""
    check_depth(data)
    try:
        return GalleryRecord.model_validate(data)
    except ValidationError as error:
        raise SchemaError(describe(error)) from None


class ConfigRecord(_OpenRecord):
    """benchmark/runner.py's EvaluationConfig as run. Hand-written files may leave keys out; those given are typed."""

    model: Name | None = None
    dataset: Name | None = None
    split: Name | None = None
    threat: Norm | None = None
    eps: Name | Finite | None = None
    attack: Name | None = None
    n_iter: Index | None = None
    n_restarts: Count | None = None
    n_ex: Count | None = None
    n_ex_per_split: Count | None = None
    random_subset: Count | None = None
    subset_seed: Index | None = None
    square_queries: Index | None = None
    batch_size: Count | Literal["auto"] | None = None  # attacks.defaults.BatchSize, its number checked >= 1
    device: Name | None = None
    seed: Index | None = None
    pretrained: bool | None = None
    data_root: Text | None = None
    model_kwargs: JsonObject = {}
    dataset_options: JsonObject = {}
    checks: bool | None = None
    precision: Name | None = None
    channels_last: bool | None = None
    compile_model: bool | None = None
    certify: Literal["lipschitz", "smoothing"] | None = None
    certify_sigma: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    certify_n: Count | None = None
    certify_n0: Count | None = None
    certify_alpha: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    certify_n_ex: Count | None = None
    save_adversarial: Index | None = None


class ResultRecord(_OpenRecord):
    """A result file, schema 2 (benchmark/results.py's EvaluationResult.to_dict)."""

    schema_version: Literal[2]
    model: Name
    model_card: CardRecord
    weights: Weights
    dataset: Name
    split: Name | None
    task: Name
    threat: ThreatRecord
    attack: AttackRecord | None
    config: ConfigRecord
    scores: ScoresRecord
    timing: dict[Name, NonNegative]
    environment: JsonObject
    created_at: Name
    samples_file: FileName | None = None
    checks: dict[Name, CheckRecord] = {}
    protocol: JsonObject = {}
    resumed_samples: Index = 0
    ensemble: JsonObject = {}
    metric: MetricRecord | None = None
    certified: CertifiedRecord | None = None
    adversarial_examples: FileName | None = None  # a folder beside the result, never a path out of it

    @field_validator("created_at")
    @classmethod
    def _iso_time(cls, text: str) -> str:
        try:
            datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"'{text}' is not an ISO 8601 time such as 2026-01-01T00:00:00+00:00") from None
        return text

    @model_validator(mode="after")
    def _copies_agree(self) -> ResultRecord:
        """What the leaderboard shows comes from the top-level fields; every other copy must say the same."""
        for field, problem in _disagreements(self):
            raise _FieldError(field, problem)
        return self


class _FieldError(ValueError):
    """A cross-field disagreement, raised from a validator with the field it concerns."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")


def _disagreements(result: ResultRecord) -> list[tuple[str, str]]:
    """(field, what disagrees) for every copy of a displayed field that contradicts the top-level one."""
    from attacks.threat import DEFAULT_EPS

    config, threat = result.config, result.threat
    given = config.model_fields_set
    found = []
    for name, shown in (("model", result.model), ("dataset", result.dataset), ("split", result.split)):
        if name in given and getattr(config, name) != shown:
            found.append((name, f"says {shown!r} but config.{name} says {getattr(config, name)!r}"))
    if "threat" in given and config.threat != threat.norm:
        found.append(("threat.norm", f"says {threat.norm!r} but config.threat says {config.threat!r}"))
    if "eps" in given:
        expected = DEFAULT_EPS[threat.norm] if config.eps is None else str(config.eps)
        if expected != threat.eps_text:
            found.append(("threat.eps_text", f"says {threat.eps_text!r} but config.eps gives {expected!r}"))
    recorded_split = result.protocol.get("split")
    if result.split is not None and recorded_split is not None and recorded_split != result.split:
        found.append(("split", f"says {result.split!r} but protocol.split says {recorded_split!r}"))
    found += _attack_disagreements(result)
    found += _weights_disagreements(result)
    return found


def _attack_disagreements(result: ResultRecord) -> list[tuple[str, str]]:
    config, threat, attack = result.config, result.threat, result.attack
    given = config.model_fields_set
    if "attack" in given:
        ran = NO_ATTACK if attack is None else attack.name
        if config.attack != ran:
            return [("attack", f"says {ran!r} but config.attack says {config.attack!r}")]
    if attack is None:
        return []
    found = []
    for name in ("norm", "eps_text"):
        if getattr(attack, name) != getattr(threat, name):
            found.append((f"attack.{name}", f"says {getattr(attack, name)!r} but threat.{name} says {getattr(threat, name)!r}"))
    if not math.isclose(attack.eps, threat.eps, rel_tol=1e-6, abs_tol=1e-12):
        found.append(("attack.eps", f"says {attack.eps} but threat.eps says {threat.eps}"))
    budget = ["n_iter", "n_restarts", "seed"] + (["square_queries"] if attack.name == STANDARD else [])
    for name in budget:
        if name in given and getattr(config, name) is not None and getattr(config, name) != getattr(attack, name):
            found.append((f"attack.{name}", f"says {getattr(attack, name)} but config.{name} says {getattr(config, name)}"))
    return found


def _weights_disagreements(result: ResultRecord) -> list[tuple[str, str]]:
    """A random-weight run may not call itself pretrained (or weightless) when another field says it was random."""
    card_kind = result.model_card.extra.get("weights_kind")  # a trained folder records its own (model_zoo/registry.py)
    if card_kind is not None and card_kind != result.weights:
        return [("weights", f"says {result.weights!r} but model_card.extra.weights_kind says {card_kind!r}")]
    if result.config.pretrained is False and result.weights in ("pretrained", "unknown"):
        return [("weights", f"says {result.weights!r} but config.pretrained is false (random weights)")]
    if result.weights == "none" and result.model_card.weights.declares_weights:
        return [("weights", "says 'none' but model_card.weights names weights to load")]
    return []


# -- reading ---------------------------------------------------------------------------------------------


def _is_score(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1


def _shown(value: Any) -> str:
    """A short rendering of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_depth(data: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit` (walked without recursion, so no depth can overflow the stack)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                raise SchemaError(f"nested deeper than {limit} levels")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


def _location(error: ErrorDetails) -> str:
    """The dotted field of a pydantic error, without pydantic's internal union and validator tags."""
    parts = [str(part) for part in error["loc"] if not str(part).startswith(("function-", "tagged-union"))]
    parts = [part for part in parts if part not in ("str", "float", "int", "bool", "none", "literal['auto']", "constrained-str")]
    return ".".join(parts)


def describe(error: ValidationError) -> str:
    """The first problem of a validation error as one line: the field, what is wrong, what was there."""
    first = error.errors(include_url=False)[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    where = _location(first)
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, _FieldError):  # a cross-field check names its own field
        return str(cause)
    shown = "" if first["type"] in ("missing", "value_error", "assertion_error") else f" (got {_shown(first.get('input'))})"
    more = len(error.errors()) - 1
    return f"{where or 'file'}: {message}{shown}" + (f"; and {more} more problem(s)" if more else "")


def validate_result(data: Any) -> ResultRecord:
    """A schema-2 result dict checked against the schema; `SchemaError` names the first bad field."""
    check_depth(data)
    try:
        return ResultRecord.model_validate(data)
    except ValidationError as error:
        raise SchemaError(describe(error)) from None


def validate_card(data: Any) -> CardRecord:
    """A model card (as recorded in results) checked against the schema."""
    check_depth(data)
    try:
        return CardRecord.model_validate(data)
    except ValidationError as error:
        raise SchemaError(describe(error)) from None


def is_link(text: object) -> bool:
    """Whether `text` may be rendered as a link: http(s) only (no javascript:, data:, file: ...)."""
    return isinstance(text, str) and re.fullmatch(r"https?://[^\s\"'<>]+", text) is not None
