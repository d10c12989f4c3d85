"""A classic binary arithmetic coder (integer, 32-bit registers, carry handled by pending bits).

The coder narrows an interval [low, high] of 32-bit integers for every symbol, given the symbol's
cumulative-frequency slice [cum_lo, cum_hi) of an integer total. When both ends share their top
bit, that bit is final and is shifted out. When the interval straddles the middle but sits inside
the middle half (low >= 1/4, high < 3/4), the next output bit is not yet known: the interval is
expanded around the middle and a "pending" bit is counted; it is emitted, inverted, right after
the next decided bit. That is the carry: a later decision that the interval lies in the upper half
propagates as "1 then pending 0s", in the lower half as "0 then pending 1s".

Exact length: every renormalising shift accounts for exactly one output bit (emitted now or
pending), and termination adds two, so `bit_length` = shifts + 2. The decoder reads zeros past the
end of its input, so padding the bitstream with zero bits to whole bytes is free of ambiguity, and
the decoder can check the padding (see `Decoder.finish`).

Precision: after renormalisation the interval spans more than a quarter of 2^32, so any total up
to 2^30 gives every symbol with frequency >= 1 a non-empty sub-interval. Callers use totals of
2^16, which keeps the integer-division loss below 2^-14 bits per symbol.
"""
from __future__ import annotations

from ksynth.errors import CorruptInput

CODE_BITS = 32
TOP = (1 << CODE_BITS) - 1
HALF = 1 << (CODE_BITS - 1)
QUARTER = 1 << (CODE_BITS - 2)
MAX_TOTAL = QUARTER              # largest frequency total the precision argument allows


