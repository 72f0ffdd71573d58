"""Moving a whole chip state over the host link: load, read back, verify (sans I/O).

The host's side of docs/protocol.md for bulk transfers.  Everything here
builds request objects (:mod:`.protocol`) or turns reply bodies into values;
nothing opens a port.  :class:`Link` is the only piece that sends anything,
through a ``feed`` callable the caller provides (``ChipEmulator.feed``, or a
function that writes to a serial port and reads one reply).

* :func:`load_requests` -- the WRITEs that bring a chip in the reset state
  (docs/protocol.md section 6.3) to the state of a :class:`~.chip.FixedChip`:
  every writable core space of every core (:data:`LOAD_SPACES`), then
  ROUTE_DEST and ROUTE_INDEX (core 0xFF).  With ``from_reset`` only the
  words that differ from their reset value are sent (see :func:`write_runs`
  for how they are grouped into frames).
* :func:`readback_requests` and :func:`assemble` -- READs of whole spaces in
  frames of at most 1024 data bytes, and their reply bodies back to values.
* :func:`checksum_request` and :func:`expected_checksum` -- CHECKSUM of a
  whole space and the CRC-32 the chip must answer (``zlib.crc32`` of the
  bytes a READ returns), to verify a load without reading it back.
* :func:`loadable_snapshot` -- ``FixedChip.snapshot()`` without what no
  host can write (POTENTIAL, SPIKES, STATUS and the inject queue): two
  chips with equal loadable snapshots step identically from there on.
"""

import zlib
from dataclasses import dataclass

from .chip import ChipSpace, FixedChip, chip_space_info, empty_image
from .fixed import FixedCore
from .params import CoreParams
from .protocol import (CHIP, Checksum, FrameDecoder, Read, Write, ack_body, encode_words,
                       max_words, parse_read_reply, parse_reply, word_bytes)
from .spaces import Space, space_info

__all__ = ["FRAME_OVERHEAD", "LOAD_SPACES", "ROUTE_SPACES", "write_runs", "load_requests",
           "readback_requests", "assemble", "checksum_request", "expected_checksum",
           "loadable_snapshot", "Link"]

#: Wire bytes a WRITE costs beyond its data: body header (core, space, addr,
#: count: 8) + seq, op and CRC (4).  COBS (about 1 byte per 254), the 0x00
#: delimiter and the 6-byte ACK come on top; the run merging below uses this
#: round figure only to decide whether a gap is worth a new frame.
FRAME_OVERHEAD = 12

#: The writable core spaces, in load order (all but POTENTIAL and SPIKES).
LOAD_SPACES = tuple(s for s in Space if space_info(CoreParams(), s).writable)
#: The routing table, in load order: the destinations first, then the index.
ROUTE_SPACES = (ChipSpace.ROUTE_DEST, ChipSpace.ROUTE_INDEX)


def _info(params, cores, route_entries, core, space):
    """SpaceInfo of (core, space); core CHIP (0xFF) selects a chip-level space."""
    if core == CHIP:
        return chip_space_info(ChipSpace(space), cores, params.neurons, route_entries)
    if not 0 <= core < cores:
        raise ValueError(f"no core {core} on a {cores}-core chip")
    return space_info(params, Space(space))


def _values(chip, core, space):
    return (chip if core == CHIP else chip.cores[core]).read(space)


def write_runs(values, reset=None, bits=8, overhead=FRAME_OVERHEAD):
    """The ``(addr, count)`` regions of one space to WRITE, each at most ``max_words(bits)``.

    Without ``reset`` the whole space is one region (then cut into frames).
    With ``reset`` (the words the chip holds now) only the words with
    ``values[i] != reset[i]`` must be sent.  Two such runs separated by a gap
    of ``g`` equal words are merged into one region when resending the gap
    costs no more than a new frame: ``g * word_bytes(bits) <= overhead``
    (1-byte words: gaps up to 12 words; 4-byte words: up to 3).  A region
    longer than one frame is cut into frames of ``max_words(bits)`` words.
    """
    n = len(values)
    if reset is None:
        regions = [(0, n)] if n else []
    else:
        if len(reset) != n:
            raise ValueError(f"{n} values, {len(reset)} reset words")
        diff = [i for i, (v, r) in enumerate(zip(values, reset)) if v != r]
        regions = []
        max_gap = overhead // word_bytes(bits)
        for i in diff:
            if regions and i - (regions[-1][0] + regions[-1][1]) <= max_gap:
                start = regions[-1][0]
                regions[-1] = (start, i + 1 - start)
            else:
                regions.append((i, 1))
    step = max_words(bits)
    return [(a + k, min(step, c - k)) for a, c in regions for k in range(0, c, step)]


def load_requests(chip, *, from_reset=True, spaces=None, overhead=FRAME_OVERHEAD):
    """WRITEs that bring a reset chip of the same shape to the state of ``chip``.

    ``chip`` is a :class:`~.chip.FixedChip`; the target must have the same
    CoreParams, K and route_entries and be in the reset state (when
    ``from_reset``) or in any state (when not: every word is sent).  Order:
    core 0's :data:`LOAD_SPACES` in space order, core 1's, ..., then
    ROUTE_DEST and ROUTE_INDEX (core 0xFF), so every ROUTE_INDEX word points
    at entries already written.  ``spaces`` restricts the load to those core
    spaces (Space) and/or chip spaces (ChipSpace, given as
    ``(CHIP, space)``); default everything loadable.  What cannot be written
    (POTENTIAL, SPIKES, STATUS, the inject queue) is not loaded: see
    :func:`loadable_snapshot`.
    """
    p, K, D = chip.p, chip.K, chip.route_entries
    regions = [(c, s) for c in range(K) for s in LOAD_SPACES]
    regions += [(CHIP, s) for s in ROUTE_SPACES]
    if spaces is not None:
        wanted = set()
        for s in spaces:
            wanted.add(s if isinstance(s, tuple) else ("core", Space(s)))
        regions = [(c, s) for c, s in regions
                   if ((c, s) if c == CHIP else ("core", s)) in wanted]
    reset_core = FixedCore(empty_image(p)) if from_reset else None
    out = []
    for core, space in regions:
        info = _info(p, K, D, core, space)
        values = _values(chip, core, space)
        reset = None
        if from_reset:
            reset = [0] * info.depth if core == CHIP else reset_core.read(space)
        for addr, count in write_runs(values, reset, info.bits, overhead):
            out.append(Write.of(core, space, addr, values[addr:addr + count], info))
    return out


