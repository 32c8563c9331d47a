"""Ports: a taken port is refused before anything starts, with the option that moves it."""

from __future__ import annotations

import socket

import pytest

from qiloop.core.errors import ConfigurationError, StoreError
from qiloop.stack.ports import check_free, free_port, is_free


@pytest.fixture
def listening():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_listening_port_is_not_free_and_a_fresh_one_is(listening):
    assert not is_free("127.0.0.1", listening)
    assert is_free("127.0.0.1", free_port())


def test_a_taken_port_is_refused_naming_the_part_and_its_option(listening):
    with pytest.raises(ConfigurationError) as caught:
        check_free("127.0.0.1", {"mlflow": (free_port(), "--mlflow-port"), "labeling": (listening, "--labeling-port")})
    assert f"{listening} (labeling)" in caught.value.message
    assert "--labeling-port" in caught.value.hint
    assert "--mlflow-port" not in caught.value.hint
    assert caught.value.exit_code == 2


def test_two_parts_on_one_port_are_refused():
    port = free_port()
    with pytest.raises(ConfigurationError, match="both given port"):
        check_free("127.0.0.1", {"mlflow": (port, "--mlflow-port"), "labeling": (port, "--labeling-port")})


def test_free_ports_pass():
    check_free("127.0.0.1", {"mlflow": (free_port(), "--mlflow-port")})


def test_a_host_that_is_no_address_of_this_machine_is_a_clear_error():
    with pytest.raises(StoreError, match=r"cannot listen on 192\.0\.2\.1"):
        is_free("192.0.2.1", free_port())
