#!/usr/bin/env python3
"""Network create -> ready: `paddock network create` vs bridge + dnsmasq by hand, same namespace.

Everything runs in one network namespace this script creates (see net_common.py); paddockd runs
inside it, and so does the by-hand baseline. No traffic leaves the machine.

Per trial K (networks 10.91.K.0/24, each deleted again before the next trial):
  A (CLI):  wall time of `paddock network create nK --subnet 10.91.K.0/24` (kind internal). The
            CLI returns when the bridge exists with its address and is up, and dnsmasq runs
            (paddockd waits for dnsmasq's pid file). Checked after each call: bridge UP with
            the gateway address, dnsmasq alive.
  A2 (API): the same through POST /v1/networks directly (no CLI process), to show the CLI's share.
  B (by hand): a helper process that already lives in the namespace runs, timed from the first
            command until the dnsmasq pid file names a live dnsmasq:
                ip link add NAME type bridge; ip addr add 10.91.K.1/24 dev NAME;
                ip link set NAME up; write dnsmasq.conf (the same options paddock writes) and an
                empty hosts file; dnsmasq --conf-file=...  (it daemonizes, like paddock's)
Context rows: delete (`paddock network delete` vs kill dnsmasq + `ip link del` by hand).
Order per trial: A, A2, B, rotated from trial to trial. RATIO = median(A) / median(B).
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import net_common as nc  # noqa: E402

# Runs inside the namespace; reads "up K DIR" / "down K DIR" lines, answers with JSON lines.
HELPER = r'''
import json, os, signal, subprocess, sys, time
def run(argv):
    cp = subprocess.run(argv, capture_output=True, text=True)
    if cp.returncode != 0:
        raise RuntimeError(" ".join(argv) + ": " + cp.stderr.strip())
def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
def pidof(pidfile):
    try:
        with open(pidfile) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
for line in sys.stdin:
    op, k, d = line.split()
    br, gw = f"hb{int(k):04d}", f"10.91.{k}.1"
    conf, pidfile = f"{d}/dnsmasq.conf", f"{d}/dnsmasq.pid"
    try:
        t0 = time.monotonic()
        if op == "up":
            run(["ip", "link", "add", br, "type", "bridge"])
            run(["ip", "addr", "add", gw + "/24", "dev", br])
            run(["ip", "link", "set", br, "up"])
            os.makedirs(d, mode=0o700, exist_ok=True)
            with open(f"{d}/hosts", "w"):
                pass
            with open(conf, "w") as f:
                f.write(f"interface={br}\nexcept-interface=lo\nbind-interfaces\n"
                        f"listen-address={gw}\nport=53\nno-resolv\nno-hosts\n"
                        f"dhcp-range=10.91.{k}.10,10.91.{k}.254,255.255.255.0,1h\n"
                        f"dhcp-option=3\ndhcp-option=6,{gw}\ndhcp-authoritative\n"
                        f"dhcp-leasefile={d}/leases\ndhcp-hostsfile={d}/hosts\n"
                        f"pid-file={pidfile}\nlog-facility={d}/dnsmasq.log\nuser=root\n")
            run(["dnsmasq", "--conf-file=" + conf])
            while not (pidof(pidfile) and alive(pidof(pidfile))):
                time.sleep(0.001)
        else:
            pid = pidof(pidfile)
            if pid and alive(pid):
                os.kill(pid, signal.SIGTERM)
                while alive(pid):
                    time.sleep(0.001)
            run(["ip", "link", "del", br])
        print(json.dumps({"ok": True, "s": time.monotonic() - t0}), flush=True)
    except Exception as e:
        print(json.dumps({"ok": False, "error": str(e)}), flush=True)
'''


class Helper:
    def __init__(self, nb, ns):
        self.proc = nb.cleanup.add(subprocess.Popen(
            ns.exec_argv([sys.executable, "-u", "-c", HELPER]), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, start_new_session=True))

    def call(self, op, k, d):
        self.proc.stdin.write(f"{op} {k} {d}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("baseline helper died")
        r = json.loads(line)
        if not r["ok"]:
            raise RuntimeError(f"baseline {op} {k}: {r['error']}")
        return r["s"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def check_ready(ns, bridge, gw, pidfile):
    j = json.loads(nc.sh(["ip", "-n", ns.name, "-j", "addr", "show", "dev", bridge]).stdout)[0]
    if "UP" not in j.get("flags", []) or not any(a.get("local") == gw
                                                 for a in j.get("addr_info", [])):
        raise RuntimeError(f"{bridge} is not up with {gw}: {j}")
    pid = nc.read_pidfile(pidfile)
    if not pid or not nc.pid_alive(pid) or nc.proc_comm(pid) != "dnsmasq":
        raise RuntimeError(f"no live dnsmasq from {pidfile}")
    return pid


def main():
    p = bl.base_parser(__doc__.splitlines()[0], trials=15)
    p.add_argument("--warmup", type=int, default=2, help="unmeasured trials first [%(default)s]")
    args = p.parse_args()
    paddockd, paddock, image_dir = bl.binaries(args)
    if args.warmup + args.trials > 200:
        sys.exit("at most 200 trials (subnets 10.91.1-200.0/24)")
    nb = nc.NetBench(args.keep_temp)
    t_begin = time.monotonic()
    try:
        ns = nb.netns("pd")
        tmp = nb.cleanup.tmpdir("paddock-bench-nc.")
        d = nb.daemon(ns, paddockd, paddock, image_dir, tmp)
        helper = Helper(nb, ns)
        res = {k: [] for k in ("cli", "api", "manual", "cli_delete", "api_delete",
                               "manual_delete")}

        def paddock_create(kind, k):
            name = f"n{k}"
            gw = f"10.91.{k}.1"
            if kind == "cli":
                t, _ = d.cli("network", "create", name, "--subnet", f"10.91.{k}.0/24")
            else:
                t0 = time.monotonic()
                d.api.call("POST", "/v1/networks", {"name": name,
                                                        "subnet": f"10.91.{k}.0/24"})
                t = time.monotonic() - t0
            info = d.api.call("GET", f"/v1/networks/{name}")
            nb.pidfiles.append(os.path.join(d.state_dir, "networks", name, "dnsmasq.pid"))
            check_ready(ns, info["bridge"], gw,
                        os.path.join(d.state_dir, "networks", name, "dnsmasq.pid"))
            if kind == "cli":
                td, _ = d.cli("network", "delete", name)
            else:
                t0 = time.monotonic()
                d.api.call("DELETE", f"/v1/networks/{name}")
                td = time.monotonic() - t0
            return t, td

        def manual(k):
            dd = os.path.join(tmp, "manual", f"h{k}")
            nb.pidfiles.append(os.path.join(dd, "dnsmasq.pid"))
            t = helper.call("up", k, dd)
            check_ready(ns, f"hb{k:04d}", f"10.91.{k}.1", os.path.join(dd, "dnsmasq.pid"))
            td = helper.call("down", k, dd)
            return t, td

        order = ["cli", "api", "manual"]
        for i in range(args.warmup + args.trials):
            k = i + 1
            r = {}
            rot = order[i % 3:] + order[:i % 3]
            for kind in rot:  # all three use 10.91.K.0/24, one after the other
                r[kind] = manual(k) if kind == "manual" else paddock_create(kind, k)
            warm = i < args.warmup
            bl.log(("warm-up: " if warm else f"trial {i - args.warmup + 1}: ") + ", ".join(
                f"{kind} {v[0] * 1000:.1f} ms (delete {v[1] * 1000:.1f})"
                for kind, v in r.items()))
            if not warm:
                for kind, v in r.items():
                    res[kind].append(v[0])
                    res[kind + "_delete"].append(v[1])
        helper.close()
        if nb.our_dnsmasq_pids():
            raise RuntimeError("a dnsmasq survived its network's delete")

        ratio = bl.summary(res["cli"])["median"] / bl.summary(res["manual"])["median"]
        ratio_api = bl.summary(res["api"])["median"] / bl.summary(res["manual"])["median"]
        ratio_del = (bl.summary(res["cli_delete"])["median"]
                     / bl.summary(res["manual_delete"])["median"])
        out = {"benchmark": "net_create", "machine": bl.machine_facts(),
               "params": {"trials": args.trials, "warmup": args.warmup},
               "seconds": {k: bl.summary(v) for k, v in res.items()},
               "ratio_cli_over_manual": ratio, "ratio_api_over_manual": ratio_api,
               "ratio_delete_cli_over_manual": ratio_del,
               "wall_s": time.monotonic() - t_begin}
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            ms = lambda v: f"{v * 1000:.1f}"  # noqa: E731
            rows = [nc.stats_row("A  paddock network create (CLI)", res["cli"], ms),
                    nc.stats_row("A2 POST /v1/networks (API)", res["api"], ms),
                    nc.stats_row("B  by hand: ip x3 + dnsmasq", res["manual"], ms),
                    nc.stats_row("context: paddock network delete (CLI)", res["cli_delete"], ms),
                    nc.stats_row("context: DELETE /v1/networks/N (API)", res["api_delete"], ms),
                    nc.stats_row("context: by hand: kill dnsmasq + ip link del",
                                 res["manual_delete"], ms)]
            print("network create -> bridge up + dnsmasq running, ms (lower is better)")
            print(bl.fmt_table(["what", "median", "min", "max", "n"], rows))
            print(f"\nRATIO paddock CLI / by hand = {ratio:.2f}   (API / by hand = "
                  f"{ratio_api:.2f}; delete CLI / by hand = {ratio_del:.2f})")
            print(f"{bl.loadavg_text()}; wall {out['wall_s']:.0f} s")
    finally:
        problems = nb.teardown()
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
