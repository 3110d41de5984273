# syntax=docker/dockerfile:1
# The `streamrec` command (generate, produce, model promote|list, checkpoint ...), for jobs such as
# the compose generator. Build from the repository root:
#   docker build -f ops/cli.Dockerfile -t streamrec-cli .
#   docker run --rm streamrec-cli --help
# Heavier than the worker image: the CLI also carries the local dev servers (embedded Garnet).

ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
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
    && dotnet publish src/StreamRec.Cli/StreamRec.Cli.csproj -c Release -r "$rid" --self-contained false -o /app \
    && rm -rf /app/librdkafka /app/alpine-librdkafka.so

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
# Same reason as the worker image: the default librdkafka.so needs libsasl2.so.3.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsasl2-2 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
# `streamrec` on PATH (the published apphost), so shell commands in compose can chain it.
ENV PATH="/app:${PATH}" \
    DOTNET_NOLOGO=1
USER $APP_UID
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/streamrec"]
CMD ["--help"]
