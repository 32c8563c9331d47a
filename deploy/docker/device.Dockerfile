# syntax=docker/dockerfile:1
# A qiloop device: the agent (nucleus) and what the inference component needs (qiloop[edge]:
# onnxruntime, numpy, pillow, paho-mqtt, cryptography), nothing of the cloud side.
#   docker build -f deploy/docker/device.Dockerfile -t qiloop-device .
#   docker run -d --name cam-1 --env-file agent.env -v /etc/qiloop:/etc/qiloop:ro \
#       -v qiloop-cam-1:/var/lib/qiloop qiloop-device
# agent.env is deploy/systemd/agent.env.example filled in; the camera writes into /var/lib/qiloop/camera.
ARG PYTHON=3.12

FROM python:${PYTHON}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/qiloop/venv
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# --no-compile: 174 MB instead of 208 (no bytecode for modules the device never imports); Python compiles what
# it imports at each start instead, about 0.3 s (benchmarks/bench_edge_footprint.py).
RUN /opt/qiloop/venv/bin/pip install --no-compile ".[edge]"

FROM python:${PYTHON}-slim
RUN groupadd --system qiloop \
    && useradd --system --gid qiloop --home-dir /var/lib/qiloop --create-home qiloop
COPY --from=build /opt/qiloop/venv /opt/qiloop/venv
ENV PATH=/opt/qiloop/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    QILOOP_AGENT_ARGS=""
USER qiloop
WORKDIR /var/lib/qiloop
VOLUME ["/var/lib/qiloop"]
# The same command as deploy/systemd/qiloop-agent.service; SIGTERM stops the agent and its components.
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "exec qiloop agent run --home /var/lib/qiloop --device-id \"$QILOOP_DEVICE_ID\" --broker \"$QILOOP_BROKER_URL\" --controller \"$QILOOP_CONTROLLER_URL\" --trust-key /etc/qiloop/deploy-signing.pub $QILOOP_AGENT_ARGS"]
