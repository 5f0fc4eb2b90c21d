# syntax=docker/dockerfile:1
#
# Truss.Clip container images. One file, two flavors, two targets:
#
#   docker build -t truss-clip:cpu .                                          # CPU, standalone (the default)
#   docker build --build-arg FLAVOR=gpu -t truss-clip:gpu .                   # CUDA 13 + cuDNN 9, standalone
#   docker build --target truss-base -t truss-clip:truss-base-cpu .           # base_image for `truss push`
#   docker build --build-arg FLAVOR=gpu --target truss-base -t truss-clip:truss-base-gpu .
#
# The GPU variant is a build argument rather than a second Dockerfile: both flavors run the very same published
# binary (ONNX Runtime's Linux GPU package falls back to CPU by itself), so only the base image, the CUDA provider
# libraries and one environment variable differ, and a second file would drift.
#
# `standalone` serves on 0.0.0.0:8080 as uid 60000 (`docker run -p 8080:8080 truss-clip:cpu`). `truss-base` is the same
# runtime without the `app` user and without /app: Truss's docker_server build runs `useradd -u 60000 app` itself
# (it fails when that user exists), copies data/ to /app/data and config.yaml to /app/config.yaml, puts nginx on
# :8080 and starts config.yaml's docker_server.start_command (port 8000).
#
# Needs BuildKit (Docker's default builder since 23.0) for the NuGet cache mount.
# scripts/container-smoke.sh reproduces the standalone image without a Docker engine (publish, layout, user, command,
# read-only root) and checks that the lines it relies on are still here.

ARG FLAVOR=cpu

# ---- publish: the self-contained server --------------------------------------------------------------------------
# Self-contained: the runtime stages start from plain Ubuntu and NVIDIA CUDA images, which have no .NET; carrying the
# runtime (about 70 MB) pins it to the version the build tested and keeps Microsoft's images, whose `app` user
# (uid 1654) would break Truss's `useradd ... app`, out of the runtime.
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS publish
ARG FLAVOR
WORKDIR /src
COPY . .
RUN --mount=type=cache,id=truss-clip-nuget,target=/root/.nuget/packages \
    dotnet publish Truss.Clip.csproj -c Release -r linux-x64 --self-contained true -o /opt/truss-clip
# The CPU image drops ONNX Runtime's CUDA and TensorRT providers (285 MB): they are only loaded when CUDA is
# requested, and their CUDA libraries are not in a CPU image anyway (the server then runs on CPU, as it does here).
RUN if [ "$FLAVOR" = cpu ]; then rm /opt/truss-clip/libonnxruntime_providers_cuda.so /opt/truss-clip/libonnxruntime_providers_tensorrt.so; fi

# ---- runtime bases: Debian-like with apt (Truss's build checks /etc/os-release and runs apt and python3) ----------
FROM ubuntu:24.04 AS runtime-cpu

# ONNX Runtime 1.31's CUDA provider needs CUDA 13 (cudart, cublas, cublasLt, curand) and cuDNN 9; the host driver
# must support CUDA 13 (R580 or newer). CLIP_EXECUTION_DEVICE=cuda makes the model use the GPU whatever config.yaml's
# resources say; without a usable GPU it logs one warning and runs on CPU.
FROM nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04 AS runtime-gpu
ENV CLIP_EXECUTION_DEVICE=cuda

# ---- truss-base: the runtime without a user or a model, for config.yaml's base_image ------------------------------
FROM runtime-${FLAVOR} AS truss-base
# libicu74: culture data (.NET is not in invariant mode); libssl3t64 + ca-certificates: https image_url and Hub
# downloads; python3: Truss's docker_server build runs python3 from the base image (3.9 to 3.14; noble has 3.12);
# libturbojpeg (Ubuntu's name for libturbojpeg.so.0; Debian's is libturbojpeg0): JPEG decoding with libjpeg-turbo's
# SIMD kernels, which Skia's bundled build lacks on Linux (about 2x slower; the engine falls back to Skia without it).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libicu74 libssl3t64 libturbojpeg python3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=publish /opt/truss-clip /opt/truss-clip

# ---- standalone: model baked in, non-root, serving on 8080 (the default target) ----------------------------------
FROM truss-base AS standalone
# uid/gid 60000 and home /home/app: Truss's and Baseten's non-root convention. Everything else stays root-owned and
# read-only to the server; it writes only under /tmp and, when config.yaml has a model_cache, /app/model_cache.
RUN groupadd --gid 60000 app \
    && useradd --uid 60000 --gid 60000 --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
    && install -d /app && install -d -o 60000 -g 60000 /app/model_cache
COPY data /app/data
COPY config.yaml /app/config.yaml
WORKDIR /app
USER 60000:60000
ENV HOME=/home/app INFERENCE_SERVER_PORT=8080
EXPOSE 8080
# Readiness, not liveness: healthy means the model is loaded and predictions are served.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["/opt/truss-clip/Truss.Clip", "healthcheck"]
ENTRYPOINT ["/opt/truss-clip/Truss.Clip"]
CMD ["serve", "--config", "/app/config.yaml"]
