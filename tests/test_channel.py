"""The channel between checker and student (dgm_course/channel.py): what it carries, what it
refuses, and its deadlines. These are the grader's data-only guarantees, tested without a
sandbox."""
from __future__ import annotations

import os
import struct
import threading
import time

import numpy as np
import pytest
import torch

from dgm_course.channel import (MAX_DEPTH, ChannelError, Deadline, Decoder, Encoder, PeerGone, apply_layer_state,
                                build_layer, layer_spec, read_frame, write_frame)


def roundtrip(value):
    return Decoder(Encoder().encode(value)).decode()


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**63 - 1, -(2**63), 2**784 - 1, -(3**500), 0.1, float("inf"), -0.0, 1 + 2j, "",
    "naïve ☃", b"\x00\xff", [], [1, [2, [3]]], (1, "a", None), {"a": 1, 2: [3.5], (1, "x"): None, None: 0},
])
def test_plain_values_round_trip_exactly(value):
    got = roundtrip(value)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int32", "int64", "float16", "float32", "float64",
                                   "complex128"])
def test_numpy_arrays_and_scalars_keep_dtype_shape_and_values(dtype):
    rng = np.random.default_rng(0)
    a = (rng.normal(size=(3, 0, 2)) if dtype == "float64" else rng.normal(size=(4, 5)) * 50).astype(dtype)
    got = roundtrip(a)
    assert type(got) is np.ndarray and got.dtype == a.dtype and got.shape == a.shape and np.array_equal(got, a)
    assert got.flags.writeable and got.flags.c_contiguous
    s = a.reshape(-1)[0] if a.size else np.dtype(dtype).type(1)
    assert roundtrip(s) == s and type(roundtrip(s)) is type(s)
    zero_d = np.asarray(s)
    assert roundtrip(zero_d).shape == () and roundtrip(zero_d) == zero_d


def test_non_contiguous_and_big_endian_arrays_arrive_as_native_copies():
    a = np.arange(24, dtype=">f8").reshape(4, 6)[:, ::2]
    got = roundtrip(a)
    assert got.dtype == np.float64 and got.dtype.isnative and np.array_equal(got, a)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.int64, torch.bool,
                                   torch.uint8, torch.complex64])
def test_tensors_keep_dtype_shape_values_and_the_grad_flag(dtype):
    t = (torch.randn(3, 4, generator=torch.Generator().manual_seed(0)) * 10).to(dtype)
    got = roundtrip(t)
    assert type(got) is torch.Tensor and got.dtype == dtype and got.shape == t.shape and torch.equal(got, t)
    p = torch.nn.Parameter(torch.ones(2, 2))
    back = roundtrip(p)
    assert type(back) is torch.Tensor and back.requires_grad and back.is_leaf
    assert roundtrip(torch.ones(2, requires_grad=True) * 2).requires_grad  # the flag of a non-leaf too


def test_subclasses_and_views_arrive_as_plain_data():
    """What a student returns is rebuilt from data: no subclass, no overloaded operator survives."""
    class Liar(float):
        def __eq__(self, other):
            return True

    class Always(np.ndarray):
        def __eq__(self, other):
            return np.ones(self.shape, bool)

    class Evil(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return True

    class MyInt(int):
        def __sub__(self, other):
            return 0

    class Named(tuple):
        pass

    values = [Liar(3.0), np.zeros(3).view(Always), torch.zeros(2).as_subclass(Evil), MyInt(5), Named((1, 2)),
              type("D", (dict,), {})(a=1), type("L", (list,), {})([1])]
    got = [roundtrip(v) for v in values]
    assert [type(g) for g in got] == [float, np.ndarray, torch.Tensor, int, tuple, dict, list]
    assert got[0] == 3.0 and not (got[0] == 4.0) and got[3] - 2 == 3


def test_generators_travel_as_state_copies():
    g = np.random.default_rng(5)
    copy = roundtrip(g)
    assert copy is not g and np.array_equal(copy.normal(size=4), np.random.default_rng(5).normal(size=4))
    assert np.array_equal(g.normal(size=4), np.random.default_rng(5).normal(size=4)), "the original must not move"
    tg = torch.Generator().manual_seed(3)
    tcopy = roundtrip(tg)
    assert torch.equal(torch.randn(3, generator=tcopy), torch.randn(3, generator=torch.Generator().manual_seed(3)))
    mt = np.random.Generator(np.random.MT19937(1))
    assert roundtrip(mt).integers(1000) == np.random.Generator(np.random.MT19937(1)).integers(1000)


def _frame(tag: bytes, *parts: bytes) -> bytes:
    return tag + b"".join(parts)


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw


@pytest.mark.parametrize("data, words", [
    (b"", "ends in the middle"),
    (b"Z", "unknown value tag"),
    (b"N" + b"x", "unexpected bytes"),
    (_frame(b"s", struct.pack("<I", 10), b"abc"), "ends in the middle"),
    (_frame(b"s", struct.pack("<I", 2), b"\xff\xfe"), "not UTF-8"),
    (_frame(b"l", struct.pack("<I", 10**9)), "too short"),
    (_frame(b"d", struct.pack("<I", 1), b"l", struct.pack("<I", 0), b"N"), "dict key"),
    (_frame(b"I", _s("12x")), "malformed int"),
    (_frame(b"I", _s("9" * 20_002)), "at most"),
    (_frame(b"a", _s("object"), b"\x00", struct.pack("<Q", 0)), "not allowed"),
    (_frame(b"a", _s("float64"), b"\x01", struct.pack("<Q", 3), struct.pack("<Q", 16), b"\x00" * 16), "bytes for 3"),
    (_frame(b"a", _s("float64"), b"\x01", struct.pack("<Q", 2**62), struct.pack("<Q", 0)), "bytes for"),
    (_frame(b"x", _s("float32"), b"\x01", struct.pack("<Q", 1), b"\x07", struct.pack("<Q", 4), b"\x00" * 4),
     "requires_grad"),
    (_frame(b"G", b"d", struct.pack("<I", 1), b"s", _s("bit_generator"), b"s", _s("os.system")), "must name"),
    (_frame(b"R", struct.pack("<I", 3), b"abc"), "torch generator"),
    (_frame(b"S", struct.pack("<Q", 1), _s("x")), "not allowed here"),
    (_frame(b"K", struct.pack("<Q", 1), _s("x")), "not allowed here"),
    (_frame(b"M", b"N"), "not allowed here"),
])
def test_malformed_messages_are_refused_with_a_reason(data, words):
    with pytest.raises(ChannelError) as err:
        Decoder(data).decode()
    assert words in str(err.value)


def test_depth_and_unknown_objects_are_refused():
    deep = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ChannelError, match="nested deeper"):
        Encoder().encode(deep)
    nested = b"l" + struct.pack("<I", 1)
    with pytest.raises(ChannelError, match="nested deeper"):
        Decoder(nested * (MAX_DEPTH + 5) + b"N").decode()
    for obj in (object(), lambda: 1, np.array([object()]), {1, 2}):
        with pytest.raises(ChannelError):
            Encoder().encode(obj)


