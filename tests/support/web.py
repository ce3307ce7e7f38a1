"""Requests through Trac's real dispatcher, in process: authentication,
request filters, handlers and error pages run as under tracd."""

import io
import json
import sys
from http.cookies import SimpleCookie

from trac.web.api import HTTPException, RequestDone
from trac.web.main import (RequestDispatcher, RequestWithSession,
                           _send_user_error, send_internal_error)


class Response(object):

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def cookies(self):
        jar = SimpleCookie()
        for key, value in self.headers:
            if key.lower() == 'set-cookie':
                jar.load(value)
        return {name: morsel.value for name, morsel in jar.items()}

    @property
    def text(self):
        return self.body.decode('utf-8')

    def json(self):
        return json.loads(self.body.decode('utf-8'))

    def __repr__(self):
        return '<Response %d %r>' % (self.status, self.body[:200])


def call(env, method, path, body=None, headers=None, cookies=None,
         query='', remote_addr='127.0.0.1'):
    """Send one request to `env` and return its `Response`. `body` may be
    bytes, or an object sent as JSON."""
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode('utf-8')
        headers = dict({'Content-Type': 'application/json'}, **(headers or {}))
    body = body or b''
    environ = {
        'REQUEST_METHOD': method, 'PATH_INFO': path, 'SCRIPT_NAME': '',
        'QUERY_STRING': query, 'SERVER_NAME': 'localhost',
        'SERVER_PORT': '80', 'REMOTE_ADDR': remote_addr,
        'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(body),
        'wsgi.errors': sys.stderr, 'CONTENT_LENGTH': str(len(body)),
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace('-', '_')
        if key in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
            environ[key] = value
        else:
            environ['HTTP_' + key] = value
    if cookies:
        environ['HTTP_COOKIE'] = '; '.join('%s=%s' % item
                                           for item in cookies.items())
    started = {}
    chunks = []

    def start_response(status, response_headers, exc_info=None):
        started['status'] = int(status.split()[0])
        started['headers'] = response_headers
        return chunks.append

    req = RequestWithSession(environ, start_response)
    dispatcher = RequestDispatcher(env)
    dispatcher.set_default_callbacks(req)
    try:
        try:
            dispatcher.dispatch(req)
        except RequestDone as done:
            if done.iterable:
                chunks.extend(done.iterable)
    except HTTPException as e:
        _send_user_error(req, env, e)
    except Exception:
        send_internal_error(env, req, sys.exc_info())
    if req._response:
        chunks.extend(req._response)
    return Response(started.get('status'), started.get('headers', []),
                    b''.join(chunks))
