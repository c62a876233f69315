"""Inside the model: how one next token is computed, with the loaded model's own tensors.

Architecture and parameter counts, the next-token distribution, one head's attention step by step, the
logit lens, direct head attribution and ablation. Imports torch, transformers and ``playground`` (core,
models, text, attention; from generation only the sampling settings and the ``logits_to_keep`` check);
never gradio, gradio_client, tabs or bench.
"""
