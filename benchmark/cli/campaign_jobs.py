"""Campaigns: many `bench evaluate` runs as one job each, through submitit (Slurm on a cluster, local processes here).

A campaign folder holds what was asked and where each run stands:

    DIR/campaign.json             the configurations, the executor and its options, the results folder
    DIR/jobs/                     submitit's folder: submission scripts, pickles, `<job id>_0_log.{out,err}`
    DIR/state/<key>.submitted     job id and time of the latest submission of run <key>
    DIR/state/<key>.started       pid, host and time of the latest attempt (written by the job itself)
    DIR/state/<key>.finished      the outcome of that attempt: the result file, or the last error line

A run is done when its result file exists (the same path `bench evaluate` writes), so re-running a
campaign skips it; everything else is submitted again and resumes from its batch checkpoint. A job
that hits the Slurm time limit is requeued by submitit (it is `Checkpointable`) and resumes the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from attacks.defaults import BatchSize
from attacks.threat import ThreatModel

from ..results import result_file_path, result_file_stem
from ..runtime.atomic import atomic_write_text
from ..runtime.checkpoint import configuration_hash

EXECUTORS = ("slurm", "local")
STATES = ("pending", "running", "done", "failed")
CAMPAIGN_FILE = "campaign.json"
# sacct / squeue states and what they mean here (a requeued job is waiting again).
SLURM_STATES = {
    "PENDING": "pending",
    "REQUEUED": "pending",
    "CONFIGURING": "pending",
    "RUNNING": "running",
    "COMPLETING": "running",
    "SUSPENDED": "running",
    "FAILED": "failed",
    "TIMEOUT": "failed",
    "CANCELLED": "failed",
    "OUT_OF_MEMORY": "failed",
    "NODE_FAIL": "failed",
    "PREEMPTED": "failed",
    "BOOT_FAIL": "failed",
    "DEADLINE": "failed",
}


class SlurmOptions(BaseModel):
    """The Slurm settings of a campaign (flags override the file); each default is here and nowhere else."""

    model_config = ConfigDict(extra="forbid")

    partition: str | None = None  # the cluster's default partition
    account: str | None = None
    gpus_per_job: int = 1  # > 1: torchrun inside the job spreads the run over them
    cpus_per_job: int = 8
    time_limit_min: int = 240  # a job that hits it is requeued and resumes from its checkpoint
    array_parallelism: int = 64  # jobs of the array running at once
    local_processes: int = 1  # the local executor's jobs at once (one machine, usually one GPU)
    max_requeues: int = 3


class RunEntry(BaseModel):
    """One `bench evaluate` configuration of a campaign file: `EvaluationConfig`'s fields; unset ones keep its defaults."""

    model_config = ConfigDict(extra="forbid")

    model: str
    dataset: str | None = None
    split: str | None = None
    threat: str | None = None
    eps: str | None = None
    attack: str | None = None
    n_iter: int | None = None
    n_restarts: int | None = None
    n_ex: int | None = None
    n_ex_per_split: int | None = None
    square_queries: int | None = None
    batch_size: BatchSize | None = None
    device: str | None = None
    seed: int | None = None
    pretrained: bool | None = None
    data_root: str | None = None
    model_kwargs: dict[str, Any] | None = None
    dataset_options: dict[str, Any] | None = None
    checks: bool | None = None
    precision: Literal["fp32", "bf16", "fp16"] | None = None
    channels_last: bool | None = None
    compile_model: bool | None = None
    shard: str | None = None


class CampaignFile(BaseModel):
    """A campaign file (YAML or JSON): its runs, and optionally the Slurm options and the device of every run."""

    model_config = ConfigDict(extra="forbid")

    runs: list[RunEntry]
    slurm: SlurmOptions = SlurmOptions()
    device: str | None = None


def validation_message(source: str, error: ValidationError) -> str:
    """The first problem of a campaign file in one line, naming the field."""
    first = error.errors()[0]
    where = ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in first["loc"]).replace(".[", "[")
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown field '{where}'; a run takes the fields of `bench evaluate` ({', '.join(RunEntry.model_fields)})"
    return f"{source}: {where}: {first['msg']}"


