# syntax=docker/dockerfile:1
#
# kvedge container image.
#
# Debian bookworm (glibc), not Alpine (musl): the native modules kvedge loads ship prebuilt
# linux-x64 binaries linked against glibc — zeromq, tokenizers, @node-rs/xxhash and uWebSockets.js
# (@trufflesuite/uws-js-unofficial, which has no musl build at all) — and the slim image has no
# compiler to build them from source. Node must stay on 20: the uWebSockets.js binaries exist only
# for Node ABIs 93/108/115 (Node 16/18/20).
#
#   docker build -t kvedge:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9090:9090 kvedge:0.1.0 serve --endpoints 10.0.0.5:8000

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile TypeScript to dist/ -------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies and the compiled output only ----------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist

# The image's `node` user (uid 1000); files stay root-owned, so the process cannot modify them.
USER node

# 8080: OpenAI-compatible API; 9090: admin (/metrics).
EXPOSE 8080 9090

# No curl in the slim image: Node's own fetch does the check.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["node", "dist/src/cli/kvedge.js"]
CMD ["serve"]
