"""`GET /api/v1/metrics`: the server's request and cache figures, added up
over its workers, in Prometheus' text format, for a scraper on this host
or for LEARNING_ADMIN."""

import ipaddress

from trac.core import Component, implements
from trac.util.translation import _
from trac.web.api import RequestDone

from tracl.api import IApiEndpointProvider
from tracl.server.metrics import METRICS
from tracl.server.prometheus import render_prometheus
from tracl.web.api import ApiError, Endpoint
from tracl.web.openapi import api_errors

#: Headers a proxy adds: a request carrying one did not come from this
#: host, whatever its socket's peer address.
_FORWARDING_HEADERS = ('HTTP_X_FORWARDED_FOR', 'HTTP_FORWARDED',
                       'HTTP_X_REAL_IP')


class MetricsApi(Component):
    """Serves the request and cache metrics to scrapers on this host and
    to LEARNING_ADMIN."""

    implements(IApiEndpointProvider)

    # IApiEndpointProvider methods

    def get_api_endpoints(self):
        yield Endpoint('GET', '/metrics', self._metrics,
                       'Request and cache metrics (Prometheus text format)',
                       auth=False, rate_cost=0,
                       responses={200: {'description':
                                        'Prometheus text format 0.0.4'}})

    # Handlers

    @api_errors(**{'401': 'Not on this host: sign in as LEARNING_ADMIN',
                   '403': 'Signed in without LEARNING_ADMIN'})
    def _metrics(self, req, call):
        self._check_scraper(req, call)
        figures, processes = METRICS.collect()
        body = render_prometheus(figures, processes).encode('utf-8')
        req.send_response(200)
        req.send_header('Content-Type',
                        'text/plain; version=0.0.4; charset=utf-8')
        req.send_header('Cache-Control', 'no-store')
        req.send_header('Content-Length', len(body))
        req.end_headers()
        if req.method != 'HEAD':
            req.write(body)
        raise RequestDone

    # Internal methods

    def _check_scraper(self, req, call):
        """Metrics go to a scraper on this host (a sidecar in the same ECS
        task reaches the server over loopback; nothing from outside does:
        the load balancer's address is never loopback, and a request a
        proxy forwarded is refused) or to LEARNING_ADMIN."""
        if from_this_host(req.environ):
            return
        if call.sub is None:
            raise ApiError(401, _("Metrics are for scrapers on this host "
                                  "and for LEARNING_ADMIN: sign in."),
                           headers={'WWW-Authenticate':
                                    'Bearer realm="TracLearn"'})
        if 'LEARNING_ADMIN' not in req.perm:
            raise ApiError(403, _("Only LEARNING_ADMIN may read the "
                                  "metrics."))


def from_this_host(environ):
    """Whether the connection comes from this host and no proxy forwarded
    it. The socket's peer (`REMOTE_ADDR`) is used, never `X-Forwarded-For`,
    which a client can write."""
    if any(environ.get(header) for header in _FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(environ.get('REMOTE_ADDR') or '') \
            .is_loopback
    except ValueError:
        return False
