"""The channel between the checker and the student process: frames of data, nothing else.

Both processes import this module; the checker trusts none of what it decodes. A message is
one *frame*: a 4-byte big-endian length, then one encoded value. A value is built only from

    None, bool, int (any size), float, complex, str, bytes, list, tuple, dict (keys: str, int,
    float, bool, None or tuples of those), NumPy arrays and scalars, torch tensors
    (dtype + shape + raw little-endian bytes), NumPy and torch random generators (their state),

plus references: ``S`` (an object that lives in the student process: a *handle*), ``K`` (an
object that lives in the checker: a *callback*) and ``M`` (a torch.nn layer from torch itself,
sent by the checker as class name, constructor arguments and tensors). There is no pickle and
no way to name a class or a function: the decoder builds only the types above, checks every
length, shape, dtype and nesting depth against the limits, and raises ``ChannelError`` (with
what was wrong) on anything else. Which references a side accepts is decided by the
``Decoder`` subclass each side uses (the checker rejects ``M`` and keeps only copies of
generators).

Reading and writing take a deadline: a peer that sends nothing, sends too much, or stops
reading cannot block the other side past it.
"""
from __future__ import annotations

import math
import os
import select
import struct
import time

MAX_FRAME = 512 * 2**20          # bytes in one message
MAX_DEPTH = 64                   # nesting of lists, tuples and dicts
MAX_ITEMS = 4_000_000            # values in one message
MAX_INT_DIGITS = 20_000          # decimal digits of one int (2**784 has 237)
MAX_NDIM = 32

NUMPY_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float16", "float32", "float64", "complex64", "complex128")
TORCH_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
                "float64", "complex64", "complex128")
NUMPY_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class ChannelError(Exception):
    """A message that breaks the protocol: malformed, oversized, late or unexpected."""


class PeerGone(ChannelError):
    """The other side closed the channel (it exited or was killed)."""


class Deadline(ChannelError):
    """The other side did not answer, or did not read, before the deadline."""


# ----------------------------------------------------------------------------- framing

def write_frame(fd: int, payload: bytes, deadline: float) -> None:
    """Write one frame to the non-blocking file descriptor ``fd`` before ``deadline``
    (time.monotonic()); raises Deadline or PeerGone."""
    if len(payload) > MAX_FRAME:
        raise ChannelError(f"message of {len(payload)} bytes exceeds the {MAX_FRAME}-byte limit")
    data = memoryview(struct.pack(">I", len(payload)) + payload)
    while data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Deadline("the other side did not read its input before the deadline")
        _, writable, _ = select.select([], [fd], [], min(left, 3600.0))
        if not writable:
            continue
        try:
            n = os.write(fd, data[:1 << 20])
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError, OSError) as err:
            raise PeerGone(f"the other side closed the channel ({err.__class__.__name__})") from None
        data = data[n:]


def _read_exact(fd: int, n: int, deadline: float, keep: bool = True) -> bytes:
    """n bytes from ``fd`` (discarded when keep is False) before ``deadline``."""
    chunks, got = [], 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Deadline("no complete message before the deadline")
        readable, _, _ = select.select([fd], [], [], min(left, 3600.0))
        if not readable:
            continue
        try:
            chunk = os.read(fd, min(n - got, 1 << 20))
        except BlockingIOError:
            continue
        except OSError as err:
            raise PeerGone(f"the other side closed the channel ({err.__class__.__name__})") from None
        if not chunk:
            raise PeerGone("the other side closed the channel")
        got += len(chunk)
        if keep:
            chunks.append(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float, max_frame: int = MAX_FRAME) -> bytes:
    """One frame's payload from the non-blocking ``fd`` before ``deadline``. A frame longer than
    ``max_frame`` is read and thrown away (the stream stays in step) and raises ChannelError."""
    (size,) = struct.unpack(">I", _read_exact(fd, 4, deadline))
    if size > max_frame:
        _read_exact(fd, size, deadline, keep=False)
        raise ChannelError(f"message of {size} bytes exceeds the {max_frame}-byte limit (discarded)")
    return _read_exact(fd, size, deadline)


def set_nonblocking(fd: int) -> None:
    os.set_blocking(fd, False)


# ----------------------------------------------------------------------------- encoding

