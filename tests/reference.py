"""Textbook COBS and CRC-16 for the tests, independent of golden/ and rtl/.

The protocol tests check golden/protocol.py against these, the RTL tests the
COBS decoder and the CRC units: two implementations written from the
definitions, not from each other.
"""

__all__ = ["cobs_encode", "crc16_bitwise"]


def cobs_encode(data):
    """Textbook COBS (Cheshire & Baker's StuffData): blocks of up to 254 non-zero bytes."""
    out, block = bytearray(), bytearray()
    for byte in data:
        if byte == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
        else:
            block.append(byte)
            if len(block) == 254:
                out += b"\xff" + block
                block = bytearray()
    out += bytes([len(block) + 1]) + block
    return bytes(out)


def crc16_bitwise(data):
    """Bit-serial CRC-16/CCITT-FALSE, straight from the definition."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc
