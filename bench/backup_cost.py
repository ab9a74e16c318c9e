#!/usr/bin/env python3
"""Backups: incremental backup size and time vs full, and a full copy by hand with qemu-img.

In one invocation, against a fresh paddockd with a private temp state dir:
  1. a backup repository `main` in the temp dir (`paddock backup repo add main --path ...`), and a
     stopped VM `src` with one disk `root` of --disk-gib GiB holding --data MiB written with
     qemu-io (so the disk is not empty).
  2. per trial (--trials, interleaved):
     a. `paddock --json backup create src --full`: CLI wall time and the backup's "bytes".
     b. --change MiB of the disk rewritten with qemu-io at an offset and pattern that differ per
        trial. qemu-io goes through QEMU's block layer, so the persistent dirty bitmap Paddock
        left in the qcow2 records the writes.
     c. `paddock --json backup create src`: must be an incremental; CLI wall time and "bytes".
     d. baselines by hand: `qemu-img convert -f qcow2 -O qcow2 DISK COPY`, timed, and its size;
        then the same plus what Paddock also does before it calls a backup done: fsync the copy
        and SHA-256 it (hashlib, i.e. OpenSSL, as paddockd uses).
     e. both backups deleted (incremental first, then its full base) and the hand copy removed,
        so every trial starts from the same repository.
The VM stays stopped: Paddock backs up stopped VMs through qemu-storage-daemon.
Reported: times and sizes (median, min/max), ratios incremental/full (time, size) and Paddock
full / qemu-img convert and / convert+fsync+sha256 (time). Goal: incremental size <= 2 x the changed MiB.
"""

import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

MIB = 2 ** 20


def backup(d, *extra):
    """`paddock --json backup create src ...`; returns (wall seconds, parsed JSON result)."""
    dt, cp = d.cli("--json", "backup", "create", "src", *extra)
    try:
        out = json.loads(cp.stdout)
    except ValueError as e:
        raise RuntimeError(f"backup create {' '.join(extra)}: not JSON ({e}): {cp.stdout[:500]!r}")
    for key in ("id", "kind", "bytes"):
        if key not in out:
            raise RuntimeError(f"backup create {' '.join(extra)}: no {key!r} in {cp.stdout[:500]}")
    return dt, out


def qemu_io_write(disk, pattern, offset_mib, length_mib):
    subprocess.run(["qemu-io", "-f", "qcow2", "-c",
                    f"write -P 0x{pattern:02x} {offset_mib}M {length_mib}M", disk],
                   check=True, capture_output=True, text=True)


def change_offset_mib(trial, trials, data_mib, change_mib):
    """A different offset per trial, spread over the data area, change_mib inside it."""
    room = data_mib - change_mib
    if room <= 0:
        return 0
    return (trial + 1) * room // (trials + 1)


def change_pattern(trial):
    """A byte per trial that differs from the fill pattern 0x5a."""
    p = 0x10 + trial % 0xe0
    return p + 1 if p == 0x5a else p