_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class Encoder:
    """Turns a value into bytes. Objects that are not data go to ``other``, which a subclass
    overrides (the student sends handles, the checker callbacks, layers and generators).

    ``by_value``: the generators and layers sent as copies, in order (their new states may come
    back after a call: see ``Decoder.created``)."""

    def __init__(self):
        self.out = bytearray()
        self.by_value: list = []
        self._items = 0

    def encode(self, value) -> bytes:
        self.value(value, 0)
        return bytes(self.out)

    def _u32(self, n: int) -> None:
        self.out += _U32.pack(n)

    def _str(self, s: str) -> None:
        raw = s.encode("utf-8", "surrogatepass")
        self._u32(len(raw))
        self.out += raw

    def value(self, v, depth: int) -> None:  # noqa: C901 (one branch per type)
        self._items += 1
        if self._items > MAX_ITEMS:
            raise ChannelError(f"more than {MAX_ITEMS} values in one message")
        if depth > MAX_DEPTH:
            raise ChannelError(f"values nested deeper than {MAX_DEPTH}")
        t = type(v)
        if v is None:
            self.out += b"N"
        elif v is True or v is False:
            self.out += b"T" if v else b"F"
        elif t is int or (isinstance(v, int) and not isinstance(v, bool) and not _is_numpy_scalar(v)):
            v = int(v)
            if -(2**63) <= v < 2**63:
                self.out += b"i" + _I64.pack(v)
            else:
                digits = str(v)
                if len(digits) > MAX_INT_DIGITS:
                    raise ChannelError(f"an int of {len(digits)} digits exceeds {MAX_INT_DIGITS}")
                self.out += b"I"
                self._str(digits)
        elif t is float or (isinstance(v, float) and not _is_numpy_scalar(v)):
            self.out += b"f" + _F64.pack(float(v))
        elif t is complex:
            self.out += b"c" + _F64.pack(v.real) + _F64.pack(v.imag)
        elif t is str or (isinstance(v, str)):
            self.out += b"s"
            self._str(str.__str__(v))
        elif t is bytes or isinstance(v, (bytearray, memoryview)) or isinstance(v, bytes):
            raw = bytes(v)
            self.out += b"b"
            self._u32(len(raw))
            self.out += raw
        elif isinstance(v, (list, tuple)):  # subclasses (namedtuple...) as the plain container
            items = list(list.__iter__(v)) if isinstance(v, list) else list(tuple.__iter__(v))
            self.out += b"l" if isinstance(v, list) else b"t"
            self._u32(len(items))
            for item in items:
                self.value(item, depth + 1)
        elif isinstance(v, dict):
            items = list(dict.items(v))
            self.out += b"d"
            self._u32(len(items))
            for key, item in items:
                self.value(key, depth + 1)
                self.value(item, depth + 1)
        else:
            self.other(v, depth)

    def array(self, tag: bytes, dtype: str, shape: tuple, raw: bytes, extra: bytes = b"") -> None:
        if len(shape) > MAX_NDIM:
            raise ChannelError(f"an array with {len(shape)} dimensions exceeds {MAX_NDIM}")
        self.out += tag
        self._str(dtype)
        self.out += bytes([len(shape)])
        for n in shape:
            self.out += _U64.pack(int(n))
        self.out += extra
        self.out += _U64.pack(len(raw))
        self.out += raw

    def numpy_array(self, a) -> None:
        import numpy as np

        a = np.asarray(a)
        name = a.dtype.name
        if name not in NUMPY_DTYPES:
            raise ChannelError(f"NumPy arrays of dtype {a.dtype} cannot be sent (numeric dtypes only)")
        a = np.asarray(a, dtype=a.dtype.newbyteorder("<"), order="C")
        self.array(b"a", name, a.shape, a.tobytes())

    def numpy_scalar(self, s) -> None:
        import numpy as np

        name = np.dtype(type(s)).name
        if name not in NUMPY_DTYPES:
            raise ChannelError(f"NumPy scalars of type {type(s).__name__} cannot be sent")
        self.out += b"g"
        self._str(name)
        raw = np.asarray(s, dtype=np.dtype(name).newbyteorder("<")).tobytes()
        self._u32(len(raw))
        self.out += raw

    def tensor(self, t) -> None:
        import torch

        with torch._C.DisableTorchFunctionSubclass():  # a subclass's __torch_function__ does not run here
            t = t.as_subclass(torch.Tensor) if type(t) is not torch.Tensor else t
        requires_grad = bool(t.requires_grad)
        t = t.detach()
        if t.layout != torch.strided or t.is_quantized or t.is_meta:
            raise ChannelError(f"only dense tensors can be sent, got layout {t.layout}")
        name = str(t.dtype).replace("torch.", "")
        if name not in TORCH_DTYPES:
            raise ChannelError(f"tensors of dtype {t.dtype} cannot be sent")
        t = t.cpu().contiguous()
        if name == "bfloat16":
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.resolve_conj().resolve_neg().numpy().tobytes()
        self.array(b"x", name, tuple(t.shape), raw, bytes([requires_grad]))

    def numpy_generator(self, g) -> None:
        self.by_value.append(g)
        self.out += b"G"
        self.value(g.bit_generator.state, 1)

    def torch_generator(self, g) -> None:
        if str(g.device) != "cpu":
            raise ChannelError(f"only CPU generators can be sent, got {g.device}")
        self.by_value.append(g)
        self.out += b"R"
        raw = g.get_state().numpy().tobytes()
        self._u32(len(raw))
        self.out += raw

    def other(self, v, depth: int) -> None:
        """Objects that are not plain data: arrays, tensors and generators are sent by value;
        anything else is an error here (subclasses send references)."""
        kind = data_kind(v)
        if kind == "ndarray":
            self.numpy_array(v)
        elif kind == "npscalar":
            self.numpy_scalar(v)
        elif kind == "tensor":
            self.tensor(v)
        elif kind == "npgen":
            self.numpy_generator(v)
        elif kind == "torchgen":
            self.torch_generator(v)
        else:
            raise ChannelError(f"a {type(v).__name__} is not data and cannot be sent")

    def student_ref(self, ref_id: int, type_name: str) -> None:
        self.out += b"S" + _U64.pack(ref_id)
        self._str(type_name[:200])

    def checker_ref(self, ref_id: int, type_name: str) -> None:
        self.out += b"K" + _U64.pack(ref_id)
        self._str(type_name[:200])


