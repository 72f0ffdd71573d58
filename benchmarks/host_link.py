#!/usr/bin/env python3
"""Host-link cost of moving recurrent-256 onto the chip and back.

examples/recurrent-256.yaml, placed on K cores (default 1, 2 and 4) of
256 / K neurons and 256 axons each (the chip configuration of
benchmarks/chip_cycles.py; other parameters the defaults), is sent through ``ChipEmulator`` over a fresh reset
``FixedChip`` with the requests of ``golden/transfer.py``.  Every request
and reply is counted on the wire (COBS, CRC and delimiter included):

* weights     WEIGHT spaces only, words at their reset value (0) skipped
* full load   every writable core space and the routing table, from reset
* full dump   the same with nothing skipped (``from_reset=False``), for scale
* verify      one CHECKSUM of every core's whole WEIGHT space
* read back   READ every WEIGHT space (1024 bytes a frame)

Time = (bytes out + bytes in) x 10 bits (8N1) / baud.  The host waits for
each reply before the next request, so the two directions add; the chip's
processing time and the host's turnaround are NOT included.

    python benchmarks/host_link.py [--baud 3000000] [--cores 1 2 4]
"""

import argparse
import sys
import time
from pathlib import Path

from sal_hw.golden.chip import FixedChip, place
from sal_hw.golden.emulator import ChipEmulator
from sal_hw.golden.params import CoreParams
from sal_hw.golden.protocol import parse_checksum_reply
from sal_hw.golden.spaces import Space
from sal_hw.golden.transfer import (Link, assemble, checksum_request, expected_checksum,
                                    load_requests, loadable_snapshot, readback_requests)
from sal_hw.netfile import load

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "recurrent-256.yaml"


def measure(source, K):
    """[(operation, Link)] for one placed chip; checks that every transfer is right."""
    rows = []
    target = FixedChip(source.p, K, route_entries=source.route_entries)
    emu = ChipEmulator(target)
    seq = [0]

    def run(name, requests):
        # one Link per operation for its counts; seq continues across them on this chip
        link = Link(emu.feed, seq=seq[0])
        bodies = link.run(requests)
        seq[0] = link.seq
        rows.append((name, link))
        return bodies

    # (a) the weights alone, into a reset chip
    weights_only = FixedChip(source.p, K, route_entries=source.route_entries)
    link = Link(ChipEmulator(weights_only).feed)
    link.run(load_requests(source, spaces=[Space.WEIGHT]))
    rows.append(("weights", link))
    for c in range(K):
        assert weights_only.cores[c].read(Space.WEIGHT) == source.cores[c].read(Space.WEIGHT)
    # (b) the full load, from reset; and for scale the same with nothing skipped
    run("full load", load_requests(source))
    assert loadable_snapshot(target) == loadable_snapshot(source)
    dump = FixedChip(source.p, K, route_entries=source.route_entries)
    link = Link(ChipEmulator(dump).feed)
    link.run(load_requests(source, from_reset=False))
    rows.append(("full dump", link))
    # (c) verify: CHECKSUM of every WEIGHT space
    crcs = run("verify", [checksum_request(source, c, Space.WEIGHT) for c in range(K)])
    assert [parse_checksum_reply(b) for b in crcs] == \
        [expected_checksum(source, c, Space.WEIGHT) for c in range(K)]
    # (d) read every WEIGHT space back
    reqs = readback_requests(source.p, K, [Space.WEIGHT], route_entries=source.route_entries)
    got = assemble(source.p, K, reqs, run("read back", reqs),
                   route_entries=source.route_entries)
    assert all(got[(c, Space.WEIGHT)] == source.cores[c].read(Space.WEIGHT) for c in range(K))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baud", type=int, default=3_000_000, help="line rate, 8N1 (default 3e6)")
    ap.add_argument("--cores", type=int, nargs="+", default=[1, 2, 4], help="K values")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    nf = load(EXAMPLE)
    seconds = lambda link: 10 * (link.bytes_out + link.bytes_in) / args.baud  # noqa: E731
    print(f"{nf.name}: {nf.network.size} neurons on K cores of {nf.network.size} / K neurons x "
          f"{nf.network.size} axons; UART {args.baud:,} baud 8N1 (10 bits a byte)")
    print("bytes include COBS, CRC and delimiters; seconds = (out + in) x 10 / baud, the host "
          "waiting for each reply; chip processing time not included\n")
    head = ["operation", "K", "frames", "bytes out", "bytes in", "seconds"]
    table, summary = [], {}
    for K in args.cores:
        params = CoreParams(neurons=nf.network.size // K, axons=nf.network.size)
        source = place(nf.network, params, K, apply_period=nf.run.phase).chip()
        for name, link in measure(source, K):
            table.append([name, str(K), f"{link.frames:,}", f"{link.bytes_out:,}",
                          f"{link.bytes_in:,}", f"{seconds(link):.4f}"])
            summary[(name, K)] = seconds(link)
    widths = [max(len(r[i]) for r in table + [head]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    print(fmt(head))
    print("  ".join("-" * w for w in widths))
    for i, r in enumerate(table):
        if i and r[1] != table[i - 1][1]:
            print()
        print(fmt(r))
    ks = args.cores

    def span(name):
        vals = [summary[(name, K)] for K in ks]
        return f"{min(vals):.2f}-{max(vals):.2f} s" if len(vals) > 1 else f"{vals[0]:.2f} s"

    print(f"\nsummary: at {args.baud / 1e6:g} Mbaud, K = {', '.join(map(str, ks))}: full load "
          f"{span('full load')} (weights {span('weights')}), verify by CHECKSUM "
          f"{1e3 * max(summary[('verify', K)] for K in ks):.2f} ms vs reading the weights "
          f"back {span('read back')}  [{time.perf_counter() - t0:.1f} s wall]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
