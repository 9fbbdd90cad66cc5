#!/usr/bin/env python3
"""A TLS-terminating proxy in front of PostgreSQL, as Neon's is
(bench/remote.sh --neon): clients speak TLS to it, either after an
SSLRequest or directly (libpq 18's sslnegotiation=direct, ALPN
"postgresql"); it speaks plain TCP to the server behind it.

usage: tls_proxy.py --listen PORT --target HOST:PORT --cert FILE --key FILE
"""
import argparse
import socket
import ssl
import struct
import threading

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def handle(client, ctx, target):
    try:
        first = client.recv(1, socket.MSG_PEEK)
        if first == b"\x16":  # a TLS ClientHello: direct TLS
            tls = ctx.wrap_socket(client, server_side=True)
        else:
            request = b""
            while len(request) < 8:
                chunk = client.recv(8 - len(request))
                if not chunk:
                    client.close()
                    return
                request += chunk
            if request != SSL_REQUEST:
                client.close()  # like Neon: TLS only
                return
            client.sendall(b"S")
            tls = ctx.wrap_socket(client, server_side=True)
        host, port = target.rsplit(":", 1)
        server = socket.create_connection((host, int(port)))
        server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump, args=(server, tls), daemon=True).start()
        pump(tls, server)
    except (OSError, ssl.SSLError):
        client.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["postgresql"])
    listener = socket.create_server(("127.0.0.1", args.listen))
    while True:
        client, _ = listener.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=handle, args=(client, ctx, args.target), daemon=True).start()


if __name__ == "__main__":
    main()
