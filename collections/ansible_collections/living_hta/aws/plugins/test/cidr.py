# -*- coding: utf-8 -*-
# Jinja tests for the security_group role's variables: a regular expression
# lets 999.999.999.999/99 and :::::/999 through, Python's ipaddress does not.

DOCUMENTATION = r"""
---
name: ipv4_cidr
short_description: Is the value an IPv4 CIDR block (address/prefix) EC2 accepts?
description:
  - True for C(0.0.0.0/0), C(203.0.113.0/24), C(10.1.2.3/32); false for
    C(999.999.999.999/99), a bare address, an IPv6 block or anything else.
  - Host bits may be set (C(10.0.0.1/24)), as EC2 accepts.
  - The same file provides C(ipv6_cidr), its IPv6 twin.
positional: _input
options:
  _input:
    description: The value to test.
    type: raw
    required: true
author:
  - living-hta
"""

EXAMPLES = r"""
- name: Refuse anything but IPv4 CIDR blocks
  ansible.builtin.assert:
    that: ranges | reject('living_hta.aws.ipv4_cidr') | list == []
"""

RETURN = r"""
_value:
  description: Whether the value is a CIDR block of that IP version.
  type: bool
"""

import ipaddress


def _cidr(value, version):
    if not isinstance(value, str) or "/" not in value:
        return False
    try:
        return ipaddress.ip_network(value.strip(), strict=False).version == version and value == value.strip()
    except ValueError:
        return False


def ipv4_cidr(value):
    return _cidr(value, 4)


def ipv6_cidr(value):
    return _cidr(value, 6)


class TestModule:
    def tests(self):
        return {"ipv4_cidr": ipv4_cidr, "ipv6_cidr": ipv6_cidr}