def _is_numpy_scalar(v) -> bool:
    np = _loaded("numpy")
    return np is not None and isinstance(v, np.generic)


def _loaded(name: str):
    """The module ``name`` if this process imported it (the codec never imports numpy or
    torch for values that do not need them)."""
    import sys

    return sys.modules.get(name)


def data_kind(v) -> str | None:
    """"ndarray", "npscalar", "tensor", "npgen", "torchgen" for the by-value types, else None."""
    np = _loaded("numpy")
    if np is not None:
        if isinstance(v, np.ndarray):
            return "ndarray"
        if isinstance(v, np.generic):
            return "npscalar"
        if isinstance(v, np.random.Generator):
            return "npgen"
    torch = _loaded("torch")
    if torch is not None:
        if isinstance(v, torch.Tensor):
            return "tensor"
        if isinstance(v, torch.Generator):
            return "torchgen"
    return None


# ----------------------------------------------------------------------------- decoding

class Decoder:
    """Turns bytes into a value, checking everything. ``created``: the generators and layers it
    built as copies, in order (the reply to a call may carry their new states)."""

    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0
        self.items = 0
        self.created: list = []

    def decode(self):
        value = self.value(0)
        if self.pos != len(self.data):
            raise ChannelError(f"{len(self.data) - self.pos} unexpected bytes after the message")
        return value

    def _take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise ChannelError("message ends in the middle of a value")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def _u32(self) -> int:
        return _U32.unpack(self._take(4))[0]

    def _u64(self) -> int:
        return _U64.unpack(self._take(8))[0]

    def _str(self, limit: int | None = None) -> str:
        n = self._u32()
        if limit is not None and n > limit:
            raise ChannelError(f"a string of {n} bytes where at most {limit} are allowed")
        try:
            return bytes(self._take(n)).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise ChannelError("a string that is not UTF-8") from None

    def value(self, depth: int):  # noqa: C901 (one branch per tag)
        self.items += 1
        if self.items > MAX_ITEMS:
            raise ChannelError(f"more than {MAX_ITEMS} values in one message")
        if depth > MAX_DEPTH:
            raise ChannelError(f"values nested deeper than {MAX_DEPTH}")
        tag = bytes(self._take(1))
        if tag == b"N":
            return None
        if tag == b"T":
            return True
        if tag == b"F":
            return False
        if tag == b"i":
            return _I64.unpack(self._take(8))[0]
        if tag == b"I":
            digits = self._str(MAX_INT_DIGITS + 1)
            if not digits or not (digits.lstrip("-").isdigit() and digits.isascii()):
                raise ChannelError("a malformed int")
            return int(digits)
        if tag == b"f":
            return _F64.unpack(self._take(8))[0]
        if tag == b"c":
            return complex(_F64.unpack(self._take(8))[0], _F64.unpack(self._take(8))[0])
        if tag == b"s":
            return self._str()
        if tag == b"b":
            return bytes(self._take(self._u32()))
        if tag in (b"l", b"t"):
            n = self._u32()
            if n > len(self.data) - self.pos:  # every value takes at least one byte
                raise ChannelError(f"a list of {n} items in a message too short to hold them")
            items = [self.value(depth + 1) for _ in range(n)]
            return items if tag == b"l" else tuple(items)
        if tag == b"d":
            n = self._u32()
            if 2 * n > len(self.data) - self.pos:
                raise ChannelError(f"a dict of {n} items in a message too short to hold them")
            out = {}
            for _ in range(n):
                key = self.value(depth + 1)
                if not _valid_key(key):
                    raise ChannelError(f"a dict key of type {type(key).__name__} (str, int, float, bool, None "
                                       "or tuples of those only)")
                out[key] = self.value(depth + 1)
            return out
        if tag == b"a":
            return self.numpy_array()
        if tag == b"g":
            return self.numpy_scalar()
        if tag == b"x":
            return self.tensor()
        if tag == b"G":
            return self.numpy_generator(self.value(depth + 1))
        if tag == b"R":
            return self.torch_generator(bytes(self._take(self._u32())))
        if tag == b"S":
            ref = self._u64()
            return self.student_ref(ref, self._str(200))
        if tag == b"K":
            ref = self._u64()
            return self.checker_ref(ref, self._str(200))
        if tag == b"M":
            return self.module(self.value(depth + 1))
        raise ChannelError(f"unknown value tag {tag!r}")

    def _array_header(self, allowed: tuple[str, ...]) -> tuple[str, tuple[int, ...], int]:
        dtype = self._str(16)
        if dtype not in allowed:
            raise ChannelError(f"dtype {dtype!r} is not allowed")
        ndim = self._take(1)[0]
        if ndim > MAX_NDIM:
            raise ChannelError(f"an array with {ndim} dimensions exceeds {MAX_NDIM}")
        shape = tuple(self._u64() for _ in range(ndim))
        return dtype, shape, math.prod(shape)

    def _raw(self, count: int, itemsize: int) -> bytes:
        nbytes = self._u64()
        if nbytes != count * itemsize:
            raise ChannelError(f"array data of {nbytes} bytes for {count} items of {itemsize} bytes")
        return bytes(self._take(nbytes))

    def numpy_array(self):
        import numpy as np

        dtype, shape, count = self._array_header(NUMPY_DTYPES)
        dt = np.dtype(dtype).newbyteorder("<")
        raw = self._raw(count, dt.itemsize)
        return np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="), copy=True).reshape(shape)

    def numpy_scalar(self):
        import numpy as np

        dtype = self._str(16)
        if dtype not in NUMPY_DTYPES:
            raise ChannelError(f"dtype {dtype!r} is not allowed")
        dt = np.dtype(dtype).newbyteorder("<")
        raw = bytes(self._take(self._u32()))
        if len(raw) != dt.itemsize:
            raise ChannelError(f"a {dtype} scalar of {len(raw)} bytes")
        return np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="))[0]

    def tensor(self):
        import numpy as np
        import torch

        dtype, shape, count = self._array_header(TORCH_DTYPES)
        flag = self._take(1)[0]
        if flag not in (0, 1):
            raise ChannelError("a malformed requires_grad flag")
        np_name = "int16" if dtype == "bfloat16" else dtype
        dt = np.dtype(np_name).newbyteorder("<")
        raw = self._raw(count, dt.itemsize)
        arr = np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="), copy=True).reshape(shape)
        t = torch.from_numpy(arr)
        if dtype == "bfloat16":
            t = t.view(torch.bfloat16)
        if flag and t.is_floating_point():
            t.requires_grad_(True)
        return t

    def numpy_generator(self, state):
        import numpy as np

        if not isinstance(state, dict) or state.get("bit_generator") not in NUMPY_BIT_GENERATORS:
            raise ChannelError("a NumPy generator state must name one of " + ", ".join(NUMPY_BIT_GENERATORS))
        bit_gen = getattr(np.random, state["bit_generator"])()
        try:
            bit_gen.state = state
        except Exception as err:  # NumPy validates the state's fields
            raise ChannelError(f"an invalid {state['bit_generator']} state ({err})") from None
        gen = np.random.Generator(bit_gen)
        self.created.append(gen)
        return gen

    def torch_generator(self, raw: bytes):
        import torch

        gen = torch.Generator()
        try:
            gen.set_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
        except Exception as err:  # torch checks the state's size
            raise ChannelError(f"an invalid torch generator state ({err})") from None
        self.created.append(gen)
        return gen

    # References: a side accepts only the kinds it expects (overridden per side).
    def student_ref(self, ref_id: int, type_name: str):
        raise ChannelError("a reference to a student object is not allowed here")

    def checker_ref(self, ref_id: int, type_name: str):
        raise ChannelError("a reference to a checker object is not allowed here")

    def module(self, spec):
        raise ChannelError("a torch.nn layer sent by value is not allowed here")


