#!/usr/bin/env bash
# Installs etcd and builds kube-apiserver + kube-controller-manager 1.20.2 from Debian's source
# package (see ../shared/design/TEST-HARNESS.md). Idempotent: the binaries are cached and reused.
# Prints the cache directory holding the binaries on its last line.
set -euo pipefail

K8S_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
CACHE="${EKS_DRAINER_CACHE:-$HOME/.cache/eks-node-drainer}"
BIN="$CACHE/k8s-1.20.2/bin"
log() { echo "[setup-cluster] $*" >&2; }

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
