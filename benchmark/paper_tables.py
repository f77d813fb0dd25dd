"""The paper's evaluation setups, one entry per table or figure, as plain data.

Each entry crosses its models with its runs; a run fixes the dataset, split, threat, radius,
attack budget and sample count the paper used (Croce, Schlarmann, Singh, Hein: "Adversarially
Robust CLIP Models Can Induce Better (Robust) Perceptual Metrics"). `attack: none` means clean
scores only. Model names follow the zoo's pattern; names the local zoo lacks are reported, not run.
"""
from __future__ import annotations

NIGHTS_2AFC = [
    {"dataset": "nights", "split": "test", "threat": "linf", "eps": "4/255", "n_iter": 100},
    {"dataset": "nights", "split": "test", "threat": "l2", "eps": "3.0", "n_iter": 100},
]
# BAPPS: clean accuracy on the full val set, robust accuracy on the first 1k triplets of each split.
BAPPS_2AFC = [
    {"dataset": "bapps", "attack": "none"},
    {"dataset": "bapps", "threat": "linf", "eps": "4/255", "n_iter": 100, "n_ex_per_split": 1000},
    {"dataset": "bapps", "threat": "l2", "eps": "3.0", "n_iter": 100, "n_ex_per_split": 1000},
]

CLIP_ZERO_SHOT = [
    "clip-vit-b32", "r-clip-f-vit-b32", "r-clip-t-vit-b32",
    "clip-vit-b16", "r-clip-f-vit-b16", "r-clip-t-vit-b16",
    "clip-convnext", "r-clip-f-convnext", "r-clip-t-convnext",
]