def read_campaign_file(path: str | Path) -> CampaignFile:
    """Read and validate a campaign file; a bare list is a list of runs."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read the campaign file ({str(error).splitlines()[0]})") from None
    if isinstance(data, list):
        data = {"runs": data}
    try:
        return CampaignFile.model_validate(data)
    except ValidationError as error:
        raise ValueError(validation_message(str(path), error)) from None


# -- the runs ------------------------------------------------------------------------------------------


def run_key(config: dict[str, Any]) -> str:
    """A run's name in the campaign folder: stable for the same configuration, so re-running finds it."""
    return configuration_hash(config)[:12]


def expected_result_path(config: Any, output_dir: str | Path) -> Path:
    """Where `bench evaluate` writes this configuration's result (the runner's own naming)."""
    threat = ThreatModel.from_text(config.threat, config.eps)
    attack = config.attack_config()
    weights = "pretrained" if config.pretrained else "random"  # the stem only tells random weights apart
    if not config.pretrained and ":" not in config.model:
        from model_zoo import get_model_card
        from model_zoo.registry import _weights_kind  # the one rule create_model records

        weights = _weights_kind(get_model_card(config.model), pretrained=False)
    stem = result_file_stem(config.model, config.dataset, config.split, threat, attack, asdict(config), weights)
    return result_file_path(output_dir, config.dataset, stem)


