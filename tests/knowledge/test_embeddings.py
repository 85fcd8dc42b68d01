"""The offline embedder: deterministic unit vectors of the model's dimension, meaning-aware;
the pinned files are checked; an OpenAI-compatible endpoint behind the same interface."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from knowledge.embeddings import (
    DIMENSION,
    MODEL_SHA256,
    EmbeddingError,
    LocalEmbedder,
    ModelFiles,
    OpenAIEmbedder,
)
from knowledge.quantize import runnable_model
from tests.knowledge.fakes import fake_openai


async def test_vectors_are_deterministic_unit_rows_of_the_model_dimension(
    embedder: LocalEmbedder,
) -> None:
    texts = ["PostgreSQL primary is not answering", "disk will fill in 4 hours", ""]
    first = await embedder.embed(texts)
    second = await embedder.embed(list(reversed(texts)))
    assert first.shape == (3, DIMENSION) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    # Same text, same vector, whatever else is embedded with it and in which order.
    assert np.allclose(first, second[::-1], atol=1e-6)
    alone = await embedder.embed([texts[0]])
    assert np.allclose(first[0], alone[0], atol=1e-6)
    assert embedder.name == "all-MiniLM-L6-v2-onnx-int8-dynamic"


async def test_a_paraphrase_is_closer_than_an_unrelated_text(embedder: LocalEmbedder) -> None:
    a, b, c = await embedder.embed(
        [
            "the TLS certificate of the api gateway expired",
            "HTTPS cert on the edge ran out of validity",
            "kafka consumer lag keeps growing",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_the_model_is_rewritten_once_for_int8_kernels_and_agrees_with_the_shipped_one(
    tmp_path: Path,
) -> None:
    """The rewrite (a child process) lands in the cache once; a second embedder reuses it;
    its vectors are close to the shipped graph's (run as is, without the cache)."""
    files = ModelFiles.installed()
    model, temporary = runnable_model(files.model, MODEL_SHA256, tmp_path)
    assert not temporary and model.parent == tmp_path and model.stat().st_size > 10_000_000
    assert runnable_model(files.model, MODEL_SHA256, tmp_path) == (model, False)
    assert [p.name for p in tmp_path.iterdir()] == [model.name]  # no partial file left
    texts = ["checkout pods OOMKilled after the deploy", "the TLS certificate expires in 3 days"]
    rewritten = LocalEmbedder(files, cache=tmp_path).embed_now(texts)
    shipped = LocalEmbedder(files, cache=tmp_path / "unused")
    shipped._session = onnxruntime.InferenceSession(
        str(files.model), providers=["CPUExecutionProvider"]
    )
    shipped._tokenizer = LocalEmbedder(files, cache=tmp_path)._load_tokenizer(files)
    original = shipped.embed_now(texts)
    assert (rewritten * original).sum(axis=1).min() > 0.97


def test_a_model_that_cannot_be_rewritten_is_loaded_as_shipped(tmp_path: Path) -> None:
    """A failed rewrite (here: not an ONNX file) falls back to the file as given; a cache
    that cannot be written rewrites into a temporary folder the embedder then deletes."""
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not onnx")
    assert runnable_model(broken, "0" * 64, tmp_path / "cache") == (broken, False)
    read_only = tmp_path / "read-only"
    read_only.write_text("a file where the cache folder should be")
    files = ModelFiles.installed()
    model, temporary = runnable_model(files.model, MODEL_SHA256, read_only / "cache")
    assert temporary and model.is_file() and model.parent != read_only
    shutil.rmtree(model.parent)


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