PAPER_TABLES: dict[str, dict] = {
    "table1": {
        "title": "Table I: CLIP and DINO vs their robust versions on 2AFC (NIGHTS test, BAPPS val), zero-shot and LoRA on NIGHTS",
        "models": [
            "dino-vit-b16", "r-dino-f-vit-b16", "clip-vit-l14", "r-clip-f-vit-l14", "r-clip-t-vit-l14", *CLIP_ZERO_SHOT,
            "dreamsim-dino-vit-b16", "r-dino-f-vit-b16+lora",
            "clip-vit-b32+lora", "r-clip-f-vit-b32+lora", "r-clip-t-vit-b32+lora",
            "clip-vit-b16+lora", "r-clip-f-vit-b16+lora", "r-clip-t-vit-b16+lora",
            "clip-convnext+lora", "r-clip-f-convnext+lora", "r-clip-t-convnext+lora",
        ],
        "runs": NIGHTS_2AFC + BAPPS_2AFC,
    },
    "table2": {
        "title": "Table II: comparison to state-of-the-art (robust) perceptual metrics on 2AFC (NIGHTS test, BAPPS val)",
        "models": [
            "dino-vit-b16", "clip-convnext", "dreamsim-openclip-vit-b32", "dreamsim-clip-vit-b32", "dreamsim-dino-vit-b16",
            "dreamsim-ensemble", "r-lpips", "lipsim-pretrained", "lipsim-margin0.2", "lipsim-margin0.5",
            "r-dino-f-vit-b16", "r-dino-f-vit-b16+lora", "r-clip-f-convnext", "r-clip-f-convnext+lora",
            "r-clip-t-convnext", "r-clip-t-convnext+lora",
        ],
        "runs": NIGHTS_2AFC + BAPPS_2AFC,
    },
    "table3": {
        "title": "Table III: robust NSFW detection by nearest neighbour (safe/buffer/unsafe), targeted attack Eq. 5",
        "models": [
            "dino-vit-b16", "clip-convnext", "dreamsim-dino-vit-b16", "dreamsim-ensemble", "r-lpips",
            "lipsim-pretrained", "lipsim-margin0.5", "r-dino-f-vit-b16", "r-dino-f-vit-b16+lora",
            "r-clip-f-convnext", "r-clip-f-convnext+lora", "r-clip-t-convnext", "r-clip-t-convnext+lora",
        ],
        "runs": [{"dataset": "detect", "split": "nsfw", "threat": "linf", "eps": "8/255", "n_iter": 200}],
    },
    "table9": {
        "title": "Table IX: image-to-image retrieval mAP (Medium, Hard) on revisited Oxford and Paris, untargeted attack Eq. 6",
        "models": [
            "lipsim-pretrained", "lipsim-margin0.5", "dreamsim-openclip-vit-b32", "dreamsim-dino-vit-b16", "dreamsim-ensemble",
            "r-lpips", "dino-vit-b16", "r-dino-f-vit-b16", "clip-vit-b16", "r-clip-f-vit-b16", "r-clip-t-vit-b16",
            "clip-convnext", "r-clip-f-convnext", "r-clip-t-convnext",
            "clip-convnext+lora", "r-clip-f-convnext+lora", "r-clip-t-convnext+lora",
        ],
        "runs": [
            {"dataset": "roxford5k", "threat": "linf", "eps": "4/255", "n_iter": 100},
            {"dataset": "rparis6k", "threat": "linf", "eps": "4/255", "n_iter": 100},
        ],
    },
    "table11": {
        "title": "Table XI: zero-shot ImageNet classification (OpenAI's 80 templates), clean and APGD-CE at Linf 2/255 and 4/255",
        "models": [*CLIP_ZERO_SHOT],
        "runs": [{"dataset": "imagenet", "split": "val", "attack": "none"}] + [
            {"dataset": "imagenet", "split": "val", "threat": "linf", "eps": eps, "n_iter": 100} for eps in ("2/255", "4/255")
        ],
        "note": "the paper's robust columns use AutoAttack's APGD-CE and APGD-T (targeted DLR); we run APGD-CE, an upper bound on "
                "robust accuracy. The 13 other zero-shot datasets run with --dataset imagefolder --dataset-option path=DIR",
    },
    "table13": {
        "title": "Table XIII: NIGHTS test by ImageNet / non-ImageNet split, APGD-CE 100 iterations",
        "models": [*CLIP_ZERO_SHOT, "dino-vit-b16", "r-dino-f-vit-b16", "dinov2-vit-b14", "r-dinov2-f-vit-b14"],
        "runs": [
            {"dataset": "nights", "split": split, "threat": threat, "eps": eps, "n_iter": 100}
            for split in ("test_imagenet", "test_no_imagenet")
            for threat, eps in (("linf", "4/255"), ("l2", "3.0"))
        ],
    },
    "table14": {
        "title": "Table XIV: clean 2AFC score on each BAPPS split and their mean",
        "models": [*CLIP_ZERO_SHOT, "dino-vit-b16", "r-dino-f-vit-b16"],
        "runs": [{"dataset": "bapps", "attack": "none"}],
    },
    "fig7": {
        "title": "Figure 7: robust NIGHTS accuracy against the radius (Linf and L2)",
        "models": ["r-clip-t-convnext", "r-clip-t-convnext+lora", "lipsim-margin0.5"],
        "runs": [
            {"dataset": "nights", "split": "test", "threat": "linf", "eps": eps, "n_iter": 100}
            for eps in ("1/255", "2/255", "4/255", "8/255", "16/255")
        ] + [
            {"dataset": "nights", "split": "test", "threat": "l2", "eps": eps, "n_iter": 100}
            for eps in ("1.0", "2.0", "3.0", "4.0", "6.0")
        ],
        "note": "the paper does not list the radii of Fig. 7 in text; this grid is our assumption (robust accuracy should reach 0 at the largest)",
    },
    "fig8": {
        "title": "Figure 8: robust NIGHTS accuracy against the number of APGD iterations (0 = clean)",
        "models": ["r-clip-f-convnext"],
        "runs": [{"dataset": "nights", "split": "test", "attack": "none"}] + [
            {"dataset": "nights", "split": "test", "threat": threat, "eps": eps, "n_iter": n_iter}
            for threat, eps in (("linf", "4/255"), ("l2", "3.0"))
            for n_iter in (50, 100, 200, 500, 1000)
        ],
    },
}