def evaluate_arguments(config: Any) -> list[str]:
    """The `bench evaluate` flags that reproduce `config` (an `EvaluationConfig`)."""
    from ..runner import EvaluationConfig

    defaults = EvaluationConfig(model=config.model)
    if config.random_subset is not None or config.subset_seed != defaults.subset_seed:
        raise ValueError(f"run {config.model}: random_subset has no `bench evaluate` flag; a campaign cannot run it")
    args = ["--model", config.model, "--threat", config.threat]
    flags = {
        "dataset": "--dataset",
        "split": "--split",
        "eps": "--eps",
        "attack": "--attack",
        "n_iter": "--n-iter",
        "n_restarts": "--n-restarts",
        "n_ex": "--n-ex",
        "n_ex_per_split": "--n-ex-per-split",
        "square_queries": "--square-queries",
        "batch_size": "--batch-size",
        "device": "--device",
        "seed": "--seed",
        "data_root": "--data-root",
        "precision": "--precision",
        "shard": "--shard",
    }
    for name, flag in flags.items():
        value = getattr(config, name)
        if value is not None:
            args += [flag, str(value)]
    switches = {"checks": "--checks", "channels_last": "--channels-last", "compile_model": "--compile"}
    args += [flag for name, flag in switches.items() if getattr(config, name)]
    if not config.pretrained:
        args.append("--random-weights")
    for key, value in config.model_kwargs.items():
        args += ["--model-kwarg", f"{key}={json.dumps(value)}"]
    for key, value in config.dataset_options.items():
        args += ["--dataset-option", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    return args


@dataclass
class CampaignRun:
    """One configuration of a campaign, as recorded in campaign.json."""

    key: str
    config: dict[str, Any]  # EvaluationConfig's fields
    result_file: str

    def evaluation_config(self) -> Any:
        from ..runner import EvaluationConfig

        return EvaluationConfig(**self.config)


@dataclass
class Campaign:
    """A campaign folder's record: the runs, where results go, and how jobs are submitted."""

    directory: Path
    runs: list[CampaignRun]
    output_dir: Path
    executor: str
    slurm: SlurmOptions

    @property
    def jobs_dir(self) -> Path:
        return self.directory / "jobs"

    @property
    def state_dir(self) -> Path:
        return self.directory / "state"

    def save(self) -> Path:
        data = {
            "executor": self.executor,
            "output_dir": str(self.output_dir),
            "slurm": self.slurm.model_dump(),
            "runs": [asdict(run) for run in self.runs],
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(self.directory / CAMPAIGN_FILE, json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> Campaign:
        directory = Path(directory)
        path = directory / CAMPAIGN_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{directory} is not a campaign folder (no {CAMPAIGN_FILE}); start one with `bench campaign run`")
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            directory=directory,
            runs=[CampaignRun(**run) for run in data["runs"]],
            output_dir=Path(data["output_dir"]),
            executor=data["executor"],
            slurm=SlurmOptions.model_validate(data["slurm"]),
        )


def build_campaign(
    directory: str | Path, configs: list[Any], output_dir: str | Path | None, executor: str, slurm: SlurmOptions
) -> Campaign:
    """A campaign of `configs` (EvaluationConfigs, checked), results under `output_dir` (default DIR/results)."""
    from ..runner import EvaluationConfig

    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor '{executor}'; choose one of {', '.join(EXECUTORS)}")
    if min(slurm.gpus_per_job, slurm.cpus_per_job, slurm.time_limit_min, slurm.array_parallelism) < 0 or slurm.time_limit_min < 1:
        raise ValueError("GPUs and CPUs per job must be >= 0, the time limit and the array parallelism >= 1")
    if executor == "slurm" and (shutil.which("srun") is None or shutil.which("sbatch") is None):
        raise ValueError("--executor slurm needs the Slurm commands (sbatch, srun) on PATH; on one machine use --executor local")
    directory = Path(directory)
    output = Path(output_dir) if output_dir is not None else directory / "results"
    runs = []
    for config in configs:
        # A login node has no GPU: check everything but the device here; the job's `bench evaluate` checks that.
        EvaluationConfig(**{**asdict(config), "device": "cpu"}).validate()
        evaluate_arguments(config)
        fields_ = asdict(config)
        runs.append(CampaignRun(run_key(fields_), fields_, str(expected_result_path(config, output))))
    keys = [run.key for run in runs]
    if len(set(keys)) != len(keys):
        raise ValueError("the campaign names the same configuration twice; list each run once")
    return Campaign(directory, runs, output, executor, slurm)


def configs_from_entries(entries: list[RunEntry], device: str | None) -> list[Any]:
    """EvaluationConfigs of a campaign file's runs; `device` applies to runs that name none."""
    from ..runner import EvaluationConfig

    configs = []
    for entry in entries:
        given = entry.model_dump(exclude_unset=True)
        if device is not None:
            given.setdefault("device", device)
        configs.append(EvaluationConfig(**given))
    return configs


# -- the job -------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_record(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record) + "\n")


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _checkpointable_base() -> type:
    """submitit's Checkpointable (requeue on time limit), or a plain base where submitit is absent."""
    try:
        from submitit.helpers import Checkpointable
    except ImportError:  # only the job and the submitter need submitit; reading a campaign does not
        return object
    return Checkpointable


class EvaluationJob(_checkpointable_base()):  # type: ignore[misc]
    """One campaign job: the `bench evaluate` of one configuration, in this process or under torchrun.

    On a time limit, submitit calls `checkpoint` (Checkpointable's: the same call again) and requeues the
    job; the new attempt's `bench evaluate` resumes from the batch checkpoint.
    """

    def __init__(self, state_dir: str, key: str, arguments: list[str], output_dir: str, gpus: int):
        self.state_dir = state_dir
        self.key = key
        self.arguments = arguments
        self.output_dir = output_dir
        self.gpus = gpus

    def command(self) -> list[str]:
        """The `bench evaluate` command line this job runs (torchrun for several GPUs)."""
        evaluate = ["evaluate", *self.arguments, "--output-dir", self.output_dir, "--quiet"]
        if self.gpus > 1:
            return [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                f"--nproc_per_node={self.gpus}",
                "-m",
                "benchmark",
                *evaluate,
            ]
        return [sys.executable, "-m", "benchmark", *evaluate]

    def __call__(self) -> str:
        state = Path(self.state_dir)
        (state / f"{self.key}.finished").unlink(missing_ok=True)
        _write_record(state / f"{self.key}.started", {"pid": os.getpid(), "host": socket.gethostname(), "at": _now()})
        print("$ bench " + " ".join(self.command()[self.command().index("evaluate") :]), flush=True)
        try:
            self._evaluate()
        except Exception as error:  # not SystemExit: submitit's requeue on a time limit exits through here
            _write_record(
                state / f"{self.key}.finished", {"ok": False, "error": last_line(str(error)) or type(error).__name__, "at": _now()}
            )
            raise
        _write_record(state / f"{self.key}.finished", {"ok": True, "at": _now()})
        return self.output_dir

    def _evaluate(self) -> None:
        if self.gpus > 1:
            completed = subprocess.run(self.command(), stderr=subprocess.PIPE, text=True)
            sys.stderr.write(completed.stderr)
            if completed.returncode != 0:
                raise RuntimeError(f"bench evaluate under torchrun exited {completed.returncode}: {last_line(completed.stderr)}")
            return
        import click

        from .bench import main

        try:  # the same command a user types, in this process
            main(self.command()[3:], standalone_mode=False)
        except click.ClickException as error:
            print(f"Error: {error.format_message()}", file=sys.stderr, flush=True)
            raise RuntimeError(error.format_message()) from None


def last_line(text: str) -> str:
    """The last non-empty line of `text` ('' for none)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# -- submission ----------------------------------------------------------------------------------------


def make_executor(campaign: Campaign) -> Any:
    """submitit's Slurm or local executor with the campaign's options."""
    import submitit

    options = campaign.slurm
    if campaign.executor == "slurm":
        executor = submitit.SlurmExecutor(folder=str(campaign.jobs_dir / "%j"), max_num_timeout=options.max_requeues)
        parameters: dict[str, Any] = dict(
            job_name="perceptbench",
            time=options.time_limit_min,
            nodes=1,
            ntasks_per_node=1,
            cpus_per_task=options.cpus_per_job,
            array_parallelism=options.array_parallelism,
        )
        if options.gpus_per_job:
            parameters["gpus_per_node"] = options.gpus_per_job
        if options.partition:
            parameters["partition"] = options.partition
        if options.account:
            parameters["account"] = options.account
        executor.update_parameters(**parameters)
        return executor
    local = submitit.LocalExecutor(folder=str(campaign.jobs_dir / "%j"), max_num_timeout=options.max_requeues)
    local.update_parameters(timeout_min=options.time_limit_min, gpus_per_node=options.gpus_per_job if _local_gpus() else 0)
    return local


def _local_gpus() -> bool:
    return bool(os.environ.get("CUDA_VISIBLE_DEVICES")) or Path("/dev/nvidia0").exists()


def make_job(campaign: Campaign, run: CampaignRun) -> EvaluationJob:
    return EvaluationJob(
        str(campaign.state_dir),
        run.key,
        evaluate_arguments(run.evaluation_config()),
        str(campaign.output_dir),
        campaign.slurm.gpus_per_job if campaign.executor == "slurm" else 1,
    )


def submit(campaign: Campaign, runs: list[CampaignRun]) -> list[str]:
    """Submit one job per run (a Slurm array when there are several); record each job id; return them."""
    if not runs:
        return []
    executor = make_executor(campaign)
    jobs = []
    if campaign.executor == "slurm" and len(runs) > 1:
        with executor.batch():
            for run in runs:
                jobs.append(executor.submit(make_job(campaign, run)))
    else:
        jobs = [executor.submit(make_job(campaign, run)) for run in runs]
    for run, job in zip(runs, jobs):
        for stale in ("started", "finished"):
            (campaign.state_dir / f"{run.key}.{stale}").unlink(missing_ok=True)
        _write_record(campaign.state_dir / f"{run.key}.submitted", {"job_id": str(job.job_id), "at": _now()})
    return [str(job.job_id) for job in jobs]


# -- where each run stands -----------------------------------------------------------------------------


@dataclass
class RunStatus:
    """A row of `bench campaign status`."""

    run: CampaignRun
    state: str  # pending | running | done | failed
    job_id: str | None
    elapsed_s: float | None
    log: str | None
    error: str | None

    def row(self) -> list[str]:
        c = self.run.config
        elapsed = "-" if self.elapsed_s is None else f"{self.elapsed_s:.0f}s"
        what = f"{c['model']} {c['dataset']}{'/' + c['split'] if c['split'] else ''} {c['threat']}"
        return [self.run.key, what, self.state, self.job_id or "-", elapsed, self.log or "-", self.error or ""]


STATUS_HEADERS = ["run", "configuration", "state", "job", "elapsed", "log", "last error"]


def _seconds(stamp: str | None) -> float | None:
    return None if stamp is None else datetime.fromisoformat(stamp).timestamp()


def _process_alive(pid: int) -> bool:
    """Whether process `pid` runs here (a zombie counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _slurm_state(campaign: Campaign, job_id: str) -> str:
    import submitit

    return str(submitit.SlurmJob(folder=str(campaign.jobs_dir / "%j"), job_id=job_id).state).split()[0].upper()


def run_status(campaign: Campaign, run: CampaignRun) -> RunStatus:
    """Where one run stands, from its result file, its records and (on Slurm) sacct."""
    submitted = _read_record(campaign.state_dir / f"{run.key}.submitted")
    started = _read_record(campaign.state_dir / f"{run.key}.started")
    finished = _read_record(campaign.state_dir / f"{run.key}.finished")
    job_id = submitted["job_id"] if submitted else None
    log = None
    if job_id is not None:
        from submitit.core.utils import JobPaths

        log = str(JobPaths(campaign.jobs_dir / "%j", job_id, 0).stderr)
    start = _seconds(started["at"]) if started else None
    end = _seconds(finished["at"]) if finished else None
    elapsed = None if start is None else (end if end is not None else time.time()) - start

    def status(state: str, error: str | None = None) -> RunStatus:
        return RunStatus(run, state, job_id, elapsed, log, error)

    if Path(run.result_file).is_file() or (run.config.get("shard") and finished and finished.get("ok")):
        return status("done")  # a shard's result is its checkpoint; `bench evaluate --merge-shards` writes the file
    if submitted is None:
        return status("pending")
    if finished is not None:
        return status("failed", finished.get("error") or "the job ended without writing its result")
    if campaign.executor == "slurm":
        slurm_state = _slurm_state(campaign, str(job_id))
        state = SLURM_STATES.get(slurm_state, "running" if started else "pending")
        if state == "failed":
            return status("failed", _log_error(log) or f"Slurm: {slurm_state}")
        return status(state)
    if started is not None:
        if _process_alive(int(started["pid"])):
            return status("running")
        if job_id is not None and _process_alive(int(job_id)):
            return status("pending")  # the local controller (its pid is the job id) is requeuing the job
        return status("failed", f"process {started['pid']} ended without a result (killed?)")
    if job_id is not None and _process_alive(int(job_id)):
        return status("pending")
    return status("failed", _log_error(log) or "the job never started")


def _log_error(log: str | None) -> str:
    if log is None:
        return ""
    try:
        return last_line(Path(log).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return ""


def campaign_status(campaign: Campaign) -> list[RunStatus]:
    return [run_status(campaign, run) for run in campaign.runs]


def start(campaign: Campaign, states: tuple[str, ...] = ("pending", "failed")) -> list[CampaignRun]:
    """Submit every run in one of `states` (never a done or running one); return what was submitted.

    Local: at most `array_parallelism` processes at once, waiting for them (the local machine has no queue).
    A pending run that was submitted to Slurm is already queued: it is left alone.
    """
    todo = [s.run for s in campaign_status(campaign) if s.state in states and not (s.state == "pending" and s.job_id)]
    if campaign.executor == "slurm":
        submit(campaign, todo)
        return todo
    waiting = list(todo)
    active: list[CampaignRun] = []
    while waiting or active:
        active = [run for run in active if run_status(campaign, run).state in ("pending", "running")]
        while waiting and len(active) < max(1, campaign.slurm.local_processes):
            run = waiting.pop(0)
            submit(campaign, [run])
            active.append(run)
        if active:
            time.sleep(0.2)
    return todo
