"""A tiny browser: cookies, HTML forms, and manual redirects.

It walks the login pages the way a person would (choose a connector, fill the login form,
press Grant Access) and stops at the first redirect to the client's redirect_uri, so nothing
ever tries to connect to the client (http://127.0.0.1:5555 is not listening).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

REDIRECT_STATUSES = {301, 302, 303, 307, 308}


@dataclass
class Form:
    id: str | None
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    field_types: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # (name, value, text)


@dataclass
class Link:
    href: str
    classes: list[str]
    text: str


class PageParser(HTMLParser):
    """Collects forms (inputs, hidden ones too, and named buttons) and links from a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[Link] = []
        self._form: Form | None = None
        self._button: list[str] | None = None
        self._link: Link | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("id"), a.get("action", ""), (a.get("method") or "get").lower())
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            name = a.get("name")
            kind = (a.get("type") or "text").lower()
            if not name or kind in {"submit", "button", "image", "reset"}:
                if name and kind == "submit":
                    self._form.buttons.append((name, a.get("value", ""), a.get("value", "")))
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            self._form.fields[name] = a.get("value", "")
            self._form.field_types[name] = kind
        elif tag == "button" and self._form is not None:
            self._button = [a.get("name", ""), a.get("value", ""), ""]
        elif tag == "a":
            self._link = Link(a.get("href", ""), (a.get("class") or "").split(), "")
            self.links.append(self._link)

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button[2] += data
        if self._link is not None:
            self._link.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "button" and self._button is not None:
            if self._form is not None:
                name, value, text = self._button
                self._form.buttons.append((name, value, " ".join(text.split())))
            self._button = None
        elif tag == "a" and self._link is not None:
            self._link.text = " ".join(self._link.text.split())
            self._link = None


@dataclass
class Page:
    url: str
    status: int
    text: str
    forms: list[Form]
    links: list[Link]

    def form(self, form_id: str) -> Form | None:
        return next((f for f in self.forms if f.id == form_id), None)


@dataclass
class Arrival:
    """The redirect that reached the client: its URL and decoded query."""

    url: str
    params: dict[str, str]
    pages: list[Page]  # every HTML page seen on the way, in order

    def page_with_form(self, form_id: str) -> Page | None:
        return next((p for p in self.pages if p.form(form_id) is not None), None)


class FlowError(AssertionError):
    pass


class Browser:
    def __init__(self) -> None:
        self.session = requests.Session()
        # Never route loopback traffic through a proxy or CA bundle from the environment.
        self.session.trust_env = False

    def parse(self, resp: requests.Response) -> Page:
        parser = PageParser()
        parser.feed(resp.text)
        return Page(resp.url, resp.status_code, resp.text, parser.forms, parser.links)

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.session.get(url, allow_redirects=False, timeout=15, **kwargs)

    def submit(self, page: Page, form: Form, values: dict[str, str] | None = None,
               button: tuple[str, str] | None = None) -> requests.Response:
        """Submits form as a browser would: all its fields, overrides, and the pressed button."""
        data = dict(form.fields)
        data.update(values or {})
        if button is not None and button[0]:
            data[button[0]] = button[1]
        action = urljoin(page.url, form.action) if form.action else page.url
        if form.method == "post":
            return self.session.post(action, data=data, allow_redirects=False, timeout=15)
        return self.session.get(action, params=data, allow_redirects=False, timeout=15)

    def authorize(
        self,
        auth_url: str,
        redirect_uri: str,
        *,
        login: str | None = None,
        password: str | None = None,
        connector: str | None = None,
        approve: bool = True,
    ) -> Arrival:
        """Starts at auth_url and walks pages and redirects until redirect_uri is reached.

        connector: on the chooser page, follow the link to /auth/<connector>.
        login/password: filled into <form id="login-form"> when one is shown.
        approve: press Grant Access on <form id="approve-form"> when shown (else fail).
        """
        result = self._walk(auth_url, redirect_uri, login, password, connector, approve, stop_at_form=None)
        assert isinstance(result, Arrival)
        return result

    def walk_to_form(
        self,
        auth_url: str,
        form_id: str,
        *,
        login: str | None = None,
        password: str | None = None,
        connector: str | None = None,
    ) -> Page:
        """Like authorize, but stops at (and returns) the first page showing <form id=form_id>."""
        result = self._walk(auth_url, None, login, password, connector, True, stop_at_form=form_id)
        if not isinstance(result, Page):
            raise FlowError(f"reached the client ({result.url}) without seeing form {form_id!r}")
        return result

    def _walk(self, auth_url, redirect_uri, login, password, connector, approve, *, stop_at_form, max_steps=25):
        pages: list[Page] = []
        resp = self.get(auth_url)
        for _ in range(max_steps):
            if resp.status_code in REDIRECT_STATUSES:
                location = resp.headers.get("Location")
                if not location:
                    raise FlowError(f"{resp.status_code} from {resp.url} without a Location header")
                target = urljoin(resp.url, location)
                if redirect_uri is not None and _same_endpoint(target, redirect_uri):
                    query = parse_qs(urlsplit(target).query, keep_blank_values=True)
                    return Arrival(target, {k: v[0] for k, v in query.items()}, pages)
                if redirect_uri is None and urlsplit(target).netloc != urlsplit(resp.url).netloc:
                    raise FlowError(f"left the server for {target} before form {stop_at_form!r}")
                resp = self.get(target)
                continue
            page = self.parse(resp)
            pages.append(page)
            if resp.status_code != 200:
                raise FlowError(f"{resp.status_code} at {resp.url}: {_snippet(resp.text)}")
            if stop_at_form is not None and page.form(stop_at_form) is not None:
                return page
            resp = self._act(page, login, password, connector, approve)
        raise FlowError(f"no redirect to {redirect_uri} after {max_steps} steps; last page {resp.url}")

    def _act(self, page: Page, login, password, connector, approve) -> requests.Response:
        login_form = page.form("login-form")
        if login_form is not None:
            if login is None or password is None:
                raise FlowError(f"login form shown at {page.url} but no credentials given")
            button = next(((n, v) for n, v, _ in login_form.buttons if n), None)
            return self.submit(page, login_form, {"login": login, "password": password}, button)
        approve_form = page.form("approve-form")
        if approve_form is not None:
            if not approve:
                raise FlowError(f"approval page shown at {page.url}")
            button = next(((n, v) for n, v, _ in approve_form.buttons if n == "approval"), ("approval", "approve"))
            return self.submit(page, approve_form, button=button)
        choices = [link for link in page.links if "connector" in link.classes]
        if choices:
            if connector is None:
                raise FlowError(f"connector chooser at {page.url} but no connector given")
            pattern = re.compile(rf"/auth/{re.escape(connector)}(?:[/?#]|$)")
            chosen = next((link for link in choices if pattern.search(link.href)), None)
            if chosen is None:
                raise FlowError(f"no link to connector {connector!r} in {[c.href for c in choices]}")
            return self.get(urljoin(page.url, chosen.href))
        raise FlowError(f"nothing to do on {page.url}: {_snippet(page.text)}")


def _same_endpoint(url: str, redirect_uri: str) -> bool:
    a, b = urlsplit(url), urlsplit(redirect_uri)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def _snippet(text: str, limit: int = 400) -> str:
    text = re.sub(r"<style.*?</style>", "", text, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:limit]
