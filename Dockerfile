# The operator runs its TypeScript sources directly on Node 24 (type stripping),
# so the image needs no build step, only production dependencies.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
COPY operator/ operator/
COPY crds/ crds/
USER 65532:65532
ENTRYPOINT ["node", "operator/main.ts"]
