"""Full-reference image-quality metrics from the IQA libraries, behind the zoo's `sim()`.

Two backends, one factory each, and the metrics as data (`PIQ_METRICS`, `PYIQA_METRICS`):
- piq (core dependency: pure Python on torch) for every metric it ships;
- pyiqa (the `iqa` extra: a large dependency set, PolyForm-Noncommercial licence) for the metrics
  piq lacks: CW-SSIM, NLPD, MAD, Y-channel PSNR/SSIM, pyiqa's VIF and MS-SWD.
No metric is re-implemented here: each model calls the library's own function.

`sim(x, y)` is a monotone map of the library's score of the pair with `x` as the reference and `y`
as the distorted image (the 2AFC task puts the reference first): the score itself for
higher-is-better metrics, `1 - score` for lower-is-better ones (pyiqa's own `lower_better`; piq's
distances GMSD, MS-GMSD and MDSI), so identical images give `sim = 1` wherever the score of
identical images is the metric's best value. PSNR (in dB, unbounded) maps to `1 - 10^(-PSNR/10)`, i.e.
`1 - MSE` for images in [0, 1]: monotone, so every 2AFC decision is PSNR's, and `distance = sqrt(1 - sim)`
is the RMSE. Learned metrics (PieAPP, WaDIQaM, CKDN, AHIQ, TOPIQ, ...) score identical images best only
as far as their training taught them: they declare `identity_is_best = False`. Images smaller than a metric's minimum side (MS-SSIM's
five scales need 161 px) are upsampled bilinearly inside the model; the card records the minimum.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import PairwiseModel, PerceptualModel
from .card import NO_WEIGHTS, ModelCard, WeightsSource
from .download import fetch_weights
from .registry import register_architecture

# Papers, as the libraries' documentation cites them.
PSNR_PAPER = (
    "Peak signal-to-noise ratio (classical); PSNR = 10 log10(MAX^2 / MSE), Wang, Bovik 2009, 'Mean squared error: Love it or leave it?'"
)
MS_SSIM_PAPER = "Wang, Simoncelli, Bovik 2003, 'Multiscale structural similarity for image quality assessment'"
VIF_PAPER = "Sheikh, Bovik 2006, 'Image information and visual quality'"
FSIM_PAPER = "Zhang, Zhang, Mou, Zhang 2011, 'FSIM: A Feature Similarity Index for Image Quality Assessment'"
SR_SIM_PAPER = "Zhang, Li 2012, 'SR-SIM: A fast and high performance IQA index based on spectral residual'"
GMSD_PAPER = "Xue, Zhang, Mou, Bovik 2013, 'Gradient Magnitude Similarity Deviation: A Highly Efficient Perceptual Image Quality Index'"
MS_GMSD_PAPER = (
    "Zhang, Shen, Jiang, Tian, Wang 2017, 'Gradient magnitude similarity deviation on multiple scales for color image quality assessment'"
)
VSI_PAPER = "Zhang, Shen, Li 2014, 'VSI: A Visual Saliency-Induced Index for Perceptual Image Quality Assessment'"
DSS_PAPER = "Balanov, Schwartz, Moshe, Huleihel 2015, 'Image quality assessment based on DCT subband similarity'"
HAARPSI_PAPER = (
    "Reisenhofer, Bosse, Kutyniok, Wiegand 2018, 'A Haar Wavelet-Based Perceptual Similarity Index for Image Quality Assessment'"
)
MDSI_PAPER = "Nafchi, Shahkolaei, Hedjam, Cheriet 2016, 'Mean Deviation Similarity Index: Efficient and Reliable Full-Reference Image Quality Evaluator'"
CW_SSIM_PAPER = "Sampat, Wang, Gupta, Bovik, Markey 2009, 'Complex Wavelet Structural Similarity: A New Image Similarity Index'"
NLPD_PAPER = "Laparra, Balle, Berardino, Simoncelli 2016, 'Perceptual image quality assessment using a normalized Laplacian pyramid'"
MAD_PAPER = "Larson, Chandler 2010, 'Most apparent distortion: full-reference image quality assessment and the role of strategy'"
MS_SWD_PAPER = "He, Wang, Chen, Xue, Jiao 2024, 'Multiscale Sliced Wasserstein Distances as Perceptual Color Difference Measures'"
SSIM_Y_PAPER = "Wang, Bovik, Sheikh, Simoncelli 2004, 'Image quality assessment: from error visibility to structural similarity' (pyiqa's MATLAB-style SSIM)"
DISTS_PAPER = "Ding, Ma, Wang, Simoncelli 2020, 'Image Quality Assessment: Unifying Structure and Texture Similarity'"
LPIPS_PLUS_PAPER = "Chen, Mo, Hou, Wu, Liao, Sun, Yan, Lin 2024, 'TOPIQ: A Top-down Approach from Semantics to Distortions for Image Quality Assessment' (LPIPS+)"
ST_LPIPS_PAPER = "Ghildyal, Liu 2022, 'Shift-tolerant Perceptual Similarity Metric'"
PIEAPP_PAPER = "Prashnani, Cai, Mostofi, Sen 2018, 'PieAPP: Perceptual Image-Error Assessment through Pairwise Preference'"
WADIQAM_PAPER = (
    "Bosse, Maniry, Mueller, Wiegand, Samek 2018, 'Deep Neural Networks for No-Reference and Full-Reference Image Quality Assessment'"
)
CKDN_PAPER = (
    "Zheng, Zheng, Tian, Li, Xiao 2021, 'Learning Conditional Knowledge Distillation for Degraded-Reference Image Quality Assessment'"
)
TOPIQ_PAPER = (
    "Chen, Mo, Hou, Wu, Liao, Sun, Yan, Lin 2024, 'TOPIQ: A Top-down Approach from Semantics to Distortions for Image Quality Assessment'"
)
AHIQ_PAPER = (
    "Lao, Gong, Shi, Yang, Wu, Wang, Yang 2022, 'Attentions Help CNNs See Better: Attention-based Hybrid Image Quality Assessment Network'"
)
DEEPDC_PAPER = "Zhu, Chen, Wang, Zhou, Li, Wang 2024, 'Deep Image Quality Assessment with Distance Correlation' (DeepDC)"
PIQ_PAPER = "Kastryulin, Zakirov, Prokopenko, Dylov 2022, 'PyTorch Image Quality: Metrics for Image Quality Assessment' (piq)"
PYIQA_PAPER = "Chen, Mo 2022, 'IQA-PyTorch: PyTorch Toolbox for Image Quality Assessment' (pyiqa)"


def library_version(package: str) -> str:
    """The installed version of a backend library, or 'not installed' (pyiqa is an extra)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@dataclass(frozen=True)
