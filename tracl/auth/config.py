"""The `[cognito]` settings: which user pool TracLearn trusts and how to
reach it. Everything that talks to Cognito reads them from here."""

from trac.config import BoolOption, FloatOption, IntOption, ListOption, \
    Option
from trac.core import Component

#: What `allow_emulator` guards against: the emulator's signing key ships
#: inside the moto package, so anyone can forge tokens it would accept.
EMULATOR_WARNING = ("Sign-in uses a LOCAL COGNITO EMULATOR whose signing key "
                    "is public: anyone can forge its tokens. Never use it "
                    "for real learners.")


class CognitoConfig(Component):
    """The Cognito user pool TracLearn signs learners in with."""

    region = Option('cognito', 'region', 'us-east-1',
        """AWS region of the user pool.""")

    user_pool_id = Option('cognito', 'user_pool_id', '',
        """Id of the Cognito user pool, e.g. `us-east-1_AbCdEf123`.""")

    client_id = Option('cognito', 'client_id', '',
        """Id of the user pool's app client TracLearn signs in with (a
        public client: no secret).""")

    jwks_uri = Option('cognito', 'jwks_uri', '',
        """Where the pool's public keys are. Empty: the pool's own
        `https://cognito-idp.{region}.amazonaws.com/{pool}/.well-known/jwks.json`.
        Set it for the local emulator, which serves keys on 127.0.0.1.""")

    endpoint_url = Option('cognito', 'endpoint_url', '',
        """Cognito API endpoint. Empty: AWS's endpoint for the region. Set
        it to the local emulator's address (`http://127.0.0.1:PORT`).""")

    allow_emulator = BoolOption('cognito', 'allow_emulator', 'false',
        """Trust a local Cognito emulator (moto). Its signing key is public,
        so anyone could forge tokens: only for the demo and tests. When on,
        every page shows a banner saying so.""")

    leeway = IntOption('cognito', 'leeway', 30,
        """Seconds of clock difference tolerated when checking `exp`,
        `iat` and `nbf`.""")

    timeout = FloatOption('cognito', 'timeout', 5.0,
        """Seconds to wait for Cognito or its key set to answer.""")

    jwks_refresh_cooldown = IntOption('cognito', 'jwks_refresh_cooldown', 60,
        """Least number of seconds between two fetches of the key set caused
        by tokens with an unknown key id, so a flood of forged key ids
        cannot hammer Cognito.""")

    jwks_max_age = IntOption('cognito', 'jwks_max_age', 3600,
        """Seconds the key set is kept before it is fetched again.""")

    refresh_margin = IntOption('cognito', 'refresh_margin', 300,
        """Seconds before the access token expires at which a browser
        session refreshes it, so a learner is never signed out mid-answer.""")

    hosted_ui_url = Option('cognito', 'hosted_ui_url', '',
        """Address of the pool's hosted UI domain
        (`https://DOMAIN.auth.REGION.amazoncognito.com` or a custom
        domain). When set, the login page also offers the hosted UI
        (authorization code with PKCE); register
        `BASE_URL/login/callback` as the app client's callback URL.""")

    hosted_ui_scopes = Option('cognito', 'hosted_ui_scopes',
        'openid email profile',
        """OAuth scopes asked of the hosted UI.""")

    group_map = ListOption('cognito', 'group_map',
        'Students:learner, Instructors:admin, Administrators:admin',
        doc="""Cognito groups (`cognito:groups`) and the Trac permission
        groups their members belong to, as `CognitoGroup:trac_group`
        pairs. Environment setup grants `learner` LEARNING_STUDY and
        TICKET_APPEND (comments on their own concepts; no wiki edits, new
        tickets or batch modify), and `admin` LEARNING_ADMIN with wiki and
        ticket editing and TICKET_BATCH_MODIFY; `anonymous` and
        `authenticated` only read.""")

    @property
    def issuer(self):
        """The `iss` every token must carry, compared exactly."""
        return 'https://cognito-idp.%s.amazonaws.com/%s' % (
            self.region, self.user_pool_id)

    @property
    def keys_uri(self):
        """The key set's address: `jwks_uri`, or the pool's own."""
        return self.jwks_uri or self.issuer + '/.well-known/jwks.json'

    @property
    def is_emulator(self):
        """Whether the configured endpoint is a local emulator."""
        return bool(self.endpoint_url) and self.allow_emulator

    @property
    def configured(self):
        return bool(self.user_pool_id and self.client_id)

    def trac_groups(self, cognito_groups):
        """The Trac groups of a member of `cognito_groups`."""
        mapping = {}
        for pair in self.group_map:
            name, _, trac_group = pair.partition(':')
            if name.strip() and trac_group.strip():
                mapping[name.strip()] = trac_group.strip()
        return sorted({mapping[g] for g in cognito_groups if g in mapping})
