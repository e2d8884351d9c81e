# syntax=docker/dockerfile:1

# keyward-server in a small image: built by the release build that CI runs (.ci/run), run as an
# unprivileged user, its SQLite database on a volume. For PostgreSQL, set KEYWARD_DATABASE_URL to
# a postgres:// URL; deploy/ has a compose example with several instances behind a proxy.

FROM rust:1.94-trixie AS builder
WORKDIR /src
COPY . .
# The registry and the target directory are BuildKit caches kept between builds; the binary is
# copied out of them, since a cache mount is not part of the stage.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p keyward-server --bin keyward-server \
    && install -m 0755 target/release/keyward-server /usr/local/bin/keyward-server

FROM debian:trixie-slim
LABEL org.opencontainers.image.title="keyward-server" \
      org.opencontainers.image.description="Issues, verifies and manages API keys" \
      org.opencontainers.image.source="https://github.com/keyward/keyward" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
# curl runs the health check. Unpinned on purpose: a pinned Debian version disappears from the
# archive with its next security update, and the build would fail; the image takes the release's
# current one.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
# A fixed UID and GID, so that a bind-mounted directory can be given to it (chown 10001:10001) and
# an orchestrator can check that it is not root.
RUN groupadd --system --gid 10001 keyward \
    && useradd --system --uid 10001 --gid keyward --no-create-home \
       --home-dir /var/lib/keyward --shell /usr/sbin/nologin keyward \
    && install -d -o keyward -g keyward -m 0700 /var/lib/keyward
COPY --from=builder /usr/local/bin/keyward-server /usr/local/bin/keyward-server

USER 10001:10001
WORKDIR /var/lib/keyward
# The SQLite database (and its WAL), and anything `keyward-server backup --to` writes here.
VOLUME ["/var/lib/keyward"]
ENV KEYWARD_BIND=0.0.0.0:8080 \
    KEYWARD_DATABASE_URL=sqlite:///var/lib/keyward/keyward.db
EXPOSE 8080
# Liveness, not readiness: a database that does not answer makes every instance unready at once,
# and restarting them would not bring it back. Load balancers should poll /health/ready. The port
# is read from KEYWARD_BIND when the check runs.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["sh", "-c", "curl --fail --silent --show-error --max-time 2 --output /dev/null \"http://127.0.0.1:${KEYWARD_BIND##*:}/health/live\" || exit 1"]
# SIGTERM (docker stop) lets requests in flight finish within KEYWARD_SHUTDOWN_TIMEOUT_MS (10 s):
# give the container longer than that to stop (`--stop-timeout`, compose's `stop_grace_period`).
ENTRYPOINT ["/usr/local/bin/keyward-server"]
CMD ["serve"]
