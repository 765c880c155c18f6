# syntax=docker/dockerfile:1

# Build: the same locked release build CI runs.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# The simulator's crate: `pixgate sandbox` runs it (deploy/compose.yaml's default upstream).
COPY sandbox ./sandbox
# The manifest names the benchmarks, so cargo wants their sources even for the binary.
COPY benches ./benches
# The browser pages and their scripts are embedded in the binary.
COPY assets ./assets
COPY examples/demo ./examples/demo
RUN cargo build --release --locked

# Run: a slim image, a non-root user, listening on every interface.
FROM debian:bookworm-slim
# Unpinned on purpose: bookworm's security updates replace these versions, and a pin would break the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home pixgate
COPY --from=build /src/target/release/pixgate /usr/local/bin/pixgate
USER 10001
ENV PIXGATE_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/pixgate"]
CMD ["serve"]
