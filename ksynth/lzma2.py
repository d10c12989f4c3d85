"""Raw LZMA2 with a preset dictionary, through liblzma (Python's lzma module does not expose one).

    payload = compress(data, preset, dict_size, zdict)          # a raw LZMA2 stream
    data, ok = decompress(payload, limit, dict_size, zdict)     # ok: ended exactly, nothing left

The `xz-prev` block kind uses it: the previous block's tail as the dictionary, so a second
block of text does not start from nothing (2 MiB CSV: its second block 121,638 -> 93,846 B).
liblzma is the library Python's own lzma module links; `available` is False where ctypes cannot
load it, and then the compressor never writes the kind. The structs below are liblzma's public
layout (lzma/base.h, lzma/lzma12.h, stable since 5.0), reserved fields included.
"""
from __future__ import annotations

import ctypes
import ctypes.util


class _Stream(ctypes.Structure):             # lzma_stream
    _fields_ = [("next_in", ctypes.c_void_p), ("avail_in", ctypes.c_size_t),
                ("total_in", ctypes.c_uint64), ("next_out", ctypes.c_void_p),
                ("avail_out", ctypes.c_size_t), ("total_out", ctypes.c_uint64),
                ("allocator", ctypes.c_void_p), ("internal", ctypes.c_void_p),
                ("reserved_ptr", ctypes.c_void_p * 4), ("reserved_int", ctypes.c_uint64 * 2),
                ("reserved_size", ctypes.c_size_t * 2), ("reserved_enum", ctypes.c_int * 2)]


class _Options(ctypes.Structure):            # lzma_options_lzma
    _fields_ = [("dict_size", ctypes.c_uint32), ("preset_dict", ctypes.c_void_p),
                ("preset_dict_size", ctypes.c_uint32), ("lc", ctypes.c_uint32),
                ("lp", ctypes.c_uint32), ("pb", ctypes.c_uint32), ("mode", ctypes.c_int),
                ("nice_len", ctypes.c_uint32), ("mf", ctypes.c_int), ("depth", ctypes.c_uint32),
                ("reserved_int", ctypes.c_uint32 * 4), ("reserved_enum", ctypes.c_int * 4),
                ("reserved_ptr", ctypes.c_void_p * 2)]


class _Filter(ctypes.Structure):             # lzma_filter
    _fields_ = [("id", ctypes.c_uint64), ("options", ctypes.c_void_p)]


FILTER_LZMA2, VLI_UNKNOWN = 0x21, (1 << 64) - 1
RUN, FINISH = 0, 3                           # lzma_action
OK, STREAM_END = 0, 1                        # lzma_ret
PRESET_EXTREME = 0x80000000


def _load():
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("lzma") or "liblzma.so.5")
        lib.lzma_lzma_preset.argtypes = [ctypes.POINTER(_Options), ctypes.c_uint32]
        lib.lzma_lzma_preset.restype = ctypes.c_ubyte
        for f in (lib.lzma_raw_encoder, lib.lzma_raw_decoder):
            f.argtypes = [ctypes.POINTER(_Stream), ctypes.POINTER(_Filter)]
            f.restype = ctypes.c_int
        lib.lzma_code.argtypes = [ctypes.POINTER(_Stream), ctypes.c_int]
        lib.lzma_code.restype = ctypes.c_int
        lib.lzma_end.argtypes = [ctypes.POINTER(_Stream)]
        lib.lzma_end.restype = None
        return lib
    except (OSError, AttributeError):
        return None


_lib = _load()
available = _lib is not None


def _run(encode: bool, data: bytes, limit: int, preset: int, dict_size: int,
         zdict: bytes) -> tuple[bytes, bool]:
    """One raw encoder or decoder call over all of `data`, output capped at `limit` bytes:
    (output, ended exactly: the stream's end reached with every input byte used)."""
    if _lib is None:
        raise OSError("liblzma could not be loaded")
    opts = _Options()
    if _lib.lzma_lzma_preset(ctypes.byref(opts), preset):
        raise ValueError(f"not an xz preset: {preset}")
    opts.dict_size = dict_size
    zbuf = ctypes.create_string_buffer(zdict, len(zdict))
    if zdict:
        opts.preset_dict, opts.preset_dict_size = ctypes.cast(zbuf, ctypes.c_void_p), len(zdict)
    filters = (_Filter * 2)(_Filter(FILTER_LZMA2, ctypes.cast(ctypes.byref(opts), ctypes.c_void_p)),
                            _Filter(VLI_UNKNOWN, None))
    strm = _Stream()
    init = _lib.lzma_raw_encoder if encode else _lib.lzma_raw_decoder
    if init(ctypes.byref(strm), filters) != OK:
        raise ValueError("liblzma refused the LZMA2 options")
    try:
        src = ctypes.create_string_buffer(data, len(data))
        out = ctypes.create_string_buffer(limit)
        strm.next_in, strm.avail_in = ctypes.cast(src, ctypes.c_void_p), len(data)
        strm.next_out, strm.avail_out = ctypes.cast(out, ctypes.c_void_p), limit
        ret = _lib.lzma_code(ctypes.byref(strm), FINISH)
        return out.raw[:limit - strm.avail_out], ret == STREAM_END and strm.avail_in == 0
    finally:
        _lib.lzma_end(ctypes.byref(strm))


def compress(data: bytes, preset: int, dict_size: int, zdict: bytes = b"") -> bytes | None:
    """The raw LZMA2 stream of `data` after `zdict`; None if it would not fit 1/16 above the data."""
    out, ok = _run(True, data, len(data) + len(data) // 16 + 4096, preset, dict_size, zdict)
    return out if ok else None


def decompress(payload: bytes, limit: int, dict_size: int, zdict: bytes = b"") -> tuple[bytes, bool]:
    """At most `limit` bytes of a raw LZMA2 stream; ok: it ended exactly there. Corrupt input
    stops early (ok False); memory is the dictionary (dict_size) and `limit`."""
    return _run(False, payload, limit, 6, dict_size, zdict)
