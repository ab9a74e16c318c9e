#!/usr/bin/env python3
"""Cloning from templates: linked-clone time for a 1 GiB vs a 20 GiB disk, and 64 deploys.

In one invocation, against a fresh paddockd with a private temp state dir:
  1. two stopped VMs with one disk each, 1 GiB and 20 GiB, each holding --data MiB written with
     qemu-io (so the disks are not empty), made into templates t1g and t20g.
  2. linked clones: --trials times `paddock vm create NAME --template T` (the CLI's wall time,
     operation included) for each template, interleaved; ratio 20 GiB / 1 GiB (goal: flat, <= 1.2).
     One full clone of each is timed for contrast.
  3. 64 deploys: `paddock vm create 'd[1-64]' --template t1g` (defined, not booted) vs the same 64
     overlays made by hand with `qemu-img create -f qcow2 -b ... -F qcow2`, one after another, in
     the same run; --trials rounds, interleaved; ratio Paddock / by hand.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def delete_vms(d, names):
    for n in names:
        status, body = d.api.raw("DELETE", f"/v1/vms/{n}")
        if status != 200:
            raise RuntimeError(f"DELETE {n} -> {status}: {body[:200]!r}")


def by_hand(backing, outdir, count):
    os.makedirs(outdir)
    t0 = time.monotonic()
    for i in range(count):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2",
                        os.path.join(outdir, f"d{i + 1}.qcow2")], check=True)
    return time.monotonic() - t0


def main():
    p = bl.base_parser(__doc__.splitlines()[0], trials=5)
    p.add_argument("--data", type=int, default=256, help="MiB written into each source disk [%(default)s]")
    p.add_argument("--deploys", type=int, default=64, help="VMs per bulk deploy [%(default)s]")
    args = p.parse_args()
    paddockd, paddock, image_dir = bl.binaries(args)
    bl.install_signal_handlers()
    cleanup = bl.Cleanup(args.keep_temp)
    try:
        tmp = cleanup.tmpdir("paddock-bench-clone.")
        d = bl.Daemon(cleanup, paddockd, paddock, image_dir, os.path.join(tmp, "state")).start()
        template_s = {}
        for size in (1, 20):
            name = f"src{size}g"
            d.cli("vm", "create", name, "--disk", f"root={size}G")
            subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a 0 {args.data}M",
                            os.path.join(d.state_dir, "disks", name, "root.qcow2")],
                           check=True, capture_output=True)
            bl.log(f"template t{size}g from a {size} GiB disk with {args.data} MiB of data ...")
            template_s[size], _ = d.cli("template", "create", f"t{size}g", "--from", name)

        linked = {1: [], 20: []}
        for t in range(args.trials):
            for size in (1, 20):
                dt, _ = d.cli("vm", "create", f"l{size}g-{t}", "--template", f"t{size}g")
                linked[size].append(dt)
        full = {}
        for size in (1, 20):
            bl.log(f"full clone of t{size}g ...")
            full[size], _ = d.cli("vm", "create", f"f{size}g", "--template", f"t{size}g", "--full")

        n = args.deploys
        names = [f"d{i + 1}" for i in range(n)]
        ours, hand = [], []
        backing = os.path.join(d.state_dir, "templates", "t1g", "root.qcow2")
        for t in range(args.trials):
            bl.log(f"round {t + 1}/{args.trials}: {n} deploys through paddock, {n} by hand ...")
            dt, _ = d.cli("vm", "create", f"d[1-{n}]", "--template", "t1g")
            ours.append(dt)
            delete_vms(d, names)
            hand.append(by_hand(backing, os.path.join(tmp, f"hand{t}"), n))
        d.shutdown()

        s1, s20 = bl.summary(linked[1]), bl.summary(linked[20])
        so, sh = bl.summary(ours), bl.summary(hand)
        ms = lambda v: f"{v * 1000:.0f}"  # noqa: E731
        m = bl.machine_facts()
        print(f"clone cost — {m['nproc']} CPUs, {m['cpu']}, {m['qemu']}; {bl.loadavg_text()} at the end")
        print()
        rows = [
            [f"linked clone, CLI wall (ms, {args.trials} each)", ms(s1["median"]), ms(s20["median"]),
             f"{s20['median'] / s1['median']:.2f}"],
            ["  min / max (ms)", f"{ms(s1['min'])} / {ms(s1['max'])}",
             f"{ms(s20['min'])} / {ms(s20['max'])}", "-"],
            ["full clone, CLI wall (ms, 1 each)", ms(full[1]), ms(full[20]),
             f"{full[20] / full[1]:.2f}"],
            ["template create (ms, 1 each)", ms(template_s[1]), ms(template_s[20]),
             f"{template_s[20] / template_s[1]:.2f}"],
        ]
        print(bl.fmt_table(["metric", "1 GiB disk", "20 GiB disk", "RATIO 20/1"], rows))
        print()
        rows = [
            [f"{n} deploys (s, median of {args.trials})", f"{so['median']:.2f}", f"{sh['median']:.2f}",
             f"{so['median'] / sh['median']:.2f}"],
            ["  min / max (s)", f"{so['min']:.2f} / {so['max']:.2f}",
             f"{sh['min']:.2f} / {sh['max']:.2f}", "-"],
            ["  per VM (ms)", ms(so["median"] / n), ms(sh["median"] / n), "-"],
        ]
        print(bl.fmt_table(["metric", "paddock vm create 'd[1-N]'", "qemu-img create -b by hand",
                            "RATIO"], rows))
        print()
        print(f"goal linked clone 20 GiB / 1 GiB <= 1.2 (flat): "
              f"{'MET' if s20['median'] / s1['median'] <= 1.2 else 'NOT MET'}")
        return 0
    finally:
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
