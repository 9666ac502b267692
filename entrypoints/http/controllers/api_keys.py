"""``/api-keys``: issue (the secret is shown once), list and revoke API keys.

Everyone but the service role manages their own keys; admins manage anyone's."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter

from domain.services import Services, users
from domain.services.auth import Permission, Principal, keys_owner
from entrypoints.http.controllers.errors import read_errors, write_errors
from entrypoints.http.params import UUID_PATTERN, parse_id
from entrypoints.http.schemas.users import (
    ApiKeyIn,
    ApiKeyList,
    ApiKeyOut,
    IssuedApiKeyOut,
    api_key_out,
    issued_key_out,
)
from entrypoints.http.security import requires

KeyId = Annotated[str, Parameter(pattern=UUID_PATTERN, description="The key's id")]


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ["api-keys"]

    @post(
        "/",
        opt=requires(Permission.OWN_KEYS, "api_key.issue"),
        responses=write_errors(404),
        summary="Issue an API key; the answer holds the key itself, shown this once",
    )
    async def issue(
        self,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        data: JSONBody[ApiKeyIn],
    ) -> IssuedApiKeyOut:
        owner = keys_owner(principal, data.user_id) or principal.user_id
        issued = await users.issue_api_key(
            services,
            owner_id=owner,
            name=data.name,
            expires_at=data.expires_at,
            actor=principal.user_id,
        )
        return issued_key_out(issued)

    @get(
        "/",
        opt=requires(Permission.OWN_KEYS),
        responses=read_errors(),
        summary="API keys (never their secrets): your own, or an admin's pick",
    )
    async def list_keys(
        self,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        user: Annotated[
            str | None,
            Parameter(pattern=UUID_PATTERN, description="Only this user's keys (admins)"),
        ] = None,
    ) -> ApiKeyList:
        requested = None if user is None else parse_id(user, "user")
        keys = await users.list_api_keys(services, keys_owner(principal, requested))
        return ApiKeyList([api_key_out(key) for key in keys])

    @delete(
        "/{key_id:str}",
        opt=requires(Permission.OWN_KEYS, "api_key.revoke"),
        responses=read_errors(404),
        status_code=200,
        summary="Revoke an API key at once",
        description="The key fails at once in the process that answers, and within "
        "CHAINWATCH_API_KEY_CACHE_S (5 s) in other workers.",
    )
    async def revoke(
        self,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        key_id: KeyId,
    ) -> ApiKeyOut:
        owner = None if principal.may(Permission.MANAGE_USERS) else principal.user_id
        key = await users.revoke_api_key(
            services,
            parse_id(key_id, "key_id"),
            owner_id=owner,
            actor=principal.user_id,
        )
        return api_key_out(key)
