"""``/sign-in`` and ``/sign-out``: an API key or a username and password becomes a
session cookie (``domain.services.sessions``); failed sign-ins count against the client's
address exactly like failed API authentications (``CHAINWATCH_AUTH_FAILURES_PER_ADDRESS``),
and past the limit the address is refused with 429 until the window ends."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from domain.services.auth import AuthenticationFailed, Permission
from domain.services.auth_failures import FailedAuthentication
from domain.services.sessions import (
    SignedIn,
    sign_in_with_api_key,
    sign_in_with_password,
    sign_out,
)
from entrypoints.http.context import request_context
from entrypoints.http.security import requires
from entrypoints.web.rendering import back_to, field, is_local
from entrypoints.web.session import (
    PUBLIC,
    SIGN_IN_COOKIE,
    Console,
    new_sign_in_token,
    no_store,
    session_token,
)

SIGN_IN_RESOURCE = "console/sign-in"
HOME = "/inbox"


class SignInController(Controller):
    path = "/"
    include_in_schema = False

    @get("/", opt=PUBLIC)
    async def home(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """The console's front door: the inbox (which sends strangers to sign in)."""
        return back_to(HOME, HOME)

    @get("/sign-in", opt=PUBLIC)
    async def form(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console]
    ) -> Template:
        wanted = request.query_params.get("next")
        return _form(request, console, next_path=wanted if is_local(wanted) else None)

    @post("/sign-in", opt=PUBLIC, status_code=303)
    async def sign_in(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console]
    ) -> Response[Any]:
        form = await request.form()
        wanted = field(form, "next", max_length=2000)
        ip = request_context(request.scope).ip
        console.limits.failures.check(ip, SIGN_IN_RESOURCE)
        method = field(form, "method", max_length=16) or "password"
        try:
            signed = await _sign_in(console, method, form)
        except AuthenticationFailed as failure:
            await console.limits.failures.failed(
                ip,
                FailedAuthentication(
                    reason=failure.message,
                    resource=SIGN_IN_RESOURCE,
                    key_prefix=failure.key_prefix,
                    route="POST /sign-in",
                ),
            )
            return _form(
                request,
                console,
                next_path=wanted if is_local(wanted) else None,
                error=failure.message,
                method=method,
                username=field(form, "username", max_length=64),
                status_code=401,
            )
        response = back_to(wanted, HOME)
        response.set_cookie(console.session_cookie(request, signed.token))
        response.delete_cookie(SIGN_IN_COOKIE, path="/sign-in")
        return response

    @post("/sign-out", opt=requires(Permission.READ, "session.sign_out"), status_code=303)
    async def sign_out(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console]
    ) -> Response[Any]:
        await sign_out(console.services, session_token(request))
        response = back_to("/sign-in", "/sign-in")
        response.set_cookie(console.ended_session_cookie(request))
        return response


async def _sign_in(console: NamedDependency[Console], method: str, form: Any) -> SignedIn:
    if method == "api-key":
        key = field(form, "api_key", max_length=200) or ""
        return await sign_in_with_api_key(console.services, key.strip(), console.policy)
    username = field(form, "username", max_length=64) or ""
    password = form.get("password")
    if not isinstance(password, str) or not password or len(password) > 1024:
        raise AuthenticationFailed("enter your username and password")
    return await sign_in_with_password(console.services, username, password, console.policy)


def _form(
    request: Request[Any, Any, Any],
    console: Console,
    *,
    next_path: str | None,
    error: str | None = None,
    method: str = "password",
    username: str | None = None,
    status_code: int = 200,
) -> Template:
    """The sign-in page, with a fresh double-submit CSRF token in its forms and cookie."""
    token = new_sign_in_token()
    response = Template(
        "sign_in.html",
        context={
            "csrf": token,
            "next_path": next_path,
            "error": error,
            "method": method,
            "username": username or "",
            "principal": None,
        },
        status_code=status_code,
    )
    response.set_cookie(console.sign_in_cookie(request, token))
    no_store(response)
    return response
