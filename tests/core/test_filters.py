"""The filter model: Chroma's exact `where` semantics (pinned against a real embedded Chroma),
validation, rendering, the columnar mirror, and the LlamaIndex / LangChain converters."""

from __future__ import annotations

import os
import uuid
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manifold_core.filters import (
    MetadataFilter,
    MetadataTable,
    from_langchain,
    from_llamaindex,
)
from manifold_core.records import clean_metadata

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

N_DOCS = 12
KEYS = ["a", "b", "c"]

ints = st.one_of(st.integers(-3, 3), st.sampled_from([2**53 + 1, -(2**63), 2**63 - 1]))
floats = st.sampled_from(
    [-1.5, -0.5, 0.0, -0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 9007199254740992.0, 9.3e18, -1e300]
)
strs = st.sampled_from(["x", "y", "1", "", " X", "宝马"])
scalars = st.one_of(st.booleans(), ints, floats, strs)
list_values = st.one_of(
    st.lists(st.booleans(), min_size=1, max_size=3),
    st.lists(st.integers(-3, 3), min_size=1, max_size=3),
    st.lists(st.sampled_from([0.0, 1.0, 2.5]), min_size=1, max_size=3),
    st.lists(st.sampled_from(["x", "y", "1"]), min_size=1, max_size=3),
)
values = st.one_of(scalars, list_values, st.none())
metadatas = st.dictionaries(st.sampled_from(KEYS), values, max_size=3)

filter_keys = st.sampled_from([*KEYS, "zz"])
numbers = st.one_of(ints, floats)
same_type_lists = st.one_of(
    st.lists(st.booleans(), min_size=1, max_size=3),
    st.lists(ints, min_size=1, max_size=3),
    st.lists(floats, min_size=1, max_size=3),
    st.lists(strs, min_size=1, max_size=3),
)


def _leaf(key: str, op: str, operand: Any) -> dict[str, Any]:
    return {key: operand} if op == "bare" else {key: {op: operand}}


leaves = st.one_of(
    st.builds(_leaf, filter_keys, st.sampled_from(["bare", "$eq", "$ne"]), scalars),
    st.builds(_leaf, filter_keys, st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), numbers),
    st.builds(_leaf, filter_keys, st.sampled_from(["$in", "$nin"]), same_type_lists),
    st.builds(_leaf, filter_keys, st.sampled_from(["$contains", "$not_contains"]), scalars),
)
wheres = st.recursive(
    leaves,
    lambda children: st.builds(
        lambda op, items: {op: items},
        st.sampled_from(["$and", "$or"]),
        st.lists(children, min_size=2, max_size=3),
    ),
    max_leaves=5,
)


@pytest.fixture(scope="module")
def collection() -> Any:
    import chromadb

    client = chromadb.EphemeralClient()
    return client.get_or_create_collection(
        f"filters-{uuid.uuid4().hex[:8]}", embedding_function=None
    )


def _load(collection: Any, metas: list[dict[str, Any]]) -> list[str]:
    """Replace the collection's content with one document per metadata dict."""
    existing = collection.get()["ids"]
    if existing:
        collection.delete(ids=existing)
    ids = [f"d{i:02d}" for i in range(len(metas))]
    collection.add(
        ids=ids,
        documents=ids,
        embeddings=[[0.0, 1.0]] * len(ids),
        # Chroma's add rejects None values (upsert drops them): strip them; our side keeps
        # them and must treat them as absent keys.
        metadatas=[{k: v for k, v in m.items() if v is not None} or None for m in metas],
    )
    return ids


