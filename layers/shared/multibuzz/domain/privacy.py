"""IP privacy: what of a visitor's IP address we keep, per the account's ``ip_privacy`` setting.

- ``truncate`` (default): IPv4 keeps its /24 (``203.0.113.0``), IPv6 its /48 (``2001:db8:1::``);
- ``hash``: a keyed HMAC-SHA256 of the address (hex). The key is per account, derived from a
  server secret, so a hash can't be reversed by hashing all 2^32 IPv4 addresses;
- ``none``: the address as received.

Everything here is pure and never raises on bad input: an unparseable address gives ``None``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from typing import Literal

IpPrivacy = Literal["truncate", "hash", "none"]
IP_PRIVACY_MODES: tuple[IpPrivacy, ...] = ("truncate", "hash", "none")
DEFAULT_IP_PRIVACY: IpPrivacy = "truncate"


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}", re.ASCII)


def _plain_ipv4(text: str) -> tuple[str, ...] | None:
    """The four octets of a plain dotted IPv4 address (the hot path: one regex, no ipaddress object).
    Leading zeros are refused, as ``ipaddress`` refuses them."""
    found = _PLAIN_IPV4.fullmatch(text)
    return found.groups() if found else None


def _slash24(octets: tuple[str, ...]) -> str:
    return f"{octets[0]}.{octets[1]}.{octets[2]}.0"


def _parse(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not ip:
        return None
    text = ip.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.9:443"
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]  # zone id
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalise_ip(ip: str | None) -> str | None:
    """The canonical text of an address (ports, brackets, zone ids and IPv4-mapped prefixes removed)."""
    if ip and _plain_ipv4(ip):
        return ip
    address = _parse(ip)
    return None if address is None else str(address)


def truncate_ip(ip: str | None) -> str | None:
    """IPv4 → its /24 network address, IPv6 → its /48 network address."""
    octets = _plain_ipv4(ip) if ip else None
    if octets is not None:
        return _slash24(octets)
    address = _parse(ip)
    if address is None:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def hash_ip(ip: str | None, salt: bytes | str) -> str | None:
    """HMAC-SHA256 (hex, 64 chars) of the canonical address, keyed by ``salt``."""
    canonical = normalise_ip(ip)
    if canonical is None:
        return None
    key = salt.encode() if isinstance(salt, str) else salt
    return hmac.digest(key, canonical.encode(), "sha256").hex()


def account_salt(server_secret: str, account_id: str) -> bytes:
    """A per-account key for :func:`hash_ip` and visitor fingerprints, derived from a server secret."""
    return hmac.new(server_secret.encode(), f"ip-privacy:{account_id}".encode(), hashlib.sha256).digest()


def apply_ip_privacy(ip: str | None, mode: str | None, salt: bytes | str) -> str | None:
    """What to store for ``ip`` under the account's ``ip_privacy`` mode (unknown modes truncate)."""
    if mode == "none":
        return normalise_ip(ip)
    if mode == "hash":
        return hash_ip(ip, salt)
    return truncate_ip(ip)


def visitor_fingerprint(ip: str | None, user_agent: str | None, salt: bytes | str) -> str:
    """A keyed hash of (full IP, user agent): the "same visitor" key for unique-click dedup (64 hex).

    Keyed BLAKE2b-256, a MAC in its own right: it runs on every redirect, and CPython's own BLAKE2 is
    about 3x cheaper per call than HMAC-SHA256 through OpenSSL. Only compared with itself, never stored
    as the IP (``hash_ip`` stays HMAC-SHA256)."""
    return _fingerprint(normalise_ip(ip), user_agent, salt)


def click_ip_facts(
    ip: str | None, user_agent: str | None, mode: str | None, salt: bytes | str
) -> tuple[str | None, str]:
    """``(apply_ip_privacy(ip, mode, salt), visitor_fingerprint(ip, user_agent, salt))`` with the
    address parsed once: the redirect needs both for every click, and a plain IPv4 is the usual case."""
    octets = _plain_ipv4(ip) if ip else None
    if octets is None:
        return apply_ip_privacy(ip, mode, salt), visitor_fingerprint(ip, user_agent, salt)
    stored = ip if mode == "none" else hash_ip(ip, salt) if mode == "hash" else _slash24(octets)
    return stored, _fingerprint(ip, user_agent, salt)


def _fingerprint(canonical_ip: str | None, user_agent: str | None, salt: bytes | str) -> str:
    keyed = _keyed_blake2b.get(salt)
    if keyed is None:
        if len(_keyed_blake2b) > 10_000:
            _keyed_blake2b.clear()
        key = salt.encode() if isinstance(salt, str) else salt
        keyed = _keyed_blake2b[salt] = hashlib.blake2b(key=key[:64], digest_size=32)
    hasher = keyed.copy()  # the key block is already absorbed
    hasher.update(f"{canonical_ip or ''}\n{user_agent or ''}".encode())
    return hasher.hexdigest()


_keyed_blake2b: dict[bytes | str, hashlib.blake2b] = {}  # per account salt
