"""``/admin``: users and API keys (admins only; the audit log and backups are in
``entrypoints.web.admin_records``).

Every change is a form POST (CSRF-checked by the guard) through the same use case as the
API - ``create_user``, ``update_user``, ``issue_api_key``, ``revoke_api_key`` - so the same
validation applies and the same audit rows are written. A refused change (a taken
username, an unknown role, the last admin) re-renders the page with the message beside the
form and the status the API would answer, never a 500.

A new key's token is on the page that answers the POST, and nowhere else: it is not
stored, not put in a URL or a cookie, and not logged; the listing shows only its prefix.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Template

from domain.errors import ApiKeyNotFound, DomainError, InvalidInput
from domain.model import APIKey, Role
from domain.services import users
from domain.services.auth import Permission
from entrypoints.http.params import parse_id
from entrypoints.http.problems import classify
from entrypoints.http.security import requires
from entrypoints.web.inbox import _instant as instant
from entrypoints.web.rendering import back_to, field, page, query_string
from entrypoints.web.session import Console, signed_in

UserId = Annotated[str, Parameter(description="The user's id")]
KeyId = Annotated[str, Parameter(description="The API key's id")]
ROLES = [role.value for role in Role]
ADMIN_SECTIONS = [
    ("Users", "/admin/users", Permission.MANAGE_USERS),
    ("API keys", "/admin/keys", Permission.MANAGE_USERS),
    ("Audit log", "/admin/audit", Permission.READ_AUDIT),
    ("Backups", "/admin/backups", Permission.READ_BACKUPS),
]
DONE = {
    "created": "User {name} created.",
    "deactivated": "User {name} deactivated: their keys and sessions stopped working.",
    "reactivated": "User {name} reactivated.",
    "revoked": "API key {name} revoked: it is refused from now on.",
}


def admin_page(
    request: Request[Any, Any, Any],
    console: Console,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> Template:
    """``page`` with the admin section's own navigation (``sections``)."""
    principal = signed_in(request)
    sections = [(label, href) for label, href, need in ADMIN_SECTIONS if principal.may(need)]
    return page(
        request,
        console,
        template,
        {**context, "sections": sections},
        status_code=status_code,
    )


async def refused(
    request: Request[Any, Any, Any], error: DomainError
) -> tuple[int, str, str | None]:
    """For a change the page refuses (and shows): the audit rows the app writes for a
    failed change (its ``after_exception`` hooks, ``entrypoints.http.audit``), as if the
    error had escaped; then ``refusal(error)``."""
    for hook in request.app.after_exception:
        await hook(error, request.scope)
    return refusal(error)


def refusal(error: DomainError) -> tuple[int, str, str | None]:
    """The status the API answers for ``error``, its message and the field it names."""
    problem = classify(error)
    status = 400 if problem is None else problem.status
    return status, error.message, getattr(error, "field", None)


