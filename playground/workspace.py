"""One object holding what an app (or a notebook) shares: settings, loaded models, tokenizers."""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.attention import AttentionExplorer
from playground.core.settings import Settings
from playground.finetune.adapters import AdapterModels
from playground.finetune.reward_scoring import RewardScorers
from playground.finetune.runner import JobRunner
from playground.generation.engine import GenerationEngine
from playground.internals.inspector import ModelInspector
from playground.models.store import ModelStore
from playground.preferences.votes import VoteStore
from playground.pretrain.lab import PretrainLab
from playground.quantization.lab import QuantLab
from playground.rag.embeddings import Embedder
from playground.rag.pipeline import RagPipeline
from playground.text.analysis import TokenizerRegistry


@dataclass(frozen=True)
class Workspace:
    """Built once per app; every tab gets the same instance instead of module globals."""

    settings: Settings
    store: ModelStore
    tokenizers: TokenizerRegistry
    attention: AttentionExplorer
    generation: GenerationEngine
    quantization: QuantLab
    rag: RagPipeline
    finetune: JobRunner
    adapters: AdapterModels
    inside: ModelInspector
    votes: VoteStore
    """The class's blind votes between two answers: one preference dataset per server."""
    pretrain: PretrainLab
    """Pre-training runs and sweeps (through ``finetune``, the same runs folder) and the scaling fit."""
    reward_scorers: RewardScorers = field(default_factory=RewardScorers)
    """Finished reward runs' models, loaded once each for /reward_score (a few at a time)."""

    @classmethod
    def create(cls, settings: Settings | None = None) -> "Workspace":
        settings = settings or Settings.from_env()
        store = ModelStore(settings)
        tokenizers = TokenizerRegistry(store)
        generation = GenerationEngine(store)
        runner = JobRunner(settings.runs_dir, tokenizer_of=store.hf_tokenizer, limits=settings.limits,
                           local_paths=settings.local_paths, device=settings.device)
        return cls(settings=settings, store=store, tokenizers=tokenizers,
                   attention=AttentionExplorer(store, tokenizers), generation=generation,
                   quantization=QuantLab(generation),
                   rag=RagPipeline(generation, Embedder(store), settings.default_model),
                   finetune=runner, pretrain=PretrainLab(runner, settings),
                   adapters=AdapterModels(store), inside=ModelInspector(store, tokenizers),
                   votes=VoteStore(settings.cache_dir / "preferences"))
