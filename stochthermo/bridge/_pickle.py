"""Allow-list unpickler for PyTorch checkpoints: builds lazy tensor references, runs nothing.

Only the globals in :data:`_ALLOWED` (tensor-rebuild functions, storage types, dtype names,
``collections.OrderedDict``) can be named by the pickle; each maps to a function or marker of
*this* module, so no code from the file's namespace is ever imported or called. Storages are
resolved through a callback supplied by the container format (zip or legacy) and read only when
a tensor is materialised.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import pickletools
import reprlib
import types
from dataclasses import dataclass

import numpy as np

from ..errors import BridgeError, CorruptFileError, UnsafeFileError
from ._dtypes import FLOAT8_FORMATS, WIDEN, widen

__all__ = [
    "StorageType",
    "Storage",
    "TensorRef",
    "restricted_load",
    "STORAGE_TYPES",
    "named",
    "brief",
]


@dataclass(frozen=True)
class StorageType:
    """A torch storage class named by the pickle (``torch.FloatStorage`` ...)."""

    name: str
    dtype: np.dtype  # dtype of the raw little-endian record
    #: a narrow type NumPy lacks (``bfloat16``, ``complex32``, ``float8_*``), widened exactly
    narrow: str | None = None

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def untyped(self) -> bool:
        """A byte storage (``torch.UntypedStorage``): tensors on it carry their own dtype."""
        return self.name == "UntypedStorage"

    def __setstate__(self, state):  # a BUILD opcode on a marker is malformed
        raise CorruptFileError("malformed pickle: state applied to a storage type")


def _st(name, code, narrow=None):
    return StorageType(name, np.dtype(code), narrow)


STORAGE_TYPES = {
    "DoubleStorage": _st("DoubleStorage", "<f8"),
    "FloatStorage": _st("FloatStorage", "<f4"),
    "HalfStorage": _st("HalfStorage", "<f2"),
    "BFloat16Storage": _st("BFloat16Storage", "<u2", "bfloat16"),
    "LongStorage": _st("LongStorage", "<i8"),
    "IntStorage": _st("IntStorage", "<i4"),
    "ShortStorage": _st("ShortStorage", "<i2"),
    "CharStorage": _st("CharStorage", "i1"),
    "ByteStorage": _st("ByteStorage", "u1"),
    "BoolStorage": _st("BoolStorage", "?"),
    "ComplexFloatStorage": _st("ComplexFloatStorage", "<c8"),
    "ComplexDoubleStorage": _st("ComplexDoubleStorage", "<c16"),
    "UntypedStorage": _st("UntypedStorage", "u1"),
}
# dtypes that only exist on untyped storages (``_rebuild_tensor_v3``): name -> storage type
_V3_TYPES = {
    "uint16": _st("UInt16", "<u2"), "uint32": _st("UInt32", "<u4"),
    "uint64": _st("UInt64", "<u8"),
    "complex32": _st("ComplexHalf", "<u4", "complex32"), "chalf": None,
    **{name: _st(name, "u1", name) for name in FLOAT8_FORMATS},
}
_V3_TYPES["chalf"] = _V3_TYPES["complex32"]
# tensor kinds with no NumPy meaning: refused with their name
_REFUSED_STORAGES = ("QInt8Storage", "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage",
                     "QUInt2x4Storage")
_REFUSED_REBUILDERS = {
    "_rebuild_qtensor": "a quantized tensor",
    "_rebuild_sparse_tensor": "a sparse tensor",
    "_rebuild_sparse_csr": "a sparse CSR tensor",
    "_rebuild_nested_tensor": "a nested tensor",
    "_rebuild_meta_tensor_no_storage": "a meta tensor (no data)",
    "_rebuild_wrapper_subclass": "a tensor subclass without storage",
    "_rebuild_device_tensor_from_numpy": "a device tensor",
    "_rebuild_xla_tensor": "an XLA tensor",
    "_rebuild_mps_tensor": "an MPS tensor",
}

# torch dtype names (``GLOBAL 'torch float32'``) -> storage type of that dtype
_DTYPE_NAMES = {
    "float64": "DoubleStorage", "double": "DoubleStorage",
    "float32": "FloatStorage", "float": "FloatStorage",
    "float16": "HalfStorage", "half": "HalfStorage",
    "bfloat16": "BFloat16Storage",
    "int64": "LongStorage", "long": "LongStorage",
    "int32": "IntStorage", "int": "IntStorage",
    "int16": "ShortStorage", "short": "ShortStorage",
    "int8": "CharStorage", "uint8": "ByteStorage", "bool": "BoolStorage",
    "complex64": "ComplexFloatStorage", "complex128": "ComplexDoubleStorage",
    "cfloat": "ComplexFloatStorage", "cdouble": "ComplexDoubleStorage",
}


@dataclass(frozen=True)
class _DType:
    """Marker for a torch dtype object named by the pickle."""

    storage: StorageType
    name: str = ""

    def __setstate__(self, state):
        raise CorruptFileError("malformed pickle: state applied to a dtype")

    def __repr__(self):
        return f"torch.{self.name}"


@dataclass(frozen=True)
class TorchValue:
    """An inert stand-in for a benign torch object in a checkpoint (layout, qscheme, ...)."""

    name: str

    def __setstate__(self, state):
        raise CorruptFileError("malformed pickle: state applied to a torch value")

    def __repr__(self):
        return self.name


class Storage:
    """A storage record: ``numel`` items of ``stype``, read on demand by ``loader``."""

    __slots__ = ("key", "stype", "numel", "refs", "_loader", "_cache", "_typed")

    def __init__(self, key: str, stype: StorageType, numel: int, loader):
        self.key, self.stype, self.numel = key, stype, numel
        self.refs = 0  # number of tensors viewing this storage
        self._loader = loader
        self._cache: np.ndarray | None = None
        self._typed: dict = {}  # untyped storage: its views as typed storages

    def typed(self, stype: StorageType) -> Storage:
        """The byte storage seen as items of ``stype`` (one view per type, shared)."""
        if stype.itemsize == 1:
            return self if stype.dtype == self.stype.dtype else self._typed.setdefault(
                stype.name, Storage(self.key, stype, self.numel,
                                    lambda: self.array().view(stype.dtype)))
        if stype.name not in self._typed:
            n, rest = divmod(self.numel, stype.itemsize)
            if rest:
                raise CorruptFileError(
                    f"storage record {self.key!r} holds {self.numel} bytes, not a whole number "
                    f"of {stype.itemsize}-byte items"
                )
            dt = stype.dtype

            def loader(base=self, dt=dt):
                raw = base.array()
                return raw.view(dt.newbyteorder("<")).astype(dt.newbyteorder("="), copy=False)

            self._typed[stype.name] = Storage(self.key, stype, n, loader)
        return self._typed[stype.name]

    def array(self) -> np.ndarray:
        """The record as a 1-d array in native byte order (read once, then cached)."""
        if self._cache is None:
            arr = self._loader()
            if arr.shape != (self.numel,):
                raise CorruptFileError(
                    f"storage record {self.key!r} holds {arr.size} items, expected {self.numel}"
                )
            self._cache = arr
        return self._cache

    def release(self):
        self._cache = None

    def __setstate__(self, state):
        raise CorruptFileError("malformed pickle: state applied to a storage")


class TensorRef:
    """A tensor described by the pickle: a view ``(offset, shape, stride)`` into a storage."""

    __slots__ = ("storage", "offset", "shape", "stride", "stype")

    def __init__(self, storage, offset, shape, stride, stype=None):
        if not isinstance(storage, Storage):
            raise CorruptFileError("malformed tensor record: its storage is not a storage record")
        offset = _as_int("storage offset", offset)
        shape = _as_int_tuple("size", shape)
        stride = _as_int_tuple("stride", stride)
        if len(shape) != len(stride):
            raise CorruptFileError(f"malformed tensor record: size {shape} and stride {stride}")
        if offset < 0 or any(s < 0 for s in shape) or any(s < 0 for s in stride):
            raise CorruptFileError(
                f"malformed tensor record: negative offset/size/stride ({offset}, {shape}, "
                f"{stride})"
            )
        if math.prod(shape) > 0:
            last = offset + sum((s - 1) * st for s, st in zip(shape, stride, strict=True))
            if last >= storage.numel:
                raise CorruptFileError(
                    f"tensor of size {shape}, stride {stride}, offset {offset} reaches item "
                    f"{last} of storage record {storage.key!r}, which holds only "
                    f"{storage.numel} items (storage record too short)"
                )
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride
        storage.refs += 1
        self.stype = stype or storage.stype
        if self.stype.itemsize != storage.stype.itemsize:
            raise CorruptFileError("tensor dtype does not match its storage's item size")

    @property
    def dtype(self) -> np.dtype:
        """Dtype of the materialised array (bfloat16, float8 as float32; complex32 as c64)."""
        if self.stype.narrow is not None:
            return WIDEN[self.stype.narrow][1]
        return self.stype.dtype.newbyteorder("=")

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of the materialised array (known from the pickle, before any data is read)."""
        return self.size * self.dtype.itemsize

    def describe(self) -> str:
        """Shape, dtype and, for an expanded view, how many stored items it repeats."""
        text = f"shape {self.shape}, {self.dtype}"
        if self.size > self.storage.numel:
            text += f", an expanded view of {self.storage.numel} stored items"
        return text

    def materialize(self, copy: bool = True) -> np.ndarray:
        """A C-contiguous array holding exactly the tensor's values.

        A new writeable array, unless ``copy=False`` allows a read-only view of a mapped file
        (a contiguous tensor that alone uses its whole storage record).
        """
        base = self.storage.array()
        if self.stype.dtype != self.storage.stype.dtype:
            base = base.view(self.stype.dtype.newbyteorder("="))
        n = self.size
        if n == 0:
            out = np.empty(self.shape, dtype=base.dtype)
        else:
            item = base.itemsize
            contiguous = _c_strides(self.shape) == self.stride
            if contiguous and self.offset == 0 and n == base.size and self.storage.refs == 1:
                out = base.reshape(self.shape)  # sole owner of the record: no copy needed
            else:
                view = np.lib.stride_tricks.as_strided(
                    base[self.offset:],
                    shape=self.shape,
                    strides=tuple(s * item for s in self.stride),
                    writeable=False,
                )
                out = np.array(view, order="C", copy=True)
        if self.stype.narrow is not None:
            out = widen(self.stype.narrow, out)
        elif copy and not out.flags.writeable:
            out = out.copy()
        return out

    def __setstate__(self, state):
        raise CorruptFileError("malformed pickle: state applied to a tensor")

    def __repr__(self):
        return f"TensorRef({self.stype.name}, shape={self.shape})"


