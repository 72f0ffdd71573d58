"""The multi-core chip: K SAL cores, the spike router, the inject queue and the host interface.

docs/protocol.md section 7 is the behaviour; golden/chip.py (``FixedChip``
behind ``ChipEmulator``) is the model it must match byte for byte on the
link.  The byte link is a pair of streams (``rx``, ``tx``): the board tops
put a UART in front, simulation drives it directly.

The chip step, in lock step (every core runs the same RUN command)::

    cores: NEURON pass -> send spikes (spike_out) -> wait at the barrier
    router: spikes -> routing table -> axon events (axon_in) of the cores
    barrier: every core waiting, the router idle and the slices empty -> the
             inject queue delivers this step's external events -> route_done
             to every core
    cores: ROWS, COLUMNS, AXONS, ENDS (and APPLY when due)

The inject queue is scanned only once the router is idle and every core
waits, so its deliveries and the router's never compete for an axon port;
the chip step counter (STATUS word 0) counts barriers.

Every event stream between the blocks passes a register slice
(rtl/slice.py) on each end that is not already a register: a core's
spikes leave through one, the router's and the inject queue's deliveries
leave through one each and enter a core through another, and the host's
commands reach a core through one.  On the 4-core ULX3S the blocks lie
across the die, and the crossing then has the whole cycle for its wire.
The barrier counts the events the slices hold.  (With ``slices=False``,
for a small part, the slices are wires.)
"""

from amaranth.hdl import (Cat, ClockDomain, ClockSignal, DomainRenamer, Module, Mux,
                          ResetSignal, Signal)
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import CoreParams
from .core import SALCore
from .host import HostInterface
from .inject import InjectQueue
from .router import SpikeRouter
from .slice import StreamSlice

__all__ = ["SALChip"]