def main():
    p = bl.base_parser(__doc__.splitlines()[0], trials=3)
    p.add_argument("--disk-gib", type=int, default=1, help="virtual size of the disk, GiB [%(default)s]")
    p.add_argument("--data", type=int, default=512, help="MiB written into the disk first [%(default)s]")
    p.add_argument("--change", type=int, default=10,
                   help="MiB rewritten between the full and the incremental [%(default)s]")
    args = p.parse_args()
    if args.trials < 1:
        sys.exit("--trials must be >= 1")
    if not 0 < args.change <= args.data <= args.disk_gib * 1024:
        sys.exit("need 0 < --change <= --data <= --disk-gib * 1024")
    paddockd, paddock, image_dir = bl.binaries(args)
    bl.install_signal_handlers()
    cleanup = bl.Cleanup(args.keep_temp)
    try:
        tmp = cleanup.tmpdir("paddock-bench-backup.")
        d = bl.Daemon(cleanup, paddockd, paddock, image_dir, os.path.join(tmp, "state")).start()
        d.cli("backup", "repo", "add", "main", "--path", os.path.join(tmp, "repo"))
        d.cli("vm", "create", "src", "--disk", f"root={args.disk_gib}G")
        disk = os.path.join(d.state_dir, "disks", "src", "root.qcow2")
        bl.log(f"writing {args.data} MiB into a {args.disk_gib} GiB disk ...")
        qemu_io_write(disk, 0x5a, 0, args.data)

        r = {"full_s": [], "incr_s": [], "hand_s": [], "durable_s": [],
             "full_bytes": [], "incr_bytes": [], "hand_bytes": [], "change_offset_mib": []}
        for t in range(args.trials):
            bl.log(f"trial {t + 1}/{args.trials}: full backup, {args.change} MiB change, "
                   f"incremental backup, qemu-img convert by hand ...")
            dt, full = backup(d, "--full")
            if full["kind"] != "full":
                raise RuntimeError(f"backup create --full gave a {full['kind']!r} backup: "
                                   f"{json.dumps(full, indent=2)}")
            r["full_s"].append(dt)
            r["full_bytes"].append(full["bytes"])

            off = change_offset_mib(t, args.trials, args.data, args.change)
            r["change_offset_mib"].append(off)
            qemu_io_write(disk, change_pattern(t), off, args.change)

            dt, incr = backup(d)
            if incr["kind"] != "incremental":
                raise RuntimeError(f"expected an incremental backup after the change, got "
                                   f"{incr['kind']!r} (reason: {incr.get('reason', '')!r}):\n"
                                   f"{json.dumps(incr, indent=2)}")
            r["incr_s"].append(dt)
            r["incr_bytes"].append(incr["bytes"])

            hand = os.path.join(tmp, f"hand-{t}.qcow2")
            t0 = time.monotonic()
            subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "qcow2", disk, hand],
                           check=True, capture_output=True, text=True)
            r["hand_s"].append(time.monotonic() - t0)
            r["hand_bytes"].append(os.path.getsize(hand))
            os.remove(hand)
            t0 = time.monotonic()
            subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "qcow2", disk, hand],
                           check=True, capture_output=True, text=True)
            h = hashlib.sha256()
            with open(hand, "rb") as f:
                os.fsync(f.fileno())
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            r["durable_s"].append(time.monotonic() - t0)
            os.remove(hand)

            d.cli("backup", "delete", "src", incr["id"])
            d.cli("backup", "delete", "src", full["id"])
        d.shutdown()

        s = {k: bl.summary(v) for k, v in r.items() if k != "change_offset_mib"}
        med = {k: v["median"] for k, v in s.items()}
        ratios = {
            "incr_full_time": med["incr_s"] / med["full_s"],
            "incr_full_size": med["incr_bytes"] / med["full_bytes"],
            "full_hand_time": med["full_s"] / med["hand_s"],
            "full_durable_time": med["full_s"] / med["durable_s"],
        }
        goal_met = med["incr_bytes"] <= 2 * args.change * MIB
        m = bl.machine_facts()

        if args.json:
            print(json.dumps({
                "machine": m,
                "params": {"trials": args.trials, "disk_gib": args.disk_gib, "data_mib": args.data,
                           "change_mib": args.change},
                "samples": r,
                "medians": med,
                "ratios": ratios,
                "goal_incr_within_2x_change": goal_met,
            }, indent=2))
            return 0

        print(f"backup cost — {m['nproc']} CPUs, {m['cpu']}, {m['qemu']}; {bl.loadavg_text()} at the end")
        print(f"{args.disk_gib} GiB disk with {args.data} MiB of data, {args.change} MiB changed "
              f"between the full and the incremental, VM stopped, {args.trials} trials")
        print()
        n = args.trials

        def secs(key):
            v = s[key]
            return [f"{v['median']:.3f}", f"{v['min']:.3f} / {v['max']:.3f}"]

        def mibs(key):
            v = s[key]
            return [f"{v['median'] / MIB:.1f}", f"{v['min'] / MIB:.1f} / {v['max'] / MIB:.1f}"]

        rows = [
            [f"full backup, CLI wall (s, {n})", *secs("full_s")],
            [f"incremental backup, CLI wall (s, {n})", *secs("incr_s")],
            [f"qemu-img convert by hand (s, {n})", *secs("hand_s")],
            [f"  + fsync + sha256 by hand (s, {n})", *secs("durable_s")],
            [f"full backup size (MiB, {n})", *mibs("full_bytes")],
            [f"incremental backup size (MiB, {n})", *mibs("incr_bytes")],
            [f"hand copy size (MiB, {n})", *mibs("hand_bytes")],
        ]
        print(bl.fmt_table(["metric", "median", "min / max"], rows))
        print()
        rows = [
            ["incremental / full, time", f"{ratios['incr_full_time']:.3f}"],
            ["incremental / full, size", f"{ratios['incr_full_size']:.3f}"],
            ["paddock full / qemu-img convert, time", f"{ratios['full_hand_time']:.2f}"],
            ["paddock full / convert+fsync+sha256, time", f"{ratios['full_durable_time']:.2f}"],
        ]
        print(bl.fmt_table(["ratio (of medians)", "RATIO"], rows))
        print()
        print(f"goal: incremental size within 2x of the change (<= {2 * args.change} MiB): "
              f"{'MET' if goal_met else 'NOT MET'}")
        return 0
    finally:
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