class IqaSpec:
    """One library metric: its name there, how its score maps to `sim`, and what it needs of its input."""

    metric: str  # the library's name (a piq function, a pyiqa `create_metric` name)
    paper: str
    sim_range: tuple[float | None, float | None]  # of `sim`, from the score's range
    differentiable: bool  # measured: finite, nonzero pixel gradients (tests/model_zoo/test_iqa.py)
    min_size: int = 0  # smaller inputs are upsampled to this side first
    lower_better: bool = False  # piq only; pyiqa's own `lower_better` decides there
    options: dict[str, Any] = field(default_factory=dict)  # extra keyword arguments of the piq function
    score_max: float | None = None  # the library's declared maximum, where a degenerate input overshoots it
    weights: WeightsSource = NO_WEIGHTS  # the checkpoint pyiqa downloads (backbones come from torchvision/timm)
    notes: str = ""
    from_db: bool = False  # a PSNR in dB: sim = 1 - 10^(-PSNR/10) (= 1 - MSE on [0, 1] images)
    identity_is_best: bool = True  # False where only training (not the formula) makes identical images score best
    reduced_options: dict[str, Any] = field(default_factory=dict)  # pyiqa options of a quick random build (tests)
    pretrained_option: bool = True  # pyiqa's arch takes `pretrained` (DeepDC has no checkpoint of its own: only its trunk's)
    arch_module: str = ""  # pyiqa's arch module, imported before the build so our download hooks reach it


