"""What a model in training makes of text, per objective: a greedy continuation of a fixed prompt (CLM), the
masks of a held-out sentence filled (MLM), a held-out sentence's cut spans filled (span corruption).

Each sample is drawn with a fixed seed from the same held-out tokens, so samples at successive evaluations
differ only because the model changed.
"""

from __future__ import annotations

from typing import Any

import torch

from playground.pretrain.objectives import IGNORE, mlm_mask, span_corrupt
from playground.pretrain.tokenizer import sentinel_tokens

SAMPLE_SEED = 1234
SAMPLE_TOKENS = 48


@torch.no_grad()
def sample(objective: str, model: Any, tokenizer: Any, held_out: list[int], prompt: str,
           new_tokens: int = 24) -> dict[str, Any]:
    """One JSON-friendly sample for ``objective``; the model is left in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        if objective == "clm":
            return continuation(model, tokenizer, prompt, new_tokens)
        ids = held_out[:SAMPLE_TOKENS]
        return filled_masks(model, tokenizer, ids) if objective == "mlm" else filled_spans(model, tokenizer, ids)
    finally:
        model.train(was_training)


def continuation(model: Any, tokenizer: Any, prompt: str, new_tokens: int) -> dict[str, Any]:
    """The greedy continuation of ``prompt`` (its tail, where the context is shorter than prompt + answer)."""
    room = max(model.config.n_positions - new_tokens, 1)
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"][-room:] or [tokenizer.eos_token_id]
    output = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                            max_new_tokens=new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return {"kind": "continuation", "prompt": tokenizer.decode(ids),
            "completion": tokenizer.decode(output[0, len(ids):].tolist())}


def filled_masks(model: Any, tokenizer: Any, ids: list[int]) -> dict[str, Any]:
    """BERT's chosen positions all shown as ``[MASK]`` (clearer to read than 80/10/10), then the model's guesses."""
    generator = torch.Generator().manual_seed(SAMPLE_SEED)
    original = torch.tensor([ids])
    _, labels = mlm_mask(original, tokenizer, generator)
    chosen = labels[0] != IGNORE
    inputs = original.clone()
    inputs[0, chosen] = tokenizer.mask_token_id
    predicted = model(input_ids=inputs).logits[0].argmax(-1)
    filled = torch.where(chosen, predicted, original[0])
    answers = [{"token": tokenizer.decode([int(ids[i])]), "predicted": tokenizer.decode([int(predicted[i])])}
               for i in chosen.nonzero().flatten().tolist()]
    return {"kind": "filled masks", "input": tokenizer.decode(inputs[0].tolist()),
            "filled": tokenizer.decode(filled.tolist()), "answers": answers,
            "correct": sum(answer["token"] == answer["predicted"] for answer in answers)}


def filled_spans(model: Any, tokenizer: Any, ids: list[int]) -> dict[str, Any]:
    """T5's corrupted input, the true target, the model's greedy target and the text it restores."""
    from playground.pretrain.objectives import fill_spans

    generator = torch.Generator().manual_seed(SAMPLE_SEED)
    inputs, target = span_corrupt(torch.tensor(ids), tokenizer, generator)
    output = model.generate(inputs[None], attention_mask=torch.ones(1, len(inputs), dtype=torch.long),
                            max_new_tokens=len(target) + 4, do_sample=False)
    predicted = [token for token in output[0].tolist() if token != tokenizer.pad_token_id]
    sentinels = set(tokenizer.convert_tokens_to_ids(sentinel_tokens()))
    restored = fill_spans(inputs.tolist(), predicted, sentinels, tokenizer.eos_token_id)
    return {"kind": "filled spans", "input": tokenizer.decode(inputs.tolist()),
            "target": tokenizer.decode(target.tolist()), "predicted": tokenizer.decode(predicted),
            "filled": tokenizer.decode(restored)}
