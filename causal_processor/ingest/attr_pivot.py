"""Span attributes -> one column per kernel event field, in whole-matrix operations.

Building each field's column on its own took about twenty Arrow and numpy calls per field and
request (≈ 5 µs per span at 2,000-span requests, most of it fixed cost per call). Here each
attribute's index is scattered once into a (field, span) matrix of positions, fields of other
event types are masked in that matrix, and each value kind is gathered through it in one call.
The values are those of `kernel_rows.kernel_row`: a key given twice, the later wins; a value of
the wrong kind reads as the field's zero; a field of another event type keeps its zero.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from causal_processor.ingest.event_frame import OWN_FIELDS
from causal_processor.ingest.otlp_arrow import SpanArrays
from kprobe import events, otlp

ATTR_FIELDS = tuple(f for f in events.EVENT_FIELDS if f.otel_key)
"""The kernel event fields carried as span attributes, in the position matrix's row order."""

_ROW = {f.otel_key: i for i, f in enumerate(ATTR_FIELDS)}
_ET_ROW = _ROW[otlp.EVENT_TYPE_KEY]
_STR_ROWS = np.array([i for i, f in enumerate(ATTR_FIELDS) if f.kind in ("str", "enum") and i != _ET_ROW])
_INT_ROWS = np.array([i for i, f in enumerate(ATTR_FIELDS) if f.kind in ("int", "uint")])
_FLOAT_ROWS = np.array([i for i, f in enumerate(ATTR_FIELDS) if f.kind == "float"], dtype=np.int64)
_BOOL_ROWS = np.array([i for i, f in enumerate(ATTR_FIELDS) if f.kind == "bool"], dtype=np.int64)
_ENUMS = tuple((f.name, f.enum_names[0]) for f in ATTR_FIELDS  # type: ignore[index]
               if f.enum_names is not None and f.name != "event_type")


@lru_cache(maxsize=256)
def _applies(event_type: str) -> np.ndarray:
    """Per ATTR_FIELDS row: does an event of this type carry the field."""
    return np.array([not f.applies or event_type in f.applies for f in ATTR_FIELDS], dtype=bool)


def _positions(s: SpanArrays, key_codes: np.ndarray, key_names: list[str]) -> np.ndarray:
    """(field row, span) -> index of the attribute setting it; len(attributes) where none does."""
    n_attr = len(key_codes)
    pos = np.full((len(ATTR_FIELDS), s.n), n_attr, dtype=np.int64)
    row_of_code = np.array([_ROW.get(k, -1) for k in key_names], dtype=np.int64)
    rows = row_of_code[key_codes] if n_attr else np.zeros(0, np.int64)
    known = np.flatnonzero(rows >= 0)
    # in attribute order, so of a key given twice the later one is written last and wins
    pos.reshape(-1)[rows[known] * s.n + s.attr_span[known]] = known
    return pos


def _gather(values: np.ndarray, zero: object, pos: np.ndarray) -> np.ndarray:
    """values[pos] with `zero` where pos is len(values) (no attribute)."""
    return np.append(values, np.array(zero, dtype=values.dtype))[pos]


def field_columns(s: SpanArrays, key_codes: np.ndarray, key_names: list[str]
                  ) -> tuple[dict[str, pa.Array | np.ndarray], list[str], np.ndarray]:
    """(columns of ATTR_FIELDS by name, the batch's event type names, each span's code into them)."""
    pos = _positions(s, key_codes, key_names)
    n, n_attr = s.n, len(key_codes)
    strings = pc.fill_null(s.string_value, "").cast(pa.string())
    strings = pa.concat_arrays([strings, pa.array([""], pa.string())])
    event_type = strings.take(pa.array(pos[_ET_ROW]))
    et = event_type.dictionary_encode()
    et_names: list[str] = et.dictionary.to_pylist()
    et_codes = et.indices.to_numpy(zero_copy_only=False)
    applies = np.stack([_applies(t) for t in et_names], axis=1)[:, et_codes] if n else np.ones((len(ATTR_FIELDS), 0), bool)
    pos = np.where(applies, pos, n_attr)
    cols: dict[str, pa.Array | np.ndarray] = {"event_type": event_type}
    taken = strings.take(pa.array(pos[_STR_ROWS].reshape(-1)))
    for j, r in enumerate(_STR_ROWS.tolist()):
        cols[ATTR_FIELDS[r].name] = taken.slice(j * n, n)
    ints = pc.fill_null(s.int_value, 0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    for r, col in zip(_INT_ROWS.tolist(), _gather(ints, 0, pos[_INT_ROWS]), strict=True):
        cols[ATTR_FIELDS[r].name] = col.view(np.uint64) if ATTR_FIELDS[r].kind == "uint" else col
    if len(_FLOAT_ROWS):
        dbl = s.double_value
        floats = np.where(pc.is_valid(dbl).to_numpy(zero_copy_only=False),
                          pc.fill_null(dbl, 0.0).to_numpy(zero_copy_only=False), ints.astype(np.float64))
        for r, col in zip(_FLOAT_ROWS.tolist(), _gather(floats, 0.0, pos[_FLOAT_ROWS]), strict=True):
            cols[ATTR_FIELDS[r].name] = col
    if len(_BOOL_ROWS):
        bools = pc.fill_null(s.bool_value, False).to_numpy(zero_copy_only=False)
        for r, col in zip(_BOOL_ROWS.tolist(), _gather(bools, False, pos[_BOOL_ROWS]), strict=True):
            cols[ATTR_FIELDS[r].name] = col
    for name, default in _ENUMS:  # an event of a type that carries the field: "" reads as its zero
        own = np.array([name in OWN_FIELDS.get(t, ()) for t in et_names], dtype=bool)[et_codes]
        empty = pc.equal(cols[name], "").to_numpy(zero_copy_only=False) & own
        if empty.any():
            cols[name] = pc.if_else(pa.array(empty), pa.scalar(default, pa.string()), cols[name])
    return cols, et_names, et_codes
