"""`loopin serve` stopped the way process managers stop it: SIGTERM lets the requests in
flight finish, then stops the embedded Postgres, as Ctrl+C does."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from app.db.embedded_db import EmbeddedPostgres, free_port
from tests.support.processes import clean_env, start_serve


def wait_for(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, "loopin serve exited before it served"
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "loopin serve did not start in time"
            time.sleep(0.2)


def read_response(connection: socket.socket) -> tuple[int, dict[str, object]]:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection without answering"
        received += chunk
    head, body = received.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection mid-answer"
        body += chunk
    return int(lines[0].split()[1]), json.loads(body)


def test_sigterm_finishes_the_request_in_flight_and_stops_embedded_postgres(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = clean_env()
    env.update(LOOPIN_DATA_DIR=str(data_dir), EMBEDDED_PORT=str(free_port()))
    api_port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = start_serve(api_port, env=env, output=log)
    try:
        wait_for(f"http://127.0.0.1:{api_port}/health", process)
        [curl] = [line for line in log_path.read_text().splitlines() if "curl -H" in line]
        token = curl.split("Bearer ", 1)[1].split('"', 1)[0]
        family_id = str(uuid.uuid4())
        body = json.dumps({"id": family_id, "name": "Late Arrivals", "timezone": "UTC"}).encode()

        # A request in flight: its head and half of its body are sent before the SIGTERM,
        # the rest after it.
        with socket.create_connection(("127.0.0.1", api_port), timeout=30) as connection:
            connection.sendall(
                b"POST /v1/families HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + f"Authorization: Bearer {token}\r\n".encode()
                + b"Content-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:10]
            )
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            time.sleep(1.5)
            assert process.poll() is None, "the server did not wait for the request in flight"
            connection.sendall(body[10:])
            status, answer = read_response(connection)

        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    output = log_path.read_text()
    assert status == 201, answer
    assert answer["id"] == family_id
    assert process.returncode == 0, output
    assert "embedded Postgres stopped" in output
    port = int((data_dir / "port").read_text())
    assert not EmbeddedPostgres(data_dir=data_dir, port=port).is_running()
    assert "Traceback" not in output

    # The family written by the request that finished during the shutdown is there.
    check = EmbeddedPostgres(data_dir=data_dir, port=port)
    check.start()
    try:
        name = asyncio.run(family_name(check.url, family_id))
    finally:
        check.stop()
    assert name == "Late Arrivals"


async def family_name(url: str, family_id: str) -> str | None:
    connection = await asyncpg.connect(url)
    try:
        name: str | None = await connection.fetchval(
            "select name from families where id = $1", uuid.UUID(family_id)
        )
        return name
    finally:
        await connection.close()
