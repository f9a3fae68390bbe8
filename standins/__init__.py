"""Local stand-ins for the AWS services the deployment uses, as actors of
the emulator's control plane (README, "What the local stand-ins do").

One module per AWS service they stand in for:

- ``ecs``: the ECS agent (admits container instances, runs a task's
  containers with Docker) and the ECS service scheduler (reconciles each
  service: desired count, new revisions rolled by its deployment
  configuration, targets registered and deregistered);
- ``elb``: the Application Load Balancer (HAProxy following the target
  group's registered targets through its runtime API);
- ``ecr``: the registry standing in for ECR;
- ``control``: the long-running process hosting them with the AWS endpoint
  (moto behind the proxy that answers target-group calls the AWS way);
- ``topology``: what ``scripts/demo.py`` does for ``single`` and
  ``load_balanced``.

Nothing here is used on real AWS.
"""