def _valid_key(key) -> bool:
    if key is None or type(key) in (str, int, float, bool):
        return True
    return type(key) is tuple and all(_valid_key(k) for k in key)


# ----------------------------------------------------------------------------- torch.nn layers by value

# Layers from torch itself that a checker may hand to a student function by value (a test
# passes nn.Linear(2, 1) to train_classifier): class -> constructor arguments read from an
# instance. Their trained parameters come back after the call.
LAYER_ARGS = {
    "Linear": lambda m: {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None},
    "Sigmoid": lambda m: {}, "Tanh": lambda m: {}, "ReLU": lambda m: {}, "Identity": lambda m: {},
    "Softplus": lambda m: {"beta": float(m.beta), "threshold": float(m.threshold)},
    "Sequential": lambda m: {}, "ModuleList": lambda m: {},
}


def layer_spec(module) -> dict | None:
    """{"cls", "args", "children", "state", "training", "extra"} of a torch.nn layer built only
    from the classes of LAYER_ARGS (exact classes, no hooks); None for anything else. "extra":
    the plain attributes (numbers, str) set on the instance."""
    import torch.nn as nn

    cls = type(module)
    if cls.__module__.split(".")[:2] != ["torch", "nn"] or cls.__name__ not in LAYER_ARGS:
        return None
    if module._forward_hooks or module._forward_pre_hooks or module._backward_hooks:
        return None
    children = []
    if cls in (nn.Sequential, nn.ModuleList):
        for child in module.children():
            spec = layer_spec(child)
            if spec is None:
                return None
            children.append(spec)
    elif any(True for _ in module.children()):
        return None
    state = {k: v.detach().clone() for k, v in module.state_dict(keep_vars=False).items()} if not children else {}
    extra = {k: v for k, v in vars(module).items()  # plain attributes a test set (layer.n_vars = 5)
             if not k.startswith("_") and k != "training" and type(v) in (bool, int, float, str)}
    return {"cls": cls.__name__, "args": LAYER_ARGS[cls.__name__](module), "children": children,
            "state": state, "training": bool(module.training), "extra": extra}


