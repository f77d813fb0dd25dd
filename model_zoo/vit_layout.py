"""ViTs in the DINO key layout, and open_clip ViTs converted into it.

DreamSim and the paper's LoRA checkpoints for ViT-B/16 store adapters on `blocks.N.attn.qkv` of a
DINO-style ViT (timm uses the same key names), with CLIP's `ln_pre` stored as `pos_drop` and its
projection as a separate `proj` matrix. Building that layout lets those files load as published.
"""

from __future__ import annotations

from functools import partial

import torch
from timm.layers import QuickGELU
from timm.models.vision_transformer import VisionTransformer
from torch import Tensor, nn


def dino_layout_vit(
    patch_size: int,
    width: int = 768,
    depth: int = 12,
    heads: int = 12,
    image_size: int = 224,
    clip_style: bool = False,
    quick_gelu: bool = False,
    ln_eps: float = 1e-6,
) -> VisionTransformer:
    """A ViT whose forward returns the final class token after the last LayerNorm.

    `clip_style` adds CLIP's LayerNorm before the blocks (`ln_pre`).
    """
    return VisionTransformer(
        img_size=image_size,
        patch_size=patch_size,
        embed_dim=width,
        depth=depth,
        num_heads=heads,
        qkv_bias=True,
        num_classes=0,
        global_pool="token",
        pre_norm=clip_style,
        norm_layer=partial(nn.LayerNorm, eps=ln_eps),
        act_layer=QuickGELU if quick_gelu else nn.GELU,
    )


def class_token_before_final_norm(vit: VisionTransformer, x: Tensor) -> Tensor:
    """The class token as the last block outputs it (DreamSim's DINO feature, taken before `norm`)."""
    x = vit.patch_embed(x)
    x = vit._pos_embed(x)
    x = vit.norm_pre(x)
    x = vit.blocks(x)
    return x[:, 0]


def load_dino_layout_state_dict(vit: VisionTransformer, state_dict: dict[str, Tensor], source: str) -> Tensor | None:
    """Load DINO-layout keys into `vit`; returns the CLIP projection (`proj`) when the file has one."""
    state_dict = dict(state_dict)
    projection = state_dict.pop("proj", None)
    if "pos_drop.weight" in state_dict:  # CLIP's ln_pre, stored where DINO has its (parameterless) dropout
        state_dict["norm_pre.weight"] = state_dict.pop("pos_drop.weight")
        state_dict["norm_pre.bias"] = state_dict.pop("pos_drop.bias")
    bias = state_dict.get("patch_embed.proj.bias")
    if bias is not None and vit.patch_embed.proj.bias is None:
        if bias.abs().max() > 0:
            raise ValueError(f"'{source}' has a non-zero patch-embedding bias that this CLIP-style ViT cannot hold")
        del state_dict["patch_embed.proj.bias"]
    for key in [k for k in state_dict if k.startswith("head.")]:
        del state_dict[key]  # DINO's projection head is not part of the embedding
    missing, unexpected = vit.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise ValueError(f"'{source}' does not fit this ViT: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}")
    return projection


def open_clip_visual_to_dino_layout(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename an open_clip ViT image tower's keys to the DINO layout (with `pos_drop` for `ln_pre`)."""
    renamed: dict[str, Tensor] = {}
    block_parts = {
        "ln_1": "norm1",
        "attn.in_proj_weight": "attn.qkv.weight",
        "attn.in_proj_bias": "attn.qkv.bias",
        "attn.out_proj": "attn.proj",
        "ln_2": "norm2",
        "mlp.c_fc": "mlp.fc1",
        "mlp.c_proj": "mlp.fc2",
    }
    top_level = {"conv1.weight": "patch_embed.proj.weight", "ln_pre": "pos_drop", "ln_post": "norm", "proj": "proj"}
    for key, value in state_dict.items():
        if key == "class_embedding":
            renamed["cls_token"] = value.reshape(1, 1, -1)
        elif key == "positional_embedding":
            renamed["pos_embed"] = value.unsqueeze(0)
        elif key.startswith("transformer.resblocks."):
            index, rest = key[len("transformer.resblocks.") :].split(".", 1)
            for old, new in block_parts.items():
                if rest.startswith(old):
                    renamed[f"blocks.{index}.{new}{rest[len(old) :]}"] = value
                    break
            else:
                raise ValueError(f"unknown open_clip block key '{key}'")
        else:
            for old, new in top_level.items():
                if key == old or key.startswith(old + "."):
                    renamed[new + key[len(old) :]] = value
                    break
            else:
                raise ValueError(f"unknown open_clip image-tower key '{key}'")
    renamed["patch_embed.proj.bias"] = torch.zeros(renamed["patch_embed.proj.weight"].shape[0])
    return renamed


class ProjectedViT(nn.Module):
    """A CLIP ViT in DINO layout: final class token times CLIP's projection, as `visual(x)` in open_clip."""

    model: nn.Module  # the ViT, or the same ViT with LoRA adapters (peft or merged)

    def __init__(self, vit: VisionTransformer, embed_dim: int):
        super().__init__()
        self.model = vit
        self.proj = nn.Parameter(torch.randn(vit.embed_dim, embed_dim) * vit.embed_dim**-0.5)

    def forward(self, x: Tensor) -> Tensor:
        """The ViT's class token times CLIP's projection."""
        return self.model(x) @ self.proj
