"""``/users``: create, list and change users (admins only)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter

from domain.services import Services, users
from domain.services.auth import Permission, Principal
from entrypoints.http.controllers.errors import read_errors, write_errors
from entrypoints.http.params import UUID_PATTERN, parse_id
from entrypoints.http.schemas.users import UserIn, UserList, UserOut, UserPatch, user_out
from entrypoints.http.security import requires

UserId = Annotated[str, Parameter(pattern=UUID_PATTERN, description="The user's id")]


class UserController(Controller):
    path = "/users"
    tags = ["users"]

    @post(
        "/",
        opt=requires(Permission.MANAGE_USERS, "user.create"),
        responses=write_errors(409),
        summary="Create a user (then issue it an API key with POST /api-keys)",
    )
    async def create_user(
        self,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        data: JSONBody[UserIn],
    ) -> UserOut:
        user = await users.create_user(
            services,
            username=data.username,
            role=data.role,
            email=data.email,
            password=data.password,
            actor=principal.user_id,
        )
        return user_out(user)

    @get("/", opt=requires(Permission.MANAGE_USERS), responses=read_errors(), summary="Users")
    async def list_users(self, services: NamedDependency[Services]) -> UserList:
        return UserList([user_out(user) for user in await users.list_users(services)])

    @patch(
        "/{user_id:str}",
        opt=requires(Permission.MANAGE_USERS, "user.update"),
        responses=write_errors(404, 409),
        summary="Change a user's role or deactivate / reactivate them",
        description="Deactivating a user makes all their API keys fail at once in the "
        "process that answers, and within CHAINWATCH_API_KEY_CACHE_S (5 s) in other workers. "
        "The last active admin cannot be demoted or deactivated (409).",
    )
    async def update_user(
        self,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        user_id: UserId,
        data: JSONBody[UserPatch],
    ) -> UserOut:
        user = await users.update_user(
            services,
            parse_id(user_id, "user_id"),
            role=data.role,
            active=data.active,
            actor=principal.user_id,
        )
        return user_out(user)
