"""Choices we made where the paper is silent, or where the authors' code and ours count differently, each with its reason.

A dataset's spec names those that apply to its runs (`DatasetSpec.choices`) and the runner writes them into the
result's protocol; fine-tuning records its own, and README's protocol table lists them all. Core facts, not the paper's tables: the runner and finetune read them.
"""

from __future__ import annotations

PROTOCOL_CHOICES: dict[str, str] = {
    "model_transform_with_centre_crop": "detection and retrieval images go through each model's own transform (for "
    "ConvNeXt-B: Resize(256) + CenterCrop(224), which drops the borders), as the paper's code does for NIGHTS and THINGS; "
    "the paper only says 'image size 224x224' for these tasks",
    "convnext_training_at_224": "FARE/TeCoA fine-tuning of ConvNeXt-B runs at 224 px, the resolution the paper evaluates "
    "(App. A: 'for all models we use image resolution of 224x224'); RobustVLM's training script takes open_clip's eval "
    "transform, which is 256 px for this tower, and the paper does not state the training resolution",
    "fig7_eps_grid": "Fig. 7's radii (Linf 1, 2, 4, 8, 16 /255; L2 1, 2, 3, 4, 6) are ours: the paper plots them without "
    "listing them; the grid reaches radii where robust accuracy should be 0 (App. B-A's sanity check)",
    "imagenet_seeded_subset": "Table XI's robust runs without --dataset-option subset_ids take 5,000 val images drawn with "
    "subset_seed 0, which is NOT RobustVLM's list (RobustBench's imagenet_test_image_ids.txt, which we do not ship)",
    "clean_wrong_counts_as_broken": "a sample the model gets wrong on clean input counts as not robust (robust accuracy "
    "<= clean accuracy, as AutoAttack and RobustBench count); the authors' apgd_train (autopgd.py) can count such a "
    "sample as robust when the attack's point happens to be classified right",
    "things_all_triplets": "THINGS: every triplet of the file is scored; the authors' loader (utils_perceptual_data.py "
    "THINGSDataset) loses the last ([:n_triplets_max] with its default -1) and, where pandas takes it for a header, the "
    "first; we do not copy that (2 of ~146k triplets)",
}
