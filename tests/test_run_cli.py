"""The long-running commands as a person meets them: one clear line when a port is taken."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.broker import free_port
from tests.helpers import write_config
from tests.test_config import run_cli


@contextmanager
def taken(port: int) -> Iterator[None]:
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        yield


def test_a_metrics_port_in_use_is_one_line_naming_the_port_and_the_setting(
    tmp_path: Path, prefix: str
) -> None:
    port = free_port()
    path = write_config(tmp_path, prefix, metrics={"host": "127.0.0.1", "port": port})
    with taken(port):
        alone = run_cli("detect", "--config", str(path), "--bootstrap", "127.0.0.1:1")
        flag = run_cli("notify", "--config", str(path), "--bootstrap", "127.0.0.1:1",
                       "--metrics-port", str(port))  # fmt: skip
    assert (alone.returncode, flag.returncode) == (2, 2)
    assert alone.stderr.splitlines() == [
        f"mediawatch detect: port {port} is already in use (it is metrics.port in {path}): "
        "choose another, or 0 for a free one"
    ]
    assert flag.stderr.splitlines() == [
        f"mediawatch notify: port {port} is already in use (it is --metrics-port): "
        "choose another, or 0 for a free one"
    ]


def three_free_ports() -> int:
    """A base port whose next two are free too; free_port() alone says nothing of base + 1."""
    for _ in range(100):
        base = free_port()
        try:
            with socket.socket() as one, socket.socket() as two:
                one.bind(("127.0.0.1", base + 1))
                two.bind(("127.0.0.1", base + 2))
        except (OSError, OverflowError):  # taken, or base + 2 beyond 65535
            continue
        return base
    raise RuntimeError("no three consecutive free ports on 127.0.0.1")


def test_run_checks_all_three_ports_before_starting_anything(tmp_path: Path, prefix: str) -> None:
    base = three_free_ports()
    port = base + 1
    path = write_config(tmp_path, prefix, metrics={"host": "127.0.0.1", "port": base})
    with taken(port):  # metrics.port + 1: detect's
        result = run_cli("run", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"mediawatch run: port {port} is already in use (it is metrics.port + 1 in {path}, "
        "for detect): choose another, or 0 for a free one"
    ]
    assert not (tmp_path / "state" / "broker.log").exists(), "no broker was started"
