"""The authenticating registries of tests/remotes (Basic, and Bearer with its token server), for the secrets test."""

from remotes.conftest import auth_storage, basic_registry, token_registry, token_server  # noqa: F401 (fixtures)
