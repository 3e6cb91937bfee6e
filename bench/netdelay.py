"""A TCP relay that puts a fixed one-way delay on every byte: a WAN link in a process.

A directory that adminkit reaches across a VPN to the customer's site answers each
request one round trip later than one on loopback. This relay stands for that link:
it listens on 127.0.0.1:PORT, and for each connection opens one to the real server
and forwards both ways, every chunk leaving `delay` seconds after it arrived (in
order, so a stream keeps its order; the link has no bandwidth limit, no loss). The
TCP handshake is a round trip too: nothing the client sends reaches the server
before 2 x delay has passed since it connected (the SYN / SYN-ACK), so a new
connection costs what it costs on the real link.

    python bench/netdelay.py --listen 40001 --to 127.0.0.1:3636 --delay 0.002

It prints `ready PORT` once listening; it stops on SIGTERM. It is the bench's, not
adminkit's: adminkit talks to it as to any directory (the certificate's name is
`localhost`, which the relay's address is as well).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time

STATS = {"connections": 0, "to server": 0, "to client": 0}  # chunks forwarded each way


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float, way: str) -> None:
    """Forward reader to writer, each chunk `delay` seconds after it was read, until
    the reader's end (passed on as a half-close) or a broken connection."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        try:
            while chunk := await reader.read(65536):
                queue.put_nowait((loop.time() + delay, chunk))
        except OSError:
            pass
        queue.put_nowait((loop.time() + delay, b""))

    task = asyncio.create_task(read())
    try:
        while True:
            due, chunk = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(chunk)
            STATS[way] += 1
            await writer.drain()
    except OSError:
        return
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _serve(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, *,
                 host: str, port: int, delay: float) -> None:
    accepted = time.monotonic()
    try:
        server_r, server_w = await asyncio.open_connection(host, port)
    except OSError:
        client_w.close()
        return
    handshake = 2 * delay - (time.monotonic() - accepted)  # the SYN and its answer
    if handshake > 0:
        await asyncio.sleep(handshake)
    STATS["connections"] += 1
    pipes = [asyncio.create_task(_pipe(client_r, server_w, delay, "to server")),
             asyncio.create_task(_pipe(server_r, client_w, delay, "to client"))]
    try:
        await asyncio.gather(*pipes)
    except asyncio.CancelledError:  # the relay stops: its connections end with it
        pass
    finally:
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        for w in (client_w, server_w):
            w.close()


async def main(listen: int, host: str, port: int, delay: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve(r, w, host=host, port=port, delay=delay), "127.0.0.1", listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()
    print("relay: " + ", ".join(f"{k} {v}" for k, v in STATS.items()), file=sys.stderr,
          flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, default=0)
    parser.add_argument("--to", required=True, help="HOST:PORT of the real server")
    parser.add_argument("--delay", type=float, default=0.002, help="one-way, seconds")
    args = parser.parse_args()
    to_host, _, to_port = args.to.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.listen, to_host, int(to_port), args.delay))
