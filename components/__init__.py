"""Pulumi components that make up a blue-green service on AWS."""
