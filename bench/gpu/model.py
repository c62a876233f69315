"""Which causal model the GPU check measures: the embedded SmolLM2 where its weights resolve here,
else SmolLM2's architecture with random weights (speed and memory only; quality stays CPU-measured).

A GPU box has no network and the 98 MB GGUF may not travel with the repository, so the random copy
is built from SmolLM2-135M's published configuration and a small byte-level BPE tokenizer trained on
the shipped texts, saved as a local folder every part of the app loads like any other model.
"""

from __future__ import annotations

from pathlib import Path

from playground.core.paths import ASSETS
from playground.core.settings import DEFAULT_CAUSAL_MODEL, Settings
from playground.models.registry import EMBEDDED_MODELS, resolve

RANDOM_NOTE = "random weights: speed and memory only"
CHAT_TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
                 "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# HuggingFaceTB/SmolLM2-135M-Instruct's config.json (the parts that shape compute and memory)
SMOLLM2_CONFIG = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                      rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True, hidden_act="silu",
                      bos_token_id=1, eos_token_id=2, pad_token_id=2)


def choose_model(settings: Settings, name: str = DEFAULT_CAUSAL_MODEL) -> tuple[str, bool]:
    """(model name to use, whether it has random weights): the embedded model where it resolves to
    a local folder here, else a random-weight copy of its architecture."""
    if name in EMBEDDED_MODELS:
        try:
            if resolve(name, settings, "model").is_local:
                return name, False
        except Exception:  # noqa: BLE001 - a GGUF that cannot be prepared counts as missing
            pass
    return str(random_smollm2(settings.cache_dir / "gpu-check" / "smollm2-random")), True


def random_smollm2(folder: Path) -> Path:
    """SmolLM2-135M's architecture with random weights and a shipped-text tokenizer, saved once."""
    if (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file():
        return folder
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(ASSETS.rglob("*"))
             if p.suffix in (".txt", ".md", ".jsonl") and p.is_file()]
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=4096, special_tokens=specials,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|im_end|>", unk_token="<|endoftext|>", model_max_length=8192)
    tokenizer.chat_template = CHAT_TEMPLATE
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in specials}
    config = LlamaConfig(**{**SMOLLM2_CONFIG, "bos_token_id": ids["<|im_start|>"],
                            "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|im_end|>"]})
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
