"""Random host traffic for testing an implementation of docs/protocol.md.

:class:`ProtocolFuzzer` makes the frames a careless host and a noisy link
produce: valid requests of every op, requests out of range (bad core,
space, address, count, values, lengths, unknown ops), retransmissions, and
damaged wire bytes (bit flips, dropped and inserted bytes, truncation with
and without a delimiter, garbage, frames over MAX_FRAME, runts, empty
frames).  The emulator's fuzz test (tests/test_emulator.py) checks
``ChipEmulator`` against an independent reference with it; the RTL's
(cocotb_tests/tb_chip.py) checks the chip against the emulator.
"""

import struct

from .chip import pack_route_dest, pack_route_index
from .protocol import CHIP, cobs_encode, crc16
from .spaces import Space, space_info

__all__ = ["ProtocolFuzzer"]


class ProtocolFuzzer:
    """Random host traffic: requests, mostly sensible, some out of range, and damaged frames.

    Parameters
    ----------
    rng : random.Random
        The only source of randomness: a seed replays the traffic.
    chip : FixedChip
        A view of the chip under test (the emulator's), read for its shape
        and its step counter (so INJECT steps land near the present).
    """

    def __init__(self, rng, chip):
        self.rng, self.chip = rng, chip
        self.K, self.P, self.D = chip.K, chip.p, chip.route_entries
        self.seq = 0
        self.last_wire = None

    def target(self):
        r = self.rng.random()
        if r < 0.75:
            core = self.rng.randrange(self.K)
            sp = self.rng.randrange(15) if self.rng.random() < 0.97 else self.rng.randrange(15, 256)
        elif r < 0.95:
            core = CHIP
            sp = self.rng.randrange(3) if self.rng.random() < 0.9 else self.rng.randrange(3, 256)
        else:
            core, sp = self.rng.randrange(self.K, 255), self.rng.randrange(15)
        return core, sp

    def depth_bits(self, core, sp):
        if core == CHIP:
            if sp > 2:
                return 4, 8, False
            return {0: (self.K * self.P.neurons, 24, False), 1: (self.D, 24, False),
                    2: (7, 32, False)}[sp]
        if core >= self.K or sp > 14:
            return 4, 8, False
        info = space_info(self.P, sp)
        return info.depth, info.bits, info.signed

    def addr_count(self, depth, wb, allow_zero=False):
        rng = self.rng
        r = rng.random()
        if r < 0.85:
            addr = rng.randrange(depth)
            count = rng.randint(1, min(depth - addr, 6, 1024 // wb))
        elif r < 0.90:
            addr, count = rng.randrange(depth), 0
        elif r < 0.95:
            addr = rng.randrange(depth)
            count = depth - addr + rng.randint(1, 3)
        else:
            addr, count = rng.choice([depth, 2 ** 32 - 1, rng.randrange(2 ** 32)]), 1
        return addr, count

    def word(self, core, sp, bits, signed):
        rng = self.rng
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        wb = (bits + 7) // 8
        r = rng.random()
        if r < 0.05 and wb * 8 > bits:     # does not fit the space, fits the bytes
            return (hi + 1 + rng.randrange(1 << (wb * 8 - bits))) if not signed else \
                rng.choice([hi + 1, lo - 1])
        if (core != CHIP and core >= self.K) or (core == CHIP and sp > 2) or sp > 14:
            return rng.randint(lo, hi)                  # the request is refused anyway
        if core == CHIP and sp == 0:
            return pack_route_index(rng.randrange(self.D + 2), rng.randrange(5)) if r < 0.9 \
                else rng.randrange(1 << 24)
        if core == CHIP and sp == 1:
            return pack_route_dest(rng.randrange(self.K + 1), rng.randrange(self.P.axons + 1))
        if core != CHIP and sp == Space.CONFIG:
            return rng.randrange(2 * self.P.history) if r < 0.9 else rng.randrange(1 << 32)
        if core != CHIP and sp == Space.SEED and r < 0.1:
            return 0
        if core != CHIP and sp in (Space.WEIGHT, Space.BIAS) and r < 0.7:
            return rng.randint(max(lo, -40), min(hi, 40))
        return rng.randint(lo, hi)

    def words(self, core, sp, count, bits, signed):
        wb = (bits + 7) // 8
        return b"".join(self.word(core, sp, bits, signed).to_bytes(wb, "little", signed=signed)
                        for _ in range(count))

    def request(self):
        """(op, body) of a random request."""
        rng = self.rng
        op = rng.choices([1, 2, 3, 4, 5, 6, 7, 8, 0], [20, 26, 9, 3, 14, 3, 6, 2, 2])[0]
        if op == 1 or op == 2 or op == 7:
            core, sp = self.target()
            depth, bits, signed = self.depth_bits(core, sp)
            wb = (bits + 7) // 8
            if op == 7:
                addr = rng.randrange(depth + 1)
                count = rng.choice([depth - addr, rng.randint(0, depth - addr),
                                    depth - addr + 1])
                return op, struct.pack("<BBII", core, sp, addr, count)
            addr, count = self.addr_count(depth, wb)
            head = struct.pack("<BBIH", core, sp, addr % 2 ** 32, min(count, 65535))
            if op == 1:
                return op, head
            n = min(count, 200)
            data = self.words(core, sp, n, bits, signed)
            if rng.random() < 0.04:        # the data does not match the count
                data = data[:-1] if data and rng.random() < 0.5 else data + b"\x01"
            return op, head + data
        if op == 3:
            return op, struct.pack("<I", rng.choice([0, 1, 1, 2, 3]))
        if op == 4:
            return op, bytes([rng.choice([CHIP, rng.randrange(self.K),
                                          rng.randrange(self.K, 255)])])
        if op == 5:
            now = self.chip.step_count
            step = max(0, now + rng.choice([-2, -1, 0, 0, 1, 2, 3, 5, 40]))
            core = rng.randrange(self.K) if rng.random() < 0.95 else rng.randrange(self.K, 256)
            axons = [rng.randrange(self.P.axons) if rng.random() < 0.97
                     else rng.randrange(self.P.axons, max(99, self.P.axons + 1))
                     for _ in range(rng.choice([0, 1, 1, 2, 3, 5]))]
            return op, struct.pack("<IBH", step, core, len(axons)) + \
                struct.pack(f"<{len(axons)}H", *axons)
        if op == 0:
            return rng.choice([0x00, 0x09, 0x7F, 0xFF]), bytes(rng.randrange(4))
        return op, b""

    def wire(self, op, body, seq=None):
        seq = self.seq if seq is None else seq
        data = bytes([seq, op]) + body
        return cobs_encode(data + crc16(data).to_bytes(2, "little")) + b"\x00"

    def next_frame(self):
        """Wire bytes of the next transmission: a request, a retry, or damage."""
        rng = self.rng
        r = rng.random()
        if r < 0.05 and self.last_wire:
            return self.last_wire                               # retransmission
        self.seq = (self.seq + 1) % 256
        op, body = self.request()
        if rng.random() < 0.04:                                 # wrong body length, valid CRC
            body = body + b"\x00" if rng.random() < 0.5 or not body else body[:-1]
        wire = self.wire(op, body)
        self.last_wire = wire
        r = rng.random()
        if r < 0.62:
            return wire
        w = bytearray(wire)
        if r < 0.74:                                            # bit flips
            for _ in range(rng.randint(1, 3)):
                w[rng.randrange(len(w))] ^= 1 << rng.randrange(8)
        elif r < 0.79:                                          # a dropped byte
            del w[rng.randrange(len(w))]
        elif r < 0.84:                                          # truncated, then delimited
            w = w[:rng.randrange(1, len(w) - 1)] + b"\x00"
        elif r < 0.86:                                          # truncated, no delimiter
            w = w[:rng.randrange(1, len(w) - 1)]
        elif r < 0.89:                                          # inserted bytes
            pos = rng.randrange(len(w))
            w[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
        elif r < 0.91:                                          # garbage
            w = bytearray(rng.choice([0, rng.randrange(256)]) for _ in range(rng.randint(1, 30)))
        elif r < 0.94:                                          # too long (or just fits)
            n = rng.choice([1096, 1097, rng.randint(1097, 1400)])
            w = bytearray(self.wire(2, bytes(rng.randrange(256) for _ in range(n))))
        elif r < 0.97:                                          # shorter than seq+op+crc
            w = bytearray(cobs_encode(bytes(rng.randrange(256)
                                                for _ in range(rng.randint(1, 3)))) + b"\x00")
        else:                                                   # empty frames
            w = bytearray(rng.choice([b"\x00", b"\x01\x00", b"\x00\x00"]))
        return bytes(w)
