"""One request, one answer, on a kept-alive connection.

tracd speaks HTTP/1.1 and keeps connections open. When the API answers a
request with a body early (401 without credentials, 403 for a missing
X-CSRF-Token, 404, 405, 415, 429), it must first read the body: unread
bytes would stay in the connection and tracd would parse them as the start
of the next request (a body that is itself an HTTP request would be
answered as a second request: request smuggling behind a proxy that reuses
its connections). A body too large to read is answered with the
connection closed.
"""

import http.client
import json
from urllib.parse import urlsplit

import pytest

#: Seconds one request may take.
HTTP_TIMEOUT = 30.0

BODY = json.dumps({'preferences': {'theme': 'dark'}})

#: Requests the API answers before it reads their body.
UNREAD_BODIES = [
    pytest.param('PUT', '/api/v1/me/preferences', 401,
                 id='401-without-credentials'),
    pytest.param('PUT', '/api/v1/no-such-endpoint', 404, id='404-no-route'),
    pytest.param('POST', '/api/v1/me', 405, id='405-wrong-method'),
]


@pytest.mark.parametrize('method, path, status', UNREAD_BODIES)
def test_an_answer_before_the_body_is_read_leaves_the_connection_usable(
        live_server, method, path, status):
    address = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port,
                                            timeout=HTTP_TIMEOUT)
    try:
        connection.request(method, path, body=BODY,
                           headers={'Content-Type': 'application/json'})
        first = connection.getresponse()
        first.read()
        assert first.status == status
        # The same connection, unless the server asked to close it.
        connection.request('GET', '/api/v1/health')
        second = connection.getresponse()
        answer = second.read()
        assert second.status == 200, answer[:300]
        assert json.loads(answer)['status'] in ('ok', 'degraded')
    finally:
        connection.close()
