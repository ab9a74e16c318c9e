"""Shared helpers for the network benchmarks (bench/net_*.py); stdlib only.

Network safety: everything runs in network namespaces this module creates
(`paddock-bench-<pid>-<tag>`). paddockd is started with `ip netns exec NS`, so its bridges, TAPs
and dnsmasq live in that namespace; baselines create their links inside their own namespaces
(`ip -n NS ...`). Nothing is ever created in the host namespace, and no traffic leaves the
machine.

Teardown (NetBench.teardown, always run from `finally`, with SIGINT ignored meanwhile):
  1. benchlib's Cleanup: stop VMs through the API, SIGTERM paddockd, SIGKILL leftover QEMUs
     whose argv points into our state dir;
  2. SIGTERM (then SIGKILL) every dnsmasq whose pid file is DIR/networks/*/dnsmasq.pid of one of
     our state dirs, or one of our own baseline pid files, after checking that its
     comm is dnsmasq and its cmdline names our file;
  3. delete every non-lo link inside each of our namespaces (on this kernel the links of a
     deleted namespace can end up in the host namespace), then `ip netns del`;
  4. check that the host namespace has no new links and that none of our processes remain.
"""

import glob
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

NS_PREFIX = "paddock-bench-"


def sh(argv, check=True, timeout=60, **kw):
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and cp.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({cp.returncode}): {cp.stderr.strip()}")
    return cp


def host_links():
    """{ifindex: name} of the host namespace."""
    out = sh(["ip", "-o", "link", "show"]).stdout
    links = {}
    for line in out.splitlines():
        m = re.match(r"(\d+):\s+([^:@\s]+)", line)
        if m:
            links[int(m.group(1))] = m.group(2)
    return links


def proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").split("\0")
    except OSError:
        return None


def proc_comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def read_pidfile(path):
    try:
        with open(path) as f:
            pid = int(f.read().split()[0])
        return pid if pid > 1 else None
    except (OSError, ValueError, IndexError):
        return None


class Netns:
    """A network namespace we created; `run` executes a command inside it."""

    def __init__(self, name):
        self.name = name
        sh(["ip", "netns", "add", name])
        sh(["ip", "-n", name, "link", "set", "lo", "up"])

    def exec_argv(self, argv):
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv, check=True, timeout=60, **kw):
        return sh(self.exec_argv(argv), check=check, timeout=timeout, **kw)

    def ip(self, *args, check=True):
        return sh(["ip", "-n", self.name, *args], check=check)

    def links(self):
        """Names of the links in the namespace (without the @peer suffix)."""
        out = sh(["ip", "-n", self.name, "-o", "link", "show"], check=False).stdout
        return [m.group(1) for m in (re.match(r"\d+:\s+([^:@\s]+)", line)
                                     for line in out.splitlines()) if m]

    def link_kinds(self):
        """{name: kind} (kind from `ip -d`, e.g. bridge, tun, veth; '' if none)."""
        out = sh(["ip", "-n", self.name, "-d", "-o", "link", "show"], check=False).stdout
        kinds = {}
        for line in out.splitlines():
            m = re.match(r"\d+:\s+([^:@\s]+)", line)
            if not m:
                continue
            k = re.search(r"\\\s+(bridge|tun|veth|bridge_slave)\b", line)
            kinds[m.group(1)] = k.group(1) if k else ""
            if " tun " in line or "tun type" in line:
                kinds[m.group(1)] = "tun"
        return kinds

    def destroy(self):
        names = [n for n in self.links() if n != "lo"]
        # Delete every non-lo link first: links of a deleted namespace must not move to the host.
        for _ in range(3):
            for n in names:
                sh(["ip", "-n", self.name, "link", "del", n], check=False)
            names = [n for n in self.links() if n != "lo"]
            if not names:
                break
            time.sleep(0.2)
        if names:
            bl.log(f"WARNING: links left in {self.name}: {names}")
        sh(["ip", "netns", "del", self.name], check=False)


