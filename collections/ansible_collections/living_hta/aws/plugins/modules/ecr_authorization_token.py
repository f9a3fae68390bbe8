#!/usr/bin/python
# -*- coding: utf-8 -*-
# No amazon.aws/community.aws module returns an ECR login: this one calls
# ecr:GetAuthorizationToken (boto3 get_authorization_token) and decodes it.

DOCUMENTATION = r"""
---
module: ecr_authorization_token
short_description: A Docker login (user and password) for an ECR registry
description:
  - Calls ECR's GetAuthorizationToken and decodes the token into the user
    name and password C(docker login) takes (C(AWS) and a 12-hour password).
  - Changes nothing; supports check mode.
  - The password is a credential. Use C(no_log: true) on the task and on
    every task that receives it.
options:
  registry_id:
    description: AWS account ID of the registry; the caller's account when omitted.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - living-hta
"""

EXAMPLES = r"""
- name: Get a Docker login for the account's registry
  ecr_authorization_token:
    region: eu-west-2
  register: ecr_login
  no_log: true
"""

RETURN = r"""
registry:
  description: The registry's host name (from the proxy endpoint), as image names spell it.
  returned: always
  type: str
  sample: 123456789012.dkr.ecr.eu-west-2.amazonaws.com
username:
  description: The user name to log in with.
  returned: always
  type: str
  sample: AWS
password:
  description: The password (a credential; never print it).
  returned: always
  type: str
expires_at:
  description: When the password expires (ISO 8601).
  returned: always
  type: str
"""

import base64
import binascii
from urllib.parse import urlparse

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(registry_id=dict(type="str")),
        supports_check_mode=True,
    )
    ecr = module.client("ecr")
    params = {"registryIds": [module.params["registry_id"]]} if module.params["registry_id"] else {}
    try:
        data = ecr.get_authorization_token(**params)["authorizationData"][0]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Could not get an ECR authorization token (ecr:GetAuthorizationToken)")
    try:
        username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        module.fail_json(msg="ECR returned an authorization token that is not base64 of user:password")
    endpoint = data.get("proxyEndpoint", "")
    module.exit_json(
        changed=False,
        registry=urlparse(endpoint).netloc or endpoint,
        username=username,
        password=password,
        expires_at=str(data.get("expiresAt", "")),
    )


if __name__ == "__main__":
    main()
