"""The public home page, login and logout."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from multibuzz.errors import AuthenticationError, RateLimitedError
from multibuzz.http.deps import ContainerDep, TenancyDep
from multibuzz.services.login_throttle import LoginThrottle
from multibuzz.web.deps import Form, WebActor
from multibuzz.web.nav import landing
from multibuzz.web.render import render
from multibuzz.web.security import CSRF_COOKIE, SESSION_COOKIE, cookie_secure, new_seed, safe_next

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return render(request, "home.html")


@router.get("/app", response_class=HTMLResponse)
def app_root(actor: WebActor) -> Response:
    return RedirectResponse(landing(actor), status_code=303)


@router.get("/app/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return render(request, "login.html", next=safe_next(request.query_params.get("next")), error=None, email="")


@router.post("/app/login", response_class=HTMLResponse)
def login(request: Request, form: Form, tenancy: TenancyDep, container: ContainerDep) -> Response:
    settings = container.settings
    email = form.get("email", "").strip()
    next_path = safe_next(form.get("next"), default="")
    ip = request.client.host if request.client else None
    throttle = LoginThrottle(
        container.session_factory,
        container.clock,
        settings.login_max_failures_per_email,
        settings.login_max_failures_per_ip,
        timedelta(seconds=settings.login_throttle_window_seconds),
    )
    expires = timedelta(minutes=settings.jwt_expiry_minutes)
    try:
        throttle.attempt(email, ip)
        token, _user, _account = tenancy.login(
            email, form.get("password", ""), jwt_secret=settings.jwt_secret.get_secret_value(), expires_in=expires
        )
    except RateLimitedError as exc:
        return render(request, "login.html", status_code=429, next=next_path, error=exc.message, email=email)
    except AuthenticationError:
        return render(
            request, "login.html", status_code=401, next=next_path, error="Wrong e-mail or password.", email=email
        )
    throttle.succeeded(email, ip)
    response = RedirectResponse(next_path or "/app", status_code=303)  # /app sends each role to its landing page
    secure = cookie_secure(settings.stage)
    max_age = int(expires.total_seconds())
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, new_seed(), httponly=True, samesite="lax", secure=secure, path="/")
    return response


@router.post("/app/logout", response_class=HTMLResponse)
def logout(form: Form, container: ContainerDep) -> Response:
    response = RedirectResponse("/app/login?logged_out=1", status_code=303)
    secure = cookie_secure(container.settings.stage)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
    response.set_cookie(CSRF_COOKIE, new_seed(), httponly=True, samesite="lax", secure=secure, path="/")
    return response
