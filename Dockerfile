# syntax=docker/dockerfile:1
# One image recipe for the five services: docker build --build-arg SERVICE=nomination -t payung/nomination .
# (SERVICE: nomination | verification | enrolment | notification | reporting). Build from the repository root.
# Stage 1 installs requirements.lock (every package, transitive ones included, with its hashes: pip --require-hashes)
# into a virtualenv; it does not depend on SERVICE, so the five builds share it. Stage 2 copies that venv and the
# code of shared/ and of one service into a slim image that runs as an unprivileged user (uid 10001, what
# deploy/k8s's securityContext expects) and has no build tools. No secret here: they come from the environment.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-compile --require-hashes --only-binary :all: -r /tmp/requirements.lock

# Every service's topology declaration (services/<name>/topology.py: what it consumes and produces, importing only
# shared.contracts): shared/topology.py reads all five, e.g. to know which service signs which topic. Only those
# files, with their package's __init__.py, enter the image beside the one service's own code.
FROM ${PYTHON_IMAGE} AS declarations
WORKDIR /src/services
COPY services ./
RUN for f in */topology.py; do \
      d="/out/services/${f%/topology.py}"; mkdir -p "$d" && cp "${f%topology.py}__init__.py" "$f" "$d/"; \
    done

FROM ${PYTHON_IMAGE}
ARG SERVICE
# The HTTP port of each service (its settings' default), kept where the healthcheck reads it.
RUN case "$SERVICE" in \
      nomination) port=8001 ;; verification) port=8002 ;; enrolment) port=8003 ;; \
      notification) port=8004 ;; reporting) port=8005 ;; \
      *) echo "build with --build-arg SERVICE=nomination|verification|enrolment|notification|reporting" >&2; exit 1 ;; \
    esac \
 && echo "$port" > /etc/payung-http-port \
 && groupadd --gid 10001 payung \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin payung \
 && install -d -o 10001 -g 10001 /var/lib/payung
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY shared ./shared
COPY services/__init__.py ./services/__init__.py
COPY --from=declarations /out/services ./services
COPY services/${SERVICE} ./services/${SERVICE}
# No .pyc writes: the root filesystem is read-only in Kubernetes and compose. The local (demo) message channel, when
# chosen, writes to /var/lib/payung (a volume), never to the working directory.
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PAYUNG_SERVICE=${SERVICE} PAYUNG_HTTP_HOST=0.0.0.0 PAYUNG_LOCAL_OUTBOX_FILE=/var/lib/payung/messages.jsonl
USER 10001:10001
# The port is 8001..8005 by service (/etc/payung-http-port; PAYUNG_HTTP_PORT overrides it).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; p = os.environ.get('PAYUNG_HTTP_PORT') or open('/etc/payung-http-port').read().strip(); urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % p, timeout=2)"]
# "migrate" runs as its own one-shot container (compose) or Job (Kubernetes) before the service starts.
ENTRYPOINT ["/bin/sh", "-c", "exec python -m \"services.$PAYUNG_SERVICE\" \"$@\"", "payung"]
CMD ["serve"]
