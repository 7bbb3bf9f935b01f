# syntax=docker/dockerfile:1
# flaky-detector for RunPod serverless: the release binary on a slim Debian runtime with the
# toolchains the supported test frameworks need (Python 3 + pytest, Node 20, Go), as a
# non-root user, started by run.sh.
#
#   docker build -t flaky-detector .                           # Python, Node, Go
#   docker build -t flaky-detector:rust --target runtime-rust . # plus Rust, cargo-nextest
#   scripts/smoke-image.sh flaky-detector                       # check it before pushing

ARG RUST_VERSION=1.95
ARG GO_VERSION=1.25
ARG NODE_VERSION=20

# ---- build: the release binary (git2's libgit2 and OpenSSL are vendored and static) ----
FROM rust:${RUST_VERSION}-slim-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make perl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin flaky-detector \
    && install -m 0755 target/release/flaky-detector /usr/local/bin/flaky-detector

# ---- toolchains copied from their official images, pinned by the ARGs above ----
FROM node:${NODE_VERSION}-bookworm-slim AS node
FROM golang:${GO_VERSION}-bookworm AS go

# ---- runtime: git, Python 3 (venv, pip, pytest), Node 20, Go ----
FROM debian:bookworm-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates git \
        python3 python3-venv python3-pip python3-pytest \
    && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
COPY --from=go /usr/local/go /usr/local/go
# GOTOOLCHAIN=local: a worker never downloads the toolchain a go.mod asks for.
ENV PATH=/usr/local/go/bin:$PATH \
    GOTOOLCHAIN=local \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NPM_CONFIG_UPDATE_NOTIFIER=false
COPY --from=build /usr/local/bin/flaky-detector /usr/local/bin/flaky-detector
WORKDIR /app
COPY run.sh /app/run.sh
# The bundled examples are what scripts/smoke-image.sh runs inside the image.
COPY examples /app/examples
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin flaky
USER 10001:10001
ENTRYPOINT ["/app/run.sh"]

# ---- optional: the runtime plus Rust (cargo test) and cargo-nextest ----
FROM build AS nextest
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo install cargo-nextest --locked --root /opt/nextest

FROM runtime AS runtime-rust
USER 0:0
COPY --from=build /usr/local/cargo /usr/local/cargo
COPY --from=build /usr/local/rustup /usr/local/rustup
COPY --from=nextest /opt/nextest/bin/cargo-nextest /usr/local/cargo/bin/cargo-nextest
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
# The toolchain stays root-owned and read-only; Cargo's own downloads go to the user's home.
ENV CARGO_HOME=/home/flaky/.cargo \
    RUSTUP_HOME=/usr/local/rustup \
    PATH=/usr/local/cargo/bin:$PATH
USER 10001:10001

# ---- default target: the runtime above ----
FROM runtime
