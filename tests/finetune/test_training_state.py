"""A `training-state.pt` that is damaged or hostile is refused in one line, and nothing in it runs."""

from __future__ import annotations

import io
import pickle

import pytest
import torch
from click.testing import CliRunner

from benchmark.cli.bench import main
from finetune.trainer import STATE_FILE, TrainingStateError, read_training_state


class _RunsCode:
    """Unpickling this calls `marker.write_text`: what a malicious checkpoint would do with os.system."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        from pathlib import Path

        return Path.write_text, (Path(self.marker), "ran")


def _honest_state() -> dict:
    return {"config_hash": "x", "step": 3, "trainable": {"w": torch.zeros(2)}, "optimizer": {}, "scheduler": {}}


def _write(path, obj, legacy=False):
    buffer = io.BytesIO()
    if legacy:
        pickle.dump(obj, buffer)
    else:
        torch.save(obj, buffer)
    path.write_bytes(buffer.getvalue())
    return path


def _states(tmp_path):
    marker = tmp_path / "PWNED"
    honest = _write(tmp_path / "honest.pt", {**_honest_state(), "rng": [], "best": None, "history": []})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(honest.read_bytes()[: honest.stat().st_size // 2])
    (tmp_path / "empty.pt").write_bytes(b"")
    return marker, {
        "code in torch.save": _write(tmp_path / "evil.pt", {**_honest_state(), "rng": [_RunsCode(marker)], "best": None, "history": []}),
        "code in a bare pickle": _write(tmp_path / "evil.pkl", _RunsCode(marker), legacy=True),
        "truncated": truncated,
        "empty": tmp_path / "empty.pt",
        "not a dict": _write(tmp_path / "list.pt", [1, 2]),
        "keys missing": _write(tmp_path / "keys.pt", _honest_state()),
    }


@pytest.mark.parametrize("case", ["code in torch.save", "code in a bare pickle", "truncated", "empty", "not a dict", "keys missing"])
@pytest.mark.parametrize("mmap", [False, True])
def test_a_bad_training_state_is_one_line_and_runs_nothing(tmp_path, case, mmap):
    marker, states = _states(tmp_path)
    with pytest.raises(TrainingStateError) as error:
        read_training_state(states[case], mmap=mmap)
    message = str(error.value)
    assert "\n" not in message and f"{states[case]} is not a perceptbench training state: " in message
    assert message.endswith("; delete it to start over")
    assert not marker.exists()


def test_the_crafted_pickle_would_run_code_and_an_honest_state_is_read(tmp_path):
    marker, states = _states(tmp_path)
    pickle.loads(states["code in a bare pickle"].read_bytes())  # what a plain torch.load / pickle.load would do
    assert marker.read_text() == "ran"
    assert read_training_state(tmp_path / "honest.pt")["step"] == 3


def test_bench_finetune_refuses_a_malicious_state_in_one_line(tmp_path):
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    run.mkdir()
    _write(run / STATE_FILE, _RunsCode(marker), legacy=True)
    args = ["finetune", "nights", "--method", "mlp", "--model", "clip-vit-b16", "--random-weights", "--output-dir", str(run)]
    out = CliRunner().invoke(main, [*args, "--data-root", str(tmp_path / "data"), "--steps", "1"])
    assert out.exit_code == 1 and not marker.exists(), out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and "is not a perceptbench training state" in lines[0] and "delete it to start over" in lines[0], out.output
