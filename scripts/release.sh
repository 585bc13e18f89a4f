#!/usr/bin/env bash
# Builds the binaries a volunteer downloads: static (CGO off), stripped,
# with the version stamped in, for every platform below, into dist/ with
# SHA256SUMS; then smoke-tests each one this machine can run
# (`mutual --version`: natively, or under qemu-user for the ARM builds).
#
#   scripts/release.sh             version from `git describe` (a tag, or the commit)
#   scripts/release.sh v0.3.0      that version
#   TARGETS="linux/amd64 linux/arm/7" scripts/release.sh   only those
#   JOBS=1 scripts/release.sh      one build at a time (default: 2)
#
# A binary that cannot run here (macOS, Windows; ARM without qemu-user)
# is skipped with a message, never reported as passing. Any build or
# smoke-test failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
# GOOS/GOARCH[/GOARM]: Linux on PCs, 64-bit and 32-bit Raspberry Pi OS
# (armv7: a Pi 2 or later), macOS on Intel and Apple silicon, Windows.
targets=(${TARGETS:-linux/amd64 linux/arm64 linux/arm/7 darwin/amd64 darwin/arm64 windows/amd64})
jobs=${JOBS:-2}
out=dist

# name GOOS GOARCH GOARM: the file name a volunteer downloads.
name() {
	local n="mutual-$1-$2"
	[ -n "$3" ] && n="mutual-$1-armv$3"
	[ "$1" = windows ] && n="$n.exe"
	echo "$n"
}

build() {
	local goos goarch goarm
	IFS=/ read -r goos goarch goarm <<<"$1"
	local bin
	bin=$(name "$goos" "$goarch" "$goarm")
	# -trimpath: no build machine paths in the binary; -s -w: no symbol
	# table or DWARF (a third smaller; panics still print stack traces).
	if ! CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch GOARM=$goarm \
		go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$out/$bin" ./cmd/mutual 2>"$out/.$bin.log"; then
		echo "build $1: FAILED" >&2
		cat "$out/.$bin.log" >&2
		touch "$out/.failed"
		return 1
	fi
	rm -f "$out/.$bin.log"
	echo "built $out/$bin ($(($(stat -c %s "$out/$bin") / 1024 / 1024)) MB)"
}

# smoke GOOS GOARCH GOARM: runs `mutual --version` where this machine can.
smoke() {
	local goos=$1 goarch=$2 goarm=$3 bin runner=()
	bin=$out/$(name "$goos" "$goarch" "$goarm")
	local here
	here="$(go env GOHOSTOS)/$(go env GOHOSTARCH)"
	if [ "$goos/$goarch" = "$here" ]; then
		runner=()
	elif [ "$goos" = linux ] && [ "$goarch" = arm64 ] && command -v qemu-aarch64 >/dev/null; then
		runner=(qemu-aarch64)
	elif [ "$goos" = linux ] && [ "$goarch" = arm ] && command -v qemu-arm >/dev/null; then
		runner=(qemu-arm)
	else
		local why="no way to run $goos/$goarch on $here"
		[ "$goos" = linux ] && why="$why without qemu-user (apt-get install qemu-user)"
		echo "smoke $bin: SKIPPED ($why)"
		return 0
	fi
	local got rc=0
	got=$("${runner[@]}" "$bin" --version 2>&1) || rc=$?
	case "$rc:$got" in
	0:*"$version"*) echo "smoke $bin: ok${runner[*]:+ (under ${runner[*]})}: $got" ;;
	*)
		echo "smoke $bin: FAILED: \`mutual --version\` exited $rc and printed \"$got\", not the version $version" >&2
		return 1
		;;
	esac
}

rm -rf "$out"
mkdir -p "$out"
start=$SECONDS

# The builds share the build cache; two at a time keep both cores busy
# (each link is mostly one core) without thrashing memory.
for t in "${targets[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
	build "$t" &
done
wait
[ ! -e "$out/.failed" ] || {
	echo "release: a build failed" >&2
	exit 1
}
echo "built ${#targets[@]} binaries of $version in $((SECONDS - start)) s"

(cd "$out" && sha256sum -- mutual-* >SHA256SUMS)
echo "wrote $out/SHA256SUMS"

failed=0
for t in "${targets[@]}"; do
	IFS=/ read -r goos goarch goarm <<<"$t"
	smoke "$goos" "$goarch" "$goarm" || failed=1
done
[ "$failed" = 0 ] || {
	echo "release: a smoke test failed" >&2
	exit 1
}
