#!/usr/bin/env python3
"""Defining many VMs: paddockd RSS, create throughput, and `vm list` latency at 0 vs N VMs.

In one invocation, against a fresh paddockd with a private temp state dir:
  1. baseline at 0 VMs: paddockd VmRSS; GET /v1/vms latency (--trials calls, each on a fresh
     unix-socket connection, like the CLI does); `paddock --json vm list` wall time (--cli-trials).
  2. define --vms VMs (not started) with POST /v1/vms, one after another; per-request latency and
     throughput (creates/s); the first 100 creates are the baseline for the last 100.
  3. the same measurements at N VMs. Ratios = at N / at 0.
Goals (see bench/README.md): RSS growth <= 10 KiB per defined VM; GET /v1/vms p50 at 1000 VMs
<= 100 ms; CLI list p50 at 1000 VMs <= 250 ms; create p50 at 1000 VMs <= 1.5x the first 100.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def measure_list(d, api_calls, cli_calls, expect):
    api_t, size = [], 0
    cpu0 = bl.cpu_seconds(d.pid)
    for _ in range(api_calls):
        t0 = time.monotonic()
        status, body = d.api.raw("GET", "/v1/vms")
        api_t.append(time.monotonic() - t0)
        if status != 200:
            raise RuntimeError(f"GET /v1/vms -> {status}")
        size = len(body)
    api_cpu = (bl.cpu_seconds(d.pid) - cpu0) / max(1, api_calls)
    n = len(json.loads(body)["vms"])
    if n != expect:
        raise RuntimeError(f"GET /v1/vms returned {n} VMs, expected {expect}")
    cli_t = []
    for _ in range(cli_calls):
        t0 = time.monotonic()
        cp = subprocess.run([d.paddock, "--host", d.sock, "--json", "vm", "list"],
                            capture_output=True, timeout=120)
        cli_t.append(time.monotonic() - t0)
        if cp.returncode != 0:
            raise RuntimeError(f"paddock vm list failed: {cp.stderr[:300]!r}")
    return {"api": bl.summary(api_t), "cli": bl.summary(cli_t), "response_bytes": size, "vms": n,
            "api_daemon_cpu_s": api_cpu}


def main():
    p = bl.base_parser(__doc__.splitlines()[0], trials=100)
    p.add_argument("--cli-trials", type=int, default=20, help="CLI `vm list` calls [%(default)s]")
    p.add_argument("--vms", type=int, default=1000, help="VMs to define [%(default)s]")
    p.add_argument("--disk", type=int, default=64, help="root disk MiB of each VM [%(default)s]")
    args = p.parse_args()
    paddockd, paddock, image_dir = bl.binaries(args)
    bl.install_signal_handlers()
    cleanup = bl.Cleanup(args.keep_temp)
    try:
        tmp = cleanup.tmpdir("paddock-bench-dm.")
        d = bl.Daemon(cleanup, paddockd, paddock, image_dir, os.path.join(tmp, "state")).start()
        # Warm up the server and the page cache of the CLI binary.
        for _ in range(5):
            d.api.raw("GET", "/v1/vms")
            d.api.raw("GET", "/v1/host")
        d.cli("--json", "vm", "list")
        time.sleep(0.5)
        rss0, hwm0 = d.rss_kib(), status_kib(d.pid, "VmHWM")
        bl.log(f"0 VMs: RSS {rss0} KiB; measuring list latency ...")
        base = measure_list(d, args.trials, args.cli_trials, 0)

        bl.log(f"defining {args.vms} VMs ...")
        create_t = []
        t_all = time.monotonic()
        for i in range(args.vms):
            body = {"name": f"vm{i:04d}", "memory_mib": 256, "vcpus": 1, "image": "tiny",
                    "disks": [{"name": "root", "size_mib": args.disk}]}
            t0 = time.monotonic()
            status, resp = d.api.raw("POST", "/v1/vms", body)
            create_t.append(time.monotonic() - t0)
            if status != 201:
                raise RuntimeError(f"POST /v1/vms #{i} -> {status}: {resp[:300]!r}")
            if (i + 1) % 200 == 0:
                bl.log(f"  {i + 1} defined, {(i + 1) / (time.monotonic() - t_all):.1f}/s")
        create_total = time.monotonic() - t_all
        time.sleep(0.5)
        rss1, hwm1 = d.rss_kib(), status_kib(d.pid, "VmHWM")
        bl.log(f"{args.vms} VMs: RSS {rss1} KiB; measuring list latency ...")
        full = measure_list(d, args.trials, args.cli_trials, args.vms)
        disk_kib = int(subprocess.run(["du", "-sk", os.path.join(d.state_dir, "disks")],
                                      capture_output=True, text=True).stdout.split()[0])
        d.shutdown()

        k = min(100, max(1, args.vms // 2))
        first, last = bl.summary(create_t[:k]), bl.summary(create_t[-k:])
        result = {
            "benchmark": "define_many",
            "machine": bl.machine_facts(),
            "config": {"vms": args.vms, "api_calls": args.trials, "cli_calls": args.cli_trials,
                       "disk_mib": args.disk},
            "rss_kib": {"0": rss0, str(args.vms): rss1, "per_vm": (rss1 - rss0) / args.vms,
                        "ratio": rss1 / rss0},
            "hwm_kib": {"0": hwm0, str(args.vms): hwm1},
            "create": {"total_s": create_total, "per_s": args.vms / create_total,
                       "all": bl.summary(create_t), f"first_{k}": first, f"last_{k}": last,
                       "ratio_last_first_p50": last["median"] / first["median"]},
            "list_0": base, f"list_{args.vms}": full,
            "ratios": {
                "api_p50": full["api"]["median"] / base["api"]["median"],
                "api_p99": full["api"]["p99"] / base["api"]["p99"],
                "cli_p50": full["cli"]["median"] / base["cli"]["median"],
                "cli_p99": full["cli"]["p99"] / base["cli"]["p99"],
            },
            "state_disks_kib": disk_kib,
        }
        result["goals"] = {
            "RSS growth <= 10 KiB per defined VM": (rss1 - rss0) / args.vms <= 10,
            "GET /v1/vms p50 <= 100 ms at N VMs": full["api"]["median"] <= 0.100,
            "paddock --json vm list p50 <= 250 ms at N VMs": full["cli"]["median"] <= 0.250,
            "POST /v1/vms p50, last 100 <= 1.5x first 100": last["median"] <= 1.5 * first["median"],
        }
        for s in (first, last, result["create"]["all"], base["api"], base["cli"], full["api"],
                  full["cli"]):
            del s["values"]
        if args.json:
            print(json.dumps(result, indent=2))
            return 0

        m = result["machine"]
        n = args.vms
        print(f"define {n} VMs (not started) — {m['nproc']} CPUs, {m['cpu']}, {m['qemu']}; {bl.loadavg_text()} at the end")
        print()
        ms = lambda v: f"{v * 1000:.2f}"  # noqa: E731
        rows = [
            ["paddockd VmRSS (MiB)", f"{rss0 / 1024:.1f}", f"{rss1 / 1024:.1f}", f"{rss1 / rss0:.2f}"],
            ["  growth per defined VM (KiB)", "-", f"{(rss1 - rss0) / n:.2f}", "-"],
            [f"GET /v1/vms p50 (ms, {args.trials} calls)", ms(base["api"]["median"]),
             ms(full["api"]["median"]), f"{result['ratios']['api_p50']:.2f}"],
            ["GET /v1/vms p99 (ms)", ms(base["api"]["p99"]), ms(full["api"]["p99"]),
             f"{result['ratios']['api_p99']:.2f}"],
            ["GET /v1/vms min / max (ms)", f"{ms(base['api']['min'])} / {ms(base['api']['max'])}",
             f"{ms(full['api']['min'])} / {ms(full['api']['max'])}", "-"],
            ["  paddockd CPU per GET /v1/vms (ms)", ms(base["api_daemon_cpu_s"]),
             ms(full["api_daemon_cpu_s"]), "-"],
            ["  response size (KiB)", f"{base['response_bytes'] / 1024:.1f}",
             f"{full['response_bytes'] / 1024:.1f}", "-"],
            [f"paddock --json vm list p50 (ms, {args.cli_trials} calls)", ms(base["cli"]["median"]),
             ms(full["cli"]["median"]), f"{result['ratios']['cli_p50']:.2f}"],
            ["paddock --json vm list p99 (ms)", ms(base["cli"]["p99"]), ms(full["cli"]["p99"]),
             f"{result['ratios']['cli_p99']:.2f}"],
            ["paddock --json vm list min / max (ms)",
             f"{ms(base['cli']['min'])} / {ms(base['cli']['max'])}",
             f"{ms(full['cli']['min'])} / {ms(full['cli']['max'])}", "-"],
            [f"POST /v1/vms p50 (ms; first {k} vs last {k})", ms(first["median"]),
             ms(last["median"]), f"{result['create']['ratio_last_first_p50']:.2f}"],
            [f"POST /v1/vms p99 (ms; first {k} vs last {k})", ms(first["p99"]), ms(last["p99"]),
             f"{last['p99'] / first['p99']:.2f}"],
        ]
        print(bl.fmt_table(["metric", "0 VMs (baseline)", f"{n} VMs", "RATIO"], rows))
        print()
        c = result["create"]
        print(f"create throughput: {n} VMs in {c['total_s']:.1f} s = {c['per_s']:.1f} creates/s "
              f"(p50 {ms(c['all']['median'])} ms, p99 {ms(c['all']['p99'])} ms, "
              f"max {ms(c['all']['max'])} ms); disks on disk: {disk_kib / 1024:.0f} MiB")
        print()
        for label, ok in result["goals"].items():
            print(f"goal {label}: {'MET' if ok else 'NOT MET'}")
        return 0
    finally:
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
