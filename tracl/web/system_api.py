"""`GET /api/v1/health`, `GET /api/v1/openapi.json`, `GET /api/v1/me` and
`PUT /api/v1/me/preferences`."""

import math
from importlib.metadata import PackageNotFoundError, version

from trac.core import Component, ExtensionPoint, implements
from trac.perm import PermissionSystem
from trac.util.translation import _

from tracl.api import IApiEndpointProvider, IHealthContributor
from tracl.auth.profile import MAX_PREFERENCES, LearnerProfiles
from tracl.breaker import CLOSED, HALF_OPEN, OPEN, ICircuitBreakers
from tracl.cache import LearningCache
from tracl.study.retention import (MAX_RETENTION, MIN_RETENTION,
                                   RETENTION_PREFERENCE, valid_retention)
from tracl.web.api import API_PREFIX, ApiError, ApiModule, Endpoint
from tracl.web.openapi import build_document

#: Longest preference name and text value.
MAX_PREFERENCE_NAME = 64
MAX_PREFERENCE_VALUE = 1000

_PROFILE_SCHEMA = {
    'type': 'object',
    'required': ['sub', 'username', 'email', 'name', 'groups',
                 'permissions', 'preferences'],
    'properties': {
        'sub': {'type': 'string'}, 'username': {'type': 'string'},
        'email': {'type': ['string', 'null']},
        'name': {'type': ['string', 'null']},
        'groups': {'type': 'array', 'items': {'type': 'string'}},
        'permissions': {'type': 'array', 'items': {'type': 'string'}},
        'preferences': {'type': 'object'},
        # The path the learner created or opened last, to resume it.
        'active_path': {'type': ['string', 'null']}},
}

_PREFERENCE_VALUE = {'type': ['string', 'number', 'boolean']}

_PREFERENCES_REQUEST = {
    'type': 'object', 'required': ['preferences'],
    'properties': {'preferences': {
        'type': 'object', 'maxProperties': MAX_PREFERENCES,
        'properties': {'desired_retention': {
            'type': 'number', 'minimum': 0.70, 'maximum': 0.97,
            'description': 'The share of reviews the learner wants to '
                           'recall ([learning] desired_retention when '
                           'absent); a change applies from each concept\'s '
                           'next review.'}},
        'additionalProperties': _PREFERENCE_VALUE}},
}

_CIRCUIT_SCHEMA = {
    'type': 'object', 'required': ['state', 'failures', 'retry_in'],
    'properties': {'state': {'enum': [CLOSED, OPEN, HALF_OPEN]},
                   'failures': {'type': 'integer', 'minimum': 0},
                   'retry_in': {'type': ['integer', 'null'], 'minimum': 0}},
}

_HEALTH_SCHEMA = {
    'type': 'object', 'required': ['status', 'checks', 'circuits'],
    'properties': {'status': {'enum': ['ok', 'degraded']},
                   'checks': {'type': 'object',
                              'additionalProperties': {'type': 'string'}},
                   'circuits': {'type': 'object',
                                'additionalProperties': _CIRCUIT_SCHEMA}},
}


def _package_version():
    try:
        return version('TracLearn')
    except PackageNotFoundError:
        return 'unknown'


