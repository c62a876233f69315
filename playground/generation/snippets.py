"""The code that reproduces a generation, for the page's "Show code": transformers for a local model,
the openai client for a model on an endpoint."""

from __future__ import annotations

import pprint

from playground.generation.endpoints import Endpoint
from playground.generation.remote import RemoteCall, arguments
from playground.generation.request import chat_messages
from playground.generation.sampling import SamplingSettings
from playground.models.registry import EMBEDDED_MODELS


def generation_code(model: str, prompt: str, settings: SamplingSettings, system: str = "",
                    chat: bool = True) -> str:
    """A standalone script: same model, prompt, chat template and sampling settings.

    Greedy output matches the playground token for token; seeded sampling does too, because
    the playground draws one ``multinomial`` sample per token from a generator seeded the same.
    """
    spec = EMBEDDED_MODELS.get(model.strip())
    model_id = spec.hub_id if spec else model.strip()
    lines = ["import torch",
             "from transformers import AutoModelForCausalLM, AutoTokenizer",
             ""]
    if spec:
        lines.append(f"# '{spec.name}' in the playground is {spec.hub_id} (its fp32 weights there are "
                     "dequantized from a Q4_1 GGUF, so outputs can differ slightly)")
    lines += [f"model_id = {model_id!r}",
              "tokenizer = AutoTokenizer.from_pretrained(model_id)",
              "model = AutoModelForCausalLM.from_pretrained(model_id)",
              "",
              f"prompt = {prompt!r}"]
    if chat:
        messages = ([f'{{"role": "system", "content": {system!r}}}, '] if system else [""])[0]
        lines += [f'messages = [{messages}{{"role": "user", "content": prompt}}]',
                  "text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)",
                  "inputs = tokenizer(text, return_tensors='pt', add_special_tokens=False)"]
    else:
        lines.append("inputs = tokenizer(prompt, return_tensors='pt')")
    options = [f"max_new_tokens={settings.max_new_tokens}"]
    if settings.repetition_penalty != 1.0 and not settings.penalize_prompt:
        lines += ["# the repetition penalty counts generated tokens only (generate's own option counts the prompt too)",
                  "from transformers import RepetitionPenaltyLogitsProcessor",
                  "penalty = RepetitionPenaltyLogitsProcessor("
                  f"{settings.repetition_penalty}, prompt_ignore_length=inputs['input_ids'].shape[1])"]
        options.append("logits_processor=[penalty]")
    elif settings.repetition_penalty != 1.0:
        options.append(f"repetition_penalty={settings.repetition_penalty}")
    if settings.greedy:
        options.append("do_sample=False")
    else:
        lines.append(f"torch.manual_seed({settings.seed})")
        options += ["do_sample=True", f"temperature={settings.temperature}",
                    f"top_k={settings.top_k}", f"top_p={settings.top_p}"]
    if settings.stop:
        lines.append("# generate() keeps the stop string at the end of the text; the playground cuts it")
        options += [f"stop_strings={list(settings.stop)!r}", "tokenizer=tokenizer"]
    lines += [f"output = model.generate(**inputs, {', '.join(options)})",
              "new_tokens = output[0, inputs['input_ids'].shape[1]:]",
              "print(tokenizer.decode(new_tokens, skip_special_tokens=True))"]
    return "\n".join(lines) + "\n"


def endpoint_code(endpoint: Endpoint, model_id: str, prompt: str, settings: SamplingSettings, system: str = "",
                  chat: bool = True) -> str:
    """The openai-client script that sends what the playground sends (the same ``arguments``), streamed.

    The key is read from the environment variable the app would use, never written into the code.
    """
    messages = tuple(chat_messages(prompt, system)) if chat else None
    args = arguments(RemoteCall(endpoint, model_id, messages, prompt), settings, extras=False)
    key_variable = f"{endpoint.name.upper().replace('-', '_')}_API_KEY"
    route = "chat.completions" if chat else "completions"
    piece = "chunk.choices[0].delta.content" if chat else "chunk.choices[0].text"
    lines = ["import os", "", "from openai import OpenAI", "",
             f"client = OpenAI(base_url={endpoint.base_url!r},",
             f"                api_key=os.environ.get({key_variable!r}, os.environ.get('OPENAI_API_KEY', 'no-key')))",
             f"stream = client.{route}.create(**{pprint.pformat(args, sort_dicts=False, width=100)})",
             "for chunk in stream:",
             f"    if chunk.choices and {piece}:",
             f"        print({piece}, end='', flush=True)",
             "print()"]
    notes = [f"# top-k ({settings.top_k}) has no OpenAI API field"] if settings.top_k else []
    if settings.repetition_penalty != 1.0:
        notes.append(f"# the playground's repetition penalty ({settings.repetition_penalty:g}) has no OpenAI API field")
    return "\n".join(notes + lines) + "\n"