# piq: `piq.<metric>(x, y, data_range=1.0, reduction="none", **options)` returns one score per pair.
PIQ_METRICS: dict[str, IqaSpec] = {
    "iqa-psnr": IqaSpec(
        "psnr",
        PSNR_PAPER,
        (0.0, 1.0),
        True,
        from_db=True,
        notes="sim = 1 - 10^(-PSNR/10) = 1 - MSE (piq adds 1e-8 to the MSE), so distance = sqrt(1 - sim) is the RMSE",
    ),
    "iqa-ms-ssim": IqaSpec(
        "multi_scale_ssim", MS_SSIM_PAPER, (None, 1.0), True, min_size=161, notes="five scales of an 11x11 window need 161 px"
    ),
    "iqa-vif": IqaSpec("vif_p", VIF_PAPER, (0.0, None), True, min_size=41, notes="pixel-domain VIF; exceeds 1 for contrast enhancement"),
    "iqa-fsim": IqaSpec("fsim", FSIM_PAPER, (0.0, 1.0), True, options={"chromatic": True}, notes="FSIMc (chromatic)"),
    "iqa-sr-sim": IqaSpec("srsim", SR_SIM_PAPER, (0.0, 1.0), True, options={"chromatic": True}, notes="SR-SIMc (chromatic)"),
    "iqa-gmsd": IqaSpec("gmsd", GMSD_PAPER, (None, 1.0), True, lower_better=True, notes="sim = 1 - GMSD"),
    "iqa-ms-gmsd": IqaSpec(
        "multi_scale_gmsd",
        MS_GMSD_PAPER,
        (None, 1.0),
        True,
        min_size=32,
        lower_better=True,
        options={"chromatic": True},
        notes="sim = 1 - MS-GMSDc",
    ),
    "iqa-vsi": IqaSpec("vsi", VSI_PAPER, (0.0, 1.0), True),
    "iqa-dss": IqaSpec("dss", DSS_PAPER, (0.0, 1.0), True),
    "iqa-haarpsi": IqaSpec("haarpsi", HAARPSI_PAPER, (0.0, 1.0), True),
    "iqa-mdsi": IqaSpec("mdsi", MDSI_PAPER, (None, 1.0), True, lower_better=True, notes="sim = 1 - MDSI"),
}

# pyiqa: `pyiqa.create_metric(metric, as_loss=True, loss_reduction="none")(distorted, reference)`.
PYIQA_METRICS: dict[str, IqaSpec] = {
    "iqa-cw-ssim": IqaSpec(
        "cw_ssim",
        CW_SSIM_PAPER,
        (None, 1.0),
        True,
        score_max=1.0,
        notes="on the Y channel (pyiqa's default); capped at pyiqa's declared maximum 1 (constant images, e.g. black against white, give 1e6)",
    ),
    "iqa-nlpd": IqaSpec("nlpd", NLPD_PAPER, (None, 1.0), True, notes="sim = 1 - NLPD, on the Y channel"),
    "iqa-mad": IqaSpec("mad", MAD_PAPER, (None, 1.0), True, min_size=64, notes="sim = 1 - MAD"),
    "iqa-psnr-y": IqaSpec(
        "psnry",
        PSNR_PAPER,
        (0.0, 1.0),
        True,
        from_db=True,
        notes="PSNR of the Y channel (pyiqa `psnry`); sim = 1 - 10^(-PSNR/10) = 1 - MSE of Y",
    ),
    "iqa-ssim-y": IqaSpec("ssim", SSIM_Y_PAPER, (None, 1.0), True),
    "iqa-ssim-c": IqaSpec("ssimc", SSIM_Y_PAPER, (None, 1.0), True, notes="pyiqa `ssimc`: RGB channels, no downsampling"),
    "iqa-vif-pyiqa": IqaSpec(
        "vif", VIF_PAPER, (None, None), True, min_size=41, notes="pyiqa's VIF (wavelet domain, as the authors' MATLAB)"
    ),
}

PYIQA_WEIGHTS_URL = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/"  # pyiqa's get_url_from_name


