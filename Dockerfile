# mediawatch: one image for the three services (ingest, detect, notify).
#
#   docker build -t mediawatch .
#   docker run --rm mediawatch check --config /etc/mediawatch/mediawatch.yaml
#
# The service to run is the first argument (see docker-compose.yml and k8s/).

# --- build stage: install the project and its dependencies into a venv -------
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY . .
RUN pip install --no-cache-dir .

# --- runtime stage ------------------------------------------------------------
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# A fixed, numeric UID/GID (10001): k8s runAsNonRoot can only check a numeric USER,
# and volumes (compose) and PVCs (k8s fsGroup) are owned by it.
RUN groupadd --system --gid 10001 mediawatch \
    && useradd --system --uid 10001 --gid mediawatch --home-dir /app \
       --no-create-home --shell /usr/sbin/nologin mediawatch \
    && mkdir -p /app/watchlists /etc/mediawatch /var/lib/mediawatch \
    && chown mediawatch:mediawatch /var/lib/mediawatch
# /var/lib/mediawatch holds the SQLite state of ingest and notify (storage.path):
# mount a volume there (docker-compose.yml and k8s/ do); a new named volume
# inherits this ownership.

COPY --from=build /opt/venv /opt/venv
# The shipped watchlists; the default configs point at /app/watchlists/*.yaml.
COPY watchlists/ /app/watchlists/

WORKDIR /app
USER 10001:10001

# Prometheus /metrics, /healthz and /livez (metrics.port in the config).
EXPOSE 9108
ENTRYPOINT ["mediawatch"]
CMD ["--help"]
