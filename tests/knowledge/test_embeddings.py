"""The offline embedder: deterministic unit vectors of the model's dimension, meaning-aware;
the pinned files are checked; an OpenAI-compatible endpoint behind the same interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import (
    DIMENSION,
    EmbeddingError,
    LocalEmbedder,
    ModelFiles,
    OpenAIEmbedder,
)
from tests.knowledge.fakes import fake_openai


async def test_vectors_are_deterministic_unit_rows_of_the_model_dimension(
    embedder: LocalEmbedder,
) -> None:
    texts = ["PostgreSQL primary is not answering", "disk will fill in 4 hours", ""]
    first = await embedder.embed(texts)
    second = await embedder.embed(list(reversed(texts)))
    assert first.shape == (3, DIMENSION) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    # Same text, same vector, whatever else is in the batch and in which order.
    assert np.allclose(first, second[::-1], atol=1e-5)
    assert embedder.name == "all-MiniLM-L6-v2-onnx-int8"


async def test_a_paraphrase_is_closer_than_an_unrelated_text(embedder: LocalEmbedder) -> None:
    a, b, c = await embedder.embed(
        [
            "the TLS certificate of the api gateway expired",
            "HTTPS cert on the edge ran out of validity",
            "kafka consumer lag keeps growing",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_a_wrong_model_file_is_refused(tmp_path: Path) -> None:
    files = ModelFiles.installed()
    wrong = tmp_path / "model.onnx"
    wrong.write_bytes(b"not a model")
    with pytest.raises(EmbeddingError, match="not the expected file"):
        ModelFiles(model=wrong, tokenizer=files.tokenizer).verify()
    with pytest.raises(EmbeddingError, match="cannot read"):
        LocalEmbedder(ModelFiles(model=tmp_path / "missing", tokenizer=files.tokenizer)).load()


async def test_an_openai_compatible_endpoint_embeds_in_order() -> None:
    async with fake_openai() as server:
        embedder = OpenAIEmbedder(
            model="text-embedding-test", dimension=8, base_url=server.url, api_key="sk-test"
        )
        try:
            vectors = await embedder.embed(["one", "two", "one"])
        finally:
            await embedder.close()
    assert vectors.shape == (3, 8)
    assert np.allclose(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert server.requests[0]["body"]["input"] == ["one", "two", "one"]
    assert embedder.name == "openai:text-embedding-test"


async def test_an_endpoint_answering_the_wrong_dimension_is_an_error() -> None:
    async with fake_openai() as server:
        embedder = OpenAIEmbedder(model="m", dimension=16, base_url=server.url, api_key="k")
        try:
            with pytest.raises(EmbeddingError, match="expected"):
                await embedder.embed(["x"])
        finally:
            await embedder.close()
