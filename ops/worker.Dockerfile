# syntax=docker/dockerfile:1
# StreamRec worker: consumes the clickstream, learns, publishes checkpoints to Redis.
# Build from the repository root:
#   docker build -f ops/worker.Dockerfile -t streamrec-worker .
# Configured only through environment variables (STREAMREC_Kafka__BootstrapServers, STREAMREC_Topics__0,
# STREAMREC_Model, STREAMREC_RedisEndpoint, ...; see docs/operations.md).

ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
# Set by BuildKit from --platform; picks the runtime identifier so only that platform's native
# librdkafka is published (the NuGet package carries every platform's, about 146 MB).
ARG TARGETARCH
WORKDIR /source
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY protos/ protos/
COPY src/ src/
# After publishing, drop what the glibc runtime image never loads: librdkafka.redist copies its
# Windows DLLs into /app/librdkafka (19 MB) and ships a musl build (alpine-librdkafka.so).
RUN --mount=type=cache,id=streamrec-nuget,target=/root/.nuget/packages \
    case "${TARGETARCH:-amd64}" in \
      amd64) rid=linux-x64 ;; \
      arm64) rid=linux-arm64 ;; \
      *) echo "unsupported TARGETARCH '${TARGETARCH}'" >&2; exit 1 ;; \
    esac \
    && dotnet publish src/StreamRec.Worker/StreamRec.Worker.csproj -c Release -r "$rid" --self-contained false -o /app \
    && rm -rf /app/librdkafka /app/alpine-librdkafka.so

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
# librdkafka.so from the librdkafka.redist package links libsasl2.so.3, which the aspnet image
# (Ubuntu 24.04) does not have. Without it Confluent.Kafka falls back to centos8-librdkafka.so on
# x64 (no GSSAPI) and fails to load at all on arm64 (no fallback there). One small package makes
# the default library load on both.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsasl2-2 \
    && rm -rf /var/lib/apt/lists/*
COPY --chmod=0755 ops/http-check.sh /usr/local/bin/http-check
WORKDIR /app
COPY --from=build /app ./
# The worker binds its own port from STREAMREC_HttpPort (default 8081); clearing the image's
# ASPNETCORE_HTTP_PORTS=8080 avoids Kestrel's "overriding HTTP_PORTS" warning at start.
ENV ASPNETCORE_HTTP_PORTS= \
    DOTNET_NOLOGO=1
EXPOSE 8081
# The images' non-root user (uid 1654); nothing is written outside /tmp.
USER $APP_UID
# /healthz: the process serves HTTP. Readiness (/readyz: shards restored) is for orchestrators
# that route or gate on it, not a reason to restart the container.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["http-check", "/healthz", "8081"]
# SIGTERM starts the graceful stop: final deltas, offset commit, consumer close, bounded by
# STREAMREC_ShutdownTimeout (default 25 s) plus 5 s for the host. Give the container longer than that
# (docker stop -t 40, compose stop_grace_period: 40s, Kubernetes terminationGracePeriodSeconds: 45).
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "StreamRec.Worker.dll"]
