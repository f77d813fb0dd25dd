"""Each upstream checkpoint format loads from a file written here in that format (keys, shapes, nesting)."""

import json

import pytest
import torch
from safetensors.torch import save_file

from model_zoo.clip import OPEN_CLIP_SPECS, build_open_clip_visual, load_open_clip_visual_weights


def _same_outputs(a, b, x):
    with torch.no_grad():
        return torch.allclose(a(x), b(x), atol=1e-5)


@pytest.mark.parametrize("model,layout", [("r-clip-f-vit-b16", "whole-clip-safetensors"), ("r-clip-f-convnext", "image-tower-pt")])
def test_open_clip_state_dict_loads(tmp_path, model, layout):
    spec = OPEN_CLIP_SPECS[model]
    torch.manual_seed(0)
    source, _ = build_open_clip_visual(spec, reduced=True)
    target, _ = build_open_clip_visual(spec, reduced=True)
    if layout == "whole-clip-safetensors":  # open_clip_model.safetensors on the hub: the whole CLIP model
        state = {f"visual.{k}": v.contiguous() for k, v in source.state_dict().items()}
        state["text_projection"] = torch.zeros(4, 4)
        save_file(state, str(tmp_path / "open_clip_model.safetensors"))
        path = tmp_path / "open_clip_model.safetensors"
    else:  # the paper's file checkpoints: `model.visual.state_dict()`
        path = tmp_path / "vit-b-16-fare-eps4.pt"
        torch.save(source.state_dict(), path)
    x = torch.rand(2, 3, 64, 64)
    assert not _same_outputs(source.eval(), target.eval(), x)
    load_open_clip_visual_weights(target, path)
    assert _same_outputs(source, target, x)


def test_open_clip_loader_rejects_another_architecture(tmp_path):
    vit, _ = build_open_clip_visual(OPEN_CLIP_SPECS["r-clip-f-vit-b16"], reduced=True)
    convnext, _ = build_open_clip_visual(OPEN_CLIP_SPECS["r-clip-f-convnext"], reduced=True)
    torch.save(vit.state_dict(), tmp_path / "vit.pt")
    with pytest.raises(ValueError, match="not an open_clip checkpoint of this architecture"):
        load_open_clip_visual_weights(convnext, tmp_path / "vit.pt")


@pytest.mark.parametrize("in_features", [640, 512])
def test_mlp_head_loads_from_a_lightning_checkpoint(tmp_path, in_features):
    from model_zoo.finetuned import ResidualMLP, load_mlp_head

    upstream = {
        "perceptual_model.mlp.fc1.weight": torch.randn(512, in_features),
        "perceptual_model.mlp.fc1.bias": torch.randn(512),
        "perceptual_model.mlp.fc2.weight": torch.randn(in_features, 512),
        "perceptual_model.mlp.fc2.bias": torch.randn(in_features),
    }
    torch.save({"epoch": 4, "state_dict": upstream}, tmp_path / "mlp-convnext_base_w-fare-eps4.pt")
    head = ResidualMLP(in_features, 512)
    load_mlp_head(head, tmp_path / "mlp-convnext_base_w-fare-eps4.pt")
    assert torch.equal(head.fc1.weight, upstream["perceptual_model.mlp.fc1.weight"])
    x = torch.randn(3, in_features)
    expected = (
        x
        + torch.relu(x @ upstream["perceptual_model.mlp.fc1.weight"].T + upstream["perceptual_model.mlp.fc1.bias"])
        @ upstream["perceptual_model.mlp.fc2.weight"].T
        + upstream["perceptual_model.mlp.fc2.bias"]
    )
    assert torch.allclose(head(x), expected, atol=1e-4)
    torch.save({"something.else": torch.zeros(1)}, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="has no MLP head"):
        load_mlp_head(head, tmp_path / "wrong.pt")


def _save_random_adapter(host, target_modules, folder):
    """Write a peft adapter folder as upstream training does, with non-zero B so it changes the model."""
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(host, LoraConfig(r=16, lora_alpha=0.5, lora_dropout=0.3, bias="none", target_modules=target_modules))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 1.0)
    peft_model.save_pretrained(str(folder))
    return peft_model


