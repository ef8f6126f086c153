#!/usr/bin/env bash
# Prepares the local control plane's binaries for one Kubernetes version (see
# ../shared/design/TEST-HARNESS.md). Idempotent: the binaries are cached and reused.
#   setup-cluster.sh [1.20|1.32]     (default: $EKS_DRAINER_K8S, else 1.20)
#   1.20: installs etcd and builds kube-apiserver + kube-controller-manager 1.20.2 from Debian's source package.
#   1.32: installs etcd and unpacks the provided v1.32 pair from ../shared/k8s-v1.32 (or
#         $EKS_DRAINER_K8S_132_DIR), checking SHA256SUMS; exits 3 when that folder is missing.
# Prints the cache directory holding the binaries on its last line.
set -euo pipefail

K8S="${1:-${EKS_DRAINER_K8S:-1.20}}"
K8S_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
CACHE="${EKS_DRAINER_CACHE:-$HOME/.cache/eks-node-drainer}"
BIN="$CACHE/k8s-1.20.2/bin"
log() { echo "[setup-cluster] $*" >&2; }

# The v1.32 pair cannot be built from what these machines reach: it is unpacked from the shared folder.
setup_132() {
  local src bin tmp
  src="${EKS_DRAINER_K8S_132_DIR:-$(cd "$(dirname "$0")/.." && pwd)/../shared/k8s-v1.32}"
  bin="$CACHE/k8s-1.32/bin"
  for f in SHA256SUMS kube-apiserver.xz kube-controller-manager.xz; do
    if [ ! -f "$src/$f" ]; then
      log "v1.32 binaries not found at $src (no $f; set EKS_DRAINER_K8S_132_DIR)"
      exit 3
    fi
  done
  local need=()
  command -v etcd >/dev/null || need+=(etcd-server)
  command -v openssl >/dev/null || need+=(openssl)
  command -v xz >/dev/null || need+=(xz-utils)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  # cached and unpacked from these very checksums: nothing to do
  if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ] && cmp -s "$src/SHA256SUMS" "$bin/SHA256SUMS"; then
    log "cached binaries in $bin"
    echo "$bin"
    exit 0
  fi
  log "unpacking kube-apiserver and kube-controller-manager v1.32 from $src"
  mkdir -p "$CACHE"
  tmp="$(mktemp -d "$CACHE/k8s-1.32.unpack.XXXXXX")"
  cp "$src/SHA256SUMS" "$tmp/"
  xz -dc "$src/kube-apiserver.xz" >"$tmp/kube-apiserver"
  xz -dc "$src/kube-controller-manager.xz" >"$tmp/kube-controller-manager"
  if ! (cd "$tmp" && sha256sum --quiet -c SHA256SUMS >&2); then
    rm -rf "$tmp"
    log "checksum mismatch: the files in $src do not match its SHA256SUMS; nothing was cached"
    exit 1
  fi
  chmod 755 "$tmp" "$tmp/kube-apiserver" "$tmp/kube-controller-manager"
  # replace the whole folder at once, so a half-unpacked cache is never used
  rm -rf "$bin"
  mkdir -p "$(dirname "$bin")"
  mv "$tmp" "$bin"
  log "unpacked and verified into $bin ($("$bin/kube-apiserver" --version))"
  echo "$bin"
  exit 0
}

case "$K8S" in
  1.20 | 1.20.2) ;;
  1.32) setup_132 ;;
  *)
    log "unknown Kubernetes version '$K8S' (1.20 or 1.32)"
    exit 2
    ;;
esac

need_pkgs=()
command -v etcd >/dev/null || need_pkgs+=(etcd-server)
command -v openssl >/dev/null || need_pkgs+=(openssl)
if [ ! -x "$BIN/kube-apiserver" ] || [ ! -x "$BIN/kube-controller-manager" ]; then
  command -v go >/dev/null || need_pkgs+=(golang-go)
  [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || need_pkgs+=(golang-github-modern-go-reflect2-dev)
  command -v dpkg-source >/dev/null || need_pkgs+=(dpkg-dev)
  command -v rsync >/dev/null || need_pkgs+=(rsync)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ]; then
  log "cached binaries in $BIN"
  echo "$BIN"
  exit 0
fi

work="$CACHE/build"
rm -rf "$work"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" \
  >"$work/apt/sources.list"
apt_opts=(-o APT::Sandbox::User=root -o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache")
log "fetching kubernetes $K8S_VERSION source"
apt-get "${apt_opts[@]}" update -qq
(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only "kubernetes=$K8S_VERSION" >/dev/null)
(cd "$work/src" && dpkg-source --no-check -x ./*.dsc tree >/dev/null)
tree="$work/src/tree"

log "replacing vendored reflect2 with 1.0.2 (Go 1.19 segfaults with 1.0.1)"
r2="$tree/vendor/github.com/modern-go/reflect2"
find "$r2" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) -delete
find /usr/share/gocode/src/github.com/modern-go/reflect2 -maxdepth 1 -type f \
  \( -name '*.go' -o -name '*.s' \) ! -name '*_test.go' -exec cp {} "$r2/" \;

log "building kube-apiserver and kube-controller-manager (about 5 minutes cold)"
gopath="$work/gopath"
mkdir -p "$gopath/src/k8s.io"
ln -sfn "$tree" "$gopath/src/k8s.io/kubernetes"
(cd "$gopath/src/k8s.io/kubernetes" &&
  GOPATH="$gopath" GOFLAGS=-mod=vendor GO111MODULE=off CGO_ENABLED=0 GOCACHE="$work/gocache" \
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >"$work/make.log" 2>&1) || {
  tail -40 "$work/make.log" >&2
  exit 1
}
mkdir -p "$BIN"
out="$tree/_output/local/bin/linux/$(go env GOARCH)"
cp "$out/kube-apiserver" "$out/kube-controller-manager" "$BIN/"
rm -rf "$work"
log "built into $BIN"
echo "$BIN"