def build_layer(spec):
    """The torch.nn layer described by ``spec`` (``layer_spec``), checked field by field."""
    import torch
    import torch.nn as nn

    if not isinstance(spec, dict) or set(spec) != {"cls", "args", "children", "state", "training", "extra"}:
        raise ChannelError("a malformed layer")
    extra = spec["extra"]
    if not isinstance(extra, dict) or not all(isinstance(k, str) and k.isidentifier() and not k.startswith("_")
                                              and type(v) in (bool, int, float, str) for k, v in extra.items()):
        raise ChannelError("malformed layer attributes")
    name, args, children = spec["cls"], spec["args"], spec["children"]
    if name not in LAYER_ARGS or not isinstance(args, dict) or not isinstance(children, list):
        raise ChannelError(f"layer class {name!r} is not allowed")
    if not all(isinstance(k, str) and isinstance(v, (bool, int, float)) for k, v in args.items()):
        raise ChannelError("malformed layer arguments")
    cls = getattr(nn, name)
    try:
        if name in ("Sequential", "ModuleList"):
            built = [build_layer(c) for c in children]
            layer = cls(*built) if name == "Sequential" else cls(built)
        else:
            layer = cls(**args)
            state = spec["state"]
            if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
                raise ChannelError("a malformed layer state")
            layer.load_state_dict(state)
    except ChannelError:
        raise
    except Exception as err:
        raise ChannelError(f"layer {name} could not be built ({err})") from None
    layer.train(bool(spec["training"]))
    for key, value in extra.items():
        if key not in vars(layer) or type(vars(layer)[key]) is type(value):
            setattr(layer, key, value)
    return layer


def layer_state(layer) -> dict:
    """The parameters and buffers of a layer, detached (what comes back after a call)."""
    return {k: v.detach().clone() for k, v in layer.state_dict().items()}


def apply_layer_state(layer, state) -> None:
    """Copy ``state`` (from the other side) into ``layer``: same names, shapes and dtypes as the
    layer's own, or ChannelError."""
    import torch

    own = layer.state_dict()
    if not isinstance(state, dict) or set(state) != set(own):
        raise ChannelError("the returned state of a layer has other entries than the layer")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor) or value.shape != own[key].shape or value.dtype != own[key].dtype:
            raise ChannelError(f"the returned {key} of a layer has the wrong shape or dtype")
    with torch.no_grad():
        for key, value in state.items():
            own[key].copy_(value)
