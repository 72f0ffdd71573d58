"""Byte-wise CRCs of the host protocol (docs/protocol.md).

* CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, MSB first, no
  final XOR (check value of b"123456789": 0x29B1) — every frame.
* CRC-32 (IEEE 802.3, as zlib.crc32): reflected polynomial 0xEDB88320,
  initial and final XOR 0xFFFFFFFF (check value 0xCBF43926) — the CHECKSUM
  command.

CRC16 takes one byte per cycle (the eight bit steps unroll into an XOR
network at elaboration); CRC32 one bit per cycle.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CRC16", "CRC32", "crc16_step"]


def crc16_step(crc, byte):
    """CRC-16/CCITT-FALSE register (an int) after one byte."""
    for i in range(7, -1, -1):
        top = ((crc >> 15) ^ (byte >> i)) & 1
        crc = ((crc << 1) & 0xFFFF) ^ (0x1021 if top else 0)
    return crc


#: CRC-32's polynomial, reflected (the register shifts right, LSB first)
_CRC32_POLY = 0xEDB88320


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


class CRC16(wiring.Component):
    """CRC-16/CCITT-FALSE, one byte per cycle; ``crc`` is the value over the bytes so far."""

    clear: In(1)     # restart at the initial value (wins over data)
    valid: In(1)     # fold ``data`` into the register this cycle
    data:  In(8)
    crc:   Out(16)

    def elaborate(self, platform):
        m = Module()
        reg = Signal(16, init=0xFFFF)
        with m.If(self.clear):
            m.d.sync += reg.eq(0xFFFF)
        with m.Elif(self.valid):
            m.d.sync += reg.eq(_xor_network(crc16_step, 16, reg, self.data))
        m.d.comb += self.crc.eq(reg)
        return m


class CRC32(wiring.Component):
    """CRC-32 (zlib), one bit per cycle: a byte takes eight cycles.

    ``crc`` is the final value over the bytes so far once ``ready`` is high
    again after the last one.  Bit-serial because its only user (CHECKSUM)
    waits for a core between words anyway: a bit step is one gate per
    polynomial term, where a byte step is an XOR network over 40 inputs.
    """

    clear: In(1)     # restart at the initial value (wins over data)
    valid: In(1)     # take ``data`` while ``ready``
    data:  In(8)
    ready: Out(1)    # no byte in progress
    crc:   Out(32)

    def elaborate(self, platform):
        m = Module()
        reg = Signal(32, init=0xFFFFFFFF)
        byte = Signal(8)                  # the bits still to fold in, LSB first
        left = Signal(range(9))
        m.d.comb += [self.ready.eq(left == 0), self.crc.eq(reg ^ 0xFFFFFFFF)]
        with m.If(self.clear):
            m.d.sync += [reg.eq(0xFFFFFFFF), left.eq(0)]
        with m.Elif(self.valid & self.ready):
            m.d.sync += [byte.eq(self.data), left.eq(8)]
        with m.Elif(~self.ready):
            low = reg[0] ^ byte[0]
            m.d.sync += [reg.eq((reg >> 1) ^ Mux(low, _CRC32_POLY, 0)), byte.eq(byte >> 1),
                         left.eq(left - 1)]
        return m