class SystemApi(Component):
    """Health, the API's own description, and the signed-in learner."""

    implements(IApiEndpointProvider)

    health_contributors = ExtensionPoint(IHealthContributor)

    circuit_breakers = ExtensionPoint(ICircuitBreakers)

    # IApiEndpointProvider methods

    def get_api_endpoints(self):
        yield Endpoint('GET', '/health', self._health,
                       'State of the database and outside services',
                       auth=False, rate_cost=0, needs_database=False,
                       responses={200: dict(_HEALTH_SCHEMA,
                                            description='Serving'),
                                  503: dict(_HEALTH_SCHEMA, description=
                                            'The database does not answer')})
        yield Endpoint('GET', '/openapi.json', self._openapi,
                       'This document', auth=False, rate_cost=0,
                       responses={200: {'type': 'object',
                                        'description': 'OpenAPI 3.1'}})
        yield Endpoint('GET', '/me', self._me, 'The signed-in learner',
                       responses={200: dict(_PROFILE_SCHEMA,
                                            description='The learner')})
        yield Endpoint('PUT', '/me/preferences', self._put_preferences,
                       "Replace the learner's preferences",
                       request_schema=_PREFERENCES_REQUEST,
                       responses={200: {
                           'type': 'object', 'required': ['preferences'],
                           'properties': {'preferences': {'type': 'object'}},
                           'description': 'Saved'}})

    # Handlers

    def _health(self, req, call):
        checks = {}
        try:
            self.env.db_query("SELECT 1")
            checks['database'] = 'ok'
        except Exception as e:
            self.log.warning("Health: the database does not answer: %s", e)
            checks['database'] = 'unavailable'
        checks['cache'] = LearningCache(self.env).ping() or 'ok'
        for contributor in self.health_contributors:
            for name, check in contributor.get_health_checks():
                try:
                    checks[name] = check() or 'ok'
                except Exception as e:
                    checks[name] = 'failed: %s' % e
        # Each breaker's state, failures in a row and seconds before its
        # next trial call: read from memory, no service is contacted.
        circuits = {}
        for provider in self.circuit_breakers:
            for name, state in provider.get_circuit_breakers():
                circuits[name] = state()
        healthy = all(value == 'ok' for value in checks.values()) and \
            all(c['state'] == CLOSED for c in circuits.values())
        status = 503 if checks['database'] != 'ok' else 200
        return status, {'status': 'ok' if healthy else 'degraded',
                        'checks': checks, 'circuits': circuits}

    def _openapi(self, req, call):
        endpoints = [e for e, _r, _c in ApiModule(self.env).endpoints()]
        return build_document(endpoints, _package_version(),
                              req.abs_href() + API_PREFIX)

    def _me(self, req, call):
        profile = LearnerProfiles(self.env).get(call.sub)
        granted = PermissionSystem(self.env).get_user_permissions(call.sub)
        actions = sorted(action for action, allowed in granted.items()
                         if allowed and action.startswith(
                             ('LEARNING_', 'TRAC_ADMIN')))
        return dict(profile, permissions=actions)

    def _put_preferences(self, req, call):
        preferences = call.body.get('preferences')
        if not isinstance(preferences, dict):
            raise ApiError(400, _("Send {\"preferences\": {...}}, an object "
                                  "of names and values."))
        if len(preferences) > MAX_PREFERENCES:
            raise ApiError(400, _("At most %(n)d preferences.",
                                  n=MAX_PREFERENCES))
        for name, value in preferences.items():
            if not name or len(name) > MAX_PREFERENCE_NAME:
                raise ApiError(400, _("Preference names are 1 to %(n)d "
                                      "characters.", n=MAX_PREFERENCE_NAME))
            if value is None or not isinstance(value, (str, int, float,
                                                       bool)):
                raise ApiError(400, _("Preference %(name)s must be text, a "
                                      "number or true/false.", name=name))
            if isinstance(value, float) and not math.isfinite(value):
                raise ApiError(400, _("Preference %(name)s must be a finite "
                                      "number.", name=name))
            if isinstance(value, str) and len(value) > MAX_PREFERENCE_VALUE:
                raise ApiError(400, _("Preference %(name)s is longer than "
                                      "%(n)d characters.", name=name,
                                      n=MAX_PREFERENCE_VALUE))
        retention = preferences.get(RETENTION_PREFERENCE)
        if retention is not None and not valid_retention(retention):
            raise ApiError(400, _("Preference %(name)s is the share of "
                                  "reviews to recall, a number from "
                                  "%(low).2f to %(high).2f.",
                                  name=RETENTION_PREFERENCE,
                                  low=MIN_RETENTION, high=MAX_RETENTION),
                           code='invalid_desired_retention')
        profile = LearnerProfiles(self.env).update(call.sub,
                                                   preferences=preferences)
        return {'preferences': profile['preferences']}
