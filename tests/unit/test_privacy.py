from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multibuzz.domain.privacy import (
    account_salt,
    apply_ip_privacy,
    hash_ip,
    normalise_ip,
    truncate_ip,
    visitor_fingerprint,
)


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("203.0.113.77:51234", "203.0.113.0"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("[2001:db8:abcd:12::1]:443", "2001:db8:abcd::"),
        ("not an ip", None),
        ("", None),
        (None, None),
    ],
)
def test_truncate_ip(ip: str | None, expected: str | None) -> None:
    assert truncate_ip(ip) == expected


def test_hash_is_keyed_and_canonical() -> None:
    a = hash_ip("203.0.113.77", b"salt-a")
    assert a is not None and len(a) == 64
    assert hash_ip("203.0.113.77:9999", b"salt-a") == a, "ports do not change the hash"
    assert hash_ip("203.0.113.77", b"salt-b") != a, "another account's key gives another hash"
    assert hash_ip("garbage", b"salt-a") is None


def test_apply_ip_privacy_modes() -> None:
    salt = account_salt("server-secret", "acc_1")
    assert apply_ip_privacy("203.0.113.77", "truncate", salt) == "203.0.113.0"
    assert apply_ip_privacy("203.0.113.77", None, salt) == "203.0.113.0", "truncate is the default"
    assert apply_ip_privacy("203.0.113.77", "weird", salt) == "203.0.113.0"
    assert apply_ip_privacy("203.0.113.77", "none", salt) == "203.0.113.77"
    assert apply_ip_privacy("203.0.113.77", "hash", salt) == hash_ip("203.0.113.77", salt)
    assert normalise_ip("::ffff:203.0.113.77") == "203.0.113.77"


def test_account_salts_differ_and_fingerprint_depends_on_ip_and_agent() -> None:
    assert account_salt("s", "acc_1") != account_salt("s", "acc_2")
    salt = account_salt("s", "acc_1")
    base = visitor_fingerprint("203.0.113.77", "UA", salt)
    assert visitor_fingerprint("203.0.113.77", "UA", salt) == base
    assert visitor_fingerprint("203.0.113.78", "UA", salt) != base, "the full IP counts, not the /24"
    assert visitor_fingerprint("203.0.113.77", "UA2", salt) != base


@pytest.mark.parametrize(
    "ip", ["1.2.3.4", "255.255.255.255", "01.2.3.4", "1.2.3", "1.2.3.256", "1.2.3.4.5", "\u0661.2.3.4"]
)
def test_the_ipv4_fast_path_agrees_with_ipaddress(ip: str) -> None:
    import ipaddress

    try:
        expected: str | None = str(ipaddress.ip_network(f"{ipaddress.ip_address(ip)}/24", strict=False).network_address)
    except ValueError:
        expected = None
    assert truncate_ip(ip) == expected


@given(st.from_regex(r"\A[0-9]{1,4}(\.[0-9]{1,4}){2,4}\Z") | st.ip_addresses(v=4).map(str))
def test_the_ipv4_fast_path_agrees_with_ipaddress_on_generated_text(ip: str) -> None:
    import ipaddress

    try:
        address = ipaddress.ip_address(ip)
        expected: str | None = str(ipaddress.ip_network(f"{address}/24", strict=False).network_address)
    except ValueError:
        expected = None
    assert truncate_ip(ip) == expected
    assert normalise_ip(ip) == (None if expected is None else str(address))


@given(
    ip=st.none() | st.ip_addresses().map(str) | st.from_regex(r"\A[0-9.:\[\]a-f]{0,20}\Z"),
    user_agent=st.none() | st.text(max_size=30),
    mode=st.sampled_from(["truncate", "hash", "none", "unknown", None]),
)
def test_click_ip_facts_is_privacy_plus_fingerprint(ip: str | None, user_agent: str | None, mode: str | None) -> None:
    from multibuzz.domain.privacy import click_ip_facts

    salt = account_salt("server-secret", "acc_facts")
    expected = (apply_ip_privacy(ip, mode, salt), visitor_fingerprint(ip, user_agent, salt))
    assert click_ip_facts(ip, user_agent, mode, salt) == expected
    assert click_ip_facts(ip, user_agent, mode, salt) == expected, "and again, with the keyed hasher cached"
