# syntax=docker/dockerfile:1
# huber-keypoints. CPU image (default):
#   docker build -t huber-keypoints:cpu .
# CUDA 12 image (onnxruntime-node's CUDA provider, on a CUDA + cuDNN runtime base):
#   docker build -t huber-keypoints:cuda12 --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12 \
#     --build-arg RUNTIME_BASE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 .
# The install steps are exactly .ci/run's: npm ci, then npm run build.

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_BASE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
# skip: the CPU build bundled in the npm package; cuda12: onnxruntime-node's install script adds the CUDA provider.
# package.json's allowScripts keeps npm from running that script (it downloads CUDA libraries), so the
# CUDA build runs it explicitly.
ARG ONNXRUNTIME_NODE_INSTALL=skip
ENV ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL}
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
RUN if [ "$ONNXRUNTIME_NODE_INSTALL" != "skip" ]; then node node_modules/onnxruntime-node/script/install.js; fi
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
# Model variants made at build time (docs/variants.md), as model:precision pairs separated by spaces:
#   docker build --build-arg MODEL_VARIANTS="resnet101-huber-wflw:int8" -t huber-keypoints:int8 .
# The parent's weights are generated first, the variant is made by ONNX Runtime's quantizer in the
# tool's own Python environment (build stage only) and refused past VARIANT_MAX_POSITION_PX.
ARG MODEL_VARIANTS=""
ARG VARIANT_MAX_POSITION_PX=0.5
RUN if [ -n "$MODEL_VARIANTS" ]; then \
      apt-get update && apt-get install -y --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/* && \
      node dist/scripts/ensure-default-model.js && \
      for spec in $MODEL_VARIANTS; do \
        node dist/tools/variants/cli.js --model "${spec%%:*}" --precision "${spec##*:}" \
          --max-position-px "$VARIANT_MAX_POSITION_PX" --models-dir models || exit 1; \
      done; \
    fi

FROM ${RUNTIME_BASE} AS runtime
# The node binary travels with the app, so a CUDA base without Node runs it too.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    MODEL_REPOSITORY=/app/models \
    ENSURE_DEFAULT_MODEL=true
COPY --from=build --chown=1000:1000 /app/package.json ./
COPY --from=build --chown=1000:1000 /app/node_modules ./node_modules
COPY --from=build --chown=1000:1000 /app/dist ./dist
# Manifests only, unless MODEL_VARIANTS made weights above: the default model's weights are otherwise
# generated into this (writable) folder at first start.
COPY --from=build --chown=1000:1000 /app/models ./models
# The page at / (public/) and its example image.
COPY --from=build --chown=1000:1000 /app/public ./public
COPY --from=build --chown=1000:1000 /app/examples ./examples
USER 1000:1000
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--initial-old-space-size=128", "dist/src/server.js"]
