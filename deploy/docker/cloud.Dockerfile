# syntax=docker/dockerfile:1
# The qiloop cloud stack in one image: console, fleet controller, collector, MLflow server, Dagster.
# Each container of deploy/compose/compose.yaml runs one part of it with its own command.
#   docker build -f deploy/docker/cloud.Dockerfile -t qiloop-cloud .
# Training in the Dagster runs needs the train extra (torch, ultralytics: several GB):
#   docker build -f deploy/docker/cloud.Dockerfile --build-arg EXTRAS=label,registry,orchestrate,s3,serve,fleet,train .
ARG PYTHON=3.12

FROM python:${PYTHON}-slim AS build
ARG EXTRAS=label,registry,orchestrate,s3,serve,fleet
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/qiloop/venv
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# boto3: MLflow's server writes artefacts to S3 through it.
RUN /opt/qiloop/venv/bin/pip install ".[${EXTRAS}]" "boto3>=1.34"

FROM python:${PYTHON}-slim
# libgl1 and libglib2.0-0: OpenCV (ultralytics, with the train extra) loads them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system qiloop \
    && useradd --system --gid qiloop --home-dir /var/lib/qiloop --create-home qiloop
COPY --from=build /opt/qiloop/venv /opt/qiloop/venv
ENV PATH=/opt/qiloop/venv/bin:$PATH \
    QILOOP_HOME=/var/lib/qiloop \
    DAGSTER_HOME=/var/lib/qiloop/dagster \
    PYTHONUNBUFFERED=1
USER qiloop
WORKDIR /var/lib/qiloop
VOLUME ["/var/lib/qiloop"]
# 8080 console, 8470 component file server, 5000 MLflow, 3000 Dagster webserver.
EXPOSE 8080 8470 5000 3000
ENTRYPOINT ["qiloop"]
CMD ["fleet", "serve", "--host", "0.0.0.0", "--port", "8470", "--no-collect"]
