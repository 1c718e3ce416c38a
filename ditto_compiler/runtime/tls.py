"""Mutual TLS for a cluster: a CA, certificates per party and per client, and the contexts that use them.

Every connection of a deployment is TLS 1.2+ with certificates on both ends, signed by the
cluster's CA: party to party (SPU's brpc links through their SSL options, and the parties'
control connections), model owner and clients to parties (Python's `ssl`). A certificate's
common name is its role: `party0`..`party2`, `owner`, or `client-...`; a party accepts
a request only from the role allowed to make it (a client cannot upload a model, a client's
certificate cannot pose as a party). `ditto certs` makes the files (`make_certificates`).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from spu import libspu

from ..diagnostics import DittoError

VALID_DAYS = 365


@dataclass(frozen=True)
class Identity:
    """A certificate and its key (PEM files), and the CA that signs the cluster's certificates."""

    cert: Path
    key: Path
    ca: Path

    def check(self, where: str) -> None:
        for label, path in (("cert", self.cert), ("key", self.key), ("ca", self.ca)):
            if not path.is_file():
                raise DittoError(f"{where}: {label} file {path} does not exist")

    def server_context(self) -> ssl.SSLContext:
        """Accepts only peers with a certificate from the CA."""
        context = self._context(ssl.PROTOCOL_TLS_SERVER)
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def client_context(self) -> ssl.SSLContext:
        """Presents this identity and accepts only a server with a certificate from the CA (roles, not
        host names, are checked: `peer_role`)."""
        context = self._context(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def _context(self, protocol: int) -> ssl.SSLContext:
        context = ssl.SSLContext(protocol)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert, self.key)
            context.load_verify_locations(self.ca)
        except (OSError, ssl.SSLError) as e:
            raise DittoError(f"cannot load TLS identity {self.cert} / {self.key} / CA {self.ca}: {e}") from None
        return context

    def configure_link(self, desc: libspu.link.Desc) -> None:
        """TLS on an SPU link: this party's certificate both ways, peers verified against the CA."""
        desc.enable_ssl = True
        for options in (desc.server_ssl_opts, desc.client_ssl_opts):
            options.cert.certificate_path = str(self.cert)
            options.cert.private_key_path = str(self.key)
            options.verify.ca_file_path = str(self.ca)
            options.verify.verify_depth = 1


def peer_role(connection: ssl.SSLSocket) -> str:
    """The common name of the verified certificate the peer presented."""
    cert = connection.getpeercert() or {}
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ditto-compiler"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _alternative_names(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(["localhost", "127.0.0.1", *hosts]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def make_certificates(
    out: str | Path, parties: int = 3, clients: Sequence[str] = ("client",), hosts: Sequence[str] = ()
) -> list[Path]:
    """A new CA in `out` (ca.pem, ca.key) and certificates signed by it: party0..party{n-1}, owner, and one
    per client name (`client-NAME`), each `ROLE.pem` with `ROLE.key`. Returns the files written."""
    directory = Path(out)
    for name in clients:
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise DittoError(f"client name {name!r} must be letters, digits, '-' or '_'")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DittoError(f"cannot create {directory}: {e}") from None
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("ditto-compiler cluster CA"))
        .issuer_name(_name("ditto-compiler cluster CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    written = [directory / "ca.pem", directory / "ca.key"]
    written[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(ca_key, written[1])
    roles = [*(f"party{i}" for i in range(parties)), "owner", *(f"client-{name}" for name in clients)]
    for role in roles:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(role))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(_alternative_names(hosts), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        (directory / f"{role}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, directory / f"{role}.key")
        written += [directory / f"{role}.pem", directory / f"{role}.key"]
    return written


def identity(directory: str | Path, role: str) -> Identity:
    """The files `make_certificates` wrote for `role` in `directory`."""
    base = Path(directory)
    return Identity(base / f"{role}.pem", base / f"{role}.key", base / "ca.pem")
