#!/usr/bin/env bash
# The main job: set up this machine, start paddockd on the default state dir (embedded SQLite
# store), build the tiny guest image, and bring up the VMs of examples/lab.yaml.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${PADDOCK_STATE_DIR:-/var/lib/paddock}
directory=${1:-$root/examples/lab.yaml}

"$root/scripts/setup.sh"
"$root/scripts/build.sh"
paddockd="$root/build/src/paddockd"
paddock="$root/build/src/paddock --host $state/paddockd.sock"

mkdir -p "$state"
if ! $paddock host info >/dev/null 2>&1; then
  echo "main: starting paddockd on $state (log: $state/paddockd.log)"
  nohup "$paddockd" --state-dir "$state" >>"$state/paddockd.log" 2>&1 &
  for _ in $(seq 50); do $paddock host info >/dev/null 2>&1 && break; sleep 0.1; done
fi
$paddock image build tiny
$paddock host info
$paddock apply -f "$directory"
echo
$paddock vm list
echo
for vm in $($paddock --json vm list | python3 -c 'import json,sys; [print(v["name"]) for v in json.load(sys.stdin)]'); do
  echo "$vm: $($paddock --json vm show "$vm" | python3 -c 'import json,sys; print(json.load(sys.stdin)["runtime"]["ready_line"] or "(not ready)")')"
done
cat <<EOM

paddockd keeps running (pid $(pgrep -f "paddockd --state-dir $state" | head -1)).
Try:  export PADDOCK_SOCKET=$state/paddockd.sock
      $root/build/src/paddock vm console web1      (Ctrl-] detaches)
      $root/build/src/paddock apply -f $directory --dry-run
Stop: $root/build/src/paddock vm shutdown web1 ...; kill \$(pgrep -f "paddockd --state-dir $state")
EOM
