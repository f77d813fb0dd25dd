"""Weights by model card: cache layout, offline errors, sha256 checks, safe loading, folders from archives."""

import hashlib
import zipfile

import pytest
import torch

from model_zoo import WeightsUnavailableError, create_model
from model_zoo.card import WeightsSource
from model_zoo.download import (
    MISMATCH_SUFFIX,
    ChecksumMismatchError,
    UnsafeCheckpointError,
    cached_path,
    fetch_first_available,
    fetch_folder,
    fetch_weights,
    load_checkpoint,
)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PERCEPTBENCH_OFFLINE", "1")
    return tmp_path / "cache"


def _served_file(tmp_path, payload: bytes, name: str = "weights.pt"):
    """A file:// URL (urllib reads it like any download) and the sha256 of its bytes."""
    path = tmp_path / "server" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path.as_uri(), hashlib.sha256(payload).hexdigest()


def test_hub_files_are_cached_per_repository_under_the_cache_folder(offline):
    source = WeightsSource(hub_id="hf-hub:chs20/FARE4-ViT-B-32-laion2B-s34B-b79K", filename="open_clip_model.safetensors")
    assert cached_path(source) == offline / "weights" / "hub" / "chs20--FARE4-ViT-B-32-laion2B-s34B-b79K" / "open_clip_model.safetensors"


def test_offline_without_cached_file_names_the_file_and_where_to_put_it(offline):
    source = WeightsSource(hub_id="hf-hub:chs20/fare4-clip", filename="open_clip_model.safetensors")
    with pytest.raises(WeightsUnavailableError) as error:
        fetch_weights(source, what="r-clip-f-vit-l14")
    message = str(error.value)
    assert "open_clip_model.safetensors" in message and "huggingface.co/chs20/fare4-clip" in message
    assert str(cached_path(source)) in message and "\n" not in message


def test_create_model_offline_gives_the_weights_error_not_a_stack_of_hub_errors(offline):
    with pytest.raises(WeightsUnavailableError, match="r-clip-f-vit-b32.*put it at"):
        create_model("r-clip-f-vit-b32")


def test_unpublished_weights_say_so_and_load_once_placed_in_the_cache(offline):
    source = WeightsSource(filename="r-dino-f-vit-b16.safetensors", note="weights not published")
    with pytest.raises(WeightsUnavailableError, match="weights not published.*manual/r-dino-f-vit-b16.safetensors"):
        fetch_weights(source)
    target = cached_path(source)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"placed by hand")
    assert fetch_weights(source) == target


def test_cached_hub_file_is_used_offline_and_the_first_published_name_wins(offline):
    source = WeightsSource(hub_id="hf-hub:laion/CLIP-ViT-B-16-laion2B-s34B-b88K")
    second = cached_path(source, "open_clip_pytorch_model.bin")
    second.parent.mkdir(parents=True)
    torch.save({"w": torch.ones(2)}, second)
    assert fetch_first_available(source, ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]) == second


def test_url_download_is_verified_and_remembered(monkeypatch, tmp_path):
    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PERCEPTBENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    url, digest = _served_file(tmp_path, b"tensor bytes")
    path = fetch_weights(WeightsSource(url=url, sha256=digest))
    assert path.read_bytes() == b"tensor bytes"
    assert path.with_name(path.name + ".sha256-verified").read_text() == digest
    assert not list(path.parent.glob("*.part"))


def test_sha256_mismatch_is_refused_and_the_bad_file_kept_aside(monkeypatch, tmp_path):
    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PERCEPTBENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    url, _ = _served_file(tmp_path, b"tampered bytes")
    source = WeightsSource(url=url, sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError, match="kept aside") as error:
        fetch_weights(source)
    assert isinstance(error.value, WeightsUnavailableError)  # callers that skip unavailable weights catch it too
    target = cached_path(source)
    assert not target.exists()
    aside = target.with_name(target.name + MISMATCH_SUFFIX)
    assert aside.read_bytes() == b"tampered bytes" and str(aside) in str(error.value)


def test_unreachable_url_becomes_a_one_line_weights_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PERCEPTBENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    source = WeightsSource(url=(tmp_path / "nowhere" / "gone.pt").as_uri())
    with pytest.raises(WeightsUnavailableError, match="could not download weights file 'gone.pt'.*put it at"):
        fetch_weights(source)


class _RunsCodeWhenUnpickled:
    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        return (open, (str(self.sentinel), "w"))


def test_a_pickle_that_would_run_code_on_load_is_refused(tmp_path):
    sentinel = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(1), "payload": _RunsCodeWhenUnpickled(sentinel)}, path)
    with pytest.raises(UnsafeCheckpointError, match="refusing to load"):
        load_checkpoint(path)
    assert not sentinel.exists()


def test_safetensors_and_plain_state_dicts_load(tmp_path):
    from safetensors.torch import save_file

    save_file({"a": torch.arange(3.0)}, str(tmp_path / "w.safetensors"))
    torch.save({"a": torch.arange(3.0)}, tmp_path / "w.pt")
    assert torch.equal(load_checkpoint(tmp_path / "w.safetensors")["a"], torch.arange(3.0))
    assert torch.equal(load_checkpoint(tmp_path / "w.pt")["a"], torch.arange(3.0))


def test_folders_come_from_a_cached_zip_extracted_once(offline):
    source = WeightsSource(url="https://example.org/lora-vit-b-16-fare.zip", filename="lora-vit-b-16-fare.zip")
    archive = cached_path(source)
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("lora-vit-b-16-fare/adapter_config.json", "{}")
    folder = fetch_folder(source)
    assert (folder / "lora-vit-b-16-fare" / "adapter_config.json").read_text() == "{}"
    archive.unlink()
    assert fetch_folder(source) == folder


def test_unreachable_hub_fails_at_once_without_the_hub_clients_retries(monkeypatch, tmp_path):
    import model_zoo.download as download
    import model_zoo.fetch as fetch

    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PERCEPTBENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(fetch, "_REACHABLE", {download.HUB_HOST: False})
    monkeypatch.setattr(download, "_download_from_hub", lambda *a: pytest.fail("the hub client must not be asked"))
    with pytest.raises(WeightsUnavailableError, match=r"cannot reach huggingface\.co and weights file 'model\.safetensors' .* put it at "):
        fetch_weights(WeightsSource(hub_id="hf-hub:org/repo", filename="model.safetensors"))


def test_no_cached_name_among_several_is_one_line_naming_all_and_the_folder(offline):
    source = WeightsSource(hub_id="hf-hub:laion/CLIP-convnext")
    with pytest.raises(WeightsUnavailableError) as error:
        fetch_first_available(source, ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"], what="clip-convnext")
    message = str(error.value)
    assert message.startswith("offline") and "\n" not in message and " | " not in message
    assert "'open_clip_model.safetensors' or 'open_clip_pytorch_model.bin'" in message and "for clip-convnext" in message
    assert str(cached_path(source, "open_clip_model.safetensors").parent) in message
