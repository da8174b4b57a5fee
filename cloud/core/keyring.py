"""Device keys at rest: AES-256-GCM under a key derived (HKDF-SHA256) from config.key_secret.

The device key is the terminal's only secret; a database dump alone must not
reveal it. `cryptography`'s AESGCM is the vetted primitive; the device id is
bound in as associated data so a sealed key copied onto another device's row
does not open.

    ring = app[KEYRING]
    device.key_enc = ring.seal(device_id, key_bytes)
    key_bytes = ring.open(device.key_enc, device_id)
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class KeyringError(ValueError):
    """A sealed key does not open: wrong FINGERPOS_SECRET, or the row was tampered with."""


class DeviceKeyring:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._aead = AESGCM(self.subkey(b"aes-256-gcm v1"))
        self.pickup_key = self.subkey(b"pickup-code hmac v1")

    def subkey(self, label: bytes) -> bytes:
        """An independent 32-byte key for one purpose, derived from the cloud's secret."""
        kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"fingerpos/device-keys", info=label)
        return kdf.derive(self._secret)

    def seal(self, device_id: str, key: bytes) -> str:
        """Encrypt a device key; returns 'v1:' + base64(nonce + ciphertext)."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, key, device_id.encode())
        return _VERSION + ":" + base64.b64encode(nonce + sealed).decode()

    def open(self, sealed: str, device_id: str) -> bytes:
        """Decrypt what seal() made for this device id."""
        version, _, blob = sealed.partition(":")
        if version != _VERSION:
            raise KeyringError(f"unknown sealed key format {version!r}")
        try:
            raw = base64.b64decode(blob, validate=True)
            return self._aead.decrypt(raw[:12], raw[12:], device_id.encode())
        except (InvalidTag, ValueError) as e:
            raise KeyringError(f"the key of device {device_id} does not decrypt "
                               "(is FINGERPOS_SECRET the one it was stored with?)") from e
