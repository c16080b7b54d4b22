"""ecsup: one command from a container image to an HTTPS service on ECS Fargate."""

__version__ = "0.1.0"
