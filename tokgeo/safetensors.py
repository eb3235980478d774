"""Read ``.safetensors`` files as read-only NumPy views, without copying the weights.

The C core maps the file read-only, validates the whole header (checked arithmetic, offsets
that tile the data exactly, known dtypes, ...) and every array returned here is a view into
that mapping::

    import tokgeo.safetensors as st
    weights = st.load("gpt2/model.safetensors")          # dict[str, np.ndarray], file order
    wte = weights["wte.weight"]                           # (50257, 768) float32, read-only
    with st.SafetensorsFile("gpt2/model.safetensors") as f:
        print(f.names[:3], f.shapes["wte.weight"], f.metadata)
        wpe = f.get("wpe.weight")                         # only this tensor is touched

Rules worth knowing:

* **Read-only.** Arrays have ``flags.writeable == False`` and cannot be made writeable; use
  ``arr.copy()`` for a private, writable copy.
* **Lifetime.** Each array's ``.base`` is the open file's handle, which owns the mapping, so an
  array stays valid after the dict, the :class:`SafetensorsFile` and everything else are gone
  (closing a :class:`SafetensorsFile` only drops its own reference; the mapping is released
  when the last array is garbage-collected).
* **Do not overwrite a file while arrays from it are alive.**  The arrays read the file through
  the mapping; if another program truncates or rewrites it in place (``save_file`` to the same
  path), reading them past the file's new end crashes the process (SIGBUS).  Write a new file
  and rename it over the old one instead (what ``huggingface_hub`` does), or ``.copy()`` what
  you keep.  tokgeo's own C code guards its reads: a :class:`tokgeo.GPT2` whose checkpoint was
  truncated raises :class:`tokgeo.TokgeoIOError` (an ``OSError``) naming the file, at the next
  forward pass or during one (the size is re-checked first; a page fault during the pass is
  answered with zero pages and the result discarded).  The NumPy arrays returned here cannot
  be guarded: they are read by NumPy and your code, not by tokgeo, and a SIGBUS cannot be
  turned into a Python exception in code tokgeo does not run (a process-wide handler that
  silently fed them zeros would be worse).  The same holds for the copies :func:`load` makes
  (``bf16="float32"``, unaligned tensors), which NumPy makes from the mapping.
  **``copy=True``** is the safe choice where the file may change under you (a shared or
  network folder, a checkpoint a training job rewrites): the tensors are then read into
  private, writable arrays with ordinary ``pread`` calls, never through the mapping, so a
  later truncation cannot touch them and one during the read raises
  :class:`tokgeo.TokgeoIOError` naming the file (it costs one read of the file and the
  memory of its tensors).
* **Byte order.** safetensors is little-endian; on a little-endian machine arrays have the
  native dtype, elsewhere they carry an explicit little-endian dtype (still a view).
* **Alignment** (``unaligned=``). The official writer aligns every tensor, but a file may
  place a tensor at an offset that is not a multiple of its item size (e.g. a float32 after
  three uint8 values).  NumPy can hold such views (``flags.aligned == False``) but BLIS and
  tokgeo's kernels expect aligned data, so by default (``"copy"``) such a tensor - and only
  such a tensor - is copied into a new aligned, read-only array.  ``"view"`` returns the
  unaligned view as is, ``"error"`` raises :class:`tokgeo.FormatError`.
* **BF16** (``bf16=``). NumPy has no bfloat16.  By default (``"error"``) a BF16 tensor raises
  :class:`tokgeo.InvalidTypeError`; ``"uint16"`` returns the raw bit patterns as a uint16 view
  (no copy); ``"float32"`` converts exactly to float32 (a copy).
* **BOOL** tensors are returned as NumPy ``bool`` views of the stored bytes (not checked to be
  0 or 1, as in the reference reader).

Every malformed file raises :class:`tokgeo.FormatError` naming the file, the tensor and the
offending value (including Git LFS pointer files saved in place of the weights, and truncated
downloads with the expected and actual sizes); a missing or unreadable file raises
:class:`tokgeo.TokgeoIOError` (an :class:`OSError`).
"""

from __future__ import annotations

import difflib
import errno
import os
import stat
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

import numpy as np

from . import _C
from .errors import FormatError, InvalidInputError, InvalidTypeError, TokgeoIOError

__all__ = ["load", "loads", "metadata", "SafetensorsFile", "TensorInfo", "DTYPES"]

PathLike = Union[str, "os.PathLike[str]"]
BytesLike = Union[bytes, bytearray, memoryview]

#: safetensors dtype name -> the NumPy dtype of the returned arrays (BF16: see ``bf16=``).
DTYPES: Dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
}

