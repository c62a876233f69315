"""RAG: indexing throughput and query latency at 1,000 and 10,000 chunks.

Baselines in the same run: for indexing, MiniLM embedding alone on the same chunk texts (so the
ratio is what chunking and the vector store add); for queries, a bare numpy dot product over the
same vectors (so the ratio is what qdrant-client's local mode costs over brute force).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

from bench import machine_line
from playground.core.settings import Settings
from playground.rag.embeddings import Embedder
from playground.rag.index import Document, DocumentIndex
from playground.rag.pipeline import shipped_documents
from playground.workspace import Workspace

COMMAND = "python -m bench rag --write"
MODEL = "smollm2-135m-instruct"
CHUNK, OVERLAP = 96, 24
QUESTIONS = ["When does the Lantern Festival start?", "Who built the observatory?", "How long is the ferry?",
             "What do people farm?", "Which sea is the island in?"]


def corpus(chunks: int, seed: int = 0) -> list[Document]:
    """Distinct documents shuffled from the shipped sentences (distinct, so no embedding is reused)."""
    sentences = [s.strip() + "." for doc in shipped_documents() for s in doc.text.replace("\n", " ").split(".")
                 if len(s.split()) > 3]
    rng = random.Random(seed)
    per_doc = 10  # about ten 96-token chunks per document of 46 sentences
    return [Document(f"doc-{i:05d}.md", " ".join(rng.choice(sentences) for _ in range(46)) + f" Serial {i}.")
            for i in range(max(1, chunks // per_doc))]


def measure(ws: Workspace, size: int) -> dict[str, float]:
    embedder = Embedder(ws.store)  # a fresh cache: every chunk is embedded
    index = DocumentIndex(embedder, lambda model: ws.generation.load(model)[1])
    documents = corpus(size)
    started = time.perf_counter()
    report = index.index("bench", documents, MODEL, CHUNK, OVERLAP)
    index_seconds = time.perf_counter() - started
    chunks, vectors = index.vectors("bench", limit=report.num_chunks)
    sample = [chunk.text for chunk in chunks[:500]]
    started = time.perf_counter()
    Embedder(ws.store)._encode_all(sample)
    embed_rate = len(sample) / (time.perf_counter() - started)
    query_times, bare_times = [], []
    for round_ in range(4):  # each text unique, so every question is embedded afresh
        for question in QUESTIONS:
            started = time.perf_counter()
            index.search("bench", f"{question} ({round_})", 5)
            query_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            query = embedder.embed([f"{question} [{round_}]"])[0]
            np.argpartition(-(vectors @ query), 5)[:5]
            bare_times.append(time.perf_counter() - started)
    return {"chunks": report.num_chunks, "index_rate": report.num_chunks / index_seconds, "embed_rate": embed_rate,
            "query": statistics.median(query_times), "bare": statistics.median(bare_times)}


def run(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench rag")
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args(argv)
    ws = Workspace.create(Settings.from_env())
    ws.generation.load(MODEL)
    rows = [measure(ws, int(size)) for size in args.sizes.split(",")]
    lines = [
        "## RAG: indexing and query latency",
        "",
        f"`{COMMAND}` on {machine_line()}; {CHUNK}-token chunks (overlap {OVERLAP}) of documents shuffled from "
        "the shipped sentences, all-MiniLM-L6-v2 embeddings, qdrant-client in local (in-memory) mode; query "
        "latency is the median of 20 questions (embedding the question + top-5 search).",
        "",
        "| chunks | indexing (chunks/s) | embedding alone (chunks/s) | ratio | query (ms) | embed + numpy top-5 (ms) | "
        "ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['chunks']:,} | {r['index_rate']:.0f} | {r['embed_rate']:.0f} | "
              f"{r['index_rate'] / r['embed_rate']:.2f}x | {r['query'] * 1e3:.1f} | {r['bare'] * 1e3:.1f} | "
              f"{r['query'] / r['bare']:.2f}x |" for r in rows]
    lines += ["", "Indexing is bound by the encoder (MiniLM on CPU); the store adds little. A query is one "
              "short encoder pass plus the search; local mode searches by brute force, which a Qdrant server "
              "(HNSW) replaces when an index outgrows one machine (PLAYGROUND_QDRANT_URL)."]
    return "\n".join(lines)
