"""Assembling retrieval from settings and config: the embedder, Chroma (embedded or a
server), the sync with its sources (incidents, the postmortem folder, the runbook catalog)
and the optional LLM."""

from __future__ import annotations

from pathlib import Path

from bot.config import ConfigError, LookoutConfig
from bot.settings import Settings
from knowledge.documents import Document, runbook_document
from knowledge.embeddings import Embedder, LocalEmbedder, OpenAIEmbedder
from knowledge.index import KnowledgeIndex
from knowledge.llm import LLMClient
from knowledge.service import Knowledge, KnowledgeRules
from knowledge.sync import KnowledgeSync
from knowledge.synonyms import SHIPPED, SynonymsError, Thesaurus
from knowledge.vectors import ChromaStore
from runbooks.catalog import RunbookCatalog
from storage.database import Database

DEFAULT_LLM_MODEL = "gpt-4o-mini"


def runbook_documents(catalog: RunbookCatalog) -> list[Document]:
    """Every runbook Lookout offers, as the index sees it."""
    documents = []
    for name, entry in sorted(catalog.entries().items()):
        runbook = entry.runbook
        documents.append(
            runbook_document(
                name=name,
                title=runbook.title,
                description=runbook.description,
                tags=list(runbook.tags),
                alerts=sorted({a for t in runbook.triggers for a in t.alerts}),
                services=sorted({s for t in runbook.triggers for s in t.services}),
                risk=runbook.risk,
                project=runbook.project,
            )
        )
    return documents


def embedder_for(settings: Settings, config: LookoutConfig) -> Embedder:
    rules = config.knowledge
    if rules.embeddings == "openai":
        return OpenAIEmbedder(
            model=rules.embedding_model,
            dimension=rules.embedding_dimension,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        )
    return LocalEmbedder.shared()


def thesaurus_for(settings: Settings, config: LookoutConfig) -> Thesaurus:
    """The shipped synonyms and the config's `knowledge.synonyms` files (ConfigError naming
    the file and line that cannot be used)."""
    base = Path(settings.config).parent if settings.config is not None else Path.cwd()
    paths = [SHIPPED, *(p if p.is_absolute() else base / p for p in config.knowledge.synonyms)]
    try:
        return Thesaurus.load(paths)
    except SynonymsError as error:
        raise ConfigError(f"knowledge.synonyms: {error}") from error


def build_knowledge(
    settings: Settings,
    config: LookoutConfig,
    database: Database,
    catalog: RunbookCatalog,
    *,
    embedder: Embedder | None = None,
) -> Knowledge | None:
    rules = config.knowledge
    if not rules.enabled:
        return None
    embedder = embedder or embedder_for(settings, config)
    if settings.chroma_url:
        store = ChromaStore.server(
            settings.chroma_url, embedder_name=embedder.name, timeout=rules.chroma_timeout_seconds
        )
    else:
        store = ChromaStore.embedded(settings.data_dir / "chroma", embedder_name=embedder.name)
    default_project = config.default_project
    index = KnowledgeIndex(
        embedder=embedder,
        store=store,
        default_project=default_project,
        thesaurus=thesaurus_for(settings, config),
    )
    postmortems = rules.postmortems
    if postmortems is not None and not postmortems.is_absolute() and settings.config is not None:
        postmortems = Path(settings.config).parent / postmortems
    sync = KnowledgeSync(
        database=database,
        index=index,
        postmortems=postmortems,
        runbooks=lambda: runbook_documents(catalog),
        default_project=default_project,
    )
    llm = None
    if settings.llm_enabled:
        llm = LLMClient(
            model=settings.llm_model or DEFAULT_LLM_MODEL,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
            timeout=rules.llm_timeout_seconds,
        )
    return Knowledge(
        index=index,
        sync=sync,
        rules=KnowledgeRules(
            seen_before_similarity=rules.seen_before_similarity,
            similar_min_similarity=rules.similar_min_similarity,
        ),
        llm=llm,
    )