_BF16_MODES = ("error", "uint16", "float32")
_UNALIGNED_MODES = ("copy", "view", "error")


class TensorInfo(NamedTuple):
    """What the header says about one tensor.

    ``dtype`` is the safetensors name (``"F32"``); ``offset`` is the absolute byte offset of the
    data in the file and ``nbytes`` its length; ``aligned`` tells whether ``offset`` is a
    multiple of the item size (always true for files written by the official writer).
    """

    name: str
    dtype: str
    shape: Tuple[int, ...]
    offset: int
    nbytes: int

    @property
    def numpy_dtype(self) -> np.dtype:
        """The NumPy dtype of the view (BF16: ``uint16`` bit patterns)."""
        return DTYPES[self.dtype]

    @property
    def aligned(self) -> bool:
        return self.offset % DTYPES[self.dtype].itemsize == 0


def _check_modes(bf16: str, unaligned: str) -> None:
    if bf16 not in _BF16_MODES:
        raise InvalidInputError(f"bf16 must be one of {', '.join(map(repr, _BF16_MODES))}, got {bf16!r}")
    if unaligned not in _UNALIGNED_MODES:
        raise InvalidInputError(
            f"unaligned must be one of {', '.join(map(repr, _UNALIGNED_MODES))}, got {unaligned!r}"
        )


def _open_handle(path: PathLike) -> "_C.SafetensorsHandle":
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidTypeError(
            f"path must be a str or os.PathLike, got {type(path).__name__}"
            + (" (for bytes in memory use tokgeo.safetensors.loads)" if isinstance(path, (bytes, bytearray)) else "")
        )
    fspath = os.fspath(path)
    if isinstance(fspath, str) and os.path.isdir(fspath):
        found = sorted(p.name for p in Path(fspath).glob("*.safetensors"))
        hint = (
            f"; it contains {', '.join(found[:5])}{' ...' if len(found) > 5 else ''}"
            if found
            else "; it contains no .safetensors file"
        )
        raise TokgeoIOError(
            errno.EISDIR,
            f"'{fspath}' is a directory, not a .safetensors file: pass the path of the file inside it"
            f" (for a model folder use tokgeo.GPT2.from_pretrained){hint}",
            fspath,
        )
    return _C.st_open(fspath)


def _bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    out = (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)
    return out


class _Reader:
    """Reads tensors of a mapped file with ``pread`` into private arrays (``copy=True``):
    nothing is read through the mapping, so a truncation raises instead of SIGBUS."""

    def __init__(self, handle: "_C.SafetensorsHandle") -> None:
        self.path = handle.path
        self.fd = -1
        if self.path is not None:
            # O_NONBLOCK: the path was a regular file when mapped; if it has been replaced by a
            # FIFO since, opening must not wait for a writer (the fstat below refuses it)
            try:
                self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
            except OSError as e:
                raise TokgeoIOError(e.errno, f"safetensors {self.path!r}: cannot open it again to copy the "
                                    f"tensors: {e.strerror}", self.path) from None
            if not stat.S_ISREG(os.fstat(self.fd).st_mode):
                self.close()
                raise TokgeoIOError(errno.EINVAL, f"safetensors {self.path!r} is no longer a regular file", self.path)

    def read(self, handle: "_C.SafetensorsHandle", info: TensorInfo) -> np.ndarray:
        """A private copy of the tensor (writable, C order, the header's dtype and shape)."""
        if self.fd < 0:  # a buffer in memory: nothing can truncate it under us
            return np.array(handle.view(info.name), copy=True, order="C")
        out = np.empty(info.shape, dtype=DTYPES[info.dtype])
        buf = out.reshape(-1).view(np.uint8).data
        done = 0
        while done < info.nbytes:
            try:
                got = os.preadv(self.fd, [buf[done : done + (1 << 30)]], info.offset + done)
            except OSError as e:
                raise TokgeoIOError(e.errno, f"safetensors {self.path!r}: reading tensor {info.name!r} failed: "
                                    f"{e.strerror}", self.path) from None
            if got == 0:
                raise TokgeoIOError(
                    errno.EIO,
                    f"safetensors {self.path!r} ended at byte {info.offset + done} while tensor {info.name!r} "
                    f"needs bytes up to {info.offset + info.nbytes}: the file was truncated or rewritten "
                    "after it was opened; open it again once it is complete",
                    self.path,
                )
            done += got
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _bf16_refused(where: str, info: TensorInfo) -> InvalidTypeError:
    return InvalidTypeError(
        f"safetensors {where}: tensor {info.name!r} is BF16, which NumPy has no dtype for: pass "
        "bf16='float32' to convert it exactly (a copy) or bf16='uint16' for the raw bit patterns"
    )


