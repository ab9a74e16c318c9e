#!/usr/bin/env bash
# Fixture for the integration tests: builds an image (tiny unless named) into the shared test image
# dir (a cache: nothing happens when its recipe is unchanged) and records the accelerator probe
# next to it.
set -euo pipefail
paddockd=$1 paddock=$2 images=$3 image=${4:-tiny}
state=$(mktemp -d /tmp/paddock-image-XXXXXX)
"$paddockd" --state-dir "$state" --image-dir "$images" >"$state.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$state" "$state.log"' EXIT
for _ in $(seq 100); do [ -S "$state/paddockd.sock" ] && break; sleep 0.1; done
"$paddock" --host "$state/paddockd.sock" image build "$image"
"$paddock" --host "$state/paddockd.sock" host info
