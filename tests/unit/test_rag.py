"""Chunking, retrieval and the RAG pipeline on the real embedded models and shipped documents."""

from __future__ import annotations

import json

import numpy as np
import pytest

from playground.core.errors import InvalidInputError
from playground.core.iterutil import last
from playground.prompting.techniques import ASSETS
from playground.rag.chunking import Chunk, boundary_kind, chunk_text, snap_reach
from playground.rag.index import Document, Hit
from playground.rag.pipeline import build_prompt, gather_documents, project_2d, shipped_documents
from playground.rag.readers import read_file

MODEL = "smollm2-135m-instruct"
QUESTIONS = [json.loads(line) for line in (ASSETS / "rag" / "questions.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def tokenizer(workspace):
    return workspace.store.hf_tokenizer(MODEL)


@pytest.mark.parametrize(("size", "overlap"), [(32, 0), (64, 16), (96, 24), (50, 49)])
def test_chunks_cover_the_text_with_about_the_overlap_asked(tokenizer, size, overlap):
    text = shipped_documents()[0].text
    chunks = chunk_text(text, "doc", tokenizer, size, overlap)
    total = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    reach = snap_reach(size)
    assert chunks[0].token_start == 0 and chunks[-1].token_end == total
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared = before.token_end - after.token_start
        assert 0 <= overlap - shared <= reach and (overlap or not shared)  # a start moves forward a little
        assert before.token_start < after.token_start and after.start <= before.end  # no gap, progress
    assert all(c.token_end - c.token_start <= size for c in chunks)
    assert all(text[c.start:c.end] == c.text for c in chunks)


@pytest.mark.parametrize("document", range(4))
def test_chunks_start_and_end_on_word_boundaries(tokenizer, document):
    """Issue 19: a chunk began "th. During..."; every cut now falls between words."""
    text = shipped_documents()[document].text
    for chunk in chunk_text(text, "doc", tokenizer, 96, 24):
        assert chunk.start == 0 or not (text[chunk.start - 1].isalnum() and text[chunk.start].isalnum()), chunk.text
        assert chunk.end == len(text) or not (text[chunk.end - 1].isalnum() and text[chunk.end].isalnum()), chunk.text
        assert boundary_kind(text, chunk.start) >= 1


def test_a_cut_prefers_a_sentence_start_when_one_is_near(tokenizer):
    sentences = " ".join(f"Sentence number {n} talks about lanterns and boats." for n in range(40))
    chunks = chunk_text(sentences, "doc", tokenizer, 96, 24)  # sentences of 11 tokens: one in reach
    assert all(chunk.text.lstrip().startswith("Sentence") for chunk in chunks), [c.text[:20] for c in chunks]


def test_text_with_no_spaces_still_chunks_at_token_cuts(tokenizer):
    text = "x" * 3000  # nothing to snap to: the plain token windows stay
    chunks = chunk_text(text, "doc", tokenizer, 32, 8)
    assert chunks[-1].end == len(text) and all(c.token_end - c.token_start <= 32 for c in chunks)


def test_bad_chunk_settings(tokenizer):
    with pytest.raises(InvalidInputError, match="overlap must be"):
        chunk_text("some text", "d", tokenizer, 32, 32)
    with pytest.raises(InvalidInputError, match="chunk_size must be"):
        chunk_text("some text", "d", tokenizer, 4, 0)


def test_the_chunk_with_the_fact_ranks_first(workspace):
    rag = workspace.rag
    rag.index.index("test-rank", shipped_documents(), MODEL, 96, 24)
    first_place = 0
    for item in QUESTIONS:
        hits = rag.retrieve("test-rank", item["question"], 3, MODEL)
        assert any(item["evidence"] in hit.chunk.text for hit in hits), item["question"]  # in the top 3
        first_place += item["evidence"] in hits[0].chunk.text
    assert first_place >= 0.75 * len(QUESTIONS)  # MiniLM puts the fact first for most questions
    festival = rag.retrieve("test-rank", "On what date does the Lantern Festival start?", 1, MODEL)[0]
    assert festival.chunk.source == "02-the-lantern-festival.md" and "14th of November" in festival.chunk.text


def test_reindexing_embeds_only_what_changed(workspace):
    index = workspace.rag.index
    docs = shipped_documents()
    first = index.index("test-reindex", docs, MODEL, 96, 24)
    assert first.embedded == len(docs) and first.reused == 0
    changed = [docs[0], Document(docs[1].source, docs[1].text + "\nA new sentence."), docs[2]]
    second = index.index("test-reindex", changed, MODEL, 96, 24)
    assert (second.embedded, second.reused, second.removed) == (1, 2, 1)
    chunks, vectors = index.vectors("test-reindex")
    assert {chunk.source for chunk in chunks} == {doc.source for doc in changed}
    in_document_order = sorted(chunks, key=lambda chunk: (chunk.source, chunk.index))
    assert chunks == in_document_order and len(vectors) == len(chunks)  # the page's table lists them so
    own = index.embedder.embed([chunk.text for chunk in chunks])  # each vector stayed with its chunk
    assert np.allclose(vectors, own, atol=1e-5)


def test_owners_do_not_see_each_other(workspace):
    index = workspace.rag.index
    index.index("alice", [Document("a.txt", "Alice keeps her bicycle in the blue shed.")], MODEL, 32, 0)
    index.index("bob", [Document("b.txt", "Bob grows tomatoes on the balcony.")], MODEL, 32, 0)
    assert [hit.chunk.source for hit in index.search("alice", "Where is the bicycle?", 5)] == ["a.txt"]
    assert [hit.chunk.source for hit in index.search("bob", "Where is the bicycle?", 5)] == ["b.txt"]
    index.drop("alice")
    with pytest.raises(InvalidInputError, match="No documents indexed"):
        index.search("alice", "bicycle", 1)


def test_answer_with_retrieval_uses_the_context(workspace):
    rag = workspace.rag
    question = "In which sea is the island of Quenmoor?"
    hits = rag.retrieve("test-answer", question, 3, MODEL)
    result = last(rag.answer(question, hits, MODEL))
    assert "Selvane Sea" in result.answer
    assert "Selvane" not in result.answer_without_retrieval  # the model cannot know it
    assert result.prompt.startswith("Answer the question using only the context")
    assert "[1] (from " in result.prompt and result.prompt.endswith(f"Question: {question}")
    dropped = last(rag.answer(question, hits, MODEL, leave_out={1}))
    assert len(dropped.hits) == len(hits) - 1 and hits[0].chunk.text not in dropped.prompt
    assert dropped.numbers == list(range(2, len(hits) + 1)) and "[1] (from" not in dropped.prompt
    assert [chunk["number"] for chunk in dropped.to_dict()["chunks"]] == dropped.numbers


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.txt", b"  \n", "empty"),
    ("blob.txt", b"\x00\x01binary", "binary"),
    ("latin.md", "caf\xe9".encode("latin-1"), "not UTF-8"),
    ("paper.pdf", b"%PDF-1.4", "could not be read as PDF"),
    ("sheet.xlsx", b"PK", "only .txt, .md, .markdown, .pdf, .html, .htm, .docx"),
])
def test_bad_uploads(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    report = read_file(path)
    assert report.document is None and message in report.error


def test_unreadable_files_are_skipped_with_their_reason(tmp_path):
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4 broken")
    (tmp_path / "ok.txt").write_text("The lighthouse keeper is called Aldo.", encoding="utf-8")
    documents, reports = gather_documents(False, [(str(tmp_path / "scan.pdf"), "scan.pdf"),
                                                  (str(tmp_path / "ok.txt"), "ok.txt")])
    assert [d.source for d in documents] == ["ok.txt"] and reports[0].error and reports[1].chars == 37
    with pytest.raises(InvalidInputError, match="Nothing to index: scan.pdf could not be read"):
        gather_documents(False, [(str(tmp_path / "scan.pdf"), "scan.pdf")])


def test_dropping_a_chunk_keeps_the_numbers_of_the_rest():
    hits = [Hit(Chunk("d", i, f"passage {i}", 0, 9, 0, 2), 0.5) for i in range(3)]
    prompt = build_prompt("Q?", [hits[0], hits[2]], [1, 3])
    assert "[1] (from d)\npassage 0" in prompt and "[3] (from d)\npassage 2" in prompt and "[2]" not in prompt


def test_prompt_and_projection_shapes():
    import numpy as np

    assert build_prompt("Q?", []).endswith("Question: Q?")
    coords = project_2d(np.random.default_rng(0).normal(size=(10, 384)).astype(np.float32))
    assert coords.shape == (10, 2)


def test_the_question_map_puts_the_question_beside_its_retrieved_chunk(workspace):
    """The map the RAG tab draws comes from the library: every chunk and the question, on the same axes."""
    import numpy as np

    rag = workspace.rag
    rag.index.index("test-map", shipped_documents(), MODEL, 96, 24)
    question = "On what date does the Lantern Festival start?"
    top = rag.retrieve("test-map", question, 1, MODEL)[0]
    projected = rag.question_map("test-map", question)
    chunks, _ = rag.index.vectors("test-map")
    assert projected.chunks == chunks and projected.coords.shape == (len(chunks), 2)
    assert projected.question.shape == (2,)
    distances = np.linalg.norm(projected.coords - projected.question, axis=1)
    where = next(i for i, c in enumerate(chunks) if (c.source, c.index) == (top.chunk.source, top.chunk.index))
    assert distances[where] <= np.median(distances)  # the retrieved chunk is nearer than most