def pyiqa_weights(filename: str) -> WeightsSource:
    """A checkpoint pyiqa publishes; its file name carries the first 8 hex digits of the sha256 where one is given."""
    return WeightsSource(url=PYIQA_WEIGHTS_URL + filename, filename=filename, note="pyiqa's checkpoint; full sha256 not published")


# pyiqa metrics with learned weights: the same call; `pretrained=False` builds them with random weights.
# Learned heads (PieAPP, WaDIQaM, CKDN, TOPIQ, AHIQ) declare `identity_is_best=False`: nothing in their formula makes
# identical images score best. `arch_module` is imported first so the hooks reach its module-level download helpers
# (CKDN's `load_state_dict_from_url`) and pyiqa's lazy arch lookup finds CFANet (topiq_arch).
PYIQA_WEIGHTED_METRICS: dict[str, IqaSpec] = {
    "iqa-dists": IqaSpec(
        "dists",
        DISTS_PAPER,
        (None, 1.0),
        True,
        weights=pyiqa_weights("DISTS_weights-f5e65c96.pth"),
        notes="sim = 1 - DISTS; VGG16 trunk from torchvision",
    ),
    "iqa-lpips-plus": IqaSpec(
        "lpips+",
        LPIPS_PLUS_PAPER,
        (None, 1.0),
        True,
        weights=pyiqa_weights("LPIPS_v0.1_alex-df73285e.pth"),
        notes="LPIPS+ (AlexNet, semantic weighting of layer 2); sim = 1 - distance",
    ),
    "iqa-lpips-vgg-plus": IqaSpec(
        "lpips-vgg+",
        LPIPS_PLUS_PAPER,
        (None, 1.0),
        True,
        weights=pyiqa_weights("LPIPS_v0.1_vgg-a78928a0.pth"),
        notes="LPIPS+ (VGG16); sim = 1 - distance",
    ),
    "iqa-st-lpips": IqaSpec(
        "stlpips",
        ST_LPIPS_PAPER,
        (None, 1.0),
        True,
        weights=pyiqa_weights("alex_shift_tolerant.pth"),
        min_size=64,
        notes="shift-tolerant LPIPS (AlexNet); sim = 1 - distance",
    ),
    "iqa-st-lpips-vgg": IqaSpec(
        "stlpips-vgg",
        ST_LPIPS_PAPER,
        (None, 1.0),
        True,
        weights=pyiqa_weights("vgg_shift_tolerant.pth"),
        min_size=64,
        arch_module="pyiqa.archs.stlpips_arch",
        notes="shift-tolerant LPIPS (VGG16, anti-aliased); sim = 1 - distance (random linear layers drawn non-negative, as trained)",
    ),
    "iqa-pieapp": IqaSpec(
        "pieapp",
        PIEAPP_PAPER,
        (None, None),
        True,
        weights=pyiqa_weights("PieAPPv0.1-0937b014.pth"),
        min_size=64,
        identity_is_best=False,
        arch_module="pyiqa.archs.pieapp_arch",
        notes="sim = 1 - PieAPP error (~0 to ~5); 64 px patches at stride 27 (pyiqa: one pass, no subimages); a learned offset: identical images score ~0 only when trained",
    ),
    "iqa-wadiqam-fr": IqaSpec(
        "wadiqam_fr",
        WADIQAM_PAPER,
        (None, None),
        True,
        weights=pyiqa_weights("WaDIQaM-kadid-f7541ea5.pth"),
        min_size=64,
        identity_is_best=False,
        arch_module="pyiqa.archs.wadiqam_arch",
        notes="WaDIQaM-FR trained on KADID-10k; non-overlapping 32 px patches (pyiqa needs more than 32 px a side)",
    ),
    "iqa-ckdn": IqaSpec(
        "ckdn",
        CKDN_PAPER,
        (None, None),
        True,
        weights=pyiqa_weights("CKDN_model_best-38b27dc6.pth"),
        identity_is_best=False,
        arch_module="pyiqa.archs.ckdn_arch",
        notes="ResNet50 trunk (torchvision resnet50-19c8e357.pth, through our cache); resized to 329 px, centre-cropped to 288",
    ),
    "iqa-topiq-fr": IqaSpec(
        "topiq_fr",
        TOPIQ_PAPER,
        (None, None),
        True,
        weights=pyiqa_weights("cfanet_fr_kadid_res50-2c4cc61d.pth"),
        identity_is_best=False,
        arch_module="pyiqa.archs.topiq_arch",
        notes="CFANet, ResNet50 semantic trunk (timm), trained on KADID-10k",
    ),
    "iqa-topiq-fr-pipal": IqaSpec(
        "topiq_fr-pipal",
        TOPIQ_PAPER,
        (None, None),
        True,
        weights=pyiqa_weights("cfanet_fr_pipal_res50-69bbe5ba.pth"),
        identity_is_best=False,
        arch_module="pyiqa.archs.topiq_arch",
        notes="CFANet, ResNet50 semantic trunk (timm), trained on PIPAL",
    ),
    "iqa-ahiq": IqaSpec(
        "ahiq",
        AHIQ_PAPER,
        (None, None),
        True,
        weights=pyiqa_weights("AHIQ_vit_p8_epoch33-da3ea303.pth"),
        min_size=224,
        identity_is_best=False,
        reduced_options={"num_crop": 1},
        arch_module="pyiqa.archs.ahiq_arch",
        notes="timm ResNet50 + ViT-B/8 trunks, deformable fusion; mean over 20 uniform 224 px crops; trained on PIPAL",
    ),
    "iqa-deepdc": IqaSpec(
        "deepdc",
        DEEPDC_PAPER,
        (None, 1.0),
        True,
        weights=WeightsSource(
            url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
            filename="vgg19-dcbb9e9d.pth",
            note="torchvision's ImageNet VGG19 (DeepDC trains nothing); sha256 prefix dcbb9e9d in the file name",
        ),
        pretrained_option=False,
        arch_module="pyiqa.archs.deepdc_arch",
        notes="sim = 1 - DeepDC (distance correlation of VGG19 features)",
    ),
    "iqa-ms-swd": IqaSpec(
        "msswd",
        MS_SWD_PAPER,
        (None, 1.0),
        True,
        weights=pyiqa_weights("msswd_weights.pth"),
        notes="sim = 1 - MS-SWD (colour difference; learned projections)",
    ),
}


