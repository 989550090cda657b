"""Qwen3-Reranker, scored as its authors do: ``P("yes")`` from the yes/no logits.

Qwen3-Reranker is a causal language model, not a sequence classifier: a chat template
asks whether the document meets the query, and the relevance is ``P("yes")`` from the
``yes``/``no`` logits at the last position. ``sentence_transformers.CrossEncoder`` on that
checkpoint scores with a random head, an empty input or an error depending on its
version, so it is not used here. torch and transformers are imported when a model loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from manifold_core.defaults import DEFAULT_RERANKER_MODEL, PKG_MS_MARCO
from manifold_core.packaged import ModelLoadError, check_model_name, is_packaged, load_error
from manifold_core.reranking.batching import check_batching, default_budget, token_budget_batches
from manifold_core.reranking.devices import as_dtype, default_dtype, dtype_kwarg, resolve_device
from manifold_core.reranking.ordering import validate_rerank_args
from manifold_core.reranking.protocol import BaseReranker
from manifold_core.validation import positive_int

__all__ = [
    "DEFAULT_RERANKER_MODEL",
    "DEFAULT_RERANK_INSTRUCTION",
    "QWEN3_RERANK_PREFIX",
    "QWEN3_RERANK_SUFFIX",
    "Qwen3Reranker",
]

DEFAULT_RERANK_INSTRUCTION = (
    "Given a web search query, retrieve relevant passages that answer the query"
)
QWEN3_RERANK_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the "
    'Query and the Instruct provided. Note that the answer can only be "yes" or "no".'
    "<|im_end|>\n<|im_start|>user\n"
)
QWEN3_RERANK_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"

_CUT_MARGIN_TOKENS = 64


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
        positive_int(max_length, "max_length")
        check_batching(max_tokens_per_batch, max_batch_size)
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            name = str(model)
            check_model_name(name)
            if is_packaged(name):
                raise ModelLoadError(
                    f"no Qwen3-Reranker ships in a pip package ({name!r}); pass a Hub name or "
                    f"a local folder, or use CrossEncoderReranker('{PKG_MS_MARCO}')"
                )
            resolved = resolve_device(device)
            torch_dtype = as_dtype(dtype) if dtype is not None else default_dtype(resolved)
            try:
                if tokenizer is None:
                    tokenizer = AutoTokenizer.from_pretrained(
                        name, padding_side="left", trust_remote_code=trust_remote_code
                    )
                loaded: Any = AutoModelForCausalLM.from_pretrained(
                    name, trust_remote_code=trust_remote_code, **dtype_kwarg(torch_dtype)
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
                model = model.to(as_dtype(dtype))
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
        self.max_tokens_per_batch = max_tokens_per_batch or default_budget(self.device)
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