def test_layers_travel_by_value_and_states_come_back_checked():
    layer = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1, bias=False))
    layer[0].n_vars = 3  # a plain attribute a test sets travels too
    spec = layer_spec(layer)
    built = build_layer(roundtrip(spec))
    assert built[0].n_vars == 3 and built[0].in_features == 3
    x = torch.randn(5, 3)
    assert torch.equal(built(x), layer(x)) and built is not layer
    with torch.no_grad():
        built[0].weight.add_(1.0)
    apply_layer_state(layer, roundtrip({k: v for k, v in built.state_dict().items()}))
    assert torch.equal(layer[0].weight, built[0].weight)
    bad = dict(built.state_dict())
    bad["0.weight"] = torch.zeros(7, 7)
    with pytest.raises(ChannelError, match="shape"):
        apply_layer_state(layer, bad)
    with pytest.raises(ChannelError, match="other entries"):
        apply_layer_state(layer, {"0.weight": layer[0].weight})

    class Custom(torch.nn.Linear):
        pass

    assert layer_spec(Custom(2, 2)) is None and layer_spec(torch.nn.Sequential(Custom(2, 2))) is None
    with pytest.raises(ChannelError, match="not allowed"):
        build_layer({"cls": "Module", "args": {}, "children": [], "state": {}, "training": True, "extra": {}})
    with pytest.raises(ChannelError, match="attributes"):
        build_layer(dict(layer_spec(torch.nn.Tanh()), extra={"_forward_hooks": 1}))


# ----------------------------------------------------------------------------- framing and deadlines

def _pipe():
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    return r, w


def test_frames_round_trip_and_large_frames_are_drained():
    r, w = _pipe()
    big = Encoder().encode(np.zeros(300_000))  # larger than the pipe buffer: needs a reader
    reader = threading.Thread(target=lambda: out.append(read_frame(r, time.monotonic() + 10)))
    out: list = []
    reader.start()
    write_frame(w, big, time.monotonic() + 10)
    reader.join()
    assert Decoder(out[0]).decode().shape == (300_000,)
    # An oversized frame is read and thrown away: the next frame is still understood.
    t = threading.Thread(target=lambda: (write_frame(w, b"N" * 5000, time.monotonic() + 10),
                                         write_frame(w, Encoder().encode("next"), time.monotonic() + 10)))
    t.start()
    with pytest.raises(ChannelError, match="exceeds"):
        read_frame(r, time.monotonic() + 10, max_frame=1000)
    assert Decoder(read_frame(r, time.monotonic() + 10)).decode() == "next"
    t.join()
    os.close(r)
    os.close(w)


def test_deadlines_bound_silent_and_stuck_peers():
    r, w = _pipe()
    t0 = time.monotonic()
    with pytest.raises(Deadline):
        read_frame(r, time.monotonic() + 0.3)  # nothing is ever written
    os.write(w, struct.pack(">I", 1000) + b"abc")  # a frame that never completes
    with pytest.raises(Deadline):
        read_frame(r, time.monotonic() + 0.3)
    with pytest.raises(Deadline):  # nobody reads: the pipe fills up
        write_frame(w, b"x" * (4 << 20), time.monotonic() + 0.3)
    assert time.monotonic() - t0 < 5
    os.close(r)
    with pytest.raises(PeerGone):
        write_frame(w, b"x", time.monotonic() + 1)
    os.close(w)
    r2, w2 = _pipe()
    os.close(w2)
    with pytest.raises(PeerGone):
        read_frame(r2, time.monotonic() + 1)
    os.close(r2)