def _c_strides(shape):
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(out))


def _as_int(what, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise CorruptFileError(f"malformed tensor record: {what} is {type(v).__name__}, not int")
    return v


def _as_int_tuple(what, v) -> tuple:
    if not isinstance(v, tuple | list):
        raise CorruptFileError(f"malformed tensor record: {what} is {type(v).__name__}")
    return tuple(_as_int(what, x) for x in v)


# ---- the only callables a pickle can reach -------------------------------------------------


def _rebuild_tensor(storage, storage_offset, size, stride):
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, dtype=None, metadata=None):
    if not isinstance(dtype, _DType):
        raise CorruptFileError("malformed tensor record: _rebuild_tensor_v3 without a dtype")
    if isinstance(storage, Storage) and storage.stype.untyped:
        storage = storage.typed(dtype.storage)
    return TensorRef(storage, storage_offset, size, stride, dtype.storage)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, TensorRef):
        raise CorruptFileError("malformed parameter record: its data is not a tensor")
    return data


class _TensorType:
    """Marker for ``torch.Tensor`` / ``torch.nn.Parameter`` passed as a type argument."""

    def __setstate__(self, state):
        raise CorruptFileError("malformed pickle: state applied to a type marker")


_TENSOR_TYPE = _TensorType()
_REBUILDERS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter)