def _check_against_chroma(
    collection: Any, ids: list[str], metas: list[dict[str, Any]], where: dict[str, Any]
) -> None:
    flt = MetadataFilter.parse(where)
    assert flt is not None
    chroma_ids = set(collection.get(where=flt.to_where())["ids"])
    reference = {i for i, m in zip(ids, metas, strict=True) if flt.matches(m)}
    assert reference == chroma_ids, (where, flt.to_where())
    table = MetadataTable()
    table.append(metas)
    mask = flt.mask(table)
    assert {i for i, keep in zip(ids, mask.tolist(), strict=True) if keep} == chroma_ids
    rows = np.array([0, len(ids) - 1, len(ids) // 2])
    np.testing.assert_array_equal(flt.mask(table, rows), mask[rows])


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    metas=st.lists(metadatas, min_size=N_DOCS, max_size=N_DOCS),
    where_list=st.lists(wheres, min_size=4, max_size=4),
)
def test_mask_and_matches_equal_chroma_get_where_for_random_metadata_and_filters(
    collection: Any, metas: list[dict[str, Any]], where_list: list[dict[str, Any]]
) -> None:
    ids = _load(collection, metas)
    for where in where_list:
        _check_against_chroma(collection, ids, metas, where)
        # The raw dict is valid Chroma too (single key, >= 2 items per $and/$or): same ids.
        flt = MetadataFilter.parse(where)
        assert flt is not None
        assert set(collection.get(where=where)["ids"]) == {
            i for i, m in zip(ids, metas, strict=True) if flt.matches(m)
        }


numeric_values = st.one_of(
    st.integers(-3, 3), st.sampled_from([-2.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2**63 - 1, -(2**63)])
)
numeric_operands = st.one_of(
    st.integers(-3, 3), st.sampled_from([-2.5, -1.5, -0.5, -0.0, 0.5, 1.0, 1.5, 2.5, 1e19, -1e19])
)
numeric_wheres = st.one_of(
    st.builds(
        _leaf,
        st.just("a"),
        st.sampled_from(["bare", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]),
        numeric_operands,
    ),
    st.builds(
        _leaf,
        st.just("a"),
        st.sampled_from(["$in", "$nin"]),
        st.one_of(
            st.lists(st.integers(-3, 3), min_size=1, max_size=3),
            st.lists(st.sampled_from([-1.5, -0.5, 0.5, 1.0, 2.5]), min_size=1, max_size=3),
        ),
    ),
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    values=st.lists(numeric_values, min_size=N_DOCS, max_size=N_DOCS),
    where_list=st.lists(numeric_wheres, min_size=6, max_size=6),
)
def test_int_and_float_comparisons_equal_chroma(
    collection: Any, values: list[int | float], where_list: list[dict[str, Any]]
) -> None:
    metas: list[dict[str, Any]] = [{"a": v} for v in values]
    ids = _load(collection, metas)
    for where in where_list:
        _check_against_chroma(collection, ids, metas, where)


PINNED = [
    {"a": 1},  # matches 1 and 1.0, not True, not "1", not [1]
    {"a": True},
    {"a": {"$ne": 1}},  # includes records without "a"
    {"a": {"$gt": 0}},  # numbers only: not True, not [1, 2]
    {"a": {"$contains": 1}},  # list membership, strict type: [1, 2] yes, [1.0] no
    {"a": {"$contains": 1.0}},
    {"a": {"$not_contains": "x"}},
    {"a": {"$nin": [1]}},
    {"a": {"$in": [True, False]}},
    {"a": 1.5},  # a float operand is truncated against int values: matches 1 (Chroma quirk)
    {"a": {"$lt": 0.5}},  # ints: x < 0; floats: x < 0.5
]
PINNED_METAS = [
    {"a": 1},
    {"a": 1.0},
    {"a": True},
    {"a": "1"},
    {"a": [1, 2]},
    {"a": [1.0]},
    {"a": ["x"]},
    {"b": 2},
    {},
    {"a": False},
    {"a": 0},
    {"a": "x"},
]
PINNED_EXPECTED = [
    {"d00", "d01"},
    {"d02"},
    {"d02", "d03", "d04", "d05", "d06", "d07", "d08", "d09", "d10", "d11"},
    {"d00", "d01"},
    {"d04"},
    {"d05"},
    {"d00", "d01", "d02", "d03", "d04", "d05", "d07", "d08", "d09", "d10", "d11"},
    {"d02", "d03", "d04", "d05", "d06", "d07", "d08", "d09", "d10", "d11"},
    {"d02", "d09"},
    {"d00"},
    set(),
]


def test_pinned_chroma_semantics_cases(collection: Any) -> None:
    ids = _load(collection, PINNED_METAS)
    table = MetadataTable()
    table.append(PINNED_METAS)
    for where, expected in zip(PINNED, PINNED_EXPECTED, strict=True):
        assert set(collection.get(where=where)["ids"]) == expected, where
        flt = MetadataFilter.parse(where)
        assert flt is not None
        assert {i for i, k in zip(ids, flt.mask(table).tolist(), strict=True) if k} == expected


INVALID = [
    ({"a": {"$gt": "x"}}, r"\$gt.*'a'.*int or float"),
    ({"a": {"$gte": True}}, r"\$gte.*int or float"),
    ({"a": {"$in": []}}, r"\$in.*empty"),
    ({"a": {"$in": [1, "x"]}}, r"\$in.*one type"),
    ({"a": {"$in": [1, 2.5]}}, r"\$in.*one type"),
    ({"a": {"$nin": [True, 1]}}, r"\$nin.*one type"),
    ({"a": {"$in": "x"}}, r"\$in.*list"),
    ({"a": {"$in": [[1]]}}, r"\$in.*str, int, float or bool"),
    ({"a": {"$eq": [1]}}, r"\$eq.*'a'"),
    ({"a": {"$bogus": 1}}, r"unknown operator '\$bogus'"),
    ({"a": {"$eq": 1, "$ne": 2}}, r"exactly one operator"),
    ({"a": None}, r"None"),
    ({"a": float("nan")}, r"finite"),
    ({"a": {"$contains": [1]}}, r"\$contains.*str, int, float or bool"),
    ({"$and": "x"}, r"\$and.*list"),
    ({"$or": [{"a": 1}, "x"]}, r"where\.\$or\[1\].*dict"),
    ({"$not": {"a": 1}}, r"'\$not'"),
    ({"a": {}}, r"exactly one operator"),
]


@pytest.mark.parametrize(("where", "message"), INVALID)
def test_filters_chroma_rejects_raise_value_error_naming_the_problem(
    collection: Any, where: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        MetadataFilter.parse(where)
    with pytest.raises(Exception):  # noqa: B017 - Chroma raises ValueError or its own error
        collection.get(where=where)


def test_conveniences_beyond_chroma_render_to_a_where_chroma_accepts(collection: Any) -> None:
    metas = [{"brand": "BMW", "year": 2022}, {"brand": "BMW", "year": 2021}, {"brand": "Audi"}]
    ids = _load(collection, metas)
    multi = MetadataFilter.parse({"brand": "BMW", "year": {"$gte": 2022}})
    assert multi is not None
    assert multi.to_where() == {"$and": [{"brand": {"$eq": "BMW"}}, {"year": {"$gte": 2022}}]}
    one = MetadataFilter.parse({"$or": [{"brand": "Audi"}]})
    assert one is not None and one.to_where() == {"brand": {"$eq": "Audi"}}
    nested = MetadataFilter.parse(
        {"$and": [{"$and": [{"brand": "BMW"}, {"year": 2022}]}, {"year": {"$lt": 2030}}]}
    )
    assert nested is not None and len(nested.to_where()["$and"]) == 3
    for flt, expected in ((multi, {"d00"}), (one, {"d02"}), (nested, {"d00"})):
        assert set(collection.get(where=flt.to_where())["ids"]) == expected
        assert {i for i, m in zip(ids, metas, strict=True) if flt.matches(m)} == expected
    assert MetadataFilter.parse({}) is None and MetadataFilter.parse(None) is None


def test_document_keys_and_empty_logical_lists_are_rejected_with_a_hint() -> None:
    with pytest.raises(ValueError, match=r"#document.*where_document"):
        MetadataFilter.parse({"#document": {"$contains": "x"}})
    with pytest.raises(ValueError, match=r"\$and.*empty"):
        MetadataFilter.parse({"$and": []})
    with pytest.raises(ValueError, match="outside the 64-bit range"):
        MetadataFilter.parse({"a": {"$gt": 2**70}})
    with pytest.raises(ValueError, match=r"bare list.*\$in"):
        MetadataFilter.parse({"a": [1, 2]})


def test_combining_and_negating_filters() -> None:
    a = MetadataFilter.parse({"x": 1})
    b = MetadataFilter.parse({"y": {"$in": ["p", "q"]}})
    assert a is not None and b is not None
    assert (a & b).to_where() == {"$and": [{"x": {"$eq": 1}}, {"y": {"$in": ["p", "q"]}}]}
    assert (a | b).negate().to_where() == {"$and": [{"x": {"$ne": 1}}, {"y": {"$nin": ["p", "q"]}}]}
    assert MetadataFilter.all_of([None, a, None]) == a
    assert MetadataFilter.all_of([None]) is None
    assert (a & b).keys() == {"x", "y"}


# --- the columnar mirror ------------------------------------------------------------------


def test_table_view_is_unaffected_by_later_appends_and_take_compacts() -> None:
    table = MetadataTable()
    table.append([{"k": "x", "l": [1, 2]}, {"k": "y"}])
    view = table.view()
    table.append([{"k": "x", "l": [2]}, {"new": True}])
    flt = MetadataFilter.parse({"l": {"$contains": 2}})
    assert flt is not None
    assert flt.mask(view).tolist() == [True, False]
    assert flt.mask(table).tolist() == [True, False, True, False]
    with pytest.raises(RuntimeError, match="read-only"):
        view.append([{}])
    small = table.take([2, 0])
    assert [small.get(0), small.get(1)] == [{"k": "x", "l": [2]}, {"k": "x", "l": [1, 2]}]
    assert flt.mask(small).tolist() == [True, True]


def test_table_array_round_trip() -> None:
    # Rows are append-only (no in-place rewrite contradicts the read-only views).
    assert not hasattr(MetadataTable, "set_rows") and not hasattr(MetadataTable, "clear")
    table = MetadataTable()
    table.append([{}, {"a": 2.5, "t": ["p", "q"]}, {"a": True, "t": ["q"]}])
    assert [table.get(i) for i in range(3)] == [
        {},
        {"a": 2.5, "t": ["p", "q"]},
        {"a": True, "t": ["q"]},
    ]
    header, arrays = table.to_arrays()
    copy = MetadataTable.from_arrays(header, arrays)
    assert [copy.get(i) for i in range(3)] == [table.get(i) for i in range(3)]
    flt = MetadataFilter.parse({"t": {"$contains": "q"}})
    assert flt is not None and flt.mask(copy).tolist() == [False, True, True]
    arrays["col0_kind"] = arrays["col0_kind"][:1]
    with pytest.raises(ValueError, match="col0_kind"):
        MetadataTable.from_arrays(header, arrays)


def test_table_normalises_values_like_chroma_and_rejects_what_chroma_rejects() -> None:
    table = MetadataTable()
    table.append([{"n": None, "f": float("nan"), "inf": float("inf"), "np": np.int64(3)}])
    assert table.get(0) == {"np": 3}
    for bad, message in (
        ({"x": {"d": 1}}, "not a str"),
        ({"x": [1, "a"]}, "same type"),
        ({1: "x"}, "keys must be str"),
        ({"x": 2**70}, "64-bit range"),
    ):
        with pytest.raises(ValueError, match=message):
            table.append([bad])
    assert len(table) == 1


def test_table_and_reference_follow_the_one_stored_value_rule() -> None:
    # One rule (records.metadata_value, stored=True) for the table, the reference and the
    # write path: [] is no value (it used to raise here while the store dropped it), a tuple
    # or 1-d array is a list, a NaN of any float type (also inside a list) is an absent key.
    meta = {
        "empty": [],
        "tup": (1, 2),
        "arr": np.array([1.5, 2.5]),
        "np_nan": np.float32("nan"),
        "nan_list": [1.0, float("nan")],
        "np_int": np.int32(7),
    }
    table = MetadataTable()
    table.append([meta])
    expected = {"tup": [1, 2], "arr": [1.5, 2.5], "np_int": 7}
    assert table.get(0) == expected
    assert clean_metadata({k: v for k, v in meta.items() if "nan" not in k}, 0) == expected
    for where, hit in (
        ({"tup": {"$contains": 2}}, True),
        ({"arr": {"$contains": 2.5}}, True),
        ({"empty": {"$ne": "x"}}, True),
        ({"empty": {"$not_contains": 1}}, True),
        ({"np_nan": {"$gt": 0}}, False),
        ({"nan_list": {"$contains": 1.0}}, False),
        ({"np_int": 7}, True),
    ):
        flt = MetadataFilter.parse(where)
        assert flt is not None
        assert flt.matches(meta) is hit and flt.mask(table).tolist() == [hit], where
    with pytest.raises(ValueError, match="not finite"):
        MetadataFilter.parse({"a": np.float32("nan")})


def test_where_parser_refuses_what_is_not_a_where_dict() -> None:
    for bad in ("brand == BMW", ["brand"], 3):
        with pytest.raises(ValueError, match="Chroma-style where dict"):
            MetadataFilter.parse(bad)  # type: ignore[arg-type]


# --- LlamaIndex and LangChain -------------------------------------------------------------


def _li() -> Any:
    from llama_index.core.vector_stores import types

    return types


def test_llamaindex_operators_convert_to_chroma_where() -> None:
    t = _li()
    op = t.FilterOperator
    cases = [
        (op.EQ, "BMW", {"k": {"$eq": "BMW"}}),
        (op.NE, 2, {"k": {"$ne": 2}}),
        (op.GT, 2021, {"k": {"$gt": 2021}}),
        (op.GTE, 1.5, {"k": {"$gte": 1.5}}),
        (op.LT, 3, {"k": {"$lt": 3}}),
        (op.LTE, 3, {"k": {"$lte": 3}}),
        (op.IN, ["a", "b"], {"k": {"$in": ["a", "b"]}}),
        (op.NIN, [1, 2], {"k": {"$nin": [1, 2]}}),
        (op.CONTAINS, "suv", {"k": {"$contains": "suv"}}),
        (op.ANY, ["a", "b"], {"$or": [{"k": {"$contains": "a"}}, {"k": {"$contains": "b"}}]}),
        (op.ALL, ["a", "b"], {"$and": [{"k": {"$contains": "a"}}, {"k": {"$contains": "b"}}]}),
        (op.ANY, ["a"], {"k": {"$contains": "a"}}),
    ]
    for operator, value, expected in cases:
        filters = t.MetadataFilters(
            filters=[t.MetadataFilter(key="k", value=value, operator=operator)]
        )
        flt = from_llamaindex(filters)
        assert flt is not None and flt.to_where() == expected, operator


def test_llamaindex_nested_and_or_not_by_de_morgan() -> None:
    t = _li()
    f = t.MetadataFilter
    nested = t.MetadataFilters(
        filters=[
            f(key="brand", value="BMW"),
            t.MetadataFilters(
                filters=[f(key="year", value=2022), f(key="year", value=2023)],
                condition=t.FilterCondition.OR,
            ),
        ],
        condition=t.FilterCondition.AND,
    )
    flt = from_llamaindex(nested)
    assert flt is not None
    assert flt.to_where() == {
        "$and": [
            {"brand": {"$eq": "BMW"}},
            {"$or": [{"year": {"$eq": 2022}}, {"year": {"$eq": 2023}}]},
        ]
    }
    negated = t.MetadataFilters(
        filters=[
            f(key="brand", value="BMW"),
            f(key="year", value=2021, operator=t.FilterOperator.GT),
            f(key="tags", value=["x"], operator=t.FilterOperator.IN),
        ],
        condition=t.FilterCondition.NOT,
    )
    flt = from_llamaindex(negated)
    assert flt is not None
    assert flt.to_where() == {
        "$and": [{"brand": {"$ne": "BMW"}}, {"year": {"$lte": 2021}}, {"tags": {"$nin": ["x"]}}]
    }
    assert from_llamaindex(t.MetadataFilters(filters=[])) is None
    assert from_llamaindex(None) is None


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(
        st.fixed_dictionaries(
            {"brand": st.sampled_from(["BMW", "Audi", "Benz"]), "year": st.integers(2019, 2024)}
        ),
        min_size=1,
        max_size=8,
    ),
    specs=st.lists(
        st.one_of(
            st.tuples(
                st.just("brand"), st.sampled_from(["==", "!="]), st.sampled_from(["BMW", "Audi"])
            ),
            st.tuples(
                st.just("year"),
                st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
                st.integers(2019, 2024),
            ),
            st.tuples(
                st.just("brand"),
                st.sampled_from(["in", "nin"]),
                st.lists(st.sampled_from(["BMW", "Audi", "Benz"]), min_size=1, max_size=2),
            ),
        ),
        min_size=1,
        max_size=3,
    ),
    condition=st.sampled_from(["and", "or", "not"]),
)
def test_llamaindex_conversion_agrees_with_llamaindex_own_filter_function(
    records: list[dict[str, Any]], specs: list[tuple[str, str, Any]], condition: str
) -> None:
    from llama_index.core.vector_stores.utils import build_metadata_filter_fn

    t = _li()
    filters = t.MetadataFilters(
        filters=[
            t.MetadataFilter(key=k, value=v, operator=t.FilterOperator(o)) for k, o, v in specs
        ],
        condition=t.FilterCondition(condition),
    )
    theirs = build_metadata_filter_fn(lambda i: records[int(i)], filters)
    ours = from_llamaindex(filters)
    assert ours is not None
    for i, record in enumerate(records):
        assert ours.matches(record) == theirs(str(i)), (record, ours)


@pytest.mark.parametrize("operator", ["TEXT_MATCH", "TEXT_MATCH_INSENSITIVE", "IS_EMPTY"])
def test_llamaindex_operators_chroma_cannot_express_raise(operator: str) -> None:
    t = _li()
    value = None if operator == "IS_EMPTY" else "bm"
    filters = t.MetadataFilters(
        filters=[t.MetadataFilter(key="brand", value=value, operator=t.FilterOperator[operator])]
    )
    with pytest.raises(ValueError, match=f"{operator}.*cannot be expressed"):
        from_llamaindex(filters)


def test_langchain_filter_dict_is_validated_and_converted() -> None:
    flt = from_langchain({"brand": "BMW", "year": {"$gte": 2022}})
    assert flt is not None
    assert flt.to_where() == {"$and": [{"brand": {"$eq": "BMW"}}, {"year": {"$gte": 2022}}]}
    assert from_langchain(None) is None and from_langchain({}) is None
    with pytest.raises(ValueError, match="where syntax"):
        from_langchain("brand == BMW")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\$regex"):
        from_langchain({"brand": {"$regex": "B.*"}})