def _done(request: Request[Any, Any, Any]) -> str | None:
    what = request.query_params.get("done")
    name = (request.query_params.get("name") or "")[:80]
    return None if what not in DONE else DONE[what].format(name=name)


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False

    @get("/", opt=requires(Permission.MANAGE_USERS))
    async def home(self) -> Response[Any]:
        return back_to(None, "/admin/users")

    @get("/users", opt=requires(Permission.MANAGE_USERS))
    async def list_users(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console]
    ) -> Template:
        return await self._users_page(request, console, notice=_done(request))

    @post("/users", opt=requires(Permission.MANAGE_USERS, "user.create"))
    async def create_user(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console]
    ) -> Response[Any]:
        form = await request.form()
        entered = _entered(form, "username", "role", "email")
        password = form.get("password")
        try:
            for name, longest in (("username", 200), ("role", 32), ("email", 320)):
                field(form, name, max_length=longest)
            if not entered["username"]:
                raise InvalidInput("enter a username", field="username")
            if password is not None and not isinstance(password, str):
                raise InvalidInput("password must be text", field="password")
            user = await users.create_user(
                console.services,
                entered["username"],
                entered["role"],
                email=entered["email"] or None,
                password=password or None,
                actor=signed_in(request).user_id,
            )
        except DomainError as error:
            status, message, failed = await refused(request, error)
            return await self._users_page(
                request, console, entered=entered, error=message, failed=failed, status=status
            )
        return back_to(None, "/admin/users?" + query_string([], done="created", name=user.username))

    @post("/users/{user_id:str}/active", opt=requires(Permission.MANAGE_USERS, "user.update"))
    async def set_active(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        user_id: UserId,
    ) -> Response[Any]:
        form = await request.form()
        try:
            identifier = parse_id(user_id, "user_id")
            wanted = field(form, "active", max_length=8)
            if wanted not in ("true", "false"):
                raise InvalidInput("active must be true or false", field="active")
            user = await users.update_user(
                console.services,
                identifier,
                active=wanted == "true",
                actor=signed_in(request).user_id,
            )
        except DomainError as error:
            status, message, failed = await refused(request, error)
            return await self._users_page(
                request, console, error=message, failed=failed, status=status
            )
        done = "reactivated" if user.active else "deactivated"
        return back_to(None, "/admin/users?" + query_string([], done=done, name=user.username))

    async def _users_page(
        self,
        request: Request[Any, Any, Any],
        console: Console,
        *,
        entered: Mapping[str, str] | None = None,
        notice: str | None = None,
        error: str | None = None,
        failed: str | None = None,
        status: int = 200,
    ) -> Template:
        everyone = await users.list_users(console.services)
        keys = await users.list_api_keys(console.services)
        live = _live_key_counts(keys, console.services.clock.now())
        context = {
            "users": everyone,
            "live_keys": live,
            "roles": ROLES,
            "entered": entered or {"username": "", "role": Role.ANALYST.value, "email": ""},
            "notice": notice,
            "error": error,
            "failed": failed,
        }
        return admin_page(request, console, "admin_users.html", context, status_code=status)

    @get("/keys", opt=requires(Permission.MANAGE_USERS))
    async def list_keys(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console]
    ) -> Template:
        return await self._keys_page(request, console, notice=_done(request))

    @post("/keys", opt=requires(Permission.MANAGE_USERS, "api_key.issue"))
    async def issue_key(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console]
    ) -> Template:
        form = await request.form()
        entered = _entered(form, "user", "name", "expires_at")
        try:
            for name, longest in (("user", 64), ("name", 400), ("expires_at", 40)):
                field(form, name, max_length=longest)
            if not entered["user"]:
                raise InvalidInput("choose the user the key is for", field="user")
            owner = parse_id(entered["user"], "user")
            issued = await users.issue_api_key(
                console.services,
                owner,
                name=entered["name"],
                expires_at=instant(entered["expires_at"], "expires_at"),
                actor=signed_in(request).user_id,
            )
        except DomainError as error:
            status, message, failed = await refused(request, error)
            return await self._keys_page(
                request, console, entered=entered, error=message, failed=failed, status=status
            )
        # The only time the token is shown: this answer (not cached: ``page`` says no-store).
        return await self._keys_page(request, console, issued=issued, status=201)

    @get("/keys/{key_id:str}/revoke", opt=requires(Permission.MANAGE_USERS))
    async def confirm_revoke(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        key_id: KeyId,
    ) -> Template:
        key = await _find_key(console, parse_id(key_id, "key_id"))
        owners = {user.id: user for user in await users.list_users(console.services)}
        context = {"key": key, "owner": owners.get(key.user_id)}
        return admin_page(request, console, "admin_revoke.html", context)

    @post("/keys/{key_id:str}/revoke", opt=requires(Permission.MANAGE_USERS, "api_key.revoke"))
    async def revoke_key(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        key_id: KeyId,
    ) -> Response[Any]:
        form = await request.form()
        if field(form, "confirm", max_length=8) != "yes":
            raise InvalidInput("tick the box to confirm the revocation", field="confirm")
        key = await users.revoke_api_key(
            console.services, parse_id(key_id, "key_id"), actor=signed_in(request).user_id
        )
        return back_to(None, "/admin/keys?" + query_string([], done="revoked", name=key.prefix))

    async def _keys_page(
        self,
        request: Request[Any, Any, Any],
        console: Console,
        *,
        entered: Mapping[str, str] | None = None,
        issued: users.IssuedKey | None = None,
        notice: str | None = None,
        error: str | None = None,
        failed: str | None = None,
        status: int = 200,
    ) -> Template:
        everyone = await users.list_users(console.services)
        owners = {user.id: user for user in everyone}
        only = request.query_params.get("user") if request.method == "GET" else None
        owner_id = _optional_id(only)
        keys = await users.list_api_keys(console.services, owner_id)
        keys.sort(
            key=lambda k: (owners[k.user_id].username if k.user_id in owners else "", k.created_at)
        )
        context = {
            "keys": keys,
            "owners": owners,
            "users": everyone,
            "only": owner_id,
            "now": console.services.clock.now(),
            "entered": entered
            or {"user": "" if owner_id is None else str(owner_id), "name": "", "expires_at": ""},
            "issued": issued,
            "notice": notice,
            "error": error,
            "failed": failed,
        }
        return admin_page(request, console, "admin_keys.html", context, status_code=status)


def _entered(form: FormMultiDict, *names: str) -> dict[str, str]:
    """What was typed into ``names``, to show the form again (bounded: a refused value may
    be too long to keep whole)."""
    entered = {}
    for name in names:
        value = form.get(name)
        entered[name] = value.strip()[:400] if isinstance(value, str) else ""
    return entered


def _live_key_counts(keys: list[APIKey], now: datetime) -> dict[uuid.UUID, int]:
    counts: dict[uuid.UUID, int] = {}
    for key in keys:
        if key.revoked_at is None and (key.expires_at is None or key.expires_at > now):
            counts[key.user_id] = counts.get(key.user_id, 0) + 1
    return counts


async def _find_key(console: Console, key_id: uuid.UUID) -> APIKey:
    for key in await users.list_api_keys(console.services):
        if key.id == key_id:
            return key
    raise ApiKeyNotFound(key_id)


def _optional_id(text: str | None) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidInput("user must be a user's id", field="user") from None


__all__ = ["AdminPages", "admin_page", "refusal", "refused"]
