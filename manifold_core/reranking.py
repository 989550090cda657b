"""Reranking: score (query, passage) pairs with a cross-encoder and reorder retrieved items.

Two model families, one :class:`Reranker` protocol:

- :class:`Qwen3Reranker`: Qwen3-Reranker is a causal language model, not a sequence
  classifier. It is scored the way its authors do: a chat template asking whether the
  document meets the query, and the relevance is ``P("yes")`` from the ``yes``/``no``
  logits at the last position. ``sentence_transformers.CrossEncoder`` on that checkpoint
  scores with a random head, an empty input or an error depending on its version, so it
  is not used for Qwen3.
- :class:`CrossEncoderReranker`: ordinary cross-encoders (bge-reranker, ms-marco, ...)
  through ``sentence_transformers.CrossEncoder``, with sigmoid scores.

Both batch by a *token budget*: pairs are sorted by token length and packed so that
``batch_size x longest_in_batch`` stays under ``max_tokens_per_batch``. Peak memory is
then bounded by the budget (not by the longest document times a fixed batch size) and
short pairs are not padded to the length of long ones. Scores come back in input order.

The ordering logic (``top_n``, ``threshold``, and ``blend``: weighted reciprocal-rank
fusion of the reranker's order with the incoming retrieval order) lives in
:func:`order_by_relevance`, shared by every reranker and every framework adapter.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from manifold_core.fusion import fuse

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_CROSS_ENCODER_MODEL",
    "DEFAULT_RERANKER_MODEL",
    "DEFAULT_RERANK_INSTRUCTION",
    "QWEN3_RERANK_PREFIX",
    "QWEN3_RERANK_SUFFIX",
    "BaseReranker",
    "CrossEncoderReranker",
    "Qwen3Reranker",
    "RerankedItem",
    "Reranker",
    "check_reranker",
    "order_by_relevance",
    "resolve_device",
    "resolve_reranker",
    "token_budget_batches",
    "validate_rerank_args",
]

DEFAULT_RERANKER_MODEL = "Qwen/Qwen3-Reranker-0.6B"
DEFAULT_CROSS_ENCODER_MODEL = "BAAI/bge-reranker-base"
DEFAULT_RERANK_INSTRUCTION = (
    "Given a web search query, retrieve relevant passages that answer the query"
)
QWEN3_RERANK_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the "
    'Query and the Instruct provided. Note that the answer can only be "yes" or "no".'
    "<|im_end|>\n<|im_start|>user\n"
)
QWEN3_RERANK_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"

T = TypeVar("T")


@dataclass(frozen=True)
class RerankedItem(Generic[T]):
    """One reranked item.

    Attributes:
        item: what was passed in (a string, a Document, a node, a hit, ...).
        score: the reranker's relevance, in ``[0, 1]`` (``P(yes)`` or a sigmoid).
        index: the item's position in the input, i.e. its retrieval rank minus one.
        retrieval_score: the score the item came with, if any.
        blended_score: the weighted-RRF score when ``blend`` was set, else ``None``.
    """

    item: T
    score: float
    index: int
    retrieval_score: float | None = None
    blended_score: float | None = None

    @property
    def retrieval_rank(self) -> int:
        """The 1-based rank the item had before reranking."""
        return self.index + 1


def validate_rerank_args(
    query: str | None = None,
    top_n: int | None = None,
    threshold: float | None = None,
    blend: float | None = None,
    *,
    check_query: bool = True,
) -> None:
    """Raise ``ValueError``/``TypeError`` naming the bad value; return ``None`` when all fine."""
    if check_query:
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        if not query.strip():
            raise ValueError(f"query must be a non-empty string, got {query!r}")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n <= 0):
        raise ValueError(f"top_n must be a positive int or None, got {top_n!r}")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0.0 <= threshold <= 1.0
    ):
        raise ValueError(f"threshold must be a number in [0, 1] or None, got {threshold!r}")
    if blend is not None and (
        isinstance(blend, bool)
        or not isinstance(blend, (int, float))
        or not math.isfinite(blend)
        or blend < 0
    ):
        raise ValueError(f"blend must be a finite number >= 0 or None, got {blend!r}")


def order_by_relevance(
    items: Sequence[T],
    relevance: Sequence[float] | np.ndarray,
    retrieval_scores: Sequence[float | None] | None = None,
    *,
    top_n: int | None = None,
    threshold: float | None = None,
    blend: float | None = None,
    rrf_c: int = 60,
) -> list[RerankedItem[T]]:
    """Order ``items`` (given in retrieval order) by their reranker ``relevance``.

    Without ``blend`` the order is by relevance, best first, ties kept in input order.
    With ``blend = w`` the order is weighted reciprocal-rank fusion of the reranker's
    order (weight ``w``) and the input order (weight 1): ``w / (c + rank_rerank) +
    1 / (c + rank_retrieval)``. ``w = 0`` gives the retrieval order back, a very large
    ``w`` the reranker's; values around 1 hedge a reranker that is weak on the domain.
    ``threshold`` then drops items whose relevance is below it, and ``top_n`` keeps the
    first ``top_n``.
    """
    validate_rerank_args(top_n=top_n, threshold=threshold, blend=blend, check_query=False)
    scores = np.asarray(relevance, dtype=np.float64).reshape(-1)
    n = len(items)
    if scores.shape[0] != n:
        raise ValueError(f"got {scores.shape[0]} relevance scores for {n} items")
    if retrieval_scores is not None and len(retrieval_scores) != n:
        raise ValueError(f"got {len(retrieval_scores)} retrieval scores for {n} items")
    if n == 0:
        return []
    by_relevance = sorted(range(n), key=lambda i: (-scores[i], i))
    blended: dict[int, float] = {}
    if blend is None:
        order = by_relevance
    else:
        # Zero-padded ids sort as integers, so fuse's last tie-break is the input order.
        width = len(str(n))
        rerank_list = [(f"{i:0{width}d}", float(scores[i])) for i in by_relevance]
        retrieval_list = [(f"{i:0{width}d}", float(n - i)) for i in range(n)]
        fused = fuse([rerank_list, retrieval_list], "rrf", weights=[float(blend), 1.0], c=rrf_c)
        order = [int(f.id) for f in fused]
        blended = {int(f.id): f.score for f in fused}
    out: list[RerankedItem[T]] = []
    for i in order:
        if threshold is not None and scores[i] < threshold:
            continue
        rs = None if retrieval_scores is None else retrieval_scores[i]
        out.append(
            RerankedItem(
                item=items[i],
                score=float(scores[i]),
                index=i,
                retrieval_score=None if rs is None else float(rs),
                blended_score=blended.get(i),
            )
        )
        if top_n is not None and len(out) >= top_n:
            break
    return out


def token_budget_batches(
    lengths: Sequence[int], max_tokens: int, max_batch_size: int | None = None
) -> list[list[int]]:
    """Group indices into batches whose padded size ``len(batch) * max_len`` <= ``max_tokens``.

    Indices are sorted by length, longest first (so a batch that does not fit in memory
    fails at once, not at the end), ties in input order. An item longer than the budget
    gets a batch of its own.
    """
    if max_tokens <= 0:
        raise ValueError(f"max_tokens must be positive, got {max_tokens!r}")
    if max_batch_size is not None and max_batch_size <= 0:
        raise ValueError(f"max_batch_size must be positive or None, got {max_batch_size!r}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        length = max(int(lengths[i]), 1)
        full = max_batch_size is not None and len(current) >= max_batch_size
        if current and (full or max(longest, length) * (len(current) + 1) > max_tokens):
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, length)
    if current:
        batches.append(current)
    return batches


@runtime_checkable
class Reranker(Protocol):
    """What the pipeline needs from a reranker."""

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
        """Items best first, each with its relevance and its retrieval score and rank.

        ``texts`` is what to score for each item (the adapters pass the document text) and
        ``retrieval_scores`` the score each item came with.
        """
        ...


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


class BaseReranker:
    """Shared :meth:`rerank` over a subclass's :meth:`score`.

    Args:
        rrf_c: the reciprocal-rank constant used by ``blend``.
    """

    rrf_c: int = 60

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover
        """Relevance of each text to ``query`` in ``[0, 1]``, input order."""
        raise NotImplementedError

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

        Args:
            query: the search query (non-empty).
            items: candidates in retrieval order: strings, ``(text, score)`` pairs,
                objects with ``.text`` (and optionally ``.score``), or anything when
                ``texts`` is given.
            top_n: keep at most this many (``None``: all).
            threshold: drop items whose relevance is below this (in ``[0, 1]``).
            blend: weight of the reranker's order in a weighted RRF with the retrieval
                order (``None``: pure reranker order; see :func:`order_by_relevance`).
            texts: the text to score for each item, when items are not strings.
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
            rrf_c=self.rrf_c,
        )


def resolve_device(device: str | None = None) -> str:
    """``device`` if given, else the best available: CUDA, then Apple MPS, then CPU."""
    if device:
        return str(device)
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def _default_dtype(device: str) -> torch.dtype:
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("mps"):
        return torch.float16
    return torch.float32


def _as_dtype(dtype: Any) -> torch.dtype:
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    names = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "float16": torch.float16,
        "fp16": torch.float16,
        "half": torch.float16,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
    }
    if str(dtype) not in names:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(names)}")
    return names[str(dtype)]


def _dtype_kwarg(dtype: torch.dtype) -> dict[str, Any]:
    """``from_pretrained`` takes ``dtype`` since transformers 4.56, ``torch_dtype`` before."""
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


_CUT_MARGIN_TOKENS = 64


def _default_budget(device: str) -> int:
    return 4096 if device == "cpu" else 32768


class Qwen3Reranker(BaseReranker):
    """Qwen3-Reranker scored the official way: ``P("yes")`` at the last position.

    Each pair becomes ``prefix + "<Instruct>: {instruction}\\n<Query>: {query}\\n<Document>:
    {doc}" + suffix`` (the system/user/assistant template of the model card), tokenised
    as one string. When it is longer than ``max_length`` the *document* is cut (never the
    query or the template); sequences are left-padded, and only the two ``lm_head`` rows
    of ``"no"``/``"yes"`` are applied to the last hidden state, so the 151k-word
    vocabulary is never projected.

    Args:
        model: a Hub name (default ``Qwen/Qwen3-Reranker-0.6B``), a local folder, or a
            loaded causal LM (e.g. ``Qwen3ForCausalLM``).
        tokenizer: the tokenizer; loaded from ``model`` when it is a name or folder.
        instruction: the task sentence put in ``<Instruct>``.
        max_length: longest formatted pair in tokens (8192 in the model card's example).
        max_tokens_per_batch: the padded-token budget of one forward pass (default
            4096 on CPU, 32768 on a GPU).
        max_batch_size: an optional cap on pairs per forward pass.
        device: ``"cuda"``, ``"mps"``, ``"cpu"``...; default the best available (a loaded
            model stays where it is).
        dtype: default bfloat16 (float16 without bf16 support) on CUDA, float16 on MPS,
            float32 on CPU (bfloat16 is several times slower on CPUs without native
            support). A loaded model keeps its dtype unless one is given.
        trust_remote_code: passed to ``from_pretrained``; off by default.
        rrf_c: the RRF constant used by ``blend``.

    Expect about 0.5 pairs/s for the 0.6B model on a 2-core CPU at 256 tokens per pair.
    """

    def __init__(
        self,
        model: Any = DEFAULT_RERANKER_MODEL,
        tokenizer: Any = None,
        *,
        instruction: str = DEFAULT_RERANK_INSTRUCTION,
        max_length: int = 8192,
        max_tokens_per_batch: int | None = None,
        max_batch_size: int | None = None,
        device: str | None = None,
        dtype: Any = None,
        trust_remote_code: bool = False,
        rrf_c: int = 60,
    ) -> None:

        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from manifold_core.packaged import (
                ModelLoadError,
                check_model_name,
                is_packaged,
                load_error,
            )

            name = str(model)
            check_model_name(name)
            if is_packaged(name):
                raise ModelLoadError(
                    f"no Qwen3-Reranker ships in a pip package ({name!r}); pass a Hub name or "
                    "a local folder, or use CrossEncoderReranker('pkg:ms-marco-MiniLM-L-12-v2')"
                )
            resolved = resolve_device(device)
            torch_dtype = _as_dtype(dtype) if dtype is not None else _default_dtype(resolved)
            try:
                if tokenizer is None:
                    tokenizer = AutoTokenizer.from_pretrained(
                        name, padding_side="left", trust_remote_code=trust_remote_code
                    )
                loaded: Any = AutoModelForCausalLM.from_pretrained(
                    name, trust_remote_code=trust_remote_code, **_dtype_kwarg(torch_dtype)
                )
            except (OSError, ValueError) as exc:
                raise load_error(name, exc) from exc
            model = loaded.to(resolved)
            self.model_name = name
        else:
            if tokenizer is None:
                raise ValueError(
                    "a loaded model needs its tokenizer: Qwen3Reranker(model, tokenizer)"
                )
            if device is not None:
                model = model.to(device)
            if dtype is not None:
                model = model.to(_as_dtype(dtype))
            self.model_name = str(getattr(getattr(model, "config", None), "_name_or_path", ""))
        self.model = model.eval()
        self.tokenizer = tokenizer
        param = next(self.model.parameters())
        self.device = str(param.device)
        self.dtype = param.dtype
        self.instruction = instruction
        self.rrf_c = rrf_c

        self.yes_id = self._single_token_id("yes")
        self.no_id = self._single_token_id("no")
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else tokenizer.eos_token_id)
        self.prefix_ids: list[int] = tokenizer.encode(QWEN3_RERANK_PREFIX, add_special_tokens=False)
        self.suffix_ids: list[int] = tokenizer.encode(QWEN3_RERANK_SUFFIX, add_special_tokens=False)
        overhead = len(self.prefix_ids) + len(self.suffix_ids)
        if max_length <= overhead:
            raise ValueError(
                f"max_length={max_length} leaves no room after the {overhead}-token template"
            )
        self.max_length = max_length
        self.max_tokens_per_batch = max_tokens_per_batch or _default_budget(self.device)
        self.max_batch_size = max_batch_size

        head = self.model.get_output_embeddings()
        if head is None:
            raise ValueError(
                f"{type(self.model).__name__} has no lm_head; pass a causal LM "
                "(AutoModelForCausalLM), not a bare base model"
            )
        self._head = head
        self._yes_no_rows = [self.no_id, self.yes_id]
        self._backbone = self.model.base_model

    def _single_token_id(self, word: str) -> int:
        ids = self.tokenizer.encode(word, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"{word!r} is not one token for this tokenizer ({ids}); not Qwen3?")
        return int(ids[0])

    def _body_head(self, query: str) -> str:
        return f"<Instruct>: {self.instruction}\n<Query>: {query}\n<Document>: "

    def format_pair(self, query: str, document: str) -> str:
        """The full official prompt string for one pair (before truncation)."""
        return QWEN3_RERANK_PREFIX + self._body_head(query) + document + QWEN3_RERANK_SUFFIX

    def encode_pairs(self, query: str, documents: Sequence[str]) -> list[list[int]]:
        """Token ids of each formatted pair, the document cut to fit ``max_length``.

        The body is tokenised as one string (so ids equal the tokenisation of the whole
        official prompt); when too long, body tokens are dropped from the end, which is
        the document's end. Very long documents are cut by characters first (with a
        margin that is checked), so a 1 MB document costs no more than a long one.
        """
        validate_rerank_args(query)
        budget = self.max_length - len(self.prefix_ids) - len(self.suffix_ids)
        head = self._body_head(query)
        char_cap = budget * 16 + 256
        out: list[list[int]] = []
        for doc in documents:
            ids, n_tokens = self._body_ids(head, doc[:char_cap], budget)
            # Tokens near the cut may differ from those of the whole text: keep a margin.
            if len(doc) > char_cap and n_tokens < budget + _CUT_MARGIN_TOKENS:
                ids, _ = self._body_ids(head, doc, budget)
            out.append(self.prefix_ids + ids + self.suffix_ids)
        return out

    def _body_ids(self, head: str, doc: str, budget: int) -> tuple[list[int], int]:
        """Body ids cut to ``budget``, and the untruncated body's token count."""
        enc = self.tokenizer(
            head + doc, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        ids = list(enc["input_ids"])
        if len(ids) <= budget:
            return ids, len(ids)
        # Tokens that start before the space ending "<Document>: " belong to the query part.
        query_end = len(head) - 1
        n_head = sum(1 for start, _ in enc["offset_mapping"] if start < query_end)
        if n_head > budget:
            raise ValueError(
                f"the query and instruction take {n_head} tokens but max_length="
                f"{self.max_length} leaves {budget} for them and the document; "
                "raise max_length or shorten the query"
            )
        return ids[:budget], len(ids)

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        import torch

        longest = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, longest - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            mask[row, longest - len(ids) :] = 1
        # Positions count real tokens only, so a left-padded pair scores as it would alone.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = self._backbone(
                input_ids=input_ids.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=positions.to(self.device),
                use_cache=False,
            )
            last = out[0][:, -1, :]
            # Only the "no" and "yes" rows of lm_head: (batch, hidden) x (hidden, 2).
            rows = torch.tensor(self._yes_no_rows, device=self._head.weight.device)
            logits = last @ self._head.weight.index_select(0, rows).T
            bias = getattr(self._head, "bias", None)
            if bias is not None:
                logits = logits + bias.index_select(0, rows)
            probs = torch.softmax(logits.float(), dim=-1)[:, 1]
        return probs.cpu().numpy().astype(np.float64)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """``P("yes")`` for each text, in input order (token-budget batches inside)."""
        validate_rerank_args(query)
        docs = [str(t) for t in texts]
        if not docs:
            return np.zeros(0, dtype=np.float64)
        encoded = self.encode_pairs(query, docs)
        scores = np.zeros(len(docs), dtype=np.float64)
        batches = token_budget_batches(
            [len(e) for e in encoded], self.max_tokens_per_batch, self.max_batch_size
        )
        for batch in batches:
            scores[batch] = self._forward([encoded[i] for i in batch])
        return scores