class BitWriter:
    """Bits appended one at a time (MSB first within bytes); `to_bytes` pads with zero bits."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def write(self, bit: int) -> None:
        self.bits.append(bit)

    def write_uint(self, value: int, width: int) -> None:
        for shift in range(width - 1, -1, -1):
            self.bits.append((value >> shift) & 1)

    def __len__(self) -> int:
        return len(self.bits)

    def to_bytes(self) -> bytes:
        out = bytearray((len(self.bits) + 7) // 8)
        for i, b in enumerate(self.bits):
            if b:
                out[i >> 3] |= 0x80 >> (i & 7)
        return bytes(out)


class BitReader:
    """Reads bits MSB first; past the end it yields zeros and counts them in `overrun`."""

    def __init__(self, data: bytes, start_bit: int = 0) -> None:
        self.data = data
        self.pos = start_bit
        self.n_bits = 8 * len(data)

    def read(self) -> int:
        pos = self.pos
        self.pos = pos + 1
        if pos >= self.n_bits:
            return 0
        return (self.data[pos >> 3] >> (7 - (pos & 7))) & 1

    def read_uint(self, width: int) -> int:
        v = 0
        for _ in range(width):
            v = (v << 1) | self.read()
        return v


# ---- Elias delta: a prefix code for integers >= 1 (used for lengths) -----------------------
def elias_delta_bits(n: int) -> int:
    """Length in bits of the Elias delta code of n >= 1."""
    nb = n.bit_length()                      # N = floor(log2 n) + 1
    lb = nb.bit_length()
    return 2 * (lb - 1) + 1 + (nb - 1)


def write_elias_delta(w: BitWriter, n: int) -> None:
    if n < 1:
        raise ValueError(f"Elias delta codes integers >= 1, got {n}")
    nb = n.bit_length()
    lb = nb.bit_length()
    w.write_uint(0, lb - 1)                  # gamma code of nb: zeros, then nb in lb bits
    w.write_uint(nb, lb)
    w.write_uint(n & ((1 << (nb - 1)) - 1), nb - 1)   # n without its leading 1


def read_elias_delta(r: BitReader, max_value: int) -> int:
    """Decode one Elias delta integer; a value (or a prefix) above max_value is CorruptInput."""
    zeros = 0
    while r.read() == 0:
        zeros += 1
        if zeros > max_value.bit_length().bit_length() or r.pos > r.n_bits:
            raise CorruptInput("arithmetic-coded stream: bad length prefix")
    nb = (1 << zeros) | r.read_uint(zeros)
    if nb - 1 > max_value.bit_length():
        raise CorruptInput("arithmetic-coded stream: length prefix out of range")
    n = (1 << (nb - 1)) | r.read_uint(nb - 1)
    if n > max_value or r.pos > r.n_bits:
        raise CorruptInput(f"arithmetic-coded stream: length {n - 1} exceeds what the stream can hold")
    return n


# ---- the coder -----------------------------------------------------------------------------
class Encoder:
    """Arithmetic encoder writing into a BitWriter (which may already hold a header)."""

    def __init__(self, writer: BitWriter) -> None:
        self.w = writer
        self.low = 0
        self.high = TOP
        self.pending = 0
        self.shifts = 0

    def _emit(self, bit: int) -> None:
        w = self.w
        w.write(bit)
        for _ in range(self.pending):
            w.write(bit ^ 1)
        self.pending = 0

    def encode(self, cum_lo: int, cum_hi: int, total: int) -> None:
        """Code the symbol owning [cum_lo, cum_hi) of total (0 <= cum_lo < cum_hi <= total)."""
        span = self.high - self.low + 1
        high = self.low + span * cum_hi // total - 1
        low = self.low + span * cum_lo // total
        while True:
            if high < HALF:
                self._emit(0)
            elif low >= HALF:
                self._emit(1)
                low -= HALF
                high -= HALF
            elif low >= QUARTER and high < HALF + QUARTER:
                self.pending += 1
                low -= QUARTER
                high -= QUARTER
            else:
                break
            low <<= 1
            high = (high << 1) | 1
            self.shifts += 1
        self.low, self.high = low, high

    def finish(self) -> None:
        """Two more bits pick a point inside [low, high] whatever bits follow (zeros are read)."""
        self.pending += 1
        self._emit(0 if self.low < QUARTER else 1)

    @property
    def bit_length(self) -> int:
        """Bits this coder has produced (or will have, after finish): shifts + 2."""
        return self.shifts + 2


class Decoder:
    """Mirror of Encoder. `decode_target` gives a cumulative count, `consume` narrows like encode."""

    def __init__(self, reader: BitReader) -> None:
        self.r = reader
        self.start = reader.pos
        self.low = 0
        self.high = TOP
        self.value = reader.read_uint(CODE_BITS)
        self.shifts = 0

    def decode_target(self, total: int) -> int:
        """The cumulative count c in [0, total) that identifies the next symbol."""
        span = self.high - self.low + 1
        c = ((self.value - self.low + 1) * total - 1) // span
        if not 0 <= c < total:
            raise CorruptInput("arithmetic-coded stream: code value outside the interval")
        return c

    def consume(self, cum_lo: int, cum_hi: int, total: int) -> None:
        span = self.high - self.low + 1
        high = self.low + span * cum_hi // total - 1
        low = self.low + span * cum_lo // total
        value = self.value
        while True:
            if high < HALF:
                pass
            elif low >= HALF:
                low -= HALF
                high -= HALF
                value -= HALF
            elif low >= QUARTER and high < HALF + QUARTER:
                low -= QUARTER
                high -= QUARTER
                value -= QUARTER
            else:
                break
            low <<= 1
            high = (high << 1) | 1
            value = (value << 1) | self.r.read()
            self.shifts += 1
        self.low, self.high, self.value = low, high, value
        # A valid stream ends with pos = start + 32 + shifts <= n_bits + 30 (finish() explains):
        # stop garbage as soon as it reads past that, instead of decoding up to the length bound.
        if self.r.pos > self.r.n_bits + CODE_BITS - 2:
            raise CorruptInput("arithmetic-coded stream is truncated")

    def finish(self) -> int:
        """Check the stream ends where the encoder stopped; returns the bits the coder used.

        The encoder wrote shifts + 2 bits then zero padding to a whole byte: the input must not be
        shorter than that, nor longer than the padding, and the padding bits must be zero.
        """
        used = self.shifts + 2
        end = self.start + used
        n_bits = self.r.n_bits
        if end > n_bits:
            raise CorruptInput("arithmetic-coded stream is truncated")
        if n_bits - end >= 8:
            raise CorruptInput("arithmetic-coded stream has trailing data")
        data = self.r.data
        for pos in range(end, n_bits):
            if (data[pos >> 3] >> (7 - (pos & 7))) & 1:
                raise CorruptInput("arithmetic-coded stream: non-zero padding")
        return used