def _rebuild_from_type_v2(func, new_type, args, state):
    func = getattr(func, "fn", None)  # the allow-listed callable as the pickle named it
    if func not in _REBUILDERS or new_type is not _TENSOR_TYPE or not isinstance(args, tuple):
        raise CorruptFileError("malformed tensor-subclass record")
    return func(*args)


def _size(*args):
    if len(args) == 1 and isinstance(args[0], tuple | list):
        args = tuple(args[0])
    return _as_int_tuple("torch.Size", args)


def _device(*args):
    if not args or not isinstance(args[0], str):
        raise CorruptFileError("malformed torch.device record")
    return args[0] if len(args) == 1 else f"{args[0]}:{args[1]}"


def _codecs_encode(text=None, encoding=None, *rest):
    """``bytes`` as protocol-2 pickles write them: ``_codecs.encode(str, 'latin1')`` only."""
    if rest or not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CorruptFileError("malformed bytes record (_codecs.encode)")
    return text.encode("latin-1")


def _bytearray(data=b"", *rest):
    if rest or not isinstance(data, bytes | bytearray):
        raise CorruptFileError("malformed bytearray record")
    return bytearray(data)


def _complex(real=0.0, imag=0.0, *rest):
    if rest or not all(isinstance(v, int | float) and not isinstance(v, bool)
                       for v in (real, imag)):
        raise CorruptFileError("malformed complex record")
    return complex(real, imag)


