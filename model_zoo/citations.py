"""Every paper a model card cites, in one place: families import their citation from here."""

from __future__ import annotations

# The benchmark's own paper, and the robust CLIP models it evaluates.
FARE_PAPER = "Croce, Schlarmann, Singh, Hein 2025, 'Adversarially Robust CLIP Models Can Induce Better (Robust) Perceptual Metrics'"
ROBUST_CLIP_PAPER = "Schlarmann, Singh, Croce, Hein 2024, 'Robust CLIP: Unsupervised Adversarial Fine-Tuning of Vision Embeddings for Robust Large Vision-Language Models'"

# CLIP weights.
LAION_PAPER = "Cherti et al. 2023, 'Reproducible scaling laws for contrastive language-image learning' (LAION-2B)"
OPENAI_PAPER = "Radford et al. 2021, 'Learning Transferable Visual Models From Natural Language Supervision'"

# Self-supervised ViTs.
DINO_PAPER = "Caron et al. 2021, 'Emerging Properties in Self-Supervised Vision Transformers'"
DINOV2_PAPER = "Oquab et al. 2024, 'DINOv2: Learning Robust Visual Features without Supervision'"

# Perceptual metrics.
DREAMSIM_PAPER = "Fu, Tamir, Sundaram, Chai, Zhang, Dekel, Isola 2023, 'DreamSim: Learning New Dimensions of Human Visual Similarity using Synthetic Data'"
LPIPS_PAPER = "Zhang, Isola, Efros, Shechtman, Wang 2018, 'The Unreasonable Effectiveness of Deep Features as a Perceptual Metric'"
R_LPIPS_PAPER = "Ghazanfari, Garg, Krishnamurthy, Khorrami, Araujo 2023, 'R-LPIPS: An Adversarially Robust Perceptual Similarity Metric'"
LIPSIM_PAPER = "Ghazanfari, Araujo, Krishnamurthy, Khorrami, Garg 2024, 'LipSim: A Provably Robust Perceptual Similarity Metric'"
SSIM_PAPER = "Wang, Bovik, Sheikh, Simoncelli 2004, 'Image quality assessment: from error visibility to structural similarity'"

# Classifiers on top of an embedding.
LAION_NSFW_REPOSITORY = "https://github.com/LAION-AI/CLIP-based-NSFW-Detector"
LAION_NSFW_PAPER = "Schuhmann 2022, LAION CLIP-based-NSFW-Detector (" + LAION_NSFW_REPOSITORY + "); used in Croce et al. 2025, Table IV"
