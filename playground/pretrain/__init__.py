"""Pre-training from scratch: model sizes, the shipped corpus and tokenizers, each objective's corruption,
a small training loop, the scaling-law fit (loss against parameters and tokens), and the runs: their config,
sweep, worker and the lab the page and the endpoints call."""
