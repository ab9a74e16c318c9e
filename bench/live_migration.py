#!/usr/bin/env python3
"""Live migration: Paddock vs the same QEMU migration driven by hand over QMP, 256 MiB guest.

Two paddockd on 127.0.0.1 (separate state dirs, TCP + tokens, peers of each other) and one tiny VM
(1 vCPU, --memory MiB, a --disk MiB disk of which --data MiB written) that boots once and then
migrates back and forth:
  A (paddock): `paddock vm migrate NAME --to PEER --live --json`, CLI wall time (the target's
     checks, its QEMU start, disk mirror to NBD, memory, switch-over, commit, source cleanup),
     with the downtime QEMU measured and the mirror time Paddock reports.
  B (by hand): the same QEMU argv (captured from paddock's VM, paths moved to private dirs), the
     same steps a person would type: launch the target with -S -incoming tcp:, nbd-server-start
     + block-export-add there, blockdev-add nbd + blockdev-mirror (full) on the source until
     ready, migrate-set-parameters (same downtime limit, no bandwidth cap), migrate until
     completed, block-job-cancel until concluded, nbd-server-stop + cont on the target, quit
     the source. Timed from the target disk's creation to the source being gone.
With --dirty N both guests first start a loop that rewrites N MiB of guest memory every second
(dd from the disk's page cache into a tmpfs file, so the pages hold data, not zeros) and keeps
it running through the migrations. With --shared both paddockd have `--shared-storage pool=DIR`
(one directory) and the VM is created `--storage pool`: memory only, no mirror; B then launches
its target on the same disk file and skips the NBD and mirror steps. A and B alternate, --trials
each, in the order A B, B A, A B, ..., each after --settle seconds of quiet (bench/README.md
says why). Ratio A/B of total time (goal: <= 1.2) and QEMU's downtime (goal: <= 30 ms for an
idle guest). Storage: the mirror phase's throughput vs `cp --sparse` of the same disk file (a
plain copy), in MiB of the disk's virtual size per second.
"""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

POLL = 0.005


def dirtier(mib):
    """A guest shell line that rewrites `mib` MiB of memory every second, in the background."""
    return (f"while :; do dd if=/dev/vda of=/tmp/dirty bs=1M count={mib} conv=notrunc "
            f"2>/dev/null; sleep 1; done >/dev/null 2>&1 &\n")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_job_state(q, job, states):
    while True:
        jobs = {j["id"]: j for j in q.cmd("query-jobs")}
        j = jobs.get(job)
        if j is None or j["status"] in states:
            return j
        time.sleep(POLL)


def hand_migrate(cleanup, src, dst_argv, dst_paths, disk_mib, downtime_ms, shared=False):
    """Migrates BareQemu `src` into a new QEMU (`shared`: on the same disk file, memory only).

    Returns (seconds, downtime ms, disk s, memory ms, memory bytes sent, dst)."""
    mport, nport = free_port(), free_port()
    t0 = time.monotonic()  # the target's disk is part of the work (Paddock's timing has it)
    if not shared:
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2",
                        os.path.join(dst_paths["dir"], "root.qcow2"), f"{disk_mib}M"], check=True)
    dst = bl.BareQemu(cleanup, dst_argv + ["-S", "-incoming", f"tcp:127.0.0.1:{mport}"], dst_paths)
    dst.launch()
    qd = bl.Qmp(dst_paths["qmp"])
    qs = bl.Qmp(src.paths["qmp"])
    t_disk = time.monotonic()
    if not shared:
        qd.cmd("nbd-server-start", {"addr": {"type": "inet",
                                             "data": {"host": "127.0.0.1", "port": str(nport)}}})
        qd.cmd("block-export-add", {"type": "nbd", "id": "e-root", "node-name": "drive-root",
                                    "name": "root", "writable": True})
        t_disk = time.monotonic()
        qs.cmd("blockdev-add", {"driver": "nbd", "node-name": "nbd-root", "export": "root",
                                "server": {"type": "inet", "host": "127.0.0.1",
                                           "port": str(nport)}})
        qs.cmd("blockdev-mirror", {"job-id": "m-root", "device": "drive-root",
                                   "target": "nbd-root", "sync": "full", "auto-dismiss": False})
        wait_job_state(qs, "m-root", ("ready", "concluded"))
    disk_s = time.monotonic() - t_disk
    qs.cmd("migrate-set-parameters", {"downtime-limit": downtime_ms, "max-bandwidth": 1 << 40})
    qs.cmd("migrate", {"uri": f"tcp:127.0.0.1:{mport}"})
    while True:
        m = qs.cmd("query-migrate")
        if m["status"] == "completed":
            break
        if m["status"] in ("failed", "cancelled"):
            raise RuntimeError(f"hand migration {m['status']}: {m.get('error-desc')}")
        time.sleep(POLL)
    if not shared:
        qs.cmd("block-job-cancel", {"device": "m-root", "force": False})
        j = wait_job_state(qs, "m-root", ("concluded",))
        if j and j.get("error"):
            raise RuntimeError(f"mirror failed: {j['error']}")
        qs.cmd("job-dismiss", {"id": "m-root"})
        qs.cmd("blockdev-del", {"node-name": "nbd-root"})
        qd.cmd("nbd-server-stop")
    else:
        # The target may still be loading the stream's end; cont waits for nothing.
        while qd.cmd("query-status")["status"] == "inmigrate":
            time.sleep(POLL)
    qd.cmd("cont")
    try:
        qs.cmd("quit")
    except RuntimeError:
        pass
    qs.close()
    qd.close()
    src.proc.wait(timeout=30)
    dt = time.monotonic() - t0
    src.proc = None
    if not shared:
        # The source's copy goes now, as Paddock's does at the end of its migration (untimed
        # there too: its trash empties in the background). Deleting it later, when the next
        # trial recreates the file, would hand that trial's target the memory just freed.
        os.unlink(os.path.join(src.paths["dir"], "root.qcow2"))
    return dt, m.get("downtime", -1), disk_s, m.get("total-time", -1), m["ram"]["transferred"], dst


