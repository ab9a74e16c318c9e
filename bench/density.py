#!/usr/bin/env python3
"""Density: host memory per tiny VM (128 MiB) with KSM + ballooning vs without, same VMs, same run.

N tiny VMs (1 vCPU, 128 MiB, 64 MiB disk, no NIC) boot under one paddockd. Each trial boots them
afresh and measures two phases in order, then stops them (memory a balloon gave back is not
resident again until the guest uses it, so A always comes first, on freshly booted guests):
  A (baseline): KSM off (merged pages unmerged), overcommit manager off, no balloon targets;
  B (paddock):  KSM on (1000 pages per 20 ms) and the overcommit manager reclaiming idle guest
                memory (its watermarks set above the host's memory: the benchmark's stand-in for
                a host that is short of memory).
After each phase settles (--settle seconds), the VMs' host memory is the sum of the QEMU
processes' PSS (/proc/PID/smaps_rollup: pages shared by KSM count once in total, divided among
the processes that map them), and every VM must answer a command on its console. Reported:
MiB per VM in A and B, the RATIO B/A, and how many such VMs the host's available memory
(MemAvailable at the start, plus what the N VMs already use) would hold in each mode.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def answers(d, name, timeout=60):
    """True if the guest's shell computes an answer typed on its console (not just echoes it)."""
    cp = subprocess.run([d.paddock, "--host", d.sock, "vm", "console", name],
                        input="echo alive-$((6*7))\n", capture_output=True, text=True,
                        timeout=timeout)
    return cp.returncode == 0 and "alive-42" in cp.stdout


def set_phase(d, names, packed):
    if packed:
        d.api.call("PUT", "/v1/host/ksm", {"run": True, "pages_to_scan": 1000,
                                            "sleep_millisecs": 20})
        d.api.call("PUT", "/v1/host/overcommit", {"enabled": True, "low_mib": 4096000,
                                                   "high_mib": 8192000})
    else:
        d.api.call("PUT", "/v1/host/overcommit", {"enabled": False})
        d.api.call("PUT", "/v1/host/ksm", {"run": False})  # also unmerges every shared page


def measure(d, names, settle):
    time.sleep(settle)
    pids = [bl.vm_runtime(d, n)["pid"] for n in names]
    pss = sum(pss_kib(p) for p in pids) / 1024
    answered = sum(1 for n in names if answers(d, n))
    live = d.api.call("GET", "/v1/stats/live")
    balloon = [live["vms"][n].get("memory_balloon_bytes", 0) / 2**20 for n in names]
    return {"pss_mib": pss, "per_vm_mib": pss / len(names), "answered": answered,
            "balloon_mib_mean": sum(balloon) / len(balloon)}


def main():
    p = bl.base_parser(__doc__.split("\n")[0], trials=2)
    p.add_argument("--vms", type=int, default=16, help="running VMs [%(default)s]")
    p.add_argument("--settle", type=float, default=45,
                   help="seconds each phase runs before it is measured [%(default)s]")
    args = p.parse_args()
    bl.install_signal_handlers()
    paddockd, paddock, image_dir = bl.binaries(args)
    cleanup = bl.Cleanup(args.keep_temp)
    d = None
    ksm_before = None
    try:
        ksm_before = open("/sys/kernel/mm/ksm/run").read().strip()
        available0 = mem_available_kib() / 1024
        tmp = cleanup.tmpdir("paddock-bench-density.")
        d = bl.Daemon(cleanup, paddockd, paddock, image_dir, os.path.join(tmp, "state"),
                      extra_args=["--stats-interval", "2s"]).start()
        names = [f"d{i}" for i in range(1, args.vms + 1)]
        for n in names:
            bl.define_vm(d, n, memory_mib=128, disk_mib=64)
        rows = {"A": [], "B": []}
        for t in range(args.trials):
            set_phase(d, names, packed=False)
            for i in range(0, len(names), 8):
                bl.log(f"trial {t + 1}: starting VMs {i + 1}-{min(i + 8, len(names))} of "
                       f"{len(names)}")
                d.cli("vm", "start", "--wait-ready", *names[i:i + 8])
            for phase in ("A", "B"):
                bl.log(f"trial {t + 1}: phase {phase}")
                set_phase(d, names, packed=(phase == "B"))
                rows[phase].append(measure(d, names, args.settle))
            bl.stop_vms(d, names)
        set_phase(d, names, packed=False)
        a = [r["per_vm_mib"] for r in rows["A"]]
        b = [r["per_vm_mib"] for r in rows["B"]]
        sa, sb = bl.summary(a), bl.summary(b)
        # What the host could hold: the memory it had plus what these VMs use now, per VM.
        budget = available0
        fit_a, fit_b = int(budget / sa["median"]), int(budget / sb["median"])
        result = {"machine": bl.machine_facts(), "vms": args.vms, "settle_s": args.settle,
                  "A_without": rows["A"], "B_ksm_balloon": rows["B"],
                  "per_vm_mib": {"A": sa, "B": sb}, "ratio_B_over_A": sb["median"] / sa["median"],
                  "host_available_mib_at_start": available0,
                  "vms_that_fit": {"A": fit_a, "B": fit_b}}
        if args.json:
            print(json.dumps(result, indent=2))
            return
        print(f"{args.vms} tiny VMs (128 MiB), {args.trials} trials per phase, "
              f"{args.settle:.0f} s settle; load {bl.loadavg_text()}")
        print(bl.fmt_table(
            ["MiB of host memory per VM (PSS)", "median", "min", "max", "answered"],
            [["A: no KSM, no ballooning", f"{sa['median']:.1f}", f"{sa['min']:.1f}",
              f"{sa['max']:.1f}", f"{min(r['answered'] for r in rows['A'])}/{args.vms}"],
             ["B: KSM + overcommit ballooning", f"{sb['median']:.1f}", f"{sb['min']:.1f}",
              f"{sb['max']:.1f}", f"{min(r['answered'] for r in rows['B'])}/{args.vms}"]]))
        print(f"mean balloon (memory the guest keeps) in B: "
              f"{rows['B'][-1]['balloon_mib_mean']:.0f} MiB of 128")
        print(f"RATIO B/A (memory per VM) = {sb['median'] / sa['median']:.3f}")
        print(f"{available0:.0f} MiB available at start hold ~{fit_a} such VMs without, "
              f"~{fit_b} with KSM + ballooning (memory only; CPU is not counted)")
    finally:
        try:
            if d is not None and d.proc is not None and d.proc.poll() is None:
                set_phase(d, [], packed=False)
        except Exception as e:  # noqa: BLE001
            bl.log(f"cleanup: could not reset KSM/overcommit: {e}")
        if ksm_before is not None:
            # 2 unmerges every shared page; then back to what the host had.
            for value in ("2", ksm_before) if ksm_before == "0" else (ksm_before,):
                with open("/sys/kernel/mm/ksm/run", "w") as f:
                    f.write(value)
        cleanup.run()


if __name__ == "__main__":
    main()