class SALChip(wiring.Component):
    """K cores, router, inject queue and host interface behind one byte link.

    Parameters
    ----------
    params : CoreParams
        Every core's build parameters.
    cores : int
        K, 1 to 8 (the router's limit).
    lanes : int
        Synapse lanes per core.
    route_entries : int
        D, the depth of ROUTE_DEST.
    inject_depth : int
        Events the inject queue holds.
    fifo_depth : int
        Entries of each of the router's FIFOs.
    slices : bool
        Register slices on the streams between blocks (below).  False for a small part,
        whose blocks sit close together and where each flip-flop costs a logic cell.
    reset_buffer : callable or None
        ``reset_buffer(m, reset, name) -> reset``: how a block's reset reaches its
        flip-flops.  None: over general routing.  The ECP5 board puts each on a global
        clock network (boards/top.py), since a core's reset reaches thousands of
        flip-flops spread over a fifth of the die.

    Attributes
    ----------
    rx : In(stream.Signature(8))
        Wire bytes from the host.
    tx : Out(stream.Signature(8))
        Wire bytes to the host.
    """

    rx: In(stream.Signature(8))
    tx: Out(stream.Signature(8))

    def __init__(self, params=CoreParams(), cores=1, lanes=1, route_entries=4096,
                 inject_depth=256, fifo_depth=4, slices=True, reset_buffer=None):
        self._p, self._K, self._L = params, cores, lanes
        self._D, self._Q, self._F = route_entries, inject_depth, fifo_depth
        self._slices, self._reset_buffer = slices, reset_buffer
        # Build the parts now so that bad parameters fail at construction.
        self.cores = [SALCore(params, lanes, loopback=False) for _ in range(cores)]
        self.router = SpikeRouter(cores, params.neurons, params.axons, route_entries,
                                  fifo_depth)
        self.inject_queue = InjectQueue(cores, params.axons, inject_depth)
        self.host = HostInterface(params, cores, route_entries, inject_depth, lanes)
        super().__init__()

    @property
    def params(self):
        return self._p

    @property
    def n_cores(self):
        return self._K

    def elaborate(self, platform):
        m = Module()
        router, queue, host = self.router, self.inject_queue, self.host
        # Each block runs in its own domain on the sync clock, reset from its own register
        # of a chain from the sync reset: one reset net then drives one block's flip-flops
        # instead of the whole chip's, which on the 4-core ULX3S build spanned the die (16
        # ns of routing, the critical path).  A chain, not one register per block fed by
        # the sync reset, because Yosys merges identical registers back into one: the host
        # leaves reset one cycle after the sync reset, the router one cycle later, and so on
        # (all in the time the first byte takes to arrive).  The registers must not be
        # reset themselves (they would hold 0 while the reset is up); they start at 0, as
        # the sync reset does, since configuration puts every block in its reset state.
        blocks = [("host", host), ("router", router), ("inject", queue)] + \
                 [(f"core{k}", core) for k, core in enumerate(self.cores)]
        rst = ResetSignal("sync")
        for name, block in blocks:
            cd = ClockDomain(name, local=True)
            m.domains += cd
            block_rst = Signal(reset_less=True, name=f"{name}_rst")
            m.d.sync += block_rst.eq(rst)
            m.d.comb += [cd.clk.eq(ClockSignal("sync")),
                         cd.rst.eq(self._reset_buffer(m, block_rst, name)
                                   if self._reset_buffer else block_rst)]
            m.submodules[name] = DomainRenamer(name)(block)
            rst = block_rst

        def slice_of(name, shape):
            m.submodules[name] = s = StreamSlice(shape, self._slices)
            return s

        for k, core in enumerate(self.cores):
            # The commands cross the die through a slice (the host's side is registers).
            cmd = slice_of(f"cmd_slice{k}", core.cmd.payload.shape())
            wiring.connect(m, host.cmd[k], cmd.w)
            wiring.connect(m, cmd.r, core.cmd)
            wiring.connect(m, core.rsp, host.rsp[k])
        wiring.connect(m, wiring.flipped(self.rx), host.rx)
        wiring.connect(m, host.tx, wiring.flipped(self.tx))
        wiring.connect(m, router.host, host.route)
        wiring.connect(m, host.inject, queue.push)

        chip_step = Signal(32)
        m.d.comb += [host.chip_step.eq(chip_step), host.events_routed.eq(router.events_routed),
                     host.events_injected.eq(queue.injected),
                     host.inject_pending.eq(queue.pending)]

        # Axon events: from the router, or from the inject queue while it delivers, each
        # through its own slice and then the core's.  ``events_held``: the slices that
        # the barrier counts (every one that carries spikes or axon events).
        injecting = Signal()
        out = slice_of("inject_slice", queue.out.payload.shape())
        wiring.connect(m, queue.out, out.w)
        events_held = [out]
        for k, core in enumerate(self.cores):
            spikes = slice_of(f"spike_slice{k}", range(self._p.neurons))
            routed = slice_of(f"routed_slice{k}", range(self._p.axons))
            axons = slice_of(f"axon_slice{k}", range(self._p.axons))
            events_held += [spikes, routed, axons]
            wiring.connect(m, core.spike_out, spikes.w)
            wiring.connect(m, spikes.r, router.spikes[k])
            wiring.connect(m, router.axons[k], routed.w)
            wiring.connect(m, axons.r, core.axon_in)
            mine = out.r.valid & (out.r.payload.core == k)
            m.d.comb += [
                axons.w.valid.eq(Mux(injecting, mine, routed.r.valid)),
                axons.w.payload.eq(Mux(injecting, out.r.payload.axon, routed.r.payload)),
                routed.r.ready.eq(~injecting & axons.w.ready),
            ]
            with m.If(injecting & (out.r.payload.core == k)):
                m.d.comb += out.r.ready.eq(axons.w.ready)
        in_flight = Signal()
        m.d.comb += in_flight.eq(Cat(s.r.valid for s in events_held).any())

        # The barrier of protocol section 7: routed events, then injected ones, then go.
        # It sees every event where it is: in a slice (``in_flight``), in the router or
        # the inject queue, or taken by a core (whose ``waiting``, one cycle late, looks
        # at the event offered to it too).  Every flag it reads is a register, from blocks
        # all over the die, and so is their AND (``settled``) before the state machine
        # acts on it.  A ``settled`` one cycle old is safe because nothing can start a new
        # event while every core waits and nothing is in flight, except where the barrier
        # itself changes that: INJECT_START skips the ``settled`` sampled before the
        # queue's ``busy`` rose, and ``route_done`` (a register, for the same reason)
        # clears it for the cycle in which the cores leave ROUTE.
        all_waiting = Signal()
        m.d.comb += all_waiting.eq(Cat(core.waiting for core in self.cores).all())
        route_done = Signal()
        m.d.sync += route_done.eq(0)
        for core in self.cores:
            m.d.comb += core.route_done.eq(route_done)
        settled = Signal()
        m.d.sync += settled.eq(all_waiting & router.idle & ~in_flight & ~queue.busy &
                               ~route_done)
        with m.FSM():
            with m.State("STEPPING"):
                with m.If(settled):
                    m.d.comb += [queue.start.eq(1), queue.step.eq(chip_step)]
                    m.next = "INJECT_START"
            with m.State("INJECT_START"):   # queue.busy is high from here until it has
                m.d.comb += injecting.eq(1)   # delivered
                m.next = "INJECT"
            with m.State("INJECT"):
                m.d.comb += injecting.eq(1)
                with m.If(settled):       # (and the cores have taken the last event in)
                    m.d.sync += [route_done.eq(1),
                                 chip_step.eq(Mux(chip_step == 0xFFFFFFFF, chip_step,
                                                  chip_step + 1))]
                    m.next = "RELEASE"
            with m.State("RELEASE"):      # the cores leave ROUTE
                m.next = "STEPPING"
        return m

