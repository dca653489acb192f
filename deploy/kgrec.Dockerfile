# kgrec as an image, for deploy/compose.remote-neo4j.yml (build context: the repository root).
# Only the packages and the project file are copied: a local .venv never enters the image.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core core
COPY loaders loaders
COPY kg kg
COPY gnn gnn
COPY rank rank
COPY explain explain
COPY kgrec kgrec
# torch's CPU wheels: the service and training here run on the CPU
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu . \
    && useradd --create-home kgrec
USER kgrec
WORKDIR /home/kgrec
ENTRYPOINT ["kgrec"]
