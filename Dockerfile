# One image for every singlepot service, the migrations Job and the command line.
# Build and push (the tag the manifests in deploy/k8s use):
#   docker build -t ghcr.io/singlepot/singlepot:0.1.0 . && docker push ghcr.io/singlepot/singlepot:0.1.0
# Run one service: docker run ... ghcr.io/singlepot/singlepot:0.1.0 serve ledger
# In a cluster DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS point at CloudNativePG and Strimzi; the
# embedded PostgreSQL and the bundled broker are for local use only and are never started here.

# GOV.UK Frontend's compiled assets for the web pages and Swagger UI's for /docs, from the npm
# registry at the pinned versions.
FROM node:20-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
COPY singlepot ./singlepot
RUN python -m venv /opt/singlepot && /opt/singlepot/bin/pip install .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="singlepot" \
      org.opencontainers.image.description="singlepot services (ledger, allocations, outcomes, gateway) and CLI" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.ref.name="ghcr.io/singlepot/singlepot" \
      org.opencontainers.image.version="0.1.0"
# A fixed numeric uid/gid, so Kubernetes can check runAsNonRoot; the manifests use the same ids.
RUN groupadd --system --gid 10001 singlepot \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin singlepot
COPY --from=build /opt/singlepot /opt/singlepot
COPY --from=assets /src/node_modules/govuk-frontend/dist/govuk /opt/singlepot/share/govuk-frontend
COPY --from=assets /src/node_modules/swagger-ui-dist /opt/singlepot/share/swagger-ui
# The root filesystem is read-only in the cluster: no bytecode files, local data under /tmp.
ENV PATH="/opt/singlepot/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SINGLEPOT_GATEWAY_HOST=0.0.0.0 \
    SINGLEPOT_WEB_ASSETS_DIR=/opt/singlepot/share/govuk-frontend \
    SINGLEPOT_WEB_SWAGGER_UI_DIR=/opt/singlepot/share/swagger-ui \
    SINGLEPOT_DATA_DIR=/tmp/singlepot
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000 8001 8002 8003
ENTRYPOINT ["singlepot"]
CMD ["--help"]
