#!/usr/bin/env bash
# A container engine and a base image for the image tests (tests/test_container.py).
#
#   eval "$(.ci/containers.sh)"   # installs podman if needed, builds the base, exports KAMPAI_TEST_*
#
# Machines like CI's have a docker client but no daemon and no reachable image registry:
# podman (rootful, runc, cgroupfs) builds and runs images without a daemon, and the base
# image is made from Debian's own packages with debootstrap (what `--base-image` is for:
# an air-gapped user passes their registry's image the same way).  Safe to run again:
# an existing base image is reused.  Everything it prints on stdout is an `export` line.
set -euo pipefail
BASE=${KAMPAI_TEST_BASE_IMAGE:-localhost/kampai-test/debian:bookworm-minbase}
SUITE=${KAMPAI_TEST_SUITE:-bookworm}

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  echo "installing podman, runc, debootstrap..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >&2
fi

# The sandbox refuses podman's default rlimits and crun's hybrid-cgroup setup; the network
# namespace tools are absent: inherit rlimits, use runc + cgroupfs, share the host network.
mkdir -p /etc/containers
if ! grep -qs 'kampai-ci' /etc/containers/containers.conf; then
  cat > /etc/containers/containers.conf <<'CONF'
# kampai-ci: written by .ci/containers.sh
[containers]
default_ulimits = []
netns = "host"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi

if ! podman image exists "$BASE" 2>/dev/null; then
  echo "building $BASE with debootstrap (about 90 s)..." >&2
  ROOTFS=$(mktemp -d /tmp/kampai-rootfs.XXXXXX)
  debootstrap --variant=minbase "$SUITE" "$ROOTFS" >&2
  tar -C "$ROOTFS" -c . | podman import - "$BASE" >&2
  rm -rf "$ROOTFS"
fi

# pip inside the builds must trust the same CA bundle as the host (a TLS-inspecting proxy)
CA=$(python3 -m pip config get global.cert 2>/dev/null || true)
[ -n "$CA" ] && [ -f "$CA" ] || CA=/etc/ssl/certs/ca-certificates.crt

echo "export KAMPAI_TEST_ENGINE=podman"
echo "export KAMPAI_TEST_BASE_IMAGE=$BASE"
echo "export KAMPAI_TEST_CA_BUNDLE=$CA"
