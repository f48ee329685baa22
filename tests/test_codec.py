"""Round trips of the binary widget codec (geowidget.widgets.codec)."""

import numpy as np
import pytest
import torch

from geowidget.widgets.codec import array_from_json, array_to_json, decode, encode, wire_array


@pytest.mark.parametrize(
    ("dtype", "wire"),
    [
        (np.float32, "float32"),
        (np.float64, "float32"),
        (np.float16, "float32"),
        (np.int32, "int32"),
        (np.int64, "int32"),
        (np.int16, "int32"),
        (np.int8, "int32"),
        (np.uint16, "int32"),
        (np.uint32, "int32"),
        (np.uint8, "uint8"),
        (np.bool_, "uint8"),
    ],
)
def test_round_trip_every_dtype(dtype, wire):
    src = (np.arange(24).reshape(2, 3, 4) % 7).astype(dtype)
    enc = encode(src)
    assert enc["dtype"] == wire
    assert enc["shape"] == [2, 3, 4]
    assert len(bytes(enc["buffer"])) == 24 * np.dtype(wire).itemsize
    out = decode({"buffer": bytes(enc["buffer"]), "dtype": enc["dtype"], "shape": enc["shape"]})
    assert out.dtype == np.dtype(wire)
    np.testing.assert_array_equal(out, src.astype(wire))


def test_float64_downcast_is_explicit_and_rounds_to_nearest_float32():
    src = np.array([1 / 3, np.pi, -1e-40, np.nan, np.inf])
    out = decode(encode(src))
    np.testing.assert_array_equal(out, src.astype(np.float32))
    assert out[0] == np.float32(1 / 3)


def test_int64_out_of_int32_range_is_rejected():
    with pytest.raises(ValueError, match=r"outside the int32 range"):
        encode(np.array([0, 2**31], dtype=np.int64), "ids")


def test_non_numeric_dtypes_are_rejected():
    with pytest.raises(TypeError, match=r"dtype <U1"):
        encode(np.array(["a", "b"]))
    with pytest.raises(TypeError, match=r"complex128"):
        wire_array(np.array([1 + 2j]))


def test_non_contiguous_arrays_are_compacted_in_c_order():
    base = np.arange(60, dtype=np.float64).reshape(6, 10)
    views = [base[::2, 1::3], base.T, base[:, ::-1]]
    for v in views:
        assert not v.flags.c_contiguous
        enc = encode(v)
        assert enc["shape"] == list(v.shape)
        np.testing.assert_array_equal(decode(enc), v.astype(np.float32))


def test_big_endian_input_is_sent_little_endian():
    src = np.arange(5, dtype=">i4")
    enc = encode(src)
    assert bytes(enc["buffer"])[:8] == b"\x00\x00\x00\x00\x01\x00\x00\x00"
    np.testing.assert_array_equal(decode(enc), np.arange(5))


@pytest.mark.parametrize("shape", [(0,), (0, 3), (4, 0, 2)])
def test_empty_arrays(shape):
    enc = encode(np.zeros(shape, np.float64))
    assert enc["shape"] == list(shape)
    assert len(bytes(enc["buffer"])) == 0
    assert decode(enc).shape == shape


def test_torch_tensors_cpu_grad_and_noncontiguous():
    t = torch.arange(12, dtype=torch.float64).reshape(3, 4).requires_grad_(True)
    enc = encode(t.t())
    assert enc["dtype"] == "float32" and enc["shape"] == [4, 3]
    np.testing.assert_array_equal(decode(enc), np.arange(12).reshape(3, 4).T.astype(np.float32))
    ti = torch.tensor([5, -7], dtype=torch.int64)
    np.testing.assert_array_equal(decode(encode(ti)), [5, -7])
    tb = torch.tensor([True, False])
    assert decode(encode(tb)).tolist() == [1, 0]


def test_decode_checks_size_dtype_and_keys():
    with pytest.raises(ValueError, match=r"buffer holds 8 bytes but shape \[3\] of float32 needs 12"):
        decode({"buffer": b"\x00" * 8, "dtype": "float32", "shape": [3]})
    with pytest.raises(ValueError, match=r"buffer holds 3 bytes but shape \[1\] of int32 needs 4"):
        decode({"buffer": b"\x00" * 3, "dtype": "int32", "shape": [1]})
    for bad in ([-1], ["2"], None, [1.5]):
        with pytest.raises(ValueError, match=r"shape must be a list of ints >= 0"):
            decode({"buffer": b"", "dtype": "uint8", "shape": bad})
    with pytest.raises(ValueError, match=r"unknown wire dtype 'float64'"):
        decode({"buffer": b"", "dtype": "float64", "shape": [0]})
    with pytest.raises(ValueError, match=r"needs keys buffer, dtype, shape; got \['buffer'\]"):
        decode({"buffer": b""})


def test_decode_accepts_memoryview_from_the_frontend():
    raw = np.array([3, 1, 2], np.int32).tobytes()
    out = decode({"buffer": memoryview(raw), "dtype": "int32", "shape": [3]})
    assert out.tolist() == [3, 1, 2]


def test_trait_serializers_handle_none():
    assert array_to_json(None) is None
    assert array_from_json(None) is None
    assert array_from_json(array_to_json(np.array([1.5]))).tolist() == [1.5]
