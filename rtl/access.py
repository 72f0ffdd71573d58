"""The access interface by which the core's units expose their memory spaces.

The core presents ``space``, ``addr`` and, for a write, ``wdata`` with
``we``; a unit that owns ``space`` answers a read on ``rdata`` in the next
cycle and drives 0 otherwise, so the core ORs all units' ``rdata``.  Units
see accesses only while the timestep is idle.  Writes arrive already
range-checked (the core refuses bad ones, spec section 5).
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AccessSignature"]

#: seen from the unit
AccessSignature = wiring.Signature({
    "space": In(4),
    "addr": In(32),
    "wdata": In(64),
    "we": In(1),
    "rdata": Out(64),
})
