"""The SAL core: neurons, synapse memory, plasticity and timestep controller in one component.

A time-multiplexed core that implements docs/spec.md bit for bit.  The
step runs in phases, each a walk over memory through a pipeline built for
a 100 MHz ECP5 clock: the state machine's request is registered
(REQUEST_DELAY), every block-RAM read goes into a register before any
logic (READ_DELAY from the request to the data), the plasticity unit takes
PLASTICITY_STAGES more, and the write-back comes WALK_DELAY after the
synapse memory's address.  Reads are transparent to writes.  Two rules
keep the pipeline exact: a row may start only when the previous row's
first word has been written back (``row_gap``: consecutive rows update the
same words of synaptic input), and a phase that reads what a walk writes
waits for the walk to drain (``drain``).

==========  ==============================================================
RESYNC      only after the host changed weights, rules, kernel, histories
            or configuration: clear the synaptic inputs, recompute every
            axon's PSP flag and pre trace, add the rows of active PSPs.
NEURON      one neuron per cycle (3 stages): potential, LUT, PRNG, spike,
            post trace Y, neuron history shift.  Spiking neurons are
            listed; on this single-core build neuron n drives axon n.
ROWS        per spiking axon a: row a, ``lanes`` synapses per cycle:
            acc += c_anticausal Y_n + (s_n ? c_causal X_a : 0); a PSP that
            starts adds the row to the synaptic inputs.
COLUMNS     per spiking neuron n: column n, ``lanes`` axons per cycle,
            skipping axons that spiked (their synapse was done in ROWS):
            acc += c_causal X_a.
AXONS       one axon per cycle: history shift, PSP flag, pre trace for
            the next step; PSPs that end are listed.  It starts with
            ROWS and runs beside ROWS, COLUMNS and ENDS (it writes the
            next step's flags and traces, which they do not read).
ENDS        per ending PSP, as AXONS lists them after the walks: subtract
            the row from the synaptic inputs.
APPLY       when due: every row, w += acc >> eta_s with carry; rows with
            an active PSP correct the synaptic inputs by the change.
==========  ==============================================================

The units: :class:`.neuron.NeuronUnit` (NEURON), :class:`.axon.AxonUnit`
(AXONS), :class:`.synapse.SynapseMemory` (skewed banks, ``lanes``
synapses per cycle along rows and columns), :class:`.plasticity.PlasticityUnit`
(what each lane does in ROWS, COLUMNS, ENDS and APPLY) and
:class:`.banks.LaneBanks` for the synaptic inputs and the traces.  This
module is the timestep controller (the state machine below) and the access
port (decode, range checks and the registers: configuration, rule table,
kernel, last spikes).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.params import CoreParams
from ..golden.spaces import Config, Space, rule_word_bits, space_info
from .banks import LaneBanks
from .command import Op, command_signature, response_signature
from .compare import below, in_bounds
from .axon import AXON_LATENCY, AxonUnit
from .neuron import NEURON_LATENCY, Y_LATENCY, NeuronUnit
from .pipeline import delayed, selected_bit
from .plasticity import PLASTICITY_STAGES, SYN_INPUT_BITS, PlasticityUnit, Work
from .synapse import SynapseMemory, Walk
from .trace import trace_width

__all__ = ["SALCore", "WALK_DELAY", "REQUEST_DELAY"]

#: cycles from a request of the state machine to the units (a register)
REQUEST_DELAY = 1
#: cycles from the units' read addresses to the data (block RAM, register)
UNIT_READ = 2
#: cycles from a walk's request to its read data
READ_DELAY = REQUEST_DELAY + UNIT_READ
#: cycles from the synapse memory's address to its write-back: the read, then the
#: plasticity pipeline
WALK_DELAY = UNIT_READ + PLASTICITY_STAGES


def _log2(x):
    return (x - 1).bit_length()


def _is_pow2(x):
    return x > 0 and x & (x - 1) == 0


class SALCore(wiring.Component):
    """One SAL core with its command port.

    Parameters
    ----------
    params : CoreParams
        Build-time parameters (docs/spec.md section 2).  This RTL needs
        ``neurons`` and ``axons`` to be powers of two, ``history <= 64`` and
        ``rules >= 2``.
    lanes : int
        Synapses processed per cycle in the row and column walks (power of
        two, dividing ``neurons`` and ``axons``).
    loopback : bool
        True (single-core chip): neuron n drives axon n inside the core.
        False: the core sends its spikes out and takes its axon spikes in,
        for a chip where a router connects the cores (below).

    Attributes
    ----------
    cmd : In(command_signature)
        Commands, see :mod:`.command`.
    rsp : Out(response_signature)
        One response per command.
    spike_out : Out(stream.Signature(range(N)))
        Without loopback: this step's spiking neurons, after the neuron pass.
    axon_in : In(stream.Signature(range(A)))
        Without loopback: this step's axon events (repeats of an axon are
        merged: an axon spikes once however many events reach it), taken
        from the end of the neuron pass until the barrier, while the core's
        own spikes are still going out too.
    waiting : Out(1)
        Without loopback: all spikes are sent, every axon event taken is
        merged, and the core waits for the barrier.  A register: it falls
        in the cycle after an event is taken and after ``route_done``.
    route_done : In(1)
        Without loopback: the barrier.  The chip raises it when every core
        is ``waiting`` and the router holds no event; every core then
        leaves the routing phase in the same cycle (spec section 3, step 3).
    """

    def __init__(self, params=CoreParams(), lanes=1, loopback=True):
        p = params
        if not _is_pow2(p.neurons) or not _is_pow2(p.axons):
            raise ValueError(f"this core needs power-of-two neurons and axons, not "
                             f"{p.neurons} and {p.axons}")
        if p.history > 64:
            raise ValueError(f"history must be at most 64 for this core, not {p.history}")
        if p.rules < 2:
            raise ValueError(f"rules must be at least 2 for this core, not {p.rules}")
        if not _is_pow2(lanes) or lanes > min(p.neurons, p.axons):
            raise ValueError(f"lanes must be a power of two dividing neurons and axons, "
                             f"not {lanes!r}")
        self._p = p
        self._lanes = lanes
        self._loopback = loopback
        members = {"cmd": In(command_signature), "rsp": Out(response_signature)}
        if not loopback:
            members.update({
                "spike_out": Out(stream.Signature(range(p.neurons))),
                "axon_in": In(stream.Signature(range(p.axons))),
                "waiting": Out(1),
                "route_done": In(1),
            })
        super().__init__(members)

    @property
    def params(self):
        return self._p

    @property
    def lanes(self):
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        p, L = self._p, self._lanes
        N, A, H = p.neurons, p.axons, p.history
        NW, AG = N // L, A // L
        nb, ab = _log2(N), _log2(A)
        tw = trace_width(H, p.kernel_bits)

        m.submodules.synapses = syn = SynapseMemory(p, L, WALK_DELAY)
        m.submodules.isyn = ib = LaneBanks(signed(SYN_INPUT_BITS), N, L)
        m.submodules.ytrace = yb = LaneBanks(unsigned(tw), N, L)
        # Two pages of pre traces: the walks read this step's (xpage), AXONS writes the
        # next step's to the other, so no read needs to see a write of the same cycle and
        # the banks need no read-through logic.
        m.submodules.xtrace = xb = LaneBanks(unsigned(tw), 2 * A, L, transparent=False)
        m.submodules.neurons = nu = NeuronUnit(p)
        m.submodules.axons = au = AxonUnit(p)
        m.submodules.plasticity = pu = PlasticityUnit(p, L, tw)

        def event_list(name, depth):
            mem = Memory(shape=unsigned(max(_log2(depth), 1)), depth=depth, init=[])
            m.submodules[name] = mem
            return mem.read_port(), mem.write_port()

        nl_r, nl_w = event_list("neuron_list", N)   # spiking neurons of this step
        al_r, al_w = event_list("axon_list", A)     # spiking axons of this step
        el_r, el_w = event_list("end_list", A)      # PSPs that end (or, on resync, are active)

        # -- registers -------------------------------------------------------------
        kernel = Signal(data.ArrayLayout(p.kernel_bits, H))
        rules = Signal(data.ArrayLayout(rule_word_bits(p), p.rules))
        tau_ref = Signal(8, init=1)
        tau_syn = Signal(8, init=1)
        lut_shift = Signal(5)
        apply_period = Signal(16)
        phase_count = Signal(16)
        step_count = Signal(32)
        apply_count = Signal(32)
        config = [tau_ref, tau_syn, lut_shift, apply_period, phase_count, step_count,
                  apply_count]
        spikes = Signal(N)          # s_n(t)
        axon_spikes = Signal(A)     # s_a(t)
        n_count = Signal(nb + 1)    # list lengths
        a_count = Signal(ab + 1)
        e_count = Signal(ab + 1)
        dirty = Signal(init=1)      # synaptic inputs, traces or PSP flags need a resync
        resync = Signal()
        xpage = Signal()            # the page of pre traces X that this step's walks read

        for unit in (nu, au):
            m.d.comb += unit.kernel.eq(kernel)
        m.d.comb += [nu.tau_ref.eq(tau_ref), nu.lut_shift.eq(lut_shift),
                     au.tau_syn.eq(tau_syn), au.resync.eq(resync), pu.rules.eq(rules)]

        # -- requests to the units: the state machine decides in cycle r, the units' memories
        # see the addresses from registers in r + 1 (REQUEST_DELAY), so that no state decode
        # sits in front of a block RAM's address.
        def requested(target, name):
            req = Signal(target.shape(), name=f"req_{name}")
            m.d.sync += target.eq(req)
            return req

        r_syn = {f: requested(getattr(syn, f), f"syn_{f}") for f in ("mode", "a", "n", "w", "g")}
        r_bank = {(b, f): requested(getattr(bank, f), f"{b}_{f}")
                  for b, bank in (("yb", yb), ("ib", ib), ("xb", xb))
                  for f in ("word", "sel_one", "one_addr")}
        r_nu = {f: requested(getattr(nu, f), f"nu_{f}") for f in ("valid", "n")}
        r_au = {f: requested(getattr(au, f), f"au_{f}") for f in ("valid", "a")}
        r_nu["we"], r_au["we"] = (requested(u.access.we, f"{u_name}_we")
                                  for u, u_name in ((nu, "nu"), (au, "au")))

        # -- the walks: requested in cycle c, read data at c + 1 + 2, write-back at c + 1 + D --
        # The control of each issued word travels beside the data (pipeline.delayed).
        idx = Signal(max(A, N, NW, AG).bit_length() + 2)   # the state machine's index
        i_work = Signal(3)         # Work.NONE unless a walk issues this cycle
        wbits, gbits = max(_log2(NW), 1), max(_log2(AG), 1)
        i_w = Signal(wbits)
        i_x = Signal(tw)
        i_start = Signal()
        m.d.comb += [
            pu.work.eq(delayed(m, i_work, READ_DELAY, "work")),
            pu.syn.eq(syn.rd),
            pu.y.eq(yb.lanes_rd),
            pu.x_col.eq(xb.lanes_rd),
            pu.isyn.eq(ib.lanes_rd),
            pu.x_row.eq(delayed(m, i_x, READ_DELAY, "x_row")),
            # the spike bits of the word, selected by the registered request
            pu.post_spike.eq(delayed(m, spikes.word_select(syn.w[:wbits], L) if NW > 1
                                     else spikes, READ_DELAY - REQUEST_DELAY, "post_spike")),
            pu.pre_spike.eq(delayed(m, axon_spikes.word_select(syn.g[:gbits], L) if AG > 1
                                    else axon_spikes, READ_DELAY - REQUEST_DELAY, "pre_spike")),
            pu.start.eq(delayed(m, i_start, READ_DELAY, "start")),
            # APPLY's row has an active PSP (only APPLY uses it): row idx's flag
            pu.psp.eq(delayed(m, selected_bit(m, au.psp, idx[:max(ab, 1)], "apply_psp"),
                              READ_DELAY - 2, "psp")),
            syn.wr.eq(pu.syn_wr),
            syn.we.eq(pu.syn_we),
            ib.lanes_wr.eq(pu.isyn_wr),
            ib.lanes_we.eq(pu.isyn_we),
            ib.lanes_waddr.eq(delayed(m, i_w, REQUEST_DELAY + WALK_DELAY, "isyn_waddr")),
        ]
        # The synaptic inputs are read at issue and written back WALK_DELAY cycles later, so a
        # row may not start its walk before the previous row's first word is written back
        # (row_gap), and a phase that reads what a walk writes waits for it to drain (drain).
        row_gap = Signal(range(WALK_DELAY + 1))
        drain = Signal(range(REQUEST_DELAY + WALK_DELAY + 2))
        with m.If(i_work != Work.NONE):
            m.d.sync += drain.eq(REQUEST_DELAY + WALK_DELAY + 1)
        with m.Elif(drain != 0):
            m.d.sync += drain.eq(drain - 1)
        with m.If(row_gap != 0):
            m.d.sync += row_gap.eq(row_gap - 1)

        def issue_row(work, a, w):
            """Stage 0 of word w of row a (every walk but COLUMN)."""
            m.d.comb += [r_syn["mode"].eq(Walk.ROW), r_syn["a"].eq(a), r_syn["w"].eq(w),
                         r_bank["yb", "word"].eq(w), r_bank["ib", "word"].eq(w),
                         i_work.eq(work), i_w.eq(w)]
            with m.If(w == 0):
                m.d.sync += row_gap.eq(WALK_DELAY - 1)

        def issue_column(n, g):
            m.d.comb += [r_syn["mode"].eq(Walk.COLUMN), r_syn["n"].eq(n), r_syn["g"].eq(g),
                         r_bank["xb", "word"].eq(Cat(g[:_log2(AG)], xpage)),
                         i_work.eq(Work.COLUMN)]

        # -- the neuron unit's outputs -----------------------------------------------------
        m.d.comb += [nu.isyn.eq(ib.one_rd),
                     yb.one_waddr.eq(nu.y_n), yb.one_wdata.eq(nu.y), yb.one_we.eq(nu.y_valid)]
        with m.If(nu.spike_valid & nu.spike):
            m.d.sync += [spikes.bit_select(nu.spike_n, 1).eq(1), n_count.eq(n_count + 1)]
            m.d.comb += [nl_w.addr.eq(n_count), nl_w.data.eq(nu.spike_n), nl_w.en.eq(1)]
            if self._loopback:   # single-core build: neuron n drives axon n
                with m.If(below(nu.spike_n, A)):
                    m.d.sync += [axon_spikes.bit_select(nu.spike_n, 1).eq(1),
                                 a_count.eq(a_count + 1)]
                    m.d.comb += [al_w.addr.eq(a_count), al_w.data.eq(nu.spike_n),
                                 al_w.en.eq(1)]

        # -- AXONS beside the walks ----------------------------------------------------------
        # The axon pass (history shift, next step's PSP flags and pre traces, ending PSPs)
        # needs only this step's axon spikes, so it runs beside the row and column walks
        # rather than after them, and ENDS walks each ending PSP as the pass lists it.
        # What the pass writes, the walks read: the PSP flags go to ``au.psp_next`` and the
        # pre traces to the other page of ``xb``; once the walks and the pass are both
        # done (the last END_FETCH), ``commit`` makes them this step's.
        sweeping = Signal()         # the pass requests axon ax_idx
        sweep_done = Signal()       # the pass's last axon has left the unit
        ax_idx = Signal(range(A + REQUEST_DELAY + AXON_LATENCY + 1))
        commit = Signal()           # a registered pulse: the next step's flags and traces
        m.d.sync += commit.eq(0)
        m.d.comb += au.commit.eq(commit)
        with m.If(commit):
            m.d.sync += xpage.eq(~xpage)
        with m.If(sweeping):
            with m.If(below(ax_idx, A)):
                m.d.comb += [r_au["valid"].eq(1), r_au["a"].eq(ax_idx)]
            m.d.sync += ax_idx.eq(ax_idx + 1)
            with m.If(ax_idx == A - 1 + REQUEST_DELAY + AXON_LATENCY):
                m.d.sync += [sweeping.eq(0), sweep_done.eq(1)]

        def start_sweep():
            m.d.sync += [sweeping.eq(1), ax_idx.eq(0), sweep_done.eq(0)]

        m.d.comb += [xb.one_waddr.eq(Cat(au.x_a[:ab], ~xpage)), xb.one_wdata.eq(au.x),
                     xb.one_we.eq(au.x_valid)]
        # the unit takes the spike bit a cycle after the request register, selected in two
        # stages (pipeline.selected_bit) from the axon spikes
        m.d.comb += au.spike.eq(selected_bit(m, axon_spikes, ax_idx[:max(ab, 1)], "au_spike"))
        with m.If(au.end):
            m.d.comb += [el_w.addr.eq(e_count), el_w.data.eq(au.x_a), el_w.en.eq(1)]
            m.d.sync += e_count.eq(e_count + 1)

        # -- command decode -------------------------------------------------------------------
        cmd = self.cmd.payload
        rsp_data = Signal(64)
        rsp_err = Signal()
        m.d.comb += [self.rsp.payload.data.eq(rsp_data), self.rsp.payload.error.eq(rsp_err)]
        c_op = Signal(3)
        c_space = Signal(4)
        c_addr = Signal(32)
        c_data = Signal(64)
        steps_left = Signal(64)
        cycles = Signal(64)
        counting = Signal()
        # Decisions of STEP_DONE, registered a cycle ahead (their inputs are stable for the
        # whole step) so that the 64-bit compares stay out of the state register's path.
        last_step = Signal()      # steps_left == 1
        apply_due = Signal()      # the step that ends now makes the phase due
        run_over = Signal()       # no more steps: an APPLY command, or the run's last step
        m.d.sync += [last_step.eq(steps_left == 1),
                     apply_due.eq((apply_period != 0) & (phase_count + 1 >= apply_period))]
        with m.If(counting):
            m.d.sync += cycles.eq(cycles + 1)
        for unit in (nu, au):
            m.d.comb += [unit.access.space.eq(c_space), unit.access.addr.eq(c_addr),
                         unit.access.wdata.eq(c_data)]

        # Synapse spaces: addr = a * N + n.
        syn_space = (c_space == Space.WEIGHT) | (c_space == Space.ACC) | \
                    (c_space == Space.RULE_INDEX)

        def access_synapse():
            m.d.comb += [r_syn["mode"].eq(Walk.ONE),
                         r_syn["a"].eq(c_addr[nb:nb + ab] if ab else 0),
                         r_syn["n"].eq(c_addr[:nb] if nb else 0)]

        in_range_now = Signal()
        with m.Switch(c_space):
            for sp in Space:
                with m.Case(sp):
                    m.d.comb += in_range_now.eq(below(c_addr, space_info(p, sp).depth))

        value_ok_now = Signal()
        limits = {Config.TAU_REF: (1, 255), Config.TAU_SYN: (1, H),
                  Config.LUT_SHIFT: (0, p.u_bits - 1), Config.APPLY_PERIOD: (0, 65535),
                  Config.PHASE_COUNT: (0, 65535), Config.STEP_COUNT: (0, 2 ** 32 - 1),
                  Config.APPLY_COUNT: (0, 2 ** 32 - 1)}
        g = p.gain_bits
        with m.Switch(c_space):
            for sp in Space:
                info = space_info(p, sp)
                with m.Case(sp):
                    # Words travel zero-extended; signed ones as their two's-complement bits.
                    fits = c_data[info.bits:] == 0 if info.bits < 64 else Const(1)
                    if sp == Space.CONFIG:
                        with m.Switch(c_addr):
                            for reg, (lo, hi) in limits.items():
                                with m.Case(reg):
                                    m.d.comb += value_ok_now.eq(in_bounds(c_data, lo, hi))
                    elif sp == Space.SEED:
                        m.d.comb += value_ok_now.eq(fits & (c_data != 0))
                    elif sp == Space.RULES:   # eta_s must leave room for the carry
                        m.d.comb += value_ok_now.eq(
                            fits & below(c_data[2 * g:2 * g + 5], p.acc_bits))
                    else:
                        m.d.comb += value_ok_now.eq(fits & info.writable)

        # The checks compare 32- and 64-bit words: registered, and DECODE waits a cycle (CHECK).
        in_range, value_ok, data_zero = Signal(), Signal(), Signal()
        m.d.sync += [in_range.eq(in_range_now), value_ok.eq(value_ok_now),
                     data_zero.eq(c_data == 0)]

        # -- host reads: every register space's word at c_addr, registered (c_addr holds
        # from DECODE on; READ_DATA comes three cycles later and picks by space)
        n_words = (N + 31) // 32
        spike_words = Array(spikes[32 * i:min(32 * i + 32, N)] for i in range(n_words))
        read_config, read_rule, read_kernel, read_spikes, read_units = (
            Signal(64, name=f"read_{n}") for n in ("config", "rule", "kernel", "spikes", "units"))
        # Their own copy of the address: c_addr fans out to the units, the range checks and
        # the write decode, and a placer that puts it near those left the read multiplexers
        # 7 ns of routing away (the one-core ULX3S build's critical path).
        read_addr = Signal(max(3, p.rule_bits, _log2(H), _log2(n_words), 1))
        m.d.sync += read_addr.eq(c_addr)
        m.d.sync += [read_config.eq(Array(config)[read_addr[:3]]),
                     read_rule.eq(rules[read_addr[:p.rule_bits]]),
                     read_kernel.eq(kernel[read_addr[:max(_log2(H), 1)]]),
                     read_spikes.eq(spike_words[read_addr[:max(_log2(n_words), 1)]]),
                     read_units.eq(nu.access.rdata | au.access.rdata)]

        # -- host writes: requested by the WRITE state, carried out a cycle later from
        # registers (c_space, c_addr and c_data hold until the next command)
        syn_host_wr = Signal(syn.layout)
        syn_host_we = Signal()
        regs_we = Signal()
        r_syn_host_wr = requested(syn_host_wr, "syn_host_wr")
        r_syn_host_we = requested(syn_host_we, "syn_host_we")
        r_regs_we = requested(regs_we, "regs_we")
        with m.If(syn_host_we):
            m.d.comb += [syn.wr[0].eq(syn_host_wr), syn.we.eq(1)]
        with m.If(regs_we):
            with m.Switch(c_space):
                with m.Case(Space.CONFIG):
                    with m.Switch(c_addr):
                        for i, reg in enumerate(config):
                            with m.Case(i):
                                m.d.sync += reg.eq(c_data)
                with m.Case(Space.RULES):
                    m.d.sync += rules[c_addr[:p.rule_bits]].eq(c_data)
                with m.Case(Space.KERNEL):
                    m.d.sync += kernel[c_addr[:max(_log2(H), 1)]].eq(c_data)

        # -- the state machine ---------------------------------------------------------------------
        # The lists are read at ``idx`` in every state (the FETCH states use the word), so
        # that no state decode sits in front of their read addresses.
        m.d.comb += [nl_r.addr.eq(idx), al_r.addr.eq(idx), el_r.addr.eq(idx)]
        sub = Signal(max(NW, AG).bit_length() + 1)
        cur = Signal(max(ab, nb, 1))
        x_latch = Signal(tw)
        row_start = Signal()      # the row's axon starts a PSP
        row_psp = selected_bit(m, au.psp, cur, "row_psp")   # two cycles after ROW_SETUP
        wait = Signal(range(REQUEST_DELAY + WALK_DELAY))

        # STEP clears the spike vectors through registered pulses: one flip-flop, not the
        # state decode, fans out to their N + A bits.  They land in the first cycle of
        # NEURON or RESYNC_CLEAR, before anything sets or reads a spike.
        clear_spikes, clear_axon_spikes = Signal(), Signal()
        m.d.sync += [clear_spikes.eq(0), clear_axon_spikes.eq(0)]
        with m.If(clear_spikes):
            m.d.sync += spikes.eq(0)
        with m.If(clear_axon_spikes):
            m.d.sync += axon_spikes.eq(0)

        if not self._loopback:
            # An axon event is taken into a register and merged into the axon spikes two
            # cycles later; the core is not ``waiting`` while one is in flight, so the
            # barrier cannot pass it.  ``axon_in.ready`` is a register too (``accepting``,
            # high from the first EMIT cycle to the last ROUTE cycle): a ready decoded from
            # the state, sent across the die to the router and the inject queue, was the
            # 4-core ULX3S's critical path.  Whether the axon already spiked is read in two
            # stages (a 256:1 select is too slow for one routed cycle): stage 1 registers
            # the event's group of spike bits and whether the event merging in that cycle
            # is the same axon (its bit is not yet in the group), stage 2 picks the bit and
            # merges.
            accepting = Signal()
            event_valid = Signal()
            event = Signal(range(A))
            waiting = Signal()    # no event taken, held or merging, in ROUTE
            m.d.sync += waiting.eq(0)
            m.d.comb += [self.waiting.eq(waiting), self.axon_in.ready.eq(accepting)]
            m.d.sync += [event_valid.eq(self.axon_in.valid & accepting),
                         event.eq(self.axon_in.payload)]
            group = min(16, A)
            gb = (group - 1).bit_length()
            merge_valid = Signal()
            merge_event = Signal(range(A))
            merge_group = Signal(group)
            merge_repeat = Signal()     # the same axon as the event merging one cycle ahead
            m.d.sync += [merge_valid.eq(event_valid), merge_event.eq(event),
                         merge_group.eq(axon_spikes.word_select(event[gb:], group)
                                        if A > group else axon_spikes),
                         merge_repeat.eq(merge_valid & (merge_event == event))]
            seen = merge_group.bit_select(merge_event[:gb], 1) if group > 1 else merge_group
            with m.If(merge_valid & ~seen & ~merge_repeat):
                m.d.sync += [axon_spikes.bit_select(merge_event, 1).eq(1),
                             a_count.eq(a_count + 1)]
                m.d.comb += [al_w.addr.eq(a_count), al_w.data.eq(merge_event), al_w.en.eq(1)]

        def waiting_states(name, cycles, then, each):
            """``name`` and ``name``_WAIT: ``each()`` in each of ``cycles`` cycles, then ``then``."""
            with m.State(name):
                each()
                m.d.sync += wait.eq(cycles - 2)
                m.next = f"{name}_WAIT"
            with m.State(f"{name}_WAIT"):
                each()
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait == 0):
                    m.next = then

        def request_row_trace():
            m.d.comb += [r_bank["xb", "sel_one"].eq(1),
                         r_bank["xb", "one_addr"].eq(Cat(cur[:ab], xpage))]
            m.d.sync += row_start.eq(~row_psp)

        with m.FSM():
            with m.State("IDLE"):
                # The command is taken whether valid or not (the host holds it still while
                # valid): ``cmd.valid``, which comes from across the die, then only picks
                # the next state and does not enable a hundred flip-flops.
                m.d.comb += self.cmd.ready.eq(1)
                m.d.sync += [c_op.eq(cmd.op), c_space.eq(cmd.space), c_addr.eq(cmd.addr),
                             c_data.eq(cmd.data), rsp_err.eq(0), rsp_data.eq(0)]
                with m.If(self.cmd.valid):
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.next = "DECODE"
            with m.State("DECODE"):
                with m.Switch(c_op):
                    with m.Case(Op.READ):
                        with m.If(in_range):
                            m.next = "READ"
                        with m.Else():
                            m.d.sync += rsp_err.eq(1)
                            m.next = "RESPOND"
                    with m.Case(Op.WRITE):
                        with m.If(~in_range | ~value_ok):
                            m.d.sync += rsp_err.eq(1)
                            m.next = "RESPOND"
                        with m.Else():
                            m.next = "WRITE_READ"
                    with m.Case(Op.RUN):
                        m.d.sync += [steps_left.eq(c_data), cycles.eq(0), run_over.eq(0)]
                        with m.If(data_zero):
                            m.next = "RESPOND"
                        with m.Else():
                            m.d.sync += counting.eq(1)
                            m.next = "STEP"
                    with m.Case(Op.APPLY):
                        m.d.sync += [steps_left.eq(0), cycles.eq(0), counting.eq(1),
                                     run_over.eq(1)]
                        m.next = "STEP"
                    with m.Case(Op.CHECK):
                        m.d.sync += rsp_err.eq(~in_range | ~value_ok)
                        m.next = "RESPOND"
                    with m.Default():
                        m.d.sync += rsp_err.eq(1)
                        m.next = "RESPOND"

            # ---- access port ------------------------------------------------------------
            # a synapse word is on syn.rd READ_DELAY cycles after its request
            waiting_states("READ", READ_DELAY, "READ_DATA", access_synapse)
            with m.State("READ_DATA"):
                word = syn.rd[0]
                with m.Switch(c_space):
                    with m.Case(Space.CONFIG):
                        m.d.sync += rsp_data.eq(read_config)
                    with m.Case(Space.WEIGHT):
                        m.d.sync += rsp_data.eq(word.weight.as_unsigned())
                    with m.Case(Space.ACC):
                        m.d.sync += rsp_data.eq(word.acc.as_unsigned())
                    with m.Case(Space.RULE_INDEX):
                        m.d.sync += rsp_data.eq(word.rule)
                    with m.Case(Space.RULES):
                        m.d.sync += rsp_data.eq(read_rule)
                    with m.Case(Space.KERNEL):
                        m.d.sync += rsp_data.eq(read_kernel)
                    with m.Case(Space.SPIKES):
                        m.d.sync += rsp_data.eq(read_spikes)
                    with m.Default():
                        m.d.sync += rsp_data.eq(read_units)
                m.next = "RESPOND"

            # synapse words are read-modify-write: WRITE requests the write-back for the
            # cycle WALK_DELAY after the synapse memory saw the address
            waiting_states("WRITE_READ", REQUEST_DELAY + WALK_DELAY - 1, "WRITE", access_synapse)
            with m.State("WRITE"):       # requests: the writes land in the next cycle
                access_synapse()
                m.d.sync += dirty.eq(1)
                m.d.comb += [r_nu["we"].eq(1), r_au["we"].eq(1), r_regs_we.eq(1),
                             r_syn_host_we.eq(syn_space), r_syn_host_wr.eq(syn.rd[0])]
                with m.Switch(c_space):
                    with m.Case(Space.WEIGHT):
                        m.d.comb += r_syn_host_wr.weight.eq(c_data[:p.weight_bits])
                    with m.Case(Space.ACC):
                        m.d.comb += r_syn_host_wr.acc.eq(c_data[:p.acc_bits])
                    with m.Case(Space.RULE_INDEX):
                        m.d.comb += r_syn_host_wr.rule.eq(c_data[:p.rule_bits])
                m.next = "RESPOND"

            with m.State("RESPOND"):
                m.d.sync += counting.eq(0)
                m.d.comb += self.rsp.valid.eq(1)
                with m.If(self.rsp.ready):
                    m.next = "IDLE"

            # ---- the timestep ------------------------------------------------------------------
            with m.State("STEP"):
                m.d.sync += [idx.eq(0), sub.eq(0), n_count.eq(0), a_count.eq(0), e_count.eq(0)]
                with m.If(dirty):
                    m.d.sync += [resync.eq(1), clear_axon_spikes.eq(1)]
                    m.next = "RESYNC_CLEAR"
                with m.Elif(run_over):
                    m.next = "APPLY"
                with m.Else():
                    m.d.sync += [clear_spikes.eq(1), clear_axon_spikes.eq(1)]
                    m.next = "NEURON"

            with m.State("RESYNC_CLEAR"):
                m.d.comb += [ib.lanes_waddr.eq(idx), ib.lanes_wr.eq(0),
                             ib.lanes_we.eq((1 << L) - 1)]
                m.d.sync += idx.eq(idx + 1)
                with m.If(idx == NW - 1):
                    m.d.sync += idx.eq(0)
                    start_sweep()
                    m.next = "END_FETCH"

            with m.State("NEURON"):
                with m.If(below(idx, N)):
                    m.d.comb += [r_nu["valid"].eq(1), r_nu["n"].eq(idx),
                                 r_bank["ib", "sel_one"].eq(1), r_bank["ib", "one_addr"].eq(idx)]
                m.d.sync += idx.eq(idx + 1)
                # the last neuron leaves the unit, and its post trace
                with m.If(idx == N - 1 + REQUEST_DELAY + max(NEURON_LATENCY, Y_LATENCY)):
                    m.d.sync += idx.eq(0)
                    if self._loopback:
                        start_sweep()
                        m.next = "ROW_FETCH"
                    else:
                        m.d.sync += accepting.eq(1)
                        m.next = "EMIT_FETCH"

            if not self._loopback:
                # Send the neuron list out, then wait for the barrier.  Axon events are
                # taken from the first EMIT cycle on: a core that only took them once it
                # had sent all its spikes would deadlock the router when its own
                # spikes come back to it (or to a core that is still sending).
                with m.State("EMIT_FETCH"):
                    with m.If(idx == n_count):
                        m.d.sync += idx.eq(0)
                        m.next = "ROUTE"
                    with m.Else():
                        m.next = "EMIT_SEND"
                with m.State("EMIT_SEND"):
                    m.d.comb += [self.spike_out.valid.eq(1),
                                 self.spike_out.payload.eq(nl_r.data)]
                    with m.If(self.spike_out.ready):
                        m.d.sync += idx.eq(idx + 1)
                        m.next = "EMIT_FETCH"
                with m.State("ROUTE"):
                    # registered: the chip ANDs it over cores placed across the die
                    m.d.sync += waiting.eq(~self.axon_in.valid & ~event_valid &
                                           ~self.route_done)
                    with m.If(self.route_done):
                        m.d.sync += accepting.eq(0)
                        start_sweep()
                        m.next = "ROW_FETCH"

            with m.State("ROW_FETCH"):
                with m.If(idx == a_count):
                    m.d.sync += idx.eq(0)
                    m.next = "COLUMN_FETCH"
                with m.Else():
                    m.next = "ROW_SETUP"
            with m.State("ROW_SETUP"):
                m.d.sync += [cur.eq(al_r.data), sub.eq(0)]
                m.next = "ROW_TRACE"
            # the axon's pre trace (READ_DELAY) and PSP flag
            waiting_states("ROW_TRACE", READ_DELAY, "ROW_LATCH", request_row_trace)
            with m.State("ROW_LATCH"):
                m.d.sync += x_latch.eq(xb.one_rd)
                m.next = "ROW_WALK"
            with m.State("ROW_WALK"):
                with m.If((sub != 0) | (row_gap == 0)):
                    issue_row(Work.ROW, cur, sub[:wbits])
                    m.d.comb += [i_x.eq(x_latch), i_start.eq(row_start)]
                    m.d.sync += sub.eq(sub + 1)
                    with m.If(sub == NW - 1):
                        m.d.sync += idx.eq(idx + 1)
                        m.next = "ROW_FETCH"

            with m.State("COLUMN_FETCH"):
                with m.If(idx == n_count):
                    m.d.sync += idx.eq(0)
                    m.next = "END_FETCH"
                with m.Else():
                    m.d.sync += sub.eq(0)
                    m.next = "COLUMN_SETUP"
            with m.State("COLUMN_SETUP"):
                m.d.sync += cur.eq(nl_r.data)
                m.next = "COLUMN_WALK"
            with m.State("COLUMN_WALK"):
                issue_column(cur[:max(nb, 1)], sub[:max(_log2(AG), 1)])
                m.d.sync += sub.eq(sub + 1)
                with m.If(sub == AG - 1):
                    m.d.sync += idx.eq(idx + 1)
                    m.next = "COLUMN_FETCH"

            # The ending PSPs are walked as the axon pass lists them; the step ends once the
            # pass is done and its last end is walked.  ``sweep_done`` comes in the cycle
            # after the pass's last ``end``, so ``e_count`` is final by then.
            with m.State("END_FETCH"):
                with m.If((idx == e_count) & (drain == 0) & sweep_done):
                    m.d.sync += [idx.eq(0), commit.eq(1)]
                    with m.If(resync):
                        m.d.sync += [resync.eq(0), dirty.eq(0)]
                        m.next = "STEP"
                    with m.Else():
                        m.next = "STEP_DONE"
                with m.Elif(idx != e_count):
                    m.d.sync += sub.eq(0)
                    m.next = "END_SETUP"
            with m.State("END_SETUP"):
                m.d.sync += cur.eq(el_r.data)
                m.next = "END_WALK"
            with m.State("END_WALK"):
                with m.If((sub != 0) | (row_gap == 0)):
                    issue_row(Mux(resync, Work.ADD, Work.END), cur, sub[:wbits])
                    m.d.sync += sub.eq(sub + 1)
                    with m.If(sub == NW - 1):
                        m.d.sync += idx.eq(idx + 1)
                        m.next = "END_FETCH"

            with m.State("STEP_DONE"):
                new_phase = Mux(phase_count == 0xFFFF, phase_count, phase_count + 1)
                m.d.sync += [
                    step_count.eq(Mux(step_count == 0xFFFFFFFF, step_count, step_count + 1)),
                    steps_left.eq(steps_left - 1),
                    phase_count.eq(new_phase),
                    run_over.eq(last_step),
                ]
                with m.If(apply_due):
                    m.next = "APPLY"
                with m.Elif(last_step):
                    m.next = "DONE"
                with m.Else():
                    m.next = "STEP"

            with m.State("APPLY"):
                m.d.sync += [idx.eq(0), sub.eq(0)]
                m.next = "APPLY_WALK"
            with m.State("APPLY_WALK"):
                a_cur = idx[:max(ab, 1)]
                with m.If((sub != 0) | (row_gap == 0)):
                    issue_row(Work.APPLY, a_cur, sub[:wbits])
                    m.d.sync += sub.eq(sub + 1)
                    with m.If(sub == NW - 1):
                        m.d.sync += [sub.eq(0), idx.eq(idx + 1)]
                        with m.If(idx == A - 1):
                            m.d.sync += [
                                phase_count.eq(0),
                                apply_count.eq(Mux(apply_count == 0xFFFFFFFF, apply_count,
                                                   apply_count + 1)),
                            ]
                            m.next = "APPLY_DONE"
            with m.State("APPLY_DONE"):   # the last words are written back
                with m.If((drain == 0) & run_over):
                    m.next = "DONE"
                with m.Elif(drain == 0):
                    m.next = "STEP"

            with m.State("DONE"):
                m.d.sync += [rsp_data.eq(cycles + 1), counting.eq(0)]
                m.next = "RESPOND"

        return m
