"""Pre-training from scratch: model sizes, the shipped corpus and tokenizers, each objective's corruption,
a small training loop, and the scaling-law fit (loss against parameters and tokens)."""
