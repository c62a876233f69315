"""Tokenizer backends (Hugging Face, tiktoken) and the analysis the Tokenizer tab shows.

May import ``playground.core`` and ``playground.models``."""