_LAYOUTS = ("torch.strided", "torch.sparse_coo", "torch.sparse_csr", "torch.sparse_csc",
            "torch.sparse_bsr", "torch.sparse_bsc", "torch._mkldnn", "torch.jagged")


def _get_layout(name=None, *rest):
    if rest or name not in _LAYOUTS:
        raise CorruptFileError(f"malformed layout record {brief(name)}")
    return TorchValue(name)


def _refused(what):
    def refuse(*args, **kwargs):
        raise BridgeError(
            f"the checkpoint holds {what}, which has no NumPy meaning; convert it before "
            "saving (e.g. tensor.dequantize() or tensor.to_dense()) to read it without PyTorch"
        )

    return refuse


class _RefusedStorage:
    """A storage type of quantized tensors: refused when a tensor uses it."""

    def __init__(self, name):
        self.name = name

    def __setstate__(self, state):
        raise CorruptFileError("malformed pickle: state applied to a storage type")


class _Callable:
    """An allow-listed function as a pickle sees it: callable, but it takes no state.

    A ``BUILD`` opcode on a bare function would set its attributes (``__defaults__``,
    ``__kwdefaults__``) for the rest of the process, so one file could change how later files
    are read; on this wrapper it raises.
    """

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __setstate__(self, state):
        raise CorruptFileError("malformed pickle: state applied to a function")

    def __repr__(self):
        return f"<allow-listed {self.fn.__name__}>"


class _OrderedDict(collections.OrderedDict):
    """``collections.OrderedDict`` as a pickle builds it, without its instance attributes.

    PyTorch pickles a state dict's ``_metadata`` as the mapping's state; it holds no tensors
    and is dropped, so a ``BUILD`` cannot shadow the mapping's methods (``items``, ``get``).
    """

    def __setstate__(self, state):
        pass


_ALLOWED: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): _OrderedDict,
    ("_codecs", "encode"): _codecs_encode,
    ("__builtin__", "bytearray"): _bytearray,
    ("builtins", "bytearray"): _bytearray,
    ("__builtin__", "complex"): _complex,
    ("builtins", "complex"): _complex,
    ("torch.serialization", "_get_layout"): _get_layout,
    ("torch.storage", "UntypedStorage"): STORAGE_TYPES["UntypedStorage"],
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): _TENSOR_TYPE,
    ("torch.nn.parameter", "Parameter"): _TENSOR_TYPE,
    ("torch", "Size"): _size,
    ("torch", "device"): _device,
}
for _name, _stype in STORAGE_TYPES.items():
    _ALLOWED[("torch", _name)] = _stype
