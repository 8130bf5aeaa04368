# syntax=docker/dockerfile:1
#
# The `brain` image: every Industry Brain service in one binary, on a small Debian runtime,
# as a non-root user, ready for a read-only root filesystem.
#
#   docker build -t industry-brain/brain:0.1.0 .
#   docker run --rm -p 8080:8080 -p 50051:50051 industry-brain/brain:0.1.0
#
# The build stage runs the very command CI runs outside Docker (`infra/test.sh`:
# `cargo build --workspace --bins`), with the lock file enforced and the release profile:
#
#   cargo build --locked --profile release --workspace --bins
#
# With CARGO_PROFILE=dev it is exactly what infra/test.sh builds before the tests run;
# tests/tests/deploy.rs checks that the RUN step still says so, that Cargo.lock satisfies
# --locked, and lints this file with hadolint. The other workspace binary (brain-load) is
# built too and left behind: building exactly what CI built is worth the extra minute. Nothing beyond the Rust toolchain is needed: protoc is vendored
# and librdkafka is compiled from its vendored sources.
#
# Without Docker, the same image content is: the binary from that command, copied to
# /usr/local/bin/brain, plus the default config written in the runtime stage.

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
ARG CARGO_PROFILE=release
# rust-toolchain.toml also lists clippy and rustfmt, which a release build does not need:
# pin the toolchain so rustup does not download components inside the build.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION} \
    CARGO_TARGET_DIR=/build/target \
    CARGO_TERM_COLOR=never
WORKDIR /src
COPY . .
# Caches keep the registry and incremental artefacts between builds; the binary is copied out
# of the cached target directory because cache mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --locked --profile "${CARGO_PROFILE}" --workspace --bins \
    && install -D -m 0755 "/build/target/$( [ "${CARGO_PROFILE}" = dev ] && echo debug || echo "${CARGO_PROFILE}" )/brain" /out/brain

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: HTTPS pulls of data feeds; curl: the HEALTHCHECK below (Kubernetes uses
# the chart's probes instead); OpenSSL for Kafka TLS is built into the binary (ssl-vendored).
# Debian's security updates are taken at build time, so the
# packages are not pinned to versions that the archive would soon drop.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 brain \
    && useradd --system --uid 10001 --gid brain --home-dir /var/lib/brain --no-create-home --shell /usr/sbin/nologin brain \
    && install -d -o brain -g brain -m 0750 /var/lib/brain \
    && install -d -m 0755 /etc/brain
# The default configuration: listen on all interfaces, keep embedded data in /var/lib/brain,
# log JSON. The Helm chart mounts its own file over it; BRAIN_<SECTION>__<KEY> variables
# override either.
RUN printf '%s\n' \
    'common:' \
    '  http_addr: 0.0.0.0:8080' \
    '  grpc_addr: 0.0.0.0:50051' \
    '  data_dir: /var/lib/brain' \
    '  log_format: json' \
    > /etc/brain/brain.yaml
COPY --from=build /out/brain /usr/local/bin/brain

ENV BRAIN_CONFIG=/etc/brain/brain.yaml
# Numeric, so Kubernetes can verify runAsNonRoot.
USER 10001:10001
WORKDIR /var/lib/brain
# Embedded backends keep their files here; mount a volume to keep them.
VOLUME ["/var/lib/brain"]
EXPOSE 8080 50051
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/readyz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/brain"]
CMD ["serve", "--target=all"]