@pytest.mark.parametrize("backbone_weights", ["r-clip-f-vit-b16", "r-clip-f-convnext"])
def test_lora_adapter_folder_loads_and_merges(tmp_path, backbone_weights):
    from safetensors.torch import load_file

    from model_zoo.finetuned import FinetunedSpec, _lora_target, build_lora_model, lora_target_modules
    from model_zoo.lora import LoraHost

    spec = FinetunedSpec(backbone_weights, "lora", "token", "lora.zip")
    backbone = spec.backbone
    torch.manual_seed(0)
    visual, _ = build_open_clip_visual(spec.backbone_spec, reduced=True)
    target, projected = _lora_target(visual, backbone, reduced=True)
    host = LoraHost(target)
    reference = _save_random_adapter(host, lora_target_modules(host, backbone), tmp_path / "adapter")
    keys = list(load_file(str(tmp_path / "adapter" / "adapter_model.safetensors")))
    assert keys and all(k.startswith("base_model.model.model.") for k in keys)
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["r"] == 16

    torch.manual_seed(0)
    model = build_lora_model(spec, pretrained=False, reduced=True, what="test", adapter_folder=tmp_path / "adapter")
    # Every adapted layer of the loaded model holds base + (alpha / r) B A, as peft merges it.
    loaded = dict(model.encoder.named_modules())
    prefix = "base_model.model." if projected is None else "base_model.model.model."
    adapted = [(n, m) for n, m in reference.named_modules() if hasattr(m, "get_delta_weight") and hasattr(m, "base_layer")]
    assert adapted
    for name, module in adapted:
        merged = module.base_layer.weight + module.get_delta_weight("default")
        ours = loaded[("" if projected is None else "model.") + name[len(prefix) :]]
        assert torch.allclose(ours.weight, merged, atol=1e-6)
        assert not torch.allclose(ours.weight, module.base_layer.weight, atol=1e-4)
    x = torch.rand(2, 3, 64, 64)
    reference.eval()
    with torch.no_grad():
        expected = reference(model.preprocess(x))
        if projected is not None:
            expected = expected @ projected.proj
    assert torch.allclose(model.embed(x), expected, atol=1e-4)


def test_lipsim_checkpoint_loads(tmp_path):
    from model_zoo.lipsim import REDUCED, LipSimNetwork, load_lipsim_weights

    torch.manual_seed(0)
    source, target = LipSimNetwork(REDUCED), LipSimNetwork(REDUCED)
    keys = list(source.state_dict())
    assert "base.1.0.kernel" in keys and "base.2.1.weight" in keys and "base.1.0.q" in keys
    torch.save(
        {"epoch": 435, "model_state_dict": {f"module.model.{k}": v for k, v in source.state_dict().items()}},
        tmp_path / "model.ckpt-435_margin=0.5.pth",
    )
    x = torch.rand(2, 3, 64, 64)
    assert not _same_outputs(source, target, x)
    load_lipsim_weights(target, tmp_path / "model.ckpt-435_margin=0.5.pth")
    assert _same_outputs(source, target, x)


def test_lipsim_network_is_one_lipschitz():
    from model_zoo.lipsim import REDUCED, LipSimNetwork

    torch.manual_seed(0)
    network = LipSimNetwork(REDUCED)
    x = torch.rand(8, 3, 64, 64)
    y = x + 0.05 * torch.randn_like(x)
    with torch.no_grad():
        ratio = (network(x) - network(y)).norm(dim=1) / (x - y).flatten(1).norm(dim=1)
    assert (ratio <= 1 + 1e-4).all() and (ratio > 0).all()


def test_lpips_linear_layers_load_from_the_package_and_from_an_r_lpips_checkpoint(tmp_path):
    from model_zoo.lpips_models import LPIPSMetric, load_alexnet_trunk, load_lpips_linear_layers, packaged_linear_weights

    metric = LPIPSMetric()
    load_lpips_linear_layers(metric, packaged_linear_weights())
    shipped = torch.load(packaged_linear_weights(), map_location="cpu", weights_only=True)
    assert torch.equal(metric.lpips.lin2.model[1].weight, shipped["lin2.model.1.weight"])

    # R-LPIPS's trainer saves the DataParallel-wrapped LPIPS module: `module.` + the full state dict.
    robust = {k: v.clone() for k, v in LPIPSMetric().lpips.state_dict().items()}
    for i in range(5):
        robust[f"lin{i}.model.1.weight"] = torch.rand_like(robust[f"lin{i}.model.1.weight"])
    torch.save({f"module.{k}": v for k, v in robust.items()}, tmp_path / "latest_net_linf_ref.pth")
    load_lpips_linear_layers(metric, tmp_path / "latest_net_linf_ref.pth")
    assert torch.equal(metric.lpips.lin4.model[1].weight, robust["lin4.model.1.weight"])

    import torchvision

    alexnet = torchvision.models.alexnet()
    torch.save(alexnet.state_dict(), tmp_path / "alexnet-owt-7be5be79.pth")
    load_alexnet_trunk(metric, tmp_path / "alexnet-owt-7be5be79.pth")
    assert torch.equal(getattr(metric.lpips.net.slice5, "10").weight, alexnet.features[10].weight)


def test_timm_vit_checkpoint_at_another_resolution_is_resampled_on_load(tmp_path):
    import timm

    from model_zoo.dino import DINOV2_VIT_B14, build_timm_vit, load_timm_vit_weights

    trained_at_larger_size = timm.create_model(
        "vit_base_patch14_dinov2", pretrained=False, num_classes=0, img_size=112, embed_dim=64, depth=2, num_heads=2, init_values=1.0
    )
    save_file({k: v.contiguous() for k, v in trained_at_larger_size.state_dict().items()}, str(tmp_path / "model.safetensors"))
    model = build_timm_vit(DINOV2_VIT_B14, pretrained=False, reduced=True)
    load_timm_vit_weights(model.encoder.vit, tmp_path / "model.safetensors")
    assert torch.equal(model.encoder.vit.blocks[1].attn.qkv.weight, trained_at_larger_size.blocks[1].attn.qkv.weight)
    assert model.encoder.vit.pos_embed.shape[1] == 1 + 4 * 4


