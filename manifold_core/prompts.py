"""Embedding prompts: the one rule that decides what goes before queries and documents.

Instruction-tuned models (Qwen3-Embedding, E5, BGE) embed a query with an instruction in
front and a document without (or with a different prefix). :func:`model_prompts` picks
them from the model's names and folder configuration; every entry point (encoders, both
adapters, the CLI) asks it, so one model name always gets the same prompts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "BGE_EN_QUERY_PROMPT",
    "BGE_ZH_QUERY_PROMPT",
    "DEFAULT_QWEN3_TASK",
    "ModelPrompts",
    "model_prompts",
    "qwen3_query_prompt",
]

DEFAULT_QWEN3_TASK = "Given a web search query, retrieve relevant passages that answer the query"


def qwen3_query_prompt(task: str = DEFAULT_QWEN3_TASK) -> str:
    """The prefix Qwen3-Embedding expects before a query: ``Instruct: {task}\\nQuery:``."""
    return f"Instruct: {task}\nQuery:"


BGE_EN_QUERY_PROMPT = "Represent this sentence for searching relevant passages: "
BGE_ZH_QUERY_PROMPT = "为这个句子生成表示以用于检索相关文章："


@dataclass(frozen=True)
class ModelPrompts:
    """The texts an embedding model expects before queries and before documents.

    Attributes:
        query: prefix of every query (``None``: none).
        document: prefix of every document (``None``: none).
        rule: which rule chose them (``"qwen3"``, ``"configured"``, ``"e5"``,
            ``"e5-instruct"``, ``"bge"``, ``"bge-zh"`` or ``"none"``), for messages and tests.
    """

    query: str | None
    document: str | None
    rule: str


def _name_tail(name: str) -> str:
    """The last two path parts of a name (``org/model`` of a Hub id or a folder path)."""
    parts = [p for p in re.split(r"[/\\]+", name.lower()) if p]
    return "/".join(parts[-2:])


def _name_tokens(name: str) -> set[str]:
    return {t for t in re.split(r"[/_\-.:\s]+", name) if t}


def model_prompts(
    names: Sequence[str],
    *,
    task: str = DEFAULT_QWEN3_TASK,
    model_type: str | None = None,
    configured: Mapping[str, str] | None = None,
) -> ModelPrompts:
    """The one rule that decides an embedding model's query and document prompts.

    Every entry point (``resolve_encoder``, the CLI, ``Qwen3Embeddings``,
    ``Qwen3Embedding``) goes through this function, so one model name always gets the
    same prompts. In order:

    1. Qwen3-Embedding (a name containing ``qwen3-embedding``, or a folder whose
       ``config.json`` says ``model_type: qwen3``): ``Instruct: {task}\\nQuery:`` before
       queries, nothing before documents (the model card's usage).
    2. Prompts the model's folder configures (sentence-transformers'
       ``config_sentence_transformers.json``: ``"query"``, and ``"document"`` or
       ``"passage"``).
    3. E5 (a name with an ``e5`` part, e.g. ``intfloat/multilingual-e5-small``):
       ``"query: "`` and ``"passage: "``; the ``-instruct`` variants take
       ``Instruct: {task}\\nQuery: `` and nothing before documents.
    4. BGE (a name with a ``bge`` part): the English query instruction
       (``"Represent this sentence for searching relevant passages: "``), the Chinese one
       for ``-zh`` models, none for ``bge-m3``; nothing before documents.
    5. Anything else (all-MiniLM-L6-v2, Universal Sentence Encoder, ...): no prompts.

    Args:
        names: the names the model is known by (the name the user gave, the folder's
            recorded ``_name_or_path``); matched case-insensitively.
        task: the task sentence of the Qwen3 (and E5-instruct) instruction.
        model_type: ``model_type`` of the folder's ``config.json``, if known.
        configured: the prompts the folder's sentence-transformers config defines.
    """
    lowered = [_name_tail(n) for n in names if n]
    tokens: set[str] = set().union(*(_name_tokens(n) for n in lowered)) if lowered else set()
    if any("qwen3-embedding" in n for n in lowered) or (model_type or "").lower() == "qwen3":
        return ModelPrompts(qwen3_query_prompt(task), None, "qwen3")
    configured = dict(configured or {})
    query = configured.get("query") or None
    document = configured.get("document") or configured.get("passage") or None
    if query or document:
        return ModelPrompts(query, document, "configured")
    if "e5" in tokens:
        if "instruct" in tokens:
            return ModelPrompts(f"Instruct: {task}\nQuery: ", None, "e5-instruct")
        return ModelPrompts("query: ", "passage: ", "e5")
    if "bge" in tokens:
        if "m3" in tokens:
            return ModelPrompts(None, None, "none")
        if "zh" in tokens:
            return ModelPrompts(BGE_ZH_QUERY_PROMPT, None, "bge-zh")
        return ModelPrompts(BGE_EN_QUERY_PROMPT, None, "bge")
    return ModelPrompts(None, None, "none")
