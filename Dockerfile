# The chat service as a container: `docker compose up` (compose.yaml) or
#   docker build -t rag-workbench . && docker run -p 8000:8000 -v rag-data:/data rag-workbench
# Images cannot be built on the machines this project is developed on: the install and run steps
# call deploy/install.sh, which the test suite runs (tests/test_deploy.py) on every `make test`.

# --- the llama.cpp build: slow (minutes), so in a stage of its own that the cache keeps ---
FROM python:3.11-slim AS llama
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir "uv==0.13.9"
COPY pyproject.toml uv.lock /src/
RUN cd /src && uv export --locked --no-dev --no-hashes --no-emit-project --quiet | grep -i '^llama-cpp-python' > /llama.txt \
 && pip wheel --no-deps -r /llama.txt -w /wheels

# --- the workbench: the wheel and the locked dependencies, in /opt/venv ---
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir "uv==0.13.9"
COPY --from=llama /wheels /wheels
COPY . /src
ENV UV_FIND_LINKS=/wheels
RUN /src/deploy/install.sh /opt/venv

# --- the service: no compilers, a non-root user, the index on a volume ---
FROM python:3.11-slim
COPY --from=build /opt/venv /opt/venv
RUN useradd --create-home --uid 10001 twin && mkdir /data && chown twin /data
USER twin
WORKDIR /data
ENV RAG_HOME=/data LITELLM_LOCAL_MODEL_COST_MAP=True PATH=/opt/venv/bin:$PATH
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=3)"
# mount the site at /site (read-only) and ingest it once: docker compose run api workbench ingest /site
CMD ["workbench", "serve", "--host", "0.0.0.0", "--port", "8000"]