def main():
    p = bl.base_parser(__doc__.splitlines()[0], trials=5)
    p.add_argument("--memory", type=int, default=256, help="guest memory, MiB [%(default)s]")
    p.add_argument("--disk", type=int, default=1024, help="disk size, MiB [%(default)s]")
    p.add_argument("--data", type=int, default=256, help="MiB written to the disk [%(default)s]")
    p.add_argument("--downtime", type=int, default=300, help="max downtime, ms [%(default)s]")
    p.add_argument("--dirty", type=int, default=0,
                   help="MiB of guest memory rewritten per second, 0 = idle [%(default)s]")
    p.add_argument("--shared", action="store_true",
                   help="disks on a shared storage both hosts see: memory only")
    p.add_argument("--settle", type=float, default=4.0,
                   help="seconds of quiet before each trial, so that memory freed by the last "
                        "one has been handed back to the hypervisor for both sides alike "
                        "[%(default)s]")
    p.add_argument("--log-level", default="info",
                   help="paddockd's log level (debug shows the commit and teardown timings)")
    args = p.parse_args()
    paddockd, paddock, image_dir = bl.binaries(args)
    bl.install_signal_handlers()
    cleanup = bl.Cleanup(args.keep_temp)
    r = {"a_total": [], "a_downtime": [], "a_limit": [], "a_disk": [], "a_memory": [], "a_sent": [],
         "b_total": [], "b_downtime": [], "b_disk": [], "b_memory": [], "b_sent": [], "copy": []}
    try:
        tmp = cleanup.tmpdir("paddock-bench-livemig.")
        pool = os.path.join(tmp, "pool")
        os.makedirs(pool)
        hosts = {}
        for h in ("a", "b"):
            port = free_port()
            extra = ["--listen", f"127.0.0.1:{port}"]
            if args.shared:
                extra += ["--shared-storage", f"pool={pool}"]
            hosts[h] = (bl.Daemon(cleanup, paddockd, paddock, image_dir,
                                  os.path.join(tmp, f"state-{h}"), log_level=args.log_level,
                                  extra_args=extra).start(), port)
        for h, other in (("a", "b"), ("b", "a")):
            d, _ = hosts[h]
            peer, port = hosts[other]
            d.cli("host", "add", other, "--address", f"127.0.0.1:{port}", "--token-file",
                  os.path.join(peer.state_dir, "token"))
        a = hosts["a"][0]

        def make_vm(name):
            if args.shared:
                a.cli("vm", "create", name, "--memory", f"{args.memory}M", "--disk",
                      f"root={args.disk}M", "--storage", "pool")
                disk = os.path.join(pool, name, "root.qcow2")
            else:
                bl.define_vm(a, name, memory_mib=args.memory, disk_mib=args.disk)
                disk = os.path.join(a.state_dir, "disks", name, "root.qcow2")
            subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x6b 0 {args.data}M",
                            disk], check=True, capture_output=True)
            return disk

        # B's guest: paddock's argv, in two private dirs it moves between.
        disk = make_vm("h")
        argv = bl.capture_argv(a, "h")
        dirs = []
        for side in ("x", "y"):
            av, paths = bl.rewrite_argv(argv, a.state_dir, "h", os.path.join(tmp, f"bare-{side}"))
            dirs.append((av, paths))
        # A plain copy of the same disk file, for the storage comparison.
        for t in range(args.trials):
            t0 = time.monotonic()
            subprocess.run(["cp", "--sparse=always", disk, os.path.join(tmp, "copy.qcow2")],
                           check=True)
            r["copy"].append(time.monotonic() - t0)
            os.unlink(os.path.join(tmp, "copy.qcow2"))
        src = bl.BareQemu(cleanup, *dirs[0])
        src.launch()
        while not src.try_connect():
            time.sleep(0.01)
        while not src.on_readable():
            time.sleep(0.01)
        if args.dirty:
            src.sock.setblocking(True)
            src.sock.sendall(dirtier(args.dirty).encode())

        make_vm("m")
        a.cli("vm", "start", "m", "--wait-ready")
        if args.dirty:
            subprocess.run([a.paddock, "--host", a.sock, "vm", "console", "m"],
                           input=dirtier(args.dirty), text=True, capture_output=True, check=True,
                           timeout=60)
        time.sleep(3)  # both guests settled (and dirtying)
        state = {"where": "a", "there": "b", "side": 0, "src": src}

        def run_a():
            where, there = state["where"], state["there"]
            dt, cp = hosts[where][0].cli("--json", "vm", "migrate", "m", "--to", there, "--live",
                                         "--max-downtime", f"{args.downtime}ms")
            out = json.loads(cp.stdout)
            r["a_total"].append(dt)
            r["a_downtime"].append(out["downtime_ms"])
            r["a_limit"].append(out["downtime_limit_ms"])
            r["a_disk"].append(out["disk_ms"] / 1000.0)
            r["a_memory"].append(out["memory_ms"])
            r["a_sent"].append(out["memory_bytes"] / 2**20)
            state["where"], state["there"] = there, where

        def run_b():
            state["side"] = 1 - state["side"]
            dt, downtime, disk_s, memory_ms, sent, state["src"] = hand_migrate(
                cleanup, state["src"], *dirs[state["side"]], args.disk, args.downtime,
                args.shared)
            r["b_total"].append(dt)
            r["b_downtime"].append(downtime)
            r["b_disk"].append(disk_s)
            r["b_memory"].append(memory_ms)
            r["b_sent"].append(sent / 2**20)

        for t in range(args.trials):
            bl.log(f"trial {t + 1}/{args.trials}")
            # A B, then B A: whatever the position in a pair does, both sides get it as often.
            for run in (run_a, run_b) if t % 2 == 0 else (run_b, run_a):
                time.sleep(args.settle)
                run()
        src = state["src"]
        src.stop()
        for h in hosts.values():
            h[0].shutdown()

        m = bl.machine_facts()
        print(f"live migration — {m['nproc']} CPUs, {m['cpu']}, {m['qemu']}; "
              f"{'dirtying %d MiB/s' % args.dirty if args.dirty else 'idle'} guest "
              f"{args.memory} MiB, disk {args.disk} MiB ({args.data} MiB data"
              f"{', shared storage: memory only' if args.shared else ''}), max downtime "
              f"{args.downtime} ms, 127.0.0.1; {bl.loadavg_text()} at the end")
        print()

        def cell(v, f="{:.3f}"):
            s = bl.summary(v)
            return f"{f.format(s['median'])} ({f.format(s['min'])}-{f.format(s['max'])})"

        ta, tb = bl.summary(r["a_total"]), bl.summary(r["b_total"])
        ratio = ta["median"] / tb["median"]
        da = bl.summary(r["a_downtime"])
        copy_rate = args.disk / bl.summary(r["copy"])["median"]
        rows = [
            [f"total (s, median of {args.trials})", cell(r["a_total"]), cell(r["b_total"]),
             f"{ratio:.2f}"],
            ["downtime (ms, QEMU's)", cell(r["a_downtime"], "{:.0f}"),
             cell(r["b_downtime"], "{:.0f}"),
             f"{da['median'] / max(bl.summary(r['b_downtime'])['median'], 1):.2f}"],
            ["downtime limit at the switch (ms)", cell(r["a_limit"], "{:.0f}"),
             f"{args.downtime} (fixed)", "-"],
            ["memory phase (ms, QEMU's)", cell(r["a_memory"], "{:.0f}"),
             cell(r["b_memory"], "{:.0f}"),
             f"{bl.summary(r['a_memory'])['median'] / bl.summary(r['b_memory'])['median']:.2f}"],
            ["memory sent (MiB)", cell(r["a_sent"], "{:.0f}"), cell(r["b_sent"], "{:.0f}"),
             f"{bl.summary(r['a_sent'])['median'] / bl.summary(r['b_sent'])['median']:.2f}"],
        ]
        if not args.shared:
            disk_rate_a = args.disk / bl.summary(r["a_disk"])["median"]
            disk_rate_b = args.disk / bl.summary(r["b_disk"])["median"]
            rows += [
                ["disk mirror (s)", cell(r["a_disk"]), cell(r["b_disk"]),
                 f"{bl.summary(r['a_disk'])['median'] / bl.summary(r['b_disk'])['median']:.2f}"],
                ["disk mirror (MiB/s of the disk)", f"{disk_rate_a:.0f}", f"{disk_rate_b:.0f}",
                 "-"],
                ["plain cp --sparse of the disk file (MiB/s)", f"{copy_rate:.0f}", "-",
                 f"mirror/cp {disk_rate_a / copy_rate:.2f}"],
            ]
        print(bl.fmt_table(["metric", "A: paddock --live", "B: QEMU by hand over QMP",
                            "RATIO A/B"], rows))
        print()
        print(f"goal total A/B <= 1.2: {'MET' if ratio <= 1.2 else 'NOT MET'}; "
              f"goal downtime <= 30 ms idle: "
              f"{'n/a (dirtying)' if args.dirty else 'MET' if da['median'] <= 30 else 'NOT MET'}")
        if args.json:
            print(json.dumps(r, indent=2))
        return 0
    finally:
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