for _name, _sname in _DTYPE_NAMES.items():
    _ALLOWED[("torch", _name)] = _DType(STORAGE_TYPES[_sname], _name)
for _name, _stype in _V3_TYPES.items():
    _ALLOWED[("torch", _name)] = _DType(_stype, _name)
for _name in ("per_tensor_affine", "per_channel_affine", "per_tensor_symmetric",
              "per_channel_symmetric", "per_channel_affine_float_qparams"):
    _ALLOWED[("torch", _name)] = TorchValue(f"torch.{_name}")
for _name in ("qint8", "quint8", "qint32", "quint4x2", "quint2x4"):
    _ALLOWED[("torch", _name)] = TorchValue(f"torch.{_name}")
for _name in _REFUSED_STORAGES:
    _ALLOWED[("torch", _name)] = _RefusedStorage(_name)
for _name, _what in _REFUSED_REBUILDERS.items():
    _ALLOWED[("torch._utils", _name)] = _refused(_what)
for _key, _value in _ALLOWED.items():
    if isinstance(_value, types.FunctionType):
        _ALLOWED[_key] = _Callable(_value)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, resolve, pid_len):
        super().__init__(file, encoding="utf-8")
        self._resolve = resolve
        self._pid_len = pid_len

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise UnsafeFileError(
                f"the pickle names the global {module}.{name}, which is not on the allow-list "
                "of tensor-rebuild functions, storage types and plain containers; nothing was "
                "executed. Save only tensors and plain containers (e.g. model.state_dict()) "
                "to read the file without PyTorch"
            ) from None

    def persistent_load(self, pid):
        if self._resolve is None:
            raise CorruptFileError("unexpected persistent reference in a plain pickle")
        if (
            not isinstance(pid, tuple)
            or len(pid) not in self._pid_len
            or pid[0] != "storage"
            or not isinstance(pid[1], StorageType)
            or not isinstance(pid[2], str)
            or isinstance(pid[4], bool)
            or not isinstance(pid[4], int)
            or pid[4] < 0
        ):
            if (isinstance(pid, tuple) and len(pid) > 1
                    and isinstance(pid[1], _RefusedStorage)):
                _refused(f"a quantized tensor (torch.{pid[1].name})")()
            raise CorruptFileError(f"malformed storage reference {brief(pid)}")
        return self._resolve(pid)


_BRIEF = reprlib.Repr()
_BRIEF.maxlevel = 3
_BRIEF.maxtuple = _BRIEF.maxlist = _BRIEF.maxdict = _BRIEF.maxset = 6
_BRIEF.maxstring = _BRIEF.maxother = 60


def brief(obj) -> str:
    """A short repr of an object built by a pickle, for messages.

    Bounded in length and in work: ``repr`` of lists that reference one another can take time
    doubling with every level (a pickle of a few hundred bytes would never finish printing).
    """
    return _BRIEF.repr(obj)


def named(exc: BridgeError, what: str) -> BridgeError:
    """``exc``, with ``what`` (the file) in front of its message unless it names it already.

    The rebuild functions and storage records raise without knowing the file they are read
    from; among hundreds of checkpoints the message must say which one.
    """
    text = str(exc)
    if what in text:
        return exc
    return type(exc)(f"{what}: {text}")


# ---- a pass over the opcodes before unpickling ----------------------------------------------