def _finish(handle: "_C.SafetensorsHandle", info: TensorInfo, bf16: str, unaligned: str,
            reader: Optional[_Reader] = None) -> np.ndarray:
    where = f"{handle.path!r}" if handle.path is not None else "buffer"
    if info.dtype == "BF16" and bf16 == "error":
        raise _bf16_refused(where, info)
    if reader is not None:  # copy=True: a private array read with pread
        out = reader.read(handle, info)
        return _bf16_to_float32(out) if info.dtype == "BF16" and bf16 == "float32" else out
    arr: np.ndarray = handle.view(info.name)
    if info.dtype == "BF16" and bf16 == "float32":
        # the conversion reads element by element: alignment does not matter
        out = _bf16_to_float32(arr)
        out.setflags(write=False)
        return out
    if arr.size and not arr.flags.aligned:
        if unaligned == "error":
            raise FormatError(
                f"safetensors {where}: tensor {info.name!r} ({info.dtype}) starts at byte {info.offset}, "
                f"not a multiple of its item size {arr.dtype.itemsize}: pass unaligned='copy' for an aligned "
                "copy or unaligned='view' for the unaligned view"
            )
        if unaligned == "copy":
            out = np.array(arr, copy=True, order="C")
            out.setflags(write=False)
            return out
    return arr


class SafetensorsFile:
    """An open, validated ``.safetensors`` file: names, shapes, dtypes, metadata and lazy views.

    Opening reads and validates only the header (the data is mapped, not read).  Use it as a
    context manager or call :meth:`close`; arrays already returned stay valid after closing
    (see the module docstring).  Several files may be open at once.

    Parameters
    ----------
    path:
        Path of the ``.safetensors`` file (a directory or a missing file raises
        :class:`tokgeo.TokgeoIOError`; malformed content :class:`tokgeo.FormatError`).
    """

    def __init__(self, path: PathLike) -> None:
        self._init(_open_handle(path), Path(os.fspath(path)))

    @classmethod
    def from_bytes(cls, data: BytesLike) -> "SafetensorsFile":
        """Opens a safetensors file held in memory; the arrays are views into ``data``
        (which is kept alive by them; do not modify a mutable buffer afterwards)."""
        self = cls.__new__(cls)
        self._init(_C.st_open_buffer(data), None)
        return self

    def _init(self, handle: "_C.SafetensorsHandle", path: Optional[Path]) -> None:
        self._handle: Optional["_C.SafetensorsHandle"] = handle
        self.path: Optional[Path] = path
        self._infos: Dict[str, TensorInfo] = {}
        for name, dtype, shape, offset, nbytes in handle.tensors():
            self._infos[name] = TensorInfo(name, dtype, tuple(shape), offset, nbytes)
        self._metadata: Dict[str, str] = handle.metadata()
        self.file_size: int = handle.file_size

    # ---- header ----
    @property
    def names(self) -> List[str]:
        """Tensor names in file order (by data offset)."""
        return list(self._infos)

    def keys(self) -> List[str]:
        """Same as :attr:`names`."""
        return list(self._infos)

    @property
    def shapes(self) -> Dict[str, Tuple[int, ...]]:
        return {n: i.shape for n, i in self._infos.items()}

    @property
    def dtypes(self) -> Dict[str, str]:
        """safetensors dtype names (``"F32"``); see :data:`DTYPES` for the NumPy dtypes."""
        return {n: i.dtype for n, i in self._infos.items()}

    @property
    def metadata(self) -> Dict[str, str]:
        """The ``__metadata__`` map (an empty dict when the file has none)."""
        return dict(self._metadata)

    def info(self, name: str) -> TensorInfo:
        """Header entry of ``name`` (KeyError if absent)."""
        try:
            return self._infos[name]
        except KeyError:
            raise KeyError(self._missing(name)) from None

    def _missing(self, name: object) -> str:
        close = difflib.get_close_matches(str(name), list(self._infos), n=3) if isinstance(name, str) else []
        src = str(self.path) if self.path is not None else "this buffer"
        msg = f"no tensor named {name!r} in {src} ({len(self._infos)} tensors)"
        return msg + (f"; did you mean {', '.join(map(repr, close))}?" if close else "")

    def __contains__(self, name: object) -> bool:
        return name in self._infos

    def __len__(self) -> int:
        return len(self._infos)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._infos))

    # ---- data ----
    def get(self, name: str, *, bf16: str = "error", unaligned: str = "copy", copy: bool = False) -> np.ndarray:
        """The tensor ``name`` as a read-only array of its header shape.

        A view into the file (no copy) except for an unaligned tensor with
        ``unaligned="copy"`` and BF16 with ``bf16="float32"``; ``copy=True`` reads it into a
        private, writable array instead (safe against the file being truncated later; see
        the module docstring).
        """
        _check_modes(bf16, unaligned)
        handle = self._live()
        info = self.info(name)
        if not copy:
            return _finish(handle, info, bf16, unaligned)
        reader = _Reader(handle)
        try:
            return _finish(handle, info, bf16, unaligned, reader)
        finally:
            reader.close()

    def __getitem__(self, name: str) -> np.ndarray:
        return self.get(name)

    def load(self, *, bf16: str = "error", unaligned: str = "copy", copy: bool = False) -> Dict[str, np.ndarray]:
        """Every tensor, in file order: ``{name: read-only array}`` (``copy=True``: private,
        writable copies read without the mapping, as in :func:`load`)."""
        _check_modes(bf16, unaligned)
        return _load_all(self._live(), list(self._infos.values()), bf16, unaligned, copy)

    def _live(self) -> "_C.SafetensorsHandle":
        if self._handle is None:
            raise InvalidInputError(
                f"{self!r} is closed: open it again (arrays obtained before closing remain valid)"
            )
        return self._handle

    # ---- lifetime ----
    @property
    def closed(self) -> bool:
        return self._handle is None

    def close(self) -> None:
        """Drops this object's reference to the mapping (arrays keep theirs)."""
        self._handle = None

    def __enter__(self) -> "SafetensorsFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        src = str(self.path) if self.path is not None else "<bytes>"
        state = "closed" if self._handle is None else f"{len(self._infos)} tensors, {self.file_size} bytes"
        return f"SafetensorsFile({src!r}, {state})"


