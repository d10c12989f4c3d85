"""Raw LZMA2 through liblzma: a preset dictionary, and streams kept open across calls (Python's
lzma module exposes neither a preset dictionary nor LZMA_SYNC_FLUSH).

    payload = compress(data, preset, dict_size, zdict)          # a raw LZMA2 stream
    data, ok = decompress(payload, limit, dict_size, zdict)     # ok: ended exactly, nothing left
    enc = Encoder(preset, dict_size); enc.compress(a) + enc.compress(b) + enc.finish()
    dec = Decoder(dict_size); dec.decompress(payload, max_length); dec.eof, dec.unused_data

The `xz-prev` block kind uses the one-shot pair: the previous block's tail as the dictionary, so a second
block of text does not start from nothing (2 MiB CSV: its second block 121,638 -> 93,846 B).
liblzma is the library Python's own lzma module links; `available` is False where ctypes cannot
load it, and then the compressor never writes the kinds that need it (xz-prev, xz-solid).
Encoder / Decoder are one stream fed piece by piece, as zlib's compressobj / decompressobj: the
`xz-solid` kind (ksynth.solid) is one of them across all the blocks of a file. The structs below are liblzma's public
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
RUN, SYNC_FLUSH, FINISH = 0, 1, 3            # lzma_action
OK, STREAM_END, BUF_ERROR = 0, 1, 10         # lzma_ret (BUF_ERROR: no progress possible)
CHUNK = 1 << 16                              # bytes of output buffer added at a time
_ERRORS = {5: "out of memory", 6: "memory limit", 7: "not LZMA2", 8: "bad options",
           9: "corrupt data", 11: "programming error"}
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


def preset_dict_size(preset: int) -> int:
    """The dictionary size (bytes) of an xz preset: 8 MiB for 6, 64 MiB for 9."""
    if _lib is None:
        raise OSError("liblzma could not be loaded")
    opts = _Options()
    if _lib.lzma_lzma_preset(ctypes.byref(opts), preset):
        raise ValueError(f"not an xz preset: {preset}")
    return opts.dict_size


def compress(data: bytes, preset: int, dict_size: int, zdict: bytes = b"") -> bytes | None:
    """The raw LZMA2 stream of `data` after `zdict`; None if it would not fit 1/16 above the data."""
    out, ok = _run(True, data, len(data) + len(data) // 16 + 4096, preset, dict_size, zdict)
    return out if ok else None


def decompress(payload: bytes, limit: int, dict_size: int, zdict: bytes = b"") -> tuple[bytes, bool]:
    """At most `limit` bytes of a raw LZMA2 stream; ok: it ended exactly there. Corrupt input
    stops early (ok False); memory is the dictionary (dict_size) and `limit`."""
    return _run(False, payload, limit, 6, dict_size, zdict)


class _Open:
    """One raw LZMA2 coder kept open across calls; freed by close() (or when collected)."""

    def __init__(self, encode: bool, preset: int, dict_size: int):
        if _lib is None:
            raise OSError("liblzma could not be loaded")
        self._opts = _Options()               # liblzma keeps pointers to these: they live here
        if _lib.lzma_lzma_preset(ctypes.byref(self._opts), preset):
            raise ValueError(f"not an xz preset: {preset}")
        self._opts.dict_size = dict_size
        self._filters = (_Filter * 2)(
            _Filter(FILTER_LZMA2, ctypes.cast(ctypes.byref(self._opts), ctypes.c_void_p)),
            _Filter(VLI_UNKNOWN, None))
        self._strm = _Stream()
        init = _lib.lzma_raw_encoder if encode else _lib.lzma_raw_decoder
        if init(ctypes.byref(self._strm), self._filters) != OK:
            raise ValueError("liblzma refused the LZMA2 options")
        self._open = True

    def _code(self, data: bytes, action: int, max_length: int | None) -> tuple[bytes, int, bytes]:
        """Feed `data` under `action`: (output, last lzma_ret, the input left unread). Stops when
        the input is used up (RUN) or the action is complete (STREAM_END), or at max_length bytes
        of output (None: no cap)."""
        if not self._open:
            raise ValueError("the LZMA2 stream is closed")
        strm = self._strm
        src = ctypes.create_string_buffer(data, len(data))
        strm.next_in, strm.avail_in = ctypes.cast(src, ctypes.c_void_p), len(data)
        parts, got = [], 0
        while True:
            room = CHUNK if max_length is None else min(CHUNK, max_length - got)
            out = ctypes.create_string_buffer(room) if room else None
            strm.next_out, strm.avail_out = ctypes.cast(out, ctypes.c_void_p), room
            before = strm.avail_in
            ret = _lib.lzma_code(ctypes.byref(strm), action)
            n = room - strm.avail_out
            if n:
                parts.append(out.raw[:n])
                got += n
            if ret not in (OK, STREAM_END, BUF_ERROR):
                raise ValueError(f"liblzma error {ret} ({_ERRORS.get(ret, 'unknown')})")
            full, stuck = strm.avail_out == 0, not n and strm.avail_in == before
            if ret == STREAM_END or (max_length is not None and got >= max_length) or \
                    (action == RUN and (strm.avail_in == 0 or stuck) and not full) or \
                    (ret == BUF_ERROR and stuck):
                break
        rest = ctypes.string_at(strm.next_in, strm.avail_in) if strm.avail_in else b""
        return b"".join(parts), ret, rest

    def close(self) -> None:
        if getattr(self, "_open", False):
            _lib.lzma_end(ctypes.byref(self._strm))
            self._open = False

    __del__ = close


class Encoder(_Open):
    """A raw LZMA2 stream made piece by piece: compress() returns what the encoder has emitted so
    far (often nothing: it holds up to a chunk), finish() the rest and the end marker."""

    def __init__(self, preset: int, dict_size: int):
        super().__init__(True, preset, dict_size)

    def compress(self, data: bytes) -> bytes:
        return self._code(data, RUN, None)[0]

    def flush(self) -> bytes:
        """LZMA_SYNC_FLUSH: everything fed so far becomes decodable from the output so far."""
        return self._code(b"", SYNC_FLUSH, None)[0]

    def finish(self) -> bytes:
        out = self._code(b"", FINISH, None)[0]
        self.close()
        return out


class Decoder(_Open):
    """A raw LZMA2 stream read piece by piece, as zlib's decompressobj: decompress(data,
    max_length) returns at most max_length bytes and keeps the unread input for the next call;
    `eof` once the end marker is read, `unused_data` the bytes after it. Memory: the dictionary
    (dict_size, at least the encoder's) and max_length. ValueError on corrupt input."""

    def __init__(self, dict_size: int):
        super().__init__(False, 6, dict_size)
        self.eof, self.unused_data, self._rest = False, b"", b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self.eof:
            self.unused_data += data
            return b""
        out, ret, self._rest = self._code(self._rest + data, RUN, max_length)
        if ret == STREAM_END:
            self.eof, self.unused_data, self._rest = True, self._rest, b""
            self.close()
        return out
