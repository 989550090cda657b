"""The reranker protocol, its check, and the base class concrete rerankers build on.

:class:`Reranker` is what the pipelines and adapters call: ``score`` and ``rerank`` (with
the ``texts=`` and ``retrieval_scores=`` keywords they pass). Its ``rerank`` is also the
one implementation over ``score``: :class:`BaseReranker` (and any class subclassing
:class:`Reranker`) inherits it. :func:`check_reranker` refuses, when an object is set up,
one whose ``rerank`` lacks those keywords.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from manifold_core.reranking.ordering import RerankedItem, order_by_relevance, validate_rerank_args

__all__ = ["BaseReranker", "Reranker", "check_reranker"]

_DEFAULT_RRF_C = 60


@runtime_checkable
class Reranker(Protocol):
    """What the pipelines need from a reranker, and the one ``rerank`` over ``score``.

    Any object with ``score`` and ``rerank`` taking the keywords below satisfies it (see
    :func:`check_reranker`); subclassing it (or :class:`BaseReranker`) inherits this
    ``rerank``, so a reranker only writes ``score``. An ``rrf_c`` attribute, when present,
    is the reciprocal-rank constant used by ``blend`` (default 60).
    """

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Relevance of each text to the query, in ``[0, 1]``, in input order."""
        ...

    def rerank(
        self,
        query: str,
        items: Sequence[Any],
        top_n: int | None = None,
        threshold: float | None = None,
        blend: float | None = None,
        *,
        texts: Sequence[str] | None = None,
        retrieval_scores: Sequence[float | None] | None = None,
    ) -> list[RerankedItem[Any]]:
        """Score ``items`` against ``query`` and return them best first.

        Each result keeps its relevance and its retrieval score and rank.

        Args:
            query: the search query (non-empty).
            items: candidates in retrieval order: strings, ``(text, score)`` pairs,
                objects with ``.text`` (and optionally ``.score``), or anything when
                ``texts`` is given.
            top_n: keep at most this many (``None``: all).
            threshold: drop items whose relevance is below this (in ``[0, 1]``).
            blend: weight of the reranker's order in a weighted RRF with the retrieval
                order (``None``: pure reranker order; see
                :func:`~manifold_core.reranking.order_by_relevance`).
            texts: the text to score for each item (the adapters pass the document
                text), when items are not strings.
            retrieval_scores: the score each item came with (kept on the result).

        Raises:
            ValueError: empty query, ``top_n <= 0``, threshold outside ``[0, 1]``,
                negative ``blend``, or ``texts``/``retrieval_scores`` of the wrong length.
        """
        validate_rerank_args(query, top_n, threshold, blend)
        items = list(items)
        if not items:
            return []
        if texts is not None:
            text_list = [str(t) for t in texts]
            if len(text_list) != len(items):
                raise ValueError(f"got {len(text_list)} texts for {len(items)} items")
            given: list[float | None] = [None] * len(items)
        else:
            pairs = [_text_and_score(item, i) for i, item in enumerate(items)]
            text_list = [p[0] for p in pairs]
            given = [p[1] for p in pairs]
        scores_in = list(retrieval_scores) if retrieval_scores is not None else given
        relevance = self.score(query, text_list)
        return order_by_relevance(
            items,
            relevance,
            scores_in,
            top_n=top_n,
            threshold=threshold,
            blend=blend,
            rrf_c=getattr(self, "rrf_c", _DEFAULT_RRF_C),
        )


def check_reranker(reranker: Any) -> Any:
    """``reranker`` itself if it implements :class:`Reranker` as the pipelines call it.

    ``isinstance`` against a Protocol only sees that ``score`` and ``rerank`` exist; this
    also checks that ``rerank`` takes the ``texts=`` and ``retrieval_scores=`` keywords,
    so a class without them is refused when it is set up, not at the first query.
    """
    if not isinstance(reranker, Reranker):
        raise TypeError(
            f"reranker must implement score() and rerank(), got {type(reranker).__name__}"
        )
    try:
        params = inspect.signature(reranker.rerank).parameters
    except (TypeError, ValueError):  # a builtin or C callable: nothing to inspect
        return reranker
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    missing = [k for k in ("texts", "retrieval_scores") if k not in params]
    if missing and not takes_any:
        raise TypeError(
            f"{type(reranker).__name__}.rerank() must accept the keyword arguments "
            f"{', '.join(missing)} (see manifold_core.reranking.Reranker)"
        )
    return reranker


def _text_and_score(item: Any, i: int) -> tuple[str, float | None]:
    if isinstance(item, str):
        return item, None
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        return item[0], None if item[1] is None else float(item[1])
    text = getattr(item, "text", None)
    if isinstance(text, str):
        score = getattr(item, "score", None)
        return text, None if score is None else float(score)
    raise TypeError(
        f"items[{i}] is a {type(item).__name__}; pass str, (text, score) pairs, objects with "
        "a .text attribute, or give texts=[...] explicitly"
    )


class BaseReranker(Reranker):
    """A concrete reranker's base: subclasses write :meth:`score`, ``rerank`` is inherited.

    Attributes:
        rrf_c: the reciprocal-rank constant used by ``blend``.
    """

    rrf_c: int = _DEFAULT_RRF_C

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover
        """Relevance of each text to ``query`` in ``[0, 1]``, input order."""
        raise NotImplementedError