#: opcode -> how its argument is stored: a fixed byte count (>= 0), -1 one text line, -2 two
#: text lines, or ``(n, signed)`` a length of n bytes followed by that many bytes
_ARGS: dict[int, int | tuple[int, bool]] = {}
#: opcode -> its effect on the stack of object sizes (see :func:`_prescan`): a name for the
#: opcodes that build, fill, copy or memoise objects, else ``(pops to a mark, n popped, n pushed)``
_STACK: dict[int, str | tuple[bool, int, int]] = {}
_NAMED = {
    "MARK": "mark", "POP_MARK": "pop_mark", "POP": "pop", "DUP": "dup", "STOP": "stop",
    "PUT": "put", "BINPUT": "put", "LONG_BINPUT": "put", "MEMOIZE": "memoize",
    "GET": "get", "BINGET": "get", "LONG_BINGET": "get",
    "LIST": "new_from_mark", "TUPLE": "new_from_mark", "DICT": "new_from_mark",
    "FROZENSET": "new_from_mark", "TUPLE1": "new_1", "TUPLE2": "new_2", "TUPLE3": "new_3",
    "APPENDS": "add_from_mark", "SETITEMS": "add_from_mark", "ADDITEMS": "add_from_mark",
    "APPEND": "add_1", "SETITEM": "add_2",
}
for _op in pickletools.opcodes:
    _code = ord(_op.code.encode("latin-1"))
    if _op.arg is None:
        _ARGS[_code] = 0
    elif _op.arg.n >= 0:
        _ARGS[_code] = _op.arg.n
    elif _op.arg.n == pickletools.UP_TO_NEWLINE:
        _ARGS[_code] = -2 if _op.arg.name == "stringnl_noescape_pair" else -1
    else:
        _ARGS[_code] = {pickletools.TAKEN_FROM_ARGUMENT1: (1, False),
                        pickletools.TAKEN_FROM_ARGUMENT4: (4, True),
                        pickletools.TAKEN_FROM_ARGUMENT4U: (4, False),
                        pickletools.TAKEN_FROM_ARGUMENT8U: (8, False)}[_op.arg.n]
    _before = [x.name for x in _op.stack_before]
    _STACK[_code] = _NAMED.get(_op.name) or (
        "mark" in _before, 0 if "mark" in _before else len(_before), len(_op.stack_after))
_TEXT_INDEX = ord("p"), ord("g")
#: objects one pickle may describe beyond its own opcodes (references to shared containers
#: multiply: a tuple of two references to a tuple of two references to ... is 2**depth)
_MAX_OBJECTS = 10_000_000


def _prescan(file, what):
    """Read the pickle in ``file`` up to its STOP and refuse the two pickle bombs.

    * Memo indices it could not reach: the unpickler keeps its memo in an array sized by the
      largest index stored (``LONG_BINPUT 0x7fffffff`` alone would allocate and clear
      32 GiB). A pickler numbers memo entries 0, 1, 2, ..., so an index past the number of
      opcodes read so far is refused.
    * Shared references that multiply: a tuple holding two references to a tuple holding two
      references to ... is a few bytes per level but 2**depth objects for hashing it as a dict
      key (inside the unpickler) or printing it. The pass keeps, for each object on the
      pickle's stack, how many objects it expands to (a memo reference counts the whole
      object), and refuses a pickle describing more than ``_MAX_OBJECTS`` plus 16 per opcode.

    Arguments are skipped, not read, so a declared length cannot allocate either. Leaves
    ``file`` where it was.
    """
    start = file.tell()
    stack: list[int] = []
    marks: list[int] = []
    memo: dict[int, int] = {}
    n_ops = 0
    try:
        while True:
            code = file.read(1)
            if not code:
                raise CorruptFileError(f"{what}: pickle data was truncated")
            n_ops += 1
            if code[0] not in _ARGS:
                raise CorruptFileError(f"{what}: malformed pickle (unknown opcode {code!r})")
            index = _argument(file, code[0], what)
            if not _simulate(_STACK[code[0]], stack, marks, memo, index, n_ops, what):
                return
    except IndexError:
        raise CorruptFileError(
            f"{what}: malformed pickle (stack underflow at opcode {n_ops})") from None
    finally:
        file.seek(start)