def _regions(cores, spaces):
    out = []
    for s in spaces:
        if isinstance(s, tuple):
            out.append((int(s[0]), int(s[1])))
        else:
            out += [(c, int(Space(s))) for c in range(cores)]
    return out


def readback_requests(params, cores, spaces, *, route_entries=4096):
    """READs of whole spaces, each at most 1024 data bytes (``max_words`` words).

    ``params`` and ``cores`` (K) and ``route_entries`` (D) describe the chip
    (all three are in the INFO reply, :class:`~.protocol.ChipInfo`).  Each
    item of ``spaces`` is a :class:`~.spaces.Space`, read on every core
    0 .. K-1, or a ``(core, space)`` pair (core CHIP with a ChipSpace for
    the chip-level spaces).  Requests come region by region, addresses
    increasing; :func:`assemble` turns the replies back into values.
    """
    out = []
    for core, space in _regions(cores, spaces):
        info = _info(params, cores, route_entries, core, space)
        step = max_words(info.bits)
        out += [Read(core, space, a, min(step, info.depth - a))
                for a in range(0, info.depth, step)]
    return out


def assemble(params, cores, requests, bodies, *, route_entries=4096):
    """Reply bodies of :func:`readback_requests` -> ``{(core, space): [values]}``.

    ``bodies`` are the ACK bodies in request order (``ack_body`` of each
    reply).  Every region must be covered from address 0 without gaps.
    """
    if len(requests) != len(bodies):
        raise ValueError(f"{len(requests)} requests, {len(bodies)} replies")
    out = {}
    for req, body in zip(requests, bodies):
        info = _info(params, cores, route_entries, req.core, req.space)
        values = out.setdefault((req.core, req.space), [])
        if req.addr != len(values):
            raise ValueError(f"core {req.core} space {req.space}: READ at {req.addr}, "
                             f"expected {len(values)}")
        values += parse_read_reply(body, info, req.count)
    return out


def _chip_layout(chip_or_params):
    if isinstance(chip_or_params, FixedChip):
        c = chip_or_params
        return c.p, c.K, c.route_entries
    if isinstance(chip_or_params, CoreParams):
        return chip_or_params, 255, 1       # core spaces only: any core number, no route depth
    raise TypeError("expected a FixedChip or a CoreParams")


def checksum_request(chip_or_params, core, space):
    """CHECKSUM of the whole ``space`` of ``core`` (CHIP: a chip-level space).

    With a CoreParams only core spaces can be asked for (the chip-level
    depths need K and D: pass the FixedChip).
    """
    params, K, D = _chip_layout(chip_or_params)
    if core == CHIP and isinstance(chip_or_params, CoreParams):
        raise ValueError("chip-level spaces need the FixedChip (their depth depends on K, D)")
    return Checksum(core, int(space), 0, _info(params, K, D, core, space).depth)


def expected_checksum(chip, core, space):
    """The CHECKSUM reply for the whole space: zlib.crc32 of what a READ of it returns."""
    info = _info(chip.p, chip.K, chip.route_entries, core, space)
    return zlib.crc32(encode_words(_values(chip, core, space), info.bits, info.signed))


_NOT_LOADABLE = {Space.POTENTIAL.name, Space.SPIKES.name, "STATUS", "QUEUE"}


def loadable_snapshot(chip):
    """``chip.snapshot()`` restricted to what :func:`load_requests` can set.

    Drops POTENTIAL and SPIKES (read only, recomputed by the next step),
    STATUS (chip counters) and the inject queue.
    """
    return {k: v for k, v in chip.snapshot().items()
            if (k[1] if isinstance(k, tuple) else k) not in _NOT_LOADABLE}


@dataclass
class Link:
    """A minimal synchronous host: one request out, wait for its reply, count the bytes.

    ``feed(wire) -> reply wire`` is the transport (``ChipEmulator.feed``, or
    a serial write followed by a read up to the next 0x00).  Sequence
    numbers count up modulo 256 from ``seq + 1``, so a new request never
    repeats the last ACKed one.  A NAK raises :class:`~.protocol.Nak`.
    """

    feed: object
    seq: int = 0
    frames: int = 0
    bytes_out: int = 0
    bytes_in: int = 0

    def request(self, req):
        """Send ``req``; return the ACK body."""
        self.seq = (self.seq + 1) & 0xFF
        wire = req.wire(self.seq)
        reply = self.feed(wire)
        self.frames += 1
        self.bytes_out += len(wire)
        self.bytes_in += len(reply)
        frames = FrameDecoder().feed(reply)
        if len(frames) != 1:
            raise ValueError(f"expected one reply frame, got {len(frames)}")
        return ack_body(parse_reply(frames[0]), self.seq)

    def run(self, requests):
        """Send every request in turn; returns the ACK bodies."""
        return [self.request(r) for r in requests]
