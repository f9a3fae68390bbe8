# -*- coding: utf-8 -*-
# What more than one of this collection's modules needs from ECS and IAM.

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

ECS_SERVICE_LINKED_ROLE_PATH = "/aws-service-role/ecs.amazonaws.com/"
# What ECS answers while IAM has not yet propagated a new service-linked role.
SLR_NOT_READY = "Unable to assume the service linked role"


def ensure_ecs_service_linked_role(module):
    """Create AWSServiceRoleForECS if the account has none; True if created.

    ECS needs it for every capacity provider (Fargate's and an Auto Scaling
    group's) and to register a service's tasks with a load balancer; in an
    account that has never used ECS it does not exist yet."""
    iam = module.client("iam")
    if iam.list_roles(PathPrefix=ECS_SERVICE_LINKED_ROLE_PATH)["Roles"]:
        return False
    if not module.check_mode:
        try:
            iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
        except is_boto3_error_code("InvalidInput") as e:  # created meanwhile
            if "has been taken" not in str(e):
                raise
    return True


def error_code(error):
    return error.response.get("Error", {}).get("Code", "")


def retried(module, call, retry_if):
    """call(), tried again every module.params['delay'] seconds (at most
    module.params['retries'] times) while retry_if(error) holds."""
    for attempt in range(module.params["retries"] + 1):
        try:
            return call()
        except botocore.exceptions.ClientError as e:
            if attempt == module.params["retries"] or not retry_if(e):
                raise
            time.sleep(module.params["delay"])