def test_dreamsim_release_folder_loads_backbone_and_adapter(tmp_path):
    from model_zoo.dreamsim import DREAMSIM_WEIGHTS, DreamSimEncoder, build_dreamsim

    spec = DREAMSIM_WEIGHTS["dreamsim-clip-vit-b32"]
    torch.manual_seed(1)
    trained = DreamSimEncoder(spec.backbones, reduced=True)
    extractor = trained.extractor_list[0]
    backbone = {k: v for k, v in extractor.model.state_dict().items()}
    backbone = {("pos_drop" + k[len("norm_pre") :] if k.startswith("norm_pre") else k): v for k, v in backbone.items()}
    backbone["patch_embed.proj.bias"] = torch.zeros(extractor.model.embed_dim)
    backbone["proj"] = extractor.proj.detach().clone()
    torch.save({"state_dict": backbone}, tmp_path / "clip_vitb32_pretrain.pth.tar")
    reference = _save_random_adapter(trained, ["qkv"], tmp_path / "clip_vitb32_single_lora")

    model = build_dreamsim(spec, pretrained=False, reduced=True, what="test", checkpoint_folder=tmp_path)
    x = torch.rand(2, 3, 64, 64)
    reference.eval()
    with torch.no_grad():
        assert torch.allclose(model.embed(x), reference(model.preprocess(x)), atol=1e-4)


def test_pretrained_lpips_and_r_lpips_build_offline_from_cached_files(monkeypatch, tmp_path):
    """The whole pretrained route: card -> cache path -> safe load -> model, with no network."""
    import torchvision

    from model_zoo import create_model
    from model_zoo.download import cached_path
    from model_zoo.lpips_models import ALEXNET_WEIGHTS, R_LPIPS_WEIGHTS, LPIPSMetric

    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PERCEPTBENCH_OFFLINE", "1")
    trunk = {k: v for k, v in torchvision.models.alexnet().state_dict().items() if k.startswith("features.")}
    alexnet_file = cached_path(ALEXNET_WEIGHTS)
    alexnet_file.parent.mkdir(parents=True)
    torch.save(trunk, alexnet_file)
    robust = LPIPSMetric().lpips.state_dict()
    robust_file = cached_path(R_LPIPS_WEIGHTS)
    robust_file.parent.mkdir(parents=True, exist_ok=True)
    torch.save({f"module.{k}": v for k, v in robust.items()}, robust_file)

    lpips_model = create_model("lpips-alex")
    r_lpips_model = create_model("r-lpips")
    assert lpips_model.weights_kind == "pretrained" and r_lpips_model.weights_kind == "pretrained"
    assert torch.equal(lpips_model.lpips.net.slice1[0].weight, trunk["features.0.weight"])
    assert torch.equal(r_lpips_model.lpips.lin3.model[1].weight, robust["lin3.model.1.weight"])
    x, y = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    assert torch.allclose(lpips_model.sim(x, x), torch.ones(2)) and (lpips_model.sim(x, y) < 1).all()


def test_dino_zero_shot_and_dreamsim_dino_read_the_same_class_token():
    """Paper App. A-A follows DreamSim: the class token of the last block, before the final LayerNorm."""
    from model_zoo import create_model
    from model_zoo.dreamsim import BackboneSpec, DreamSimExtractor

    torch.manual_seed(0)
    dino = create_model("dino-vit-b16", pretrained=False, reduced=True).eval()
    extractor = DreamSimExtractor(BackboneSpec("dino", 16), reduced=True).eval()
    extractor.model.load_state_dict(dino.encoder.vit.state_dict())
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(dino.embed(x), extractor(x), atol=1e-5)
        dino.encoder.vit.norm.weight.mul_(3.0)  # the final norm plays no part
        assert torch.allclose(dino.embed(x), extractor(x), atol=1e-5)


def test_dreamsim_release_folder_provides_the_dino_backbone_under_dreamsims_name(tmp_path, monkeypatch):
    from model_zoo.dreamsim import DREAMSIM_DINO_FILE, DREAMSIM_WEIGHTS, DreamSimEncoder, build_dreamsim

    monkeypatch.setenv("PERCEPTBENCH_OFFLINE", "1")  # the folder must suffice: no download of the DINO release
    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path / "cache"))
    spec = DREAMSIM_WEIGHTS["dreamsim-dino-vit-b16"]
    torch.manual_seed(2)
    trained = DreamSimEncoder(spec.backbones, reduced=True)
    torch.save(trained.extractor_list[0].model.state_dict(), tmp_path / DREAMSIM_DINO_FILE)
    reference = _save_random_adapter(trained, ["qkv"], tmp_path / "dino_vitb16_single_lora")
    model = build_dreamsim(spec, pretrained=False, reduced=True, what="test", checkpoint_folder=tmp_path)
    x = torch.rand(2, 3, 64, 64)
    reference.eval()
    with torch.no_grad():
        assert torch.allclose(model.embed(x), reference(model.preprocess(x)), atol=1e-4)