def _card(name: str, spec: IqaSpec, library: str, license: str, library_paper: str) -> ModelCard:
    minimum = f"; inputs below {spec.min_size} px are upsampled bilinearly to {spec.min_size}" if spec.min_size else ""
    return ModelCard(
        name=name,
        family="iqa",
        backbone=f"{library}.{spec.metric}",
        weights=spec.weights,
        license=license,
        paper=spec.paper,
        preprocessing={"input": "RGB in [0, 1] at the input resolution", "min_size": spec.min_size},
        notes=(spec.notes + minimum).lstrip("; "),
        extra={"library": library, "library_version": library_version(library), "library_paper": library_paper},
    )


class LibraryIqaMetric(PairwiseModel):
    """A full-reference IQA score from a library, mapped monotonically to a similarity.

    The flags (`sim_range`, `is_differentiable`) are per metric, so they are set on the instance.
    """

    def __init__(self, score: Callable[[Tensor, Tensor], Tensor], lower_better: bool, spec: IqaSpec):
        super().__init__()
        self.score = score  # (distorted, reference) -> (B,)
        self.lower_better = lower_better
        self.score_max = spec.score_max
        self.min_size = spec.min_size
        self.sim_range = spec.sim_range
        self.is_differentiable = spec.differentiable
        self.identity_is_best = spec.identity_is_best
        self.from_db = spec.from_db

    def _at_min_size(self, x: Tensor) -> Tensor:
        side = min(x.shape[-2:])
        if side >= self.min_size:
            return x
        scale = self.min_size / side
        size = (max(self.min_size, round(x.shape[-2] * scale)), max(self.min_size, round(x.shape[-1] * scale)))
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False).clamp(0.0, 1.0)

    def pairwise_sim(self, x: Tensor, y: Tensor) -> Tensor:
        """The metric's score of `y` against the reference `x`, as a similarity (B,)."""
        if x.shape != y.shape:
            raise ValueError(f"{self.card.name} needs images of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        score = self.score(self._at_min_size(y), self._at_min_size(x)).reshape(-1).to(x.dtype)
        if self.score_max is not None:
            score = score.clamp(max=self.score_max)
        if self.from_db:
            return 1.0 - torch.pow(10.0, -score / 10.0)
        return 1.0 - score if self.lower_better else score


def piq_score(spec: IqaSpec) -> Callable[[Tensor, Tensor], Tensor]:
    """piq's function for `spec`, per pair, on images in [0, 1] (piq's FR functions are symmetric in use: x=distorted, y=reference)."""
    import piq

    function = getattr(piq, spec.metric)

    def score(distorted: Tensor, reference: Tensor) -> Tensor:
        return function(distorted, reference, data_range=1.0, reduction="none", **spec.options)

    return score


def _import_pyiqa(metric: str) -> Any:
    try:
        import pyiqa
    except ImportError as error:
        raise ImportError(
            f"metric '{metric}' comes from pyiqa, which is not installed: pip install \"perceptbench[iqa]\" ({error})"
        ) from error
    return pyiqa


def _pyiqa_modules() -> list[Any]:
    """pyiqa's modules that hold their own references to its download and load helpers."""
    return [module for name, module in list(sys.modules.items()) if name.startswith("pyiqa.") and module is not None]


def _patch_everywhere(stack: ExitStack, modules: list[Any], attribute: str, replacement: Any) -> None:
    for module in modules:
        if hasattr(module, attribute):
            stack.enter_context(mock.patch.object(module, attribute, replacement))


@contextmanager
def _library_downloads(pretrained: bool, what: str) -> Iterator[None]:
    """While pyiqa builds a network: its downloads go through our weights cache, or nothing is loaded.

    pretrained: every URL pyiqa or torchvision would fetch (pyiqa's `load_file_from_url`, torchvision's
    `load_state_dict_from_url`) is fetched by `model_zoo.download.fetch_weights` into our cache, so an
    offline machine fails in one line naming the file and where to put it. Random: pyiqa's own
    `pretrained=False` skips its checkpoint, and backbone weights (torchvision, timm) are not loaded.
    """
    import timm.models._builder as timm_builder
    import torchvision.models._api as torchvision_api

    modules = _pyiqa_modules()
    with ExitStack() as stack:
        if pretrained:

            def fetch(url: str, *args: Any, **kwargs: Any) -> str:
                return str(fetch_weights(WeightsSource(url=url, filename=Path(urlparse(url).path).name), what=what))

            def fetch_state_dict(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
                return torch.load(fetch(url), map_location="cpu", weights_only=True)

            def fetch_hub_state_dict(model_id: str, filename: str = "model.safetensors", *args: Any, **kwargs: Any) -> dict[str, Any]:
                import safetensors.torch

                source = WeightsSource(hub_id=model_id, filename=filename)
                path = fetch_weights(source, what=what)
                if filename.endswith(".safetensors"):
                    return safetensors.torch.load_file(str(path))
                return torch.load(path, map_location="cpu", weights_only=True)

            _patch_everywhere(stack, modules, "load_file_from_url", fetch)
            _patch_everywhere(stack, [*modules, torchvision_api, timm_builder], "load_state_dict_from_url", fetch_state_dict)
            stack.enter_context(mock.patch.object(timm_builder, "load_state_dict_from_hf", fetch_hub_state_dict))
        else:
            import timm

            create = timm.create_model
            stack.enter_context(mock.patch.object(torchvision_api.WeightsEnum, "get_state_dict", lambda self, *a, **k: None))
            stack.enter_context(mock.patch.object(torch.nn.Module, "load_state_dict", lambda self, *a, **k: None))
            stack.enter_context(mock.patch.object(timm, "create_model", lambda *a, **k: create(*a, **{**k, "pretrained": False})))
            _patch_everywhere(stack, modules, "load_state_dict_from_url", lambda *a, **k: {})
        yield


def pyiqa_metric(
    metric: str,
    pretrained: bool = True,
    weighted: bool = False,
    what: str = "",
    arch_module: str = "",
    pretrained_option: bool = True,
    options: dict[str, Any] | None = None,
) -> Any:
    """pyiqa's own metric object (as a loss, one score per pair); a clear error when the extra is missing."""
    pyiqa = _import_pyiqa(metric)
    if arch_module:
        try:
            importlib.import_module(arch_module)
        except ImportError as error:
            raise ImportError(
                f"metric '{metric}' needs pyiqa's {arch_module}, which failed to import: pip install \"perceptbench[iqa]\" ({error})"
            ) from error
    options = {**(options or {}), **({"pretrained": False} if weighted and not pretrained and pretrained_option else {})}
    with _library_downloads(pretrained, what) if weighted else nullcontext():
        built = pyiqa.create_metric(metric, as_loss=True, loss_reduction="none", device="cpu", **options)
    if weighted and not pretrained:
        _nonnegative_lpips_layers(built)
    return built


def _nonnegative_lpips_layers(metric: torch.nn.Module) -> None:
    """LPIPS-style linear layers are trained non-negative (a distance); random ones are drawn so too, as lpips_models does."""
    with torch.no_grad():
        for module in metric.modules():
            if type(module).__name__ == "NetLinLayer":
                for parameter in module.parameters():
                    parameter.abs_()


@register_architecture({name: _card(name, spec, "piq", "Apache-2.0", PIQ_PAPER) for name, spec in PIQ_METRICS.items()})
def piq_iqa(pretrained: bool = True, weights: str = "iqa-psnr") -> PerceptualModel:
    """A piq full-reference metric; `pretrained` is accepted for the registry's interface (nothing to load)."""
    spec = PIQ_METRICS[weights]
    return LibraryIqaMetric(piq_score(spec), spec.lower_better, spec)


@register_architecture(
    {name: _card(name, spec, "pyiqa", "PolyForm-Noncommercial-1.0.0 (pyiqa)", PYIQA_PAPER) for name, spec in PYIQA_METRICS.items()}
)
def pyiqa_iqa(pretrained: bool = True, weights: str = "iqa-cw-ssim") -> PerceptualModel:
    """A pyiqa full-reference metric (the `iqa` extra); these have no weights to load."""
    spec = PYIQA_METRICS[weights]
    metric = pyiqa_metric(spec.metric)
    model = LibraryIqaMetric(metric, bool(metric.lower_better), spec)
    model.pyiqa = metric  # a submodule, so `.to(device)` moves pyiqa's buffers too
    return model


@register_architecture(
    {name: _card(name, spec, "pyiqa", "PolyForm-Noncommercial-1.0.0 (pyiqa)", PYIQA_PAPER) for name, spec in PYIQA_WEIGHTED_METRICS.items()}
)
def pyiqa_weighted_iqa(pretrained: bool = True, weights: str = "iqa-dists", reduced: bool = False) -> PerceptualModel:
    """A pyiqa metric with learned weights (the `iqa` extra), loaded through our cache; random under pretrained=False.

    reduced: a quick random build for tests (AHIQ scores one 224 px crop, not pyiqa's 20; the architecture is the same).
    """
    spec = PYIQA_WEIGHTED_METRICS[weights]
    metric = pyiqa_metric(
        spec.metric,
        pretrained=pretrained,
        weighted=True,
        what=weights,
        arch_module=spec.arch_module,
        pretrained_option=spec.pretrained_option,
        options=spec.reduced_options if reduced else None,
    )
    model = LibraryIqaMetric(metric, bool(metric.lower_better), spec)
    model.pyiqa = metric
    return model


def library_score(name: str, distorted: Tensor, reference: Tensor) -> Tensor:
    """The library's own call for a registered IQA model, without our wrapper (for differential tests)."""
    if name in PIQ_METRICS:
        return piq_score(PIQ_METRICS[name])(distorted, reference)
    import pyiqa

    with torch.no_grad():
        return pyiqa.create_metric({**PYIQA_METRICS, **PYIQA_WEIGHTED_METRICS}[name].metric, device="cpu")(distorted, reference).reshape(-1)
