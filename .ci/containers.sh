#!/usr/bin/env bash
# A container engine and a base image for the image tests (tests/test_container.py).
#
#   eval "$(.ci/containers.sh)"   # installs podman if needed, builds the base, exports KAMPAI_TEST_*
#
# Machines like CI's have a docker client but no daemon and no reachable image registry:
# podman (rootful, runc, cgroupfs) builds and runs images without a daemon, and the base
# image (Debian's minbase + python3, slimmed) is made from Debian's own packages with
# debootstrap (what `--base-image` is for:
# an air-gapped user passes their registry's image the same way).  Safe to run again:
# an existing base image is reused.  Everything it prints on stdout is an `export` line.
set -euo pipefail
BASE=${KAMPAI_TEST_BASE_IMAGE:-localhost/kampai-test/python:3.11-slim-bookworm}
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

# The base: Debian's minbase plus Python and nothing else (what python:3.11-slim is elsewhere),
# with the downloaded .debs, apt lists, docs, man pages and locales removed, and dpkg told to
# skip them in later installs (the same excludes as Debian's slim images).
if ! podman image exists "$BASE" 2>/dev/null; then
  echo "building $BASE with debootstrap (about 90 s)..." >&2
  ROOTFS=$(mktemp -d /tmp/kampai-rootfs.XXXXXX)
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$SUITE" "$ROOTFS" >&2
  mkdir -p "$ROOTFS/etc/dpkg/dpkg.cfg.d" "$ROOTFS/etc/apt/apt.conf.d"
  cat > "$ROOTFS/etc/dpkg/dpkg.cfg.d/kampai-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
DPKG
  echo 'APT::Install-Recommends "false"; APT::Install-Suggests "false";' > "$ROOTFS/etc/apt/apt.conf.d/kampai-slim"
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/lib/apt/lists/* \
         "$ROOTFS"/var/log/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/* \
         "$ROOTFS"/usr/share/lintian "$ROOTFS"/tmp/*
  find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  tar -C "$ROOTFS" -c . | podman import --change 'CMD ["python3"]' - "$BASE" >&2
  rm -rf "$ROOTFS"
fi

# pip inside the builds must trust the same CA bundle as the host (a TLS-inspecting proxy)
CA=$(python3 -m pip config get global.cert 2>/dev/null || true)
[ -n "$CA" ] && [ -f "$CA" ] || CA=/etc/ssl/certs/ca-certificates.crt

echo "export KAMPAI_TEST_ENGINE=podman"
echo "export KAMPAI_TEST_BASE_IMAGE=$BASE"
echo "export KAMPAI_TEST_CA_BUNDLE=$CA"
