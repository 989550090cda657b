"""Filters on metadata keys that no document has: a warning naming the closest keys.

Checked on the pure function, through HybridRetriever on a real Chroma, through both
adapters, and in ``manifold query`` (one ``warning:`` line, exit code 0).
"""

from __future__ import annotations

import json
import uuid
import warnings
from pathlib import Path

import chromadb
import pytest
from hybrid_helpers import HashEncoder
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from manifold_core.filter_hints import UnknownFilterKeyWarning, unknown_key_messages
from manifold_core.filters import MetadataFilter
from manifold_core.retrieval import HybridRetriever
from manifold_core.store import HybridStore

CARS = [
    ("The 2022 BMW X1 starts at 38,600 dollars.", {"brand": "BMW", "year": 2022}),
    ("The Mercedes GLA rides firmly.", {"brand": "Mercedes", "year": 2023, "body": "suv"}),
    ("Audi Q3 prices rose by four percent.", {"brand": "Audi", "year": 2023}),
]


def _parse(where: dict) -> MetadataFilter:
    flt = MetadataFilter.parse(where)
    assert flt is not None
    return flt


def test_a_typo_names_the_closest_existing_key() -> None:
    (msg,) = unknown_key_messages(_parse({"brnd": "BMW"}), {"brand", "year", "body"})
    assert "'brnd'" in msg and "did you mean 'brand'?" in msg


def test_no_close_key_lists_the_existing_ones() -> None:
    known = {f"k{i:02d}" for i in range(12)}
    (msg,) = unknown_key_messages(_parse({"colour": "red"}), known)
    assert "'colour'" in msg and "'k00'" in msg and "and 4 more" in msg


def test_nested_filters_and_known_keys() -> None:
    flt = _parse({"$and": [{"brand": "BMW"}, {"$or": [{"yaer": 2022}, {"year": 2023}]}]})
    (msg,) = unknown_key_messages(flt, {"brand", "year"})
    assert "'yaer'" in msg and "'year'" in msg
    assert unknown_key_messages(None, {"brand"}) == []
    assert unknown_key_messages(_parse({"brand": "BMW"}), set()) == []  # nothing to compare


@given(
    known=st.sets(st.text(alphabet="abcdefgh_", min_size=1, max_size=6), min_size=1, max_size=8),
    key=st.text(alphabet="abcdefgh_", min_size=1, max_size=6),
)
def test_warns_exactly_for_keys_that_exist_nowhere(known: set[str], key: str) -> None:
    messages = unknown_key_messages(_parse({key: 1}), known)
    assert bool(messages) == (key not in known)
    assert all(repr(key) in m for m in messages)


@pytest.fixture
def store() -> HybridStore:
    client = chromadb.EphemeralClient()
    s = HybridStore(HashEncoder(), client=client, collection_name=f"t-{uuid.uuid4().hex[:8]}")
    s.add([t for t, _ in CARS], [m for _, m in CARS], ids=["bmw", "gla", "q3"])
    return s


def test_hybrid_retriever_warns_and_still_answers(store: HybridStore) -> None:
    retriever = HybridRetriever(store, k=3)
    with pytest.warns(UnknownFilterKeyWarning, match=r"'brnd'.*did you mean 'brand'\?"):
        assert retriever.search("BMW price", filter={"brnd": "BMW"}) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownFilterKeyWarning)
        hits = retriever.search("BMW price", filter={"brand": "BMW"})
        assert [h.id for h in hits] == ["bmw"]
        # a key only some documents have is a real key
        assert [h.id for h in retriever.search("rides", filter={"body": "suv"})] == ["gla"]


def test_both_adapters_warn(store: HybridStore) -> None:
    from llama_index.core.vector_stores import MetadataFilter as LIFilter
    from llama_index.core.vector_stores import MetadataFilters

    from langchain_manifold import EnsembleRetriever as LCRetriever
    from llamaindex_manifold import EnsembleRetriever as LIRetriever

    with pytest.warns(UnknownFilterKeyWarning, match="'yr'"):
        LCRetriever(store=store).invoke("price", filter={"yr": 2022})
    flt = MetadataFilters(filters=[LIFilter(key="bran", value="BMW")])
    with pytest.warns(UnknownFilterKeyWarning, match="'bran'"):
        LIRetriever(store).retrieve("price", filters=flt)


def test_manifold_query_prints_one_warning_line(tmp_path: Path) -> None:
    from manifold_core.cli import app

    docs = tmp_path / "docs"
    docs.mkdir()
    rows = [{"text": t, **m} for t, m in CARS]
    (docs / "cars.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    env = {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "COLUMNS": "200"}
    runner = CliRunner()
    index = tmp_path / "index"
    args = ["ingest", str(docs), "--index", str(index), "--model", "pkg:all-MiniLM-L6-v2"]
    built = runner.invoke(app, args, env=env)
    assert built.exit_code == 0, built.output
    query = ["query", "BMW price", "--index", str(index), "--json"]
    res = runner.invoke(app, [*query, "--filter", '{"brnd": "BMW"}'], env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == []
    # (model-loading bars may share stderr when the model loads in this process)
    lines = [ln for ln in res.stderr.splitlines() if "brnd" in ln or "warning" in ln]
    assert len(lines) == 1 and lines[0].startswith("warning: filter key 'brnd'"), lines
    assert "did you mean 'brand'?" in lines[0]
    good = runner.invoke(app, [*query, "--filter", '{"brand": "BMW"}'], env=env)
    assert good.exit_code == 0 and "warning" not in good.stderr
    assert [r["metadata"]["brand"] for r in json.loads(good.stdout)] == ["BMW"]
