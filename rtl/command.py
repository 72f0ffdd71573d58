"""The core's command interface: one command in, one response out.

This is the access port and the timestep controller's start signal in one
stream pair; the host interface of the chip (and the cocotb testbenches)
drive it.

Command payload (LSB first): ``op`` (3 bits), ``space`` (4), ``addr`` (32),
``data`` (64).  Response payload: ``data`` (64), ``error`` (1).

======  =========================================================================
op      meaning
======  =========================================================================
READ    read word ``addr`` of memory space ``space``; response: the word,
        zero-extended (signed spaces give their two's-complement bits)
WRITE   write ``data`` (the space's low bits) to word ``addr`` of ``space``;
        response: 0
RUN     run ``data`` timesteps; response: clock cycles the run took
APPLY   run the apply (spec section 4) now; response: clock cycles it took
CHECK   would WRITE ``data`` to ``addr`` of ``space`` be accepted?  Changes
        nothing; response: 0 with ``error`` as WRITE would give it.  A
        multi-word write validates every word first, so it is all or nothing.
======  =========================================================================

A READ or WRITE outside the space, a WRITE to a read-only space, a value
that does not fit, a zero PRNG seed or an unknown op gets ``error = 1`` and
changes nothing.
"""

from enum import IntEnum

from amaranth.lib import data, stream

__all__ = ["Op", "CommandLayout", "ResponseLayout", "command_signature", "response_signature",
           "pack_command", "unpack_response"]


class Op(IntEnum):
    READ = 0
    WRITE = 1
    RUN = 2
    APPLY = 3
    CHECK = 4


CommandLayout = data.StructLayout({
    "op": 3,
    "space": 4,
    "addr": 32,
    "data": 64,
})

ResponseLayout = data.StructLayout({
    "data": 64,
    "error": 1,
})

command_signature = stream.Signature(CommandLayout)
response_signature = stream.Signature(ResponseLayout)


def pack_command(op, space=0, addr=0, value=0):
    """The command payload as an integer (for testbenches driving the flat port)."""
    return (int(op) & 0x7) | ((int(space) & 0xF) << 3) | ((addr & 0xFFFFFFFF) << 7) \
        | ((value & 0xFFFFFFFFFFFFFFFF) << 39)


def unpack_response(word):
    """(data, error) from the response payload integer."""
    return word & 0xFFFFFFFFFFFFFFFF, (word >> 64) & 1