def _load_all(handle: "_C.SafetensorsHandle", infos: List[TensorInfo], bf16: str, unaligned: str,
              copy: bool) -> Dict[str, np.ndarray]:
    reader = _Reader(handle) if copy else None
    try:
        return {i.name: _finish(handle, i, bf16, unaligned, reader) for i in infos}
    finally:
        if reader is not None:
            reader.close()


def load(path: PathLike, *, bf16: str = "error", unaligned: str = "copy", copy: bool = False) -> Dict[str, np.ndarray]:
    """Loads every tensor of a ``.safetensors`` file as read-only NumPy views (file order).

    Parameters
    ----------
    path:
        The file.  Missing/unreadable/directory: :class:`tokgeo.TokgeoIOError`; malformed
        (truncated, LFS pointer, bad header, ...): :class:`tokgeo.FormatError`.
    bf16:
        ``"error"`` (default), ``"uint16"`` (raw bits, a view) or ``"float32"`` (a copy).
    unaligned:
        ``"copy"`` (default: only unaligned tensors are copied), ``"view"`` or ``"error"``.
    copy:
        False (default): views of the mapping, no copy.  True: every tensor is read with
        ``pread`` into a private, writable array (``unaligned`` then does not matter), so a
        later truncation of the file cannot crash the process and one during the read
        raises :class:`tokgeo.TokgeoIOError`.

    Returns
    -------
    dict[str, np.ndarray]
        Arrays with the header's shapes and dtypes (:data:`DTYPES`).  Views
        (``copy=False``) are ``writeable=False`` and valid for as long as they are
        referenced; they read the mapped file, so if another process truncates it, reading
        them crashes the process with SIGBUS (not guardable, see the module docstring):
        pass ``copy=True`` where the file may change under you.
    """
    _check_modes(bf16, unaligned)
    handle = _open_handle(path)
    infos = [TensorInfo(n, d, tuple(sh), o, nb) for n, d, sh, o, nb in handle.tensors()]
    return _load_all(handle, infos, bf16, unaligned, copy)


def loads(data: BytesLike, *, bf16: str = "error", unaligned: str = "copy", copy: bool = False) -> Dict[str, np.ndarray]:
    """Like :func:`load` for a file held in memory (views into ``data``, which they keep
    alive; ``copy=True``: private copies that do not)."""
    _check_modes(bf16, unaligned)
    return SafetensorsFile.from_bytes(data).load(bf16=bf16, unaligned=unaligned, copy=copy)


def metadata(path: PathLike) -> Dict[str, str]:
    """The ``__metadata__`` map of a ``.safetensors`` file (empty dict if none).

    The whole header is validated first, so a malformed file raises :class:`tokgeo.FormatError`.
    """
    return _open_handle(path).metadata()

from ._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