class NsDaemon(bl.Daemon):
    """benchlib.Daemon, but paddockd runs inside a network namespace (`ip netns exec`).

    `ip netns exec` execs the command in place, so the Popen pid is paddockd's pid.
    """

    def __init__(self, cleanup, ns, paddockd, paddock, image_dir, state_dir, log_level="info"):
        super().__init__(cleanup, paddockd, paddock, image_dir, state_dir, log_level,
                         wrapper=ns.exec_argv([]))
        self.ns = ns

    def _find_child(self):
        argv = proc_cmdline(self.proc.pid) or [""]
        if argv[0] == self.paddockd:
            return self.proc.pid
        return super()._find_child()

    def console_log(self, name):
        status, body = self.api.raw("GET", f"/v1/vms/{name}/console/log", timeout=30)
        if status != 200:
            raise RuntimeError(f"console log of {name} -> {status}")
        return body.decode(errors="replace")

    def console_send(self, name, text):
        """Types `text` into the VM's serial console through the CLI (returns ~1.5 s after)."""
        cp = subprocess.run([self.paddock, "--host", self.sock, "vm", "console", name],
                            input=text, capture_output=True, text=True, timeout=60)
        if cp.returncode != 0:
            raise RuntimeError(f"vm console {name} failed: {cp.stderr.strip()}")

    def guest_run(self, name, command, token, timeout=600, poll=0.5):
        """Runs one shell command line in the guest; returns (rc, output).

        The output is collected in a file in the guest and printed between two markers that do
        not appear literally in the echoed command line.
        """
        line = (f"{{ {command} ; }} >/tmp/bench.out 2>&1; r=$?; "
                f"printf 'BENCH-%s-BEGIN\\n' {token}; cat /tmp/bench.out; "
                f"printf 'BENCH-%s-END rc=%s\\n' {token} $r\n")
        self.console_send(name, line)
        pat = re.compile(rf"BENCH-{token}-BEGIN\r?\n(.*?)BENCH-{token}-END rc=(\d+)", re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = pat.search(self.console_log(name))
            if m:
                return int(m.group(2)), m.group(1).replace("\r", "")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: no result for '{command}' after {timeout} s")
            time.sleep(poll)

    def wait_console(self, name, regex, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(regex, self.console_log(name))
            if m:
                return m
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: console never showed {regex!r}")
            time.sleep(0.3)


class NetBench:
    """Owns the namespaces, the daemons (through benchlib.Cleanup) and the dnsmasq pid files."""

    def __init__(self, keep_temp=False):
        bl.install_signal_handlers()
        self.cleanup = bl.Cleanup(keep_temp)
        self.namespaces = []
        self.state_dirs = []
        self.pidfiles = []       # extra dnsmasq pid files (baselines)
        self.host_before = host_links()
        self.tag = f"{os.getpid():x}"

    def netns(self, suffix):
        ns = Netns(f"{NS_PREFIX}{self.tag}-{suffix}")
        self.namespaces.append(ns)
        return ns

    def daemon(self, ns, paddockd, paddock, image_dir, tmp):
        state = os.path.join(tmp, "state")
        self.state_dirs.append(state)
        d = NsDaemon(self.cleanup, ns, paddockd, paddock, image_dir, state)
        return d.start()

    def dnsmasq_pidfiles(self):
        files = list(self.pidfiles)
        for s in self.state_dirs:
            files += glob.glob(os.path.join(s, "networks", "*", "dnsmasq.pid"))
        return files

    def our_dnsmasq_pids(self):
        pids = []
        for pf in self.dnsmasq_pidfiles():
            pid = read_pidfile(pf)
            if not pid or not pid_alive(pid) or proc_comm(pid) != "dnsmasq":
                continue
            argv = proc_cmdline(pid) or []
            d = os.path.dirname(pf)
            if any(d in a for a in argv):  # --conf-file=DIR/dnsmasq.conf or -x DIR/...
                pids.append(pid)
        return pids

    def kill_dnsmasqs(self):
        pids = self.our_dnsmasq_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 3
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in pids:
            if pid_alive(pid) and proc_comm(pid) == "dnsmasq":
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return pids

    def teardown(self):
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        problems = []
        try:
            daemons = list(self.cleanup.daemons)
            paddockd_pids = [d.real_pid for d in daemons if d.real_pid]
            qemu_pids = [p for d in daemons for p in d.running_qemu_pids()]
            tmpdirs, self.cleanup.tmpdirs = self.cleanup.tmpdirs, []
            keep, self.cleanup.keep_temp = self.cleanup.keep_temp, False
            try:  # (the dnsmasq pid files in the temp dirs are still needed below)
                self.cleanup.run()
            except Exception as e:  # noqa: BLE001
                problems.append(f"cleanup: {e}")
            self.cleanup.tmpdirs, self.cleanup.keep_temp = tmpdirs, keep
            dns = self.kill_dnsmasqs()
            for ns in reversed(self.namespaces):
                try:
                    ns.destroy()
                except Exception as e:  # noqa: BLE001
                    problems.append(f"netns {ns.name}: {e}")
            if not self.cleanup.keep_temp:
                import shutil
                for d in self.cleanup.tmpdirs:
                    shutil.rmtree(d, ignore_errors=True)
            else:
                bl.log(f"kept temp dirs: {self.cleanup.tmpdirs}")
            # Checks.
            after = host_links()
            new = {i: n for i, n in after.items() if i not in self.host_before}
            if new:
                problems.append(f"NEW LINKS IN THE HOST NAMESPACE: {new}")
            left = [p for p in paddockd_pids + qemu_pids + dns if pid_alive(p)]
            if left:
                problems.append(f"processes of ours still alive: {left}")
            ours = sh(["ip", "netns", "list"], check=False).stdout
            stale = [ns.name for ns in self.namespaces if ns.name in ours]
            if stale:
                problems.append(f"namespaces left: {stale}")
            for p in problems:
                bl.log(f"TEARDOWN PROBLEM: {p}")
            if not problems:
                bl.log("teardown ok: no new host links, no paddockd/qemu/dnsmasq of ours left, "
                       "namespaces deleted")
        finally:
            signal.signal(signal.SIGINT, old)
        return problems


def fmt_s(v, digits=3):
    return f"{v:.{digits}f}"


def stats_row(label, values, unit_fmt=lambda v: f"{v:.3f}"):
    s = bl.summary(values)
    return [label, unit_fmt(s["median"]), unit_fmt(s["min"]), unit_fmt(s["max"]), s["n"]]
