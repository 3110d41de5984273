# syntax=docker/dockerfile:1
# StreamRec reader: serves top-k recommendations over HTTP from the latest checkpoint in Redis.
# Build from the repository root:
#   docker build -f ops/reader.Dockerfile -t streamrec-reader .
# Configured only through environment variables (STREAMREC_Model, STREAMREC_RedisEndpoint,
# STREAMREC_RedisPassword, STREAMREC_HttpPort; see docs/operations.md).

ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG TARGETARCH
WORKDIR /source
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY protos/ protos/
COPY src/ src/
RUN --mount=type=cache,id=streamrec-nuget,target=/root/.nuget/packages \
    case "${TARGETARCH:-amd64}" in \
      amd64) rid=linux-x64 ;; \
      arm64) rid=linux-arm64 ;; \
      *) echo "unsupported TARGETARCH '${TARGETARCH}'" >&2; exit 1 ;; \
    esac \
    && dotnet publish src/StreamRec.Reader/StreamRec.Reader.csproj -c Release -r "$rid" --self-contained false -o /app

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
# The reader talks to Redis only: no Kafka client, so no native librdkafka and no libsasl2.
# The approximate index's native library (USearch, linux-x64 only) links OpenMP's runtime; without it
# the reader logs that approximate search is unavailable and ranks exactly.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
COPY --chmod=0755 ops/http-check.sh /usr/local/bin/http-check
WORKDIR /app
COPY --from=build /app ./
# The reader binds its own port from STREAMREC_HttpPort (default 8080).
ENV ASPNETCORE_HTTP_PORTS= \
    DOTNET_NOLOGO=1
EXPOSE 8080
USER $APP_UID
# /healthz: the process serves HTTP. /readyz answers 503 until a checkpoint is loaded; load
# balancers and Kubernetes readiness use that one.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["http-check", "/healthz", "8080"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "StreamRec.Reader.dll"]
