#!/usr/bin/env python3
"""Suspend and resume: Paddock vs the same QEMU driven by hand over QMP, for 256 MiB and 1 GiB.

In one invocation, for each guest size (--sizes, MiB), after one boot of a tiny VM through paddock:
  A (paddock): `paddock vm suspend NAME` (pause, save the state to a file, QEMU ends) and
     `paddock vm resume NAME` (QEMU starts from the file and continues), CLI wall time each.
  B (by hand): the same QEMU argv (captured from paddock's VM, paths moved to a private dir)
     booted by us; suspend = QMP stop + migrate "exec:cat > FILE" until completed + quit (until
     the process is gone); resume = launch with -incoming "exec:cat FILE", QMP until the status
     leaves "inmigrate", cont.
A and B alternate, --trials each. Ratio A/B per phase (goal: <= 1.2). The guests are idle, so
most of their memory is zero pages, which QEMU's stream sends as flags: the state file is
smaller than the guest.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def hand_suspend(qemu, state_file):
    t0 = time.monotonic()
    q = bl.Qmp(qemu.paths["qmp"])
    q.cmd("stop")
    q.cmd("migrate", {"uri": f"exec:cat > '{state_file}'"})
    while q.cmd("query-migrate").get("status") not in ("completed", "failed"):
        time.sleep(0.1)
    try:
        q.cmd("quit")
    except RuntimeError:
        pass
    q.close()
    qemu.proc.wait(timeout=30)
    dt = time.monotonic() - t0
    qemu.proc = None
    return dt


def hand_resume(cleanup, argv, paths, state_file):
    t0 = time.monotonic()
    qemu = bl.BareQemu(cleanup, argv + ["-incoming", f"exec:cat '{state_file}'"], paths)
    qemu.launch()
    q = bl.Qmp(paths["qmp"])
    while q.cmd("query-status")["status"] == "inmigrate":
        time.sleep(0.1)
    q.cmd("cont")
    q.close()
    return time.monotonic() - t0, qemu


def main():
    p = bl.base_parser(__doc__.splitlines()[0], trials=3)
    p.add_argument("--sizes", default="256,1024", help="guest memory sizes, MiB [%(default)s]")
    args = p.parse_args()
    paddockd, paddock, image_dir = bl.binaries(args)
    bl.install_signal_handlers()
    cleanup = bl.Cleanup(args.keep_temp)
    results = {}
    try:
        tmp = cleanup.tmpdir("paddock-bench-susp.")
        d = bl.Daemon(cleanup, paddockd, paddock, image_dir, os.path.join(tmp, "state")).start()
        for mib in [int(x) for x in args.sizes.split(",")]:
            name = f"s{mib}"
            bl.define_vm(d, name, memory_mib=mib)
            argv, paths = bl.rewrite_argv(bl.capture_argv(d, name), d.state_dir, name,
                                          os.path.join(tmp, f"bare-{name}"))
            state_file = os.path.join(paths["dir"], "suspend.state")
            qemu = bl.BareQemu(cleanup, argv, paths)
            qemu.launch()
            while not qemu.try_connect():
                time.sleep(0.01)
            while not qemu.on_readable():
                time.sleep(0.01)
            d.cli("vm", "start", name, "--wait-ready")
            r = {"a_suspend": [], "a_resume": [], "b_suspend": [], "b_resume": []}
            for t in range(args.trials):
                bl.log(f"{mib} MiB: trial {t + 1}/{args.trials}")
                dt, _ = d.cli("vm", "suspend", name)
                r["a_suspend"].append(dt)
                size = os.path.getsize(os.path.join(d.state_dir, "disks", name, "suspend.state"))
                dt, _ = d.cli("vm", "resume", name)
                r["a_resume"].append(dt)
                r["b_suspend"].append(hand_suspend(qemu, state_file))
                bsize = os.path.getsize(state_file)
                dt, qemu = hand_resume(cleanup, argv, paths, state_file)
                r["b_resume"].append(dt)
            r["state_bytes"] = {"paddock": size, "hand": bsize}
            qemu.stop()
            d.cli("vm", "stop", name)
            results[mib] = r
        d.shutdown()

        m = bl.machine_facts()
        print(f"suspend/resume — {m['nproc']} CPUs, {m['cpu']}, {m['qemu']}; {bl.loadavg_text()} at the end")
        print()
        rows = []
        ok = True
        for mib, r in results.items():
            for phase in ("suspend", "resume"):
                a, b = bl.summary(r[f"a_{phase}"]), bl.summary(r[f"b_{phase}"])
                ratio = a["median"] / b["median"]
                ok = ok and ratio <= 1.2
                rows.append([f"{mib} MiB {phase} (s, median of {args.trials})",
                             f"{a['median']:.3f} ({a['min']:.3f}-{a['max']:.3f})",
                             f"{b['median']:.3f} ({b['min']:.3f}-{b['max']:.3f})", f"{ratio:.2f}"])
            rows.append([f"{mib} MiB state file (MiB)", f"{r['state_bytes']['paddock'] / 2**20:.1f}",
                         f"{r['state_bytes']['hand'] / 2**20:.1f}", "-"])
        print(bl.fmt_table(["metric", "A: paddock CLI", "B: QEMU by hand over QMP", "RATIO A/B"],
                           rows))
        print()
        print(f"goal every phase A/B <= 1.2: {'MET' if ok else 'NOT MET'}")
        if args.json:
            print(json.dumps({str(k): v for k, v in results.items()}, indent=2))
        return 0
    finally:
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
