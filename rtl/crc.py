"""Byte-wise CRCs of the host protocol (docs/protocol.md).

* CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, MSB first, no
  final XOR (check value of b"123456789": 0x29B1) — every frame.
* CRC-32 (IEEE 802.3, as zlib.crc32): reflected polynomial 0xEDB88320,
  initial and final XOR 0xFFFFFFFF (check value 0xCBF43926) — the CHECKSUM
  command.

Both take one byte per cycle: the eight bit steps unroll into an XOR
network at elaboration.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CRC16", "CRC32", "crc16_step", "crc32_step"]


def crc16_step(crc, byte):
    """CRC-16/CCITT-FALSE register (an int) after one byte."""
    for i in range(7, -1, -1):
        top = ((crc >> 15) ^ (byte >> i)) & 1
        crc = ((crc << 1) & 0xFFFF) ^ (0x1021 if top else 0)
    return crc


def crc32_step(crc, byte):
    """CRC-32 register (an int, before the final XOR) after one byte, reflected."""
    for i in range(8):
        low = (crc ^ (byte >> i)) & 1
        crc = (crc >> 1) ^ (0xEDB88320 if low else 0)
    return crc


def _xor_network(step, width, crc, byte):
    """``step`` as gates: a CRC step is linear over GF(2) in (register, byte), so
    each output bit is the XOR of the input bits whose unit vectors set it."""
    reg_cols = [step(1 << j, 0) for j in range(width)]
    byte_cols = [step(0, 1 << i) for i in range(8)]
    bits = []
    for k in range(width):
        terms = [crc[j] for j in range(width) if reg_cols[j] >> k & 1]
        terms += [byte[i] for i in range(8) if byte_cols[i] >> k & 1]
        bit = terms[0]
        for t in terms[1:]:
            bit = bit ^ t
        bits.append(bit)
    return Cat(*bits)


class _CRC(wiring.Component):
    _width = None
    _init = None

    def __init__(self):
        super().__init__({
            "clear": In(1),     # restart at the initial value (wins over data)
            "valid": In(1),     # fold ``data`` into the register this cycle
            "data": In(8),
            "crc": Out(self._width),
        })

    def _step(self, crc, byte):
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        reg = Signal(self._width, init=self._init)
        with m.If(self.clear):
            m.d.sync += reg.eq(self._init)
        with m.Elif(self.valid):
            m.d.sync += reg.eq(self._step(reg, self.data))
        m.d.comb += self.crc.eq(self._output(reg))
        return m


class CRC16(_CRC):
    """CRC-16/CCITT-FALSE, one byte per cycle; ``crc`` is the value over the bytes so far."""

    _width = 16
    _init = 0xFFFF

    def _step(self, crc, byte):
        return _xor_network(crc16_step, 16, crc, byte)

    def _output(self, reg):
        return reg


class CRC32(_CRC):
    """CRC-32 (zlib), one byte per cycle; ``crc`` is the final value over the bytes so far."""

    _width = 32
    _init = 0xFFFFFFFF

    def _step(self, crc, byte):
        return _xor_network(crc32_step, 32, crc, byte)

    def _output(self, reg):
        return reg ^ 0xFFFFFFFF

