"""deploy/nginx/recorda.conf under this machine's nginx, for the tests: the
site as written, with only what cannot be used here replaced (its ports by
free loopback ports, the upstream servers by recording HTTP servers, the
certificate by a throwaway self-signed one, the log files by temporary
ones). Every replacement must apply, so a changed site cannot make the
tests check nothing."""
from __future__ import annotations

import datetime
import http.client
import json
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from bot.dev.processes import free_port
from tests.support.deploy_files import NGINX_SITE

HOST_NAME = "cita.example.org"


def nginx_binary() -> Optional[str]:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def self_signed_certificate(directory: Path) -> Tuple[Path, Path]:
    """A throwaway certificate for HOST_NAME (cryptography, as the venv has it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST_NAME)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST_NAME)]), critical=False)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _replace(text: str, pattern: str, replacement, what: str, flags: int = re.M) -> str:
    new, count = re.subn(pattern, replacement, text, flags=flags)
    assert count, f"the nginx site has no {what} any more: adapt tests/support/nginx_site.py"
    return new


def site_for_test(directory: Path, https_port: int, http_port: int, upstreams: Dict[str, int]) -> Path:
    cert, key = self_signed_certificate(directory)
    text = NGINX_SITE.read_text()
    text = _replace(text, r"^\s*listen \[::\]:\d+[^;]*;\n", "", "IPv6 listen lines")
    text = _replace(text, r"listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;", "HTTPS listen")
    text = _replace(text, r"listen 80;", f"listen 127.0.0.1:{http_port};", "HTTP listen")
    text = _replace(text, r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", "ssl_certificate")
    text = _replace(text, r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", "ssl_certificate_key")
    text = _replace(text, r"/var/log/nginx/", f"{directory}/", "log files")
    for name, port in upstreams.items():
        def servers(block: re.Match, port: int = port) -> str:
            body = re.sub(r"^(\s*)server [^\s;]+", rf"\g<1>server 127.0.0.1:{port}", block.group(2),
                          flags=re.M)
            return block.group(1) + body
        text = _replace(text, rf"(upstream {name} \{{)(.*?\}})", servers, f"upstream {name}", flags=re.S)
    site = directory / "recorda.conf"
    site.write_text(text)
    return site


def main_config(directory: Path, site: Path) -> Path:
    # As root, nginx's workers would run as nobody, who cannot reach pytest's
    # private temporary directories (request bodies are buffered there).
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    config = directory / "nginx.conf"
    config.write_text(f"""{user}pid {directory}/nginx.pid;
worker_processes 1;
error_log {directory}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    include {site};
}}
""")
    return config


def nginx_command(directory: Path, config: Path, *extra: str) -> List[str]:
    binary = nginx_binary()
    assert binary, "nginx is not installed"
    return [binary, "-p", f"{directory}/", "-e", f"{directory}/error.log", "-c", str(config), *extra]


# --- the upstreams --------------------------------------------------------------
@dataclass
class RecordingUpstream:
    """An HTTP server standing for Rasa, the status receiver or the web app:
    it records each request it gets and answers 200 naming itself."""
    name: str
    requests: List[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # nginx keeps connections to upstreams alive

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream.requests.append({"method": self.command, "path": self.path, "body_length": len(body),
                                          "headers": {k.lower(): v for k, v in self.headers.items()}})
                answer = json.dumps({"upstream": upstream.name}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class RunningSite:
    https_port: int
    http_port: int
    directory: Path
    upstreams: Dict[str, RecordingUpstream]

    def request(self, method: str, path: str, body: bytes = b"",
                headers: Optional[Dict[str, str]] = None, https: bool = True) -> Tuple[int, bytes, Dict[str, str]]:
        """(status, body, headers) of one request with the site's host name."""
        if https:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.https_port, timeout=10, context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            conn.request(method, path, body=body or None,
                         headers={"Host": HOST_NAME, **(headers or {})})
            response = conn.getresponse()
            return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()

    def reached(self, path_start: str) -> List[str]:
        """The upstreams that got a request whose path starts so."""
        return sorted(name for name, upstream in self.upstreams.items()
                      if any(r["path"].startswith(path_start) for r in upstream.requests))

    def access_log(self) -> str:
        log = self.directory / "recorda.access.log"
        return log.read_text() if log.exists() else ""


@contextmanager
def running_site(directory: Path, upstream_names: Tuple[str, ...]) -> Iterator[RunningSite]:
    upstreams = {name: RecordingUpstream(name) for name in upstream_names}
    https_port, http_port = free_port(), free_port()
    site = site_for_test(directory, https_port, http_port, {n: u.port for n, u in upstreams.items()})
    config = main_config(directory, site)
    process = subprocess.Popen(nginx_command(directory, config, "-g", "daemon off;"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise RuntimeError(f"nginx exited: {output}")
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield RunningSite(https_port, http_port, directory, upstreams)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        for upstream in upstreams.values():
            upstream.close()
