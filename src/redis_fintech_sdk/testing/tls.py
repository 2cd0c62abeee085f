"""Throw-away TLS certificates for TLS / mTLS tests (made with ``trustme``)."""

from __future__ import annotations

import shutil
import ssl
import tempfile
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

from redis_fintech_sdk.errors import MissingExtraError

__all__ = ["TLSMaterial"]


def _trustme() -> Any:
    try:
        import trustme
    except ImportError as exc:
        raise MissingExtraError("testing", "trustme") from exc
    return trustme


class TLSMaterial:
    """A private CA, a server and a client certificate, written to files in a temp dir.

    The server certificate is valid for ``localhost`` and ``127.0.0.1``. A second, unrelated
    CA (``other_ca_file``) and a client certificate it signed (``other_client_cert_file``)
    are there for negative tests. The directory is removed by :meth:`cleanup` (also on
    ``with`` exit and when the object is garbage collected).

    Attributes:
        dir: the directory holding every file.
        ca_file: PEM of the CA that signed the server and client certificates.
        server_cert_file: server certificate chain (PEM).
        server_key_file: server private key (PEM).
        client_cert_file: client certificate chain (PEM), signed by ``ca_file``.
        client_key_file: client private key (PEM).
        other_ca_file: PEM of an unrelated CA: trusting it must fail the handshake.
        other_client_cert_file: a client certificate signed by the unrelated CA.
        other_client_key_file: its private key.

    Raises:
        MissingExtraError: ``trustme`` is not installed (``pip install
            'redis-fintech-sdk[testing]'``).
    """

    def __init__(self, *, directory: Path | None = None) -> None:
        trustme = _trustme()
        owned = directory is None
        self.dir = Path(tempfile.mkdtemp(prefix="rfsdk-tls-")) if directory is None else directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.dir), ignore_errors=True)
        if not owned:
            self._finalizer.detach()

        ca = trustme.CA(organization_name="rfsdk test CA")
        other_ca = trustme.CA(organization_name="rfsdk unrelated CA")
        server = ca.issue_cert("localhost", "127.0.0.1", "::1")
        client = ca.issue_cert("rfsdk-client@example.invalid", common_name="rfsdk-client")
        other_client = other_ca.issue_cert("intruder@example.invalid", common_name="intruder")

        self.ca_file = self.dir / "ca.pem"
        self.server_cert_file = self.dir / "server.crt"
        self.server_key_file = self.dir / "server.key"
        self.client_cert_file = self.dir / "client.crt"
        self.client_key_file = self.dir / "client.key"
        self.other_ca_file = self.dir / "other-ca.pem"
        self.other_client_cert_file = self.dir / "other-client.crt"
        self.other_client_key_file = self.dir / "other-client.key"

        ca.cert_pem.write_to_path(str(self.ca_file))
        other_ca.cert_pem.write_to_path(str(self.other_ca_file))
        _write_chain(server, self.server_cert_file)
        server.private_key_pem.write_to_path(str(self.server_key_file))
        _write_chain(client, self.client_cert_file)
        client.private_key_pem.write_to_path(str(self.client_key_file))
        _write_chain(other_client, self.other_client_cert_file)
        other_client.private_key_pem.write_to_path(str(self.other_client_key_file))
        for key in (self.server_key_file, self.client_key_file, self.other_client_key_file):
            key.chmod(0o600)

    def client_ssl_context(
        self, *, client_cert: bool = True, trust_other_ca: bool = False
    ) -> ssl.SSLContext:
        """Return a client-side :class:`ssl.SSLContext` for servers using this material.

        Args:
            client_cert: present the client certificate (needed for ``tls-auth-clients yes``).
            trust_other_ca: trust the unrelated CA instead of the real one (handshake fails).
        """
        ctx = ssl.create_default_context(
            cafile=str(self.other_ca_file if trust_other_ca else self.ca_file)
        )
        if client_cert:
            ctx.load_cert_chain(str(self.client_cert_file), str(self.client_key_file))
        return ctx

    def redis_kwargs(self, *, client_cert: bool = True) -> dict[str, Any]:
        """Return the ``ssl_*`` keyword arguments of ``redis.Redis`` for this material."""
        kwargs: dict[str, Any] = {
            "ssl": True,
            "ssl_ca_certs": str(self.ca_file),
            "ssl_cert_reqs": "required",
        }
        if client_cert:
            kwargs["ssl_certfile"] = str(self.client_cert_file)
            kwargs["ssl_keyfile"] = str(self.client_key_file)
        return kwargs

    def cleanup(self) -> None:
        """Delete the files (only when this object created the directory)."""
        self._finalizer()

    def __enter__(self) -> TLSMaterial:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"TLSMaterial(dir={str(self.dir)!r})"


def _write_chain(cert: Any, path: Path) -> None:
    path.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
