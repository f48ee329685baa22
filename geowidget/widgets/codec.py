"""The binary array codec shared by every widget, used in both directions.

An array travels as ``{"buffer": bytes, "dtype": str, "shape": list[int]}``. Only three
dtypes cross the wire: ``float32``, ``int32`` and ``uint8``. Wider or unsupported numeric types are
converted explicitly (``float64``/``float16`` -> ``float32``; ``int64`` and the other integers ->
``int32`` after a range check; ``bool`` -> ``uint8``). The JS side (``js/src/codec.ts``) puts a typed
array view straight over the received buffer, so arrays are never copied into JSON lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["WIRE_DTYPES", "array_from_json", "array_serialization", "array_to_json",
           "arrays_serialization", "as_numpy", "decode", "dict_to_json", "encode", "wire_array"]

WIRE_DTYPES = ("float32", "int32", "uint8")
_INT32 = np.iinfo(np.int32)


def as_numpy(value: Any) -> np.ndarray:
    """Turn an array-like (numpy, torch tensor, list) into a numpy array without importing torch.

    Parameters
    ----------
    value : array-like
        A numpy array, a torch tensor (any device, with or without grad) or a nested sequence.

    Returns
    -------
    numpy.ndarray
    """
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def wire_array(value: Any, name: str = "array") -> np.ndarray:
    """Convert ``value`` to one of the wire dtypes, C-contiguous.

    Parameters
    ----------
    value : array-like
        Numeric data; torch tensors are accepted.
    name : str
        Used in error messages.

    Returns
    -------
    numpy.ndarray
        float32, int32 or uint8, C-contiguous.

    Raises
    ------
    TypeError
        For non-numeric dtypes (strings, objects, complex).
    ValueError
        For integers outside the int32 range.
    """
    arr = as_numpy(value)
    kind = arr.dtype.kind
    if kind == "b":
        out = arr.astype(np.uint8)
    elif kind == "f":
        out = arr.astype(np.float32, copy=False)
    elif kind in "iu":
        if arr.dtype == np.uint8:
            out = arr
        else:
            if arr.size and (arr.min() < _INT32.min or arr.max() > _INT32.max):
                raise ValueError(
                    f"{name} has integers in [{arr.min()}, {arr.max()}], outside the int32 "
                    f"range [{_INT32.min}, {_INT32.max}] that the widget codec sends"
                )
            out = arr.astype(np.int32, copy=False)
    else:
        raise TypeError(
            f"{name} has dtype {arr.dtype}; the widget codec sends numeric arrays only "
            f"(float, int, uint, bool, converted to one of {WIRE_DTYPES})"
        )
    return np.ascontiguousarray(out)


def encode(value: Any, name: str = "array") -> dict[str, Any]:
    """Encode an array as ``{"buffer", "dtype", "shape"}`` for a synced trait or a message.

    Parameters
    ----------
    value : array-like
        Numeric data, any layout (non-contiguous arrays are compacted).
    name : str
        Used in error messages.

    Returns
    -------
    dict
        ``buffer`` is a ``memoryview`` of little-endian bytes, ``dtype`` one of
        ``float32``/``int32``/``uint8``, ``shape`` a list of ints.

    Examples
    --------
    >>> d = encode(np.arange(3))
    >>> d["dtype"], d["shape"], bytes(d["buffer"])[:4]
    ('int32', [3], b'\\x00\\x00\\x00\\x00')
    """
    arr = wire_array(value, name)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return {"buffer": memoryview(arr.reshape(-1)).cast("B"), "dtype": str(arr.dtype),
            "shape": [int(s) for s in arr.shape]}


def decode(payload: dict[str, Any]) -> np.ndarray:
    """Decode ``{"buffer", "dtype", "shape"}`` (from the browser or :func:`encode`) to numpy.

    Parameters
    ----------
    payload : dict
        ``buffer`` is bytes, bytearray or memoryview.

    Returns
    -------
    numpy.ndarray
        A read-only view when the buffer is immutable.

    Raises
    ------
    ValueError
        For an unknown dtype, a missing key, or a buffer whose size does not match the shape.
    """
    if not isinstance(payload, dict) or not {"buffer", "dtype", "shape"} <= payload.keys():
        got = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"an encoded array needs keys buffer, dtype, shape; got {got}")
    dtype = payload["dtype"]
    if dtype not in WIRE_DTYPES:
        raise ValueError(f"unknown wire dtype {dtype!r}; valid: {list(WIRE_DTYPES)}")
    raw_shape = payload["shape"]
    if not isinstance(raw_shape, list | tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in raw_shape):
        raise ValueError(f"an encoded array's shape must be a list of ints >= 0, got "
                         f"{str(raw_shape)[:80]}")
    shape = tuple(raw_shape)
    buf = payload["buffer"]
    if isinstance(buf, memoryview):
        buf = buf.cast("B") if buf.format != "B" or buf.ndim != 1 else buf
    width = np.dtype(dtype).itemsize
    need = int(np.prod(shape)) * width
    if len(buf) != need:
        raise ValueError(f"buffer holds {len(buf)} bytes but shape {list(shape)} of {dtype} "
                         f"needs {need}")
    return np.frombuffer(buf, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)


def array_to_json(value: Any, widget: Any = None) -> dict[str, Any] | None:
    """traitlets ``to_json`` serializer: ``None`` stays ``None``, arrays are encoded."""
    return None if value is None else encode(value)


def array_from_json(value: Any, widget: Any = None) -> np.ndarray | None:
    """traitlets ``from_json`` deserializer, the inverse of :func:`array_to_json`."""
    return None if value is None else decode(value)


def dict_to_json(value: dict[str, Any] | None, widget: Any = None) -> dict[str, Any]:
    """Serializer for a dict of arrays: each value is encoded."""
    return {k: encode(v, k) for k, v in (value or {}).items()}


array_serialization = {"to_json": array_to_json, "from_json": array_from_json}
arrays_serialization = {"to_json": dict_to_json, "from_json": lambda v, w=None: v}
