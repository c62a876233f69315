"""Retrieval-augmented generation: chunking, embeddings, the vector index and the pipeline that answers.

May import ``core``, ``models``, ``text``, ``generation`` and ``prompting``."""
