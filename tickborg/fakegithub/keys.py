"""An RSA key pair for a test GitHub App (the fake verifies JWTs with the public half)."""

from __future__ import annotations

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@attrs.frozen
class AppKeyPair:
    private_pem: str = attrs.field(repr=False)
    public_pem: str


def generate_app_key() -> AppKeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # what GitHub hands out
        serialization.NoEncryption(),
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return AppKeyPair(private_pem, public_pem)
