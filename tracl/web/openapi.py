"""The OpenAPI 3.1 document of `/api/v1`, built from the endpoints the
providers declare, so it cannot drift from what is served."""

import re

from tracl.web.api import SAFE_METHODS

ERROR_SCHEMA = {
    'type': 'object', 'required': ['error'],
    'properties': {'error': {
        'type': 'object', 'required': ['code', 'message'],
        'properties': {'code': {'type': 'string'},
                       'message': {'type': 'string'}},
        'additionalProperties': True}},
}

#: Errors any endpoint may answer, whatever it does.
_COMMON_ERRORS = {'413': 'Request body too large',
                  '415': 'Body is not application/json',
                  '429': 'Too many requests'}
_AUTH_ERRORS = {'401': 'Missing or invalid credentials'}
#: Only a write signed in by the session cookie needs the CSRF token.
_CSRF_ERRORS = {'403': 'CSRF token missing or wrong'}
_BODY_ERRORS = {'400': 'Invalid input'}
#: A read of another learner's data (`?user=`) is an instructor's.
_READER_ERRORS = {'403': '`?user=` without LEARNING_ADMIN'}
_USER_PARAMETER = {
    'name': 'user', 'in': 'query', 'required': False,
    'schema': {'type': 'string'},
    'description': "Read this learner's data instead of the caller's "
                   "(their `sub`; LEARNING_ADMIN only)."}
_DATABASE_ERRORS = {'503': 'A service, or the database, does not answer'}


def _operation_id(method, path):
    words = re.findall(r'[a-zA-Z]+', path)
    return method.lower() + ''.join(w.capitalize() for w in words)


def _error(description):
    return {'description': description, 'content': {
        'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}}


def build_document(endpoints, version, server_url):
    paths = {}
    for endpoint in endpoints:
        path = re.sub(r'\{(\w+):int\}', r'{\1}', endpoint.path)
        operation = {'summary': endpoint.summary,
                     'operationId': _operation_id(endpoint.method, path),
                     'responses': {}}
        parameters = [{'name': name, 'in': 'path', 'required': True,
                       'schema': {'type': 'integer', 'minimum': 0}
                       if kind == 'int' else {'type': 'string'}}
                      for name, kind in re.findall(r'\{(\w+)(?::(int))?\}',
                                                   endpoint.path)]
        parameters.extend(getattr(endpoint.handler, 'query_parameters', ()))
        if getattr(endpoint.handler, 'reads_a_learner', False):
            parameters.append(_USER_PARAMETER)
        if parameters:
            operation['parameters'] = parameters
        if endpoint.request_schema is not None:
            operation['requestBody'] = {'required': True, 'content': {
                'application/json': {'schema': endpoint.request_schema}}}
        for status, schema in endpoint.responses.items():
            response = {'description': schema.get('description', 'OK')
                        if schema else 'No content'}
            body = {k: v for k, v in (schema or {}).items()
                    if k != 'description'}
            if body:
                response['content'] = {'application/json': {'schema': body}}
            operation['responses'][str(status)] = response
        errors = dict(_COMMON_ERRORS)
        if endpoint.auth:
            errors.update(_AUTH_ERRORS)
            if endpoint.method not in SAFE_METHODS:
                errors.update(_CSRF_ERRORS)
            operation['security'] = [{'bearer': []}, {'session': []}]
        else:
            operation['security'] = []
        if endpoint.request_schema is not None:
            errors.update(_BODY_ERRORS)
        if endpoint.needs_database:
            errors.update(_DATABASE_ERRORS)
        if getattr(endpoint.handler, 'reads_a_learner', False):
            errors.update(_READER_ERRORS)
        for status, description in getattr(endpoint.handler,
                                            'api_errors', {}).items():
            # A status the frame answers too (a CSRF 403, a body's 400)
            # keeps both reasons: either may be the one a caller gets.
            status = str(status)
            errors[status] = '%s; %s' % (errors[status], description) \
                if errors.get(status) not in (None, description) \
                else description
        for status, description in errors.items():
            operation['responses'].setdefault(status, _error(description))
        paths.setdefault(path, {})[endpoint.method.lower()] = operation
    return {
        'openapi': '3.1.0',
        'info': {'title': 'TracLearn API', 'version': version,
                 'description': 'Question-based learning paths in Trac.'},
        'servers': [{'url': server_url}],
        'paths': paths,
        'components': {
            'schemas': {'Error': ERROR_SCHEMA},
            'securitySchemes': {
                'bearer': {'type': 'http', 'scheme': 'bearer',
                           'bearerFormat': 'JWT',
                           'description': 'A Cognito ID or access token.'},
                'session': {'type': 'apiKey', 'in': 'cookie',
                            'name': 'trac_auth',
                            'description': 'The Trac session cookie; '
                            'writes also need the X-CSRF-Token header.'}}},
    }


def api_errors(**statuses):
    """Decorate a handler with the error statuses it answers, for the
    document: `@api_errors(**{'404': 'No such concept'})`."""
    def decorate(handler):
        handler.api_errors = dict(getattr(handler, 'api_errors', {}),
                                  **statuses)
        return handler
    return decorate


def query_parameters(**parameters):
    """Decorate a handler with the query parameters it reads, for the
    document: `@query_parameters(limit=({'type': 'integer'}, 'Items a
    page'))`, each optional."""
    def decorate(handler):
        handler.query_parameters = [
            {'name': name, 'in': 'query', 'required': False,
             'schema': schema, 'description': description}
            for name, (schema, description) in sorted(parameters.items())]
        return handler
    return decorate


def reads_a_learner(handler):
    """Decorate a read handler that reads whose data `reader_sub` says:
    the document lists its `user` parameter and the 403 it brings."""
    handler.reads_a_learner = True
    return handler
