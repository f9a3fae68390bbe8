"""Emulator only: do what the ECS agent on the instance would do.

moto runs no ECS agent, so an EC2 instance never joins its cluster by
itself.  ``register`` registers each given instance as a container instance
(once); ``deregister`` removes every container instance of the cluster.
Prints "changed" when it changed something.  Used only when
``ecs_cluster_emulate_agent`` is true (inventory/local); never on real AWS,
where the agent started by the user data does this.
"""

from __future__ import annotations

import argparse
import json
import sys
from urllib.parse import urlparse

import boto3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["register", "deregister"])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--instance-id", action="append", default=[])
    args = parser.parse_args()
    if urlparse(args.endpoint_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        print(f"error: refusing to emulate the ECS agent against {args.endpoint_url}", file=sys.stderr)
        return 2
    ecs = boto3.client("ecs", endpoint_url=args.endpoint_url, region_name=args.region)
    clusters = ecs.describe_clusters(clusters=[args.cluster])["clusters"]
    if not clusters or clusters[0]["status"] != "ACTIVE":
        return 0
    arns = ecs.list_container_instances(cluster=args.cluster)["containerInstanceArns"]
    registered = {}
    if arns:
        for ci in ecs.describe_container_instances(cluster=args.cluster, containerInstances=arns)["containerInstances"]:
            registered[ci["ec2InstanceId"]] = ci["containerInstanceArn"]
    changed = False
    if args.action == "register":
        for instance_id in args.instance_id:
            if instance_id not in registered:
                document = json.dumps({"instanceId": instance_id, "region": args.region})
                ecs.register_container_instance(cluster=args.cluster, instanceIdentityDocument=document)
                changed = True
    else:
        for arn in registered.values():
            ecs.deregister_container_instance(cluster=args.cluster, containerInstance=arn, force=True)
            changed = True
    print("changed" if changed else "ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
