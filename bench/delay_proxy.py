#!/usr/bin/env python3
"""A TCP proxy that delays every chunk by a fixed one-way delay, in both
directions, and counts round trips per connection (bench/remote.sh).

There is no kernel netem on the benchmark machines, so this stands in for a
network: a client talking to PostgreSQL through it sees a round trip of
twice --delay-ms, whatever is on the wire (TLS included, it is not read).

A round trip is counted when the client sends after the server has sent
since the client's previous send: the client waited for an answer. Bytes the
client sends back to back (a pipeline) are one round trip; the final
Terminate, which gets no answer, is none. Each closed connection appends
"round_trips N" to --log.

usage: delay_proxy.py --listen PORT --target HOST:PORT --delay-ms MS --log FILE
"""
import argparse
import asyncio


async def pump(reader, writer, delay, on_data):
    """Copies reader to writer, each chunk `delay` seconds late, in order."""
    queue = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def send():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            on_data()
            await queue.put((loop.time() + delay, data))
    except ConnectionError:
        pass
    await queue.put((loop.time() + delay, None))
    try:
        await sender
    except ConnectionError:
        pass


async def handle(client_reader, client_writer, args):
    host, port = args.target.rsplit(":", 1)
    server_reader, server_writer = await asyncio.open_connection(host, int(port))
    state = {"round_trips": 0, "client_sent": False, "server_answered": False}

    def from_client():
        # The client sends after an answer: it waited one round trip.
        if state["client_sent"] and state["server_answered"]:
            state["round_trips"] += 1
            state["server_answered"] = False
        state["client_sent"] = True

    def from_server():
        state["server_answered"] = True

    delay = args.delay_ms / 1000.0
    await asyncio.gather(
        pump(client_reader, server_writer, delay, from_client),
        pump(server_reader, client_writer, delay, from_server),
    )
    # The last exchange: the client's final send was answered.
    if state["client_sent"] and state["server_answered"]:
        state["round_trips"] += 1
    with open(args.log, "a") as log:
        log.write(f"round_trips {state['round_trips']}\n")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, args), "127.0.0.1", args.listen
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