class CrossEncoderReranker(BaseReranker):
    """An ordinary cross-encoder (bge-reranker, ms-marco, ...) via sentence-transformers.

    Args:
        model: a Hub name (default ``BAAI/bge-reranker-base``, Chinese and English), a
            local folder, or a built ``sentence_transformers.CrossEncoder``.
        max_length: longest pair in tokens (default: the model's own limit).
        max_tokens_per_batch: the padded-token budget of one forward pass (default 4096
            on CPU, 32768 on a GPU).
        max_batch_size: an optional cap on pairs per forward pass.
        device: default: sentence-transformers' choice (CUDA, MPS, CPU).
        trust_remote_code: passed to ``CrossEncoder``; off by default.
        rrf_c: the RRF constant used by ``blend``.

    Scores are the sigmoid of a one-logit head (softmax's second column for a two-class
    head), computed here from the raw logits whatever activation the model config names.
    """

    def __init__(
        self,
        model: Any = DEFAULT_CROSS_ENCODER_MODEL,
        *,
        max_length: int | None = None,
        max_tokens_per_batch: int | None = None,
        max_batch_size: int | None = None,
        device: str | None = None,
        trust_remote_code: bool = False,
        rrf_c: int = 60,
    ) -> None:
        if max_length is not None and max_length <= 0:
            raise ValueError(f"max_length must be positive or None, got {max_length!r}")
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            from sentence_transformers import CrossEncoder

            from manifold_core.packaged import (
                check_model_name,
                is_packaged,
                load_error,
                packaged_folder,
            )

            self.model_name = str(model)
            check_model_name(self.model_name)
            path = (
                packaged_folder(self.model_name, "reranker")
                if is_packaged(self.model_name)
                else self.model_name
            )
            try:
                model = CrossEncoder(
                    path, max_length=max_length, device=device, trust_remote_code=trust_remote_code
                )
            except (OSError, ValueError) as exc:
                raise load_error(self.model_name, exc) from exc
        else:
            if not hasattr(model, "predict"):
                raise TypeError(
                    f"expected a model name, folder or sentence_transformers.CrossEncoder, "
                    f"got {type(model).__name__}"
                )
            config = getattr(model, "config", None)
            self.model_name = str(getattr(config, "_name_or_path", "") or type(model).__name__)
            if device is not None:
                model.to(device)
        self.model = model
        if max_length is not None:
            model.max_seq_length = max_length
        self.max_length = int(getattr(model, "max_seq_length", None) or 512)
        num_labels = int(getattr(model, "num_labels", 1))
        if num_labels not in (1, 2):
            raise ValueError(f"expected a 1- or 2-label cross-encoder, got {num_labels} labels")
        self.num_labels = num_labels
        self.device = str(getattr(model, "device", "cpu"))
        self.max_tokens_per_batch = max_tokens_per_batch or _default_budget(
            self.device.split(":")[0]
        )
        self.max_batch_size = max_batch_size
        self.rrf_c = rrf_c

    def pair_lengths(self, query: str, texts: Sequence[str]) -> list[int]:
        """Token count of each (query, text) pair after truncation to ``max_length``."""
        tokenizer = self.model.tokenizer
        enc = tokenizer(
            [query] * len(texts),
            list(texts),
            truncation=True,
            max_length=self.max_length,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return [len(ids) for ids in enc["input_ids"]]

    def _logits(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        import torch

        raw = self.model.predict(
            pairs,
            batch_size=len(pairs),
            activation_fn=torch.nn.Identity(),
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(raw, dtype=np.float64).reshape(len(pairs), -1)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Relevance in ``[0, 1]`` for each text, input order."""
        validate_rerank_args(query)
        docs = [str(t) for t in texts]
        if not docs:
            return np.zeros(0, dtype=np.float64)
        # A 1 MB text is cut by characters first: its tail would be truncated anyway.
        cap = self.max_length * 32
        docs = [d[:cap] for d in docs]
        lengths = self.pair_lengths(query, docs)
        scores = np.zeros(len(docs), dtype=np.float64)
        for batch in token_budget_batches(lengths, self.max_tokens_per_batch, self.max_batch_size):
            logits = self._logits([(query, docs[i]) for i in batch])
            if self.num_labels == 1:
                values = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            else:
                shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
                values = shifted[:, 1] / shifted.sum(axis=1)
            scores[batch] = values
        return scores


def resolve_reranker(model: Any) -> BaseReranker:
    """Turn a reranker name into the right reranker, as :func:`resolve_encoder` does for encoders.

    A built reranker is returned as it is. A name containing ``Qwen3-Reranker``, or a
    folder whose ``config.json`` names ``Qwen3ForCausalLM``, gets :class:`Qwen3Reranker`
    (yes/no logits); anything else (a Hub name, a folder, a ``pkg:`` name) a
    :class:`CrossEncoderReranker`.
    """
    if isinstance(model, BaseReranker):
        return model
    name = str(model)
    from manifold_core.packaged import is_packaged

    if not is_packaged(name):
        config = Path(name) / "config.json"
        if "qwen3-reranker" in name.lower() or (
            config.is_file() and "Qwen3ForCausalLM" in config.read_text(encoding="utf-8")
        ):
            return Qwen3Reranker(name)
    return CrossEncoderReranker(name)