def _argument(file, op: int, what) -> int:
    """Skip the argument of opcode ``op`` in ``file``; its value when it may be a memo index.

    Returns -1 for arguments that are not numbers (strings, lengths followed by data).
    """
    arg = _ARGS[op]
    if isinstance(arg, tuple):
        n, signed = arg
        head = file.read(n)
        if len(head) != n:
            raise CorruptFileError(f"{what}: pickle data was truncated")
        size = int.from_bytes(head, "little", signed=signed)
        if size < 0:
            raise CorruptFileError(f"{what}: malformed pickle (negative length)")
        file.seek(size, 1)
        return -1
    if arg > 0:
        raw = file.read(arg)
        if len(raw) != arg:
            raise CorruptFileError(f"{what}: pickle data was truncated")
        return int.from_bytes(raw, "little")
    if arg < 0:
        raw = file.readline()
        if arg == -2:
            raw += file.readline()
        if not raw.endswith(b"\n"):
            raise CorruptFileError(f"{what}: pickle data was truncated")
        if op in _TEXT_INDEX:
            try:
                return int(raw)
            except ValueError:
                raise CorruptFileError(
                    f"{what}: malformed pickle (memo index {raw[:30]!r})") from None
    return -1


def _simulate(effect, stack, marks, memo, index, n_ops, what) -> bool:
    """Apply one opcode's ``effect`` to the stack of object counts; False at STOP.

    IndexError when the opcode needs more than the stack holds.
    """
    if isinstance(effect, tuple):
        to_mark, n_pop, n_push = effect
        if to_mark:  # INST, OBJ: everything above the mark
            del stack[marks.pop():]
        elif n_pop > len(stack):
            raise IndexError
        elif n_pop:
            del stack[-n_pop:]
        stack += [1] * n_push  # what calls return is one object
    elif effect == "stop":
        return False
    elif effect == "mark":
        marks.append(len(stack))
    elif effect == "pop_mark":
        del stack[marks.pop():]
    elif effect == "pop":
        if marks and marks[-1] == len(stack):
            marks.pop()
        else:
            stack.pop()
    elif effect == "dup":
        stack.append(stack[-1])
    elif effect in ("put", "memoize"):
        index = len(memo) if effect == "memoize" else index
        if not 0 <= index <= n_ops:
            raise CorruptFileError(
                f"{what}: malformed pickle (memo index {index} after only {n_ops} opcodes; a "
                "pickler numbers its memo entries 0, 1, 2, ...)"
            )
        memo[index] = stack[-1]
    elif effect == "get":
        stack.append(memo.get(index, 1))
    else:  # a container made from, or filled with, the objects above a mark or the top n
        first = marks.pop() if effect.endswith("mark") else len(stack) - int(effect[-1])
        if first < 0:
            raise IndexError
        count = sum(stack[first:])
        del stack[first:]
        if effect.startswith("new"):
            stack.append(1 + count)
        else:
            stack[-1] += count
        if stack[-1] > _MAX_OBJECTS + 16 * n_ops:
            raise CorruptFileError(
                f"{what}: malformed pickle (references to shared objects expand to "
                f"{stack[-1]} objects by opcode {n_ops}; a pickle bomb)"
            )
    return True


def restricted_load(data, resolve=None, *, pid_len=(5,), what="checkpoint"):
    """Unpickle ``data`` (bytes or a binary file) with the allow-list; return the object.

    ``resolve(pid) -> Storage`` turns a persistent storage reference into a :class:`Storage`.
    Every failure becomes a :class:`~stochthermo.errors.BridgeError`.
    """
    file = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    up = _Unpickler(file, resolve, pid_len)
    try:
        _prescan(file, what)
        return up.load()
    except BridgeError as exc:
        raise named(exc, what) from exc.__cause__
    except RecursionError as exc:
        raise CorruptFileError(f"{what}: pickle nested too deeply") from exc
    except MemoryError as exc:
        raise CorruptFileError(f"{what}: pickle asks for too much memory") from exc
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a broken file
        raise CorruptFileError(
            f"{what}: malformed pickle ({type(exc).__name__}: {str(exc)[:200]})"
        ) from exc
